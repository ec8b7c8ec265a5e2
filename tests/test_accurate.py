"""The double-double helpers of nllkit._accurate against exact rational arithmetic and mpmath.

Every float64 is a rational number, so fractions.Fraction computes a + b and a * b exactly:
the error-free transformations must reproduce them to the last bit, and the double-double
operations must stay within the relative error bounds their docstrings cite (Joldes, Muller
and Popescu 2017). The transcendental helpers are compared with mpmath at 300 bits.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest

from nllkit import _accurate as acc

U = Fraction(1, 2**53)


def _operands(n=400, seed=0, spread=60):
    """Pairs of floats of random signs whose exponents differ by up to ``spread`` binades,
    including equal magnitudes and exact cancellations (the hard cases of TwoSum)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(1, 2, n) * 2.0 ** rng.integers(-spread, spread, n) * rng.choice([-1, 1], n)
    b = rng.uniform(1, 2, n) * 2.0 ** rng.integers(-spread, spread, n) * rng.choice([-1, 1], n)
    b[:40] = -a[:40] * (1 + rng.uniform(-1e-12, 1e-12, 40))  # near cancellation
    b[40:60] = -a[40:60]  # exact cancellation
    return a, b


def _exact(*xs):
    return sum((Fraction(float(x)) for x in xs), Fraction(0))


def test_log2_constant():
    with mpmath.workprec(300):
        err = mpmath.mpf(acc.LN2_HI) + mpmath.mpf(acc.LN2_LO) - mpmath.log(2)
        assert abs(err) < mpmath.mpf(6e-34)
        assert float(mpmath.log(2)) == acc.LN2_HI


def test_two_sum_and_fast_two_sum_are_exact():
    a, b = _operands()
    s, e = acc.two_sum(a, b)
    for x, y, si, ei in zip(a, b, s, e, strict=True):
        assert si == x + y  # s is the rounded sum ...
        assert _exact(si, ei) == _exact(x, y)  # ... and s + e the exact one
    big = np.where(np.abs(a) >= np.abs(b), a, b)
    small = np.where(np.abs(a) >= np.abs(b), b, a)
    s, e = acc.fast_two_sum(big, small)
    for x, y, si, ei in zip(big, small, s, e, strict=True):
        assert _exact(si, ei) == _exact(x, y)


def test_split_and_two_prod_are_exact():
    a, b = _operands(seed=1, spread=200)
    h, lo = acc.split(a)
    for x, hi, li in zip(a, h, lo, strict=True):
        assert _exact(hi, li) == Fraction(float(x))
        for part in (hi, li):  # at most 26 significant bits each
            m, _ = np.frexp(part)
            assert float(m * 2**26) == int(m * 2**26)
    p, e = acc.two_prod(a, b)
    for x, y, pi, ei in zip(a, b, p, e, strict=True):
        assert pi == x * y
        assert _exact(pi, ei) == Fraction(float(x)) * Fraction(float(y))


def _dd(rng, n):
    """Random normalised double-doubles of random signs and magnitudes."""
    h = rng.uniform(1, 2, n) * 2.0 ** rng.integers(-30, 30, n) * rng.choice([-1, 1], n)
    return acc.fast_two_sum(h, h * rng.uniform(-1, 1, n) * 2.0**-53)


def test_double_double_add_and_mul_within_their_bounds():
    rng = np.random.default_rng(2)
    xh, xl = _dd(rng, 500)
    yh, yl = _dd(rng, 500)
    yh[:100], yl[:100] = -xh[:100], -xl[:100] * (1 + 2.0**-20)  # cancellation
    sh, sl = acc.dd_add(xh, xl, yh, yl)
    ph, pl = acc.dd_mul(xh, xl, yh, yl)
    dh, dl = acc.dd_add_d(xh, xl, yh)
    for i in range(500):
        x, y = _exact(xh[i], xl[i]), _exact(yh[i], yl[i])
        if x + y != 0:
            assert abs(_exact(sh[i], sl[i]) / (x + y) - 1) <= 3 * U**2 + 13 * U**3
        assert abs(_exact(ph[i], pl[i]) / (x * y) - 1) <= 7 * U**2
        z = x + Fraction(float(yh[i]))
        if z != 0:
            assert abs(_exact(dh[i], dl[i]) / z - 1) <= 2 * U**2


def test_dd_sum_of_positive_terms():
    rng = np.random.default_rng(3)
    for k in (1, 2, 7, 1000):
        h = rng.uniform(0, 1, (3, k)) * 2.0 ** rng.integers(-40, 40, (3, k))
        lo = h * rng.uniform(-1, 1, (3, k)) * 2.0**-53
        sh, sl = acc.dd_sum(h, lo)
        for r in range(3):
            exact = _exact(*h[r], *lo[r])
            bound = max(1, int(np.ceil(np.log2(k)))) * (3 * U**2 + 13 * U**3)
            assert abs(_exact(sh[r], sl[r]) / exact - 1) <= bound


def _worst_relative(ours, exact):
    """max over the points of |ours_h + ours_l - exact| / |exact|, in mpmath at 300 bits."""
    worst = mpmath.mpf(0)
    with mpmath.workprec(300):
        for h, lo, ref in zip(*ours, exact, strict=True):
            if ref != 0:
                worst = max(worst, abs((mpmath.mpf(h) + mpmath.mpf(lo)) / ref - 1))
    return worst


@pytest.fixture(scope="module")
def arguments():
    rng = np.random.default_rng(4)
    xh = np.concatenate(
        [
            rng.uniform(-1500, 0, 600),
            rng.uniform(-1, 1, 300),
            rng.uniform(-1e-6, 1e-6, 100),
            rng.uniform(0, 36, 200),
            np.arange(-20, 21) * (acc.LN2_HI / 2048),  # at the table's reduction boundaries
            [0.0, -0.0],
        ]
    )
    xl = xh * rng.uniform(-1, 1, xh.size) * 2.0**-53
    with mpmath.workprec(300):
        x = [mpmath.mpf(h) + mpmath.mpf(lo) for h, lo in zip(xh, xl, strict=True)]
    return xh, xl, x


def test_exp_dd_and_exp_parts(arguments):
    """Below 2^-90 relative, as the docstrings promise (measured: about 2^-96)."""
    xh, xl, x = arguments
    keep = xh > -669  # exp_dd: results above 2^-965, where the low part is normal
    with mpmath.workprec(300):
        exact = [mpmath.exp(v) for v in x]
    ours = acc.exp_dd(xh[keep], xl[keep])
    assert _worst_relative(ours, [e for e, k in zip(exact, keep, strict=True) if k]) < 2**-90
    mh, ml, q = acc.exp_parts(xh, xl)
    assert np.all((mh > 0.9996) & (mh < 2.0007))  # 2^(j/1024 + r/log 2), |r| <= log(2)/2048
    with mpmath.workprec(300):
        scaled = [e / mpmath.mpf(2) ** int(qi) for e, qi in zip(exact, q, strict=True)]
    assert _worst_relative((mh, ml), scaled) < 2**-90


def test_the_exp_table():
    th, tl = acc._table()
    with mpmath.workprec(300):
        exact = [mpmath.mpf(2) ** (mpmath.mpf(j) / 1024) for j in range(1024)]
    assert _worst_relative((th, tl), exact) < 2**-96


def test_expm1_dd_keeps_relative_accuracy_near_zero(arguments):
    xh, xl, x = arguments
    keep = np.abs(xh) <= 36
    with mpmath.workprec(300):
        exact = [mpmath.expm1(v) for v, k in zip(x, keep, strict=True) if k]
    assert _worst_relative(acc.expm1_dd(xh[keep], xl[keep]), exact) < 2**-88


def test_log1p_dd():
    rng = np.random.default_rng(5)
    th = np.concatenate([np.exp(rng.uniform(-60, 34, 600)), [0.0, 2.0**-401, 1e-300, 5e-324]])
    tl = th * rng.uniform(-1, 1, th.size) * 2.0**-53
    with mpmath.workprec(300):
        exact = [mpmath.log1p(mpmath.mpf(h) + mpmath.mpf(lo)) for h, lo in zip(th, tl, strict=True)]
    ours = acc.log1p_dd(th, tl)
    assert ours[0][-4] == 0.0
    assert _worst_relative(ours, exact) < 2**-88


def _assert_normalised(hi, lo):
    """A double-double is an unevaluated sum with :math:`|x_l| \\le \\frac12\\mathrm{ulp}(x_h)`
    (the module docstring): without it the pair carries fewer than 106 bits, and the next
    Fast2Sum, whose ordering condition it provides, may not be exact."""
    hi, lo = np.asarray(hi), np.asarray(lo)
    assert np.all(np.abs(lo) <= np.spacing(np.abs(hi)) / 2)


def test_every_double_double_result_is_normalised(arguments):
    rng = np.random.default_rng(6)
    xh, xl = _dd(rng, 500)
    yh, yl = _dd(rng, 500)
    yh[:100], yl[:100] = -xh[:100], -xl[:100] * (1 + 2.0**-20)  # cancellation
    _assert_normalised(*acc.dd_add(xh, xl, yh, yl))
    _assert_normalised(*acc.dd_add_d(xh, xl, yh))
    _assert_normalised(*acc.dd_mul(xh, xl, yh, yl))
    _assert_normalised(*acc.dd_sum(np.abs(xh).reshape(5, 100), np.abs(xl).reshape(5, 100)))
    ah, al, _ = arguments
    keep = ah > -669
    _assert_normalised(*acc.exp_dd(ah[keep], al[keep]))
    mh, ml, _ = acc.exp_parts(ah, al)
    _assert_normalised(mh, ml)
    small = np.abs(ah) <= 36
    _assert_normalised(*acc.expm1_dd(ah[small], al[small]))
    th = np.exp(rng.uniform(-60, 34, 300))
    _assert_normalised(*acc.log1p_dd(th, th * rng.uniform(-1, 1, th.size) * 2.0**-53))


def test_dd_add_where_the_high_parts_cancel_and_the_low_parts_differ_in_size():
    r"""AccurateDWPlusDW's bound :math:`3u^2 + 13u^3` holds when :math:`x_h + y_h` cancels
    to a few ULP and the low parts differ in magnitude, so that :math:`x_l + y_l` rounds: the
    "sloppy" sum, which adds the low parts in float64, is then off by about
    :math:`u|x_l|/|x + y|`, here :math:`2^{-55}` relative, where the accurate one applies
    TwoSum to them."""
    rng = np.random.default_rng(7)
    n = 200
    xh = rng.uniform(1, 2, n)
    yh = -(xh - np.spacing(xh) * rng.integers(1, 4, n))  # x_h + y_h: 1 to 3 ULP of x_h
    xl = np.spacing(xh) * rng.uniform(-0.5, 0.5, n)
    yl = np.spacing(xh) * rng.uniform(-0.5, 0.5, n) * 2.0**-25
    xh, xl = acc.fast_two_sum(xh, xl)
    yh, yl = acc.fast_two_sum(yh, yl)
    sh, sl = acc.dd_add(xh, xl, yh, yl)
    for i in range(n):
        exact = _exact(xh[i], xl[i]) + _exact(yh[i], yl[i])
        assert abs(_exact(sh[i], sl[i]) / exact - 1) <= 3 * U**2 + 13 * U**3
