"""Bad input raises ValueError/TypeError naming the function, the argument, the offending value
or index, and what was expected — never a silent NaN or a wrong number.

One test per kind of bad input listed in issue 3, for every public function it applies to.
"""

from __future__ import annotations

import numpy as np
import pytest

import nllkit
from nllkit import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    cross_entropy,
    cross_entropy_grad,
    entropy,
    gaussian_nll,
    gaussian_nll_grad,
    kl_divergence,
    logit,
)

LOGITS = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.0]])
CE = [cross_entropy, cross_entropy_grad]
BCE = [binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_grad]
GAUSS = [gaussian_nll, gaussian_nll_grad]


def _name(func):
    return func.__name__


# --- class labels ------------------------------------------------------------------------------


@pytest.mark.parametrize("func", CE, ids=_name)
@pytest.mark.parametrize("bad", [3, -1])
def test_class_label_out_of_range(func, bad):
    with pytest.raises(ValueError, match=rf"{func.__name__}: target\[1\] = {bad} .*\[0, 2\]"):
        func(LOGITS, np.array([0, bad]))


@pytest.mark.parametrize("func", CE, ids=_name)
def test_class_label_non_integer_float_vector_is_read_as_probabilities_and_rejected(func):
    # float targets are always probabilities; [0, 1.5] has the shape of indices, not of logits
    with pytest.raises(ValueError, match=r"target has shape \(2,\).*integer array"):
        func(LOGITS, np.array([0.0, 1.5]))


@pytest.mark.parametrize("func", CE, ids=_name)
def test_class_label_bool_is_rejected(func):
    with pytest.raises(TypeError, match=r"target has dtype bool"):
        func(LOGITS, np.array([True, False]))


@pytest.mark.parametrize("func", CE, ids=_name)
def test_class_labels_of_wrong_shape(func):
    with pytest.raises(ValueError, match=r"target has shape \(3,\).*\(2,\)"):
        func(LOGITS, np.array([0, 1, 2]))


@pytest.mark.parametrize("func", CE, ids=_name)
def test_scalar_logits(func):
    with pytest.raises(ValueError, match=r"logits is a scalar"):
        func(1.0, np.int64(0))


# --- targets outside [0, 1] --------------------------------------------------------------------


@pytest.mark.parametrize("func", BCE, ids=_name)
@pytest.mark.parametrize("bad", [1.5, -0.25, np.nan])
def test_bce_target_outside_unit_interval(func, bad):
    with pytest.raises(ValueError, match=rf"{func.__name__}: targets\[2\] = {bad}.*\[0, 1\]"):
        func(np.zeros(3), np.array([0.0, 1.0, bad]))


@pytest.mark.parametrize("func", CE, ids=_name)
def test_probability_target_outside_unit_interval(func):
    target = np.array([[0.5, 0.5, 0.0], [1.5, -0.5, 0.0]])
    with pytest.raises(ValueError, match=r"target\[1, 0\] = 1.5 is outside \[0, 1\]"):
        func(LOGITS, target)


def test_logit_of_value_outside_unit_interval():
    with pytest.raises(ValueError, match=r"logit: p\[1, 0\] = -0.5 is outside \[0, 1\]"):
        logit(np.array([[0.5, 0.25], [-0.5, 0.75]]))
    with pytest.raises(ValueError, match=r"p\[0\] = inf"):
        logit([np.inf])


# --- var <= 0 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("func", GAUSS, ids=_name)
@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_variance_not_positive_and_finite(func, bad):
    with pytest.raises(ValueError, match=rf"{func.__name__}: var\[1\] = {bad}.*positive"):
        func(np.zeros(2), np.zeros(2), np.array([1.0, bad]))


# --- probability vectors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda p: entropy(p),
        lambda p: kl_divergence(p, np.full(3, 1 / 3)),
        lambda p: kl_divergence(np.full(3, 1 / 3), p),
        lambda p: cross_entropy(np.zeros(3), p),
    ],
    ids=["entropy", "kl_p", "kl_q", "cross_entropy"],
)
def test_probability_vector_with_negative_entry(call):
    with pytest.raises(ValueError, match=r"\[1\] = -0.1 is outside \[0, 1\]"):
        call(np.array([0.6, -0.1, 0.5]))


@pytest.mark.parametrize(
    "call",
    [
        lambda p: entropy(p),
        lambda p: kl_divergence(p, np.full((2, 3), 1 / 3)),
        lambda p: kl_divergence(np.full((2, 3), 1 / 3), p),
        lambda p: cross_entropy(np.zeros((2, 3)), p),
        lambda p: cross_entropy_grad(np.zeros((2, 3)), p),
    ],
    ids=["entropy", "kl_p", "kl_q", "cross_entropy", "cross_entropy_grad"],
)
def test_probability_vector_not_summing_to_one(call):
    p = np.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.4]])
    with pytest.raises(ValueError, match=r"\[1\] sums to 0.9.*sum to 1 \(tolerance 1e-06\)"):
        call(p)


def test_probability_sum_tolerance_is_as_documented():
    # float64: |sum - 1| <= 1e-6 passes, 2e-6 fails; float32: ~1.2e-4
    ok = np.array([0.5, 0.5 + 0.9e-6])
    assert np.isfinite(entropy(ok))
    with pytest.raises(ValueError, match="tolerance 1e-06"):
        entropy(np.array([0.5, 0.5 + 2e-6]))
    assert np.isfinite(entropy(np.array([0.5, 0.5 + 1e-4], dtype=np.float32)))
    with pytest.raises(ValueError, match=r"tolerance 0\.000122"):
        entropy(np.array([0.5, 0.5 + 3e-4], dtype=np.float32))


def test_probability_vector_of_a_scalar():
    with pytest.raises(ValueError, match=r"entropy: p is a scalar"):
        entropy(1.0)


# --- shapes that do not broadcast ------------------------------------------------------------


@pytest.mark.parametrize("func", BCE, ids=_name)
def test_bce_shapes_do_not_broadcast(func):
    with pytest.raises(ValueError, match=r"do not broadcast: logits has shape \(3,\), targets"):
        func(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("func", GAUSS, ids=_name)
def test_gaussian_shapes_do_not_broadcast(func):
    with pytest.raises(ValueError, match=r"do not broadcast: y has shape \(3,\), mean has shape"):
        func(np.zeros(3), np.zeros(2), np.ones(3))


def test_kl_shapes_do_not_broadcast():
    with pytest.raises(ValueError, match=r"kl_divergence: shapes do not broadcast"):
        kl_divergence(np.full((2, 3), 1 / 3), np.full((3, 3), 1 / 3))


@pytest.mark.parametrize("func", CE, ids=_name)
def test_probability_target_of_other_shape(func):
    with pytest.raises(ValueError, match=r"probability targets must have the shape of logits"):
        func(LOGITS, np.full((2, 4), 0.25))


# --- unknown reduction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda r: binary_cross_entropy_with_logits([0.0], [1.0], reduction=r),
        lambda r: binary_cross_entropy_with_logits_grad([0.0], [1.0], reduction=r),
        lambda r: cross_entropy(LOGITS, np.array([0, 1]), reduction=r),
        lambda r: cross_entropy_grad(LOGITS, np.array([0, 1]), reduction=r),
        lambda r: gaussian_nll(0.0, 0.0, 1.0, reduction=r),
        lambda r: gaussian_nll_grad(0.0, 0.0, 1.0, reduction=r),
    ],
)
@pytest.mark.parametrize("bad", ["avg", "MEAN", None, 1])
def test_unknown_reduction(call, bad):
    with pytest.raises(ValueError, match=rf"reduction={bad!r} is not supported.*'mean'"):
        call(bad)


# --- dtypes and axes ---------------------------------------------------------------------------

ARRAY_FUNCS = [
    ("sigmoid", lambda x: nllkit.sigmoid(x), "x"),
    ("softplus", lambda x: nllkit.softplus(x), "x"),
    ("log_sigmoid", lambda x: nllkit.log_sigmoid(x), "x"),
    ("logit", lambda x: nllkit.logit(x), "p"),
    ("logsumexp", lambda x: nllkit.logsumexp(x), "x"),
    ("softmax", lambda x: nllkit.softmax(x), "x"),
    ("log_softmax", lambda x: nllkit.log_softmax(x), "x"),
    ("softmax_jacobian", lambda x: nllkit.softmax_jacobian(x), "x"),
    ("entropy", lambda x: nllkit.entropy(x), "p"),
    (
        "binary_cross_entropy_with_logits",
        lambda x: binary_cross_entropy_with_logits(x, 0.5),
        "logits",
    ),
    ("gaussian_nll", lambda x: gaussian_nll(0.0, x, 1.0), "mean"),
]


@pytest.mark.parametrize(("name", "call", "arg"), ARRAY_FUNCS, ids=[f[0] for f in ARRAY_FUNCS])
@pytest.mark.parametrize(
    "bad",
    [np.array([1 + 2j, 0j]), np.array(["a", "b"]), np.array([object(), None], dtype=object)],
    ids=["complex", "string", "object"],
)
def test_unsupported_dtype_names_the_argument(name, call, arg, bad):
    with pytest.raises(TypeError, match=rf"{name}: {arg} has dtype .*expected float32, float64"):
        call(bad)


@pytest.mark.parametrize("func", [nllkit.logsumexp, nllkit.softmax, nllkit.log_softmax, entropy])
def test_axis_out_of_range(func):
    with pytest.raises(ValueError, match=rf"{func.__name__}: axis=2 is out of range"):
        func(np.full((2, 2), 0.5), axis=2)


@pytest.mark.parametrize("func", [nllkit.logsumexp, nllkit.softmax, nllkit.log_softmax])
def test_axis_not_an_int(func):
    with pytest.raises(TypeError, match=rf"{func.__name__}: axis=1.0 must be an int"):
        func(np.zeros((2, 2)), axis=1.0)


@pytest.mark.parametrize("func", [nllkit.logsumexp, nllkit.softmax, nllkit.log_softmax])
def test_axis_functions_reject_scalars(func):
    with pytest.raises(ValueError, match=rf"{func.__name__}: x is a scalar"):
        func(3.0)


@pytest.mark.parametrize("func", [nllkit.logsumexp, nllkit.softmax, nllkit.log_softmax, entropy])
def test_axis_that_is_a_bool_is_rejected(func):
    """``True`` is an int to Python, but ``axis=True`` is a mistake (a flag passed in the
    wrong place), not the axis 1: it raises like any other non-integer axis."""
    with pytest.raises(TypeError, match=rf"{func.__name__}: axis=True must be an int"):
        func(np.full((2, 2), 0.5), axis=True)


# Regression: the checking and reference functions named the argument but not themselves.
NAMED_CALLS = [
    (nllkit.mp_sigmoid, ("x",)),
    (nllkit.mp_logsumexp, (np.ones(3), 4)),
    (nllkit.mp_cross_entropy, (np.array(1.0), np.array(0))),
    (nllkit.mp_kl_divergence, (np.array(["a"]), np.array([1.0]))),
    (nllkit.ulp_distance, ("a", 1.0)),
    (nllkit.finite_difference_gradient, (3, np.array([1.0]))),
]


@pytest.mark.parametrize(("func", "args"), NAMED_CALLS, ids=[f.__name__ for f, _ in NAMED_CALLS])
def test_checking_and_reference_errors_name_the_function(func, args):
    with pytest.raises((TypeError, ValueError), match=rf"^{func.__name__}: "):
        func(*args)
