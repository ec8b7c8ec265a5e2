"""Tests of nllkit.checking (ULP distance, finite differences) and of the mpmath references of
nllkit.references.

Expected values come from hand counts of bit patterns, closed-form derivatives, known constants
(written in hex), and an independent mpmath evaluation at 3000 bits with the textbook formula.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import nllkit
from nllkit import (
    finite_difference_gradient,
    mp_binary_cross_entropy_with_logits,
    mp_cross_entropy,
    mp_entropy,
    mp_kl_divergence,
    mp_log_sigmoid,
    mp_log_softmax,
    mp_logit,
    mp_logsumexp,
    mp_sigmoid,
    mp_softmax,
    mp_softplus,
    ulp_distance,
)
from nllkit.references import _FORMATS, _round_mpf

FLOATS = [np.float16, np.float32, np.float64]
LOG2 = float.fromhex("0x1.62e42fefa39efp-1")  # log 2 correctly rounded to float64
LOG2_F32 = np.float32(float.fromhex("0x1.62e430p-1"))  # log 2 correctly rounded to float32

# ---------------------------------------------------------------------------------------------
# ulp_distance
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("start", [0.0, 1.0, -1.0, 3.5, -1000.0, 1e-5])
def test_ulp_distance_counts_nextafter_steps(dtype, start):
    x = dtype(start)
    up = x
    for k in range(1, 6):
        up = np.nextafter(up, dtype(np.inf))
        assert ulp_distance(x, up) == k
        assert ulp_distance(up, x) == k


@pytest.mark.parametrize("dtype", FLOATS)
def test_ulp_distance_across_zero_and_subnormals(dtype):
    tiny_sub = np.nextafter(dtype(0), dtype(1))  # smallest subnormal
    p = _FORMATS[np.dtype(dtype)][0]
    assert ulp_distance(dtype(0.0), dtype(-0.0)) == 0
    assert ulp_distance(dtype(-0.0), tiny_sub) == 1
    assert ulp_distance(-tiny_sub, tiny_sub) == 2
    # the subnormals below the smallest normal number: 2**(p - 1) of them, counting zero
    assert ulp_distance(dtype(0.0), np.finfo(dtype).smallest_normal) == 2 ** (p - 1)
    assert ulp_distance(-np.finfo(dtype).smallest_normal, dtype(0.0)) == 2 ** (p - 1)


def test_ulp_distance_depends_on_the_dtype():
    one_up32 = np.float32(1 + 2.0**-23)
    assert ulp_distance(np.float32(1), one_up32) == 1
    assert ulp_distance(np.float64(1), np.float64(one_up32)) == 2**29
    # one binade of float32 holds 2**23 floats
    assert ulp_distance(np.float32(1), np.float32(2)) == 2**23


def test_ulp_distance_is_exact_across_the_whole_range():
    big = np.finfo(np.float32).max
    # bit pattern of the largest float32 is 0x7f7fffff on each side of zero
    assert ulp_distance(-big, big) == 2 * 0x7F7FFFFF
    big64 = np.finfo(np.float64).max
    assert ulp_distance(-big64, big64) == float(2 * 0x7FEFFFFFFFFFFFFF)


@pytest.mark.parametrize("dtype", FLOATS)
def test_ulp_distance_special_values(dtype):
    inf, nan, big = dtype(np.inf), dtype(np.nan), np.finfo(dtype).max
    a = np.array([inf, -inf, nan, nan, 1, big, -inf, inf, 0], dtype=dtype)
    b = np.array([inf, -inf, nan, 1, nan, inf, inf, 1, -inf], dtype=dtype)
    expected = [0, 0, 0, np.inf, np.inf, np.inf, np.inf, np.inf, np.inf]
    np.testing.assert_array_equal(ulp_distance(a, b), expected)


def test_ulp_distance_returns_float64_of_the_broadcast_shape():
    a = np.zeros((3, 1), dtype=np.float32)
    b = np.zeros((1, 4), dtype=np.float32)
    out = ulp_distance(a, b)
    assert out.dtype == np.float64
    assert out.shape == (3, 4)
    assert ulp_distance(1.0, 1.0).shape == ()


def test_ulp_distance_rejects_bad_input():
    with pytest.raises(TypeError, match="same dtype"):
        ulp_distance(np.float32(1), np.float64(1))
    with pytest.raises(TypeError, match="a must be float16, float32 or float64"):
        ulp_distance(np.array([1, 2]), np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="b must be"):
        ulp_distance(np.array([1.0]), np.array([1 + 1j]))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\).*do not broadcast"):
        ulp_distance(np.zeros(2), np.zeros(3))


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=3, max_size=3))
def test_ulp_distance_adds_up_along_the_number_line(values):
    a, b, c = np.sort(np.array(values, dtype=np.float32))
    assert ulp_distance(a, c) == ulp_distance(a, b) + ulp_distance(b, c)


# ---------------------------------------------------------------------------------------------
# finite_difference_gradient
# ---------------------------------------------------------------------------------------------


def test_finite_differences_of_a_quadratic_are_exact_up_to_rounding():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    a = a @ a.T
    b = rng.normal(size=5)
    x = rng.normal(size=5)
    grad = finite_difference_gradient(lambda v: 0.5 * v @ a @ v + b @ v, x)
    # central differences have no truncation error on a quadratic; rounding ~ eps^(2/3)
    np.testing.assert_allclose(grad, a @ x + b, rtol=1e-9, atol=1e-9)


def test_finite_differences_of_a_cubic_with_a_given_step():
    # ((x + h)^3 - (x - h)^3) / 2h = 3x^2 + h^2 exactly; with a power-of-two step and small
    # integers every operation is exact, which proves the given step is the one used
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    h = 2.0**-4
    grad = finite_difference_gradient(lambda v: np.sum(v**3), x, step=h)
    np.testing.assert_array_equal(grad, 3 * x**2 + h**2)
    assert grad.shape == x.shape
    assert grad.dtype == np.float64


@pytest.mark.parametrize(
    ("f", "df"),
    [(np.sin, np.cos), (np.exp, np.exp)],
    ids=["sin", "exp"],
)
def test_finite_differences_of_sin_and_exp(f, df):
    x = np.linspace(-3, 3, 13)
    grad = finite_difference_gradient(lambda v: np.sum(f(v)), x)
    # default step: error about eps^(2/3) * (|f| + |f'''|) ~ 1e-10 here
    np.testing.assert_allclose(grad, df(x), rtol=1e-9, atol=1e-9)


def test_finite_difference_default_step_scales_with_x():
    # at x = 1e6 an absolute step of eps^(1/3) would be lost in rounding; the relative one is not
    x = np.array([1e6, -2e6])
    grad = finite_difference_gradient(lambda v: np.sum(v**2), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-10)


def test_finite_differences_accept_integers_and_float32():
    grad = finite_difference_gradient(lambda v: float(v @ v), np.array([1, 2], dtype=np.int64))
    np.testing.assert_allclose(grad, [2.0, 4.0], rtol=1e-9)
    grad32 = finite_difference_gradient(lambda v: float(v @ v), np.float32([1.5]))
    assert grad32.dtype == np.float64


def test_finite_differences_reject_bad_input():
    with pytest.raises(TypeError, match="f must be callable"):
        finite_difference_gradient(3.0, np.zeros(2))
    with pytest.raises(TypeError, match="x must be real numeric"):
        finite_difference_gradient(np.sum, np.array([1j]))
    with pytest.raises(ValueError, match="x must be finite"):
        finite_difference_gradient(np.sum, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="step must be positive"):
        finite_difference_gradient(np.sum, np.zeros(2), step=0.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        finite_difference_gradient(np.sum, np.zeros(2), step=[1e-3, 1e-3, 1e-3])
    with pytest.raises(TypeError, match="f must return a real scalar"):
        finite_difference_gradient(lambda v: v, np.zeros(2))
    with pytest.raises(ValueError, match="non-finite"):
        finite_difference_gradient(lambda v: float("inf") * v[0], np.array([1.0]))


# ---------------------------------------------------------------------------------------------
# correct rounding of an mpmath number in one step
# ---------------------------------------------------------------------------------------------

F32, F64 = _FORMATS[np.dtype(np.float32)], _FORMATS[np.dtype(np.float64)]


def _mpf(expr):
    with mpmath.workprec(4000):
        return expr()


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        # ties to even in a normal binade
        (lambda: 1 + mpmath.mpf(2) ** -24, F32, 1.0),
        (lambda: 1 + 3 * mpmath.mpf(2) ** -24, F32, 1 + 2.0**-22),
        (lambda: 1 + mpmath.mpf(2) ** -53, F64, 1.0),
        (lambda: 1 + 3 * mpmath.mpf(2) ** -53, F64, 1 + 2.0**-51),
        # just above a float32 midpoint, but within float64's half ulp of it: rounding through
        # float64 first would land on the midpoint and then tie to 1.0 (double rounding)
        (lambda: 1 + mpmath.mpf(2) ** -24 + mpmath.mpf(2) ** -80, F32, 1 + 2.0**-23),
        # subnormals: half the smallest subnormal ties to 0; a hair more rounds up
        (lambda: mpmath.mpf(2) ** -150, F32, 0.0),
        (lambda: mpmath.mpf(2) ** -150 + mpmath.mpf(2) ** -300, F32, 2.0**-149),
        (lambda: 3 * mpmath.mpf(2) ** -150, F32, 2.0**-148),
        (lambda: 5 * mpmath.mpf(2) ** -151, F32, 2.0**-149),
        (lambda: mpmath.mpf(2) ** -1075, F64, 0.0),
        (lambda: 3 * mpmath.mpf(2) ** -1075, F64, 2.0**-1073),
        (lambda: -(mpmath.mpf(2) ** -1075 + mpmath.mpf(2) ** -2000), F64, -(2.0**-1074)),
        # the largest subnormal rounds up into the smallest normal
        (lambda: mpmath.mpf(2) ** -126 - mpmath.mpf(2) ** -151, F32, 2.0**-126),
        # overflow: the largest float's significand is odd, so its upper midpoint goes to inf
        (lambda: mpmath.mpf(2) ** 128 - mpmath.mpf(2) ** 103, F32, math.inf),
        (lambda: mpmath.mpf(2) ** 128 - mpmath.mpf(2) ** 103 - 1, F32, float(np.finfo("f4").max)),
        (lambda: mpmath.mpf(2) ** 1024 - mpmath.mpf(2) ** 970, F64, math.inf),
        (lambda: -(mpmath.mpf(2) ** 1024) + 3 * mpmath.mpf(2) ** 969, F64, -np.finfo("f8").max),
        (lambda: mpmath.mpf(10) ** 400, F64, math.inf),
        # exponents far outside any format (exp(-1e300) and its reciprocal)
        (lambda: mpmath.ldexp(1, -(10**300)), F64, 0.0),
        (lambda: -mpmath.ldexp(3, -(10**300)), F32, -0.0),
        (lambda: mpmath.ldexp(1, 10**300), F32, math.inf),
        (lambda: mpmath.mpf(0), F64, 0.0),
    ],
)
def test_round_mpf_ties_subnormals_and_overflow(value, fmt, expected):
    assert _round_mpf(_mpf(value), fmt) == expected


@given(
    st.integers(min_value=1, max_value=2**200),
    st.integers(min_value=-1300, max_value=1100),
    st.booleans(),
)
@example(2**53 + 1, 0, False)  # ties to even
@example(2**53 + 3, 0, True)
@example(1, -1075, False)  # half the smallest subnormal
@example(3, -1075, True)
@example(2**54 - 1, 970, False)  # the overflow midpoint
def test_round_mpf_to_float64_agrees_with_python_integer_division(n, k, negative):
    # Python's int / int is correctly rounded (ties to even, subnormals, OverflowError)
    value = mpmath.ldexp(-n if negative else n, k)
    try:
        expected = (-n if negative else n) * 2**k if k >= 0 else (-n if negative else n) / 2**-k
        expected = float(expected)
    except OverflowError:
        expected = -math.inf if negative else math.inf
    assert _round_mpf(value, F64) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(1 + 2.0**-24)  # float32 ties
@example(1 + 3 * 2.0**-24)
@example(2.0**-150)  # half the smallest float32 subnormal
@example(3 * 2.0**-150)
@example(2.0**128 - 2.0**103)  # float32 overflow midpoint
@example(2.0**-25)  # half the smallest float16 subnormal
@example(65520.0)  # float16 overflow midpoint
@example(65519.99)
def test_round_mpf_to_float32_and_float16_agrees_with_numpy_casts_of_float64(x):
    # numpy's float64 -> float32 / float16 casts round once, so they are an independent oracle
    # for every value a float64 can hold (ties, subnormals and overflow included)
    with np.errstate(over="ignore"):
        f32, f16 = np.float32(x), np.float16(x)
    assert _round_mpf(mpmath.mpf(x), F32) == f32
    assert _round_mpf(mpmath.mpf(x), _FORMATS[np.dtype(np.float16)]) == f16


def test_the_double_rounding_case_really_is_one():
    # the value above, rounded to float64 first and then to float32, comes out wrong
    v = _mpf(lambda: 1 + mpmath.mpf(2) ** -24 + mpmath.mpf(2) ** -80)
    assert float(np.float32(float(v))) == 1.0
    assert np.float32(_round_mpf(v, F32)) == np.float32(1 + 2.0**-23)


# ---------------------------------------------------------------------------------------------
# mp_ references: independent facts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_facts(dtype):
    log2 = LOG2_F32 if dtype is np.float32 else dtype(LOG2)

    def x(*v):
        return np.array(v, dtype=dtype)

    assert mp_sigmoid(x(0.0))[0] == 0.5
    np.testing.assert_array_equal(mp_sigmoid(x(np.inf, -np.inf)), [1, 0])
    assert mp_softplus(x(0.0))[0] == log2
    np.testing.assert_array_equal(mp_softplus(x(40, 100, 800)), x(40, 100, 800))
    np.testing.assert_array_equal(mp_softplus(x(np.inf, -np.inf)), [np.inf, 0])
    assert mp_log_sigmoid(x(0.0))[0] == -log2
    np.testing.assert_array_equal(mp_log_sigmoid(x(-800, -np.inf)), x(-800, -np.inf))
    np.testing.assert_array_equal(mp_logit(x(0.5, 0, 1)), [0, -np.inf, np.inf])
    assert mp_logsumexp(x(0, 0)) == log2
    assert mp_logsumexp(x(-np.inf, -np.inf)) == -np.inf
    assert mp_logsumexp(x(1e30, 1e30)) == dtype(1e30)
    np.testing.assert_array_equal(mp_softmax(x(3, 3)), [0.5, 0.5])
    np.testing.assert_array_equal(mp_log_softmax(x(2, 2)), [-log2, -log2])
    np.testing.assert_array_equal(mp_log_softmax(x(0, -np.inf)), [0, -np.inf])
    assert mp_entropy(x(0.25, 0.25, 0.25, 0.25)) == 2 * log2  # log 4 = 2 log 2, exact scaling
    assert mp_entropy(x(1, 0)) == 0
    assert mp_kl_divergence(x(1, 0), x(0.5, 0.5)) == log2
    assert mp_kl_divergence(x(0.3, 0.7), x(0.3, 0.7)) == 0
    assert mp_kl_divergence(x(0.5, 0.5), x(1, 0)) == np.inf
    np.testing.assert_array_equal(
        mp_binary_cross_entropy_with_logits(x(0, np.inf, -np.inf, np.inf), x(0.5, 1, 0, 0)),
        [log2, 0, 0, np.inf],
    )
    for f in (mp_sigmoid, mp_log_sigmoid, mp_softplus, mp_logit):
        assert np.isnan(f(x(np.nan))[0])
    assert np.isnan(mp_logsumexp(x(0, np.nan)))


def test_references_keep_float32_and_promote_integers():
    assert mp_sigmoid(np.float32([1.0])).dtype == np.float32
    assert mp_sigmoid([1, 2]).dtype == np.float64
    assert mp_logsumexp(np.zeros((2, 3), dtype=np.float32)).dtype == np.float32


def test_subnormal_and_tail_results():
    # e^-745 ~ 0.57 * 2^-1074 rounds up to the smallest subnormal; e^-746 ~ 0.21 * 2^-1074 to 0
    np.testing.assert_array_equal(mp_sigmoid([-745.0, -746.0]), [2.0**-1074, 0.0])
    # float32: e^-104.5 ~ 0.30 * 2^-149 (to 0); e^-103 ~ 1.32 * 2^-149 (to the smallest)
    np.testing.assert_array_equal(mp_sigmoid(np.float32([-104.5, -103])), [0, 2.0**-149])
    # the log-softmax tail is tiny but not 0: -e^-40 (torch and scipy return 0 here)
    lsm = mp_log_softmax([0.0, -40.0])
    assert -4.2483e-18 > lsm[0] > -4.2484e-18  # -e^-40 = -4.24835...e-18
    assert mp_logsumexp([0.0, -40.0]) == -lsm[0]
    # inputs up to 1e300: e^(-2e300) is representable in mpmath and rounds to 0
    np.testing.assert_array_equal(mp_softmax([1e300, -1e300, 0.0]), [1, 0, 0])
    np.testing.assert_array_equal(mp_log_softmax([1e300, -1e300]), [0, -2e300])
    np.testing.assert_array_equal(mp_sigmoid([-1e300, 1e300]), [0, 1])
    np.testing.assert_array_equal(mp_log_sigmoid([-1e300, 1e300]), [-1e300, 0])


@pytest.mark.parametrize(
    ("dtype", "x", "m", "quantum"),
    [(np.float32, -1000.0, 2.0**-15, 2.0**-14), (np.float64, -2000.0, 2.0**-43, 2.0**-42)],
)
def test_a_midpoint_plus_a_far_tail_rounds_away_from_the_midpoint(dtype, x, m, quantum):
    # x - m lies exactly halfway between two floats of dtype (m is half a quantum of |x|), and
    # log_softmax subtracts log1p(e^(x - m)) ~ e^-1000 (e^-2000) more: the true value is just
    # beyond the midpoint, so it rounds away from x, although ties-to-even would give x (whose
    # last significand bit is 0). Deciding this takes ~1450 (~2900) bits of the tail.
    row = np.array([m, x], dtype=dtype)
    assert mp_log_softmax(row)[1] == dtype(x - quantum)
    assert mp_cross_entropy(row[None, :], np.array([1]))[0] == dtype(-x + quantum)


def test_axis_and_keepdims():
    x = np.arange(12.0).reshape(3, 4) / 7
    np.testing.assert_array_equal(mp_softmax(x, axis=0), mp_softmax(x.T).T)
    np.testing.assert_array_equal(mp_log_softmax(x, axis=0), mp_log_softmax(x.T).T)
    np.testing.assert_array_equal(mp_logsumexp(x, axis=0), mp_logsumexp(x.T))
    assert mp_logsumexp(x, axis=1, keepdims=True).shape == (3, 1)
    np.testing.assert_array_equal(mp_entropy(x, axis=0), mp_entropy(x.T))


def test_cross_entropy_indices_and_one_hot_agree_with_log_softmax():
    z = np.array([[0.0, 1.0, -2.0], [800.0, 0.0, -np.inf], [3.0, 3.0, 3.0]])
    k = np.array([1, 1, 2])
    expected = -mp_log_softmax(z)[np.arange(3), k]
    np.testing.assert_array_equal(mp_cross_entropy(z, k), expected)
    np.testing.assert_array_equal(mp_cross_entropy(z, np.eye(3)[k]), expected)
    # a zero weight on a -inf logit contributes 0, a positive one inf
    assert mp_cross_entropy(z[1:2], np.array([[0.5, 0.5, 0.0]]))[0] == 400.0
    assert mp_cross_entropy(z[1:2], np.array([[0.5, 0.0, 0.5]]))[0] == np.inf


def test_references_do_not_change_mpmath_precision():
    before = mpmath.mp.prec
    mp_logsumexp(np.linspace(-5, 5, 10))
    mp_kl_divergence([0.5, 0.5], [0.5 + 2**-40, 0.5 - 2**-40])
    assert mpmath.mp.prec == before


def test_references_reject_bad_input():
    with pytest.raises(TypeError, match="x must be real numbers"):
        mp_sigmoid(np.array([1j]))
    with pytest.raises(TypeError, match="x must be real numbers"):
        mp_softmax(np.array(["a"]))
    with pytest.raises(ValueError, match="at least one dimension"):
        mp_logsumexp(1.0)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        mp_softmax(np.zeros((2, 2)), axis=2)
    with pytest.raises(TypeError, match="axis must be an integer"):
        mp_log_softmax(np.zeros(2), axis=0.5)
    with pytest.raises(ValueError, match=r"target 3 at index \(1,\) is out of range \[0, 3\)"):
        mp_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"integer target must have shape logits.shape\[:-1\]"):
        mp_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"probabilities of shape \(2, 3\)"):
        mp_cross_entropy(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="do not broadcast"):
        mp_kl_divergence(np.ones(2) / 2, np.ones(3) / 3)
    with pytest.raises(ValueError, match="do not broadcast"):
        mp_binary_cross_entropy_with_logits(np.zeros(2), np.zeros(3))


# ---------------------------------------------------------------------------------------------
# mp_ references: correctly rounded, checked against textbook formulas at 3000 bits
# ---------------------------------------------------------------------------------------------

HIGH = 3000  # bits: the textbook formulas below lose at most ~1200 bits on these inputs


def _hi(v):
    return mpmath.mpf(float(v))


def _exact_sigmoid(x):
    return 1 / (1 + mpmath.exp(-_hi(x)))


def _exact_log_sigmoid(x):
    return -mpmath.log(1 + mpmath.exp(-_hi(x)))


def _exact_softplus(x):
    return mpmath.log(1 + mpmath.exp(_hi(x)))


def _exact_logit(p):
    return mpmath.log(_hi(p) / (1 - _hi(p)))


def _exact_bce(z, y):
    return mpmath.log(1 + mpmath.exp(_hi(z))) - _hi(y) * _hi(z)


def _exact_log_softmax_row(row):
    lse = mpmath.log(mpmath.fsum(mpmath.exp(_hi(v)) for v in row))
    return [_hi(v) - lse for v in row]


def _assert_nearest(result, exact, dtype):
    """``result`` is a float of ``dtype`` no farther from ``exact`` than either neighbour."""
    r = dtype(result)
    assert np.isfinite(r), (result, exact)
    below = np.nextafter(r, dtype(-np.inf))
    above = np.nextafter(r, dtype(np.inf))
    err = abs(_hi(r) - exact)
    assert err <= abs(_hi(below) - exact), (float(r), mpmath.nstr(exact, 30), "below is nearer")
    assert err <= abs(_hi(above) - exact), (float(r), mpmath.nstr(exact, 30), "above is nearer")


def _sample(dtype, lo, hi, n, rng):
    return rng.uniform(lo, hi, n).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("reference", "exact", "lo", "hi"),
    [
        (mp_sigmoid, _exact_sigmoid, -110, 40),
        (mp_sigmoid, _exact_sigmoid, -760, -700),  # float64 subnormal results
        (mp_log_sigmoid, _exact_log_sigmoid, -60, 800),
        (mp_softplus, _exact_softplus, -800, 60),
        (mp_logit, _exact_logit, 0, 1),
    ],
    ids=["sigmoid", "sigmoid-subnormal", "log_sigmoid", "softplus", "logit"],
)
def test_elementwise_references_are_correctly_rounded(reference, exact, lo, hi, dtype):
    rng = np.random.default_rng(7)
    x = _sample(dtype, lo, hi, 60, rng)
    if reference is mp_logit:  # include the cancellation near 1/2
        x[:5] = np.nextafter(dtype(0.5), dtype(1)) + np.arange(5, dtype=dtype) * np.finfo(dtype).eps
    out = reference(x)
    with mpmath.workprec(HIGH):
        for xi, ri in zip(x, out, strict=True):
            _assert_nearest(ri, exact(xi), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_reference_is_correctly_rounded(dtype):
    rng = np.random.default_rng(8)
    z = _sample(dtype, -200, 200, 60, rng)
    y = np.concatenate([np.zeros(20), np.ones(20), rng.uniform(0, 1, 20)]).astype(dtype)
    out = mp_binary_cross_entropy_with_logits(z, y)
    with mpmath.workprec(HIGH):
        for zi, yi, ri in zip(z, y, out, strict=True):
            _assert_nearest(ri, _exact_bce(zi, yi), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axis_references_are_correctly_rounded(dtype):
    rng = np.random.default_rng(9)
    rows = rng.normal(0, 30, size=(12, 5)).astype(dtype)
    rows[0] = [0, -800, -40, -37.5, -60]  # one logit leads by far: the log-softmax tail
    rows[1] = [-0.6931471805599453, -0.6931471805599453, -50, -60, -70]  # logsumexp ≈ 0
    out_lse, out_lsm, out_sm = mp_logsumexp(rows), mp_log_softmax(rows), mp_softmax(rows)
    with mpmath.workprec(HIGH):
        for row, lse, lsm, sm in zip(rows, out_lse, out_lsm, out_sm, strict=True):
            exact = _exact_log_softmax_row(row)
            _assert_nearest(lse, _hi(row[0]) - exact[0], dtype)
            for e, a, b in zip(exact, lsm, sm, strict=True):
                _assert_nearest(a, e, dtype)
                if b != 0 or mpmath.exp(e) > mpmath.mpf(2) ** -200:
                    _assert_nearest(b, mpmath.exp(e), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_information_references_are_correctly_rounded(dtype):
    rng = np.random.default_rng(10)
    p = rng.dirichlet(np.ones(6), size=8).astype(dtype)
    q = rng.dirichlet(np.ones(6), size=8).astype(dtype)
    q[0] = p[0] * (1 + np.finfo(dtype).eps)  # KL near 0: the sum cancels
    h, kl = mp_entropy(p), mp_kl_divergence(p, q)
    with mpmath.workprec(HIGH):
        for pr, qr, hi, kli in zip(p, q, h, kl, strict=True):
            _assert_nearest(hi, -mpmath.fsum(_hi(a) * mpmath.log(_hi(a)) for a in pr), dtype)
            exact_kl = mpmath.fsum(
                _hi(a) * mpmath.log(_hi(a) / _hi(b)) for a, b in zip(pr, qr, strict=True)
            )
            _assert_nearest(kli, exact_kl, dtype)


def test_the_public_names_are_exported():
    for name in ("finite_difference_gradient", "ulp_distance", "mp_logsumexp", "mp_entropy"):
        assert name in nllkit.__all__


# ---------------------------------------------------------------------------------------------
# promises of the docstrings, measured where they are hardest (issue 14)
# ---------------------------------------------------------------------------------------------


def test_finite_difference_points_are_exactly_two_steps_apart():
    r"""The docstring: each step is replaced by :math:`(x_i + h_i) - x_i`, so that the two
    evaluation points lie exactly :math:`2h_i` apart. Then the central difference of the
    identity is exactly 1 (both points and their difference are exact); with the raw step
    :math:`\varepsilon^{1/3}\max(1, |x|)` it is off by up to
    :math:`\mathrm{ulp}(x)/h \approx 10^{-11}`. The documented exception, a negative power
    of two (:math:`x - h` in the coarser binade, rounded by half an ULP of :math:`x`), is off
    by at most :math:`\mathrm{ulp}(x)/(4h)`; this test found it (the docstring promised
    exactness everywhere before)."""
    rng = np.random.default_rng(22)
    xs = np.concatenate([rng.uniform(-3, 3, 200), rng.normal(0, 1e4, 200), [0.0, 1.0, 0.5]])
    for x in xs:
        assert finite_difference_gradient(lambda v: v[0], np.array([x]))[0] == 1.0
    for x in (-1.0, -0.5, -2.0, -1024.0):
        h = np.cbrt(np.finfo(np.float64).eps) * max(1.0, abs(x))
        g = finite_difference_gradient(lambda v: v[0], np.array([x]))[0]
        assert 0 < abs(g - 1.0) <= np.spacing(abs(x)) / (4 * h)


def test_finite_difference_default_step_reaches_eps_to_the_two_thirds():
    r"""The docstring: the default step :math:`h = \varepsilon^{1/3}\max(1, |x|)` balances
    truncation :math:`h^2|f'''|/6` against rounding :math:`\varepsilon|f|/h`, leaving a
    relative error of about :math:`\varepsilon^{2/3} \approx 4\cdot 10^{-11}`. For
    :math:`f = \exp` on [-1, 1] (:math:`f = f' = f'''`) the bound
    :math:`(h^2/6 + \varepsilon/h)\,e^x` is :math:`1.2\cdot 10^{-10}` relative with the
    default step; a step of :math:`\sqrt\varepsilon` (right for one-sided differences) gives
    :math:`\varepsilon/h \approx 1.5\cdot 10^{-8}`."""
    x = np.linspace(-1.0, 1.0, 41)
    for xi in x:
        grad = finite_difference_gradient(lambda v: float(np.exp(v[0])), np.array([xi]))[0]
        assert abs(grad - math.exp(xi)) <= 1.2e-10 * math.exp(xi)


def test_round_mpf_keeps_the_top_binade_finite():
    r"""Numbers in :math:`[2^{1023}, 2^{1024})` are finite float64 (the largest is
    :math:`(2 - 2^{-52})2^{1023}`); only those that round to :math:`2^{1024}` overflow."""
    fmt = _FORMATS[np.dtype(np.float64)]
    big = np.finfo(np.float64).max
    assert _round_mpf(mpmath.mpf(2) ** 1023, fmt) == 2.0**1023
    assert _round_mpf(mpmath.mpf(big), fmt) == big
    tie = mpmath.fadd(big, mpmath.ldexp(1, 970), exact=True)  # halfway to 2**1024
    assert _round_mpf(tie, fmt) == math.inf  # ties to even: the even neighbour is 2**1024
    assert mp_softplus(np.array([big]))[0] == big


@pytest.mark.parametrize("distance", [-200, -1200])
def test_correct_rounding_raises_the_precision_until_the_rounding_is_decided(distance):
    r"""Ziv's strategy (the module docstring): a value :math:`2^{d}` above the midpoint
    :math:`1 + 2^{-53}` of two float64 rounds up, to :math:`1 + 2^{-52}`, although at the
    first precision (138 bits) it is computed as the midpoint itself, which rounds to even
    (1.0). The interval check sees the tie and doubles the precision: to 276 bits for
    :math:`d = -200`, and to 2208 bits (the fourth doubling) for :math:`d = -1200`."""
    from nllkit.references import _correctly_rounded

    def evaluate():
        value = mpmath.mpf(1) + mpmath.ldexp(1, -53) + mpmath.ldexp(1, distance)
        return [(value, mpmath.mpf(1))]

    fmt = _FORMATS[np.dtype(np.float64)]
    assert _correctly_rounded(evaluate, fmt) == [1.0 + 2.0**-52]


def test_portable_format_checks_both_ends_of_the_noise():
    r"""``portable_format`` formats :math:`v \pm \delta`, :math:`\delta = \mathrm{rtol}|v|
    + \mathrm{atol}`, and both must print as :math:`v` does. The docstring's example crosses
    the rounding boundary below :math:`v`; a value :math:`10^{-9}` above a boundary crosses
    it with the default rtol (:math:`\delta = 1.2\cdot 10^{-9}`) but not with
    :math:`10^{-8}` of room, which pins the default noise at about :math:`10^{-9}`."""
    from nllkit import portable_format

    assert portable_format(2.6965, ".4f") == "2.6965"
    with pytest.raises(ValueError, match=r"prints as '2\.6965'"):
        portable_format(2.69645, ".4f")
    with pytest.raises(ValueError, match="within the noise"):
        portable_format(1.23455 + 1e-9, ".4f")  # only v - delta crosses 1.23455
    with pytest.raises(ValueError, match="within the noise"):
        portable_format(1.23455 - 1e-9, ".4f")  # only v + delta crosses it
    assert portable_format(1.23455 + 1e-8, ".4f") == "1.2346"
    with pytest.raises(ValueError, match="within the noise"):
        portable_format(1.23455 + 1e-8, ".4f", rtol=1e-8)
    # atol is added to the noise: 0.0004 +- 0.001 prints as -0.001 and 0.001
    assert portable_format(0.0004, ".3f") == "0.000"
    with pytest.raises(ValueError, match="within the noise"):
        portable_format(0.0004, ".3f", atol=1e-3)


@pytest.mark.parametrize("bad", [math.inf, math.nan, -1e-9])
def test_portable_format_rejects_a_tolerance_that_is_not_finite_and_non_negative(bad):
    from nllkit import portable_format

    for name in ("rtol", "atol"):
        with pytest.raises(ValueError, match=f"portable_format: {name} must be finite and >= 0"):
            portable_format(1.0, ".2f", **{name: bad})


def test_the_mutant_list_matches_the_library():
    """Every snippet of ``tools/mutants.toml`` still occurs once in its function, so that a
    refactor of nllkit must re-target the mutation audit (``make mutants``) as it goes.
    Skipped in the audit's own scratch copies, which hold no ``tools``."""
    import importlib.util
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parents[1] / "tools" / "mutants.py"
    if not tool.is_file():
        pytest.skip("no tools/mutants.py (a scratch copy of the tests)")
    spec = importlib.util.spec_from_file_location("nllkit_mutants_tool", tool)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert module.SRC.resolve() == Path(nllkit.__file__).resolve().parent
    problems = module.check_all(module.load())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dtype", FLOATS)
def test_ulp_distance_between_any_two_nans_is_zero(dtype):
    """The docstring: 0 where both are NaN, whatever their sign bits and payloads (a NaN made
    by ``inf - inf`` on x86 has its sign bit set, numpy's ``nan`` does not), although their
    bit patterns lie far apart."""
    nan = np.array([np.nan], dtype=dtype)
    int_type = {np.float16: np.int16, np.float32: np.int32, np.float64: np.int64}[dtype]
    payload = (nan.view(int_type) | 1).view(dtype)  # another quiet NaN
    for other in (-nan, payload, -payload):
        assert np.isnan(other).all()
        assert ulp_distance(nan, other)[0] == 0.0
