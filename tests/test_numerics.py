"""Unit tests of nllkit.numerics: special values, dtypes, shapes, axes.

Expected values come from the mathematics (closed forms, limits, identities) or from mpmath,
never from the code under test.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import nllkit
from nllkit import log_sigmoid, log_softmax, logit, logsumexp, sigmoid, softmax, softplus

ELEMENTWISE = [sigmoid, log_sigmoid, softplus]
AXIS_FUNCS = [logsumexp, softmax, log_softmax]
INF = np.inf


@pytest.fixture(autouse=True)
def _high_precision_mpmath():
    """mpmath's default 53 bits would make the references themselves inexact."""
    with mpmath.workdps(40):
        yield


# --- names -----------------------------------------------------------------------------------


PUBLIC = [
    # numerics
    "sigmoid", "log_sigmoid", "softplus", "logit", "logsumexp", "softmax", "log_softmax",
    # losses
    "binary_cross_entropy_with_logits", "cross_entropy", "gaussian_nll", "entropy",
    "kl_divergence",
    # gradients
    "binary_cross_entropy_with_logits_grad", "cross_entropy_grad", "softmax_jacobian",
    "gaussian_nll_grad",
]  # fmt: skip


@pytest.mark.parametrize("name", PUBLIC)
def test_importable_from_package_root_and_documented(name):
    assert name in nllkit.__all__
    doc = getattr(nllkit, name).__doc__ or ""
    for section in ("Parameters", "Returns", "Raises", "Notes"):
        assert f"\n    {section}\n    ----" in doc, f"{name} lacks a {section} section"
    assert ":ref:`chapter-" in doc, f"{name} does not link to the chapter that derives it"
    assert ":math:" in doc, f"{name} does not state its formula"


# --- special values ----------------------------------------------------------------------------


def test_sigmoid_special_values():
    out = sigmoid([-INF, 0.0, INF, np.nan])
    np.testing.assert_array_equal(out[:3], [0.0, 0.5, 1.0])
    assert np.isnan(out[3])


def test_sigmoid_of_large_positive_is_one_without_warning():
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(sigmoid([710.0, 800.0, 1e308]), [1.0, 1.0, 1.0])


def test_sigmoid_subnormal_results_are_not_flushed():
    # sigma(x) = e^x / (1 + e^x) ~ e^x for x << 0: e^-740 is a subnormal ~ 4.2e-322
    x = np.array([-710.0, -740.0, -744.0])
    expected = [float(mpmath.exp(v) / (1 + mpmath.exp(v))) for v in x]
    assert np.all(nllkit.ulp_distance(sigmoid(x), np.array(expected)) <= 2)
    assert sigmoid(-740.0) > 0
    assert sigmoid(-746.0) == 0.0


def test_softplus_special_values():
    out = softplus([-INF, INF, np.nan, 0.0])
    assert out[0] == 0.0
    assert out[1] == INF
    assert np.isnan(out[2])
    assert out[3] == math.log(2.0)


def test_log_sigmoid_special_values():
    out = log_sigmoid([-INF, INF, np.nan, 0.0])
    assert out[0] == -INF
    assert out[1] == 0.0
    assert np.isnan(out[2])
    assert out[3] == -math.log(2.0)


def test_softplus_far_tails():
    # log(1 + e^x) ~ e^x for x << 0 (a tiny positive number, not 0) and ~ x for x >> 0
    tail = float(mpmath.log1p(mpmath.exp(-700)))
    assert tail > 0
    assert nllkit.ulp_distance(softplus(-700.0), tail) <= 1
    assert softplus(800.0) == 800.0
    assert nllkit.ulp_distance(log_sigmoid(700.0), -tail) <= 1


def test_logit_special_values():
    out = logit([0.0, 1.0, 0.5, np.nan])
    np.testing.assert_array_equal(out[:3], [-INF, INF, 0.0])
    assert np.isnan(out[3])


def test_logit_of_subnormal_probability_is_finite():
    p = 5e-324
    expected = float(mpmath.log(mpmath.mpf(p) / (1 - mpmath.mpf(p))))
    assert nllkit.ulp_distance(logit(p), expected) <= 4


def test_logit_of_negative_zero_is_minus_inf():
    # -0.0 == 0 lies in [0, 1]; min(-0.0, 1) = -0.0 once made (1 - 2q)/q = -inf and a NaN
    assert logit(-0.0) == -INF
    np.testing.assert_array_equal(logit(np.array([0.5, -0.0, 1.0])), [0.0, -INF, INF])


def test_logit_out_of_range_in_a_late_block_is_reported_with_its_index():
    p = np.full((3, 40_000), 0.25)
    p[2, 39_999] = 1.0 + 2.0**-52
    with pytest.raises(ValueError, match=r"logit: p\[2, 39999\] = 1.0000000000000002 is outside"):
        logit(p)


def test_logit_inverts_sigmoid():
    # for x >> 0, sigma(x) rounds to within 1e-16 of 1, so only x <= 10 is well-conditioned
    x = np.linspace(-30, 10, 81)
    np.testing.assert_allclose(logit(sigmoid(x)), x, rtol=1e-9, atol=1e-12)


def test_logsumexp_special_values():
    rows = np.array(
        [
            [-INF, -INF, -INF],  # all -inf: log 0
            [INF, 0.0, 1.0],  # +inf dominates
            [INF, INF, 0.0],
            [np.nan, INF, 0.0],  # NaN propagates
            [0.0, -INF, -INF],  # -inf entries contribute nothing
        ]
    )
    out = logsumexp(rows)
    np.testing.assert_array_equal(out[[0, 1, 2, 4]], [-INF, INF, INF, 0.0])
    assert np.isnan(out[3])


def test_logsumexp_of_empty_axis_is_minus_inf():
    np.testing.assert_array_equal(logsumexp(np.zeros((2, 0))), [-INF, -INF])


def test_logsumexp_constant_rows_are_c_plus_log_k():
    for c in (0.0, 1e-3, -7.5, 1e300, -1e300):
        expected = float(mpmath.mpf(c) + mpmath.log(4))
        assert nllkit.ulp_distance(logsumexp(np.full(4, c)), expected) <= 3


def test_logsumexp_tail_is_not_lost():
    # log(1 + e^-40) = e^-40 - ..., not 0
    expected = float(mpmath.log1p(mpmath.exp(-40)))
    assert nllkit.ulp_distance(logsumexp([0.0, -40.0]), expected) <= 3


def test_log_softmax_of_a_leading_logit_is_tiny_and_negative():
    out = log_softmax([0.0, -40.0, -50.0])
    expected = -float(mpmath.log1p(mpmath.exp(-40) + mpmath.exp(-50)))
    assert nllkit.ulp_distance(out[0], expected) <= 4  # the bound
    assert out[0] < 0


def test_log_softmax_minus_inf_logit_gives_minus_inf():
    out = log_softmax([1.0, -INF, 2.0])
    assert out[1] == -INF
    assert np.all(np.isfinite(out[[0, 2]]))


def test_softmax_and_log_softmax_all_minus_inf_row_is_nan():
    assert np.all(np.isnan(softmax([-INF, -INF])))
    assert np.all(np.isnan(log_softmax([-INF, -INF])))


def test_softmax_nan_propagates():
    assert np.all(np.isnan(softmax([[np.nan, 0.0, 1.0]])))
    assert np.all(np.isnan(log_softmax([[0.0, np.nan]])))


def test_softmax_of_huge_constant_row_is_uniform():
    np.testing.assert_array_equal(softmax(np.full(4, 1e300)), np.full(4, 0.25))
    np.testing.assert_array_equal(softmax(np.full(4, -1e300)), np.full(4, 0.25))


def test_softmax_ties_share_mass():
    np.testing.assert_array_equal(softmax([3.0, 3.0, -INF]), [0.5, 0.5, 0.0])


# --- dtypes and shapes -------------------------------------------------------------------------


@pytest.mark.parametrize("func", [*ELEMENTWISE, logit])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_preserves_float_dtype_and_shape(func, dtype):
    x = np.full((2, 3, 4), 0.25, dtype=dtype)
    out = func(x)
    assert out.dtype == dtype
    assert out.shape == x.shape


@pytest.mark.parametrize("func", [*ELEMENTWISE, logit])
@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, np.bool_])
def test_elementwise_integers_become_float64(func, dtype):
    out = func(np.array([0, 1], dtype=dtype))
    assert out.dtype == np.float64


@pytest.mark.parametrize("func", [*ELEMENTWISE, logit])
def test_elementwise_scalar_in_numpy_scalar_out(func):
    out = func(0.5)
    assert isinstance(out, np.float64)
    assert np.ndim(out) == 0


def test_elementwise_accepts_non_contiguous_views():
    x = np.linspace(-5, 5, 60).reshape(6, 10)
    np.testing.assert_array_equal(softplus(x.T), softplus(x).T)
    np.testing.assert_array_equal(sigmoid(x[::2, ::3]), sigmoid(x)[::2, ::3])


def test_elementwise_spans_several_blocks():
    # more elements than one internal block, with the overflow fix-up in a late block
    x = np.linspace(-50, 50, 100_001)
    x[-1] = 1000.0
    out = sigmoid(x)
    assert out[-1] == 1.0
    picks = np.arange(0, x.size, 997)
    np.testing.assert_array_equal(out[picks], [sigmoid(v) for v in x[picks]])


@pytest.mark.parametrize("func", [*ELEMENTWISE, logit])
def test_one_block_and_many_blocks_agree(func):
    """Arrays of up to one block skip the blocking loop; both paths give the same bits, fix-ups
    (overflow, subnormal probabilities) included, in any shape."""
    rng = np.random.default_rng(0)
    if func is logit:
        special = [0.0, -0.0, 1.0, 0.5, np.nan, 5e-324, 1e-310, 1 - 2.0**-53]
        x = np.concatenate([rng.uniform(0, 1, 99_992), special])
    else:
        special = [0.0, -0.0, INF, -INF, np.nan, 709.7, 710.0, -745.0]
        x = np.concatenate([rng.normal(0, 30, 99_992), special])
    x = rng.permutation(x)
    whole = func(x.reshape(4, 25_000))
    pieces = np.concatenate(
        [func(x[i : i + 1000].reshape(10, 100)).ravel() for i in range(0, x.size, 1000)]
    )
    np.testing.assert_array_equal(whole.ravel(), pieces)
    scalars = np.array([func(v) for v in x[np.isin(x, special)]])
    np.testing.assert_array_equal(scalars, whole.ravel()[np.isin(x, special)])


@pytest.mark.parametrize("func", AXIS_FUNCS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axis_functions_preserve_dtype(func, dtype):
    assert func(np.ones((3, 4), dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("func", AXIS_FUNCS)
def test_axis_functions_integers_become_float64(func):
    assert func(np.arange(6).reshape(2, 3)).dtype == np.float64


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_axis_argument_matches_moving_the_axis_last(axis):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5))
    moved = np.moveaxis(x, axis, -1)
    np.testing.assert_array_equal(logsumexp(x, axis=axis), logsumexp(moved))
    np.testing.assert_array_equal(softmax(x, axis=axis), np.moveaxis(softmax(moved), -1, axis))
    np.testing.assert_array_equal(
        log_softmax(x, axis=axis), np.moveaxis(log_softmax(moved), -1, axis)
    )


def test_logsumexp_keepdims():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert logsumexp(x, axis=1, keepdims=True).shape == (2, 1, 4)
    assert logsumexp(x, keepdims=True).shape == (2, 3, 1)


def test_logsumexp_of_vector_is_a_scalar():
    out = logsumexp([1.0, 2.0, 3.0])
    assert np.ndim(out) == 0
    assert nllkit.ulp_distance(out, float(mpmath.log(mpmath.e + mpmath.e**2 + mpmath.e**3))) <= 3


def test_axis_functions_span_several_blocks():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 10, (300, 1000))
    lse = logsumexp(x)
    np.testing.assert_allclose(log_softmax(x), x - lse[:, None], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(softmax(x).sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("func", [*ELEMENTWISE, logit])
def test_float16_becomes_float32(func):
    """The module docstring: float16 becomes float32 (it is evaluated in float64 and
    rounded once to float32, never to float16)."""
    x = np.array([0.25, 0.5, 0.75], dtype=np.float16)
    out = func(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, func(x.astype(np.float32)))


@pytest.mark.parametrize("func", AXIS_FUNCS)
def test_axis_functions_float16_becomes_float32(func):
    x = np.array([[0.25, -1.5, 3.0]], dtype=np.float16)
    assert func(x).dtype == np.float32
