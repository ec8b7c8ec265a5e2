"""Tools that check numerical code: finite differences and ULP distances.

Chapters and tests use these to prove that a derivative or a numerics function is right, rather
than merely plausible:

* :func:`finite_difference_gradient` — a central-difference gradient to compare a closed-form
  derivative against;
* :func:`ulp_distance` — how many representable floats lie between a result and its reference
  (the correctly rounded ``mp_*`` references of :mod:`nllkit.references`).

Used in :ref:`chapter-numerical-stability`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import _finite_point, _float_pair, _scalar_function, _steps, names_itself

__all__ = ["finite_difference_gradient", "ulp_distance"]

# ---------------------------------------------------------------------------------------------
# finite differences
# ---------------------------------------------------------------------------------------------

_CBRT_EPS = float(np.cbrt(np.finfo(np.float64).eps))


@names_itself
def finite_difference_gradient(
    f: Callable[[np.ndarray], Any], x: Any, *, step: Any = None
) -> np.ndarray:
    r"""Gradient of a scalar function by central finite differences.

    .. math::

        \frac{\partial f}{\partial x_i}(x) \approx \frac{f(x + h_i e_i) - f(x - h_i e_i)}{2 h_i}

    Method: every element of ``x`` is perturbed in turn, in float64. The default step is
    :math:`h_i = \varepsilon^{1/3} \max(1, |x_i|)` with :math:`\varepsilon = 2^{-52}`: the
    truncation error of a central difference is :math:`O(h^2 f''')` and the rounding error of
    evaluating ``f`` twice and subtracting is :math:`O(\varepsilon |f| / h)`; their sum is least
    when :math:`h \propto \varepsilon^{1/3}`, which leaves a relative error of about
    :math:`\varepsilon^{2/3} \approx 4 \cdot 10^{-11}` for well-scaled ``f``. Scaling by
    :math:`\max(1, |x_i|)` keeps the step meaningful for large coordinates. Each step is then
    replaced by :math:`(x_i + h_i) - x_i`, so that :math:`x_i + h_i` is exact and the two
    evaluation points lie exactly :math:`2 h_i` apart in floating point — except where
    :math:`x_i + h_i` moves into a binade of finer spacing than :math:`x_i - h_i` (a negative
    :math:`x_i` within :math:`h_i` above a power of two in magnitude, such as -1), where
    :math:`x_i - h_i` is rounded, by at most
    :math:`\tfrac12\mathrm{ulp}(x_i)`: a relative error of
    :math:`\mathrm{ulp}(x_i)/(4h_i) \approx 10^{-11}` in the quotient, below the method's
    :math:`\varepsilon^{2/3}` (measured in ``tests/test_checking.py``).

    Used in :ref:`chapter-numerical-stability` and wherever a chapter checks a derived gradient.

    Parameters
    ----------
    f : callable
        Takes a float64 array shaped like ``x`` and returns a real scalar (a Python number, a
        0-d or size-1 numpy array, or anything ``float()`` accepts).
    x : array_like
        The point, real numbers (integers and float32 are converted to float64).
    step : float or array_like, optional
        Positive finite step(s), broadcastable to ``x``. Default: the rule above.

    Returns
    -------
    numpy.ndarray
        float64 array shaped like ``x``.

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``x`` is not real numeric, or ``f`` returns a non-scalar.
    ValueError
        If ``x`` has non-finite entries, ``step`` is not positive and finite or does not
        broadcast to ``x``, or ``f`` returns a non-finite value.
    """
    value = _scalar_function(f)  # f(point) as a float, checked
    x64 = _finite_point(x)
    h = _CBRT_EPS * np.maximum(1.0, np.abs(x64)) if step is None else _steps(step, x64.shape)
    h = (x64 + h) - x64  # representable step: x + h exact, x - h too (but see above)

    grad = np.empty_like(x64)
    work = x64.copy()
    flat_work, flat_h, flat_grad = work.reshape(-1), h.reshape(-1), grad.reshape(-1)
    for i in range(flat_work.size):
        xi = flat_work[i]
        flat_work[i] = xi + flat_h[i]
        f_plus = value(work)
        flat_work[i] = xi - flat_h[i]
        f_minus = value(work)
        flat_work[i] = xi
        flat_grad[i] = (f_plus - f_minus) / (2.0 * flat_h[i])
    return grad


# ---------------------------------------------------------------------------------------------
# ULP distance
# ---------------------------------------------------------------------------------------------

_INT_OF = {
    np.dtype(np.float16): np.int16,
    np.dtype(np.float32): np.int32,
    np.dtype(np.float64): np.int64,
}


def _ordered_bits(a: np.ndarray) -> np.ndarray:
    """Map floats to int64 so that consecutive floats map to consecutive integers, ±0 to 0."""
    int_t = _INT_OF[a.dtype]
    bits = a.view(int_t).astype(np.int64)
    magnitude_mask = np.int64(np.iinfo(int_t).max)  # every bit except the sign
    return np.where(bits < 0, -(bits & magnitude_mask), bits)


@names_itself
def ulp_distance(a: Any, b: Any) -> np.ndarray:
    """Number of representable floats between ``a`` and ``b``, elementwise.

    ``ulp_distance(x, np.nextafter(x, np.inf))`` is 1; ``ulp_distance(x, x)`` is 0. The count is
    the difference of the floats' bit patterns read as sign-magnitude integers (IEEE 754 orders
    floats of one sign like their bit patterns), with the negative half mirrored so that -0 and
    +0 both map to 0 and the distance across zero counts every subnormal on both sides. It is
    exact as an integer and returned as float64 (exact up to 2**53).

    Special values: 0 where both are NaN or both are the same infinity; ``inf`` where exactly one
    is NaN, or where an infinity meets a finite number or the opposite infinity (an overflow to
    inf is not "one float away" from the largest finite float).

    Used in :ref:`chapter-numerical-stability` to measure accuracy against the ``mp_*``
    references.

    Parameters
    ----------
    a, b : array_like
        Floats of one dtype, float16, float32 or float64, of broadcastable shapes.

    Returns
    -------
    numpy.ndarray
        float64 array of the broadcast shape.

    Raises
    ------
    TypeError
        If either input is not float16/32/64 or the dtypes differ.
    ValueError
        If the shapes do not broadcast.
    """
    a_arr, b_arr = _float_pair(a, b, _INT_OF)  # one float dtype, broadcast, contiguous
    oa, ob = _ordered_bits(a_arr), _ordered_bits(b_arr)
    # |oa - ob| can reach 2**64 - 2 for float64: take it in uint64 arithmetic (mod 2**64).
    ua, ub = oa.astype(np.uint64), ob.astype(np.uint64)
    dist = np.where(oa >= ob, ua - ub, ub - ua).astype(np.float64)
    nan_a, nan_b = np.isnan(a_arr), np.isnan(b_arr)
    inf_any = np.isinf(a_arr) | np.isinf(b_arr)
    dist = np.where(inf_any & (a_arr != b_arr), np.inf, dist)
    dist = np.where(nan_a != nan_b, np.inf, dist)
    dist = np.where(nan_a & nan_b, 0.0, dist)
    return dist
