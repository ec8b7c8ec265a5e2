r"""The book's models, fitted with the book's own gradients.

Each model is a negative log-likelihood (a mean over the :math:`N` examples) together with the
closed-form gradient the chapters derive, and, where a chapter uses it, the Hessian:

* logistic: :math:`p = \sigma(Xw)`, gradient :math:`X^{\mathsf T}(\sigma(Xw) - y)/N`;
* multinomial (softmax): :math:`p = \operatorname{softmax}(XW)`, gradient
  :math:`X^{\mathsf T}(\operatorname{softmax}(XW) - Y)/N`;
* linear Gaussian: mean :math:`Xw`, a fixed variance :math:`\sigma^2`, gradient
  :math:`X^{\mathsf T}(Xw - y)/(N\sigma^2)`;
* heteroscedastic Gaussian: mean :math:`Xw_\mu` and variance :math:`e^{Xw_s}`, two heads;
* Poisson (log link): mean :math:`e^{Xw}`, gradient :math:`X^{\mathsf T}(e^{Xw} - y)/N`.

The per-example derivatives ("prediction minus target") come from :mod:`nllkit.gradients`;
this module only applies the chain rule through the linear layer :math:`z = Xw`. Two fitting
methods serve every model: :func:`gradient_descent` (a fixed step, with a history that figures
can plot) and :func:`newton` (for the convex models, where a chapter checks a minimiser). The
``fit_*`` functions check their inputs once and take their steps with unchecked copies of the
loss and gradient (:mod:`nllkit._glm`) that give the same numbers, bit for bit.

Conventions:

* ``X`` is the design matrix, shape ``(N, d)``, one example per row; a bias is a column of
  ones that the caller adds (the chapters put it first or last).
* Weights: a vector ``w`` of shape ``(d,)`` for the single-output models, a matrix ``W`` of
  shape ``(d, K)`` for the multinomial model (logits ``X @ W``). A leading batch axis
  (``(S, d)`` or ``(S, d, K)``) holds :math:`S` independent models, trained side by side (one
  per start, or per penalty); the loss then has shape ``(S,)``.
* ``l2`` adds :math:`\tfrac{\lambda}{2}\lVert w\rVert^2` to the mean NLL (weight decay; the
  MAP estimate under a Gaussian prior :math:`w \sim \mathcal N(0, I/(N\lambda))`), bias included.
* ``smoothing`` (classifiers) replaces each target by
  :math:`(1-\varepsilon)\,y + \varepsilon/K` (:math:`K = 2` for the logistic model), the
  convention of ``torch.nn.functional.cross_entropy(label_smoothing=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _checks, _docs, _glm
from ._glm import penalty as _penalty
from ._glm import per_example as _per_example
from ._validation import as_float_array
from .gradients import (
    binary_cross_entropy_with_logits_grad,
    cross_entropy_grad,
    gaussian_nll_grad,
    softmax_jacobian,
)
from .losses import binary_cross_entropy_with_logits, cross_entropy, gaussian_nll
from .numerics import sigmoid

__all__ = [
    "History",
    "fit_heteroscedastic_gaussian",
    "fit_linear_gaussian",
    "fit_logistic",
    "fit_multinomial",
    "fit_poisson",
    "gradient_descent",
    "heteroscedastic_gaussian_grad",
    "heteroscedastic_gaussian_nll",
    "linear_gaussian_grad",
    "linear_gaussian_hessian",
    "linear_gaussian_nll",
    "logistic_grad",
    "logistic_hessian",
    "logistic_nll",
    "multinomial_grad",
    "multinomial_hessian",
    "multinomial_nll",
    "newton",
    "poisson_grad",
    "poisson_hessian",
    "poisson_nll",
]


# --------------------------------------------------------------------------------------------
# Input checking


def _design(X: Any, func: str) -> np.ndarray:
    """``X`` as a float array of shape ``(N, d)`` with ``N >= 1``, else an error naming it."""
    X = as_float_array(X, "X", func)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(
            f"{func}: X has shape {X.shape}; expected a design matrix of shape (N, d), N >= 1"
        )
    return X


def _targets(y: Any, X: np.ndarray, func: str) -> np.ndarray:
    """Float targets of shape ``(N,)`` matching ``X``."""
    y = as_float_array(y, "y", func)
    if y.shape != X.shape[:1]:
        raise ValueError(f"{func}: y has shape {y.shape}; expected ({X.shape[0]},) to match X")
    return y


def _weights(w: Any, X: np.ndarray, func: str, name: str = "w", tail: int = 0) -> np.ndarray:
    """Weights of shape ``(d, *tail)`` or ``(S, d, *tail)``: ``tail`` trailing axes after d."""
    w = as_float_array(w, name, func)
    if w.ndim not in (1 + tail, 2 + tail) or w.shape[w.ndim - 1 - tail] != X.shape[1]:
        want = "(d,)" if tail == 0 else "(d, K)"
        raise ValueError(
            f"{func}: {name} has shape {w.shape}; expected {want} with d = {X.shape[1]} "
            f"(the columns of X), optionally with a leading batch axis"
        )
    return w


def _one_model(params: np.ndarray, name: str, core: int, func: str) -> None:
    """A Hessian is one model's: ``params`` must have its ``core`` axes and no batch axis."""
    if params.ndim != core:
        want = "(d,)" if core == 1 else "(d, K)"
        raise ValueError(
            f"{func}: {name} has shape {params.shape}; expected {want} (no batch axis)"
        )


def _per_model(
    value: Any, name: str, func: str, params: np.ndarray, core: int, upper: float = math.inf
) -> Any:
    """A hyper-parameter: a number, or (for a batch of models) one number per model.

    ``core`` is the number of axes of one model's parameters; an array ``value`` must have one
    entry per model of the leading batch axis, and comes back shaped to broadcast against
    ``params`` (``(S, 1, ...)``).
    """
    if np.ndim(value) == 0:
        return _checks.nonnegative(value, name, func, upper)
    arr = as_float_array(value, name, func)
    if params.ndim != core + 1 or arr.shape != params.shape[:1]:
        raise ValueError(
            f"{func}: {name} has shape {arr.shape}; an array needs one value per model of the "
            f"batch axis of the parameters (shape {params.shape})"
        )
    bad = ~((arr >= 0) & (arr < upper))
    if bad.any():
        _checks.nonnegative(float(arr[np.argmax(bad)]), name, func, upper)  # raises, naming it
    return arr.reshape(arr.shape + (1,) * core)


# --------------------------------------------------------------------------------------------
# Logistic regression


def _logistic_inputs(w, X, y, func, l2=0.0, smoothing=0.0):
    """Checked ``(w, X, targets, l2)``; smoothed targets get one row per model."""
    X = _design(X, func)
    w = _weights(w, X, func)
    y = as_float_array(y, "y", func)
    if y.shape not in (X.shape[:1], w.shape[:-1] + X.shape[:1]):
        raise ValueError(
            f"{func}: y has shape {y.shape}; expected ({X.shape[0]},) to match X (or one row "
            f"of targets per model, {w.shape[:-1] + X.shape[:1]})"
        )
    l2 = _per_model(l2, "l2", func, w, core=1)
    smoothing = _per_model(smoothing, "smoothing", func, w, core=1, upper=1.0)
    if np.any(smoothing):
        y = (1.0 - smoothing) * y + smoothing / 2
    return w, X, y, l2


def logistic_nll(w: Any, X: Any, y: Any, *, l2: Any = 0.0, smoothing: Any = 0.0) -> Any:
    r"""Mean negative log-likelihood of logistic regression, :math:`z = Xw`:

    .. math:: L(w) = \frac1N \sum_n \big[\operatorname{softplus}(z_n) - y_n z_n\big]
              + \frac{\lambda}{2}\lVert w\rVert^2 .

    Derived in :ref:`chapter-sigmoid-logistic-regression` (and used in
    :ref:`chapter-learning-as-optimisation`).

    Parameters
    ----------
    w : array_like
        Weights, shape ``(d,)``, or ``(S, d)`` for :math:`S` models at once.
    X : array_like
        Design matrix, shape ``(N, d)``.
    y : array_like
        Labels in [0, 1] (usually 0 or 1), shape ``(N,)``, or ``(S, N)``: one row per model.
    l2 : float or array_like, optional
        Weight decay :math:`\lambda \ge 0` (default 0), or one per model, shape ``(S,)``.
    smoothing : float or array_like, optional
        Label smoothing :math:`\varepsilon \in [0, 1)`: the targets become
        :math:`(1-\varepsilon)y + \varepsilon/2` (default 0); or one per model.

    Returns
    -------
    numpy scalar or numpy.ndarray
        The loss, or one loss per model, shape ``(S,)``.

    Raises
    ------
    TypeError
        If an array has a non-real dtype, or ``l2``/``smoothing`` is not a number.
    ValueError
        If the shapes do not match, a label lies outside [0, 1], ``l2 < 0`` or
        ``smoothing`` is outside [0, 1).

    Notes
    -----
    The per-example loss is :func:`~nllkit.binary_cross_entropy_with_logits`, accurate for
    logits of any size.
    """
    w, X, y, l2 = _logistic_inputs(w, X, y, "logistic_nll", l2, smoothing)
    z = w @ X.T
    nll = binary_cross_entropy_with_logits(z, y, reduction="none").mean(axis=-1)
    return nll + _penalty(w, l2, core=1)


def logistic_grad(w: Any, X: Any, y: Any, *, l2: Any = 0.0, smoothing: Any = 0.0) -> Any:
    r"""Gradient of :func:`logistic_nll`: prediction minus target, through the linear layer,

    .. math:: \nabla L(w) = \frac1N X^{\mathsf T}\big(\sigma(Xw) - y\big) + \lambda w .

    Derived in :ref:`chapter-sigmoid-logistic-regression`: :math:`\sigma(z) - y` is
    :func:`~nllkit.binary_cross_entropy_with_logits_grad`.

    Parameters and Raises are those of :func:`logistic_nll`.

    Returns
    -------
    numpy.ndarray
        Shape of ``w``.
    """
    w, X, y, l2 = _logistic_inputs(w, X, y, "logistic_grad", l2, smoothing)
    residual = binary_cross_entropy_with_logits_grad(w @ X.T, y, reduction="sum")
    return residual @ X / X.shape[0] + l2 * w


def logistic_hessian(w: Any, X: Any, y: Any, *, l2: float = 0.0) -> np.ndarray:
    r"""Hessian of :func:`logistic_nll`,

    .. math:: \nabla^2 L(w) = \frac1N X^{\mathsf T} \operatorname{diag}\big(s(1-s)\big) X
              + \lambda I, \qquad s = \sigma(Xw).

    It does not depend on the labels (``y`` is checked only). Derived in
    :ref:`chapter-sigmoid-logistic-regression`; its largest eigenvalue is at most
    :math:`\lambda_{\max}(X^{\mathsf T}X)/(4N) + \lambda` (:ref:`chapter-learning-as-optimisation`).

    Parameters
    ----------
    w : array_like
        Weights, shape ``(d,)`` (no batch).
    X, y, l2
        As :func:`logistic_nll`.

    Returns
    -------
    numpy.ndarray
        Shape ``(d, d)``, symmetric positive semi-definite.

    Raises
    ------
    TypeError
        As :func:`logistic_nll`.
    ValueError
        As :func:`logistic_nll`, and if ``w`` has a batch axis.
    """
    func = "logistic_hessian"
    w, X, _, l2 = _logistic_inputs(w, X, y, func, l2)
    _one_model(w, "w", 1, func)
    s = sigmoid(X @ w)
    return (X.T * (s * (1 - s))) @ X / X.shape[0] + l2 * np.eye(X.shape[1])


# --------------------------------------------------------------------------------------------
# Multinomial (softmax) regression


def _multinomial_inputs(W, X, y, func, l2=0.0, smoothing=0.0):
    """Checked ``(W, X, targets, l2)``; targets are class indices or probability rows, shaped
    to broadcast against the logits ``X @ W`` (one set per model if smoothed per model)."""
    X = _design(X, func)
    W = _weights(W, X, func, "W", tail=1)
    K = W.shape[-1]
    l2 = _per_model(l2, "l2", func, W, core=2)
    smoothing = _per_model(smoothing, "smoothing", func, W, core=2, upper=1.0)
    y = np.asarray(y)
    lead = W.shape[:-2]
    if y.dtype.kind in "iu" and y.shape in (X.shape[:1], (*lead, X.shape[0])):
        if y.size and (y.min() < 0 or y.max() >= K):
            raise ValueError(f"{func}: y has a class index outside [0, {K}); W has K = {K}")
        if np.any(smoothing):
            y = (1.0 - smoothing) * np.eye(K)[y] + smoothing / K
    elif y.shape in ((X.shape[0], K), (*W.shape[:-2], X.shape[0], K)):
        y = as_float_array(y, "y", func)
        if np.any(smoothing):
            y = (1.0 - smoothing) * y + smoothing / K
    else:
        raise ValueError(
            f"{func}: y has shape {y.shape} and dtype {y.dtype}; expected integer class indices "
            f"of shape ({X.shape[0]},) or probabilities of shape ({X.shape[0]}, {K}) (or one "
            f"set per model of the batch)"
        )
    index = y.dtype.kind in "iu"
    target_shape = (*lead, X.shape[0]) if index else (*lead, X.shape[0], K)
    return W, X, np.broadcast_to(y, np.broadcast_shapes(y.shape, target_shape)), l2


def multinomial_nll(W: Any, X: Any, y: Any, *, l2: Any = 0.0, smoothing: Any = 0.0) -> Any:
    r"""Mean negative log-likelihood of multinomial (softmax) regression, :math:`Z = XW`:

    .. math:: L(W) = \frac1N \sum_n \Big[\log\sum_k e^{z_{nk}} - \sum_k y_{nk} z_{nk}\Big]
              + \frac{\lambda}{2}\lVert W\rVert_F^2 .

    Derived in :ref:`chapter-softmax-multiclass`.

    Parameters
    ----------
    W : array_like
        Weights, shape ``(d, K)``, or ``(S, d, K)`` for :math:`S` models at once.
    X : array_like
        Design matrix, shape ``(N, d)``.
    y : array_like
        Integer class indices, shape ``(N,)``, or target probabilities, shape ``(N, K)`` (or
        ``(S, N)`` and ``(S, N, K)``: one set per model).
    l2 : float or array_like, optional
        Weight decay :math:`\lambda \ge 0` (default 0), or one per model, shape ``(S,)``.
    smoothing : float or array_like, optional
        Label smoothing :math:`\varepsilon \in [0, 1)`: targets
        :math:`(1-\varepsilon)y + \varepsilon/K` (default 0); or one per model.

    Returns
    -------
    numpy scalar or numpy.ndarray
        The loss, or one loss per model, shape ``(S,)``.

    Raises
    ------
    TypeError
        If an array has an unsupported dtype, or ``l2``/``smoothing`` is not a number.
    ValueError
        If the shapes do not match, a class index is out of range, a probability row is not a
        distribution, ``l2 < 0`` or ``smoothing`` is outside [0, 1).

    Notes
    -----
    The per-example loss is :func:`~nllkit.cross_entropy`, a stable log-sum-exp.
    """
    W, X, y, l2 = _multinomial_inputs(W, X, y, "multinomial_nll", l2, smoothing)
    Z = X @ W
    nll = cross_entropy(Z, y, reduction="none").mean(axis=-1)
    return nll + _penalty(W, l2, core=2)


def multinomial_grad(W: Any, X: Any, y: Any, *, l2: Any = 0.0, smoothing: Any = 0.0) -> Any:
    r"""Gradient of :func:`multinomial_nll`,

    .. math:: \nabla L(W) = \frac1N X^{\mathsf T}\big(\operatorname{softmax}(XW) - Y\big)
              + \lambda W,

    with :math:`Y` the one-hot (or smoothed) targets. Derived in
    :ref:`chapter-softmax-multiclass`: :math:`\operatorname{softmax}(z) - y` is
    :func:`~nllkit.cross_entropy_grad`.

    Parameters and Raises are those of :func:`multinomial_nll`.

    Returns
    -------
    numpy.ndarray
        Shape of ``W``.
    """
    W, X, y, l2 = _multinomial_inputs(W, X, y, "multinomial_grad", l2, smoothing)
    residual = cross_entropy_grad(X @ W, y, reduction="sum")
    return X.T @ residual / X.shape[0] + l2 * W


def multinomial_hessian(W: Any, X: Any, y: Any, *, l2: float = 0.0) -> np.ndarray:
    r"""Hessian of :func:`multinomial_nll` with respect to ``W`` flattened row-major,

    .. math:: \nabla^2 L = \frac1N \sum_n x_n x_n^{\mathsf T} \otimes
              \big(\operatorname{diag}(s_n) - s_n s_n^{\mathsf T}\big) + \lambda I,
              \qquad s_n = \operatorname{softmax}(W^{\mathsf T} x_n),

    a :math:`dK \times dK` matrix whose entry :math:`(aK + k, bK + l)` is
    :math:`\partial^2 L/\partial W_{ak}\partial W_{bl}`. Without ``l2`` it is singular: adding
    the same vector to every column of :math:`W` changes no probability. Derived in
    :ref:`chapter-softmax-multiclass` (from :func:`~nllkit.softmax_jacobian`).

    Parameters
    ----------
    W : array_like
        Weights, shape ``(d, K)`` (no batch).
    X, y, l2
        As :func:`multinomial_nll` (``y`` is checked only).

    Returns
    -------
    numpy.ndarray
        Shape ``(d*K, d*K)``.

    Raises
    ------
    TypeError
        As :func:`multinomial_nll`.
    ValueError
        As :func:`multinomial_nll`, and if ``W`` has a batch axis.
    """
    func = "multinomial_hessian"
    W, X, _, l2 = _multinomial_inputs(W, X, y, func, l2)
    _one_model(W, "W", 2, func)
    (N, d), K = X.shape, W.shape[1]
    J = softmax_jacobian(X @ W)  # (N, K, K), one Jacobian per example
    H = np.einsum("na,nkl,nb->akbl", X, J, X).reshape(d * K, d * K) / N
    return H + l2 * np.eye(d * K)


# --------------------------------------------------------------------------------------------
# Gaussian regression


def _linear_inputs(w, X, y, var, l2, func):
    X = _design(X, func)
    w = _weights(w, X, func)
    l2 = _per_model(l2, "l2", func, w, core=1)
    return w, X, _targets(y, X, func), _checks.positive(var, "var", func), l2


def linear_gaussian_nll(w: Any, X: Any, y: Any, *, var: float = 1.0, l2: Any = 0.0) -> Any:
    r"""Mean Gaussian negative log-likelihood of linear regression with a fixed variance,

    .. math:: L(w) = \frac1N \sum_n \Big[\frac{(y_n - x_n^{\mathsf T} w)^2}{2\sigma^2}
              + \frac12\log(2\pi\sigma^2)\Big] + \frac{\lambda}{2}\lVert w\rVert^2 :

    least squares, up to the scale :math:`1/\sigma^2` and a constant. Derived in
    :ref:`chapter-negative-log-likelihood`.

    Parameters
    ----------
    w : array_like
        Weights, shape ``(d,)`` or ``(S, d)``.
    X : array_like
        Design matrix, shape ``(N, d)``.
    y : array_like
        Observations, shape ``(N,)``.
    var : float, optional
        The noise variance :math:`\sigma^2 > 0` (default 1).
    l2 : float, optional
        Weight decay :math:`\lambda \ge 0` (ridge regression; default 0).

    Returns
    -------
    numpy scalar or numpy.ndarray
        The loss, or one per model, shape ``(S,)``.

    Raises
    ------
    TypeError
        If an array has a non-real dtype, or ``var``/``l2`` is not a number.
    ValueError
        If the shapes do not match, ``var`` is not positive and finite, or ``l2 < 0``.
    """
    w, X, y, var, l2 = _linear_inputs(w, X, y, var, l2, "linear_gaussian_nll")
    nll = gaussian_nll(y, w @ X.T, var, reduction="none").mean(axis=-1)
    return nll + _penalty(w, l2, core=1)


def linear_gaussian_grad(w: Any, X: Any, y: Any, *, var: float = 1.0, l2: Any = 0.0) -> Any:
    r"""Gradient of :func:`linear_gaussian_nll`,

    .. math:: \nabla L(w) = \frac{1}{N\sigma^2} X^{\mathsf T}(Xw - y) + \lambda w,

    with :math:`(\mu - y)/\sigma^2` from :func:`~nllkit.gaussian_nll_grad`. Derived in
    :ref:`chapter-negative-log-likelihood`. Parameters and Raises as
    :func:`linear_gaussian_nll`; the result has the shape of ``w``.
    """
    w, X, y, var, l2 = _linear_inputs(w, X, y, var, l2, "linear_gaussian_grad")
    d_mean, _ = gaussian_nll_grad(y, w @ X.T, var, reduction="none")
    return d_mean @ X / X.shape[0] + l2 * w


def linear_gaussian_hessian(X: Any, *, var: float = 1.0, l2: float = 0.0) -> np.ndarray:
    r"""Hessian of :func:`linear_gaussian_nll`, the same at every ``w``:
    :math:`X^{\mathsf T}X/(N\sigma^2) + \lambda I`.

    Derived in :ref:`chapter-negative-log-likelihood`. Raises as :func:`linear_gaussian_nll`.
    """
    func = "linear_gaussian_hessian"
    l2 = _checks.nonnegative(l2, "l2", func)
    X = _design(X, func)
    var = _checks.positive(var, "var", func)
    return X.T @ X / (X.shape[0] * var) + l2 * np.eye(X.shape[1])


def _hetero_inputs(params, X, y, beta, l2, func):
    X = _design(X, func)
    y = _targets(y, X, func)
    params = as_float_array(params, "params", func)
    if params.ndim not in (2, 3) or params.shape[-2:] != (2, X.shape[1]):
        raise ValueError(
            f"{func}: params has shape {params.shape}; expected (2, {X.shape[1]}) (mean and "
            f"log-variance weights), optionally with a leading batch axis"
        )
    beta = _per_model(beta, "beta", func, params, core=2)
    l2 = _per_model(l2, "l2", func, params, core=2)
    return params, X, y, beta, l2


def heteroscedastic_gaussian_nll(
    params: Any, X: Any, y: Any, *, beta: Any = 0.0, l2: Any = 0.0
) -> Any:
    r"""Mean (:math:`\beta`-)NLL of a Gaussian whose mean and log-variance are both linear,
    :math:`\mu = Xw_\mu`, :math:`s = \sigma^2 = e^{Xw_s}`:

    .. math:: L = \frac1N \sum_n \lfloor s_n^{\beta}\rfloor \, \ell_n
              + \frac{\lambda}{2}\big(\lVert w_\mu\rVert^2 + \lVert w_s\rVert^2\big),
              \qquad
              \ell_n = \frac{(y_n - \mu_n)^2}{2 s_n} + \frac12 \log(2\pi s_n),

    where :math:`\lfloor\cdot\rfloor` is a stop-gradient (``.detach()``): :math:`\beta = 0` is
    the NLL, :math:`\beta > 0` the :math:`\beta`-NLL that re-weights each example by its
    predicted variance. Derived in :ref:`chapter-negative-log-likelihood`.

    Parameters
    ----------
    params : array_like
        Shape ``(2, d)``: row 0 the mean weights :math:`w_\mu`, row 1 the log-variance weights
        :math:`w_s`; or ``(S, 2, d)`` for :math:`S` models.
    X : array_like
        Design matrix, shape ``(N, d)``, shared by both heads.
    y : array_like
        Observations, shape ``(N,)``.
    beta : float, optional
        :math:`\beta \ge 0` (default 0, the NLL).
    l2 : float, optional
        Weight decay on both heads (default 0).

    Returns
    -------
    numpy scalar or numpy.ndarray
        The loss, or one per model, shape ``(S,)``.

    Raises
    ------
    TypeError
        If an array has a non-real dtype, or ``beta``/``l2`` is not a number.
    ValueError
        If the shapes do not match, ``beta < 0`` or ``l2 < 0``, or a predicted variance
        under- or overflows (:func:`~nllkit.gaussian_nll` rejects it).
    """
    func = "heteroscedastic_gaussian_nll"
    params, X, y, beta, l2 = _hetero_inputs(params, X, y, beta, l2, func)
    mu, s = params[..., 0, :] @ X.T, np.exp(params[..., 1, :] @ X.T)
    nll = gaussian_nll(y, mu, s, reduction="none")
    return (s ** _per_example(beta) * nll).mean(axis=-1) + _penalty(params, l2, core=2)


def heteroscedastic_gaussian_grad(
    params: Any, X: Any, y: Any, *, beta: Any = 0.0, l2: Any = 0.0
) -> np.ndarray:
    r"""Gradient of :func:`heteroscedastic_gaussian_nll`, by the chain rule through
    :math:`s = e^{Xw_s}` (so :math:`\partial s/\partial(Xw_s) = s`):

    .. math:: \nabla_{w_\mu} L = \frac1N X^{\mathsf T}\Big(s^\beta\,\frac{\mu - y}{s}\Big),
              \qquad
              \nabla_{w_s} L = \frac1N X^{\mathsf T}\Big(s^\beta\,
              \frac12\Big(1 - \frac{(y-\mu)^2}{s}\Big)\Big),

    plus :math:`\lambda` times the weights; :math:`s^\beta` is held constant (the
    stop-gradient). The two per-example derivatives are :func:`~nllkit.gaussian_nll_grad`'s.
    Derived in :ref:`chapter-negative-log-likelihood`. Parameters and Raises as
    :func:`heteroscedastic_gaussian_nll`; the result has the shape of ``params``.
    """
    func = "heteroscedastic_gaussian_grad"
    params, X, y, beta, l2 = _hetero_inputs(params, X, y, beta, l2, func)
    mu, s = params[..., 0, :] @ X.T, np.exp(params[..., 1, :] @ X.T)
    d_mean, d_var = gaussian_nll_grad(y, mu, s, reduction="none")
    weight = s ** _per_example(beta)
    heads = np.stack([weight * d_mean, weight * d_var * s], axis=-2)  # (..., 2, N)
    return heads @ X / X.shape[0] + l2 * params


# --------------------------------------------------------------------------------------------
# Poisson regression

_lgamma = np.vectorize(math.lgamma, otypes=[float])


def _poisson_inputs(w, X, y, l2, func):
    X = _design(X, func)
    y = _targets(y, X, func)
    bad = ~((y >= 0) & (y == np.floor(y)))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{func}: y[{i}] = {float(y[i])!r}; expected counts 0, 1, 2, ...")
    w = _weights(w, X, func)
    return w, X, y, _per_model(l2, "l2", func, w, core=1)


def poisson_nll(w: Any, X: Any, y: Any, *, l2: Any = 0.0, full: bool = False) -> Any:
    r"""Mean negative log-likelihood of Poisson regression with the log link,
    :math:`\lambda_n = e^{z_n}`, :math:`z = Xw`:

    .. math:: L(w) = \frac1N \sum_n \big[e^{z_n} - y_n z_n + \log(y_n!)\big]
              + \frac{\lambda}{2}\lVert w\rVert^2 .

    Derived in :ref:`chapter-softmax-multiclass` (the log link is canonical, so the gradient is
    prediction minus target) and :ref:`chapter-maximum-likelihood` (the Poisson likelihood).

    Parameters
    ----------
    w : array_like
        Weights, shape ``(d,)`` or ``(S, d)``.
    X : array_like
        Design matrix, shape ``(N, d)``.
    y : array_like
        Counts (non-negative integers, as integers or floats), shape ``(N,)``.
    l2 : float or array_like, optional
        Weight decay :math:`\lambda \ge 0` (default 0), or one per model, shape ``(S,)``.
    full : bool, optional
        Include the constant :math:`\log(y_n!)` (default ``False``: it does not depend on
        :math:`w`).

    Returns
    -------
    numpy scalar or numpy.ndarray
        The loss, or one per model, shape ``(S,)``.

    Raises
    ------
    TypeError
        If an array has a non-real dtype, or ``l2`` is not a number.
    ValueError
        If the shapes do not match, a count is negative or not an integer, or ``l2 < 0``.
    """
    w, X, y, l2 = _poisson_inputs(w, X, y, l2, "poisson_nll")
    z = w @ X.T
    nll = np.mean(np.exp(z) - y * z, axis=-1)
    if full:
        nll = nll + np.mean(_lgamma(y + 1.0))
    return nll + _penalty(w, l2, core=1)


def poisson_grad(w: Any, X: Any, y: Any, *, l2: Any = 0.0) -> Any:
    r"""Gradient of :func:`poisson_nll`, prediction minus target through the linear layer:

    .. math:: \nabla L(w) = \frac1N X^{\mathsf T}\big(e^{Xw} - y\big) + \lambda w .

    Derived in :ref:`chapter-softmax-multiclass`. Parameters and Raises as
    :func:`poisson_nll`; the result has the shape of ``w``.
    """
    w, X, y, l2 = _poisson_inputs(w, X, y, l2, "poisson_grad")
    return (np.exp(w @ X.T) - y) @ X / X.shape[0] + l2 * w


def poisson_hessian(w: Any, X: Any, y: Any, *, l2: float = 0.0) -> np.ndarray:
    r"""Hessian of :func:`poisson_nll`: :math:`X^{\mathsf T}\operatorname{diag}(e^{Xw})X/N
    + \lambda I`, for ``w`` of shape ``(d,)``. Derived in :ref:`chapter-softmax-multiclass`.
    Raises as :func:`poisson_nll`, and if ``w`` has a batch axis.
    """
    func = "poisson_hessian"
    w, X, _, l2 = _poisson_inputs(w, X, y, l2, func)
    _one_model(w, "w", 1, func)
    return (X.T * np.exp(X @ w)) @ X / X.shape[0] + l2 * np.eye(X.shape[1])


# --------------------------------------------------------------------------------------------
# Fitting


@dataclass(frozen=True)
class History:
    """What an optimiser saw at each iterate :math:`\\theta_0, \\theta_1, \\dots, \\theta_T`.

    Gradient descent, whose iterates it records, is the subject of
    :ref:`chapter-learning-as-optimisation`.

    Attributes
    ----------
    loss : numpy.ndarray or None
        ``loss[t]`` is the loss at :math:`\\theta_t` (shape ``(T+1,)``, or ``(T+1, S)`` for a
        batch of models); ``None`` if no loss was given.
    params : numpy.ndarray or None
        ``params[t]`` is :math:`\\theta_t` (the start included), if recorded.
    grad_norm : numpy.ndarray or None
        ``grad_norm[t]`` is :math:`\\lVert\\nabla L(\\theta_t)\\rVert` (the Euclidean norm of
        the whole gradient array), if recorded.
    steps : int
        :math:`T`, the number of steps taken.
    converged : bool
        Whether the gradient norm fell below ``tol`` (always ``False`` without a ``tol``).
    """

    loss: np.ndarray | None
    params: np.ndarray | None
    grad_norm: np.ndarray | None
    steps: int
    converged: bool


def _tolerance(tol: Any, func: str) -> float | None:
    if tol is None:
        return None
    return _checks.nonnegative(tol, "tol", func)


def _iterate(func, update, model, params0, steps, tol, record_params, record_grad_norm, start=None):
    """The loop shared by :func:`gradient_descent` and :func:`newton`.

    ``model = (grad, loss)`` (``loss`` may be None) is evaluated at every iterate, ``start``
    (the same pair) instead of it at :math:`\\theta_0` if given: the fitters evaluate the start
    with their public, checking functions and step on with unchecked kernels (``_glm``).
    """
    steps = _checks.integer(steps, "steps", func)
    tol = _tolerance(tol, func)
    theta = np.array(as_float_array(params0, "params0", func))  # a copy
    need_norm = tol is not None or record_grad_norm  # else no norm is computed
    grad, loss = model if start is None else start
    losses, path, norms, converged, t = [], [], [], False, 0
    while True:
        g = np.asarray(grad(theta))
        if loss is not None:
            losses.append(loss(theta))
        if record_params:
            path.append(theta)
        norm = float(np.linalg.norm(g)) if need_norm else math.nan
        if record_grad_norm:
            norms.append(norm)
        if tol is not None and norm < tol:
            converged = True
            break
        if t == steps:
            break
        theta = update(theta, g)
        t += 1
        grad, loss = model
    return theta, History(
        loss=np.array(losses) if loss is not None else None,
        params=np.array(path) if record_params else None,
        grad_norm=np.array(norms) if record_grad_norm else None,
        steps=t,
        converged=converged,
    )


def _newton_update(hessian: Callable[[np.ndarray], Any]) -> Callable[..., np.ndarray]:
    """The update :math:`\\theta - H^{+} g`, the pseudo-inverse applied by least squares."""

    def update(theta: np.ndarray, g: np.ndarray) -> np.ndarray:
        H = np.asarray(hessian(theta))
        if H.shape != (theta.size, theta.size):
            raise ValueError(
                f"newton: hessian returned shape {H.shape}; expected "
                f"({theta.size}, {theta.size}) for params of shape {theta.shape}"
            )
        return theta - np.linalg.lstsq(H, g.ravel(), rcond=None)[0].reshape(theta.shape)

    return update


def gradient_descent(
    grad: Callable[[np.ndarray], Any],
    params0: Any,
    *,
    step: float,
    steps: int,
    loss: Callable[[np.ndarray], Any] | None = None,
    tol: float | None = None,
    record_params: bool = False,
    record_grad_norm: bool = False,
) -> tuple[np.ndarray, History]:
    r"""Gradient descent with a fixed step, :math:`\theta_{t+1} = \theta_t - \eta\,\nabla
    L(\theta_t)`.

    Derived in :ref:`chapter-learning-as-optimisation`: for an objective whose gradient is
    :math:`\beta`-Lipschitz, every step with :math:`\eta \le 1/\beta` lowers the loss (the
    descent lemma), and any :math:`\eta < 2/\beta` still converges on a convex quadratic.

    Parameters
    ----------
    grad : callable
        ``grad(theta)`` returns the gradient, shaped like ``theta``.
    params0 : array_like
        The start :math:`\theta_0` (copied; float32 stays float32).
    step : float
        The step :math:`\eta > 0`.
    steps : int
        The largest number of steps :math:`T`.
    loss : callable, optional
        ``loss(theta)``, recorded at every iterate (the start included) if given.
    tol : float, optional
        Stop as soon as :math:`\lVert\nabla L(\theta_t)\rVert <` ``tol`` (before stepping).
    record_params, record_grad_norm : bool, optional
        Also record every iterate / every gradient norm (default ``False``).

    Returns
    -------
    params : numpy.ndarray
        The last iterate.
    history : History
        Losses (and iterates, gradient norms) at :math:`\theta_0, \dots, \theta_T`.

    Raises
    ------
    TypeError
        If ``step``, ``steps`` or ``tol`` has the wrong type, or ``params0`` a non-real dtype.
    ValueError
        If ``step`` is not positive and finite, or ``steps`` or ``tol`` is negative.

    Examples
    --------
    >>> w, h = gradient_descent(lambda w: 2 * w, [1.0], step=0.25, steps=3)
    >>> w.tolist(), h.steps
    ([0.125], 3)
    """
    step = _checks.positive(step, "step", "gradient_descent")
    update = lambda theta, g: theta - step * g  # noqa: E731
    return _iterate(
        "gradient_descent", update, (grad, loss), params0, steps, tol, record_params,
        record_grad_norm,
    )  # fmt: skip


def newton(
    grad: Callable[[np.ndarray], Any],
    hessian: Callable[[np.ndarray], Any],
    params0: Any,
    *,
    steps: int = 50,
    loss: Callable[[np.ndarray], Any] | None = None,
    tol: float | None = 1e-12,
    record_params: bool = False,
    record_grad_norm: bool = False,
) -> tuple[np.ndarray, History]:
    r"""Newton's method, :math:`\theta_{t+1} = \theta_t - H(\theta_t)^{+}\,\nabla
    L(\theta_t)`.

    For the GLMs of the book this is iteratively reweighted least squares (IRLS): each step
    solves a least-squares problem weighted by the current variances. Near a minimiser with a
    positive definite Hessian the gradient norm is squared at every step (quadratic
    convergence); :ref:`chapter-learning-as-optimisation` and
    :ref:`chapter-softmax-multiclass` use it as an independent route to the minimiser.

    :math:`H^{+}` is the pseudo-inverse applied by a least-squares solve (``numpy.linalg.lstsq``),
    so a singular Hessian (the softmax's, along the all-ones direction) takes the
    minimum-norm step, which leaves that direction untouched.

    Parameters
    ----------
    grad : callable
        ``grad(theta)``, shaped like ``theta``.
    hessian : callable
        ``hessian(theta)``, a square matrix of side ``theta.size`` (``theta`` flattened
        row-major).
    params0 : array_like
        The start (copied).
    steps : int, optional
        The largest number of steps (default 50).
    loss, record_params, record_grad_norm
        As :func:`gradient_descent`.
    tol : float or None, optional
        Stop once the gradient norm is below ``tol`` (default 1e-12).

    Returns
    -------
    params : numpy.ndarray
        The last iterate.
    history : History
        As :func:`gradient_descent`.

    Raises
    ------
    TypeError
        As :func:`gradient_descent`, for ``steps``, ``tol`` and ``params0``.
    ValueError
        As :func:`gradient_descent`, and if ``hessian`` returns a matrix of the wrong shape.
    """
    update = _newton_update(hessian)  # theta - H(theta)^+ g, by least squares
    return _iterate(
        "newton", update, (grad, loss), params0, steps, tol, record_params, record_grad_norm
    )


_METHODS = ("gd", "newton")


def _fit(func, method, params0, options, public, kernel, default_step):
    """Shared body of the ``fit_*`` functions.

    ``options``: their ``(step, steps, tol, record_loss, record_params, record_grad_norm)``;
    ``public = (loss, grad, hessian)``: the model's public functions at the fixed data
    (``hessian`` None where there is no Newton method); ``kernel``: the same model from
    :mod:`nllkit._glm`, which takes the steps after the start (inputs are checked once).
    """
    step, steps, tol, record_loss, record_params, record_grad_norm = options
    loss, grad, hessian = public
    if (
        not isinstance(method, str)
        or method not in _METHODS
        or (method == "newton" and hessian is None)
    ):
        allowed = "'gd'" if hessian is None else "'gd' or 'newton'"
        raise ValueError(f"{func}: method={method!r}; expected {allowed}")
    start = (grad, loss if record_loss else None)
    model = (kernel.grad, kernel.loss if record_loss else None)
    if method == "newton":
        return _iterate(
            "newton", _newton_update(hessian), model, params0, 50 if steps is None else steps,
            1e-12 if tol is None else tol, record_params, record_grad_norm, start,
        )  # fmt: skip
    if steps is None:
        raise ValueError(f"{func}: steps is required for method='gd'")
    step = _checks.positive(default_step() if step is None else step, "step", "gradient_descent")
    return _iterate(
        "gradient_descent", lambda theta, g: theta - step * g, model, params0, steps, tol,
        record_params, record_grad_norm, start,
    )  # fmt: skip


def _public(X, y, nll, grad, hessian=None, **kw):
    """The public ``(nll, grad, hessian)`` of a model at fixed data, functions of the weights."""
    return (
        lambda p: nll(p, X, y, **kw),
        lambda p: grad(p, X, y, **kw),
        None if hessian is None else lambda p: hessian(p, X, y, **kw),
    )


def _lambda_max(X: np.ndarray) -> float:
    """Largest eigenvalue of :math:`X^{\\mathsf T}X/N`."""
    return float(np.linalg.eigvalsh(X.T @ X).max()) / X.shape[0]


#: The blocks ``{fit_options}``, ``{fit_loop}`` and ``{fit_result}`` of the fit_* docstrings.
_FIT_DOCS = {
    "fit_options": """method : {{"gd", "newton"}}, optional
    Gradient descent (default) or Newton's method (a start without batch axis).
step : float, optional
    Gradient-descent step (default :math:`1/\\beta`, see above).
{{fit_loop}}""",
    "fit_loop": """steps : int, optional
    Number of steps; required for ``"gd"``, default 50 for ``"newton"``.
tol : float, optional
    Stop once the gradient norm is below it (default: none for ``"gd"``, 1e-12 for
    ``"newton"``).
record_loss : bool, optional
    Record the loss at every iterate (default ``True``; ``False`` halves the work).
record_params, record_grad_norm : bool, optional
    As :func:`gradient_descent`.""",
    "fit_result": """Returns
-------
{params} : numpy.ndarray
    The fitted weights.
history : History
    ``history.loss[t]`` is :func:`{nll}` after ``t`` steps.

Raises
------
TypeError
    As :func:`{nll}` and :func:`gradient_descent`.
ValueError
    As :func:`{nll}` and :func:`gradient_descent`, for an unknown ``method``,
    and for gradient descent without ``{missing}``.""",
}


@_docs.fill(_FIT_DOCS, nll="logistic_nll", params="w", missing="steps")
def fit_logistic(
    X: Any,
    y: Any,
    *,
    w0: Any = None,
    l2: Any = 0.0,
    smoothing: Any = 0.0,
    method: str = "gd",
    step: float | None = None,
    steps: int | None = None,
    tol: float | None = None,
    record_loss: bool = True,
    record_params: bool = False,
    record_grad_norm: bool = False,
) -> tuple[np.ndarray, History]:
    r"""Fit logistic regression (:func:`logistic_nll`) by gradient descent or Newton (IRLS).

    The default step is :math:`1/\beta` with :math:`\beta = \lambda_{\max}(X^{\mathsf T}X)/(4N)
    + \lambda`, the bound on the Hessian's eigenvalues derived in
    :ref:`chapter-learning-as-optimisation` (:math:`\sigma' \le 1/4`); with it the loss falls
    at every step. ``l2`` and ``smoothing`` may hold one value per model of a batch ``w0`` of
    shape ``(S, d)``, so that a chapter trains its variants side by side.

    Parameters
    ----------
    X, y
        As :func:`logistic_nll`.
    w0 : array_like, optional
        The start, shape ``(d,)`` or ``(S, d)`` (default zeros).
    l2, smoothing : float or array_like, optional
        As :func:`logistic_nll`; an array gives one value per model.
    {fit_options}

    {fit_result}
    """
    func = "fit_logistic"
    X = _design(X, func)
    w0 = np.zeros(X.shape[1]) if w0 is None else w0
    w0, X, y, l2_eff = _logistic_inputs(w0, X, y, func, l2, smoothing)  # smoothed once
    return _fit(
        func, method, w0, (step, steps, tol, record_loss, record_params, record_grad_norm),
        public=_public(X, y, logistic_nll, logistic_grad, logistic_hessian, l2=l2),
        kernel=_glm.Logistic(X, y, l2_eff),
        default_step=lambda: 1.0 / (_lambda_max(X) / 4 + float(np.max(l2_eff))),
    )  # fmt: skip


@_docs.fill(_FIT_DOCS, nll="multinomial_nll", params="W", missing="steps")
def fit_multinomial(
    X: Any,
    y: Any,
    *,
    W0: Any = None,
    n_classes: int | None = None,
    l2: Any = 0.0,
    smoothing: Any = 0.0,
    method: str = "gd",
    step: float | None = None,
    steps: int | None = None,
    tol: float | None = None,
    record_loss: bool = True,
    record_params: bool = False,
    record_grad_norm: bool = False,
) -> tuple[np.ndarray, History]:
    r"""Fit multinomial (softmax) regression (:func:`multinomial_nll`).

    The default step is :math:`1/\beta` with :math:`\beta = \lambda_{\max}(X^{\mathsf
    T}X)/(2N) + \lambda`: the eigenvalues of the softmax Jacobian
    :math:`\operatorname{diag}(s) - ss^{\mathsf T}` are at most 1/2
    (:ref:`chapter-softmax-multiclass`). Newton's method takes minimum-norm steps (the Hessian
    is singular without ``l2``), so from ``W0 = 0`` every row of :math:`W` keeps summing to
    zero (:ref:`chapter-softmax-multiclass`). ``l2`` and ``smoothing`` may hold one value per
    model of a batch ``W0`` of shape ``(S, d, K)``.

    Parameters
    ----------
    X, y
        As :func:`multinomial_nll`.
    W0 : array_like, optional
        The start, shape ``(d, K)`` or ``(S, d, K)`` (default zeros).
    n_classes : int, optional
        :math:`K` when ``W0`` is not given (default: ``y.max() + 1`` for class indices, the
        number of columns for probabilities).
    l2, smoothing : float or array_like, optional
        As :func:`multinomial_nll`; an array gives one value per model.
    {fit_options}

    {fit_result}
    """
    func = "fit_multinomial"
    X = _design(X, func)
    if W0 is None:
        y_arr = np.asarray(y)
        if n_classes is None:
            index = y_arr.ndim == 1 and y_arr.dtype.kind in "iu" and y_arr.size > 0
            n_classes = int(y_arr.max()) + 1 if index else y_arr.shape[-1]
        W0 = np.zeros((X.shape[1], _checks.integer(n_classes, "n_classes", func)))
    W0, X, y, l2_eff = _multinomial_inputs(W0, X, y, func, l2, smoothing)  # smoothed once
    return _fit(
        func, method, W0, (step, steps, tol, record_loss, record_params, record_grad_norm),
        public=_public(X, y, multinomial_nll, multinomial_grad, multinomial_hessian, l2=l2),
        kernel=_glm.Multinomial(X, y, l2_eff),
        default_step=lambda: 1.0 / (_lambda_max(X) / 2 + float(np.max(l2_eff))),
    )  # fmt: skip


@_docs.fill(_FIT_DOCS, nll="linear_gaussian_nll", params="w", missing="steps")
def fit_linear_gaussian(
    X: Any,
    y: Any,
    *,
    var: float = 1.0,
    w0: Any = None,
    l2: Any = 0.0,
    method: str = "gd",
    step: float | None = None,
    steps: int | None = None,
    tol: float | None = None,
    record_loss: bool = True,
    record_params: bool = False,
    record_grad_norm: bool = False,
) -> tuple[np.ndarray, History]:
    r"""Fit linear regression with a fixed noise variance (:func:`linear_gaussian_nll`).

    The default step is :math:`1/\beta`, :math:`\beta` the largest eigenvalue of the constant
    Hessian (:func:`linear_gaussian_hessian`, with the largest ``l2``); Newton's method reaches
    the least-squares (ridge) solution in one step. Derived in
    :ref:`chapter-negative-log-likelihood`.

    Parameters
    ----------
    X, y, var
        As :func:`linear_gaussian_nll`.
    w0 : array_like, optional
        The start, shape ``(d,)`` or ``(S, d)`` (default zeros).
    l2 : float or array_like, optional
        As :func:`linear_gaussian_nll`; an array gives one value per model.
    {fit_options}

    {fit_result}
    """
    func = "fit_linear_gaussian"
    X = _design(X, func)
    w0 = np.zeros(X.shape[1]) if w0 is None else w0
    w0, X, y, var, l2_eff = _linear_inputs(w0, X, y, var, l2, func)
    curvature = linear_gaussian_hessian(X, var=var, l2=float(np.max(l2_eff)))
    nll, grad, _ = _public(X, y, linear_gaussian_nll, linear_gaussian_grad, var=var, l2=l2)
    return _fit(
        func, method, w0, (step, steps, tol, record_loss, record_params, record_grad_norm),
        public=(nll, grad, lambda w: curvature),
        kernel=_glm.LinearGaussian(X, y, var, l2_eff),
        default_step=lambda: 1.0 / float(np.linalg.eigvalsh(curvature).max()),
    )  # fmt: skip


def fit_heteroscedastic_gaussian(
    X: Any,
    y: Any,
    *,
    step: float,
    steps: int,
    params0: Any = None,
    beta: Any = 0.0,
    l2: Any = 0.0,
    tol: float | None = None,
    record_loss: bool = True,
    record_params: bool = False,
    record_grad_norm: bool = False,
) -> tuple[np.ndarray, History]:
    r"""Fit the mean and log-variance heads (:func:`heteroscedastic_gaussian_nll`) by gradient
    descent.

    The loss is not convex in both heads together, and its curvature grows without bound as a
    variance shrinks, so there is no safe default step: ``step`` is required. For
    :math:`\beta > 0` the update is the :math:`\beta`-NLL's stop-gradient field, which is not
    the gradient of any function; ``history.loss`` records the :math:`\beta`-weighted value.
    Derived in :ref:`chapter-negative-log-likelihood`.

    Parameters
    ----------
    X, y
        As :func:`heteroscedastic_gaussian_nll`.
    step, steps, tol, record_params, record_grad_norm
        As :func:`gradient_descent`.
    params0 : array_like, optional
        The start, shape ``(2, d)`` or ``(S, 2, d)`` (default zeros: mean 0, variance 1).
    beta, l2 : float or array_like, optional
        As :func:`heteroscedastic_gaussian_nll`; an array gives one value per model.
    record_loss : bool, optional
        As :func:`fit_logistic`.

    Returns
    -------
    params : numpy.ndarray
        The last iterate, shape of ``params0``.
    history : History
        As :func:`gradient_descent`.

    Raises
    ------
    TypeError
        As :func:`heteroscedastic_gaussian_nll` and :func:`gradient_descent`.
    ValueError
        As :func:`heteroscedastic_gaussian_nll` and :func:`gradient_descent`.
    """
    func = "fit_heteroscedastic_gaussian"
    X = _design(X, func)
    params0 = np.zeros((2, X.shape[1])) if params0 is None else params0
    params0, X, y, beta_eff, l2_eff = _hetero_inputs(params0, X, y, beta, l2, func)
    public = _public(
        X, y, heteroscedastic_gaussian_nll, heteroscedastic_gaussian_grad, beta=beta, l2=l2
    )
    return _fit(
        func, "gd", params0, (step, steps, tol, record_loss, record_params, record_grad_norm),
        public, kernel=_glm.HeteroscedasticGaussian(X, y, beta_eff, l2_eff), default_step=None,
    )  # fmt: skip


@_docs.fill(_FIT_DOCS, nll="poisson_nll", params="w", missing="step")
def fit_poisson(
    X: Any,
    y: Any,
    *,
    w0: Any = None,
    l2: Any = 0.0,
    method: str = "newton",
    step: float | None = None,
    steps: int | None = None,
    tol: float | None = None,
    record_loss: bool = True,
    record_params: bool = False,
    record_grad_norm: bool = False,
) -> tuple[np.ndarray, History]:
    r"""Fit Poisson regression with the log link (:func:`poisson_nll`).

    Newton's method (IRLS) is the default: the Hessian :math:`X^{\mathsf T}
    \operatorname{diag}(\lambda)X/N` grows with the predicted means, so no step is safe
    everywhere, and gradient descent needs a ``step`` chosen for the data. Derived in
    :ref:`chapter-softmax-multiclass`.

    Parameters
    ----------
    X, y
        As :func:`poisson_nll`.
    w0 : array_like, optional
        The start, shape ``(d,)`` (default zeros: every mean 1).
    l2 : float or array_like, optional
        As :func:`poisson_nll`; an array gives one value per model.
    method : {"newton", "gd"}, optional
        Newton's method (default) or gradient descent (``step`` and ``steps`` required).
    step : float, optional
        Gradient-descent step (required for ``"gd"``: there is no safe default, see above).
    {fit_loop}

    {fit_result}
    """
    func = "fit_poisson"
    X = _design(X, func)
    w0 = np.zeros(X.shape[1]) if w0 is None else w0
    w0, X, y, l2_eff = _poisson_inputs(w0, X, y, l2, func)

    def no_default_step() -> float:
        raise ValueError(f"{func}: step is required for method='gd'")

    return _fit(
        func, method, w0, (step, steps, tol, record_loss, record_params, record_grad_norm),
        public=_public(X, y, poisson_nll, poisson_grad, poisson_hessian, l2=l2),
        kernel=_glm.Poisson(X, y, l2_eff), default_step=no_default_step,
    )  # fmt: skip
