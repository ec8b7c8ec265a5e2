r"""Negative log-likelihood losses and the information quantities behind them.

Derived in :ref:`chapter-negative-log-likelihood` (NLL of a Gaussian),
:ref:`chapter-cross-entropy-kl` (entropy, cross-entropy, KL),
:ref:`chapter-sigmoid-logistic-regression` (binary cross-entropy with logits) and
:ref:`chapter-softmax-multiclass` (cross-entropy with logits).

Conventions:

* Every loss takes ``reduction="mean" | "sum" | "none"`` (default ``"mean"``). ``"none"`` returns
  the per-example losses (a numpy scalar for a single example); ``"mean"`` averages over all of
  them (for :func:`cross_entropy`: over all rows, i.e. over ``logits.shape[:-1]``).
* float32 and float64 are preserved (the result is float64 if any input is), integers and bools
  become float64, other dtypes raise ``TypeError``.
* Targets and probabilities are validated: a value outside [0, 1], a probability vector that does
  not sum to 1, a class index out of range, a non-positive variance or shapes that do not
  broadcast raise ``ValueError`` naming the argument, the index and the value. NaN *logits* (or
  ``y``/``mean`` of :func:`gaussian_nll`) propagate to NaN losses, as in
  :mod:`nllkit.numerics`.
* A probability vector must satisfy :math:`|\sum_j p_j - 1| \le \max(10^{-6}, 1024\,\varepsilon)`
  where :math:`\varepsilon` is the machine epsilon of its dtype: 1e-6 for float64, about 1.2e-4
  for float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Input checking and the engineering beneath the formulas live in private modules; the names
# of earlier versions stay importable from here.
from ._elementwise import _log_ratio, _times
from ._logsumexp import _log_partition
from ._validation import (  # noqa: F401
    _bce_inputs,
    _cross_entropy_inputs,
    _distributions,
    _gaussian_inputs,
    as_float_array,
    broadcast_shape,
    check_in_unit_interval,
    check_probability_vectors,
    check_reduction,
    first_index,
    normalise_axis,
    reduce,
    result_dtype,
    scalar_or_array,
)

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "entropy",
    "gaussian_nll",
    "kl_divergence",
]

_HALF_LOG_2PI = 0.5 * float(np.log(2.0 * np.pi))


# --------------------------------------------------------------------------------------------
# Binary cross-entropy


def binary_cross_entropy_with_logits(logits: Any, targets: Any, reduction: str = "mean") -> Any:
    r"""Binary cross-entropy of Bernoulli targets under :math:`p = \sigma(z)`, from logits.

    .. math:: \ell(z, y) = -y\log\sigma(z) - (1-y)\log(1-\sigma(z))
              = y\,\operatorname{softplus}(-z) + (1-y)\operatorname{softplus}(z).

    Derived in :ref:`chapter-sigmoid-logistic-regression` as the negative log-likelihood of
    logistic regression.

    Parameters
    ----------
    logits : array_like
        Real logits :math:`z`.
    targets : array_like
        Targets :math:`y \in [0, 1]` (hard 0/1 labels or soft probabilities), broadcastable with
        ``logits``.
    reduction : {"mean", "sum", "none"}, optional
        How to combine the elementwise losses (default ``"mean"``, over all elements of the
        broadcast shape).

    Returns
    -------
    numpy.ndarray or numpy scalar
        The losses (``"none"``, broadcast shape) or their mean/sum.

    Raises
    ------
    TypeError
        If an input has a non-real dtype.
    ValueError
        If a target is outside [0, 1] or NaN, if the shapes do not broadcast, or if
        ``reduction`` is unknown.

    Notes
    -----
    Write :math:`c = \operatorname{log1p}(e^{-|z|}) \in (0, \log 2]`. Since
    :math:`\operatorname{softplus}(\pm z) = \max(\pm z, 0) + c`,

    .. math:: \ell(z, y) = c + y\max(-z, 0) + (1-y)\max(z, 0),

    a sum of three non-negative terms, so nothing cancels for any target — unlike the common
    :math:`\max(z,0) - zy + c`, which loses all relative accuracy when :math:`z \gg 0` and
    :math:`y = 1`. With hard targets the weights are exactly 0 or 1 and the loss is a softplus
    (≤ 1 ULP); with soft targets the extra roundings of :math:`1-y` and the products keep it
    within 2 ULP. The convention :math:`0\cdot\infty = 0` gives ``ℓ(inf, 1) = 0``.
    """
    func = "binary_cross_entropy_with_logits"
    reduction = check_reduction(reduction, func)
    z, y, dtype = _bce_inputs(logits, targets, func)
    loss = np.log1p(np.exp(-np.abs(z)))  # c = log1p(e^{-|z|})
    loss += _times(y, np.maximum(-z, 0.0))  # + y max(-z, 0)
    loss += _times(1.0 - y, np.maximum(z, 0.0))  # + (1 - y) max(z, 0)
    return reduce(loss.astype(dtype, copy=False), reduction)


# --------------------------------------------------------------------------------------------
# Cross-entropy with logits


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Cross-entropy of a categorical target under :math:`\operatorname{softmax}(z)`, from logits.

    .. math:: \ell(z, t) = -\log\operatorname{softmax}(z)_t, \qquad
              \ell(z, p) = -\sum_j p_j \log\operatorname{softmax}(z)_j.

    Derived in :ref:`chapter-softmax-multiclass` as the negative log-likelihood of multinomial
    logistic regression, and in :ref:`chapter-cross-entropy-kl` as :math:`H(p, q)`.

    Parameters
    ----------
    logits : array_like
        Logits of shape ``(..., K)``, classes on the last axis.
    target : array_like
        Either **integer** class indices of shape ``logits.shape[:-1]`` with values in
        ``[0, K-1]``, or **float** probabilities of shape ``logits.shape`` whose rows sum to 1.
        A float array is always read as probabilities, even if its values are whole numbers
        (pass ``target.astype(int)`` for indices); bool targets are rejected.
    reduction : {"mean", "sum", "none"}, optional
        ``"none"`` gives one loss per row (shape ``logits.shape[:-1]``); ``"mean"`` (default)
        averages over the rows, ``"sum"`` adds them.

    Returns
    -------
    numpy.ndarray or numpy scalar
        The per-row losses or their mean/sum.

    Raises
    ------
    TypeError
        If ``logits`` or ``target`` has an unsupported dtype (complex, object, bool target, …).
    ValueError
        If a class index is out of range, an index array has the wrong shape, probabilities are
        outside [0, 1] or a row does not sum to 1 (tolerance in the module docstring), or
        ``reduction`` is unknown.

    Notes
    -----
    With :math:`m = z_{j^*}` the row maximum and
    :math:`L = \operatorname{log1p}(\sum_{j\ne j^*} e^{z_j - m})` (as in
    :func:`~nllkit.log_softmax`),

    .. math:: \ell(z, t) = L + (m - z_t), \qquad
              \ell(z, p) = L\sum_j p_j + \sum_j p_j (m - z_j).

    Every term is non-negative, so nothing cancels, and when the target class leads by more
    than 37 the loss is the tiny :math:`L` itself rather than the exact 0 of torch — down to
    the subnormal losses of a lead beyond 708, whose tail of subnormal terms is summed in
    double-double, scaled by :math:`2^{1010}`, and rounded once (as in
    :func:`~nllkit.logsumexp`). The
    convention :math:`0\cdot\infty = 0` lets a class with probability 0 have a ``-inf`` logit.
    """
    func = "cross_entropy"
    reduction = check_reduction(reduction, func)
    rows, t, is_index, dtype, batch = _cross_entropy_inputs(logits, target, func)
    n, _ = rows.shape
    if is_index:  # L + (m - z_t)
        _, m, loss, _ = _log_partition(rows, compensate=True)
        with np.errstate(all="ignore"):  # a +inf logit: inf - inf is NaN, quietly
            loss += m - rows[np.arange(n), t]
    else:  # L sum_j p_j + sum_j p_j (m - z_j)
        _, _, log_tail, gaps = _log_partition(rows, compensate=True, weights=t)
        loss = log_tail * t.sum(axis=1) + gaps
    return reduce(loss.reshape(batch).astype(dtype, copy=False), reduction)


# --------------------------------------------------------------------------------------------
# Gaussian negative log-likelihood


def gaussian_nll(y: Any, mean: Any, var: Any, full: bool = True, reduction: str = "mean") -> Any:
    r"""Negative log-likelihood of :math:`y` under :math:`\mathcal N(\mu, \sigma^2)`.

    .. math:: \ell(y; \mu, \sigma^2) = \tfrac12\Big[\log\sigma^2 + \frac{(y-\mu)^2}{\sigma^2}\Big]
              + \tfrac12\log 2\pi \quad(\text{the last term only if } \texttt{full}).

    Derived in :ref:`chapter-negative-log-likelihood` (with constant variance it is squared error
    up to an affine map; with learned variance it is the heteroscedastic loss).

    Parameters
    ----------
    y : array_like
        Observations.
    mean : array_like
        Predicted means :math:`\mu`, broadcastable with ``y``.
    var : array_like
        Predicted variances :math:`\sigma^2 > 0`, broadcastable with ``y``.
    full : bool, optional
        Include the constant :math:`\tfrac12\log 2\pi` (default ``True``: the true NLL, in
        nats).
    reduction : {"mean", "sum", "none"}, optional
        How to combine the elementwise losses (default ``"mean"``, over all elements of the
        broadcast shape).

    Returns
    -------
    numpy.ndarray or numpy scalar
        The losses or their mean/sum.

    Raises
    ------
    TypeError
        If an input has a non-real dtype.
    ValueError
        If a variance is :math:`\le 0`, infinite or NaN (never clamped), if the shapes do not
        broadcast, or if ``reduction`` is unknown.

    Notes
    -----
    Evaluated directly; :math:`\log\sigma^2` and :math:`(y-\mu)^2/\sigma^2` are both accurate
    and the formula has no cancellation beyond that of :math:`y - \mu` itself.

    Differences from ``torch.nn.GaussianNLLLoss`` (checked in ``tests/test_losses.py``):

    * torch's default is ``full=False``: it omits :math:`\tfrac12\log 2\pi`, so its value is not
      the negative log-likelihood (it can be negative for small variances either way);
    * torch silently clamps the variance to at least ``eps=1e-6`` (a variance of ``1e-8`` is
      scored as ``1e-6``), whereas here a tiny variance is used as given and a non-positive one
      is an error;
    * torch raises for a negative variance but accepts zero (clamped to ``eps``);
    * torch's ``reduction="mean"`` also averages over all elements, like ours; its ``var`` may
      have one dimension fewer than ``input`` (a trailing 1 is added), while here the ordinary
      numpy broadcasting rules apply.
    """
    func = "gaussian_nll"
    reduction = check_reduction(reduction, func)
    y64, m64, v64, dtype = _gaussian_inputs(y, mean, var, func)
    resid = y64 - m64
    loss = np.log(v64)
    loss += resid * resid / v64
    loss *= 0.5
    if full:
        loss += _HALF_LOG_2PI
    return reduce(loss.astype(dtype, copy=False), reduction)


# --------------------------------------------------------------------------------------------
# Entropy and KL divergence


def entropy(p: Any, axis: int = -1) -> Any:
    r"""Shannon entropy :math:`H(p) = -\sum_j p_j \log p_j` in nats, along ``axis``.

    Derived in :ref:`chapter-cross-entropy-kl`.

    Parameters
    ----------
    p : array_like
        Probability vectors along ``axis``: entries in [0, 1] summing to 1 (tolerance in the
        module docstring).
    axis : int, optional
        The axis of the distribution, default the last.

    Returns
    -------
    numpy.ndarray or numpy scalar
        :math:`H(p) \ge 0`, with ``axis`` removed.

    Raises
    ------
    TypeError
        If ``p`` has a non-real dtype or ``axis`` is not an int.
    ValueError
        If ``p`` is a scalar, ``axis`` is out of range, an entry is outside [0, 1] or NaN, or a
        vector does not sum to 1.

    Notes
    -----
    Uses :math:`0\log 0 = 0` (the limit). Every term :math:`-p_j\log p_j` is non-negative, so
    the sum does not cancel: the relative error is that of ``log`` and a product per term plus
    the summation, a few ULP.
    """
    func = "entropy"
    moved = _distributions(p, "p", axis, func)
    p64 = moved.astype(np.float64, copy=False)
    logp = np.log(np.where(p64 > 0, p64, 1.0))
    h = -(p64 * logp).sum(axis=-1)
    return scalar_or_array(np.abs(h).astype(moved.dtype, copy=False))


def kl_divergence(p: Any, q: Any, axis: int = -1) -> Any:
    r"""Kullback–Leibler divergence :math:`\mathrm{KL}(p\,\|\,q) = \sum_j p_j\log(p_j/q_j)` in nats.

    Derived in :ref:`chapter-cross-entropy-kl`, where
    :math:`H(p, q) = H(p) + \mathrm{KL}(p\,\|\,q)` shows that minimising cross-entropy minimises
    KL.

    Parameters
    ----------
    p, q : array_like
        Probability vectors along ``axis`` (entries in [0, 1], sums 1 within the tolerance of the
        module docstring), broadcastable with each other.
    axis : int, optional
        The axis of the distributions, default the last.

    Returns
    -------
    numpy.ndarray or numpy scalar
        :math:`\mathrm{KL}(p\,\|\,q) \ge 0`, with ``axis`` removed; ``inf`` where some
        :math:`q_j = 0 < p_j`.

    Raises
    ------
    TypeError
        If ``p`` or ``q`` has a non-real dtype or ``axis`` is not an int.
    ValueError
        If an input is a scalar, ``axis`` is out of range, the shapes do not broadcast, an entry
        is outside [0, 1] or NaN, or a vector does not sum to 1.

    Notes
    -----
    Terms with :math:`p_j = 0` are 0. Where :math:`q_j/2 \le p_j \le 2q_j`, the difference
    :math:`p_j - q_j` is exact (Sterbenz's lemma) and
    :math:`\log(p_j/q_j) = \operatorname{log1p}((p_j - q_j)/q_j)` keeps its relative accuracy
    when :math:`p_j \approx q_j`; elsewhere :math:`\log(p_j/q_j)` is used directly. The terms
    can have both signs, so the error bound (a few ULP) holds for well-conditioned inputs
    (:math:`\mathrm{KL}` not tiny compared with :math:`\sum_j p_j|\log(p_j/q_j)|`). A negative
    sum can only come from rounding (or from the allowed tolerance on the sums) and is returned
    as 0, so :math:`\mathrm{KL} \ge 0` always and :math:`\mathrm{KL}(p\,\|\,p) = 0` exactly.
    """
    func = "kl_divergence"
    pm = _distributions(p, "p", axis, func)
    qm = _distributions(q, "q", axis, func)
    broadcast_shape(func, p=pm, q=qm)
    dtype = result_dtype(pm, qm)
    p64 = pm.astype(np.float64, copy=False)
    q64 = qm.astype(np.float64, copy=False)
    kl = _times(p64, _log_ratio(p64, q64)).sum(axis=-1)  # sum_j p_j log(p_j / q_j)
    return scalar_or_array(np.maximum(kl, 0.0).astype(dtype, copy=False))
