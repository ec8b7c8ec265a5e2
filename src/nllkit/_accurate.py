r"""Double-double arithmetic: about 106 bits from float64 alone, the same on every IEEE machine.

A *double-double* is an unevaluated sum :math:`x_h + x_l` of two float64 with
:math:`|x_l| \le \frac12\mathrm{ulp}(x_h)`, so it carries about 106 significant bits. It is built
from the error-free transformations below, which use only float64 ``+``, ``-``, ``*`` in a
fixed order (and ``np.ldexp``/``np.rint``, which are exact). IEEE 754 rounds each of those
correctly on every machine, every SIMD path and every operating system, so these helpers give
bit-identical results everywhere — unlike ``np.longdouble`` (80-bit on x86 Linux, float64 on
ARM macOS and Windows) or a fused multiply-add (numpy has no ufunc for it; separate ufunc calls
are never contracted into one).

:mod:`nllkit.numerics` uses them for two rare kinds of rows, where float64 is not enough:

* rows whose softmax tail is a sum of subnormal numbers (:func:`exp_parts` gives each term
  as a number near [1, 2] times a power of two, so the sum can be scaled by :math:`2^{1010}`
  exactly);
* rows whose log-sum-exp cancels (:func:`exp_dd`, :func:`log1p_dd`).

Notation: :math:`u = 2^{-53}`, the unit roundoff of float64 (round to nearest). Every function
takes and returns float64 arrays (or scalars) elementwise; a double-double is a pair
``(hi, lo)``. The error bounds are those of Joldes, Muller and Popescu (2017), "Tight and
rigorous error bounds for basic building blocks of double-word arithmetic", ACM TOMS 44(2), for
the algorithms named; ``tests/test_accurate.py`` measures each against exact rational
arithmetic (:class:`fractions.Fraction`) and mpmath.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

Array = Any  # a float64 numpy array or scalar

#: :math:`\log 2` as a double-double (hi is the correctly rounded float64, lo the correctly
#: rounded remainder; together within :math:`6\cdot 10^{-34}` of :math:`\log 2`, checked against
#: mpmath in ``tests/test_accurate.py``).
LN2_HI = float.fromhex("0x1.62e42fefa39efp-1")
LN2_LO = float.fromhex("0x1.abc9e3b39803fp-56")


def _dd_constant(value: Fraction) -> tuple[float, float]:
    """An exact rational as a double-double: hi the nearest float64, lo the nearest float64
    to the remainder (Fraction arithmetic is exact, so this is the same on every machine)."""
    hi = float(value)
    return hi, float(value - Fraction(hi))


_INV_6 = _dd_constant(Fraction(1, 6))
_INV_24 = _dd_constant(Fraction(1, 24))
#: 1/5!, 1/6!, ..., 1/10!: the float64 part of the exp polynomial (see :func:`_expm1_reduced`).
_INV_FACT_TAIL = [float(Fraction(1, int(np.prod(np.arange(1, j + 1))))) for j in range(5, 11)]
#: Halvings of the reduced argument before the polynomial, undone by as many squarings.
_HALVINGS = 8


def two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    r"""``(s, e)`` with :math:`s = \mathrm{fl}(a + b)` and :math:`s + e = a + b` exactly.

    Knuth's TwoSum (TAOCP vol. 2, §4.2.2), six operations and no branch. Why it is exact: the
    rounding error of a sum of two floats is itself a float (it is a multiple of the smaller
    operand's ulp and below half an ulp of :math:`s`), and for every ordering of :math:`|a|`,
    :math:`|b|` the steps :math:`b' = s - a`, :math:`a' = s - b'` recover the parts of :math:`s`
    that came from each operand without rounding, so
    :math:`e = (a - a') + (b - b')` is that error, computed exactly. Holds for all finite
    :math:`a, b` whose sum does not overflow, subnormal ones included (an addition that
    underflows is exact).
    """
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fast_two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    r"""``(s, e)`` with :math:`s = \mathrm{fl}(a + b)` and :math:`s + e = a + b` exactly, when
    :math:`|a| \ge |b|` (or :math:`a = 0`).

    Dekker's Fast2Sum (1971), three operations. Why it is exact: with the exponent of
    :math:`a` at least that of :math:`b`, :math:`s - a` is a float (it is :math:`b` plus the
    rounding error, both multiples of :math:`\mathrm{ulp}(b)`, and at most :math:`2|b|`), so
    :math:`z = \mathrm{fl}(s - a)` is exact and :math:`b - z` is exactly the rounding error.
    Used to renormalise a pair whose first term dominates.
    """
    s = a + b
    return s, b - (s - a)


def split(a: Array) -> tuple[Array, Array]:
    r"""``(h, l)`` with :math:`h + l = a` exactly and each of :math:`h, l` at most 26 bits.

    Veltkamp's splitting with :math:`C = 2^{27} + 1`: :math:`c = \mathrm{fl}(Ca)`,
    :math:`h = \mathrm{fl}(c - \mathrm{fl}(c - a))`. Why it is exact: :math:`c - a` is
    :math:`2^{27}a` rounded, so subtracting it from :math:`c` leaves :math:`a` rounded to its
    leading 26 bits (the rounding of :math:`c` only moves the cut), and :math:`a - h` is then
    exact, with the 27th bit absorbed by its sign (Dekker 1971; Boldo 2006). Needs
    :math:`|Ca|` finite: :math:`|a| < 2^{996}`.
    """
    c = 134217729.0 * a  # 2**27 + 1
    h = c - (c - a)
    return h, a - h


def two_prod(a: Array, b: Array) -> tuple[Array, Array]:
    r"""``(p, e)`` with :math:`p = \mathrm{fl}(ab)` and :math:`p + e = ab` exactly.

    Dekker's product, without a fused multiply-add. Why it is exact: with
    :math:`a = a_h + a_l`, :math:`b = b_h + b_l` split into 26-bit halves (:func:`split`), each
    partial product :math:`a_h b_h, a_h b_l, a_l b_h, a_l b_l` has at most 52 bits and is
    computed exactly; :math:`ab - p` is a float (the error of a product is representable when
    nothing underflows), and subtracting the partial products from :math:`p` largest first
    keeps every intermediate a float, so no step rounds (Dekker 1971, Theorem 5.7). Needs
    :math:`|a|, |b| < 2^{996}` and no underflow: the exponents of :math:`a` and :math:`b` add
    up to at least :math:`-969`, true of every use here (the operands are of order 1).
    """
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def dd_add(xh: Array, xl: Array, yh: Array, yl: Array) -> tuple[Array, Array]:
    r""":math:`x + y` of two double-doubles, relative error below :math:`3u^2 + 13u^3`.

    AccurateDWPlusDW of Joldes, Muller and Popescu (2017): the high parts and the low parts
    are added with :func:`two_sum`, and the carries folded in with two :func:`fast_two_sum`.
    The bound holds even when :math:`x + y` cancels, which is why it is used here rather than
    the cheaper "sloppy" sum.
    """
    s, e = two_sum(xh, yh)
    t, f = two_sum(xl, yl)
    s, e = fast_two_sum(s, e + t)
    return fast_two_sum(s, e + f)


def dd_add_d(xh: Array, xl: Array, y: Array) -> tuple[Array, Array]:
    r""":math:`x + y` of a double-double and a float64, relative error below :math:`2u^2`
    (DWPlusFP of Joldes, Muller and Popescu 2017)."""
    s, e = two_sum(xh, y)
    return fast_two_sum(s, e + xl)


def dd_mul(xh: Array, xl: Array, yh: Array, yl: Array) -> tuple[Array, Array]:
    r""":math:`xy` of two double-doubles, relative error below :math:`7u^2`.

    DWTimesDW1 of Joldes, Muller and Popescu (2017): the exact product of the high parts
    (:func:`two_prod`) plus the two cross terms in float64 (the product of the low parts is
    below :math:`u^2|xy|` and dropped).
    """
    p, e = two_prod(xh, yh)
    return fast_two_sum(p, e + (xh * yl + xl * yh))


def dd_sum(h: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The double-double sum along the last axis of the double-doubles ``(h, lo)``.

    Pairwise (:math:`\lceil\log_2 k\rceil` rounds of :func:`dd_add` over half the columns), so
    the cost is a few dozen vector passes rather than a loop over :math:`k`. For terms of one
    sign, as here, every partial sum is within :math:`(3u^2 + 13u^3)` of the exact sum of its
    terms, and the result within :math:`\lceil\log_2 k\rceil (3u^2 + 13u^3)` relative.
    """
    while h.shape[-1] > 1:
        if h.shape[-1] % 2:
            pad = np.zeros((*h.shape[:-1], 1))
            h, lo = np.concatenate([h, pad], axis=-1), np.concatenate([lo, pad], axis=-1)
        h, lo = dd_add(h[..., 0::2], lo[..., 0::2], h[..., 1::2], lo[..., 1::2])
    return h[..., 0], lo[..., 0]


def _expm1_reduced(sh: Array, sl: Array) -> tuple[Array, Array]:
    r""":math:`e^s - 1` as a double-double for :math:`|s| \le \frac12\log 2 \cdot 2^{-8}`.

    Taylor series in Horner form, :math:`s(1 + s(\frac12 + s(\frac16 + s(\frac1{24} +
    s R(s)))))` with :math:`R(s) = \sum_{j=5}^{10} s^{j-5}/j!` in float64 and everything
    outside it in double-double. Error budget, relative to :math:`e^s - 1 \approx s`
    (:math:`|s| < 2^{-9.5}`): the omitted terms from :math:`s^{11}/11!` on are below
    :math:`2^{-120}`; :math:`sR(s)` enters multiplied by :math:`s^4`, whose ratio to
    :math:`s` is below :math:`2^{-33}`, so its float64 rounding (a few :math:`u`) costs below
    :math:`2^{-82}\cdot 2^{-13}`; each of the eight double-double steps adds a few
    :math:`u^2`. In all below :math:`2^{-100}`.
    """
    r = _INV_FACT_TAIL[-1]
    for c in reversed(_INV_FACT_TAIL[:-1]):
        r = r * sh + c
    th, tl = dd_add_d(*_INV_24, sh * r)
    th, tl = dd_add(*_INV_6, *dd_mul(th, tl, sh, sl))
    th, tl = dd_add_d(*dd_mul(th, tl, sh, sl), 0.5)
    th, tl = dd_add_d(*dd_mul(th, tl, sh, sl), 1.0)
    return dd_mul(th, tl, sh, sl)


def _exp_halving(xh: Array, xl: Array) -> tuple[Array, Array, Array]:
    r"""``(ph, pl, n)`` with :math:`e^{x_h + x_l} = 2^n (1 + p)`, :math:`p = p_h + p_l`, an
    integer :math:`n` and :math:`1 + p \in [2^{-1/2}, 2^{1/2}]`; :math:`p` keeps its relative
    accuracy however small :math:`x` is (for :func:`expm1_dd`). Needs :math:`|x_h| \le 1500`.
    Slower than :func:`exp_parts` (no table); used for :func:`expm1_dd` and to build the
    table of :func:`exp_parts`.

    Method: :math:`n = \mathrm{round}(x_h/\log 2)`; :math:`r = x - n\log 2` in double-double,
    with :math:`n \cdot \mathrm{LN2\_HI}` exact (:func:`two_prod`) and
    :math:`n\cdot\mathrm{LN2\_LO}` rounded once (:math:`|n| < 2^{12}`, so that rounding, and
    the :math:`6\cdot 10^{-34}` error of the double-double :math:`\log 2`, cost below
    :math:`2^{-96}` absolute in :math:`r`, which is the relative error of :math:`e^r`). The
    reduced :math:`s = r/2^8` is exact; :math:`p_0 = e^s - 1` comes from
    :func:`_expm1_reduced` and eight steps of :math:`e^{2s} - 1 = (e^s - 1)(e^s - 1 + 2)`
    give :math:`p = e^r - 1`. That form keeps the relative accuracy of the small number
    :math:`e^s - 1` (squaring :math:`1 + p_0` would lose it to the 1), and each step changes a
    relative error :math:`\varepsilon` only to :math:`\varepsilon (2 + 2p)/(2 + p)`, at most
    :math:`1.3\varepsilon`, plus a few :math:`u^2`. Measured against mpmath:
    below :math:`2^{-90}` relative (``tests/test_accurate.py``).
    """
    n = np.rint(xh * (1.0 / LN2_HI))
    ph, pl = two_prod(n, LN2_HI)
    rh, rl = dd_add(xh, xl, -ph, -(pl + n * LN2_LO))
    scale = 2.0**-_HALVINGS
    qh, ql = _expm1_reduced(rh * scale, rl * scale)
    for _ in range(_HALVINGS):
        qh, ql = dd_mul(qh, ql, *dd_add_d(qh, ql, 2.0))
    return qh, ql, n.astype(np.int64)


_TABLE_BITS = 10
_TABLE_SIZE = 1 << _TABLE_BITS
_TABLE: tuple[np.ndarray, np.ndarray] | None = None


def _table() -> tuple[np.ndarray, np.ndarray]:
    r""":math:`2^{j/1024}`, :math:`j = 0, \dots, 1023`, as double-doubles, built on first use
    by :func:`_exp_halving` from :math:`(j/1024)\log 2` (exact scaling of the double-double
    :math:`\log 2`): within :math:`2^{-96}` relative, measured in ``tests/test_accurate.py``."""
    global _TABLE
    if _TABLE is None:
        f = np.arange(_TABLE_SIZE) / _TABLE_SIZE
        ph, pl, n = _exp_halving(*dd_mul(f, np.zeros_like(f), LN2_HI, LN2_LO))
        mh, ml = dd_add_d(ph, pl, 1.0)
        _TABLE = np.ldexp(mh, n), np.ldexp(ml, n)
    return _TABLE


def exp_parts(xh: Array, xl: Array) -> tuple[Array, Array, Array]:
    r"""``(mh, ml, q)`` with :math:`e^{x_h + x_l} = 2^q (m_h + m_l)`, relative error below
    :math:`2^{-90}`; :math:`q` is an integer (int64 array) and
    :math:`m \in (0.9996, 2.0007)`, so the caller can apply the power of two where it cannot
    underflow (:func:`np.ldexp` is exact unless its result is subnormal). Needs
    :math:`|x_h| \le 1500`.

    Method (Tang's table-driven reduction, in double-double):
    :math:`n = \mathrm{round}(1024 x_h/\log 2)`, :math:`q = \lfloor n/1024 \rfloor`,
    :math:`j = n - 1024q`, and :math:`r = x - n\log 2/1024` in double-double, so
    :math:`e^x = 2^q\, 2^{j/1024}\, e^r` with :math:`|r| \le \log 2/2048 < 2^{-11.5}`.
    :math:`n\cdot\mathrm{LN2\_HI}/1024` is exact (:func:`two_prod`, :math:`|n| < 2^{22}`);
    :math:`n\cdot\mathrm{LN2\_LO}/1024` is rounded once (below :math:`2^{-98}` absolute),
    and the double-double :math:`\log 2` is off by :math:`6\cdot 10^{-34}`, i.e. below
    :math:`2^{-99}` in :math:`r` — an absolute error in :math:`r` is the relative error of
    :math:`e^r`. Then :math:`e^r - 1 = r + r^2 h` with :math:`h = \frac12 + r c`,
    :math:`c = \frac16 + r R(r)`, :math:`R(r) = \frac1{24} + \frac{r}{120} + \frac{r^2}{720}
    + \frac{r^3}{5040}`: the omitted terms from :math:`r^8/8!` are below :math:`2^{-96}`
    relative; :math:`R` is float64 (a few :math:`u`, which :math:`r c/h` and
    :math:`r^2 h/r` shrink by :math:`2^{-13.5-12.5}` each step, i.e. below :math:`2^{-90}`),
    the rest double-double. Finally :math:`m = T_j + T_j (e^r - 1)` with the table
    :math:`T_j = 2^{j/1024}` (:func:`_table`). Measured against mpmath: below
    :math:`2^{-93}` relative (``tests/test_accurate.py``).
    """
    th_tab, tl_tab = _table()
    n = np.rint(xh * (_TABLE_SIZE / LN2_HI))
    ph, pl = two_prod(n, LN2_HI / _TABLE_SIZE)
    rh, rl = dd_add(xh, xl, -ph, -(pl + n * (LN2_LO / _TABLE_SIZE)))
    R = ((rh * (1.0 / 5040) + 1.0 / 720) * rh + 1.0 / 120) * rh + 1.0 / 24
    ch, cl = dd_add_d(*_INV_6, rh * R)
    hh, hl = dd_add_d(*dd_mul(rh, rl, ch, cl), 0.5)
    qh, ql = dd_mul(*dd_mul(rh, rl, rh, rl), hh, hl)
    eh, el = dd_add(rh, rl, qh, ql)  # e^r - 1
    ni = n.astype(np.int64)
    j = ni & (_TABLE_SIZE - 1)
    Th, Tl = th_tab[j], tl_tab[j]
    mh, ml = dd_add(Th, Tl, *dd_mul(Th, Tl, eh, el))
    return mh, ml, ni >> _TABLE_BITS


def exp_dd(xh: Array, xl: Array) -> tuple[Array, Array]:
    r""":math:`e^{x_h + x_l}` as a double-double, relative error below :math:`2^{-90}` while the
    result is at least :math:`2^{-969}` (below that its low part underflows, an absolute error
    below :math:`2^{-1074}`). See :func:`exp_parts`."""
    mh, ml, q = exp_parts(xh, xl)
    return np.ldexp(mh, q), np.ldexp(ml, q)


def expm1_dd(xh: Array, xl: Array) -> tuple[Array, Array]:
    r""":math:`e^{x} - 1` as a double-double for :math:`|x| \le 36`, relative error below
    :math:`2^{-88}` even for tiny :math:`x`: with :math:`e^x = 2^n (1 + p)`,
    :math:`e^x - 1 = 2^n p + (2^n - 1)`, where :math:`2^n - 1` is a float64 exactly
    (:math:`|n| \le 52`) and :math:`n = 0` gives :math:`p` itself, with no cancellation
    (:func:`_exp_halving`)."""
    ph, pl, n = _exp_halving(xh, xl)
    return dd_add_d(np.ldexp(ph, n), np.ldexp(pl, n), np.ldexp(1.0, n) - 1.0)


def log1p_dd(th: Array, tl: Array) -> tuple[Array, Array]:
    r""":math:`\log(1 + t)` of a double-double :math:`t = t_h + t_l \ge 0`, as a double-double
    within about :math:`2^{-88}` relative, for :math:`t \le 2^{50}`.

    One Newton step on :math:`e^y = 1 + t` from the float64 guess
    :math:`y_0 = \operatorname{log1p}(t_h)`: with :math:`e^{y_0} - 1 = P` (:func:`expm1_dd`,
    accurate however small :math:`y_0` is),
    :math:`\log(1 + t) = y_0 + \operatorname{log1p}\big((t - P)/(1 + P)\big)`, and
    :math:`v = (t - P)/(1 + P)` is of the order of the guess's error, a few :math:`u` (any
    libm's ``log1p`` is within a few ULP), so :math:`\operatorname{log1p}(v) = v` up to
    :math:`v^2/2 < 2^{-100}`. :math:`t - P` is a double-double difference of two nearly equal
    numbers, exact up to :math:`3u^2` of its operands, i.e. :math:`2^{-104}` relative to
    :math:`\log(1+t)`; :math:`v` needs only float64 precision. Below :math:`t = 2^{-400}`,
    where the products inside :func:`expm1_dd` would underflow, :math:`t` itself is returned
    (:math:`\log(1+t) = t(1 - t/2 + \dots)`, a relative difference below :math:`2^{-401}`).
    ``+inf`` and NaN are not handled (the callers never pass them).
    """
    y0 = np.log1p(th)
    Ph, Pl = expm1_dd(y0, np.zeros_like(y0))
    dh, dl = dd_add(th, tl, -Ph, -Pl)
    yh, yl = fast_two_sum(y0, (dh + dl) / (1.0 + Ph))
    tiny = th < 2.0**-400
    return np.where(tiny, th, yh), np.where(tiny, tl, yl)
