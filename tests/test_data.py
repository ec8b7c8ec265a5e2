"""nllkit.data: reproducible, bit for bit the chapters' own draws, and distributed as stated.

* Reproducibility: the same seed (or the same generator state) gives the same bits; an int
  seed is ``numpy.random.default_rng(seed)``; no global generator is touched.
* Migration: each generator, given a chapter's generator state, returns exactly what the
  chapter's own lines (copied here as the reference recipe) return, so a chapter that switches
  keeps its stored outputs.
* Statistics against the generating law, from large seeded samples. Each tolerance is five
  standard errors of the statistic, the standard error derived from the law itself (not
  estimated): a correct generator fails one such check with probability 6e-7, and since the
  seeds are fixed, the verdict is the same on every run.
"""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

import nllkit
from nllkit import (
    binary_clouds,
    binomial_mixture,
    categorical,
    class_clouds,
    heteroscedastic_regression,
    linear_regression_data,
    logistic_regression_data,
    poisson_regression_data,
    xor_clouds,
)

Z = 5.0  # standard errors allowed

CENTRES3 = np.array([[0.0, 2.0], [-1.8, -1.0], [1.8, -1.0]])
CALLS = {
    "binary_clouds": lambda rng: binary_clouds(50, [1.0, 0.5], rng=rng),
    "binary_clouds_1d": lambda rng: binary_clouds(50, 1.0, rng=rng),
    "xor_clouds": lambda rng: xor_clouds(50, rng=rng),
    "class_clouds": lambda rng: class_clouds(CENTRES3, 10, scale=0.6, rng=rng),
    "logistic_regression_data": lambda rng: logistic_regression_data(40, [1, -2, 0.5], rng=rng),
    "linear_regression_data": lambda rng: linear_regression_data(
        40, [0.5, -1, 2], noise_sd=0.5, rng=rng
    ),
    "heteroscedastic_regression": lambda rng: heteroscedastic_regression(40, rng=rng),
    "poisson_regression_data": lambda rng: poisson_regression_data(40, [0.5, 0.3], rng=rng),
    "binomial_mixture": lambda rng: binomial_mixture(40, 5, [0.3, 0.7], [0.8, 0.2], rng=rng),
    "categorical": lambda rng: categorical(np.full((40, 3), 1 / 3), rng=rng),
}


def _bits(arrays):
    return [np.asarray(a).tobytes() for a in arrays] + [np.asarray(a).dtype.str for a in arrays]


@pytest.mark.parametrize("name", CALLS)
def test_same_seed_same_bits_and_int_seed_is_default_rng(name):
    draw = CALLS[name]
    assert _bits(draw(7)) == _bits(draw(7))
    assert _bits(draw(7)) == _bits(draw(np.random.default_rng(7)))
    assert _bits(draw(7)) != _bits(draw(8))
    # a generator is advanced, not copied: two calls give two different data sets
    rng = np.random.default_rng(7)
    assert _bits(draw(rng)) != _bits(draw(rng))


@pytest.mark.parametrize("name", CALLS)
def test_no_global_generator_is_touched(name):
    # the legacy global generator and Python's are what nllkit.seed seeds besides torch
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    py_state = random.getstate()
    CALLS[name](11)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert random.getstate() == py_state


# --- the chapters' own recipes, copied, against the generators -----------------------------------


def _recipes():
    """(name, chapter recipe, generator call): both drawn from copies of one generator."""
    corners = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])

    def ch1_train(rng):
        y = rng.choice(np.array([-1.0, 1.0]), size=300)
        return y[:, None] * np.array([1.0, 0.5]) + rng.standard_normal((300, 2)), y

    def ch1_sample(rng):
        y = rng.choice(np.array([-1.0, 1.0]), size=1000)
        return y * 1.0 + rng.standard_normal(1000), y

    def ch1_xor(rng):
        corner = rng.integers(0, 4, size=200)
        x = corners[corner] + 0.6 * rng.standard_normal((200, 2))
        return x, (corner < 2).astype(float)

    def ch3_linear(rng):
        X = np.column_stack([np.ones(500), rng.normal(size=(500, 2))])
        return X, X @ np.array([0.5, -1.0, 2.0]) + 0.5 * rng.normal(size=500)

    def ch3_skew(rng):
        x = rng.uniform(0.0, 1.0, size=20001)
        return x, 1.0 + 2.0 * x + (0.5 + x) * rng.exponential(1.0, size=20001)

    x_group = np.linspace(0.0, 1.0, 6)[np.repeat(np.arange(6), [1, 40, 40, 40, 40, 40])]

    def ch3_groups(rng):
        y = 1.0 + 2.0 * x_group + (0.2 + 0.6 * x_group) * rng.normal(size=x_group.size)
        return x_group, y

    def ch5_clouds(rng):
        labels = (np.arange(200) < 100).astype(float)
        x = rng.standard_normal((200, 2)) + np.outer(2 * labels - 1, [1.0, 0.5])
        return x, labels

    def ch5_separable(rng):
        y_pm = np.where(np.arange(40) < 20, 1.0, -1.0)
        return 0.6 * rng.standard_normal((40, 2)) + np.outer(y_pm, [1.5, 1.0]), y_pm

    def ch6_clouds(rng):
        x = np.concatenate([c + rng.normal(size=(60, 2)) for c in CENTRES3])
        return x, np.repeat(np.arange(3), 60)

    angles = 2 * np.pi * np.arange(10) / 10
    ring = 4.0 * np.column_stack([np.cos(angles), np.sin(angles)])

    def ch6_ring(rng):
        x = np.concatenate([c + 0.6 * rng.normal(size=(30, 2)) for c in ring])
        return x, np.repeat(np.arange(10), 30)

    centres7 = np.array([[0.0, 2.5], [-2.2, -1.3], [2.2, -1.3]])

    def ch7_clouds(rng):
        labels = np.repeat(np.arange(3), 30)
        return centres7[labels] + 0.6 * rng.standard_normal((90, 2)), labels

    w7 = np.array([1.0, -2.0, 0.5, 0.3])

    def ch7_logistic(rng):
        X = np.column_stack([rng.standard_normal((400, 3)), np.ones(400)])
        return X, (rng.random(400) < nllkit.sigmoid(X @ w7)).astype(float)

    def ch8_labels(rng):
        p = nllkit.softmax(1.5 * rng.normal(size=(2000, 10)))
        cdf = np.cumsum(p, axis=-1)
        return (np.minimum((cdf < rng.random(2000)[:, None]).sum(axis=-1), 9),)

    def ch8_call(rng):
        return (categorical(nllkit.softmax(1.5 * rng.normal(size=(2000, 10))), rng=rng),)

    def ch2_clicks(rng):
        heavy = rng.random(400) < 0.3
        return rng.binomial(5, np.where(heavy, 0.8, 0.2)), (~heavy).astype(int)

    return [
        ("ch1 training set", ch1_train, lambda r: binary_clouds(300, [1.0, 0.5], rng=r)),
        ("ch1 sample(n)", ch1_sample, lambda r: binary_clouds(1000, 1.0, rng=r)),
        ("ch1 XOR", ch1_xor, lambda r: xor_clouds(200, rng=r)),
        (
            "ch3 linear",
            ch3_linear,
            lambda r: linear_regression_data(500, [0.5, -1.0, 2.0], noise_sd=0.5, rng=r),
        ),
        (
            "ch3 skewed",
            ch3_skew,
            lambda r: heteroscedastic_regression(
                20001, mean=(1.0, 2.0), sd=(0.5, 1.0), noise="exponential", rng=r
            ),
        ),
        ("ch3 groups", ch3_groups, lambda r: heteroscedastic_regression(x_group, rng=r)),
        (
            "ch5 clouds",
            ch5_clouds,
            lambda r: binary_clouds(200, [1.0, 0.5], balanced=True, signed=False, rng=r),
        ),
        (
            "ch5 separable",
            ch5_separable,
            lambda r: binary_clouds(40, [1.5, 1.0], scale=0.6, balanced=True, rng=r),
        ),
        ("ch6 clouds", ch6_clouds, lambda r: class_clouds(CENTRES3, 60, rng=r)),
        ("ch6 ring", ch6_ring, lambda r: class_clouds(ring, 30, scale=0.6, rng=r)),
        ("ch7 clouds", ch7_clouds, lambda r: class_clouds(centres7, 30, scale=0.6, rng=r)),
        ("ch7 logistic", ch7_logistic, lambda r: logistic_regression_data(400, w7, rng=r)),
        ("ch8 labels", ch8_labels, ch8_call),
        (
            "ch2 clicks",
            ch2_clicks,
            lambda r: binomial_mixture(400, 5, [0.3, 0.7], [0.8, 0.2], rng=r),
        ),
    ]


RECIPES = _recipes()


@pytest.mark.parametrize("recipe", RECIPES, ids=[r[0] for r in RECIPES])
def test_generator_draws_exactly_what_the_chapter_draws(recipe):
    _, chapter, ours = recipe
    rng = np.random.default_rng(20261202)
    rng.standard_normal(17)  # a stream part-way through, as in a chapter
    expected, got = chapter(copy.deepcopy(rng)), ours(copy.deepcopy(rng))
    assert len(expected) == len(got)
    for a, b in zip(expected, got, strict=True):
        assert np.asarray(a).shape == np.asarray(b).shape
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    # ... and the generator is left where the chapter's code leaves it
    after_chapter, after_ours = copy.deepcopy(rng), copy.deepcopy(rng)
    chapter(after_chapter)
    ours(after_ours)
    assert after_chapter.random() == after_ours.random()


# --- statistics against the generating law --------------------------------------------------------


def _within(estimate, expected, standard_error):
    assert np.all(np.abs(np.asarray(estimate) - expected) <= Z * np.asarray(standard_error)), (
        estimate,
        expected,
        standard_error,
    )


def test_the_smallest_sizes_are_accepted():
    # n = 1 (and one trial, one point per class) is the boundary of every count argument
    assert binary_clouds(1, [1.0, 0.5], rng=0)[0].shape == (1, 2)
    assert class_clouds(CENTRES3, 1, rng=0)[1].tolist() == [0, 1, 2]
    assert binomial_mixture(1, 1, [1.0], [0.5], rng=0)[0].shape == (1,)
    assert heteroscedastic_regression(1, rng=0)[0].shape == (1,)


def test_binary_clouds_statistics():
    n, m, s = 200_000, np.array([1.0, -0.5]), 0.7
    x, y = binary_clouds(n, m, scale=s, rng=1)
    _within(np.mean(y == 1), 0.5, 0.5 / np.sqrt(n))  # fair labels
    # y x = m + s y eps: mean m, per-coordinate variance s^2 (y eps is standard normal)
    _within(np.mean(y[:, None] * x, axis=0), m, s / np.sqrt(n))
    residual = x - y[:, None] * m
    # the sample variance of n normals has standard error s^2 sqrt(2 / n)
    _within(np.var(residual, axis=0), s**2, s**2 * np.sqrt(2 / n))
    _within(np.mean(residual[:, 0] * residual[:, 1]), 0.0, s**2 / np.sqrt(n))  # independent
    x01, y01 = binary_clouds(10, m, balanced=True, signed=False, rng=1)
    np.testing.assert_array_equal(y01, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    assert x01.shape == (10, 2)


def test_xor_clouds_statistics():
    n = 200_000
    x, y = xor_clouds(n, rng=2)
    _within(np.mean(y), 0.5, 0.5 / np.sqrt(n))
    # label 1 exactly on the corners (1, 1) and (-1, -1): the sign of each corner is
    # recovered from x wherever the noise (sd 0.6) did not cross an axis; E[x1 x2 | y] is
    # +1 for label 1 and -1 for label 0 (the noise is independent, mean 0)
    prod = x[:, 0] * x[:, 1]
    # var(x1 x2) = E[x1^2] E[x2^2] - 1 = (1 + 0.36)^2 - 1
    se = np.sqrt((1.36**2 - 1) / (n / 2))
    _within(np.mean(prod[y == 1]), 1.0, se)
    _within(np.mean(prod[y == 0]), -1.0, se)
    # x = c + 0.6 eps, c = +-1: var x = 1.36, and var(x^2) = 1.44 + 2 (0.36)^2 = 1.6992
    _within(np.var(x, axis=0), 1.36, np.sqrt(1.6992 / n))


def test_class_clouds_statistics():
    centres, n = np.array([[0.0, 0.0], [3.0, 1.0], [-1.0, 4.0]]), 50_000
    x, labels = class_clouds(centres, n, scale=0.5, rng=3)
    np.testing.assert_array_equal(np.bincount(labels), [n, n, n])
    for k in range(3):
        _within(x[labels == k].mean(axis=0), centres[k], 0.5 / np.sqrt(n))
        _within(x[labels == k].var(axis=0), 0.25, 0.25 * np.sqrt(2 / n))


def test_logistic_regression_data_follows_the_logistic_law():
    w = np.array([1.0, -2.0, 0.5])
    X, y = logistic_regression_data(100_000, w, rng=4)
    np.testing.assert_array_equal(X[:, -1], 1.0)
    p = nllkit.sigmoid(X @ w)
    # the score X^T (y - p) has mean 0 and variance sum_n x_nj^2 p_n (1 - p_n) given X
    _within(X.T @ (y - p), 0.0, np.sqrt((X**2).T @ (p * (1 - p))))
    _within(X[:, :-1].mean(axis=0), 0.0, 1 / np.sqrt(len(y)))


def test_linear_and_heteroscedastic_regression_statistics():
    n = 100_000
    w = np.array([0.5, -1.0, 2.0])
    X, y = linear_regression_data(n, w, noise_sd=0.5, rng=5)
    np.testing.assert_array_equal(X[:, 0], 1.0)
    r = y - X @ w
    _within(r.mean(), 0.0, 0.5 / np.sqrt(n))
    _within(r.var(), 0.25, 0.25 * np.sqrt(2 / n))
    _within(X.T @ r / n, 0.0, 0.5 * np.sqrt((X**2).mean(axis=0) / n))  # noise independent of X
    x, y = heteroscedastic_regression(n, mean=(1.0, 2.0), sd=(0.2, 0.6), rng=6)
    _within(x.mean(), 0.5, np.sqrt(1 / 12 / n))  # uniform on [0, 1)
    z = (y - 1.0 - 2.0 * x) / (0.2 + 0.6 * x)  # standardised: N(0, 1)
    _within(z.mean(), 0.0, 1 / np.sqrt(n))
    _within(z.var(), 1.0, np.sqrt(2 / n))
    _within(np.mean(z * (x - 0.5)), 0.0, np.sqrt(1 / 12 / n))
    x, y = heteroscedastic_regression(n, mean=(1.0, 2.0), sd=(0.5, 1.0), noise="exponential", rng=7)
    e = (y - 1.0 - 2.0 * x) / (0.5 + x)  # Exp(1): mean 1, variance 1, median log 2
    _within(e.mean(), 1.0, 1 / np.sqrt(n))
    _within(e.var(), 1.0, np.sqrt(8 / n))  # var of s^2 for Exp(1): (mu4 - 1) / n = 8 / n
    # the median's standard error: 1 / (2 f(m) sqrt n), f(log 2) = 1/2
    _within(np.median(e), np.log(2.0), 1 / np.sqrt(n))


def test_poisson_regression_data_statistics():
    w = np.array([0.5, 0.3])
    X, y = poisson_regression_data(100_000, w, rng=8)
    lam = np.exp(X @ w)
    assert np.all(y == np.floor(y)) and y.min() >= 0
    _within(X.T @ (y - lam), 0.0, np.sqrt((X**2).T @ lam))  # the Poisson score
    _within(np.sum((y - lam) ** 2 - lam), 0.0, np.sqrt(np.sum(2 * lam**2 + lam)))  # var = mean


def test_binomial_mixture_statistics():
    n, weights, probs = 200_000, np.array([0.2, 0.5, 0.3]), np.array([0.9, 0.4, 0.1])
    counts, component = binomial_mixture(n, 6, weights, probs, rng=9)
    freq = np.bincount(component, minlength=3) / n
    _within(freq, weights, np.sqrt(weights * (1 - weights) / n))
    for k in range(3):
        c = counts[component == k]
        _within(c.mean(), 6 * probs[k], np.sqrt(6 * probs[k] * (1 - probs[k]) / c.size))
    assert counts.min() >= 0 and counts.max() <= 6


def test_categorical_statistics():
    rng = np.random.default_rng(10)
    probs = nllkit.softmax(rng.normal(size=(100_000, 4)))
    labels = categorical(probs, rng=rng)
    onehot = np.eye(4)[labels]
    # sum_n ([y_n = k] - p_nk) has mean 0 and variance sum_n p_nk (1 - p_nk)
    _within(np.sum(onehot - probs, axis=0), 0.0, np.sqrt(np.sum(probs * (1 - probs), axis=0)))
    # a class of probability 0 is never drawn, one of probability 1 always
    sure = np.zeros((50, 3))
    sure[:, 2] = 1.0
    np.testing.assert_array_equal(categorical(sure, rng=0), 2)


# --- bad input ----------------------------------------------------------------------------------

BAD = [
    (lambda: binary_clouds(0, [1.0], rng=0), ValueError, r"binary_clouds: n=0 must be at least"),
    (lambda: binary_clouds(2.5, [1.0], rng=0), TypeError, r"binary_clouds: n=2.5 must be an int"),
    (lambda: binary_clouds(5, [[1.0]], rng=0), ValueError, r"binary_clouds: mean has shape"),
    (lambda: binary_clouds(5, [np.nan], rng=0), ValueError, r"mean has a non-finite entry"),
    (lambda: binary_clouds(5, 1.0, scale=0, rng=0), ValueError, r"scale=0 must be positive"),
    (lambda: binary_clouds(5, 1.0, rng=-1), ValueError, r"binary_clouds: rng=-1 is a negative"),
    (lambda: binary_clouds(5, 1.0, rng=1.5), TypeError, r"rng=1.5 must be a numpy.random.Gen"),
    (lambda: binary_clouds(5, 1.0, rng=None), TypeError, r"rng=None must be"),
    (lambda: xor_clouds(5, rng=True), TypeError, r"xor_clouds: rng=True must be"),
    (lambda: class_clouds([1.0, 2.0], 5, rng=0), ValueError, r"class_clouds: centres has shape"),
    (lambda: class_clouds(CENTRES3, 0, rng=0), ValueError, r"n_per_class=0 must be at least 1"),
    (lambda: logistic_regression_data(5, [1.0], rng=0), ValueError, r"w has shape \(1,\)"),
    (
        lambda: logistic_regression_data(5, [1.0, 2.0], bias="middle", rng=0),
        ValueError,
        r"logistic_regression_data: bias='middle'",
    ),
    (
        lambda: linear_regression_data(5, [1.0, 2.0], noise_sd=-1, rng=0),
        ValueError,
        r"linear_regression_data: noise_sd=-1",
    ),
    (
        lambda: heteroscedastic_regression(5, noise="cauchy", rng=0),
        ValueError,
        r"heteroscedastic_regression: noise='cauchy'",
    ),
    (
        lambda: heteroscedastic_regression(np.array([-1.0, 0.5]), sd=(0.2, 0.6), rng=0),
        ValueError,
        r"noise scale c \+ d x = 0.2 \+ 0.6 x is not positive",
    ),
    (
        lambda: heteroscedastic_regression(5, mean=(1.0,), rng=0),
        ValueError,
        r"heteroscedastic_regression: mean=\(1.0,\); expected two numbers",
    ),
    (
        lambda: heteroscedastic_regression(np.ones((2, 2)), rng=0),
        ValueError,
        r"x has shape \(2, 2\)",
    ),
    (
        lambda: binomial_mixture(5, 3, [0.5, 0.6], [0.1, 0.2], rng=0),
        ValueError,
        r"binomial_mixture: weights=\[0.5, 0.6\] must be >= 0 and sum to 1",
    ),
    (
        lambda: binomial_mixture(5, 3, [0.5, 0.5], [0.1, 1.2], rng=0),
        ValueError,
        r"probs=\[0.1, 1.2\] must lie in \[0, 1\]",
    ),
    (
        lambda: binomial_mixture(5, 3, [1.0], [0.1, 0.2], rng=0),
        ValueError,
        r"weights has shape \(1,\) and probs \(2,\)",
    ),
    (lambda: binomial_mixture(5, 0, [1.0], [0.1], rng=0), ValueError, r"trials=0 must be at"),
    (lambda: categorical(np.full((3, 2), 0.6), rng=0), ValueError, r"categorical: probs has a"),
    (lambda: categorical(np.ones(3) / 3, rng=0), ValueError, r"probs has shape \(3,\)"),
    (lambda: categorical(np.array([["a"]]), rng=0), TypeError, r"categorical: probs has dtype"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_input_names_the_function_and_argument(case):
    call, error, message = BAD[case]
    with pytest.raises(error, match=message):
        call()
