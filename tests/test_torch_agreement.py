"""Agreement with torch.nn.functional on ordinary inputs — and, where torch is wrong, a test that
shows ours right (against the correctly rounded mpmath reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nllkit as nk

TOL = {np.float64: {"rtol": 1e-13, "atol": 1e-300}, np.float32: {"rtol": 1e-5, "atol": 1e-38}}
DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]


def _rng():
    return np.random.default_rng(7)


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


ELEMENTWISE = [
    (nk.sigmoid, torch.sigmoid),
    (nk.softplus, lambda t: F.softplus(t, beta=1.0, threshold=1e9)),  # no threshold here
    (nk.log_sigmoid, F.logsigmoid),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("ours", "theirs"), ELEMENTWISE, ids=lambda f: getattr(f, "__name__", ""))
def test_elementwise_agrees_with_torch(ours, theirs, dtype):
    x = _rng().normal(0, 5, 1000).astype(dtype)
    np.testing.assert_allclose(ours(x), theirs(_t(x)).numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_logit_agrees_with_torch(dtype):
    p = _rng().uniform(0.01, 0.99, 1000).astype(dtype)
    p = p[np.abs(p - 0.5) > 0.05]  # torch's log(p/(1-p)) loses relative accuracy near 1/2
    np.testing.assert_allclose(nk.logit(p), torch.logit(_t(p)).numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_axis_functions_agree_with_torch(dtype):
    z = _rng().normal(0, 3, (20, 10)).astype(dtype)
    for axis in (0, 1):
        np.testing.assert_allclose(
            nk.logsumexp(z, axis=axis), torch.logsumexp(_t(z), dim=axis).numpy(), **TOL[dtype]
        )
        np.testing.assert_allclose(
            nk.softmax(z, axis=axis), torch.softmax(_t(z), dim=axis).numpy(), **TOL[dtype]
        )
        np.testing.assert_allclose(
            nk.log_softmax(z, axis=axis),
            torch.log_softmax(_t(z), dim=axis).numpy(),
            **TOL[dtype],
        )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_agree_with_torch(dtype, reduction):
    rng = _rng()
    z = rng.normal(0, 3, (16, 5)).astype(dtype)
    k = rng.integers(0, 5, 16)
    p = rng.dirichlet(np.ones(5), 16).astype(dtype)
    y = rng.uniform(0, 1, (16, 5)).astype(dtype)
    tol = TOL[dtype]
    np.testing.assert_allclose(
        nk.cross_entropy(z, k, reduction=reduction),
        F.cross_entropy(_t(z), _t(k), reduction=reduction).numpy(),
        **tol,
    )
    np.testing.assert_allclose(
        nk.cross_entropy(z, p, reduction=reduction),
        F.cross_entropy(_t(z), _t(p), reduction=reduction).numpy(),
        **tol,
    )
    np.testing.assert_allclose(
        nk.binary_cross_entropy_with_logits(z, y, reduction=reduction),
        F.binary_cross_entropy_with_logits(_t(z), _t(y), reduction=reduction).numpy(),
        **tol,
    )
    var = rng.uniform(0.1, 2, (16, 5)).astype(dtype)
    np.testing.assert_allclose(
        nk.gaussian_nll(y, z, var, reduction=reduction),
        F.gaussian_nll_loss(_t(z), _t(y), _t(var), full=True, reduction=reduction).numpy(),
        **tol,
    )


def test_entropy_and_kl_agree_with_torch_distributions():
    rng = _rng()
    p = rng.dirichlet(np.ones(6), 10)
    q = rng.dirichlet(np.ones(6), 10)
    tp, tq = (
        torch.distributions.Categorical(probs=_t(p)),
        torch.distributions.Categorical(probs=_t(q)),
    )
    np.testing.assert_allclose(nk.entropy(p), tp.entropy().numpy(), rtol=1e-13)
    np.testing.assert_allclose(
        nk.kl_divergence(p, q), torch.distributions.kl_divergence(tp, tq).numpy(), rtol=1e-12
    )


# --- where torch is wrong ----------------------------------------------------------------------


def test_torch_softplus_threshold_artefact():
    """F.softplus returns x itself for x > threshold=20, off by e^-x: up to 3.5e5 ULP just
    above 20, still more than 1 ULP up to x ~ 33, until e^-x drops below half an ULP of x near
    37. Ours stays within 1 ULP of the correctly rounded value."""
    x = np.linspace(20.5, 36.5, 33)
    ref = nk.mp_softplus(x)
    torch_err = nk.ulp_distance(F.softplus(_t(x)).numpy(), ref)
    ours_err = nk.ulp_distance(nk.softplus(x), ref)
    assert np.all(torch_err[x < 30] > 1)
    assert torch_err.max() > 1e5
    assert ours_err.max() <= 1


@pytest.mark.parametrize("lead", [37.5, 40.0, 100.0, 700.0])
def test_torch_log_softmax_is_exactly_zero_in_the_tail(lead):
    """When the top logit leads by more than 37, log softmax of the top class is
    -sum_j e^(z_j - m), tiny but not 0; torch returns exactly 0."""
    z = np.array([[0.0, -lead, -lead - 2.0]])
    ref = nk.mp_log_softmax(z)[0, 0]
    assert ref < 0
    assert torch.log_softmax(_t(z), dim=-1)[0, 0].item() == 0.0
    ours = nk.log_softmax(z)[0, 0]
    assert ours < 0
    assert nk.ulp_distance(ours, ref) <= 4
    # the same tail in the cross-entropy of the leading class
    assert F.cross_entropy(_t(z), _t(np.array([0]))).item() == 0.0
    assert nk.ulp_distance(nk.cross_entropy(z, np.array([0])), -ref) <= 4


def test_torch_logsumexp_of_0_and_minus_40():
    """log(e^0 + e^-40) = log1p(e^-40) ~ 4.25e-18; torch rounds 1 + e^-40 to 1 and returns 0."""
    z = np.array([0.0, -40.0])
    ref = nk.mp_logsumexp(z)
    assert ref > 0
    assert torch.logsumexp(_t(z), dim=0).item() == 0.0
    assert nk.ulp_distance(nk.logsumexp(z), ref) <= 3
