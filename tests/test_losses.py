"""Unit tests of nllkit.losses: definitions, reductions, dtypes, and the documented
differences from torch's GaussianNLLLoss.

Expected values are computed independently (mpmath, closed forms, torch) — never by the code
under test.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

import nllkit
from nllkit import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    entropy,
    gaussian_nll,
    kl_divergence,
)

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@pytest.fixture(autouse=True)
def _high_precision_mpmath():
    """mpmath's default 53 bits would make the references themselves inexact."""
    with mpmath.workdps(40):
        yield


# --- binary cross-entropy ----------------------------------------------------------------------


def test_bce_matches_its_definition():
    z = np.array([-3.0, -0.5, 0.0, 0.7, 4.0])
    y = np.array([0.0, 1.0, 0.3, 0.9, 1.0])
    expected = [
        float(
            -(
                yi * mpmath.log(1 / (1 + mpmath.exp(-zi)))
                + (1 - yi) * mpmath.log(1 / (1 + mpmath.exp(zi)))
            )
        )
        for zi, yi in zip(z.tolist(), y.tolist(), strict=True)
    ]
    np.testing.assert_allclose(
        binary_cross_entropy_with_logits(z, y, reduction="none"), expected, rtol=1e-15
    )


def test_bce_confident_and_right_is_tiny_not_zero():
    # z = 40, y = 1: loss = log(1 + e^-40) ~ 4.25e-18; max(z,0) - z*y + ... would give 0
    loss = binary_cross_entropy_with_logits(40.0, 1.0, reduction="none")
    assert loss == float(mpmath.log1p(mpmath.exp(-40)))


def test_bce_infinite_logits():
    z = np.array([np.inf, -np.inf, np.inf, -np.inf])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(
        binary_cross_entropy_with_logits(z, y, reduction="none"), [0.0, 0.0, np.inf, np.inf]
    )


def test_bce_nan_logit_gives_nan():
    assert np.isnan(binary_cross_entropy_with_logits(np.nan, 1.0, reduction="none"))


def test_bce_reductions_and_broadcasting():
    z = np.array([[0.0, 1.0, -2.0]])
    y = np.array([[1.0], [0.0]])
    none = binary_cross_entropy_with_logits(z, y, reduction="none")
    assert none.shape == (2, 3)
    assert binary_cross_entropy_with_logits(z, y, reduction="sum") == pytest.approx(
        math.fsum(none.ravel()), rel=1e-15
    )
    assert binary_cross_entropy_with_logits(z, y) == pytest.approx(
        math.fsum(none.ravel()) / 6, rel=1e-15
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_dtype(dtype):
    out = binary_cross_entropy_with_logits(np.zeros(3, dtype), np.ones(3, dtype), reduction="none")
    assert out.dtype == dtype
    mixed = binary_cross_entropy_with_logits(np.zeros(3, np.float32), np.ones(3, np.float64))
    assert mixed.dtype == np.float64
    assert binary_cross_entropy_with_logits([0, 1], [1, 0]).dtype == np.float64


# --- cross-entropy -----------------------------------------------------------------------------


def test_cross_entropy_with_indices_is_minus_log_softmax():
    z = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    t = np.array([2, 1])
    expected = []
    for row, k in zip(z.tolist(), t.tolist(), strict=True):
        expected.append(float(mpmath.log(sum(mpmath.exp(v) for v in row)) - row[k]))
    np.testing.assert_allclose(cross_entropy(z, t, reduction="none"), expected, rtol=1e-15)
    assert cross_entropy(z, t) == pytest.approx(sum(expected) / 2, rel=1e-15)
    assert cross_entropy(z, t, reduction="sum") == pytest.approx(sum(expected), rel=1e-15)


def test_cross_entropy_with_one_hot_probabilities_equals_indices():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 4))
    t = np.array([0, 3, 1, 1, 2])
    one_hot = np.eye(4)[t]
    np.testing.assert_allclose(
        cross_entropy(z, one_hot, reduction="none"),
        cross_entropy(z, t, reduction="none"),
        rtol=1e-15,
    )


def test_cross_entropy_leading_target_is_tiny_not_zero():
    loss = cross_entropy([[0.0, -40.0, -45.0]], [0], reduction="none")
    expected = float(mpmath.log1p(mpmath.exp(-40) + mpmath.exp(-45)))
    assert nllkit.ulp_distance(loss[0], expected) <= 4  # the bound for cross_entropy


def test_cross_entropy_zero_probability_on_minus_inf_logit_contributes_nothing():
    z = np.array([[0.0, -np.inf, 1.0]])
    p = np.array([[0.5, 0.0, 0.5]])
    expected = float(mpmath.log(1 + mpmath.e) - mpmath.mpf(0.5))
    assert cross_entropy(z, p, reduction="none")[0] == pytest.approx(expected, rel=1e-15)
    assert cross_entropy(z, np.array([[0.0, 1.0, 0.0]]), reduction="none")[0] == np.inf


def test_cross_entropy_batch_shapes():
    z = np.zeros((2, 3, 5))
    t = np.zeros((2, 3), dtype=np.int64)
    assert cross_entropy(z, t, reduction="none").shape == (2, 3)
    assert cross_entropy(z[0, 0], np.int64(4), reduction="none") == pytest.approx(math.log(5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_dtype(dtype):
    z = np.zeros((2, 3), dtype)
    assert cross_entropy(z, np.array([0, 1])).dtype == dtype
    assert cross_entropy(z, np.full((2, 3), 1 / 3, dtype)).dtype == dtype


# --- Gaussian NLL ------------------------------------------------------------------------------


def test_gaussian_nll_is_minus_log_normal_density():
    y, mu, var = 1.3, -0.2, 2.5
    density = mpmath.npdf(y, mu, mpmath.sqrt(var))
    assert gaussian_nll(y, mu, var) == pytest.approx(float(-mpmath.log(density)), rel=1e-15)
    assert gaussian_nll(y, mu, var, full=False) == pytest.approx(
        float(-mpmath.log(density)) - HALF_LOG_2PI, rel=1e-14
    )


def test_gaussian_nll_reductions():
    y = np.array([0.0, 1.0, 2.0])
    none = gaussian_nll(y, 0.0, 1.0, reduction="none")
    np.testing.assert_allclose(none, 0.5 * y**2 + HALF_LOG_2PI, rtol=1e-15)
    assert gaussian_nll(y, 0.0, 1.0, reduction="sum") == pytest.approx(none.sum(), rel=1e-15)
    assert gaussian_nll(y, 0.0, 1.0) == pytest.approx(none.mean(), rel=1e-15)


def test_gaussian_nll_tiny_variance_is_used_as_given():
    # no clamping: with var = 1e-8 and y = mean the loss is 0.5 log(1e-8) + 0.5 log(2 pi)
    assert gaussian_nll(0.0, 0.0, 1e-8) == pytest.approx(0.5 * math.log(1e-8) + HALF_LOG_2PI)


class TestTorchGaussianNLLLossDifferences:
    """The claims of gaussian_nll's docstring about torch.nn.GaussianNLLLoss, checked."""

    y = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    mu = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    var = torch.tensor([0.5, 2.0, 1.5], dtype=torch.float64)

    def test_default_full_false_omits_half_log_2pi(self):
        torch_default = torch.nn.GaussianNLLLoss()(self.mu, self.y, self.var).item()
        ours = gaussian_nll(self.y.numpy(), self.mu.numpy(), self.var.numpy())
        assert torch_default == pytest.approx(ours - HALF_LOG_2PI, rel=1e-14)
        torch_full = torch.nn.GaussianNLLLoss(full=True)(self.mu, self.y, self.var).item()
        assert torch_full == pytest.approx(ours, rel=1e-14)

    def test_torch_silently_clamps_small_variances_to_eps(self):
        tiny = torch.full((3,), 1e-8, dtype=torch.float64)
        clamped = torch.full((3,), 1e-6, dtype=torch.float64)
        loss = torch.nn.GaussianNLLLoss(reduction="none")
        assert torch.equal(loss(self.mu, self.y, tiny), loss(self.mu, self.y, clamped))
        ours_tiny = gaussian_nll(self.y.numpy(), self.mu.numpy(), tiny.numpy(), reduction="none")
        ours_clamped = gaussian_nll(
            self.y.numpy(), self.mu.numpy(), clamped.numpy(), reduction="none"
        )
        assert np.all(ours_tiny > ours_clamped)  # ours uses the variance it was given

    def test_torch_accepts_zero_variance_rejects_negative(self):
        loss = torch.nn.GaussianNLLLoss()
        assert math.isfinite(loss(self.mu, self.y, torch.zeros(3, dtype=torch.float64)).item())
        with pytest.raises(ValueError):
            loss(self.mu, self.y, -torch.ones(3, dtype=torch.float64))
        with pytest.raises(ValueError, match="var"):
            gaussian_nll(self.y.numpy(), self.mu.numpy(), np.zeros(3))

    def test_mean_reduction_averages_all_elements_like_ours(self):
        y = torch.arange(6, dtype=torch.float64).reshape(2, 3)
        mu = torch.zeros(2, 3, dtype=torch.float64)
        var = torch.full((2, 3), 2.0, dtype=torch.float64)
        torch_mean = torch.nn.GaussianNLLLoss(full=True)(mu, y, var).item()
        assert torch_mean == pytest.approx(gaussian_nll(y.numpy(), mu.numpy(), var.numpy()))

    def test_torch_var_may_have_one_dimension_fewer(self):
        y = torch.ones(4, 3, dtype=torch.float64)
        mu = torch.zeros(4, 3, dtype=torch.float64)
        var = torch.full((4,), 2.0, dtype=torch.float64)  # torch adds a trailing 1
        torch_value = torch.nn.GaussianNLLLoss(full=True)(mu, y, var).item()
        ours = gaussian_nll(y.numpy(), mu.numpy(), var.numpy()[:, None])
        assert torch_value == pytest.approx(ours)


# --- entropy and KL ----------------------------------------------------------------------------


def test_entropy_known_values():
    assert entropy([0.5, 0.5]) == pytest.approx(math.log(2), rel=1e-15)
    assert entropy([1.0, 0.0, 0.0]) == 0.0
    assert entropy(np.full(8, 1 / 8)) == pytest.approx(math.log(8), rel=1e-15)


def test_entropy_axis():
    p = np.array([[0.5, 1.0], [0.5, 0.0]])
    np.testing.assert_allclose(entropy(p, axis=0), [math.log(2), 0.0], rtol=1e-15)


def test_kl_known_values():
    p, q = [0.5, 0.5], [0.25, 0.75]
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert kl_divergence(p, q) == pytest.approx(expected, rel=1e-15)
    assert kl_divergence(p, p) == 0.0


def test_kl_zero_handling():
    assert kl_divergence([0.0, 1.0], [0.5, 0.5]) == pytest.approx(math.log(2), rel=1e-15)
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert kl_divergence([1.0, 0.0], [1.0, 0.0]) == 0.0  # 0 log(0/0) = 0


def test_kl_of_nearly_equal_distributions_keeps_relative_accuracy():
    eps = 1e-9
    p = [0.5 + eps, 0.5 - eps]
    q = [0.5, 0.5]
    mp_p = [mpmath.mpf(v) for v in p]
    expected = float(sum(pi * mpmath.log(pi / mpmath.mpf(0.5)) for pi in mp_p))
    assert kl_divergence(p, q) == pytest.approx(expected, rel=1e-6)


def test_kl_broadcasts_over_batches():
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    q = np.array([0.5, 0.5])
    assert kl_divergence(p, q).shape == (2,)


def test_entropy_of_a_certain_outcome_is_plus_zero():
    r"""Every term :math:`-p_j\log p_j` of a one-hot vector is :math:`-0.0`, and so is their
    sum: the returned :math:`H(p) \ge 0` is ``+0.0``, which a chapter prints as ``0.0``, not
    ``-0.0``."""
    h = entropy(np.eye(4))
    assert np.all(h == 0.0)
    assert not np.any(np.signbit(h))
    assert f"{entropy([0.0, 1.0]):.1f}" == "0.0"


def test_kl_is_never_negative_where_rounding_would_make_it_so():
    r"""The docstring: a negative sum can only come from rounding and is returned as 0, so
    :math:`\mathrm{KL} \ge 0` always. Pairs :math:`q = p(1 + \epsilon_j)`, renormalised, with
    :math:`\epsilon` of order :math:`10^{-13}` have a true KL of order :math:`10^{-26}`, far
    below the rounding of the terms (:math:`10^{-17}`), so about half of the unclamped sums
    come out negative; every returned value must be :math:`\ge 0`."""
    rng = np.random.default_rng(21)
    p = rng.dirichlet(np.ones(6), 400)
    q = p * (1 + rng.uniform(-1e-13, 1e-13, p.shape))
    q /= q.sum(axis=1, keepdims=True)
    kl = kl_divergence(p, q)
    assert np.all(kl >= 0.0)
    with np.errstate(divide="ignore"):
        unclamped = (p * np.log(p / q)).sum(axis=1)
    assert np.mean(unclamped < 0) > 0.2  # the grid does reach negative rounded sums


def test_kl_of_nearly_equal_distributions_is_as_accurate_as_its_terms():
    r"""The docstring: where :math:`q/2 \le p \le 2q`, :math:`\log(p/q)` is evaluated as
    ``log1p((p - q)/q)`` (with :math:`p - q` exact), so each term keeps its relative accuracy
    (a few :math:`u = 2^{-53}`) and the sum of :math:`k` terms is within
    :math:`(k + 4)\,u\sum_j p_j|\log(p_j/q_j)|` of the exact KL. The naive
    :math:`\log(p/q)` rounds the ratio first, an absolute error of :math:`u` in each
    logarithm, i.e. about :math:`u\sum_j p_j = u` in the sum: :math:`10^6` times that bound
    for :math:`p = q(1 + \delta)`, :math:`|\delta| \le 10^{-6}` (with :math:`q = 1/2`, as in
    the test above, the ratio is exact and the naive formula is not caught)."""
    rng = np.random.default_rng(23)
    q = rng.dirichlet(np.ones(8), 100)
    p = q * (1 + rng.uniform(-1e-6, 1e-6, q.shape))
    p /= p.sum(axis=1, keepdims=True)
    ref = nllkit.mp_kl_divergence(p, q)
    with mpmath.workdps(40):
        scale = np.array(
            [
                float(
                    sum(
                        mpmath.mpf(a) * abs(mpmath.log(mpmath.mpf(a) / mpmath.mpf(b)))
                        for a, b in zip(pr, qr, strict=True)
                    )
                )
                for pr, qr in zip(p, q, strict=True)
            ]
        )
    bound = (8 + 4) * 2.0**-53 * scale
    assert np.all(np.abs(kl_divergence(p, q) - ref) <= bound)
