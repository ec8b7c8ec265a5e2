r"""Small seeded data sets: the clouds, regressions and counts the chapters draw.

Every generator takes ``rng``: a ``numpy.random.Generator`` (a chapter passes the ``rng`` its
set-up cell got from :func:`nllkit.seed`, so the data come from the chapter's own stream) or a
non-negative integer seed, which gives ``numpy.random.default_rng(seed)`` -- the generator
:func:`nllkit.seed` returns, without seeding anything global. No generator touches numpy's,
Python's or torch's global state.

Each generator documents its draws, in order. Given the same generator state it draws exactly
what the chapter's own code drew (same calls, same order, same arithmetic), so a chapter that
switches to it keeps its data bit for bit; the docstrings name the chapters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks, _docs
from ._validation import as_float_array
from .numerics import sigmoid

__all__ = [
    "binary_clouds",
    "binomial_mixture",
    "categorical",
    "class_clouds",
    "heteroscedastic_regression",
    "linear_regression_data",
    "logistic_regression_data",
    "poisson_regression_data",
    "xor_clouds",
]

#: The blocks ``{rng}`` and ``{design}`` (the parameters of the regression generators that
#: draw a design matrix) of the docstrings.
_DOCS = {
    "rng": """rng : numpy.random.Generator or int
    The generator, or a seed.""",
    "design": """Parameters
----------
n : int
    Number of examples.
w : array_like
    The true weights, one per column of ``X`` (the bias included).
{{rng}}
bias : {bias}, optional
    Where ``X`` gets its column of ones (default {default}).""",
}

#: The corners of the XOR set; label 1 on the first two.
_XOR_CORNERS = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])


# --------------------------------------------------------------------------------------------
# Argument checking


def _generator(rng: Any, func: str) -> np.random.Generator:
    """``rng`` itself, or ``default_rng(rng)`` for a non-negative integer seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer):
        raise TypeError(
            f"{func}: rng={rng!r} must be a numpy.random.Generator or a non-negative int seed"
        )
    if rng < 0:
        raise ValueError(f"{func}: rng={rng} is a negative seed; expected a seed >= 0")
    return np.random.default_rng(int(rng))


def _finite(x: Any, name: str, func: str) -> np.ndarray:
    arr = as_float_array(x, name, func)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{func}: {name} has a non-finite entry; expected finite numbers")
    return arr


def _with_bias(features: np.ndarray, bias: Any, func: str) -> np.ndarray:
    """Add a column of ones first or last (or none)."""
    ones = np.ones(features.shape[0])
    if bias == "first":
        return np.column_stack([ones, features])
    if bias == "last":
        return np.column_stack([features, ones])
    if bias is None:
        return features
    raise ValueError(f"{func}: bias={bias!r}; expected 'first', 'last' or None")


def _features(n: Any, w: Any, bias: Any, rng: Any, func: str):
    """Checked ``(X, w, generator)``: ``X`` has ``rng.standard_normal((n, d))`` features
    (the first draw) and the bias column, one column per weight."""
    n = _checks.integer(n, "n", func, least=1)
    w = _finite(w, "w", func)
    n_bias = 0 if bias is None else 1
    if w.ndim != 1 or w.size <= n_bias:
        raise ValueError(
            f"{func}: w has shape {w.shape}; expected a vector with one weight per column of X "
            f"(at least {n_bias + 1}, the bias included)"
        )
    _with_bias(np.empty((0, w.size - n_bias)), bias, func)  # check bias before drawing
    gen = _generator(rng, func)
    return _with_bias(gen.standard_normal((n, w.size - n_bias)), bias, func), w, gen


# --------------------------------------------------------------------------------------------
# Classification


@_docs.fill(_DOCS)
def binary_clouds(
    n: int,
    mean: Any,
    *,
    rng: Any,
    scale: float = 1.0,
    balanced: bool = False,
    signed: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Two Gaussian clouds at :math:`\pm m`: :math:`x = s\,\varepsilon + \tilde y\, m` with
    :math:`\tilde y \in \{-1, +1\}` and :math:`\varepsilon \sim \mathcal N(0, I)`.

    The classes overlap when :math:`\lVert m\rVert/s` is small and are (almost surely)
    separable when it is large; the Bayes classifier is linear, :math:`\operatorname{sign}(m
    \cdot x)`, and with equal class probabilities the posterior is exactly logistic,
    :math:`P(\tilde y = 1\mid x) = \sigma(2 m\cdot x / s^2)`.

    Draws, in order: ``rng.choice([-1.0, 1.0], size=n)`` (unless ``balanced``), then
    ``rng.standard_normal((n, d))`` (``(n,)`` for a scalar ``mean``).

    Reproduces :ref:`chapter-learning-as-optimisation` (the 300-point training set:
    ``binary_clouds(300, [1.0, 0.5], rng=rng)``; the one-dimensional ``sample(n)``:
    ``binary_clouds(n, 1.0, rng=rng)``) and :ref:`chapter-sigmoid-logistic-regression`
    (``binary_clouds(200, [1.0, 0.5], balanced=True, signed=False, rng=rng)`` and the separable
    set ``binary_clouds(40, [1.5, 1.0], scale=0.6, balanced=True, rng=rng)``).

    Parameters
    ----------
    n : int
        Number of points.
    mean : float or array_like
        The centre :math:`m` of the positive class (the negative one is at :math:`-m`); a
        scalar gives one-dimensional inputs.
    {rng}
    scale : float, optional
        Noise standard deviation :math:`s > 0` (default 1).
    balanced : bool, optional
        If true, no labels are drawn: the first ``n // 2`` points are positive, the rest
        negative (default ``False``: each label is a fair coin).
    signed : bool, optional
        Labels in {-1, +1} (default) or in {0, 1}.

    Returns
    -------
    x : numpy.ndarray
        Shape ``(n, d)``, or ``(n,)`` for a scalar ``mean``.
    y : numpy.ndarray
        Labels, float, shape ``(n,)``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer, ``rng`` is neither a generator nor an int, or ``mean`` or
        ``scale`` is not real.
    ValueError
        If ``n < 1``, ``mean`` is not finite or has more than one axis, or ``scale`` is not
        positive and finite.
    """
    func = "binary_clouds"
    n = _checks.integer(n, "n", func, least=1)
    mean = _finite(mean, "mean", func)
    if mean.ndim > 1:
        raise ValueError(f"{func}: mean has shape {mean.shape}; expected a scalar or a vector")
    scale = _checks.positive(scale, "scale", func)
    gen = _generator(rng, func)
    if balanced:
        y_pm = np.where(np.arange(n) < n // 2, 1.0, -1.0)
    else:
        y_pm = gen.choice(np.array([-1.0, 1.0]), size=n)
    noise = gen.standard_normal((n, *mean.shape))
    x = scale * noise + (y_pm[:, None] * mean if mean.ndim else y_pm * mean)
    return x, (y_pm if signed else (y_pm + 1.0) / 2.0)


@_docs.fill(_DOCS)
def xor_clouds(n: int, *, rng: Any, scale: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    r"""The XOR set: clouds around the four corners :math:`(\pm1, \pm1)`, label 1 on
    :math:`(1, 1)` and :math:`(-1, -1)`, 0 on the other two.

    No linear classifier separates it; a product feature :math:`x_1 x_2` (or a hidden layer)
    does. Draws, in order: the corners ``rng.integers(0, 4, size=n)`` (in the order
    :math:`(1,1), (-1,-1), (1,-1), (-1,1)`), then ``rng.standard_normal((n, 2))``.

    Reproduces :ref:`chapter-learning-as-optimisation` (``xor_clouds(200, rng=rng)``).

    Parameters
    ----------
    n : int
        Number of points.
    {rng}
    scale : float, optional
        Standard deviation of each cloud (default 0.6).

    Returns
    -------
    x : numpy.ndarray
        Shape ``(n, 2)``.
    y : numpy.ndarray
        Labels in {0, 1}, float, shape ``(n,)``.

    Raises
    ------
    TypeError
        As :func:`binary_clouds`, for ``n``, ``rng`` and ``scale``.
    ValueError
        As :func:`binary_clouds`, for ``n``, ``rng`` and ``scale``.
    """
    func = "xor_clouds"
    n = _checks.integer(n, "n", func, least=1)
    scale = _checks.positive(scale, "scale", func)
    gen = _generator(rng, func)
    corner = gen.integers(0, 4, size=n)
    x = _XOR_CORNERS[corner] + scale * gen.standard_normal((n, 2))
    return x, (corner < 2).astype(float)


@_docs.fill(_DOCS)
def class_clouds(
    centres: Any, n_per_class: int, *, rng: Any, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`K` Gaussian clouds, one per class: :math:`x = c_k + s\,\varepsilon`,
    :math:`\varepsilon \sim \mathcal N(0, I)`, ``n_per_class`` points each, in class order.

    With a shared isotropic noise the Bayes posterior is a softmax of functions linear in
    :math:`x`, so multinomial regression is the right model. Draws:
    ``rng.standard_normal((K * n_per_class, d))`` (the same numbers as one
    ``rng.normal(size=(n_per_class, d))`` per class, in class order).

    Reproduces :ref:`chapter-softmax-multiclass` (``class_clouds(centres, 60, rng=rng)``, and
    the ten clouds ``class_clouds(centres, 30, scale=0.6, rng=rng)``) and
    :ref:`chapter-logits-precision` (``class_clouds(centres, 30, scale=0.6, rng=rng)``).

    Parameters
    ----------
    centres : array_like
        Shape ``(K, d)``, one centre per class.
    n_per_class : int
        Points per class.
    {rng}
    scale : float, optional
        Noise standard deviation :math:`s > 0` (default 1).

    Returns
    -------
    x : numpy.ndarray
        Shape ``(K * n_per_class, d)``.
    labels : numpy.ndarray
        Integer class indices ``0, ..., K-1``, each repeated ``n_per_class`` times.

    Raises
    ------
    TypeError
        As :func:`binary_clouds`.
    ValueError
        If ``centres`` is not a finite ``(K, d)`` array, or as :func:`binary_clouds`.
    """
    func = "class_clouds"
    centres = _finite(centres, "centres", func)
    if centres.ndim != 2 or centres.shape[0] == 0:
        raise ValueError(f"{func}: centres has shape {centres.shape}; expected (K, d), K >= 1")
    n_per_class = _checks.integer(n_per_class, "n_per_class", func, least=1)
    scale = _checks.positive(scale, "scale", func)
    gen = _generator(rng, func)
    labels = np.repeat(np.arange(centres.shape[0]), n_per_class)
    x = centres[labels] + scale * gen.standard_normal((labels.size, centres.shape[1]))
    return x, labels


@_docs.fill(_DOCS, bias='{"last", "first", None}', default="last")
def logistic_regression_data(
    n: int, w: Any, *, rng: Any, bias: str | None = "last"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Labels drawn from a logistic model: standard normal features, :math:`y \sim
    \operatorname{Bernoulli}(\sigma(Xw))`.

    Draws, in order: ``rng.standard_normal((n, d_features))``, then ``rng.random(n)``, with
    :math:`y = [u < \sigma(Xw)]`.

    Reproduces :ref:`chapter-logits-precision` (``logistic_regression_data(400, [1.0, -2.0,
    0.5, 0.3], rng=rng)``).

    {design}

    Returns
    -------
    X : numpy.ndarray
        Design matrix, shape ``(n, len(w))``.
    y : numpy.ndarray
        Labels in {0, 1}, float, shape ``(n,)``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer, ``w`` is not real, or ``rng`` is of the wrong type.
    ValueError
        If ``n < 1``, ``w`` is not a finite vector, or ``bias`` is unknown.
    """
    X, w, gen = _features(n, w, bias, rng, "logistic_regression_data")
    return X, (gen.random(X.shape[0]) < sigmoid(X @ w)).astype(float)


@_docs.fill(_DOCS)
def categorical(probs: Any, *, rng: Any) -> np.ndarray:
    r"""One class index per row of ``probs``, drawn by inverting the cumulative distribution:
    :math:`y = \#\{k : F_k < u\}` with :math:`F = \operatorname{cumsum}(p)` and :math:`u \sim
    U[0, 1)` (capped at :math:`K-1` against the rounding of :math:`F_K` below 1).

    Draws: ``rng.random(n)``. Reproduces :ref:`chapter-scoring-rules-calibration`
    (``categorical(nllkit.softmax(z_true), rng=rng)``).

    Parameters
    ----------
    probs : array_like
        Shape ``(n, K)``, each row a probability vector.
    {rng}

    Returns
    -------
    numpy.ndarray
        Integer labels, shape ``(n,)``.

    Raises
    ------
    TypeError
        If ``probs`` is not real or ``rng`` is of the wrong type.
    ValueError
        If ``probs`` is not a non-empty 2-D array of probabilities in [0, 1] whose rows sum to
        1 (within ``1e-6``).
    """
    func = "categorical"
    p = as_float_array(probs, "probs", func)
    if p.ndim != 2 or p.size == 0:
        raise ValueError(f"{func}: probs has shape {p.shape}; expected (n, K) with n, K >= 1")
    if not (np.all((p >= 0) & (p <= 1)) and np.all(np.abs(p.sum(axis=1) - 1) <= 1e-6)):
        raise ValueError(f"{func}: probs has a row that is not a probability vector")
    gen = _generator(rng, func)
    cdf = np.cumsum(p, axis=-1)
    return np.minimum((cdf < gen.random(p.shape[0])[:, None]).sum(axis=-1), p.shape[1] - 1)


# --------------------------------------------------------------------------------------------
# Regression and counts


@_docs.fill(_DOCS)
def linear_regression_data(
    n: int, w: Any, *, noise_sd: float, rng: Any, bias: str | None = "first"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Linear regression with Gaussian noise: :math:`y = Xw + s\,\varepsilon`, standard normal
    features, :math:`\varepsilon \sim \mathcal N(0, I)`.

    Draws, in order: ``rng.standard_normal((n, d_features))``, then
    ``rng.standard_normal(n)``.

    Reproduces :ref:`chapter-negative-log-likelihood` (``linear_regression_data(500, [0.5,
    -1.0, 2.0], noise_sd=0.5, rng=rng)``).

    Parameters
    ----------
    n : int
        Number of examples.
    w : array_like
        The true weights, one per column of ``X`` (the bias included).
    noise_sd : float
        Noise standard deviation :math:`s > 0`.
    {rng}
    bias : {"first", "last", None}, optional
        Where ``X`` gets its column of ones (default first).

    Returns
    -------
    X : numpy.ndarray
        Shape ``(n, len(w))``.
    y : numpy.ndarray
        Shape ``(n,)``.

    Raises
    ------
    TypeError
        As :func:`logistic_regression_data`, and if ``noise_sd`` is not a real number.
    ValueError
        As :func:`logistic_regression_data`, and if ``noise_sd`` is not positive and finite.
    """
    func = "linear_regression_data"
    noise_sd = _checks.positive(noise_sd, "noise_sd", func)
    X, w, gen = _features(n, w, bias, rng, func)
    return X, X @ w + noise_sd * gen.standard_normal(X.shape[0])


_NOISES = ("normal", "exponential")


@_docs.fill(_DOCS)
def heteroscedastic_regression(
    x: Any,
    *,
    rng: Any,
    mean: tuple[float, float] = (1.0, 2.0),
    sd: tuple[float, float] = (0.2, 0.6),
    noise: str = "normal",
) -> tuple[np.ndarray, np.ndarray]:
    r"""A line with noise whose size grows with :math:`x`:
    :math:`y = a + b x + (c + d x)\,\varepsilon`.

    With ``noise="normal"`` (:math:`\varepsilon \sim \mathcal N(0, 1)`) the conditional mean is
    :math:`a + bx` and the standard deviation :math:`c + dx`; with ``"exponential"``
    (:math:`\varepsilon \sim \operatorname{Exp}(1)`, skewed) the conditional mean is
    :math:`a + c + (b + d)x` and the median :math:`a + c\log 2 + (b + d\log 2)x`, so squared
    and absolute error fit different lines.

    Draws, in order: ``rng.uniform(0.0, 1.0, size=x)`` if ``x`` is an integer (the number of
    points), then ``rng.standard_normal(n)`` or ``rng.exponential(1.0, size=n)``.

    Reproduces :ref:`chapter-negative-log-likelihood`: the grouped data,
    ``heteroscedastic_regression(x_group[g_of], rng=rng)``, and the skewed data,
    ``heteroscedastic_regression(20001, mean=(1.0, 2.0), sd=(0.5, 1.0), noise="exponential",
    rng=rng)``.

    Parameters
    ----------
    x : int or array_like
        The inputs, shape ``(n,)``, or their number (then drawn uniformly on [0, 1)).
    {rng}
    mean : tuple of float, optional
        Intercept and slope :math:`(a, b)` of the line (default (1, 2)).
    sd : tuple of float, optional
        Intercept and slope :math:`(c, d)` of the noise scale (default (0.2, 0.6)); the scale
        must be positive at every ``x``.
    noise : {"normal", "exponential"}, optional
        The law of :math:`\varepsilon` (default normal).

    Returns
    -------
    x : numpy.ndarray
        Shape ``(n,)``.
    y : numpy.ndarray
        Shape ``(n,)``.

    Raises
    ------
    TypeError
        If ``x`` is not real, ``mean``/``sd`` are not pairs of numbers, or ``rng`` has the
        wrong type.
    ValueError
        If ``x`` is not a non-empty finite vector (or a positive count), ``noise`` is unknown,
        or the noise scale :math:`c + dx` is not positive at some ``x``.
    """
    func = "heteroscedastic_regression"
    (a, b), (c, d), n, x = _heteroscedastic_inputs(x, mean, sd, noise)
    gen = _generator(rng, func)
    if x is None:  # x was the number of points: draw them
        x = gen.uniform(0.0, 1.0, size=n)
    if not np.all(c + d * x > 0):
        raise ValueError(f"{func}: the noise scale c + d x = {c} + {d} x is not positive at all x")
    eps = gen.standard_normal(n) if noise == "normal" else gen.exponential(1.0, size=n)
    return x, a + b * x + (c + d * x) * eps


@_docs.fill(_DOCS, bias='{"first", "last", None}', default="first")
def poisson_regression_data(
    n: int, w: Any, *, rng: Any, bias: str | None = "first"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Counts from a Poisson regression with the log link: standard normal features,
    :math:`y \sim \operatorname{Poisson}(e^{Xw})`.

    Draws, in order: ``rng.standard_normal((n, d_features))``, then ``rng.poisson(exp(X @ w))``.
    (No chapter draws these yet; chapters 2, 3 and 6 draw plain counts with ``rng.poisson``.)
    The model is the count row of the "prediction minus target" table of
    :ref:`chapter-softmax-multiclass`.

    {design}

    Returns
    -------
    X : numpy.ndarray
        Shape ``(n, len(w))``.
    y : numpy.ndarray
        Counts, float, shape ``(n,)``.

    Raises
    ------
    TypeError
        As :func:`logistic_regression_data`.
    ValueError
        As :func:`logistic_regression_data`.
    """
    X, w, gen = _features(n, w, bias, rng, "poisson_regression_data")
    return X, gen.poisson(np.exp(X @ w)).astype(float)


@_docs.fill(_DOCS)
def binomial_mixture(
    n: int, trials: int, weights: Any, probs: Any, *, rng: Any
) -> tuple[np.ndarray, np.ndarray]:
    r"""Counts from a mixture of binomials: a hidden component :math:`c \sim
    \operatorname{Categorical}(\pi)`, then :math:`y \sim \operatorname{Binomial}(m, p_c)`.

    The component is drawn by inverting the cumulative weights, :math:`c = \#\{k < K-1 :
    u \ge \pi_1 + \dots + \pi_{k+1}\}`, so for two components :math:`c = 0` exactly when
    :math:`u < \pi_1`. Draws, in order: ``rng.random(n)``, then ``rng.binomial(trials,
    probs[c])``.

    Reproduces :ref:`chapter-maximum-likelihood` (the clicks of heavy and light users:
    ``binomial_mixture(n_users, 5, [0.3, 0.7], [0.8, 0.2], rng=rng)``, component 0 the heavy
    users).

    Parameters
    ----------
    n : int
        Number of draws.
    trials : int
        Trials :math:`m` per draw.
    weights : array_like
        Mixture weights :math:`\pi`, shape ``(K,)``, summing to 1.
    probs : array_like
        Success probabilities :math:`p_k \in [0, 1]`, shape ``(K,)``.
    {rng}

    Returns
    -------
    counts : numpy.ndarray
        Integer counts in ``0, ..., trials``, shape ``(n,)``.
    component : numpy.ndarray
        The hidden components, integers, shape ``(n,)``.

    Raises
    ------
    TypeError
        If ``n`` or ``trials`` is not an integer, or an array is not real.
    ValueError
        If ``n < 1`` or ``trials < 1``, the weights are not a probability vector, the
        probabilities lie outside [0, 1], or the two have different lengths.
    """
    func = "binomial_mixture"
    n, trials, weights, probs = _mixture_inputs(n, trials, weights, probs)
    gen = _generator(rng, func)
    cuts = np.cumsum(weights)[:-1]
    component = (gen.random(n)[:, None] >= cuts).sum(axis=1)
    return gen.binomial(trials, probs[component]), component


def _heteroscedastic_inputs(x: Any, mean: Any, sd: Any, noise: str) -> tuple[Any, Any, int, Any]:
    """heteroscedastic_regression's inputs checked: the two (intercept, slope) pairs, the noise
    law, and ``x`` as a count of points to draw (returned as ``None``) or the points."""
    func = "heteroscedastic_regression"
    pairs = {}
    for name, pair in (("mean", mean), ("sd", sd)):
        arr = _finite(pair, name, func)
        if arr.shape != (2,):
            raise ValueError(f"{func}: {name}={pair!r}; expected two numbers")
        pairs[name] = (float(arr[0]), float(arr[1]))
    if noise not in _NOISES:
        raise ValueError(f"{func}: noise={noise!r}; expected 'normal' or 'exponential'")
    if isinstance(x, int | np.integer) and not isinstance(x, bool):
        return pairs["mean"], pairs["sd"], _checks.integer(x, "x", func, least=1), None
    x = _finite(x, "x", func)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{func}: x has shape {x.shape}; expected a non-empty vector")
    return pairs["mean"], pairs["sd"], x.size, x


def _mixture_inputs(n: Any, trials: Any, weights: Any, probs: Any) -> tuple[int, int, Any, Any]:
    """binomial_mixture's inputs checked: counts >= 1, weights a probability vector, probs in
    [0, 1] of the same length."""
    func = "binomial_mixture"
    n = _checks.integer(n, "n", func, least=1)
    trials = _checks.integer(trials, "trials", func, least=1)
    weights = _finite(weights, "weights", func)
    probs = _finite(probs, "probs", func)
    if weights.ndim != 1 or weights.size == 0 or probs.shape != weights.shape:
        raise ValueError(
            f"{func}: weights has shape {weights.shape} and probs {probs.shape}; expected two "
            f"vectors of the same length K >= 1"
        )
    if np.any(weights < 0) or abs(float(weights.sum()) - 1.0) > 1e-12:
        raise ValueError(f"{func}: weights={weights.tolist()} must be >= 0 and sum to 1")
    if np.any((probs < 0) | (probs > 1)):
        raise ValueError(f"{func}: probs={probs.tolist()} must lie in [0, 1]")
    return n, trials, weights, probs
