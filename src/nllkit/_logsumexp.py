r"""The machinery beneath log-sum-exp, softmax and log-softmax (and the cross-entropy).

Every public row function of :mod:`nllkit.numerics` is the max-shift of the chapter
:ref:`chapter-numerical-stability`: with :math:`m = z_{j^*} = \max_j z_j`,

.. math:: \operatorname{LSE}(z) = m + \operatorname{log1p}(\text{tail}), \qquad
          \text{tail} = \sum_{j \ne j^*} e^{z_j - m}.

This module computes :math:`j^*`, :math:`m` and the tail, and holds what the formula needs
to be accurate to the last bit and fast, each helper with its proof:

* rows in cache-sized blocks (:func:`_rows_per_block`), so that the shift, the exponential
  and the sum of a block stay in cache;
* the compensated tail (:func:`_tail_correction`): TwoSum recovers the rounding error of
  every shift :math:`z_j - m`, which is hundreds of ULP of :math:`e^{z_j - m}` when the top
  logit leads by hundreds;
* the subnormal tails (:func:`_scaled_tail`): re-summed in double-double, scaled by
  :math:`2^{1010}`, and rounded once;
* the rows whose log-sum-exp cancels, or is small (:func:`_logsumexp_refined`,
  :func:`_logsumexp_cancelled`): recomputed in double-double;
* the weighted gaps :math:`\sum_j w_j (m - z_j)` of the cross-entropy with probability
  targets (:func:`_weighted_gaps`), formed while the shifts are in cache.

The double-double arithmetic is :mod:`nllkit._accurate` (float64 ``+``, ``-``, ``*`` only,
so the results are the same on every IEEE machine). The ULP figures quoted are measured by
``tests/test_accuracy.py`` and ``tests/test_portable_precision.py`` and recorded in
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from ._accurate import dd_add_d, dd_sum, exp_dd, exp_parts, log1p_dd, two_sum
from ._validation import as_float_array, normalise_axis, scalar_or_array

#: Elements per block of the row functions: two float64 blocks of this size stay in a core's
#: L2 cache while several passes run over them.
_ROW_BLOCK = 1 << 16

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
    """Whole rows of length ``k`` per block of about :data:`_ROW_BLOCK` entries (at least 1)."""
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


def _partition(
    rows: np.ndarray, *, compensate: bool = False, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    r"""``(idx, m, tail, G)`` of every row of ``rows`` (float64, shape ``(n, k)``, ``k >= 1``).

    ``idx`` is the (first) argmax :math:`j^*`, ``m`` the maximum and
    :math:`\text{tail} = \sum_{j \ne j^*} e^{z_j - m}`, computed block by block
    (:func:`_shifted_exp_tail`). With ``compensate`` the tail includes
    :func:`_tail_correction`, as the top class's log-probability
    :math:`-\operatorname{log1p}(\text{tail})` needs (:math:`m + \operatorname{log1p}(\text{tail})`
    does not, see :func:`~nllkit.logsumexp`). With ``weights`` (shape ``(n, k)``),
    :math:`G = \sum_j w_j (m - z_j)` is computed block by block while the shifts are in cache
    (for cross-entropy with probability targets); otherwise ``G`` is None.
    """
    n, k = rows.shape
    idx, m = _row_max(rows)
    # the shifts need their own block when something reads them after the exponential
    keep_shifts = compensate or weights is not None
    step, tmp, work = _row_blocks(n, k, keep_shifts)
    shift = np.empty_like(tmp) if keep_shifts else None
    tail = np.empty(n)
    gaps = None if weights is None else np.empty(n)
    with np.errstate(all="ignore"):
        for s in range(0, n, step):
            sl = slice(s, s + step)
            e = tmp[: min(step, n - s)]
            rows_in_block = e.shape[0]
            dd = e if shift is None else shift[:rows_in_block]
            w = None if work is None else (work[0][:rows_in_block], work[1][:rows_in_block])
            tail[sl] = _shifted_exp_tail(rows[sl], idx[sl], m[sl], dd, e, w if compensate else None)
            if gaps is not None and weights is not None and w is not None:
                gaps[sl] = _weighted_gaps(weights[sl], dd, w[1])
    return idx, m, tail, gaps


def _log_partition(
    rows: np.ndarray, *, compensate: bool = False, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    r"""``(idx, m, L, G)``: :func:`_partition` with :math:`L = \operatorname{log1p}(\text{tail})`,
    so that :math:`\operatorname{LSE}(z) = m + L` and
    :math:`\log\operatorname{softmax}(z) = (z - m) - L`.

    ``log1p`` rather than ``log(1 + tail)``: the 1 of the maximum is kept out of the sum, so a
    tail below :math:`2^{-53}` is not rounded away (:math:`L` is then the tail itself).
    """
    idx, m, log_tail, gaps = _partition(rows, compensate=compensate, weights=weights)
    np.log1p(log_tail, out=log_tail)
    return idx, m, log_tail, gaps


def _max_and_tail(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(j_star, m, tail)`` of :func:`_partition`, uncompensated, for rows of any length.

    An empty row (``k = 0``) has :math:`m = -\infty` and an empty tail, 0, so that
    :math:`m + \operatorname{log1p}(0) = -\infty`, the log of an empty sum.
    """
    n, k = rows.shape
    if not k:
        return np.zeros(n, dtype=np.intp), np.full(n, -np.inf), np.zeros(n)
    j_star, m, tail, _ = _partition(rows)
    return j_star, m, tail


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


def _logsumexp_refined(
    lse: np.ndarray, rows: np.ndarray, idx: np.ndarray, m: np.ndarray, tail: np.ndarray
) -> np.ndarray:
    r"""``lse`` :math:`= m + \operatorname{log1p}(\text{tail})` with the rows where float64
    is not enough redone, in place.

    * A row whose maximum is not finite has the answer :math:`m` itself: :math:`-\infty` for
      a row of ``-inf`` (its shifts :math:`-\infty - (-\infty)` are NaN), :math:`+\infty`
      for a row with ``+inf``, NaN for a row with NaN.
    * Where :math:`|m + L| < |m|/2` the final addition cancels: the relative condition number
      :math:`\kappa = \sum_i \operatorname{softmax}(z)_i |z_i| / |\operatorname{LSE}(z)|`
      is large and float64 loses :math:`\log_2\kappa` bits; such rows are recomputed in
      double-double by :func:`_logsumexp_cancelled`, within :math:`\tfrac12 +
      \kappa\cdot 2^{-42}` ULP (measured ≤ 1 ULP up to :math:`\kappa = 10^{14}`,
      ``tests/test_portable_precision.py``), where float64 was 8e9 ULP off at
      :math:`\kappa = 2\cdot 10^{10}`.
    * A result below 1 in magnitude that does not cancel takes the same path: its condition
      number can still reach :math:`(|\operatorname{LSE}| + \log k)/|\operatorname{LSE}|`
      (the rounding of the shifts :math:`z_j - m` is visible against the result; float64
      with the compensated tail was measured 5 ULP off there), and double-double leaves it
      within 1 ULP. Rows with a tail below :data:`_TINY_TAIL` were already rounded once by
      :func:`_scaled_tail` and are left alone.

    Only a comparison per row is paid by the rows that need nothing.
    """
    rescaled = tail < _TINY_TAIL  # tiny tails (and 0) are compensated already
    with np.errstate(all="ignore"):
        # m = -inf (all -inf row), +inf or NaN: the answer is m itself.
        np.copyto(lse, m, where=~np.isfinite(m))
        finite = np.isfinite(m)
        cancelled = (np.abs(lse) < 0.5 * np.abs(m)) & finite
        # a result below 1 has kappa up to (|LSE| + log k)/|LSE| even where m + L does
        # not cancel (the rounding of the shifts z_j - m is then visible): redo it too
        small = (np.abs(lse) < 1.0) & finite & ~rescaled
        redo = cancelled | small
        if redo.any():  # (-inf logits make NaN shifts there, which it drops)
            lse[redo] = _logsumexp_cancelled(rows[redo], idx[redo])
    return lse


def _reduced(out: np.ndarray, arr: np.ndarray, ax: int, keepdims: bool) -> Any:
    """One value per row of :func:`_rows` back in the shape of ``arr`` without (or, with
    ``keepdims``, with length 1 along) axis ``ax``, in ``arr``'s dtype; 0-d as a scalar."""
    shape = arr.shape[:ax] + arr.shape[ax + 1 :]
    out = out.reshape(shape).astype(arr.dtype, copy=False)
    if keepdims:
        out = np.expand_dims(out, ax)
    return scalar_or_array(out)


class _Shifted(NamedTuple):
    """One block of :class:`_ShiftedRows` (see there)."""

    d: np.ndarray
    e: np.ndarray
    j_star: np.ndarray
    tail: np.ndarray
    corr: np.ndarray


class _ShiftedRows(np.errstate):
    r"""The max-shift of every row of ``x`` along ``axis``, block by block, for softmax and
    log-softmax to finish.

    Used as ``with _ShiftedRows(x, axis, func) as rows: for block in rows: ...`` (inside the
    ``with``, floating-point exceptions do not warn: a ``-inf`` or ``+inf`` logit makes NaN
    shifts that the helpers drop or that propagate). Iterating yields, for each block of rows,
    a :class:`_Shifted` ``(d, e, j_star, tail, corr)``: the shifted logits :math:`d = z - m`
    (a block of the output, to be overwritten with the result), :math:`e^{d}` with the entry
    at ``j_star`` (the argmax of each row) zeroed, the compensated
    :math:`\text{tail} = \sum_{j \ne j^*} e^{z_j - m}` and the first-order corrections
    :math:`e^{d_j}\delta_j` of the shifts' rounding (:func:`_tail_correction`). A block holds
    :data:`_ROW_BLOCK` entries (whole rows), so that the passes over it stay in cache; the tiny
    tails are rounded once by :func:`_scaled_tail`. :meth:`result` is the output in the
    input's shape and dtype. Rows of length 0 yield nothing.
    """

    def __init__(self, x: Any, axis: int, func: str) -> None:
        self.arr, self.rows, self.axis = _rows(x, axis, func)
        self.out = np.empty_like(self.rows)
        super().__init__(all="ignore")

    def __enter__(self) -> _ShiftedRows:  # np.errstate's returns None
        super().__enter__()
        return self

    def __iter__(self) -> Iterator[_Shifted]:
        rows, out = self.rows, self.out
        n, k = rows.shape
        if not k:
            return
        step, tmp, work = _row_blocks(n, k, compensate=True)
        idx, m = _row_max(rows)
        for s in range(0, n, step):
            sl = slice(s, s + step)
            d = out[sl]
            e = tmp[: d.shape[0]]
            w = (work[0][: e.shape[0]], work[1][: e.shape[0]])
            tail = _shifted_exp_tail(rows[sl], idx[sl], m[sl], d, e, w)
            yield _Shifted(d, e, idx[sl], tail, w[0])

    def result(self) -> Any:
        arr, ax, k = self.arr, self.axis, self.rows.shape[1]
        moved_shape = arr.shape[:ax] + arr.shape[ax + 1 :] + (k,)
        res = np.moveaxis(self.out.reshape(moved_shape), -1, ax).astype(arr.dtype, copy=False)
        return scalar_or_array(res)


# --------------------------------------------------------------------------------------------
# The driver interface of earlier versions, kept for callers that import it


def _along_rows(
    x: Any,
    axis: int,
    func: str,
    finish: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None],
) -> Any:
    """``finish(d, e, idx, tail, corr)`` on every block of :class:`_ShiftedRows` of ``x``."""
    with _ShiftedRows(x, axis, func) as rows:
        for block in rows:
            finish(*block)
    return rows.result()


def _finish_log_softmax(
    d: np.ndarray, e: np.ndarray, idx: np.ndarray, tail: np.ndarray, corr: np.ndarray
) -> None:
    """The formula of :func:`~nllkit.log_softmax` on one block."""
    np.subtract(d, np.log1p(tail)[:, None], out=d)


def _finish_softmax(
    d: np.ndarray, e: np.ndarray, idx: np.ndarray, tail: np.ndarray, corr: np.ndarray
) -> None:
    """The formula of :func:`~nllkit.softmax` on one block."""
    # e^{z_j - m} = e^{d_j}(1 + delta_j) / (1 + tail); the argmax entry of e was zeroed, so
    # restore its e^0 = 1 (its correction is 0).
    e[np.arange(e.shape[0]), idx] = 1.0
    np.add(e, corr, out=e)
    np.divide(e, (tail + 1.0)[:, None], out=d)
