r"""The fitters' fast path: the models of :mod:`nllkit.models` on inputs checked once.

Every public function of :mod:`nllkit.models` checks its arguments, and so do the per-example
losses and gradients it calls (:mod:`nllkit.losses`, :mod:`nllkit.gradients`). A fit calls
them once a step with the same ``X`` and ``y``: in chapter 5's run of 31 623 steps most of the
time went to checking them again. So the ``fit_*`` functions check their inputs at entry,
evaluate the start with the public functions (bad input fails there, with their messages),
and take every later step with the kernels below.

A kernel performs the floating-point operations of its public function, on arrays of the same
layout, in the same order; it leaves out only the checks and the conversions that change
nothing on checked input (the same transcendental function on a differently laid-out array
could take another SIMD path, so even constant arrays are broadcast as the public function
broadcasts them). A fit therefore gives the same bits either way, which
``tests/test_models.py`` checks with ``np.array_equal`` for every kernel (batches of models,
``l2``, ``smoothing``, ``beta``, float32).

Newton's method keeps the public Hessians: one per step, next to a least-squares solve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .losses import _HALF_LOG_2PI, _gaussian_inputs, _times
from .numerics import _log_partition, sigmoid, softmax


def penalty(w: np.ndarray, l2: Any, core: int) -> Any:
    """The penalty (l2 / 2) * ||w||^2, one per model of a batch (``core`` axes a model)."""
    square = np.sum(w * w, axis=tuple(range(w.ndim - core, w.ndim)))
    return 0.5 * (l2 if np.ndim(l2) == 0 else l2.reshape(-1)) * square


def per_example(value: Any) -> Any:
    """A per-model value shaped ``(S, 1, ...)`` (or a number), shaped ``(S, 1)`` against
    per-example arrays ``(S, N)``."""
    return value if np.ndim(value) == 0 else value.reshape(-1, 1)


def _float64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64, copy=False)


class Logistic:
    """Mean binary cross-entropy of :math:`z = Xw` and its gradient
    :math:`X^{\\mathsf T}(\\sigma(z) - y)/N + \\lambda w` (``logistic_nll``/``_grad``).

    ``y``: the (smoothed) targets, shape ``(N,)`` or ``(S, N)``; ``l2``: a number or ``(S, 1)``.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, l2: Any) -> None:
        self.X, self.y, self.y64, self.l2 = X, y, _float64(y), l2

    def loss(self, w: np.ndarray) -> Any:
        z = w @ self.X.T
        z64 = _float64(z)
        with np.errstate(all="ignore"):  # binary_cross_entropy_with_logits(z, y, "none")
            terms = np.log1p(np.exp(-np.abs(z64)))
            terms += _times(self.y64, np.maximum(-z64, 0.0))
            terms += _times(1.0 - self.y64, np.maximum(z64, 0.0))
        nll = terms.astype(np.result_type(z, self.y), copy=False).mean(axis=-1)
        return nll + penalty(w, self.l2, core=1)

    def grad(self, w: np.ndarray) -> np.ndarray:
        z = w @ self.X.T
        residual = sigmoid(_float64(z)) - self.y64  # binary_cross_entropy_with_logits_grad
        residual = residual.astype(np.result_type(z, self.y), copy=False)
        return residual @ self.X / self.X.shape[0] + self.l2 * w


class Multinomial:
    """Mean cross-entropy of :math:`Z = XW` and its gradient
    :math:`X^{\\mathsf T}(\\operatorname{softmax}(Z) - Y)/N + \\lambda W`.

    ``y``: class indices shaped like ``Z.shape[:-1]``, or probabilities shaped like ``Z``
    (as ``_multinomial_inputs`` broadcasts them); ``l2``: a number or ``(S, 1, 1)``.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, l2: Any) -> None:
        self.X, self.l2 = X, l2
        self.index = y.dtype.kind in "iu"
        if self.index:  # as cross_entropy reads them: flat int64 indices, or (n, K) rows
            self.t, self.dtype = y.astype(np.int64, copy=False).reshape(-1), None
        else:
            self.t = np.ascontiguousarray(y, dtype=np.float64).reshape(-1, y.shape[-1])
            self.mass, self.dtype = self.t.sum(axis=1), y.dtype

    def _rows(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.dtype]:
        Z = self.X @ W
        dtype = Z.dtype if self.index else np.result_type(Z, self.dtype)
        return Z, np.ascontiguousarray(Z, dtype=np.float64).reshape(-1, Z.shape[-1]), dtype

    def loss(self, W: np.ndarray) -> Any:
        Z, rows, dtype = self._rows(W)
        if self.index:  # cross_entropy(Z, y, "none"): log-partition minus the target's logit
            _, m, terms, _ = _log_partition(rows, compensate=True)
            with np.errstate(all="ignore"):
                terms += m - rows[np.arange(rows.shape[0]), self.t]
        else:
            _, _, log_tail, gaps = _log_partition(rows, compensate=True, weights=self.t)
            terms = log_tail * self.mass + gaps
        nll = terms.reshape(Z.shape[:-1]).astype(dtype, copy=False).mean(axis=-1)
        return nll + penalty(W, self.l2, core=2)

    def grad(self, W: np.ndarray) -> np.ndarray:
        Z, rows, dtype = self._rows(W)
        residual = softmax(rows)  # cross_entropy_grad(Z, y, "sum"): softmax minus target
        if self.index:
            residual[np.arange(rows.shape[0]), self.t] -= 1.0
        else:
            residual *= self.mass[:, None]
            residual -= self.t
        residual = residual.reshape(Z.shape).astype(dtype, copy=False)
        return self.X.T @ residual / self.X.shape[0] + self.l2 * W


def _gaussian_arrays(y, mean, var):
    """``(y, mean, var)`` in float64, broadcast as :func:`~nllkit.gaussian_nll` does, and the
    result's dtype."""
    shape = np.broadcast_shapes(y.shape, mean.shape, var.shape)
    arrays = (np.broadcast_to(_float64(a), shape) for a in (y, mean, var))
    return *arrays, np.result_type(y, mean, var)


def _gaussian_nll(y, mean, var):
    """``gaussian_nll(y, mean, var, reduction="none")`` on checked arrays."""
    y64, m64, v64, dtype = _gaussian_arrays(y, mean, var)
    resid = y64 - m64
    terms = np.log(v64)
    terms += resid * resid / v64
    terms *= 0.5
    terms += _HALF_LOG_2PI
    return terms.astype(dtype, copy=False)


class LinearGaussian:
    """Mean Gaussian NLL of the mean :math:`\\mu = Xw` with a fixed variance and its gradient
    :math:`X^{\\mathsf T}(\\mu - y)/(N\\sigma^2) + \\lambda w`."""

    def __init__(self, X: np.ndarray, y: np.ndarray, var: float, l2: Any) -> None:
        self.X, self.y, self.l2 = X, y, l2
        self.var = np.asarray(var, dtype=np.float64)  # a 0-d array, as gaussian_nll sees it

    def loss(self, w: np.ndarray) -> Any:
        nll = _gaussian_nll(self.y, w @ self.X.T, self.var).mean(axis=-1)
        return nll + penalty(w, self.l2, core=1)

    def grad(self, w: np.ndarray) -> np.ndarray:
        y64, m64, v64, dtype = _gaussian_arrays(self.y, w @ self.X.T, self.var)
        d_mean = ((m64 - y64) / v64).astype(dtype, copy=False)  # gaussian_nll_grad's d_mean
        return d_mean @ self.X / self.X.shape[0] + self.l2 * w


class HeteroscedasticGaussian:
    """The (beta-)NLL of :math:`\\mu = Xw_\\mu`, :math:`s = e^{Xw_s}` and its stop-gradient
    field; ``beta`` and ``l2`` are numbers or ``(S, 1, 1)``."""

    def __init__(self, X: np.ndarray, y: np.ndarray, beta: Any, l2: Any) -> None:
        self.X, self.y, self.beta, self.l2 = X, y, beta, l2

    def _heads(self, params: np.ndarray, func: str) -> tuple[np.ndarray, np.ndarray]:
        mu, s = params[..., 0, :] @ self.X.T, np.exp(params[..., 1, :] @ self.X.T)
        if not np.all((s > 0) & (s < np.inf)):  # a variance under- or overflowed:
            _gaussian_inputs(self.y, mu, s, func)  # the public check raises its message
        return mu, s

    def loss(self, params: np.ndarray) -> Any:
        mu, s = self._heads(params, "gaussian_nll")
        weighted = s ** per_example(self.beta) * _gaussian_nll(self.y, mu, s)
        return weighted.mean(axis=-1) + penalty(params, self.l2, core=2)

    def grad(self, params: np.ndarray) -> np.ndarray:
        mu, s = self._heads(params, "gaussian_nll_grad")
        y64, m64, v64, dtype = _gaussian_arrays(self.y, mu, s)
        resid = m64 - y64  # gaussian_nll_grad(y, mu, s, "none")
        d_mean = (resid / v64).astype(dtype, copy=False)
        d_var = (0.5 * (1.0 - resid * resid / v64) / v64).astype(dtype, copy=False)
        weight = s ** per_example(self.beta)
        heads = np.stack([weight * d_mean, weight * d_var * s], axis=-2)
        return heads @ self.X / self.X.shape[0] + self.l2 * params


class Poisson:
    """Mean Poisson NLL of the log-rates :math:`z = Xw` (without :math:`\\log y!`) and its
    gradient :math:`X^{\\mathsf T}(e^z - y)/N + \\lambda w`."""

    def __init__(self, X: np.ndarray, y: np.ndarray, l2: Any) -> None:
        self.X, self.y, self.l2 = X, y, l2

    def loss(self, w: np.ndarray) -> Any:
        z = w @ self.X.T
        return np.mean(np.exp(z) - self.y * z, axis=-1) + penalty(w, self.l2, core=1)

    def grad(self, w: np.ndarray) -> np.ndarray:
        return (np.exp(w @ self.X.T) - self.y) @ self.X / self.X.shape[0] + self.l2 * w
