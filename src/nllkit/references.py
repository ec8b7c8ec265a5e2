"""Correctly rounded references: each numerics function and loss evaluated with mpmath.

``mp_*`` — high-precision (mpmath) references for each numerics function and loss, *correctly
rounded* to the input's float dtype, so that an error of 0 ULP (:func:`~nllkit.ulp_distance`)
means "the best any float implementation can do". They are the oracle of the accuracy tests
and of ``benchmarks/run.py``, and are slow (one mpmath evaluation per element or row): use
them on small grids. mpmath ships with torch; it is imported when a reference is first called.

Used in :ref:`chapter-numerical-stability`.

How the references are correctly rounded
----------------------------------------
Each input float is converted to an mpmath number exactly. The function is evaluated with a
formula that avoids catastrophic cancellation at ``prec`` bits, together with a *magnitude*
``mag`` that bounds the absolute error of the evaluation by ``mag · 2**(slack - prec)``
(``slack`` = 24 bits pays for up to millions of rounding steps). Both ends of that error
interval are rounded to the target format; if they round to the same float, every value in the
interval — the exact result included — rounds to it, so that float *is* the correctly rounded
result. If they differ (the result lies too close to a rounding boundary, or cancellation ate the
precision) the evaluation is repeated at twice the precision (Ziv's strategy). Parts that are
exact rational functions of the inputs (``x_i - max(x)``, ``(1 - y) z``, ``sum t_i z_i``) are
formed without rounding and only the transcendental rest counts in ``mag``: a difference of two
floats can lie exactly halfway between two floats of the format, and then a far tail such as
``log1p(exp(-1500))`` decides the direction — at any distance, via a sticky bit. Rounding an
mpmath number to a ``p``-bit format is done with integers on its mantissa and exponent, in one
step, with round-half-to-even, gradual underflow (subnormals) and overflow to ±inf, so a float32
result is never rounded twice (once to float64 and then to float32).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._validation import broadcast_pair, names_itself

__all__ = [
    "mp_binary_cross_entropy_with_logits",
    "mp_cross_entropy",
    "mp_entropy",
    "mp_kl_divergence",
    "mp_log_sigmoid",
    "mp_log_softmax",
    "mp_logit",
    "mp_logsumexp",
    "mp_sigmoid",
    "mp_softmax",
    "mp_softplus",
]

# ---------------------------------------------------------------------------------------------
# correct rounding of mpmath numbers
# ---------------------------------------------------------------------------------------------

# significand bits p (with the hidden bit) and the exponent range of normal numbers
_FORMATS = {
    np.dtype(np.float16): (11, -14, 15),
    np.dtype(np.float32): (24, -126, 127),
    np.dtype(np.float64): (53, -1022, 1023),
}
_SLACK = 24  # bits of error budget for the evaluation, see the module docstring
_MAX_DOUBLINGS = 5


def _mp():
    try:
        import mpmath
    except ImportError as exc:  # pragma: no cover - mpmath ships with torch
        raise ImportError("the mp_* references need mpmath (pip install 'nllkit[oracle]')") from exc
    return mpmath


def _round_mpf(v: Any, fmt: tuple[int, int, int]) -> float:
    """Round an mpmath number to the nearest float of format ``fmt``, ties to even, in one step.

    Works on the exact value ``(-1)**sign * man * 2**exp`` of ``v`` with Python integers: the
    quantum (weight of the last significand bit) is ``2**(max(e, emin) - (p - 1))`` where
    ``e = floor(log2|v|)``; below ``2**emin`` that is the subnormal quantum. The result
    ``N * 2**q`` with ``N <= 2**p`` is exactly representable in the format and in float64, so
    ``math.ldexp`` converts it without a second rounding.
    """
    mpmath = _mp()
    if mpmath.isnan(v):
        return math.nan
    if mpmath.isinf(v):
        return math.inf if v > 0 else -math.inf
    sign, man, exp, bc = v._mpf_
    if man == 0:
        return 0.0
    p, emin, emax = fmt
    e = exp + bc - 1
    if e < emin - p:  # below half the smallest subnormal (exp(-1e300) has e ~ -1.4e300)
        return -0.0 if sign else 0.0
    if e > emax:  # at least 2**(emax + 1)
        return -math.inf if sign else math.inf
    q = max(e, emin) - (p - 1)
    if exp >= q:
        n = man << (exp - q)
    else:
        shift = q - exp
        n = man >> shift
        rem = man - (n << shift)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and n & 1):
            n += 1
    if n.bit_length() + q > emax + 1:  # rounded up to 2**(emax + 1): beyond the largest float
        result = math.inf
    else:
        result = math.ldexp(float(n), q)
    return -result if sign else result


def _correctly_rounded(
    evaluate: Callable[[], list[tuple[Any, Any]]], fmt: tuple[int, int, int]
) -> list[float]:
    """Run ``evaluate`` at rising precision until each of its values rounds unambiguously.

    ``evaluate()`` returns pairs ``(value, mag)`` computed at the current mpmath precision
    ``prec``; its absolute error must be at most ``mag * 2**(_SLACK - prec)``. Infinite and NaN
    values are exact special values and are returned as they are.
    """
    mpmath = _mp()
    mp = mpmath.mp
    prec = 2 * fmt[0] + 32
    for _ in range(_MAX_DOUBLINGS):
        with mp.workprec(prec):
            pairs = evaluate()
        out = []
        for value, mag in pairs:
            rounded = _round_mpf(value, fmt)
            if mag and mpmath.isfinite(value):
                err = mpmath.ldexp(mag, _SLACK - prec)
                lo = _round_mpf(mpmath.fsub(value, err, exact=True), fmt)
                hi = _round_mpf(mpmath.fadd(value, err, exact=True), fmt)
                if lo != hi:
                    break
            out.append(rounded)
        else:
            return out
        prec *= 2
    # Still undecided after many doublings: the value is (almost) exactly on a rounding boundary
    # and evaluated exactly, so rounding it is right.
    return [_round_mpf(value, fmt) for value, _ in pairs]


# ---------------------------------------------------------------------------------------------
# array plumbing
# ---------------------------------------------------------------------------------------------


def _float_array(x: Any, name: str) -> np.ndarray:
    """``x`` as an array of a float dtype in ``_FORMATS`` (bool and integers become float64)."""
    arr = np.asarray(x)
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype not in _FORMATS:
        raise TypeError(
            f"{name} must be real numbers (float16, float32, float64 or integers), "
            f"got dtype {arr.dtype}"
        )
    return arr


def _result_dtype(*arrays: np.ndarray) -> np.dtype:
    return np.result_type(*arrays)


def _elementwise(kernel: Callable[..., Any], *args: tuple[Any, str]) -> np.ndarray:
    """Apply a scalar kernel of mpf arguments elementwise; round to the inputs' float dtype."""
    mpmath = _mp()
    arrays = [_float_array(value, name) for value, name in args]
    dtype = _result_dtype(*arrays)
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = ", ".join(f"{name} {a.shape}" for (_, name), a in zip(args, arrays, strict=True))
        raise ValueError(f"shapes do not broadcast: {shapes}") from None
    fmt = _FORMATS[dtype]
    flats = [a.reshape(-1) for a in arrays]
    out = np.empty(arrays[0].size, dtype=dtype)
    for i in range(out.size):
        mp_args = [mpmath.mpf(float(f[i])) for f in flats]
        out[i] = _correctly_rounded(lambda mp_args=mp_args: [kernel(*mp_args)], fmt)[0]
    return out.reshape(arrays[0].shape)


def _rows(x: np.ndarray, axis: int, name: str) -> tuple[np.ndarray, int]:
    """Move ``axis`` of ``x`` last and return (array with rows along the last axis, axis)."""
    if not isinstance(axis, int | np.integer):
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}")
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for {name} with {x.ndim} dimension(s)")
    return np.moveaxis(x, axis, -1), int(axis)


def _along_rows(
    row_kernel: Callable[..., list[tuple[Any, Any]]],
    arrays: Sequence[np.ndarray],
    dtype: np.dtype,
    keep_length: bool,
) -> np.ndarray:
    """Apply ``row_kernel`` to the rows (last axis) of ``arrays``; one value or a row back."""
    mpmath = _mp()
    fmt = _FORMATS[dtype]
    lead, n = arrays[0].shape[:-1], arrays[0].shape[-1]
    n_rows = math.prod(lead)
    flats = [np.asarray(a).reshape(n_rows, a.shape[-1]) for a in arrays]
    width = n if keep_length else 1
    out = np.empty((n_rows, width), dtype=dtype)
    for r in range(out.shape[0]):
        rows = [[mpmath.mpf(float(v)) for v in f[r]] for f in flats]
        out[r] = _correctly_rounded(lambda rows=rows: row_kernel(*rows), fmt)
    return out.reshape((*lead, n) if keep_length else lead)


# ---------------------------------------------------------------------------------------------
# scalar kernels: each returns (value, mag) at the current precision, see _correctly_rounded
# ---------------------------------------------------------------------------------------------


def _exact(value: Any) -> tuple[Any, int]:
    return value, 0


def _exact_plus(a: Any, b: Any) -> tuple[Any, Any]:
    """``a + b`` for an exact ``a`` and a computed ``b``, as a (value, mag) pair.

    The sum is formed without rounding, so when ``a`` is (or is near) a rounding boundary of the
    target format — a difference of two floats can be a midpoint — the tiny ``b`` still decides
    the direction; only ``b`` carries an error, so ``mag = |b|``. When ``b`` lies entirely below
    the lowest set bit of ``a`` and more than 70 bits below its leading bit, no float format of
    at most 64 significand bits can tell ``b`` from any other number of that sign and size: all
    such values of ``a + b`` fall between the same two neighbouring rounding boundaries. ``b`` is
    then replaced by ``±2**floor`` at that size, which keeps the exact sum short (``b`` may be
    ``exp(-1e300)``).
    """
    mpmath = _mp()
    if not b:
        return a, 0
    if not a:
        return b, abs(b)
    _, _, low_a, bits_a = a._mpf_  # the mantissa is odd: low_a is the lowest set bit's weight
    _, _, low_b, bits_b = b._mpf_
    floor = min(low_a, low_a + bits_a - 70) - 2
    if low_b + bits_b < floor:  # |b| < 2**(low_b + bits_b)
        b = mpmath.ldexp(mpmath.sign(b), floor)
    return mpmath.fadd(a, b, exact=True), abs(b)


def _k_sigmoid(x: Any) -> tuple[Any, Any]:
    mpmath = _mp()
    if mpmath.isnan(x) or mpmath.isinf(x):
        return _exact(x if mpmath.isnan(x) else mpmath.mpf(1 if x > 0 else 0))
    v = 1 / (1 + mpmath.exp(-x))  # positive terms only: relative error a few ulps
    return v, abs(v)


def _k_log_sigmoid(x: Any) -> tuple[Any, Any]:
    mpmath = _mp()
    if mpmath.isnan(x) or mpmath.isinf(x):
        return _exact(x if (mpmath.isnan(x) or x < 0) else mpmath.mpf(0))
    # log σ(x) = -log1p(e^{-x}) = x - log1p(e^{x}); for x < 0 both terms are negative
    if x >= 0:
        return _exact_plus(mpmath.mpf(0), -mpmath.log1p(mpmath.exp(-x)))
    return _exact_plus(x, -mpmath.log1p(mpmath.exp(x)))


def _k_softplus(x: Any) -> tuple[Any, Any]:
    mpmath = _mp()
    if mpmath.isnan(x) or mpmath.isinf(x):
        return _exact(x if (mpmath.isnan(x) or x > 0) else mpmath.mpf(0))
    # log(1 + e^x) = log1p(e^x) = x + log1p(e^{-x}); for x > 0 both terms are positive
    if x <= 0:
        return _exact_plus(mpmath.mpf(0), mpmath.log1p(mpmath.exp(x)))
    return _exact_plus(x, mpmath.log1p(mpmath.exp(-x)))


def _k_logit(p: Any) -> tuple[Any, Any]:
    mpmath = _mp()
    if mpmath.isnan(p) or p < 0 or p > 1:
        return _exact(mpmath.nan)
    if p == 0 or p == 1:
        return _exact(mpmath.inf if p == 1 else -mpmath.inf)
    one_minus_p = mpmath.fsub(1, p, exact=True)
    if 0.25 <= p <= 0.75:
        # near p = 1/2, log(p/(1-p)) would lose digits: log1p((2p - 1)/(1 - p)), 2p - 1 exact
        v = mpmath.log1p(mpmath.fsub(2 * p, 1, exact=True) / one_minus_p)
    else:
        v = mpmath.log(p / one_minus_p)  # |log| >= log 3: well conditioned
    return v, abs(v)


def _k_bce(x: Any, t: Any) -> tuple[Any, Any]:
    """softplus(x) - t x = max(x, 0) - t x + log1p(e^{-|x|}), the linear part exact."""
    mpmath = _mp()
    if mpmath.isnan(x) or mpmath.isnan(t):
        return _exact(mpmath.nan)
    if mpmath.isinf(x):
        # x → +inf: (1 - t) x; x → -inf: -t x = t |x|; the log1p term tends to 0
        weight = mpmath.fsub(1, t, exact=True) if x > 0 else t
        return _exact(mpmath.mpf(0) if weight == 0 else mpmath.inf * mpmath.sign(weight))
    if x >= 0:
        linear = mpmath.fmul(mpmath.fsub(1, t, exact=True), x, exact=True)
        tail = mpmath.log1p(mpmath.exp(-x))
    else:
        linear = mpmath.fmul(-t, x, exact=True)
        tail = mpmath.log1p(mpmath.exp(x))
    return _exact_plus(linear, tail)


def _lse_split(row: list[Any]) -> tuple[str, Any, list[Any], Any]:
    """Split logsumexp(row) = m + log1p(s), s = sum over j != argmax of exp(x_j - m).

    Returns (kind, m, d, L) with kind "nan" (a NaN in the row), "+inf" (a +inf in the row),
    "empty" (all -inf, or no entries) or "finite"; for "finite", ``d`` holds the exact
    differences ``x_j - m`` (-inf for -inf entries) and ``L = log1p(s)``. No term is dropped,
    however small: ``exp(-1e300)`` is cheap in mpmath and decides a rounding direction in
    :func:`_exact_plus`.
    """
    mpmath = _mp()
    if any(mpmath.isnan(v) for v in row):
        return "nan", None, [], None
    if any(mpmath.isinf(v) and v > 0 for v in row):
        return "+inf", None, [], None
    finite = [v for v in row if not mpmath.isinf(v)]
    if not finite:
        return "empty", None, [], None
    m = max(finite)
    k = row.index(m)
    d = [v if mpmath.isinf(v) else mpmath.fsub(v, m, exact=True) for v in row]
    s = mpmath.fsum(mpmath.exp(dj) for j, dj in enumerate(d) if j != k and not mpmath.isinf(dj))
    return "finite", m, d, mpmath.log1p(s)


def _log_softmax_terms(row: list[Any]) -> list[tuple[Any, Any]]:
    """(x_i - m) - log1p(s): the first part exact, both <= 0, so no cancellation."""
    mpmath = _mp()
    kind, _, d, big_l = _lse_split(row)
    if kind != "finite":  # NaN, a +inf (inf - inf) or nothing finite (-inf - -inf)
        return [_exact(mpmath.nan)] * len(row)
    return [_exact(di) if mpmath.isinf(di) else _exact_plus(di, -big_l) for di in d]


def _k_logsumexp_row(row: list[Any]) -> list[tuple[Any, Any]]:
    mpmath = _mp()
    kind, m, _, big_l = _lse_split(row)
    special = {"nan": mpmath.nan, "+inf": mpmath.inf, "empty": -mpmath.inf}
    if kind in special:
        return [_exact(special[kind])]
    return [_exact_plus(m, big_l)]  # m exact: m < 0 cancelling against L > 0 costs nothing


def _k_softmax_row(row: list[Any]) -> list[tuple[Any, Any]]:
    mpmath = _mp()
    kind, _, d, big_l = _lse_split(row)
    if kind != "finite":  # NaN, inf/inf or 0/0
        return [_exact(mpmath.nan)] * len(row)
    out = []
    for di in d:
        value = mpmath.exp(di - big_l)  # e^{d_i} / (1 + s), positive: relative error a few ulps
        out.append((value, abs(value)))
    return out


def _k_cross_entropy_index(row: list[Any], k: list[Any]) -> list[tuple[Any, Any]]:
    """-log_softmax_k = (m - x_k) + log1p(s), the first part exact."""
    mpmath = _mp()
    kind, _, d, big_l = _lse_split(row)
    if kind != "finite":
        return [_exact(mpmath.nan)]
    dk = d[int(k[0])]
    return [_exact(-dk) if mpmath.isinf(dk) else _exact_plus(-dk, big_l)]


def _k_cross_entropy_probs(row: list[Any], target: list[Any]) -> list[tuple[Any, Any]]:
    """sum_i t_i (L - d_i) = (-sum_i t_i d_i) + L sum_i t_i, the first part exact.

    A zero target weight contributes 0 even against a -inf logit (the limit of t log t).
    """
    mpmath = _mp()
    kind, _, d, big_l = _lse_split(row)
    if kind != "finite" or any(mpmath.isnan(t) for t in target):
        return [_exact(mpmath.nan)]
    exact_part, total_weight = mpmath.mpf(0), mpmath.mpf(0)
    for di, t in zip(d, target, strict=True):
        if t == 0:
            continue
        if mpmath.isinf(di):
            return [_exact(mpmath.inf * mpmath.sign(t))]
        exact_part = mpmath.fsub(exact_part, mpmath.fmul(t, di, exact=True), exact=True)
        total_weight = mpmath.fadd(total_weight, t, exact=True)
    return [_exact_plus(exact_part, big_l * total_weight)]


def _weighted_sum(terms: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Sum (value, mag) pairs into one; NaN dominates, +inf + -inf is NaN."""
    mpmath = _mp()
    total, mag = mpmath.mpf(0), mpmath.mpf(0)
    for value, m in terms:
        total += value
        mag += m
    if mpmath.isnan(total):
        return [_exact(mpmath.nan)]
    if mpmath.isinf(total):
        return [_exact(total)]
    return [(total, mag)]


def _k_entropy_row(p: list[Any]) -> list[tuple[Any, Any]]:
    mpmath = _mp()
    terms = []
    for pi in p:
        if mpmath.isnan(pi) or pi < 0:
            return [_exact(mpmath.nan)]
        if pi == 0:
            continue  # 0 log 0 = 0, the limit
        term = -pi * mpmath.log(pi)
        terms.append((term, abs(term)))
    return _weighted_sum(terms)


def _k_kl_row(p: list[Any], q: list[Any]) -> list[tuple[Any, Any]]:
    mpmath = _mp()
    terms = []
    for pi, qi in zip(p, q, strict=True):
        if mpmath.isnan(pi) or mpmath.isnan(qi) or pi < 0 or qi < 0:
            return [_exact(mpmath.nan)]
        if pi == 0:
            continue  # 0 log(0/q) = 0, the limit, also for q = 0
        if qi == 0:
            terms.append(_exact(mpmath.inf))
            continue
        if pi == qi:
            continue  # p log 1 = 0 exactly
        term = pi * mpmath.log(pi / qi)
        # log of a ratio near 1 has an absolute (not relative) error of a few ulps: pi covers it
        terms.append((term, abs(term) + pi))
    return _weighted_sum(terms)


# ---------------------------------------------------------------------------------------------
# public references
# ---------------------------------------------------------------------------------------------

_REF_NOTES = """
    Rounding: inputs are read as exact binary floats (integers become float64); the value is
    evaluated with mpmath at 2p + 32 bits (p = 53, 24 or 11 significand bits), with the precision
    doubled until the error bound proves the rounding, and rounded once — to nearest, ties to
    even — to the input's dtype, subnormal results, overflow to ±inf and exact special values
    included (see the module docstring).
"""


@names_itself
def mp_sigmoid(x: Any) -> np.ndarray:
    r"""Correctly rounded logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`.

    Method: :math:`1/(1 + e^{-x})` in mpmath (all terms positive, no cancellation).
    :math:`\sigma(\pm\infty) = 1, 0`; NaN gives NaN.
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        float16, float32, float64 or integer values.

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``, dtype of ``x`` (float64 for integers).

    Raises
    ------
    TypeError
        If ``x`` is not real numeric.
    """
    return _elementwise(_k_sigmoid, (x, "x"))


@names_itself
def mp_log_sigmoid(x: Any) -> np.ndarray:
    r"""Correctly rounded :math:`\log \sigma(x) = -\log(1 + e^{-x})`.

    Method: :math:`-\operatorname{log1p}(e^{-x})` for :math:`x \ge 0` and
    :math:`x - \operatorname{log1p}(e^{x})` for :math:`x < 0` (terms of one sign).
    :math:`\log\sigma(-\infty) = -\infty`, :math:`\log\sigma(+\infty) = 0`; NaN gives NaN.
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        float16, float32, float64 or integer values.

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``, dtype of ``x`` (float64 for integers).

    Raises
    ------
    TypeError
        If ``x`` is not real numeric.
    """
    return _elementwise(_k_log_sigmoid, (x, "x"))


@names_itself
def mp_softplus(x: Any) -> np.ndarray:
    r"""Correctly rounded softplus :math:`\log(1 + e^{x})`.

    Method: :math:`\operatorname{log1p}(e^{x})` for :math:`x \le 0` and
    :math:`x + \operatorname{log1p}(e^{-x})` for :math:`x > 0`.
    softplus(+inf) = inf, softplus(-inf) = 0; NaN gives NaN.
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        float16, float32, float64 or integer values.

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``, dtype of ``x`` (float64 for integers).

    Raises
    ------
    TypeError
        If ``x`` is not real numeric.
    """
    return _elementwise(_k_softplus, (x, "x"))


@names_itself
def mp_logit(p: Any) -> np.ndarray:
    r"""Correctly rounded logit :math:`\log(p / (1 - p))`, the inverse of the sigmoid.

    Method: :math:`\operatorname{log1p}((2p - 1)/(1 - p))` for :math:`1/4 \le p \le 3/4` (where
    :math:`2p - 1` and :math:`1 - p` are exact, so the small result near :math:`p = 1/2` keeps
    full relative accuracy) and :math:`\log(p/(1 - p))` elsewhere.
    logit(0) = -inf, logit(1) = inf; NaN and values outside [0, 1] give NaN (the reference
    reports the mathematics; the library's own ``logit`` decides whether to raise).
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    p : array_like
        float16, float32, float64 or integer values.

    Returns
    -------
    numpy.ndarray
        Same shape as ``p``, dtype of ``p`` (float64 for integers).

    Raises
    ------
    TypeError
        If ``p`` is not real numeric.
    """
    return _elementwise(_k_logit, (p, "p"))


@names_itself
def mp_binary_cross_entropy_with_logits(logits: Any, targets: Any) -> np.ndarray:
    r"""Correctly rounded elementwise BCE with logits, :math:`\operatorname{softplus}(z) - y z`.

    The negative log-likelihood of :math:`y` under a Bernoulli with logit :math:`z`,
    :math:`-y \log\sigma(z) - (1 - y)\log(1 - \sigma(z))`, with reduction "none".

    Method: :math:`(1 - y) z + \operatorname{log1p}(e^{-z})` for :math:`z \ge 0` and
    :math:`-y z + \operatorname{log1p}(e^{z})` for :math:`z < 0`, the linear part exact. At
    :math:`z = \pm\infty` the limit: 0 when the target agrees (:math:`y = 1` at
    :math:`+\infty`, :math:`y = 0` at :math:`-\infty`), else inf. Targets outside [0, 1] are
    evaluated by the same formula (no error is raised here).
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    logits, targets : array_like
        Real values of broadcastable shapes; the result has their common float dtype.

    Returns
    -------
    numpy.ndarray
        The broadcast shape.

    Raises
    ------
    TypeError
        If an input is not real numeric.
    ValueError
        If the shapes do not broadcast.
    """
    return _elementwise(_k_bce, (logits, "logits"), (targets, "targets"))


@names_itself
def mp_logsumexp(x: Any, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    r"""Correctly rounded :math:`\log \sum_i e^{x_i}` along ``axis``.

    Method: :math:`m + \operatorname{log1p}(\sum_{j \ne k} e^{x_j - m})` with
    :math:`m = x_k = \max_i x_i`, the differences exact, and :math:`m` added to the logarithm
    without rounding, so the cancellation where :math:`m < 0` costs nothing (the result near 0
    keeps its relative accuracy). Special values: a NaN gives NaN, a +inf gives inf, all -inf
    (or an empty axis) gives -inf.
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        Real values, at least one dimension.
    axis : int, optional
        The axis to reduce, default the last.
    keepdims : bool, optional
        Keep the reduced axis with length 1.

    Returns
    -------
    numpy.ndarray
        ``x``'s shape without ``axis`` (or with length 1 there), ``x``'s dtype.

    Raises
    ------
    TypeError
        If ``x`` is not real numeric or ``axis`` is not an integer.
    ValueError
        If ``x`` is a scalar or ``axis`` is out of range.
    """
    arr = _float_array(x, "x")
    rows, axis = _rows(arr, axis, "x")
    out = _along_rows(_k_logsumexp_row, [rows], arr.dtype, keep_length=False)
    return np.expand_dims(out, axis) if keepdims else out


@names_itself
def mp_softmax(x: Any, axis: int = -1) -> np.ndarray:
    r"""Correctly rounded softmax :math:`e^{x_i} / \sum_j e^{x_j}` along ``axis``.

    Method: :math:`e^{x_i - m} / (1 + s)` with :math:`m = \max_j x_j` and
    :math:`s = \sum_{j \ne k} e^{x_j - m}` (positive terms only). A -inf entry gives 0; a row with
    a NaN, a +inf (inf/inf) or only -inf entries (0/0) gives NaN throughout.
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        Real values, at least one dimension.
    axis : int, optional
        The axis along which the result sums to 1, default the last.

    Returns
    -------
    numpy.ndarray
        ``x``'s shape and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not real numeric or ``axis`` is not an integer.
    ValueError
        If ``x`` is a scalar or ``axis`` is out of range.
    """
    arr = _float_array(x, "x")
    rows, axis = _rows(arr, axis, "x")
    out = _along_rows(_k_softmax_row, [rows], arr.dtype, keep_length=True)
    return np.moveaxis(out, -1, axis)


@names_itself
def mp_log_softmax(x: Any, axis: int = -1) -> np.ndarray:
    r"""Correctly rounded log-softmax, :math:`x_i - \operatorname{logsumexp}(x)`.

    Method: :math:`(x_i - m) - \operatorname{log1p}(s)` with :math:`m = \max_j x_j` and
    :math:`s = \sum_{j \ne k} e^{x_j - m}`; both parts are :math:`\le 0`, so there is no
    cancellation, and the tiny values where the top logit leads by far (about :math:`-e^{-d}`
    for a lead :math:`d`) keep full relative accuracy. A -inf entry gives -inf; a row with a NaN,
    a +inf or only -inf entries gives NaN throughout.
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        Real values, at least one dimension.
    axis : int, optional
        The class axis, default the last.

    Returns
    -------
    numpy.ndarray
        ``x``'s shape and dtype.

    Raises
    ------
    TypeError
        If ``x`` is not real numeric or ``axis`` is not an integer.
    ValueError
        If ``x`` is a scalar or ``axis`` is out of range.
    """
    arr = _float_array(x, "x")
    rows, axis = _rows(arr, axis, "x")
    out = _along_rows(_log_softmax_terms, [rows], arr.dtype, keep_length=True)
    return np.moveaxis(out, -1, axis)


def _cross_entropy_targets(logits: Any, target: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """mp_cross_entropy's inputs checked: logits with a class axis, and integer class indices
    of shape ``logits.shape[:-1]`` in range, or probabilities of the logits' shape."""
    z = _float_array(logits, "logits")
    if z.ndim == 0:
        raise ValueError("logits must have at least one dimension (the class axis), got a scalar")
    t = np.asarray(target)
    n_classes = z.shape[-1]
    if t.dtype.kind in "iu":
        if t.shape != z.shape[:-1]:
            raise ValueError(
                f"integer target must have shape logits.shape[:-1] = {z.shape[:-1]}, got {t.shape}"
            )
        bad = (t < 0) | (t >= n_classes)
        if np.any(bad):
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"target {int(t[index])} at index {index} is out of range [0, {n_classes})"
            )
        return z, t, z.dtype
    t = _float_array(t, "target")
    if t.shape != z.shape:
        raise ValueError(
            f"target must be integer class indices of shape {z.shape[:-1]} or probabilities "
            f"of shape {z.shape}, got dtype {t.dtype} and shape {t.shape}"
        )
    return z, t, _result_dtype(z, t)


@names_itself
def mp_cross_entropy(logits: Any, target: Any) -> np.ndarray:
    r"""Correctly rounded cross-entropy of each row of logits, reduction "none".

    With class indices :math:`k`: :math:`-\log\operatorname{softmax}(z)_k`. With probabilities
    :math:`t` (same shape as the logits): :math:`-\sum_i t_i \log\operatorname{softmax}(z)_i`,
    where a zero weight contributes 0 even against a -inf logit (the limit of
    :math:`t \log q` as :math:`t \to 0`). The class axis is the last.

    Method: :math:`(m - z_k) + \operatorname{log1p}(s)`, respectively
    :math:`-\sum_i t_i (z_i - m) + \operatorname{log1p}(s) \sum_i t_i`, with
    :math:`m = \max_j z_j` and :math:`s = \sum_{j \ne \arg\max} e^{z_j - m}`: the first part
    exact, only the logarithm rounded.
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    logits : array_like
        Real values of shape ``(..., C)``.
    target : array_like
        Integer class indices of shape ``logits.shape[:-1]`` with values in ``[0, C)``, or real
        probabilities of shape ``logits.shape``.

    Returns
    -------
    numpy.ndarray
        Shape ``logits.shape[:-1]``, the logits' dtype (the common float dtype for
        probabilities).

    Raises
    ------
    TypeError
        If the logits are not real numeric or the target is neither integer nor float.
    ValueError
        If the logits are a scalar, the target's shape fits neither form, or an index is out of
        range.
    """
    z, t, dtype = _cross_entropy_targets(logits, target)
    if t.dtype.kind in "iu":  # -log softmax(z)_k
        return _along_rows(_k_cross_entropy_index, [z, t[..., None]], dtype, keep_length=False)
    return _along_rows(_k_cross_entropy_probs, [z, t], dtype, keep_length=False)  # -sum t log s


@names_itself
def mp_entropy(p: Any, axis: int = -1) -> np.ndarray:
    r"""Correctly rounded Shannon entropy in nats, :math:`H(p) = -\sum_i p_i \log p_i`.

    Method: the terms :math:`-p_i \log p_i \ge 0` summed at high precision, with
    :math:`0 \log 0 = 0`. Any NaN or negative entry gives NaN. The entries are not required to
    sum to 1 (the reference reports the formula).
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    p : array_like
        Real values, at least one dimension.
    axis : int, optional
        The axis of the distribution, default the last.

    Returns
    -------
    numpy.ndarray
        ``p``'s shape without ``axis``, ``p``'s dtype.

    Raises
    ------
    TypeError
        If ``p`` is not real numeric or ``axis`` is not an integer.
    ValueError
        If ``p`` is a scalar or ``axis`` is out of range.
    """
    arr = _float_array(p, "p")
    rows, _ = _rows(arr, axis, "p")
    return _along_rows(_k_entropy_row, [rows], arr.dtype, keep_length=False)


@names_itself
def mp_kl_divergence(p: Any, q: Any, axis: int = -1) -> np.ndarray:
    r"""Correctly rounded Kullback–Leibler divergence in nats, :math:`\sum_i p_i \log(p_i/q_i)`.

    KL(p‖q). Method: the terms summed at high precision; they have both signs, so near
    :math:`p = q` the sum cancels, and the error bound (which counts :math:`p_i` for each
    logarithm of a ratio near 1) makes the precision rise until the rounding is decided.
    :math:`0 \log(0/q) = 0` (also for :math:`q = 0`); :math:`p_i > 0 = q_i` gives inf; any NaN
    or negative entry gives NaN.
    {notes}
    Used in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    p, q : array_like
        Real values of broadcastable shapes, at least one dimension.
    axis : int, optional
        The axis of the distributions, default the last.

    Returns
    -------
    numpy.ndarray
        The broadcast shape without ``axis``, the common float dtype.

    Raises
    ------
    TypeError
        If an input is not real numeric or ``axis`` is not an integer.
    ValueError
        If the shapes do not broadcast, the inputs are scalars or ``axis`` is out of range.
    """
    p_arr, q_arr = _float_array(p, "p"), _float_array(q, "q")
    dtype = _result_dtype(p_arr, q_arr)
    p_arr, q_arr = broadcast_pair(p_arr, q_arr, "p", "q")
    p_rows, _ = _rows(p_arr, axis, "p")
    q_rows, _ = _rows(q_arr, axis, "q")
    return _along_rows(_k_kl_row, [p_rows, q_rows], dtype, keep_length=False)


for _ref in (
    mp_sigmoid,
    mp_log_sigmoid,
    mp_softplus,
    mp_logit,
    mp_binary_cross_entropy_with_logits,
    mp_logsumexp,
    mp_softmax,
    mp_log_softmax,
    mp_cross_entropy,
    mp_entropy,
    mp_kl_divergence,
):
    if _ref.__doc__:  # None under python -OO
        _ref.__doc__ = _ref.__doc__.replace("    {notes}\n", _REF_NOTES + "\n")
del _ref
