"""Hypothesis property tests: the identities the book derives hold for arbitrary inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nllkit as nk

# Per-test settings (not a global profile, which would change other modules' tests too):
# deterministic examples for CI, no deadline (the machine is shared), a bounded run time.
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)

reals = st.floats(-800, 800, allow_nan=False, allow_infinity=False, width=64)
moderate = st.floats(-30, 30, allow_nan=False, allow_infinity=False, width=64)
rows = hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 8)), elements=reals)
vectors = hnp.arrays(np.float64, st.integers(1, 8), elements=reals)


@st.composite
def distributions(draw, k=None, positive=False):
    """A probability vector of length k (drawn if None), normalised in float64."""
    k = k or draw(st.integers(2, 8))
    low = 1e-3 if positive else 0.0
    w = draw(hnp.arrays(np.float64, k, elements=st.floats(low, 1.0)))
    if w.sum() == 0:
        w[0] = 1.0
    return w / w.sum()


# --- softmax / log_softmax / logsumexp ---------------------------------------------------------


@PROPERTY
@given(rows)
def test_softmax_sums_to_one(z):
    s = nk.softmax(z)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=0, atol=8 * z.shape[-1] * 2**-53)


@PROPERTY
@given(rows, st.floats(-100, 100, allow_nan=False))
def test_softmax_is_shift_invariant(z, c):
    shifted = z + c
    np.testing.assert_allclose(nk.softmax(shifted), nk.softmax(z), rtol=1e-9, atol=1e-300)


@PROPERTY
@given(rows)
def test_log_softmax_is_log_of_softmax_where_finite(z):
    s = nk.softmax(z)
    ls = nk.log_softmax(z)
    ok = s > 1e-300  # log of a normal number: no subnormal precision loss
    np.testing.assert_allclose(ls[ok], np.log(s[ok]), rtol=1e-13, atol=1e-15)


@PROPERTY
@given(rows)
def test_logsumexp_at_least_max_and_at_most_max_plus_log_k(z):
    lse = nk.logsumexp(z)
    m = z.max(axis=-1)
    assert np.all(lse >= m)
    assert np.all(lse <= m + np.log(z.shape[-1]) * (1 + 1e-15) + 1e-300)


@PROPERTY
@given(rows)
def test_log_softmax_is_z_minus_logsumexp(z):
    expected = z - nk.logsumexp(z, keepdims=True)
    np.testing.assert_allclose(nk.log_softmax(z), expected, rtol=1e-12, atol=1e-12)


# --- sigmoid / softplus --------------------------------------------------------------------------


@PROPERTY
@given(moderate)
def test_sigmoid_symmetry(x):
    # sigma(-x) = 1 - sigma(x), checked where 1 - sigma(x) is itself accurate (sigma(x) >= 1/2)
    x = abs(x)
    np.testing.assert_allclose(nk.sigmoid(-x), 1.0 - nk.sigmoid(x), rtol=0, atol=2**-52)


@PROPERTY
@given(reals)
def test_softplus_difference_is_identity(x):
    diff = nk.softplus(x) - nk.softplus(-x)
    np.testing.assert_allclose(diff, x, rtol=2**-51, atol=2**-52)


@PROPERTY
@given(reals)
def test_log_sigmoid_is_minus_softplus_of_minus_x(x):
    assert nk.log_sigmoid(x) == -nk.softplus(-x)


@PROPERTY
@given(reals)
def test_sigmoid_is_derivative_of_softplus(x):
    # d/dx softplus = sigma, by a central difference where softplus is smooth on the step
    h = 1e-6 * max(1.0, abs(x))
    fd = (nk.softplus(x + h) - nk.softplus(x - h)) / (2 * h)
    np.testing.assert_allclose(fd, nk.sigmoid(x), rtol=1e-5, atol=1e-9)


# --- information ---------------------------------------------------------------------------------


@PROPERTY
@given(distributions())
def test_entropy_is_nonnegative_and_at_most_log_k(p):
    h = nk.entropy(p)
    assert 0 <= h <= np.log(p.size) * (1 + 1e-14)


@PROPERTY
@given(st.integers(2, 8).flatmap(lambda k: st.tuples(distributions(k), distributions(k))))
def test_kl_is_nonnegative(pq):
    p, q = pq
    assert nk.kl_divergence(p, q) >= 0


@PROPERTY
@given(distributions())
def test_kl_of_a_distribution_with_itself_is_zero(p):
    assert nk.kl_divergence(p, p) == 0.0


@PROPERTY
@given(
    st.integers(2, 8).flatmap(
        lambda k: st.tuples(distributions(k, positive=True), distributions(k, positive=True))
    )
)
def test_kl_is_positive_when_distributions_differ(pq):
    p, q = pq
    if np.max(np.abs(p - q)) > 1e-6:
        assert nk.kl_divergence(p, q) > 0


@PROPERTY
@given(
    st.integers(2, 8).flatmap(
        lambda k: st.tuples(distributions(k), distributions(k, positive=True))
    )
)
def test_cross_entropy_is_entropy_plus_kl(pq):
    # H(p, q) = H(p) + KL(p || q), with H(p, q) = cross_entropy(log q, p) (log_softmax(log q) =
    # log q because q sums to 1)
    p, q = pq
    h_pq = nk.cross_entropy(np.log(q), p, reduction="none")
    np.testing.assert_allclose(h_pq, nk.entropy(p) + nk.kl_divergence(p, q), rtol=1e-12, atol=1e-14)


# --- losses and their gradients ---------------------------------------------------------------


@PROPERTY
@given(reals, st.floats(0, 1))
def test_bce_is_soft_mixture_of_softplus(z, y):
    loss = nk.binary_cross_entropy_with_logits(z, y, reduction="none")
    expected = y * nk.softplus(-z) + (1 - y) * nk.softplus(z)
    np.testing.assert_allclose(loss, expected, rtol=1e-14, atol=1e-300)
    assert loss >= 0


@PROPERTY
@given(rows)
def test_cross_entropy_gradient_rows_sum_to_zero(z):
    k = np.zeros(z.shape[0], dtype=np.int64)
    g = nk.cross_entropy_grad(z, k, reduction="none")
    np.testing.assert_allclose(g.sum(axis=-1), 0.0, atol=8 * z.shape[-1] * 2**-53)
