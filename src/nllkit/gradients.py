r"""Closed-form derivatives of the book's losses, as derived on paper.

Each function returns exactly the derivative of the matching function in :mod:`nllkit.losses`
(same arguments, same ``reduction``), so that a chapter can check the derivation against torch
autograd and against finite differences (:func:`nllkit.finite_difference_gradient`), and train
its tiny models with them.

* ``reduction="none"``: the derivative of each element's (or row's) own loss with respect to its
  own inputs — for the logits of a loss this is the familiar :math:`\sigma(z) - y` or
  :math:`\operatorname{softmax}(z) - p`;
* ``"sum"``: the gradient of the summed loss, the same numbers;
* ``"mean"``: the gradient of the mean, i.e. the above divided by the number of losses averaged.

Where an input was broadcast, its gradient is summed back to the input's shape (the adjoint of
broadcasting), as autograd does. Inputs are validated exactly as by the losses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import (
    _bce_inputs,
    _cross_entropy_inputs,
    _gaussian_inputs,
    as_float_array,
    check_reduction,
    scalar_or_array,
    sum_to_shape,
)
from .numerics import sigmoid, softmax

__all__ = [
    "binary_cross_entropy_with_logits_grad",
    "cross_entropy_grad",
    "gaussian_nll_grad",
    "softmax_jacobian",
]


def _scale(g: np.ndarray, reduction: str, count: int) -> np.ndarray:
    """Divide by the number of averaged losses for ``"mean"``; otherwise unchanged."""
    if reduction == "mean" and count:
        g /= count
    return g


def binary_cross_entropy_with_logits_grad(
    logits: Any, targets: Any, reduction: str = "mean"
) -> Any:
    r"""Derivative of :func:`~nllkit.binary_cross_entropy_with_logits` with respect to the logits.

    .. math:: \frac{\partial \ell}{\partial z} = \sigma(z) - y

    (divided by the number of elements for ``reduction="mean"``).

    Derived in :ref:`chapter-sigmoid-logistic-regression`: the :math:`\sigma'(z) =
    \sigma(z)(1-\sigma(z))` of the chain rule cancels against the denominators of the log-loss,
    leaving "prediction minus target".

    Parameters
    ----------
    logits : array_like
        Logits :math:`z`.
    targets : array_like
        Targets :math:`y \in [0, 1]`, broadcastable with ``logits``.
    reduction : {"mean", "sum", "none"}, optional
        The reduction of the loss being differentiated (default ``"mean"``).

    Returns
    -------
    numpy.ndarray or numpy scalar
        The gradient, shaped like ``logits`` (summed over broadcast dimensions).

    Raises
    ------
    TypeError
        If an input has a non-real dtype.
    ValueError
        As :func:`~nllkit.binary_cross_entropy_with_logits`: targets outside [0, 1], shapes
        that do not broadcast, unknown ``reduction``.

    Notes
    -----
    :math:`\sigma(z)` comes from :func:`~nllkit.sigmoid` (accurate to 2 ULP); the subtraction
    is then one rounding. Near :math:`\sigma(z) \approx y` the difference is, of course,
    only as accurate as :math:`\sigma(z)` in absolute terms.
    """
    func = "binary_cross_entropy_with_logits_grad"
    reduction = check_reduction(reduction, func)
    z, y, dtype = _bce_inputs(logits, targets, func)
    g = sigmoid(z) - y
    g = _scale(np.asarray(g, dtype=np.float64), reduction, g.size)
    shape = np.shape(as_float_array(logits, "logits", func))
    return scalar_or_array(sum_to_shape(g, shape).astype(dtype, copy=False))


def cross_entropy_grad(logits: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Derivative of :func:`~nllkit.cross_entropy` with respect to the logits.

    .. math:: \frac{\partial \ell}{\partial z} = \operatorname{softmax}(z)\sum_j p_j - p
              \;=\; \operatorname{softmax}(z) - p \quad\text{when } \textstyle\sum_j p_j = 1,

    with :math:`p` the one-hot vector of the class for integer targets (divided by the number
    of rows for ``reduction="mean"``). The factor :math:`\sum_j p_j` makes the formula the exact
    derivative even for probability targets that sum to 1 only within the tolerance.

    Derived in :ref:`chapter-softmax-multiclass`.

    Parameters
    ----------
    logits : array_like
        Logits of shape ``(..., K)``, classes last.
    target : array_like
        Integer class indices of shape ``logits.shape[:-1]`` or float probabilities of shape
        ``logits.shape`` (see :func:`~nllkit.cross_entropy`).
    reduction : {"mean", "sum", "none"}, optional
        The reduction of the loss being differentiated (default ``"mean"``, over rows).

    Returns
    -------
    numpy.ndarray
        The gradient, shape ``logits.shape``.

    Raises
    ------
    TypeError
        If an input has an unsupported dtype.
    ValueError
        As :func:`~nllkit.cross_entropy`.

    Notes
    -----
    :math:`\operatorname{softmax}(z)` is computed with the max-shift of
    :func:`~nllkit.softmax`; subtracting the one-hot vector touches one entry per row.
    """
    func = "cross_entropy_grad"
    reduction = check_reduction(reduction, func)
    rows, t, is_index, dtype, batch = _cross_entropy_inputs(logits, target, func)
    g = softmax(rows)
    n, k = rows.shape
    if is_index:
        g[np.arange(n), t] -= 1.0
    else:
        g *= t.sum(axis=1, keepdims=True)
        g -= t
    g = _scale(g, reduction, n)
    return g.reshape((*batch, k)).astype(dtype, copy=False)


def softmax_jacobian(x: Any) -> np.ndarray:
    r"""Jacobian of the softmax, :math:`J = \operatorname{diag}(s) - s s^{\mathsf T}` with
    :math:`s = \operatorname{softmax}(z)`.

    :math:`J_{ij} = \partial s_i / \partial z_j = s_i(\delta_{ij} - s_j)`. Derived in
    :ref:`chapter-softmax-multiclass`.

    Parameters
    ----------
    x : array_like
        Logits of shape ``(..., K)``, classes last; leading axes are a batch.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., K, K)``: one symmetric :math:`K\times K` Jacobian per row, each with rows
        and columns summing to 0 (up to rounding).

    Raises
    ------
    TypeError
        If ``x`` has a non-real dtype.
    ValueError
        If ``x`` is a scalar.

    Notes
    -----
    :math:`s` comes from :func:`~nllkit.softmax`; the outer product and the diagonal are formed
    by broadcasting, each entry with one or two roundings.
    """
    func = "softmax_jacobian"
    z = as_float_array(x, "x", func)
    if z.ndim == 0:
        raise ValueError(f"{func}: x is a scalar; expected logits of shape (..., K)")
    s = np.asarray(softmax(z))
    jac = -s[..., :, None] * s[..., None, :]
    diag = np.einsum("...ii->...i", jac)  # a writable view of the diagonals
    diag += s
    return jac


def gaussian_nll_grad(y: Any, mean: Any, var: Any, reduction: str = "mean") -> tuple[Any, Any]:
    r"""Derivatives of :func:`~nllkit.gaussian_nll` with respect to the mean and the variance.

    .. math:: \frac{\partial \ell}{\partial \mu} = \frac{\mu - y}{\sigma^2}, \qquad
              \frac{\partial \ell}{\partial \sigma^2}
              = \frac12\Big(\frac{1}{\sigma^2} - \frac{(y-\mu)^2}{(\sigma^2)^2}\Big)

    (divided by the number of elements for ``reduction="mean"``; ``full`` does not matter, the
    constant has derivative 0). Derived in :ref:`chapter-negative-log-likelihood`: setting both
    to zero gives the maximum-likelihood :math:`\hat\mu = y`, :math:`\hat\sigma^2 = (y-\mu)^2`.

    Parameters
    ----------
    y : array_like
        Observations.
    mean : array_like
        Means :math:`\mu`, broadcastable with ``y``.
    var : array_like
        Variances :math:`\sigma^2 > 0`, broadcastable with ``y``.
    reduction : {"mean", "sum", "none"}, optional
        The reduction of the loss being differentiated (default ``"mean"``).

    Returns
    -------
    tuple of numpy.ndarray or numpy scalar
        ``(d_mean, d_var)``, shaped like ``mean`` and ``var`` (summed over broadcast
        dimensions).

    Raises
    ------
    TypeError
        If an input has a non-real dtype.
    ValueError
        As :func:`~nllkit.gaussian_nll`: non-positive or non-finite variances, shapes that do
        not broadcast, unknown ``reduction``.

    Notes
    -----
    :math:`\partial\ell/\partial\sigma^2` is evaluated as
    :math:`\tfrac12\big(1 - (y-\mu)^2/\sigma^2\big)/\sigma^2`, which never forms
    :math:`(\sigma^2)^2` (that could overflow or underflow for extreme variances).
    """
    func = "gaussian_nll_grad"
    reduction = check_reduction(reduction, func)
    y64, m64, v64, dtype = _gaussian_inputs(y, mean, var, func)
    resid = m64 - y64
    d_mean = _scale(resid / v64, reduction, resid.size)
    d_var = _scale(0.5 * (1.0 - resid * resid / v64) / v64, reduction, resid.size)
    mean_shape = np.shape(as_float_array(mean, "mean", func))
    var_shape = np.shape(as_float_array(var, "var", func))
    return (
        scalar_or_array(sum_to_shape(d_mean, mean_shape).astype(dtype, copy=False)),
        scalar_or_array(sum_to_shape(d_var, var_shape).astype(dtype, copy=False)),
    )
