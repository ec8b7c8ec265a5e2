r"""Numerically stable primitives: sigmoid, its logarithm, softplus, logit, log-sum-exp, softmax.

Derived in :ref:`chapter-sigmoid-logistic-regression`, :ref:`chapter-softmax-multiclass` and
:ref:`chapter-numerical-stability`.

Conventions shared by every function here:

* Inputs are array-likes. float32 and float64 are preserved (float16 becomes float32); bool and
  integer inputs become float64; any other dtype raises ``TypeError`` naming the argument.
  float32 inputs are evaluated in float64 and rounded once, so their results are (almost always)
  correctly rounded.
* A 0-d input (a Python or numpy scalar) gives a numpy scalar.
* NaN in gives NaN out (no exception): these are primitives, and NaN is the IEEE answer to a
  NaN question. ±inf follow the mathematics (``softplus(inf) == inf``,
  ``log_sigmoid(-inf) == -inf``, ``logsumexp`` of an all ``-inf`` row is ``-inf``).
* The work is done in cache-sized blocks with ``out=`` arguments, so that the several passes of
  a stable formula stay in cache rather than streaming the whole array through memory each time.
  An array of at most one block (a scalar, a minibatch) skips the blocking machinery, so a call
  costs a few microseconds more than its ufuncs.
* Rare fix-ups (an overflow, an out-of-range probability) are triggered by the floating-point
  exception flags the hardware raises anyway (an ``np.errstate`` callback), not by extra passes.

Accuracy (float64; float32 in brackets), measured against correctly rounded mpmath references
(:mod:`nllkit.checking`) by ``tests/test_accuracy.py``: softplus and log_sigmoid ≤ 1 ULP (≤ 2),
sigmoid ≤ 2 (≤ 3) including subnormal results, logit ≤ 4 (≤ 4), logsumexp ≤ 3 (≤ 8) and
log_softmax ≤ 4 (≤ 8), including rows whose top logit leads by hundreds — up to the leads
beyond 708 where the tail of the softmax is a sum of subnormal numbers, which is then summed
scaled by :math:`2^{1010}` and rounded once. The rare rows that need more than float64 (those
subnormal tails, and log-sum-exp results that cancel) use double-double arithmetic built from
float64 ``+``, ``-``, ``*`` alone (:mod:`nllkit._accurate`), never ``np.longdouble`` (which is
float64 on ARM macOS and Windows), so these bounds are the same on every IEEE-754 machine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._accurate import dd_add_d, dd_sum, exp_dd, exp_parts, log1p_dd, two_sum
from ._validation import as_float_array, normalise_axis, scalar_or_array

__all__ = [
    "log_sigmoid",
    "log_softmax",
    "logit",
    "logsumexp",
    "sigmoid",
    "softmax",
    "softplus",
]

#: Elements per block of the elementwise functions and of the row-wise functions: two float64
#: blocks of this size stay in a core's L2 cache while several passes run over them.
_BLOCK = 1 << 15
_ROW_BLOCK = 1 << 16

#: exp(x) overflows float64 above this value.
_EXP_OVERFLOW = 709.782712893384

#: A row tail :math:`\sum_{j \ne j^*} e^{z_j - m}` below this may be made of terms that underflowed
#: into the subnormal range (where ``exp`` keeps a few bits, or none): such rows are re-summed
#: in double-double with every term scaled by :math:`2^{1010}` (:func:`_scaled_tail`). A
#: larger tail has an ULP of at least :math:`2^{-1015}`, while each subnormal term loses at
#: most :math:`2^{-1075}`, so even :math:`k` such terms cost only :math:`k\cdot 2^{-60}` of
#: its ULP.
_TINY_TAIL = 1e-290
#: :func:`_scaled_tail` sums the tiny terms multiplied by :math:`2^{1010}` (exact), so that
#: they are normal numbers.
_SUM_SCALE = 1010


class _Flags:
    """An ``np.errstate`` callback that records which floating-point exceptions happened:
    ``overflow``, or ``invalid`` (an invalid operation such as :math:`\\infty/\\infty` or the
    logarithm of a negative number).

    Lets the fast path stay free of extra passes: a rare fix-up or check runs only when the
    hardware said the exception occurred.
    """

    def __init__(self) -> None:
        self.overflow = False
        self.invalid = False

    def __call__(self, kind: str, flag: int) -> None:
        if kind.startswith("overflow"):
            self.overflow = True
        else:
            self.invalid = True

    @property
    def hit(self) -> bool:
        return self.overflow or self.invalid


def _elementwise(
    x: Any,
    name: str,
    func: str,
    kernel: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
    watch: bool = True,
) -> tuple[np.ndarray, np.ndarray, Any, _Flags]:
    """Run ``kernel(x_block, out_block, tmp_block)`` over float64 blocks of ``x``.

    Returns ``(x64, out64, meta, flags)``: the float64 input and output (flattened; or, for an
    array of at most one block, in its own shape, and ``x64`` may then be the caller's array,
    so it is read-only here), what :func:`_finish` needs, and (if ``watch``) whether an
    overflow or invalid operation happened, for the caller's fix-up. One block (the common
    small batch) runs the kernel once, without the loop; ``watch=False`` saves the callback
    where no fix-up exists.
    """
    arr = as_float_array(x, name, func)
    flags = _Flags()
    state = (
        np.errstate(all="ignore", over="call", invalid="call", call=flags)
        if watch
        else np.errstate(all="ignore")
    )
    if arr.size <= _BLOCK:  # one block: no flattening, no loop, no slicing
        x64 = arr if arr.dtype == np.float64 else arr.astype(np.float64)
        out = np.empty(x64.shape)
        with state:
            kernel(x64, out, np.empty(x64.shape))
        return x64, out, (arr.dtype, None), flags
    x64 = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    n = x64.size
    out = np.empty_like(x64)
    tmp = np.empty(_BLOCK)
    with state:
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            kernel(x64[start:stop], out[start:stop], tmp[: stop - start])
    return x64, out, (arr.dtype, arr.shape), flags


def _finish(out: np.ndarray, meta: tuple[np.dtype, tuple[int, ...] | None]) -> Any:
    """``out`` in the caller's shape (``None``: it has it already) and dtype; 0-d as a scalar."""
    dtype, shape = meta
    if shape is not None:
        out = out.reshape(shape)
    if dtype != np.float64:
        out = out.astype(dtype)
    return out[()] if out.ndim == 0 else out


def _sigmoid_kernel(x: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    np.exp(x, out=out)  # E = e^x
    np.add(out, 1.0, out=tmp)
    np.divide(out, tmp, out=out)  # E / (1 + E)


def sigmoid(x: Any) -> Any:
    r"""The logistic sigmoid :math:`\sigma(x) = 1/(1 + e^{-x}) = e^x/(1 + e^x)`.

    Derived in :ref:`chapter-sigmoid-logistic-regression`.

    Parameters
    ----------
    x : array_like
        Real numbers (logits). float32/float64 preserved, integers and bools become float64.

    Returns
    -------
    numpy.ndarray or numpy scalar
        :math:`\sigma(x)` in [0, 1], same shape and float dtype as ``x``.

    Raises
    ------
    TypeError
        If ``x`` is complex, object, string or another non-real dtype.

    Notes
    -----
    Evaluated as :math:`E/(1 + E)` with :math:`E = e^x`. For :math:`x < 0` the quotient of two
    numbers near :math:`E` keeps full *relative* accuracy down to the subnormal results
    (:math:`\sigma(-740) \approx 4\cdot 10^{-322}`), where :math:`1/(1+e^{-x})` would overflow
    :math:`e^{-x}` and return 0. For :math:`x > 0` the relative error of :math:`E` is damped by
    the factor :math:`1/(1+E)`. Where :math:`e^x` overflows (:math:`x > 709.78`, including
    :math:`x = \infty`) the result is 1, set in a fix-up that runs only when the hardware raised
    the overflow or invalid flag. Error: a few roundings,
    ≤ 2 ULP in float64; float32 inputs are evaluated in float64.
    """
    x64, out, meta, flag = _elementwise(x, "x", "sigmoid", _sigmoid_kernel)
    if flag.hit:
        out[x64 > _EXP_OVERFLOW] = 1.0
    return _finish(out, meta)


def _log1p_exp_neg_abs(x: np.ndarray, tmp: np.ndarray) -> None:
    """tmp = log1p(exp(-|x|)), the bounded correction term of softplus, in (0, log 2]."""
    np.negative(x, out=tmp)
    np.minimum(x, tmp, out=tmp)  # -|x| (two cheap passes: np.copysign is not vectorised)
    np.exp(tmp, out=tmp)
    np.log1p(tmp, out=tmp)


def _softplus_kernel(x: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    _log1p_exp_neg_abs(x, tmp)
    np.maximum(x, 0.0, out=out)
    np.add(out, tmp, out=out)


def _log_sigmoid_kernel(x: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    _log1p_exp_neg_abs(x, tmp)
    np.minimum(x, 0.0, out=out)
    np.subtract(out, tmp, out=out)


_SPLIT_NOTES = r"""
    Uses the split :math:`\log(1 + e^{x}) = \max(x, 0) + \operatorname{log1p}(e^{-|x|})`. The
    argument of ``exp`` is never positive, so nothing overflows; the correction term
    :math:`c = \operatorname{log1p}(e^{-|x|}) \in (0, \log 2]` is evaluated by ``log1p``, which
    keeps full relative accuracy when :math:`e^{-|x|}` is tiny (the far tail, where
    :math:`\log(1 + e^{x})` would round to 0 or to :math:`x`). For :math:`x \le 0` the result
    *is* :math:`c`, whose relative error is that of ``log1p`` plus the error of ``exp`` damped by
    :math:`u/((1+u)\operatorname{log1p}(u)) \le 1`; for :math:`x > 0` the result is
    :math:`x + c` with both terms non-negative, so the addition cannot cancel. Measured
    ≤ 1 ULP in float64 against the correctly rounded value (``tests/test_accuracy.py``);
    float32 inputs are evaluated in float64 and rounded once.
"""


def softplus(x: Any) -> Any:
    r"""Softplus :math:`\operatorname{softplus}(x) = \log(1 + e^{x})`.

    Derived in :ref:`chapter-sigmoid-logistic-regression` (it is the logistic loss of a
    negative example) and made stable in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        Real numbers. float32/float64 preserved, integers and bools become float64.

    Returns
    -------
    numpy.ndarray or numpy scalar
        :math:`\log(1 + e^x) > 0`, same shape and float dtype as ``x``;
        ``softplus(inf) == inf``, ``softplus(-inf) == 0``.

    Raises
    ------
    TypeError
        If ``x`` has a non-real dtype.

    Notes
    -----
    Unlike ``torch.nn.functional.softplus``, there is no threshold above which ``x`` is returned
    unchanged. torch's default threshold 20 drops the term :math:`\log(1 + e^{-x}) \approx
    e^{-x}`, which is at least half an ULP of :math:`x` for :math:`20 < x < 33.27`
    (:math:`e^{-33.27} = 2^{-48}`, half an ULP of numbers in [32, 64)): torch is off there by
    up to :math:`e^{-20}/2^{-48} \approx 5.8\cdot 10^5` ULP, just above 20, and by at least
    1 ULP (measured in ``tests/test_promises.py``).
    """
    _, out, meta, _ = _elementwise(x, "x", "softplus", _softplus_kernel, watch=False)
    return _finish(out, meta)


softplus.__doc__ = (softplus.__doc__ or "") + _SPLIT_NOTES


def log_sigmoid(x: Any) -> Any:
    r"""Log of the sigmoid, :math:`\log\sigma(x) = -\operatorname{softplus}(-x)`.

    Derived in :ref:`chapter-sigmoid-logistic-regression` (the log-likelihood of a positive
    example) and made stable in :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        Real numbers. float32/float64 preserved, integers and bools become float64.

    Returns
    -------
    numpy.ndarray or numpy scalar
        :math:`\log\sigma(x) \le 0`, same shape and float dtype as ``x``;
        ``log_sigmoid(-inf) == -inf``, ``log_sigmoid(inf) == 0``.

    Raises
    ------
    TypeError
        If ``x`` has a non-real dtype.

    Notes
    -----
    Computed as :math:`\min(x, 0) - \operatorname{log1p}(e^{-|x|})`, the mirror image of
    :func:`softplus`.
    """
    _, out, meta, _ = _elementwise(x, "x", "log_sigmoid", _log_sigmoid_kernel, watch=False)
    return _finish(out, meta)


log_sigmoid.__doc__ = (log_sigmoid.__doc__ or "") + _SPLIT_NOTES


def _logit_kernel(p: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    np.subtract(1.0, p, out=tmp)  # 1 - p, exact for p >= 1/2
    np.minimum(p, tmp, out=tmp)  # q = min(p, 1 - p), exact
    np.add(tmp, tmp, out=out)  # 2q, exact
    np.subtract(1.0, out, out=out)  # 1 - 2q, exact for q >= 1/4
    np.divide(out, tmp, out=out)  # v = (1 - 2q)/q
    np.log1p(out, out=out)  # |logit p| = log1p(v)
    np.subtract(p, 0.5, out=tmp)
    np.copysign(out, tmp, out=out)


def logit(p: Any) -> Any:
    r"""The logit, inverse of the sigmoid: :math:`\operatorname{logit}(p) = \log\frac{p}{1-p}`.

    Derived in :ref:`chapter-sigmoid-logistic-regression` (the log-odds).

    Parameters
    ----------
    p : array_like
        Probabilities in [0, 1]. float32/float64 preserved, integers and bools become float64.

    Returns
    -------
    numpy.ndarray or numpy scalar
        Log-odds, same shape and float dtype as ``p``; ``logit(0) == -inf``,
        ``logit(1) == inf``, NaN where ``p`` is NaN.

    Raises
    ------
    TypeError
        If ``p`` has a non-real dtype.
    ValueError
        If an element of ``p`` lies outside [0, 1] (the message gives its index and value).

    Notes
    -----
    With :math:`q = \min(p, 1 - p)` (exact: :math:`1 - p` is exact for :math:`p \ge 1/2` by
    Sterbenz's lemma), :math:`|\operatorname{logit} p| = \operatorname{log1p}((1 - 2q)/q)` and
    the sign is that of :math:`p - 1/2`. Near :math:`p = 1/2`, where the naive
    :math:`\log(p/(1-p))` loses relative accuracy (its argument is within rounding of 1),
    :math:`1 - 2q` is exact and ``log1p`` is accurate for small arguments. Each step is one
    rounding whose effect is damped by the condition number of ``log1p`` (≤ 1 here), so the error
    stays within a few ULP. For subnormal :math:`q`, where :math:`1/q` overflows, a fix-up
    evaluates :math:`\log q - \operatorname{log1p}(-q)` instead.

    A :math:`p` outside [0, 1] makes :math:`(1 - 2q)/q < -1` (or NaN), so ``log1p`` raises the
    invalid-operation flag; only then are the results scanned for the offending index, so valid
    input pays no extra pass for the check. (``-0.0`` is 0, whose logit is ``-inf``.)

    The naive :math:`\log(p/(1-p))` (torch's formula) costs one division and one ``log``, but
    it rounds :math:`1 - p` and the quotient, which is near 1, to an absolute
    :math:`2^{-53}` each, while the result :math:`\approx 4(p - 1/2)` is small: it is off by
    up to about :math:`1/(2|p - 1/2|)` ULP (:math:`10^6` ULP at :math:`|p - 1/2| = 5\cdot
    10^{-7}`, every digit as :math:`p \to 1/2`; measured in ``tests/test_promises.py``).
    This method costs about twice as much (a ``log1p`` and five cheap passes), measured
    2.2–2.5× ``torch.logit`` on uniform :math:`p`. Evaluating the naive formula everywhere
    and redoing only the band where it is inaccurate is no faster in numpy: that band holds
    about a third of a uniform sample, and gathering and scattering it costs more than the
    passes it saves.
    """
    x64, out, meta, flags = _elementwise(p, "p", "logit", _logit_kernel)
    if flags.overflow:  # 1/q overflowed: q is subnormal, so log(q) - log1p(-q) is accurate
        q = np.minimum(x64, 1.0 - x64)
        tiny = (q > 0) & (q < 1e-300)
        with np.errstate(all="ignore"):
            fixed = np.log(q[tiny]) - np.log1p(-q[tiny])
        out[tiny] = np.copysign(fixed, x64[tiny] - 0.5)
    if flags.invalid:  # log1p of a number below -1: some p is outside [0, 1] (or is -0.0)
        out[x64 == 0] = -np.inf  # -0.0 is 0: q = -0.0 made (1 - 2q)/q = -inf
        bad = np.isnan(out) & ~np.isnan(x64)
        if bad.any():
            i = int(np.argmax(bad))
            shape = x64.shape if meta[1] is None else meta[1]
            idx = [int(j) for j in np.unravel_index(i, shape)]
            raise ValueError(
                f"logit: p{idx} = {float(x64.reshape(-1)[i])!r} is outside [0, 1]; "
                f"expected probabilities in [0, 1]"
            )
    return _finish(out, meta)


# --------------------------------------------------------------------------------------------
# Functions along an axis


def _rows(x: Any, axis: int, func: str) -> tuple[np.ndarray, np.ndarray, int]:
    """``x`` as a C-contiguous float64 2-D array of rows along ``axis``.

    Returns ``(arr, rows, axis)``: the checked input (original dtype), the rows and the
    normalised axis.
    """
    arr = as_float_array(x, "x", func)
    ax = normalise_axis(axis, arr.ndim, func)
    moved = np.moveaxis(arr, ax, -1)
    n = int(np.prod(moved.shape[:-1], dtype=np.int64))
    rows = np.ascontiguousarray(moved, dtype=np.float64).reshape(n, arr.shape[ax])
    return arr, rows, ax


def _rows_per_block(k: int) -> int:
    return max(1, _ROW_BLOCK // max(k, 1))


def _row_max(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(idx, m)``: the (first) argmax of every row and the maximum itself.

    ``argmax`` treats NaN as the largest value, so a row containing NaN gets NaN as its maximum
    and stays NaN throughout.
    """
    idx = rows.argmax(axis=1)
    return idx, rows[np.arange(rows.shape[0]), idx]


def _tail_correction(
    b: np.ndarray, m: np.ndarray, d: np.ndarray, e: np.ndarray, w: np.ndarray, v: np.ndarray
) -> np.ndarray:
    """:math:`\\sum_j e^{d_j}\\delta_j`, the first-order correction of the tail for the rounding
    of :math:`d_j = \\mathrm{fl}(z_j - m)`.

    :math:`d_j` is off by up to half an ULP of :math:`|d_j|` in absolute terms, which becomes a
    *relative* error of :math:`e^{d_j}` of about :math:`|d_j|/2` ULP — hundreds of ULP when the
    top logit leads by hundreds. Knuth's TwoSum recovers the exact rounding error
    :math:`\\delta_j = (z_j - m) - d_j` in five passes, and
    :math:`e^{d_j + \\delta_j} = e^{d_j}(1 + \\delta_j)` to within :math:`\\delta_j^2`
    (:math:`|\\delta_j| < 10^{-13}`). ``w`` and ``v`` are scratch blocks shaped like ``b``; ``w``
    is left holding the terms :math:`e^{d_j}\\delta_j`.
    """
    np.subtract(d, b, out=w)  # bb = d - z
    np.subtract(d, w, out=v)  # d - bb
    np.subtract(b, v, out=v)  # z - (d - bb)
    np.subtract(-m[:, None], w, out=w)  # -m - bb
    np.add(v, w, out=w)  # delta, exact
    np.multiply(w, e, out=w)  # e_j * delta_j, left in w for softmax
    corr = w.sum(axis=1)
    bad = np.isnan(corr)  # a -inf logit gives delta = NaN where e = 0
    if bad.any():
        w[bad] = np.where(e[bad] > 0, w[bad], 0.0)
        corr[bad] = w[bad].sum(axis=1)
    return corr


def _shifted_exp_tail(
    b: np.ndarray,
    idx: np.ndarray,
    m: np.ndarray,
    d: np.ndarray,
    e: np.ndarray,
    work: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The max-shift of one block of rows ``b`` whose argmax is ``idx`` and maximum ``m``.

    Writes :math:`d_j = z_j - m` into ``d`` and :math:`e^{d_j}` into ``e`` (``d`` and ``e`` may be
    the same array only without ``work``), with the entry at ``idx`` set to 0, and returns the
    tail :math:`\\sum_{j \\ne j^*} e^{z_j - m}` of every row. With ``work`` (two scratch
    blocks) the tail includes :func:`_tail_correction`, so that
    :math:`\\operatorname{log1p}` of it — minus the top class's log-probability — is accurate to a
    few ULP however large the lead.
    """
    np.subtract(b, m[:, None], out=d)
    np.exp(d, out=e)
    e[np.arange(b.shape[0]), idx] = 0.0
    tail = e.sum(axis=1)
    if work is not None:
        tail += _tail_correction(b, m, d, e, *work)
    tiny = tail < _TINY_TAIL  # one pass over the rows, not the entries: free when none is
    tiny &= np.isfinite(m)  # a +inf maximum gives a tail of 0 (its rows end as inf/NaN)
    if b.shape[1] > 1 and tiny.any():
        tail[tiny] = _scaled_tail(b[tiny], idx[tiny], m[tiny])
    return tail


def _dd_shifts(b: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:math:`z_j - m` of every entry as a double-double ``(dh, dl)``, exact (:func:`two_sum`),
    and the mask of ``-inf`` logits, whose terms :math:`e^{z_j - m}` the callers set to 0.

    Shifts below -1500 (all of whose exponentials are far below anything that can change a
    result) are clamped there, so that :func:`exp_parts` sees bounded arguments."""
    ninf = b == -np.inf
    dh, dl = two_sum(b, -m[:, None])
    low = ninf | (dh < -1500.0)
    dh[low] = -1500.0
    dl[low] = 0.0
    return dh, dl, ninf


def _scaled_tail(b: np.ndarray, idx: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The tail :math:`\\sum_{j \\ne j^*} e^{z_j - m}` of rows where it is tiny, rounded once.

    Below :math:`e^{-708.4}` the terms :math:`e^{d_j}` are subnormal and ``exp`` rounds them to
    a multiple of the smallest subnormal :math:`2^{-1074}`: a relative error of up to 100 %
    each, so a sum of a thousand of them is off by hundreds of ULP (of a subnormal result).
    Here every term is computed in double-double arithmetic (:mod:`nllkit._accurate`) from
    the exact shift :math:`z_j - m` (TwoSum) as :math:`2^{q_j} m_j` with
    :math:`m_j \\in (0.9996, 2.0007)` (:func:`exp_parts`), and the power of two is raised by 1010
    before it is applied. The callers only send rows whose tail is below
    :data:`_TINY_TAIL`, so every non-leading term is below :math:`2^{-962}` and its scaled
    value below :math:`2^{48}`, a normal number (terms below :math:`2^{-2000}`, which can no
    longer change the result, may underflow). The scaled terms, all positive, are summed in
    double-double (relative error below :math:`2^{-90}`) and the sum :math:`S_h + S_l` is
    scaled back by :math:`2^{-1010}` with one correct rounding: ``ldexp`` rounds :math:`S_h`
    into the subnormal range, and the exact remainder :math:`S_h - 2^{1010}r` plus
    :math:`S_l` decides whether the nearest subnormal is the neighbour instead. So the result
    is the correctly rounded tail, on every IEEE machine, unless the tail lies within
    :math:`2^{-90}` (relative) of a rounding boundary; then it may be the other neighbour,
    1 ULP off. Rows are processed in cache-sized blocks.
    """
    step = _rows_per_block(b.shape[1])  # blocks that stay in cache, as elsewhere
    if b.shape[0] > step:
        parts = range(0, b.shape[0], step)
        return np.concatenate(
            [_scaled_tail(b[s : s + step], idx[s : s + step], m[s : s + step]) for s in parts]
        )
    dh, dl, ninf = _dd_shifts(b, m)
    th, tl, q = exp_parts(dh, dl)
    q += _SUM_SCALE
    th, tl = np.ldexp(th, q), np.ldexp(tl, q)
    drop = ninf.copy()
    drop[np.arange(b.shape[0]), idx] = True
    th[drop] = 0.0
    tl[drop] = 0.0
    sh, sl = dd_sum(th, tl)
    r = np.ldexp(sh, -_SUM_SCALE)  # exact unless r is subnormal: then the one rounding
    rem = (sh - np.ldexp(r, _SUM_SCALE)) + sl  # the first difference is exact (Sterbenz)
    half_gap = 2.0 ** (-1075 + _SUM_SCALE)  # half a subnormal ULP, at the scale of S
    step = np.where(np.abs(rem) > half_gap, np.sign(rem), 0.0)
    sub = r < np.finfo(np.float64).smallest_normal
    r[sub] += step[sub] * np.finfo(np.float64).smallest_subnormal
    return r


def _row_blocks(n: int, k: int, compensate: bool) -> tuple[int, np.ndarray, Any]:
    """Rows per block, an exp scratch block and (if ``compensate``) two more scratch blocks."""
    step = _rows_per_block(k)
    shape = (min(step, n), k)
    work = (np.empty(shape), np.empty(shape)) if compensate else None
    return step, np.empty(shape), work


def _weighted_gaps(weights: np.ndarray, d: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """:math:`\\sum_j w_j (m - z_j)` of every row, from the shifts ``d`` :math:`= z - m`.

    A weight 0 on a ``-inf`` logit contributes 0 (:math:`0\\cdot\\infty = 0`, the limit of
    :math:`p\\log p`); such rows show up as NaN sums and are redone with that convention.
    """
    np.multiply(weights, d, out=buf)
    out = -buf.sum(axis=1)
    bad = np.isnan(out)
    if bad.any():
        out[bad] = -np.where(weights[bad] > 0, buf[bad], 0.0).sum(axis=1)
    return out


def _log_partition(
    rows: np.ndarray, *, compensate: bool = False, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(idx, m, L, G)`` of every row of ``rows`` (float64, shape ``(n, k)``, ``k >= 1``).

    ``idx`` is the (first) argmax, ``m`` the maximum and
    :math:`L = \\operatorname{log1p}(\\sum_{j \\ne j^*} e^{z_j - m})`, so that
    :math:`\\operatorname{LSE}(z) = m + L` and
    :math:`\\log\\operatorname{softmax}(z) = (z - m) - L`. With ``compensate`` the tail
    includes :func:`_tail_correction`, as the top class's log-probability :math:`-L` needs
    (:math:`m + L` does not, see :func:`logsumexp`). With ``weights`` (shape ``(n, k)``),
    :math:`G = \\sum_j w_j (m - z_j)` is computed block by block while the shifts are in cache
    (for cross-entropy with probability targets); otherwise ``G`` is None.
    """
    n, k = rows.shape
    idx, m = _row_max(rows)
    # the shifts need their own block when something reads them after the exponential
    keep_shifts = compensate or weights is not None
    step, tmp, work = _row_blocks(n, k, keep_shifts)
    shift = np.empty_like(tmp) if keep_shifts else None
    log_tail = np.empty(n)
    gaps = None if weights is None else np.empty(n)
    with np.errstate(all="ignore"):
        for s in range(0, n, step):
            sl = slice(s, s + step)
            e = tmp[: min(step, n - s)]
            rows_in_block = e.shape[0]
            dd = e if shift is None else shift[:rows_in_block]
            w = None if work is None else (work[0][:rows_in_block], work[1][:rows_in_block])
            log_tail[sl] = _shifted_exp_tail(
                rows[sl], idx[sl], m[sl], dd, e, w if compensate else None
            )
            if gaps is not None and weights is not None and w is not None:
                gaps[sl] = _weighted_gaps(weights[sl], dd, w[1])
        np.log1p(log_tail, out=log_tail)
    return idx, m, log_tail, gaps


def _logsumexp_cancelled(rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """:math:`m + \\operatorname{log1p}(\\text{tail})` in double-double, where it cancels.

    When :math:`|\\operatorname{LSE}(z)| < |m|/2` the final addition cancels, and the
    float64 rounding of :math:`\\operatorname{log1p}(\\text{tail})`, of each
    :math:`e^{z_j - m}` and of the shifts :math:`z_j - m` is magnified by the condition number
    :math:`\\kappa` (up to :math:`|m|/|\\operatorname{LSE}|`). Here the shifts are exact
    (TwoSum), the terms, their sum and the ``log1p`` are double-double
    (:func:`exp_parts`, :func:`dd_sum`, :func:`log1p_dd`: each below :math:`2^{-96}` relative,
    measured), and :math:`m + L` is added exactly (:func:`dd_add`) and rounded once. The
    absolute error of :math:`L` is below :math:`2^{-95}L`, so the result is within
    :math:`\\tfrac12 + \\kappa\\cdot 2^{-42}` ULP: correctly rounded or 1 ULP off up to
    :math:`\\kappa \\approx 10^{12}`, the same on every IEEE machine.
    """
    step = _rows_per_block(rows.shape[1])
    if rows.shape[0] > step:
        parts = range(0, rows.shape[0], step)
        return np.concatenate(
            [_logsumexp_cancelled(rows[s : s + step], idx[s : s + step]) for s in parts]
        )
    r = np.arange(rows.shape[0])
    m = rows[r, idx]
    dh, dl, ninf = _dd_shifts(rows, m)
    th, tl = exp_dd(dh, dl)
    drop = ninf.copy()
    drop[r, idx] = True
    th[drop] = 0.0
    tl[drop] = 0.0
    lh, ll = log1p_dd(*dd_sum(th, tl))
    return dd_add_d(lh, ll, m)[0]


def logsumexp(x: Any, axis: int = -1, keepdims: bool = False) -> Any:
    r"""Log-sum-exp :math:`\operatorname{LSE}(z) = \log\sum_j e^{z_j}` along ``axis``.

    Derived in :ref:`chapter-numerical-stability` (the normaliser of the softmax of
    :ref:`chapter-softmax-multiclass`).

    Parameters
    ----------
    x : array_like
        Real numbers, at least one dimension. float32/float64 preserved, integers and bools
        become float64.
    axis : int, optional
        The axis to reduce, default the last.
    keepdims : bool, optional
        Keep the reduced axis with length 1.

    Returns
    -------
    numpy.ndarray or numpy scalar
        :math:`\operatorname{LSE}` along ``axis``. A row of all ``-inf`` (or an empty row) gives
        ``-inf``; a row containing ``+inf`` gives ``+inf``; a row containing NaN gives NaN.

    Raises
    ------
    TypeError
        If ``x`` has a non-real dtype or ``axis`` is not an int.
    ValueError
        If ``x`` is a scalar or ``axis`` is out of range.

    Notes
    -----
    With :math:`m = z_{j^*} = \max_j z_j` and :math:`j^*` one index of the maximum,

    .. math:: \operatorname{LSE}(z)
              = m + \operatorname{log1p}\Big(\sum_{j \ne j^*} e^{z_j - m}\Big).

    Every exponent is :math:`\le 0` (no overflow), and the sum that is passed to ``log1p``
    excludes the 1 contributed by the maximum, so the tail :math:`\sum_{j\ne j^*} e^{z_j-m}` is
    not rounded away against 1: ``logsumexp([0, -40])`` is :math:`\operatorname{log1p}(e^{-40})
    \approx 4.25\cdot 10^{-18}`, where ``torch.logsumexp`` (which forms
    :math:`\log\sum_j e^{z_j - m}` with the 1 inside the sum) returns exactly 0. Ties for the
    maximum simply contribute :math:`e^0 = 1` terms.

    The final addition :math:`m + L` cancels when :math:`\operatorname{LSE} \approx 0` although
    :math:`|m|` is not small; the relative condition number
    :math:`\kappa = \sum_i \operatorname{softmax}(z)_i |z_i| / |\operatorname{LSE}(z)|` is then
    large and float64 arithmetic loses :math:`\log_2\kappa` bits. Rows whose result is below
    :math:`|m|/2` in magnitude are therefore recomputed in double-double arithmetic (about
    106 bits from float64 operations alone, :mod:`nllkit._accurate`): exact shifts, then the
    terms, their sum and the ``log1p`` each within :math:`2^{-96}` relative, and :math:`m + L`
    added exactly and rounded once. Their error is at most :math:`\frac12 + \kappa\cdot
    2^{-42}` ULP — correctly rounded or 1 ULP off up to :math:`\kappa \approx 10^{12}`
    (measured ≤ 1 ULP up to :math:`\kappa = 10^{14}`, ``tests/test_portable_precision.py``) —
    and the same on every IEEE machine (``np.longdouble``, which is float64 on ARM macOS and
    Windows, would not be). Rows with a small result (below 1 in magnitude) that do not cancel
    take the same path: their condition number can still reach
    :math:`(|\operatorname{LSE}| + \log k)/|\operatorname{LSE}|` (the rounding of the shifts
    :math:`z_j - m` is visible against the result; float64 with the compensated tail of
    :func:`log_softmax` was measured 5 ULP off there), and double-double leaves them within
    1 ULP. Measured ≤ 3 ULP in float64 elsewhere (``tests/test_accuracy.py``).

    When every other logit trails the maximum by more than about 708, the terms
    :math:`e^{z_j - m}` are subnormal and ``exp`` rounds each to a multiple of
    :math:`2^{-1074}`, a relative error of up to 100 %; a row whose tail is below
    :math:`10^{-290}` is therefore re-summed in double-double with its terms scaled by
    :math:`2^{1010}` (normal numbers, exactly) and scaled back with one correct rounding, so
    that a subnormal result such as
    :math:`\operatorname{LSE}([0, -746, -746, \dots])` is rounded once rather than summed from
    rounded pieces (which is hundreds of ULP off on a row of 1000). The check costs one
    comparison per row; the re-summation runs only for such rows.
    """
    arr, rows, ax = _rows(x, axis, "logsumexp")
    n, k = rows.shape
    out = np.full(n, -np.inf)
    if k:
        idx, m, out, _ = _log_partition(rows)
        rescaled = out < _TINY_TAIL  # tiny tails (and 0) are compensated already
        with np.errstate(all="ignore"):
            out += m
            # m = -inf (all -inf row), +inf or NaN: the answer is m itself.
            np.copyto(out, m, where=~np.isfinite(m))
            finite = np.isfinite(m)
            cancelled = (np.abs(out) < 0.5 * np.abs(m)) & finite
            # a result below 1 has kappa up to (|LSE| + log k)/|LSE| even where m + L does
            # not cancel (the rounding of the shifts z_j - m is then visible): redo it too
            small = (np.abs(out) < 1.0) & finite & ~rescaled
            redo = cancelled | small
            if redo.any():  # (-inf logits make NaN shifts there, which it drops)
                out[redo] = _logsumexp_cancelled(rows[redo], idx[redo])
    shape = arr.shape[:ax] + arr.shape[ax + 1 :]
    out = out.reshape(shape).astype(arr.dtype, copy=False)
    if keepdims:
        out = np.expand_dims(out, ax)
    return scalar_or_array(out)


def _along_rows(
    x: Any,
    axis: int,
    func: str,
    finish: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None],
) -> Any:
    """Shared driver of softmax and log_softmax: shift, exponentiate, then ``finish`` a block.

    ``finish(d, e, idx, tail, w)`` receives the shifted logits :math:`d = z - m` (the output
    block, to be overwritten with the result), :math:`e^{d}` with the entry at ``idx`` (the
    argmax of each row) zeroed, the compensated ``tail`` :math:`= \\sum_{j\\ne j^*} e^{z_j - m}`
    and the corrections :math:`e^{d_j}\\delta_j` (see :func:`_tail_correction`).
    """
    arr, rows, ax = _rows(x, axis, func)
    n, k = rows.shape
    out = np.empty_like(rows)
    if k:
        step, tmp, work = _row_blocks(n, k, compensate=True)
        idx, m = _row_max(rows)
        with np.errstate(all="ignore"):
            for s in range(0, n, step):
                sl = slice(s, s + step)
                d = out[sl]
                e = tmp[: d.shape[0]]
                w = (work[0][: e.shape[0]], work[1][: e.shape[0]])
                tail = _shifted_exp_tail(rows[sl], idx[sl], m[sl], d, e, w)
                finish(d, e, idx[sl], tail, w[0])
    moved_shape = arr.shape[:ax] + arr.shape[ax + 1 :] + (k,)
    res = np.moveaxis(out.reshape(moved_shape), -1, ax).astype(arr.dtype, copy=False)
    return scalar_or_array(res)


def _finish_log_softmax(
    d: np.ndarray, e: np.ndarray, idx: np.ndarray, tail: np.ndarray, corr: np.ndarray
) -> None:
    np.subtract(d, np.log1p(tail)[:, None], out=d)


def _finish_softmax(
    d: np.ndarray, e: np.ndarray, idx: np.ndarray, tail: np.ndarray, corr: np.ndarray
) -> None:
    # e^{z_j - m} = e^{d_j}(1 + delta_j) / (1 + tail); the argmax entry of e was zeroed, so
    # restore its e^0 = 1 (its correction is 0).
    e[np.arange(e.shape[0]), idx] = 1.0
    np.add(e, corr, out=e)
    np.divide(e, (tail + 1.0)[:, None], out=d)


def log_softmax(x: Any, axis: int = -1) -> Any:
    r"""Log of the softmax, :math:`\log\operatorname{softmax}(z)_i = z_i - \operatorname{LSE}(z)`.

    Derived in :ref:`chapter-softmax-multiclass` and made stable in
    :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        Logits, at least one dimension. float32/float64 preserved, integers and bools become
        float64.
    axis : int, optional
        The class axis, default the last.

    Returns
    -------
    numpy.ndarray
        Log-probabilities, same shape and float dtype as ``x``. A ``-inf`` logit (in a row with
        a finite maximum) gives ``-inf``. Rows of all ``-inf`` give NaN (there is no
        distribution to normalise), ``+inf`` entries give NaN (:math:`\infty - \infty`), NaN
        rows give NaN.

    Raises
    ------
    TypeError
        If ``x`` has a non-real dtype or ``axis`` is not an int.
    ValueError
        If ``x`` is a scalar or ``axis`` is out of range.

    Notes
    -----
    With :math:`m = z_{j^*}` the maximum,

    .. math:: \log\operatorname{softmax}(z)_i = (z_i - m)
              - \operatorname{log1p}\Big(\sum_{j \ne j^*} e^{z_j - m}\Big).

    Both terms are :math:`\le 0`, so the subtraction never cancels, and the ``log1p`` of the
    tail keeps the top class's log-probability exact when it leads by more than 37: the answer
    there is :math:`-\sum_{j\ne j^*} e^{z_j-m}`, a tiny negative number, where
    ``torch.log_softmax`` and ``scipy.special.log_softmax`` return exactly 0. That tail is only
    accurate if the shifts are: :math:`\mathrm{fl}(z_j - m)` is off by half an ULP of the lead,
    which is a relative error of hundreds of ULP in :math:`e^{z_j - m}`, so the exact rounding
    error :math:`\delta_j` of each shift is recovered with TwoSum and the tail is summed as
    :math:`\sum_j e^{d_j}(1 + \delta_j)`. When the top logit leads every other by more than
    about 708 the terms are subnormal, where ``exp`` keeps almost no relative accuracy; rows
    whose tail is below :math:`10^{-290}` are re-summed in double-double with the terms
    scaled by :math:`2^{1010}` and scaled back with one rounding (see :func:`logsumexp`), so
    the top entry :math:`-\text{tail}` is rounded once into the subnormal range. The other
    entries are :math:`z_i - m` there, unaffected. Measured ≤ 4 ULP in float64 (≤ 1 on
    subnormal tails).
    """
    return _along_rows(x, axis, "log_softmax", _finish_log_softmax)


def softmax(x: Any, axis: int = -1) -> Any:
    r"""The softmax :math:`\operatorname{softmax}(z)_i = e^{z_i} / \sum_j e^{z_j}`.

    Derived in :ref:`chapter-softmax-multiclass`; the max-shift is the subject of
    :ref:`chapter-numerical-stability`.

    Parameters
    ----------
    x : array_like
        Logits, at least one dimension. float32/float64 preserved, integers and bools become
        float64.
    axis : int, optional
        The class axis, default the last.

    Returns
    -------
    numpy.ndarray
        Probabilities along ``axis`` (each row sums to 1 up to rounding), same shape and float
        dtype as ``x``. Rows of all ``-inf`` and rows with ``+inf`` or NaN give NaN.

    Raises
    ------
    TypeError
        If ``x`` has a non-real dtype or ``axis`` is not an int.
    ValueError
        If ``x`` is a scalar or ``axis`` is out of range.

    Notes
    -----
    Shift-invariance lets us subtract the maximum :math:`m` first:
    :math:`e^{z_i - m}/(1 + \sum_{j\ne j^*} e^{z_j - m})`. Every exponent is :math:`\le 0`, so
    nothing overflows, and the denominator lies in :math:`[1, K]`, so nothing underflows to a
    0/0. The rounding of each shift :math:`z_j - m` — half an ULP of a number as large as the
    lead, i.e. hundreds of ULP of :math:`e^{z_j - m}` — is recovered exactly with TwoSum and
    applied to first order, :math:`e^{z_j - m} \approx e^{d_j}(1 + \delta_j)`, so every entry,
    however tiny, is within a few ULP (measured ≤ 3 in float64: 2 on the benchmark grids, 3 on
    about one entry in 24,000 of random rows).
    """
    return _along_rows(x, axis, "softmax", _finish_softmax)
