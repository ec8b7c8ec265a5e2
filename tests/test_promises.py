"""Docstring promises of numerics and losses, measured where they are hardest (issue 14).

Each test measures one sentence of a docstring that no other test measured: a claim about how
far torch or the naive formula is off (torch and mpmath are the independent computations), or
a ULP bound of nllkit on the inputs where it is hardest. Every bound is the docstring's own or
derived in the test's docstring; each test was seen failing against a broken copy of the
library (see the report of issue 14).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import nllkit as nk


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def test_torch_softplus_threshold_error_and_its_range():
    r"""softplus: torch's threshold 20 returns :math:`x`, dropping
    :math:`\log(1 + e^{-x}) \approx e^{-x}`. That is at least half an ULP of :math:`x` while
    :math:`e^{-x} \ge 2^{-48}` (half an ULP of numbers in [32, 64)), i.e. for
    :math:`x < 48\log 2 = 33.27`, and it is largest just above 20:
    :math:`e^{-20}/\mathrm{ulp}(20) = e^{-20}/2^{-48} = 5.80\cdot 10^5` ULP. nllkit stays within
    its 1 ULP on the same inputs."""
    edge = 48 * np.log(2.0)  # 33.2710...
    inside = np.concatenate([[np.nextafter(20.0, 21.0)], np.linspace(20.0, edge - 1e-3, 4000)[1:]])
    beyond = np.linspace(edge + 1e-3, 40.0, 400)
    x = np.concatenate([inside, beyond])
    ref = nk.mp_softplus(x)
    err = nk.ulp_distance(F.softplus(_t(x)).numpy(), ref)
    peak = np.exp(-20.0) / 2.0**-48
    assert abs(err.max() - peak) <= 1  # 580163 ULP, at the first float above 20
    assert err[: inside.size].min() >= 1  # wrong everywhere on 20 < x < 33.27 ...
    assert err[inside.size :].max() == 0  # ... and right beyond it
    assert nk.ulp_distance(nk.softplus(x), ref).max() <= 1


def test_naive_logit_near_one_half():
    r"""logit: the naive :math:`\log(p/(1-p))` rounds :math:`1 - p` (exact only for
    :math:`p \ge 1/2`) and the quotient :math:`q \approx 1`, two relative errors of
    :math:`2^{-53}`, so :math:`q` is off by up to :math:`2^{-52} q` absolute, with
    :math:`q \le 1 + 8|\delta|` here (:math:`\delta = p - 1/2`); ``log`` passes that on with
    condition 1, and the result :math:`|\operatorname{logit} p| \ge 4|\delta|` has an ULP
    above :math:`4|\delta| 2^{-53}`. With the result's own rounding and ``log``'s last bit,
    torch is off by at most :math:`(1 + 8|\delta|)/(2|\delta|) + 2` ULP (the docstring's
    "about :math:`1/(2|p - 1/2|)` ULP") — and it comes within a factor 2 of that bound on
    every band (measured 0.52 to 0.73). nllkit stays within its 4 ULP."""
    rng = np.random.default_rng(14)
    for width in (1e-1, 1e-3, 1e-5, 1e-7, 1e-9):
        p = 0.5 + rng.uniform(-width, width, 3000)
        p = p[p != 0.5]
        delta = np.abs(p - 0.5)  # exact (Sterbenz)
        ref = nk.mp_logit(p)
        err = nk.ulp_distance(torch.logit(_t(p)).numpy(), ref)
        bound = (1 + 8 * delta) / (2 * delta) + 2
        assert np.all(err <= bound)
        assert np.max(err / bound) > 0.5
        assert nk.ulp_distance(nk.logit(p), ref).max() <= 4
    assert err.max() > 1e11  # the naive formula keeps few digits of the result there


def _softmax_rows():
    """Random rows of scales 1 to 100, rows whose leader trails the rest by 30 to 745 (tiny and
    subnormal entries whose shifts z_j - m round), ties and -inf entries."""
    rng = np.random.default_rng(15)
    k = 16
    blocks = [rng.normal(0, s, (300, k)) + rng.uniform(-50, 50, (300, 1)) for s in (1, 10, 100)]
    lead = rng.uniform(-5, 5, (300, k)) - rng.uniform(30, 745, (300, 1))
    lead[np.arange(300), rng.integers(0, k, 300)] = rng.uniform(-5, 5, 300)
    blocks.append(lead + rng.uniform(-100, 100, (300, 1)))
    ties = rng.normal(0, 3, (50, k))
    ties[:, :4] = ties.max(axis=1, keepdims=True)
    blocks.append(ties)
    ninf = rng.normal(0, 5, (50, k))
    ninf[rng.uniform(size=(50, k)) < 0.3] = -np.inf
    ninf[:, 0] = 0.0
    blocks.append(ninf)
    return np.concatenate(blocks)


def test_softmax_is_within_3_ulp_however_small_the_entry():
    r"""softmax: "every entry, however tiny, is within a few ULP (measured ≤ 3 in float64)".
    The hard entries are those of rows with a large lead: :math:`\mathrm{fl}(z_j - m)` is off by
    half an ULP of the lead, hundreds of ULP of :math:`e^{z_j - m}` without the TwoSum
    correction."""
    rows = _softmax_rows()
    ours, ref = nk.softmax(rows), nk.mp_softmax(rows)
    assert np.any((ref > 0) & (ref < 1e-300))  # the grid reaches subnormal entries
    d = nk.ulp_distance(ours, ref)
    i = np.unravel_index(int(np.argmax(d)), d.shape)
    assert d.max() <= 3, f"{d.max()} ULP at {i}, row {rows[i[0]]!r}"


def test_hard_target_bce_is_a_softplus():
    r"""binary_cross_entropy_with_logits: "with hard targets the weights are exactly 0 or 1 and
    the loss is a softplus (≤ 1 ULP)" — measured on the logits where softplus is hardest (both
    tails, around 0, and the 20 to 37 band where torch's threshold bites)."""
    rng = np.random.default_rng(16)
    z = np.concatenate(
        [
            np.arange(-800.0, 801.0),
            rng.uniform(-40, 40, 2000),
            rng.uniform(-1, 1, 500),
            rng.uniform(20, 37, 500),
            -np.exp(rng.uniform(-700, 6.6, 300)),
            np.exp(rng.uniform(-700, 6.6, 300)),
        ]
    )
    y = rng.integers(0, 2, z.size).astype(float)
    ours = nk.binary_cross_entropy_with_logits(z, y, reduction="none")
    ref = nk.mp_binary_cross_entropy_with_logits(z, y)
    assert nk.ulp_distance(ours, ref).max() <= 1


def test_sigmoid_keeps_subnormal_results():
    r"""sigmoid: ":math:`\sigma(-740) \approx 4\cdot 10^{-322}`, where :math:`1/(1+e^{-x})`
    would overflow :math:`e^{-x}` and return 0" — and the result keeps the 2 ULP of the bound
    (of a subnormal number, where an ULP is :math:`2^{-1074}`)."""
    x = np.linspace(-745.0, -700.0, 451)
    ref = nk.mp_sigmoid(x)
    with np.errstate(over="ignore"):
        assert 1 / (1 + np.exp(740.0)) == 0.0
    assert 3.9e-322 < nk.sigmoid(-740.0) < 4.3e-322
    assert nk.ulp_distance(nk.sigmoid(x), ref).max() <= 2
