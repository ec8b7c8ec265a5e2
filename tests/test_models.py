"""nllkit.models against independent computations.

* every model's loss and closed-form gradient (with L2, label smoothing, a batch of models and
  the beta-NLL's stop-gradient) against torch autograd of torch's own losses, in float64;
* every fitted optimum against scipy's L-BFGS-B driven by torch's value and gradient, and
  where there is one against a closed form (least squares, ridge, per-group means and
  variances);
* the fitters' fast path (nllkit._glm) against the public functions, bit for bit;
* gradient descent: monotone below 2/beta (beta derived), the exact iterates of a quadratic,
  and a rise just above 2/lambda_max; Newton: quadratic convergence with the derived constant;
* bad input names the function and the argument.

Tolerances, derived once here:

* A gradient component is (1/N) sum_n x_n r_n with r_n a per-example derivative. Both sides
  compute each r_n to within a few roundings of the numbers it is formed from (the exp, log1p
  of numpy or torch are within 4 ULP) and then sum N products in their own order. So
  |ours - torch| <= (N + 16) eps * (1/N) sum_n |x_n| (|prediction_n| + |target_n|) per
  component: ``_grad_atol``. (A relative tolerance alone would fail where terms cancel.)
* Losses are means of N terms of size |term_n|: |ours - torch| <= (N + 16) eps mean|term_n|.
* A minimiser of a mu-strongly convex loss lies within ||grad L(w)|| / mu of any w; torch
  evaluates the gradient at both end points (ours and L-BFGS-B's), so the two are within
  (||g_ours|| + ||g_ref||) / mu, mu the smallest eigenvalue of torch's Hessian at the
  reference, halved (the Hessian varies by far less than that between points this close).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch
import torch.nn.functional as F

import nllkit
from nllkit import (
    fit_heteroscedastic_gaussian,
    fit_linear_gaussian,
    fit_logistic,
    fit_multinomial,
    fit_poisson,
    gradient_descent,
    heteroscedastic_gaussian_grad,
    heteroscedastic_gaussian_nll,
    linear_gaussian_grad,
    linear_gaussian_hessian,
    linear_gaussian_nll,
    logistic_grad,
    logistic_hessian,
    logistic_nll,
    multinomial_grad,
    multinomial_hessian,
    multinomial_nll,
    newton,
    poisson_grad,
    poisson_hessian,
    poisson_nll,
)

EPS = float(np.finfo(np.float64).eps)
N, D, K = 60, 3, 4


def _data(seed=20261202):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(N), rng.standard_normal((N, D - 1))])
    w = rng.normal(0.0, 1.0, D)
    y01 = (rng.random(N) < nllkit.sigmoid(X @ w)).astype(float)
    labels = rng.integers(0, K, N)
    y_real = X @ w + 0.7 * rng.standard_normal(N)
    counts = rng.poisson(np.exp(0.5 * X @ w)).astype(float)
    return rng, X, y01, labels, y_real, counts


def _grad_atol(X, scale):
    """(N + 16) eps (1/N) |X|^T scale, per component (scale: |prediction| + |target| terms,
    shape (N,) or (N, S))."""
    return (X.shape[0] + 16) * EPS * (np.abs(X).T @ scale) / X.shape[0]


def _close(ours, theirs, atol):
    """|ours - theirs| <= atol elementwise (atol an array of derived bounds)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    excess = np.abs(ours - theirs) - atol
    assert np.all(excess <= 0), f"off by up to {np.max(excess):.3g} beyond the bound"


def _torch_grad(loss_fn, w):
    t = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    value = loss_fn(t)
    value.sum().backward()
    return value.detach().numpy(), t.grad.numpy()


def _loss_atol(terms):
    return (terms.shape[-1] + 16) * EPS * np.mean(np.abs(terms), axis=-1)


# --- logistic -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("l2", "smoothing"), [(0.0, 0.0), (0.3, 0.0), (0.0, 0.2), (0.1, 0.1)])
def test_logistic_loss_and_gradient_are_autograd_of_torch_bce(l2, smoothing):
    rng, X, y, *_ = _data()
    W = rng.normal(0.0, 2.0, (5, D))  # a batch of 5 models
    X_t = torch.tensor(X)
    target = torch.tensor((1 - smoothing) * y + smoothing / 2)  # the definition

    def torch_loss(w):
        z = w @ X_t.T
        bce = F.binary_cross_entropy_with_logits(z, target.expand_as(z), reduction="none")
        return bce.mean(dim=-1) + 0.5 * l2 * (w * w).sum(dim=-1)

    value, grad = _torch_grad(torch_loss, W)
    z = W @ X.T
    p = nllkit.sigmoid(z)
    terms = np.abs(z) + np.log(2.0) + 0.5 * l2 * np.sum(W * W, axis=-1, keepdims=True)
    _close(logistic_nll(W, X, y, l2=l2, smoothing=smoothing), value, _loss_atol(terms))
    atol = _grad_atol(X, (p + 1).T).T + 4 * EPS * l2 * np.abs(W)
    _close(logistic_grad(W, X, y, l2=l2, smoothing=smoothing), grad, atol)
    # one model alone gives its row of the batch (the same N terms, summed by gemv or gemm)
    _close(
        logistic_grad(W[2], X, y, l2=l2, smoothing=smoothing),
        logistic_grad(W, X, y, l2=l2, smoothing=smoothing)[2],
        atol[2],
    )


def test_logistic_per_model_penalties_match_separate_models():
    rng, X, y, *_ = _data()
    W = rng.normal(0.0, 1.0, (3, D))
    l2, smoothing = np.array([0.0, 0.5, 0.1]), np.array([0.2, 0.0, 0.05])
    batch = logistic_grad(W, X, y, l2=l2, smoothing=smoothing)
    losses = logistic_nll(W, X, y, l2=l2, smoothing=smoothing)
    # the same terms, summed by gemm for the batch and gemv alone: the (N + 16) eps bounds
    atol = _grad_atol(X, (nllkit.sigmoid(W @ X.T) + 1).T).T + 4 * EPS * np.abs(W)
    z = W @ X.T
    loss_atol = _loss_atol(np.abs(z) + np.log(2.0) + np.sum(W * W, axis=1, keepdims=True))
    for s in range(3):
        kw = {"l2": float(l2[s]), "smoothing": float(smoothing[s])}
        _close(batch[s], logistic_grad(W[s], X, y, **kw), atol[s])
        _close(losses[s], logistic_nll(W[s], X, y, **kw), loss_atol[s])


def test_logistic_hessian_is_autograd():
    rng, X, y, *_ = _data()
    w = rng.normal(0.0, 1.0, D)
    H_t = torch.autograd.functional.hessian(
        lambda t: (
            F.binary_cross_entropy_with_logits(torch.tensor(X) @ t, torch.tensor(y))
            + 0.5 * 0.2 * (t * t).sum()
        ),
        torch.tensor(w),
    ).numpy()
    # entries are means of N terms s(1-s) x_a x_b: the same (N + 16) eps bound
    p = nllkit.sigmoid(X @ w)
    atol = (N + 16) * EPS * (np.abs(X).T * (p * (1 - p))) @ np.abs(X) / N + 4 * EPS * 0.2
    _close(logistic_hessian(w, X, y, l2=0.2), H_t, atol)


def _strong_convexity(torch_loss, w_ref):
    """Half the smallest eigenvalue of torch's Hessian at w_ref."""
    H = torch.autograd.functional.hessian(torch_loss, torch.tensor(w_ref.ravel())).numpy()
    return 0.5 * float(np.linalg.eigvalsh(H).min())


def _reference_minimiser(torch_loss, size):
    """scipy L-BFGS-B on torch's value and gradient (independent of nllkit)."""

    def value_and_grad(flat):
        t = torch.tensor(flat, requires_grad=True)
        value = torch_loss(t)
        value.backward()
        return value.item(), t.grad.numpy().copy()

    result = scipy.optimize.minimize(
        value_and_grad,
        np.zeros(size),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 0.0, "maxiter": 10_000},
    )
    return result.x, value_and_grad


def _assert_same_minimiser(torch_loss, *fits):
    """Each fit is within (|g_fit| + |g_ref|) / mu of L-BFGS-B's minimiser (torch gradients)."""
    ref, value_and_grad = _reference_minimiser(torch_loss, fits[0].size)
    mu = _strong_convexity(torch_loss, ref)
    assert mu > 0
    for ours in fits:
        g_ours = np.linalg.norm(value_and_grad(ours.ravel())[1])
        bound = (g_ours + np.linalg.norm(value_and_grad(ref)[1])) / mu
        assert np.linalg.norm(ours.ravel() - ref) <= bound
        assert bound < 1e-5  # a sharp comparison, not a vacuous one
    return ref


@pytest.mark.parametrize(("l2", "smoothing"), [(0.0, 0.0), (0.05, 0.1)])
def test_logistic_fit_is_the_lbfgs_minimiser(l2, smoothing):
    _, X, y, *_ = _data()
    X_t, y_t = torch.tensor(X), torch.tensor((1 - smoothing) * y + smoothing / 2)

    def torch_loss(w):
        return F.binary_cross_entropy_with_logits(X_t @ w, y_t) + 0.5 * l2 * (w * w).sum()

    fits = []
    for kw in ({"method": "newton"}, {"method": "gd", "steps": 2000, "tol": 1e-10}):
        w, history = fit_logistic(X, y, l2=l2, smoothing=smoothing, **kw)
        assert history.converged and history.loss.shape == (history.steps + 1,)
        fits.append(w)
    _assert_same_minimiser(torch_loss, *fits)


def test_logistic_gd_is_monotone_below_two_over_beta():
    # beta = lambda_max(X^T X) / (4N) + l2 bounds the Hessian (sigma' <= 1/4), so for
    # eta < 2/beta the descent lemma gives L(w - eta g) <= L(w) - eta (1 - beta eta / 2)|g|^2,
    # a strict fall. Rounding: a difference of two means of N terms of size |z| + log 2.
    _, X, y, *_ = _data()
    l2 = 0.01
    beta = np.linalg.eigvalsh(X.T @ X).max() / (4 * N) + l2
    starts = np.random.default_rng(7).normal(0.0, 3.0, (4, D))
    _, history = fit_logistic(X, y, w0=starts, l2=l2, step=1.9 / beta, steps=300)
    z = starts @ X.T
    allowance = 2 * (N + 16) * EPS * (np.abs(z).max() + np.log(2.0) + l2 * np.sum(starts**2))
    assert np.all(np.diff(history.loss, axis=0) <= allowance)
    assert history.loss.shape == (301, 4)
    # the default step is 1/beta
    _, default = fit_logistic(X, y, l2=l2, steps=3, record_params=True)
    _close(default.params[1], -logistic_grad(np.zeros(D), X, y, l2=l2) / beta, 0.0)


def test_newton_converges_quadratically_with_the_derived_constant():
    # Boyd & Vandenberghe (9.33): if the Hessian is >= m I along the step and M-Lipschitz, a
    # pure Newton step gives |g+| <= M / (2 m^2) |g|^2. For the mean logistic loss
    # M <= max|sigma''| max_n |x_n| lambda_max(X^T X / N), max|sigma''| = 1 / (6 sqrt 3).
    _, X, y, *_ = _data()
    _, history = fit_logistic(
        X, y, method="newton", tol=0.0, steps=8, record_params=True, record_grad_norm=True
    )
    M = np.linalg.norm(X, axis=1).max() * np.linalg.eigvalsh(X.T @ X / N).max() / (6 * 3**0.5)
    g = history.grad_norm
    checked = 0
    for t in range(len(g) - 1):
        if g[t] < 1e-6 or g[t] > 1e-2:  # the quadratic phase, above the rounding floor
            continue
        step = np.linalg.norm(history.params[t + 1] - history.params[t])
        m_t = np.linalg.eigvalsh(logistic_hessian(history.params[t], X, y)).min()
        assert M * step < m_t / 2  # so the Hessian stays >= m_t / 2 along the step
        m = m_t / 2
        assert g[t + 1] <= M / (2 * m**2) * g[t] ** 2
        checked += 1
    assert checked >= 2
    assert g[-1] < 1e-14


# --- multinomial ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("l2", "smoothing"), [(0.0, 0.0), (0.2, 0.0), (0.0, 0.15), (0.1, 0.1)])
def test_multinomial_loss_and_gradient_are_autograd_of_torch_cross_entropy(l2, smoothing):
    rng, X, _, labels, *_ = _data()
    W = rng.normal(0.0, 1.5, (3, D, K))
    X_t, y_t = torch.tensor(X), torch.tensor(labels)

    def torch_loss(w):  # torch's own label smoothing (eps / K), batch by batch
        logits = X_t @ w
        ce = torch.stack(
            [F.cross_entropy(z, y_t, label_smoothing=smoothing, reduction="mean") for z in logits]
        )
        return ce + 0.5 * l2 * (w * w).sum(dim=(-2, -1))

    value, grad = _torch_grad(torch_loss, W)
    Z = X @ W
    terms = np.abs(Z).max(axis=-1) * 2 + np.log(K)
    _close(
        multinomial_nll(W, X, labels, l2=l2, smoothing=smoothing),
        value,
        _loss_atol(terms) + 4 * EPS * l2 * np.sum(W * W, axis=(-2, -1)),
    )
    scale = nllkit.softmax(Z) + 1  # |softmax| + |target| <= s + 1
    atol = np.abs(X).T @ scale * (N + 16) * EPS / N + 4 * EPS * l2 * np.abs(W)
    _close(multinomial_grad(W, X, labels, l2=l2, smoothing=smoothing), grad, atol)


def test_multinomial_probability_targets_equal_one_hot_labels():
    rng, X, _, labels, *_ = _data()
    W = rng.normal(0.0, 1.0, (D, K))
    onehot = np.eye(K)[labels]
    np.testing.assert_array_equal(multinomial_grad(W, X, labels), multinomial_grad(W, X, onehot))


def test_multinomial_hessian_is_autograd_and_singular_along_ones():
    rng, X, _, labels, *_ = _data()
    W = rng.normal(0.0, 1.0, (D, K))
    X_t, y_t = torch.tensor(X), torch.tensor(labels)
    H_t = torch.autograd.functional.hessian(
        lambda w: F.cross_entropy(X_t @ w.reshape(D, K), y_t), torch.tensor(W.ravel())
    ).numpy()
    H = multinomial_hessian(W, X, labels)
    # entries: means of N terms |x_a x_b| s(1 - s) <= |x_a x_b| / 4, the (N + 16) eps bound
    atol = (N + 16) * EPS * np.max(np.abs(X).T @ np.abs(X)) / (4 * N)
    _close(H, H_t, atol)
    ones = np.kron(np.eye(D), np.ones((K, 1)))  # W + c 1^T: each row shifted by a constant
    _close(H @ ones, np.zeros((D * K, D)), K * D * np.max(atol))


@pytest.mark.parametrize(("l2", "smoothing"), [(1e-2, 0.0), (1e-3, 0.1)])
def test_multinomial_fit_is_the_lbfgs_minimiser(l2, smoothing):
    _, X, _, labels, *_ = _data()
    X_t, y_t = torch.tensor(X), torch.tensor(labels)

    def torch_loss(w):
        W = w.reshape(D, K)
        ce = F.cross_entropy(X_t @ W, y_t, label_smoothing=smoothing)
        return ce + 0.5 * l2 * (W * W).sum()

    W_newton, _ = fit_multinomial(X, labels, l2=l2, smoothing=smoothing, method="newton")
    W_gd, history = fit_multinomial(X, labels, l2=l2, smoothing=smoothing, steps=2000, tol=1e-10)
    assert history.converged
    _assert_same_minimiser(torch_loss, W_newton, W_gd)
    # beta = lambda_max(X^T X)/(2N) + l2 bounds the Hessian: GD at 1/beta is monotone
    assert np.all(np.diff(history.loss) <= 2 * (N + 16) * EPS * 10)


def test_multinomial_newton_without_penalty_keeps_rows_summing_to_zero():
    # The Hessian is singular along W + c 1^T; the minimum-norm (lstsq) step never moves
    # there, so from 0 every row keeps summing to 0 while the gradient goes to 0.
    _, X, _, labels, *_ = _data()
    W, history = fit_multinomial(X, labels, method="newton", record_grad_norm=True)
    assert history.converged and history.grad_norm[-1] < 1e-12
    # lstsq drops the null direction up to rounding, eps |step| per entry per step
    steps_norm = history.steps * np.abs(W).max()
    _close(W.sum(axis=1), np.zeros(D), 16 * K * EPS * steps_norm)
    # W is not unique without a penalty; fixing the last class's weights at 0 (a reference
    # class) makes the loss strictly convex, with a minimiser of the same probabilities.
    X_t, y_t = torch.tensor(X), torch.tensor(labels)

    def reduced(v):
        return F.cross_entropy(X_t @ F.pad(v.reshape(D, K - 1), (0, 1)), y_t)

    ref = _assert_same_minimiser(reduced, W[:, :-1] - W[:, -1:])
    W_ref = np.pad(ref.reshape(D, K - 1), ((0, 0), (0, 1)))
    _close(nllkit.softmax(X @ W), nllkit.softmax(X @ W_ref), 1e-6)


def test_multinomial_batch_with_per_model_settings_matches_separate_fits():
    _, X, _, labels, *_ = _data()
    l2, smoothing = np.array([0.0, 1e-2, 0.0]), np.array([0.0, 0.0, 0.1])
    W, history = fit_multinomial(
        X, labels, W0=np.zeros((3, D, K)), l2=l2, smoothing=smoothing, steps=50
    )
    # the batch's default step uses its largest l2: give each separate fit that step
    beta = np.linalg.eigvalsh(X.T @ X).max() / (2 * N) + l2.max()
    # Steps below 2/beta are non-expansive, so the two runs differ by at most the sum of
    # each step's rounding: eta (N + 16) eps (1/N) |X|^T (s + 1) <= eta (N + 16) eps 2 max|X|.
    atol = 50 / beta * (N + 16) * EPS * 2 * np.abs(X).max()
    for s in range(3):
        W_s, h_s = fit_multinomial(
            X, labels, l2=float(l2[s]), smoothing=float(smoothing[s]), steps=50, step=1 / beta
        )
        _close(W[s], W_s, atol)
        assert h_s.loss.shape == history.loss[:, s].shape


# --- Gaussian -------------------------------------------------------------------------------------


def test_linear_gaussian_is_autograd_and_least_squares():
    rng, X, *_, y, _ = _data()
    var, l2 = 0.49, 0.05
    W = rng.normal(0.0, 1.0, (4, D))
    X_t, y_t = torch.tensor(X), torch.tensor(y)

    def torch_loss(w):
        mu = w @ X_t.T
        nll = F.gaussian_nll_loss(mu, y_t.expand_as(mu), torch.full_like(mu, var), full=True,
                                  reduction="none")  # fmt: skip
        return nll.mean(dim=-1) + 0.5 * l2 * (w * w).sum(dim=-1)

    value, grad = _torch_grad(torch_loss, W)
    mu = W @ X.T
    terms = (mu - y) ** 2 / (2 * var) + 1.0
    _close(linear_gaussian_nll(W, X, y, var=var, l2=l2), value, _loss_atol(terms))
    atol = _grad_atol(X, ((np.abs(mu) + np.abs(y)) / var).T).T + 4 * EPS * l2 * np.abs(W)
    _close(linear_gaussian_grad(W, X, y, var=var, l2=l2), grad, atol)
    # the optimum is ridge regression, (X^T X + N var l2 I) w = X^T y, in closed form
    ridge = np.linalg.solve(X.T @ X + N * var * l2 * np.eye(D), X.T @ y)
    w_newton, h = fit_linear_gaussian(X, y, var=var, l2=l2, method="newton")
    assert h.steps == 1  # a quadratic: one Newton step
    # a 3 x 3 solve with condition number c: error ~ c eps |w|
    cond = np.linalg.cond(linear_gaussian_hessian(X, var=var, l2=l2))
    np.testing.assert_allclose(w_newton, ridge, rtol=0, atol=16 * cond * EPS * np.abs(ridge).max())
    w_gd, _ = fit_linear_gaussian(X, y, var=var, l2=l2, steps=2000, tol=1e-13)
    # |w - w*| <= |g| / lambda_min of the constant Hessian
    lam_min = np.linalg.eigvalsh(linear_gaussian_hessian(X, var=var, l2=l2)).min()
    assert np.linalg.norm(w_gd - ridge) <= 1e-13 / lam_min + 16 * cond * EPS


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_linear_gaussian_fit_is_the_lbfgs_minimiser(l2):
    _, X, *_, y, _ = _data()
    var = 0.49
    X_t, y_t = torch.tensor(X), torch.tensor(y)

    def torch_loss(w):
        nll = F.gaussian_nll_loss(X_t @ w, y_t, torch.full_like(y_t, var), full=True)
        return nll + 0.5 * l2 * (w * w).sum()

    w_newton, _ = fit_linear_gaussian(X, y, var=var, l2=l2, method="newton")
    w_gd, history = fit_linear_gaussian(X, y, var=var, l2=l2, steps=2000, tol=1e-12)
    assert history.converged
    _assert_same_minimiser(torch_loss, w_newton, w_gd)


def test_gradient_descent_on_a_quadratic_follows_the_closed_form_and_diverges_above_2_over_beta():
    # On the Gaussian NLL (a quadratic), w_t - w* = (I - eta H)^t (w_0 - w*); the loss is
    # monotone iff eta <= 2 / lambda_max(H), and rises for any larger step.
    _, X, *_, y, _ = _data()
    H = linear_gaussian_hessian(X)
    beta = np.linalg.eigvalsh(H).max()
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    _, h = fit_linear_gaussian(X, y, step=1.9 / beta, steps=40, record_params=True)
    # Each GD step rounds the gradient to (N + 16) eps (1/N) |X|^T (|X w| + |y|), which the
    # non-expansive iteration carries along; the matrix powers add D t eps per entry.
    per_step = (
        1.9
        / beta
        * (N + 16)
        * EPS
        * np.abs(X).T
        @ (np.abs(X) @ (2 * np.abs(w_star)) + np.abs(y))
        / N
    )
    for t in (1, 5, 40):
        predicted = w_star + np.linalg.matrix_power(np.eye(D) - 1.9 / beta * H, t) @ -w_star
        _close(h.params[t], predicted, t * per_step + 4 * D * t * EPS * np.abs(w_star).max())
    terms = np.max((X @ w_star - y) ** 2) + np.max(np.abs(y)) ** 2 + 1
    assert np.all(np.diff(h.loss) <= 2 * (N + 16) * EPS * terms)
    _, above = fit_linear_gaussian(X, y, step=2.1 / beta, steps=200)
    assert np.diff(above.loss).max() > 1.0  # the stiffest direction grows by 1.1 per step


def _grouped(rng, sizes=(30, 40, 50), sds=(0.5, 1.0, 1.5)):
    g = np.repeat(np.arange(len(sizes)), sizes)
    y = np.array([1.0, -2.0, 3.0])[g] + np.array(sds)[g] * rng.standard_normal(g.size)
    return np.eye(len(sizes))[g], y, g


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_heteroscedastic_gradient_is_autograd_with_a_stop_gradient(beta):
    rng = np.random.default_rng(11)
    X = np.column_stack([np.ones(N), rng.standard_normal((N, D - 1))])
    y = rng.standard_normal(N) * 2
    params = rng.normal(0.0, 0.5, (3, 2, D))
    X_t, y_t = torch.tensor(X), torch.tensor(y)
    l2 = 0.1

    def torch_loss(p):
        mu, s = p[:, 0] @ X_t.T, torch.exp(p[:, 1] @ X_t.T)
        nll = F.gaussian_nll_loss(mu, y_t.expand_as(mu), s, full=True, reduction="none")
        return (s.detach() ** beta * nll).mean(dim=-1) + 0.5 * l2 * (p * p).sum(dim=(-2, -1))

    value, grad = _torch_grad(torch_loss, params)
    mu, s = params[:, 0] @ X.T, np.exp(params[:, 1] @ X.T)
    r2 = (y - mu) ** 2 / s
    terms = s**beta * (r2 + np.abs(np.log(s)) + 2)
    _close(
        heteroscedastic_gaussian_nll(params, X, y, beta=beta, l2=l2),
        value,
        _loss_atol(terms) + 4 * EPS * l2 * np.sum(params**2, axis=(-2, -1)),
    )
    ours = heteroscedastic_gaussian_grad(params, X, y, beta=beta, l2=l2)
    # per-example derivatives of size s^beta (|mu| + |y|) / s and s^beta (1 + r2): the bound
    # of _grad_atol, with exp's few ULP on s (relative 8 eps on every term) inside the 16
    for head, scale in ((0, s**beta * (np.abs(mu) + np.abs(y)) / s), (1, s**beta * (1 + r2))):
        atol = (N + 16) * EPS * scale @ np.abs(X) / N + 4 * EPS * l2 * np.abs(params[:, head])
        _close(ours[:, head], grad[:, head], atol)


def test_heteroscedastic_fit_reaches_the_per_group_closed_form():
    # With a one-hot group design the NLL separates by group: the MLE is each group's mean and
    # mean squared residual (chapter 3), w_s = log(msr_g).
    X, y, g = _grouped(np.random.default_rng(3))
    mean_g = np.bincount(g, y) / np.bincount(g)
    msr_g = np.bincount(g, (y - mean_g[g]) ** 2) / np.bincount(g)
    params, h = fit_heteroscedastic_gaussian(X, y, step=1.0, steps=3000, tol=1e-12)
    assert h.converged
    # Near the optimum the loss is strongly convex with modulus >= min_g f_g min(1/s_g, 1/2)
    # (f_g the group's fraction: the curvatures of the mean and log-variance coordinates);
    # half of it covers the Hessian's change over the short remaining distance.
    f = np.bincount(g) / g.size
    mu = 0.5 * np.min(f * np.minimum(1 / msr_g, 0.5))
    np.testing.assert_allclose(params[0], mean_g, rtol=0, atol=1e-12 / mu)
    np.testing.assert_allclose(params[1], np.log(msr_g), rtol=0, atol=1e-12 / mu)


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_heteroscedastic_fit_is_the_lbfgs_minimiser(l2):
    # beta = 0: the NLL itself, not convex in both heads together but strongly convex near its
    # minimiser (mu > 0 is asserted there); from the same start (zeros) both methods reach it.
    # For beta > 0 the update is no gradient, so there is no loss for L-BFGS to minimise.
    _, X, *_, y, _ = _data()
    X_t, y_t = torch.tensor(X), torch.tensor(y)

    def torch_loss(p):
        mean, var = X_t @ p[:D], torch.exp(X_t @ p[D:])
        return F.gaussian_nll_loss(mean, y_t, var, full=True) + 0.5 * l2 * (p * p).sum()

    params, history = fit_heteroscedastic_gaussian(X, y, l2=l2, step=0.5, steps=2000, tol=1e-10)
    assert history.converged
    _assert_same_minimiser(torch_loss, params)


def test_beta_one_nll_moves_every_mean_at_the_rate_of_its_group_size():
    # beta = 1: s^1 (mu - y) / s = mu - y whatever the variance, so from 0 each group's mean
    # error is |m_g| (1 - eta f_g)^t exactly (chapter 3), while the NLL (beta = 0) lags on
    # the noisiest group.
    X, y, g = _grouped(np.random.default_rng(5))
    f = np.bincount(g) / g.size
    mean_g = np.bincount(g, y) / np.bincount(g)
    eta, steps = 0.05, 200
    batch = np.zeros((2, 2, 3))
    _, h = fit_heteroscedastic_gaussian(
        X, y, params0=batch, beta=[1.0, 0.0], step=eta, steps=steps, record_params=True
    )
    t = np.arange(steps + 1)[:, None]
    predicted = np.abs(mean_g) * (1 - eta * f) ** t
    errors = np.abs(h.params[:, 0, 0] - mean_g)
    # Each step's gradient is a sum of n_g terms |mu - y| (times s / s, a few roundings):
    # (N + 16) eps f_g max(|mu| + |y|) per step, carried along by a contraction.
    per_step = eta * (g.size + 16) * EPS * f * (np.abs(mean_g) + np.abs(y).max())
    _close(errors, predicted, t * per_step + 8 * t * EPS * np.abs(mean_g))
    lag = np.abs(h.params[-1, 1, 0] - mean_g)
    assert lag[2] > 2 * errors[-1, 2]


# --- Poisson ------------------------------------------------------------------------------------


def test_poisson_is_autograd_and_its_fit_is_the_lbfgs_minimiser():
    rng, X, *_, counts = _data()
    W = rng.normal(0.0, 0.5, (3, D))
    X_t, y_t = torch.tensor(X), torch.tensor(counts)
    l2 = 0.02

    def torch_loss(w, full=True):
        rate = torch.exp(w @ X_t.T)
        nll = -torch.distributions.Poisson(rate).log_prob(y_t.expand_as(rate))
        return nll.mean(dim=-1) + 0.5 * l2 * (w * w).sum(dim=-1)

    value, grad = _torch_grad(torch_loss, W)
    z = W @ X.T
    terms = np.exp(z) + np.abs(counts * z) + counts * np.log1p(counts) + 1
    _close(poisson_nll(W, X, counts, l2=l2, full=True), value, _loss_atol(terms))
    np.testing.assert_allclose(
        poisson_nll(W, X, counts, full=True) - poisson_nll(W, X, counts),
        np.mean([math.lgamma(c + 1) for c in counts]),
        rtol=1e-15,
    )
    atol = _grad_atol(X, (np.exp(z) + counts).T).T + 4 * EPS * l2 * np.abs(W)
    _close(poisson_grad(W, X, counts, l2=l2), grad, atol)
    H_t = torch.autograd.functional.hessian(lambda w: torch_loss(w), torch.tensor(W[0])).numpy()
    atol_h = (N + 16) * EPS * (np.abs(X).T * np.exp(z[0])) @ np.abs(X) / N + 4 * EPS * l2
    _close(poisson_hessian(W[0], X, counts, l2=l2), H_t, atol_h)
    w, h = fit_poisson(X, counts, l2=l2)
    assert h.converged
    _assert_same_minimiser(torch_loss, w)


# --- the optimisers themselves --------------------------------------------------------------------


def test_gradient_descent_history_and_stopping():
    # f(x) = x^2 (gradient 2x), step 1/4: x_t = 2^-t exactly
    x, h = gradient_descent(
        lambda x: 2 * x, [1.0], step=0.25, steps=10, loss=lambda x: float(x[0] ** 2),
        record_params=True, record_grad_norm=True,
    )  # fmt: skip
    np.testing.assert_array_equal(h.params[:, 0], 2.0 ** -np.arange(11))
    np.testing.assert_array_equal(h.loss, 4.0 ** -np.arange(11))
    np.testing.assert_array_equal(h.grad_norm, 2.0 ** (1 - np.arange(11)))
    assert h.steps == 10 and not h.converged and x[0] == 2.0**-10
    # tol stops before the step: the first t with 2^(1-t) < 1e-3 is t = 11
    x, h = gradient_descent(lambda x: 2 * x, [1.0], step=0.25, steps=100, tol=1e-3)
    assert h.converged and h.steps == 11 and h.loss is None and h.params is None
    # float32 stays float32; the start is copied
    start = np.ones(2, dtype=np.float32)
    x, _ = gradient_descent(lambda x: 2 * x, start, step=0.25, steps=3)
    assert x.dtype == np.float32 and np.all(start == 1)


def test_zero_steps_return_the_start_and_its_loss():
    _, X, y01, *_ = _data()
    w0 = np.full(D, 0.1)
    w, h = fit_logistic(X, y01, w0=w0, steps=0, record_grad_norm=True)
    _identical(w, w0)
    _identical(h.loss, np.array([logistic_nll(w0, X, y01)]))
    assert h.steps == 0 and h.grad_norm.shape == (1,) and not h.converged
    x, h = gradient_descent(lambda x: 2 * x, [1.0], step=0.25, steps=0)
    assert x.tolist() == [1.0] and h.steps == 0


def test_newton_takes_minimum_norm_steps_on_a_singular_hessian():
    # f(x, y) = (x + y - 2)^2 / 2: Hessian [[1, 1], [1, 1]], singular; from 0 the
    # minimum-norm solution (1, 1) in one step.
    grad = lambda v: np.full(2, v.sum() - 2.0)  # noqa: E731
    x, h = newton(grad, lambda v: np.ones((2, 2)), np.zeros(2), steps=5)
    np.testing.assert_allclose(x, [1.0, 1.0], rtol=1e-15)
    assert h.converged and h.steps == 1


# --- the fast path: nllkit._glm's kernels are the public functions, bit for bit ---------------
#
# The fitters check their inputs once, evaluate the start with the public functions and take
# every later step with the unchecked kernels of nllkit._glm, which promise the same floating-
# point operations in the same order: so the comparisons are exact (np.array_equal, dtype too).


def _kernel_cases():
    """(name, public nll, public grad, kernel, params, data, keywords) for every model, with a
    batch and without, per-model and shared l2 / smoothing / beta, and float32 inputs."""
    rng, X, y01, labels, y_real, counts = _data()
    models = nllkit.models
    cases = []
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        for batch, l2, smoothing in [
            ((), 0.0, 0.0),
            ((), 0.3, 0.1),
            ((3,), np.array([0.0, 0.5, 0.1]), np.array([0.2, 0.0, 0.05])),
            ((3,), 0.1, 0.0),
        ]:
            kw = {"l2": l2, "smoothing": smoothing}
            w = rng.normal(0.0, 2.0, (*batch, D)).astype(dtype)
            yd = y01.astype(dtype)
            _, _, t, l2_eff = models._logistic_inputs(w, Xd, yd, "t", l2, smoothing)
            kernel = nllkit._glm.Logistic(Xd, t, l2_eff)
            cases.append(("logistic", logistic_nll, logistic_grad, kernel, w, (Xd, yd), kw))
            W = rng.normal(0.0, 1.5, (*batch, D, K)).astype(dtype)
            for target in (labels, np.eye(K)[labels]):
                _, _, t, l2_eff = models._multinomial_inputs(W, Xd, target, "t", l2, smoothing)
                kernel = nllkit._glm.Multinomial(Xd, t, l2_eff)
                data = (Xd, target)
                cases.append(
                    ("multinomial", multinomial_nll, multinomial_grad, kernel, W, data, kw)
                )
            kw = {"l2": l2, "var": 0.49}
            _, _, t, var, l2_eff = models._linear_inputs(w, Xd, y_real, 0.49, l2, "t")
            kernel = nllkit._glm.LinearGaussian(Xd, t, var, l2_eff)
            data = (Xd, y_real)
            cases.append(("linear", linear_gaussian_nll, linear_gaussian_grad, kernel, w, data, kw))
            beta = smoothing * 5  # 0, 0.5, per model [1, 0, 0.25]
            P = rng.normal(0.0, 0.5, (*batch, 2, D)).astype(dtype)
            kw = {"l2": l2, "beta": beta}
            _, _, t, beta_eff, l2_eff = models._hetero_inputs(P, Xd, y_real, beta, l2, "t")
            kernel = nllkit._glm.HeteroscedasticGaussian(Xd, t, beta_eff, l2_eff)
            nll, grad = heteroscedastic_gaussian_nll, heteroscedastic_gaussian_grad
            cases.append(("hetero", nll, grad, kernel, P, (Xd, y_real), kw))
            kw = {"l2": l2}
            _, _, t, l2_eff = models._poisson_inputs(w * 0.3, Xd, counts, l2, "t")
            kernel = nllkit._glm.Poisson(Xd, t, l2_eff)
            cases.append(("poisson", poisson_nll, poisson_grad, kernel, w * 0.3, (Xd, counts), kw))
    return cases


def _identical(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    assert np.array_equal(a, b), f"differs by up to {np.max(np.abs(a - b)):.3g}"


@pytest.mark.parametrize("case", range(len(_kernel_cases())))
def test_fast_path_kernels_are_the_public_functions_bit_for_bit(case):
    _, nll, grad, kernel, params, (X, y), kw = _kernel_cases()[case]
    _identical(kernel.loss(params), nll(params, X, y, **kw))
    _identical(kernel.grad(params), grad(params, X, y, **kw))


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")
def test_fast_path_kernel_raises_the_public_error_when_a_variance_overflows():
    _, X, *_, y, _ = _data()
    P = np.zeros((2, D))
    P[1, 0] = 800.0  # s = e^800 = inf
    kernel = nllkit._glm.HeteroscedasticGaussian(X, y, 0.0, 0.0)
    for method, public in ((kernel.grad, heteroscedastic_gaussian_grad), (kernel.loss, None)):
        with pytest.raises(ValueError, match=r"var\[0\] = inf; expected positive, finite") as ours:
            method(P)
        if public is not None:
            with pytest.raises(ValueError) as theirs:
                public(P, X, y)
            assert str(ours.value) == str(theirs.value)


def _fits_and_their_public_loops():
    """(fit, the same run through gradient_descent / newton on the public functions)."""
    _, X, y01, labels, y_real, counts = _data()
    l2, smoothing, beta = np.array([0.0, 0.05, 0.01]), np.array([0.1, 0.0, 0.2]), [0.0, 0.5, 1.0]
    rec = {"record_params": True, "record_grad_norm": True}
    w0, W0, P0 = np.zeros((3, D)), np.zeros((3, D, K)), np.zeros((3, 2, D))
    X32, y32 = X.astype(np.float32), y01.astype(np.float32)
    kw = {"l2": l2, "smoothing": smoothing}
    return [
        (
            lambda: fit_logistic(X, y01, w0=w0, step=0.5, steps=40, tol=1e-3, **kw, **rec),
            lambda: gradient_descent(
                lambda w: logistic_grad(w, X, y01, **kw), w0, step=0.5, steps=40, tol=1e-3,
                loss=lambda w: logistic_nll(w, X, y01, **kw), **rec,
            ),
        ),
        (
            lambda: fit_logistic(X32, y32, w0=w0[0].astype(np.float32), step=0.5, steps=5, **rec),
            lambda: gradient_descent(
                lambda w: logistic_grad(w, X32, y32), w0[0].astype(np.float32), step=0.5,
                steps=5, loss=lambda w: logistic_nll(w, X32, y32), **rec,
            ),
        ),
        (
            lambda: fit_logistic(X, y01, l2=0.1, method="newton", **rec),
            lambda: newton(
                lambda w: logistic_grad(w, X, y01, l2=0.1),
                lambda w: logistic_hessian(w, X, y01, l2=0.1), np.zeros(D),
                loss=lambda w: logistic_nll(w, X, y01, l2=0.1), **rec,
            ),
        ),
        (
            lambda: fit_multinomial(X, labels, W0=W0, step=0.5, steps=30, **kw, **rec),
            lambda: gradient_descent(
                lambda W: multinomial_grad(W, X, labels, **kw), W0, step=0.5, steps=30,
                loss=lambda W: multinomial_nll(W, X, labels, **kw), **rec,
            ),
        ),
        (
            lambda: fit_multinomial(X, labels, method="newton", smoothing=0.1, **rec),
            lambda: newton(
                lambda W: multinomial_grad(W, X, labels, smoothing=0.1),
                lambda W: multinomial_hessian(W, X, (0.9 * np.eye(K)[labels] + 0.1 / K)),
                W0[0], loss=lambda W: multinomial_nll(W, X, labels, smoothing=0.1), **rec,
            ),
        ),
        (
            lambda: fit_linear_gaussian(
                X, y_real, var=0.5, w0=w0, l2=l2, step=0.3, steps=30, **rec
            ),
            lambda: gradient_descent(
                lambda w: linear_gaussian_grad(w, X, y_real, var=0.5, l2=l2), w0, step=0.3,
                steps=30, loss=lambda w: linear_gaussian_nll(w, X, y_real, var=0.5, l2=l2), **rec,
            ),
        ),
        (
            lambda: fit_heteroscedastic_gaussian(
                X, y_real, params0=P0, beta=beta, l2=l2, step=0.1, steps=30, **rec
            ),
            lambda: gradient_descent(
                lambda p: heteroscedastic_gaussian_grad(p, X, y_real, beta=beta, l2=l2), P0,
                step=0.1, steps=30, **rec,
                loss=lambda p: heteroscedastic_gaussian_nll(p, X, y_real, beta=beta, l2=l2),
            ),
        ),
        (
            lambda: fit_poisson(X, counts, w0=w0, l2=l2, method="gd", step=0.05, steps=30, **rec),
            lambda: gradient_descent(
                lambda w: poisson_grad(w, X, counts, l2=l2), w0, step=0.05, steps=30,
                loss=lambda w: poisson_nll(w, X, counts, l2=l2), **rec,
            ),
        ),
        (
            lambda: fit_poisson(X, counts, l2=0.02, **rec),
            lambda: newton(
                lambda w: poisson_grad(w, X, counts, l2=0.02),
                lambda w: poisson_hessian(w, X, counts, l2=0.02), np.zeros(D),
                loss=lambda w: poisson_nll(w, X, counts, l2=0.02), **rec,
            ),
        ),
    ]  # fmt: skip


@pytest.mark.parametrize("case", range(len(_fits_and_their_public_loops())))
def test_a_fit_is_the_public_loop_on_the_public_functions_bit_for_bit(case):
    fit, public = _fits_and_their_public_loops()[case]
    (ours, h), (theirs, h_ref) = fit(), public()
    _identical(ours, theirs)
    for field in ("loss", "params", "grad_norm"):
        _identical(getattr(h, field), getattr(h_ref, field))
    assert (h.steps, h.converged) == (h_ref.steps, h_ref.converged)
    assert h.steps > 1


def test_fit_without_records_takes_the_same_steps():
    # no loss, no norms: the same iterates (the loop skips the unused norms, nothing else)
    _, X, y01, *_ = _data()
    w, h = fit_logistic(X, y01, steps=25, record_loss=False, record_params=True)
    w_ref, h_ref = fit_logistic(X, y01, steps=25, record_params=True, record_grad_norm=True)
    _identical(w, w_ref)
    _identical(h.params, h_ref.params)
    assert h.loss is None and h.grad_norm is None


def test_multinomial_batch_of_models_on_integer_labels():
    # class indices, shared by every model of a batch (or one row per model), need no one-hot
    _, X, _, labels, *_ = _data()
    W0 = np.zeros((2, D, K))
    W, h = fit_multinomial(X, labels, W0=W0, steps=20)
    W_ref, h_ref = fit_multinomial(X, np.eye(K)[labels], W0=W0, steps=20)
    _identical(W, W_ref)
    _identical(h.loss, h_ref.loss)
    _identical(multinomial_grad(W, X, np.stack([labels, labels])), multinomial_grad(W, X, labels))


# --- bad input ---------------------------------------------------------------------------------


def _bad_cases():
    _, X, y, labels, y_real, counts = _data()
    w, W, P = np.zeros(D), np.zeros((D, K)), np.zeros((2, D))
    return [
        (logistic_nll, (w, X[:, :2], y), {}, ValueError, r"logistic_nll: w has shape \(3,\)"),
        (logistic_grad, (w, X, y[:-1]), {}, ValueError, r"logistic_grad: y has shape \(59,\)"),
        (logistic_grad, (w, X, y + 2), {}, ValueError, r"targets\[0\] = .*outside \[0, 1\]"),
        (logistic_nll, (w, X, y), {"l2": -1.0}, ValueError, r"logistic_nll: l2=-1.0"),
        (logistic_nll, (w, X, y), {"smoothing": 1.0}, ValueError, r"smoothing=1.0 .*below 1"),
        (logistic_nll, (w, X, y), {"l2": "big"}, TypeError, r"logistic_nll: l2='big'"),
        (logistic_nll, (w, X, y), {"l2": [0.1, 0.2]}, ValueError, r"l2 has shape \(2,\)"),
        (logistic_nll, (w, X.astype(complex), y), {}, TypeError, r"logistic_nll: X has dtype"),
        (logistic_hessian, (np.zeros((2, D)), X, y), {}, ValueError, r"no batch axis"),
        (logistic_nll, (w, X[0], y), {}, ValueError, r"X has shape \(3,\); expected a design"),
        (multinomial_nll, (W, X, labels + K), {}, ValueError, r"multinomial_nll: y has a class"),
        (multinomial_grad, (W, X, y), {}, ValueError, r"multinomial_grad: y has shape \(60,\)"),
        (multinomial_grad, (W[:2], X, labels), {}, ValueError, r"W has shape \(2, 4\)"),
        (multinomial_hessian, (W[None], X, labels), {}, ValueError, r"no batch axis"),
        (linear_gaussian_nll, (w, X, y_real), {"var": 0.0}, ValueError, r"var=0.0 must be pos"),
        (linear_gaussian_grad, (w, X, y_real), {"var": None}, TypeError, r"var=None"),
        (heteroscedastic_gaussian_nll, (w, X, y_real), {}, ValueError, r"params has shape"),
        (heteroscedastic_gaussian_grad, (P, X, y_real), {"beta": -1}, ValueError, r"beta=-1"),
        (poisson_nll, (w, X, counts - 0.5), {}, ValueError, r"poisson_nll: y\[\d+\] = .*counts"),
        (poisson_hessian, (P, X, counts), {}, ValueError, r"no batch axis"),
        (fit_logistic, (X, y), {}, ValueError, r"fit_logistic: steps is required"),
        (fit_logistic, (X, y), {"method": "lbfgs"}, ValueError, r"method='lbfgs'; expected"),
        (fit_logistic, (X, y), {"w0": np.zeros(2)}, ValueError, r"fit_logistic: w has shape"),
        (fit_multinomial, (X, labels), {"steps": -1}, ValueError, r"gradient_descent: steps=-1"),
        (fit_multinomial, (X, labels), {"n_classes": 2.5}, TypeError, r"n_classes=2.5"),
        (fit_linear_gaussian, (X, y_real), {"steps": 2, "step": 0.0}, ValueError, r"step=0.0"),
        (
            fit_heteroscedastic_gaussian,
            (X, y_real),
            {"step": 0.1, "steps": 1.5},
            TypeError,
            r"steps=1.5 must be an integer",
        ),
        (
            fit_heteroscedastic_gaussian,
            (X, y_real),
            {"step": 0.1, "steps": 2, "tol": -1.0},
            ValueError,
            r"gradient_descent: tol=-1.0",
        ),
        (fit_poisson, (X, counts), {"method": "gd", "steps": 3}, ValueError, r"step is required"),
        # the fitters check the start with the public functions: their checks, their messages
        (fit_logistic, (X, y + 2), {"steps": 3}, ValueError, r"targets\[0\] = 2.0 is outside"),
        (
            fit_multinomial,
            (X, np.full((N, K), 0.3)),
            {"steps": 3},
            ValueError,
            r"cross_entropy_grad: target\[0\] sums to 1.2",
        ),
        (
            fit_heteroscedastic_gaussian,
            (X, y_real),
            {"params0": np.array([[0.0] * D, [-800.0] + [0.0] * (D - 1)]), "step": 0.1, "steps": 3},
            ValueError,
            r"gaussian_nll_grad: var\[0\] = 0.0",  # e^-800 underflows
        ),
        (
            newton,
            (lambda v: v, lambda v: np.eye(3), np.ones(2)),
            {},
            ValueError,
            r"newton: hessian returned shape \(3, 3\)",
        ),
        (
            gradient_descent,
            (lambda v: v, np.zeros(2)),
            {"step": math.inf, "steps": 1},
            ValueError,
            r"gradient_descent: step=inf",
        ),
        (
            gradient_descent,
            (lambda v: v, ["a"]),
            {"step": 0.1, "steps": 1},
            TypeError,
            r"gradient_descent: params0 has dtype",
        ),
    ]


@pytest.mark.parametrize("case", range(len(_bad_cases())))
def test_bad_input_names_the_function_and_argument(case):
    func, args, kwargs, error, message = _bad_cases()[case]
    with pytest.raises(error, match=message):
        func(*args, **kwargs)
