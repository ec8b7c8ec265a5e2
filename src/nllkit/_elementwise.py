r"""The machinery beneath the elementwise functions of :mod:`nllkit.numerics` and the losses.

The public functions spell out their formula one block at a time (``with _Blocks(...) as blocks:
for x, out, tmp in blocks: ...``); this module supplies the blocks and everything a formula
should not have to show:

* :class:`_Blocks` converts the input (dtype rules and the ``TypeError`` of
  :func:`~nllkit._validation.as_float_array`), cuts it into cache-sized float64 blocks, runs
  the formula under an ``np.errstate`` that records (:class:`_Flags`) rather than warns, and
  gives the result back in the caller's shape and dtype;
* the rare fix-ups, triggered by those flags: :func:`_sigmoid_overflowed`,
  :func:`_logit_fixups`;
* the shared pieces of several formulas: :func:`_log1p_exp_neg_abs` (softplus and its
  mirror), :func:`_times` (the convention :math:`0\cdot\infty = 0` of the losses) and
  :func:`_log_ratio` (:math:`\log(p/q)` without cancellation near :math:`p = q`).

Why blocks: a stable formula makes several passes (``exp``, ``add``, ``divide``, …). Over a
whole array of :math:`10^6` float64 each pass streams 8 MB through memory; over blocks of
:data:`_BLOCK` elements the input, output and scratch blocks (768 KB) stay in a core's L2
cache between passes. An input of at most one block (a scalar, a minibatch) takes one
iteration without any slicing, so a call costs a few microseconds more than its ufuncs.

Why flags: an overflow or an invalid operation is rare, and the hardware raises its flag for
free; a fix-up that runs only then costs valid input no extra pass (a test ``np.isinf(out)``
would cost one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._validation import as_float_array

#: Elements per block: an input, an output and a scratch block of float64 of this size
#: (768 KB together) stay in a core's L2 cache while the passes of a formula run over them.
_BLOCK = 1 << 15

#: exp(x) overflows float64 above this value.
_EXP_OVERFLOW = 709.782712893384


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


class _Blocks(np.errstate):
    """``x`` as float64 blocks ``(x_block, out_block, tmp_block)`` for a formula to fill.

    Used as ``with _Blocks(x, name, func) as blocks: for x, out, tmp in blocks: ...``. Inside
    the ``with``, floating-point exceptions do not warn (``np.errstate(all="ignore")``); with
    ``watch`` (the default) ``over`` and ``invalid`` are recorded in :attr:`flags` for a
    fix-up (``watch=False`` saves the callback where no fix-up exists). The ``with`` restores
    the caller's error state however the block ends, even on an exception or an interrupt.
    Afterwards :attr:`x` and :attr:`out` are the whole float64 input and output (flattened;
    or, for an array of at most one block, in its own shape, and :attr:`x` may then be the
    caller's array, so it is read-only here), and :meth:`result` is ``out`` in the caller's
    shape and dtype (0-d as a numpy scalar). float32 inputs are evaluated in float64 and
    rounded once, by :meth:`result`. (It is an ``np.errstate``, so that the ``with`` costs no
    more than that of ``np.errstate`` itself: a call of a few microseconds on a small input
    is dominated by such overheads.)
    """

    __slots__ = ("flags", "meta", "out", "x")

    def __init__(self, x: Any, name: str, func: str, watch: bool = True) -> None:
        arr = as_float_array(x, name, func)
        self.flags = _Flags()
        if watch:
            np.errstate.__init__(self, all="ignore", over="call", invalid="call", call=self.flags)
        else:
            np.errstate.__init__(self, all="ignore")
        if arr.size <= _BLOCK:  # one block: no flattening, no loop, no slicing
            self.x = arr if arr.dtype == np.float64 else arr.astype(np.float64)
            self.meta: tuple[np.dtype, tuple[int, ...] | None] = (arr.dtype, None)
        else:
            self.x = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
            self.meta = (arr.dtype, arr.shape)
        self.out = np.empty(self.x.shape)

    @property
    def shape(self) -> tuple[int, ...]:
        """The caller's shape (for an error message that gives an index)."""
        return self.x.shape if self.meta[1] is None else self.meta[1]

    def __enter__(self) -> _Blocks:  # np.errstate's returns None
        np.errstate.__enter__(self)
        return self

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if self.meta[1] is None:  # one block
            return iter(((self.x, self.out, np.empty(self.x.shape)),))
        return self._blocks()

    def _blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        n = self.x.size
        tmp = np.empty(_BLOCK)
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            yield self.x[start:stop], self.out[start:stop], tmp[: stop - start]

    def result(self) -> Any:
        return _finish(self.out, self.meta)


def _finish(out: np.ndarray, meta: tuple[np.dtype, tuple[int, ...] | None]) -> Any:
    """``out`` in the caller's shape (``None``: it has it already) and dtype; 0-d as a scalar."""
    dtype, shape = meta
    if shape is not None:
        out = out.reshape(shape)
    if dtype != np.float64:
        out = out.astype(dtype)
    return out[()] if out.ndim == 0 else out


def _log1p_exp_neg_abs(x: np.ndarray, tmp: np.ndarray) -> None:
    """tmp = log1p(exp(-|x|)), the bounded correction term of softplus, in (0, log 2].

    The argument of ``exp`` is never positive, so nothing overflows, and ``log1p`` keeps the
    relative accuracy of a tiny :math:`e^{-|x|}` (``log(1 + ·)`` would round it to 0).
    """
    np.negative(x, out=tmp)
    np.minimum(x, tmp, out=tmp)  # -|x| (two cheap passes: np.copysign is not vectorised)
    np.exp(tmp, out=tmp)
    np.log1p(tmp, out=tmp)


def _sigmoid_overflowed(blocks: _Blocks) -> None:
    """Set :math:`\\sigma(x) = 1` where :math:`E = e^x` overflowed (:math:`x > 709.78`).

    There :math:`E/(1 + E)` is :math:`\\infty/\\infty` = NaN. The overflow flag catches a
    finite :math:`x`; :math:`x = \\infty` gives an exact :math:`e^\\infty = \\infty`, and only
    the division raises (invalid), so either flag triggers the fix-up.
    """
    if blocks.flags.hit:
        blocks.out[blocks.x > _EXP_OVERFLOW] = 1.0


def _logit_fixups(blocks: _Blocks) -> None:
    """The two rare cases of :math:`\\operatorname{logit}(p) = \\pm\\operatorname{log1p}((1 -
    2q)/q)`, each found by the flag it raises.

    * ``overflow``: :math:`1/q` overflowed, so :math:`q` is subnormal. There
      :math:`\\log q - \\operatorname{log1p}(-q)` is accurate (no cancellation: :math:`\\log q`
      is near -745) and is used instead.
    * ``invalid``: ``log1p`` of a number below -1, which only a :math:`p` outside [0, 1] makes
      (:math:`(1-2q)/q < -1`), or NaN. Only then are the results scanned, and the first
      offending element raises ``ValueError`` with its index in the caller's shape. ``-0.0``
      also lands here (:math:`q = -0.0` makes :math:`(1 - 2q)/q = -\\infty`): it is 0, whose
      logit is :math:`-\\infty`.
    """
    flags, x64, out = blocks.flags, blocks.x, blocks.out
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
            idx = [int(j) for j in np.unravel_index(i, blocks.shape)]
            raise ValueError(
                f"logit: p{idx} = {float(x64.reshape(-1)[i])!r} is outside [0, 1]; "
                f"expected probabilities in [0, 1]"
            )


# --------------------------------------------------------------------------------------------
# Products and ratios of the losses


def _times(w: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``w * a`` with the convention :math:`0 \\cdot a = 0` even for :math:`a = \\pm\\infty` or
    NaN (as in :math:`0\\log 0 = 0`; the callers' ``a`` is NaN only as :math:`\\log(0/0)`).

    The product is formed at full speed; only if it contains a NaN (one cheap reduction tells)
    are the NaN products with weight 0 set to 0.
    """
    with np.errstate(invalid="ignore"):
        out = np.multiply(w, a, out=np.empty(np.broadcast_shapes(w.shape, a.shape)))
        if np.isnan(out.sum()):
            out[(np.broadcast_to(w, out.shape) == 0) & np.isnan(out)] = 0.0
    return out


def _log_ratio(p64: np.ndarray, q64: np.ndarray) -> np.ndarray:
    """:math:`\\log(p/q)` elementwise, accurate also where :math:`p \\approx q`.

    The quotient :math:`p/q` near 1 is rounded to an absolute :math:`2^{-53}`, which is all of
    a tiny :math:`\\log(p/q)`. Where :math:`q/2 \\le p \\le 2q` the difference :math:`p - q` is
    exact (Sterbenz's lemma), so :math:`\\operatorname{log1p}((p - q)/q)` keeps the relative
    accuracy of ``log1p``; elsewhere :math:`|\\log(p/q)| \\ge \\log 2` and the direct formula
    is well conditioned. :math:`p = 0` gives :math:`-\\infty` and :math:`q = 0 < p` gives
    :math:`\\infty` (no warning); :math:`0/0` gives NaN, for :func:`_times` to zero.
    """
    with np.errstate(all="ignore"):
        near = (p64 >= 0.5 * q64) & (p64 <= 2.0 * q64) & (q64 > 0)
        return np.where(near, np.log1p((p64 - q64) / q64), np.log(p64 / q64))


# --------------------------------------------------------------------------------------------
# The block-kernel interface of earlier versions, kept for callers that import it


def _elementwise(
    x: Any,
    name: str,
    func: str,
    kernel: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
    watch: bool = True,
) -> tuple[np.ndarray, np.ndarray, Any, _Flags]:
    """Run ``kernel(x_block, out_block, tmp_block)`` over :class:`_Blocks` of ``x``.

    Returns ``(x64, out64, meta, flags)``: what :class:`_Blocks` holds afterwards, and
    :func:`_finish` turns ``(out64, meta)`` into the result.
    """
    with _Blocks(x, name, func, watch) as blocks:
        for x_block, out, tmp in blocks:
            kernel(x_block, out, tmp)
    return blocks.x, blocks.out, blocks.meta, blocks.flags


def _sigmoid_kernel(x: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """The formula of :func:`~nllkit.sigmoid` on one block: :math:`E/(1 + E)`, :math:`E = e^x`."""
    np.exp(x, out=out)
    np.add(out, 1.0, out=tmp)
    np.divide(out, tmp, out=out)


def _softplus_kernel(x: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """The formula of :func:`~nllkit.softplus` on one block."""
    _log1p_exp_neg_abs(x, tmp)
    np.maximum(x, 0.0, out=out)
    np.add(out, tmp, out=out)


def _log_sigmoid_kernel(x: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """The formula of :func:`~nllkit.log_sigmoid` on one block."""
    _log1p_exp_neg_abs(x, tmp)
    np.minimum(x, 0.0, out=out)
    np.subtract(out, tmp, out=out)


def _logit_kernel(p: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """The formula of :func:`~nllkit.logit` on one block (without its fix-ups)."""
    np.subtract(1.0, p, out=tmp)
    np.minimum(p, tmp, out=tmp)
    np.add(tmp, tmp, out=out)
    np.subtract(1.0, out, out=out)
    np.divide(out, tmp, out=out)
    np.log1p(out, out=out)
    np.subtract(p, 0.5, out=tmp)
    np.copysign(out, tmp, out=out)
