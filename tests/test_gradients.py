"""Each closed-form derivative of nllkit.gradients against torch autograd (float64, 1e-12
relative) and against central finite differences (1e-7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nllkit import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    cross_entropy,
    cross_entropy_grad,
    finite_difference_gradient,
    gaussian_nll,
    gaussian_nll_grad,
    softmax,
    softmax_jacobian,
)

REDUCTIONS = ["mean", "sum", "none"]
AUTOGRAD_RTOL = 1e-12
FD_TOL = 1e-7


def _rng():
    return np.random.default_rng(20261121)


def _autograd(loss_fn, *arrays):
    """Gradients of sum(loss_fn(*tensors)) with respect to every input, by torch autograd."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    loss_fn(*tensors).sum().backward()
    return [t.grad.numpy() for t in tensors]


def _assert_autograd_close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=AUTOGRAD_RTOL, atol=1e-300)


def _assert_fd_close(ours, fd):
    np.testing.assert_allclose(ours, fd, rtol=FD_TOL, atol=FD_TOL * max(1.0, np.abs(fd).max()))


def _scalar(value):
    """Finite differences need a scalar; the gradient of a 'none' loss is that of its sum."""
    return float(np.sum(value))


# --- BCE with logits ---------------------------------------------------------------------------


@pytest.fixture
def bce_data():
    rng = _rng()
    z = rng.normal(0, 3, (4, 5))
    y = rng.uniform(0, 1, (4, 5))
    y[0] = rng.integers(0, 2, 5)  # hard targets too
    return z, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_grad_equals_autograd(bce_data, reduction):
    z, y = bce_data
    (expected,) = _autograd(
        lambda zt: F.binary_cross_entropy_with_logits(zt, torch.from_numpy(y), reduction=reduction),
        z,
    )
    _assert_autograd_close(
        binary_cross_entropy_with_logits_grad(z, y, reduction=reduction), expected
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_grad_equals_finite_differences(bce_data, reduction):
    z, y = bce_data
    fd = finite_difference_gradient(
        lambda zz: _scalar(binary_cross_entropy_with_logits(zz, y, reduction=reduction)), z
    )
    _assert_fd_close(binary_cross_entropy_with_logits_grad(z, y, reduction=reduction), fd)


def test_bce_grad_sums_over_broadcast_dimensions():
    rng = _rng()
    z = rng.normal(size=(1, 3))
    y = rng.uniform(size=(4, 3))
    expected, _ = _autograd(
        lambda zt, yt: F.binary_cross_entropy_with_logits(zt.expand(4, 3), yt), z, y
    )
    _assert_autograd_close(binary_cross_entropy_with_logits_grad(z, y), expected)


# --- cross-entropy -----------------------------------------------------------------------------


@pytest.fixture
def ce_data():
    rng = _rng()
    z = rng.normal(0, 3, (6, 4))
    k = rng.integers(0, 4, 6)
    p = rng.dirichlet(np.ones(4), 6)
    return z, k, p


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["indices", "probabilities"])
def test_cross_entropy_grad_equals_autograd(ce_data, reduction, kind):
    z, k, p = ce_data
    target = k if kind == "indices" else p
    (expected,) = _autograd(
        lambda zt: F.cross_entropy(zt, torch.from_numpy(target), reduction=reduction), z
    )
    _assert_autograd_close(cross_entropy_grad(z, target, reduction=reduction), expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["indices", "probabilities"])
def test_cross_entropy_grad_equals_finite_differences(ce_data, reduction, kind):
    z, k, p = ce_data
    target = k if kind == "indices" else p
    fd = finite_difference_gradient(
        lambda zz: _scalar(cross_entropy(zz, target, reduction=reduction)), z
    )
    _assert_fd_close(cross_entropy_grad(z, target, reduction=reduction), fd)


def test_cross_entropy_grad_batch_shape():
    rng = _rng()
    z = rng.normal(size=(2, 3, 5))
    k = rng.integers(0, 5, (2, 3))
    (expected,) = _autograd(
        lambda zt: F.cross_entropy(zt.reshape(6, 5), torch.from_numpy(k.reshape(6))), z
    )
    _assert_autograd_close(cross_entropy_grad(z, k), expected)


# --- softmax Jacobian --------------------------------------------------------------------------


def test_softmax_jacobian_equals_autograd():
    rng = _rng()
    z = rng.normal(0, 2, (3, 5))
    ours = softmax_jacobian(z)
    assert ours.shape == (3, 5, 5)
    for row, jac in zip(z, ours, strict=True):
        expected = torch.autograd.functional.jacobian(
            lambda t: torch.softmax(t, dim=-1), torch.from_numpy(row)
        ).numpy()
        _assert_autograd_close(jac, expected)


def test_softmax_jacobian_equals_finite_differences():
    rng = _rng()
    z = rng.normal(0, 2, 5)
    jac = softmax_jacobian(z)
    for i in range(5):
        fd = finite_difference_gradient(lambda zz, i=i: float(softmax(zz)[i]), z)
        _assert_fd_close(jac[i], fd)


def test_softmax_jacobian_is_symmetric_with_zero_row_sums():
    rng = _rng()
    jac = softmax_jacobian(rng.normal(size=(2, 3, 4)))
    assert jac.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(jac, np.swapaxes(jac, -1, -2))
    np.testing.assert_allclose(jac.sum(axis=-1), 0.0, atol=1e-16)


# --- Gaussian NLL ------------------------------------------------------------------------------


@pytest.fixture
def gauss_data():
    rng = _rng()
    y = rng.normal(size=(3, 4))
    mean = rng.normal(size=(3, 4))
    var = rng.uniform(0.2, 3.0, (3, 4))
    return y, mean, var


def _torch_gaussian(reduction):
    loss = torch.nn.GaussianNLLLoss(full=True, eps=1e-300, reduction=reduction)
    return lambda mt, vt, yt: loss(mt, yt, vt)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_grad_equals_autograd(gauss_data, reduction):
    y, mean, var = gauss_data
    d_mean, d_var, _ = _autograd(_torch_gaussian(reduction), mean, var, y)
    ours_mean, ours_var = gaussian_nll_grad(y, mean, var, reduction=reduction)
    _assert_autograd_close(ours_mean, d_mean)
    _assert_autograd_close(ours_var, d_var)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_grad_equals_finite_differences(gauss_data, reduction):
    y, mean, var = gauss_data
    ours_mean, ours_var = gaussian_nll_grad(y, mean, var, reduction=reduction)
    fd_mean = finite_difference_gradient(
        lambda m: _scalar(gaussian_nll(y, m, var, reduction=reduction)), mean
    )
    fd_var = finite_difference_gradient(
        lambda v: _scalar(gaussian_nll(y, mean, v, reduction=reduction)), var
    )
    _assert_fd_close(ours_mean, fd_mean)
    _assert_fd_close(ours_var, fd_var)


def test_gaussian_nll_grad_shared_variance_is_summed():
    rng = _rng()
    y = rng.normal(size=(5, 2))
    mean = rng.normal(size=(5, 2))
    var = np.array([[0.7, 1.9]])  # one variance per column, broadcast over rows
    d_mean, d_var, _ = _autograd(
        lambda mt, vt, yt: torch.nn.GaussianNLLLoss(full=True, eps=1e-300)(mt, yt, vt.expand(5, 2)),
        mean,
        var,
        y,
    )
    ours_mean, ours_var = gaussian_nll_grad(y, mean, var)
    assert ours_var.shape == (1, 2)
    _assert_autograd_close(ours_mean, d_mean)
    _assert_autograd_close(ours_var, d_var)


def test_gaussian_nll_grad_vanishes_at_the_maximum_likelihood_estimate():
    y = np.array([1.5, -2.0])
    d_mean, d_var = gaussian_nll_grad(y, y + 0.5, np.array([0.25, 0.25]), reduction="none")
    np.testing.assert_allclose(d_var, 0.0, atol=1e-15)  # sigma^2 = (y - mu)^2
    np.testing.assert_allclose(d_mean, 0.5 / 0.25)


def test_cross_entropy_grad_for_targets_that_sum_to_one_within_the_tolerance():
    r"""The docstring: the factor :math:`\sum_j p_j` makes ``softmax(z) * sum(p) - p`` the exact
    derivative even for probability targets that sum to 1 only within the tolerance
    (:math:`10^{-6}`). torch autograd of :math:`-\sum_j p_j \log\operatorname{softmax}(z)_j`
    is the independent computation; without the factor the gradient is off by
    :math:`9\cdot 10^{-7}\operatorname{softmax}(z)`, far beyond the 1e-12 of these checks."""
    rng = _rng()
    z = rng.normal(0, 3, (8, 5))
    p = rng.dirichlet(np.ones(5), 8)
    p /= p.sum(axis=1, keepdims=True)
    p *= 1 + rng.choice([-9e-7, 9e-7], (8, 1))
    for reduction in REDUCTIONS:
        (expected,) = _autograd(
            lambda zt, r=reduction: F.cross_entropy(zt, torch.from_numpy(p), reduction=r), z
        )
        _assert_autograd_close(cross_entropy_grad(z, p, reduction=reduction), expected)
