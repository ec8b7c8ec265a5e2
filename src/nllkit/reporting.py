"""Printing numbers that come back identical on every machine.

A chapter's stored outputs are compared character for character on every CPU (nbval, and the
portability layer of ``make test``). Between machines, ``exp``, ``log`` and ``tanh`` differ in
their last bits (numpy's SIMD paths, torch's vector kernels, the platform's libm), and sums,
dot products and BLAS kernels add in different orders. A printed number is portable only if no
value within that noise prints differently: :func:`portable_format` checks exactly this.

The rule it serves is written in the project's ``CONTRIBUTING.md`` ("What a chapter may
print") and applied in every chapter, starting with :ref:`chapter-learning-as-optimisation`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["portable_format"]

#: Relative noise that well-conditioned float64 results carry between machines: a few ULP
#: (2**-52 each) of every transcendental call and reduction step, amplified by condition numbers
#: up to about 10**4. 1e-9 leaves three more orders of magnitude of margin.
FLOAT64_NOISE = 1e-9


def portable_format(
    value: Any, spec: str, *, rtol: float = FLOAT64_NOISE, atol: float = 0.0
) -> str:
    r"""``format(value, spec)``, after checking that the machine's noise cannot change it.

    .. math::

        \operatorname{fmt}(v') = \operatorname{fmt}(v)
        \quad \text{for } v' \in [v - \delta,\ v + \delta],
        \qquad \delta = \mathrm{rtol}\,|v| + \mathrm{atol}.

    Method: rounding to a printed precision is monotone, so if both ends of the interval print
    the same string, so does every value between them. ``value`` is formatted at
    :math:`v - \delta`, :math:`v` and :math:`v + \delta`; the three strings must agree.
    Choose ``rtol`` from how the value was computed: the default ``1e-9`` covers a
    well-conditioned float64 result; a float32 result needs about ``1e-4``; a value that
    amplifies rounding (a non-convex run's final loss, a step count found by thresholding)
    should not be printed at all but asserted against a derived bound (``CONTRIBUTING.md``).

    Used for every rounded number a chapter prints, from :ref:`chapter-learning-as-optimisation`
    on.

    Parameters
    ----------
    value : real number
        A Python or numpy real scalar (not bool).
    spec : str
        A format specification for a number, such as ``".4f"``, ``".3g"`` or ``".1e"``.
    rtol, atol : float, optional
        The relative and absolute noise :math:`\delta` the printed value must survive.

    Returns
    -------
    str
        ``format(value, spec)``.

    Raises
    ------
    TypeError
        If ``value`` is not a real number or ``spec`` not a string.
    ValueError
        If ``value`` is not finite, ``rtol`` or ``atol`` is negative or not finite, ``spec`` is
        not a valid numeric format, or a value within the noise would print differently (the
        message gives both strings: print fewer digits, or assert a bound instead).

    Examples
    --------
    >>> portable_format(2.6965, ".4f")
    '2.6965'
    >>> portable_format(2.69645, ".4f")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: portable_format: 2.69645 prints as '2.6965', but 2.69644999730355 ...
    """
    v, printed = _checked_print(value, spec, rtol, atol)
    delta = rtol * abs(v) + atol  # the noise: every value in [v - delta, v + delta] may occur
    for neighbour in (v - delta, v + delta):
        shown = format(neighbour, spec)
        if shown != printed:
            raise ValueError(
                f"portable_format: {v!r} prints as {printed!r}, but {neighbour!r} (within the "
                f"noise rtol={rtol:g}, atol={atol:g}) prints as {shown!r}; print fewer digits or "
                "assert a bound instead"
            )
    return printed


def _checked_print(value: Any, spec: Any, rtol: Any, atol: Any) -> tuple[float, str]:
    """portable_format's arguments checked (each error names function and argument), and the
    value as printed."""
    func = "portable_format"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: value must be a real number, got {type(value).__name__}")
    if not isinstance(spec, str):
        raise TypeError(f"{func}: spec must be a format string, got {type(spec).__name__}")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
            raise TypeError(f"{func}: {name} must be a real number, got {type(tol).__name__}")
        if not math.isfinite(tol) or tol < 0:
            raise ValueError(f"{func}: {name} must be finite and >= 0, got {tol!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{func}: value must be finite, got {v!r}")
    try:
        printed = format(v, spec)
    except ValueError as error:
        raise ValueError(f"{func}: spec {spec!r} is not a numeric format ({error})") from None
    return v, printed
