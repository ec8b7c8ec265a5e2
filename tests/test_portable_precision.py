"""The accuracy contract does not depend on ``np.longdouble`` (issue 11, item 3).

``np.longdouble`` is 80-bit on x86 Linux but float64 on ARM macOS and Windows. The rows where
float64 is not enough — log-sum-exp results that cancel, and softmax tails made of subnormal
terms — are computed in double-double arithmetic (``nllkit._accurate``). These tests

* check that no module of the library names an extended-precision type, and
* measure the hardest of those rows twice: natively, and on an emulated platform whose
  ``long double`` is float64 (``np.longdouble`` monkeypatched to ``np.float64``, as it is on
  those machines). Both must meet the same bounds.

Run against the code before the change (extended precision via ``np.longdouble``), 10 of
these tests failed: the source scan; every emulated cancelling grid (76 ULP at a condition
number of 140, 10616 ULP at 1.9e4, up to 8e9 ULP at 2e10); the emulated rows of 1000 equal
tiny terms (3 ULP); and natively the cancelling rows beyond the reach of 80 bits (1366 ULP at
a condition number of 7e6).
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import nllkit as nk
from nllkit import numerics

SRC = Path(nk.__file__).parent
EXTENDED = {"longdouble", "float128", "float96", "longfloat", "clongdouble", "complex256"}


def test_the_library_names_no_extended_precision_type():
    """Nothing in ``src/nllkit`` refers to ``np.longdouble`` or an alias of it."""
    found = []
    for path in sorted(SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "attr", None) or getattr(node, "id", None)
            if name in EXTENDED:
                found.append(f"{path.name}:{node.lineno}: {name}")
    assert not found, "extended precision in the library: " + ", ".join(found)


@pytest.fixture(params=["native", "float64-long-double"])
def platform(request, monkeypatch):
    """Run the test natively, then as on a machine whose ``long double`` is float64."""
    if request.param == "float64-long-double":
        monkeypatch.setattr(np, "longdouble", np.float64)
        # The old code also computed e^-700 in extended precision at import time.
        if hasattr(numerics, "_EXP_MINUS_TAIL_SCALE"):
            monkeypatch.setattr(numerics, "_EXP_MINUS_TAIL_SCALE", np.float64(np.exp(-700.0)))
    return request.param


def _condition(z, lse):
    r"""The relative condition number :math:`\kappa = \sum_i s_i |z_i| / |\mathrm{LSE}|` of
    log-sum-exp, with a plain numpy softmax (only to show which range the grid covers)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True) * np.abs(z)).sum(axis=1) / np.abs(lse)


def cancelling_rows(eps, n=60, k=6):
    r"""Rows whose log-sum-exp is :math:`\varepsilon`-relative of 0: each row is shifted by its
    own log-sum-exp times :math:`1 + U(-\varepsilon, \varepsilon)`, logits of scale 1 to 100."""
    rng = np.random.default_rng([11, int(-np.log10(eps))])
    z = rng.normal(0, 1, (n, k)) * rng.choice([1.0, 10.0, 100.0], (n, 1))
    m = z.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return z - lse * (1 + rng.uniform(-eps, eps, (n, 1)))


@pytest.mark.parametrize("eps", [1e-1, 1e-3, 1e-5, 1e-7, 1e-9, 1e-11, 1e-13])
def test_cancelling_logsumexp_is_rounded_once(platform, eps):
    r"""Where :math:`m + L` cancels (:math:`|\mathrm{LSE}| < |m|/2`, the rows the logsumexp
    docstring sends to double-double), the result is within :math:`\frac12 + \kappa 2^{-42}`
    ULP (the double-double :math:`L` is within :math:`2^{-95}` of itself), which is at most
    1 ULP for every :math:`\kappa` below :math:`2^{41} \approx 2\cdot 10^{12}`; the grid
    reaches :math:`\kappa \approx 2\cdot 10^{14}` (the docstring's "measured ≤ 1 ULP up to
    :math:`\kappa = 10^{14}`"), where the derived bound allows 45 ULP and 1 is asserted. The
    other rows keep the general bound, 3 ULP."""
    z = cancelling_rows(eps)
    ref = nk.mp_logsumexp(z)
    kappa = _condition(z, ref)
    assert kappa.max() > 1 / eps  # the rows are as ill-conditioned as intended
    d = nk.ulp_distance(nk.logsumexp(z), ref)
    cancels = np.abs(ref) < 0.5 * np.abs(z.max(axis=1))
    assert cancels.sum() >= 10
    for rows, ulp in ((cancels, 1), (~cancels, 3)):
        if rows.any():
            i = int(np.argmax(np.where(rows, d, -1)))
            msg = f"{d[i]} ULP at kappa {kappa[i]:.3g}, row {z[i]!r}"
            assert d[rows].max() <= ulp, msg


def tiny_tail_rows(k):
    r"""Rows of a leader at 0 and k - 1 equal logits c, so that every term :math:`e^{c}` is
    below :math:`10^{-290}` (the re-summed rows) and their float64 errors would all go the same
    way; the tails :math:`(k - 1)e^c` run from :math:`e^{-744}` (subnormal) through the smallest
    normal :math:`2^{-1022}` to :math:`e^{-668}` (normal)."""
    rng = np.random.default_rng([21, k])
    c = rng.uniform(-744.0, -668.0, 40) - np.log(k - 1)
    rows = np.repeat(c[:, None], k, axis=1)
    rows[:, 0] = 0.0
    return rows


@pytest.mark.parametrize("k", [17, 1000])
def test_tiny_tails_are_rounded_once(platform, k):
    r"""A tail below :math:`10^{-290}` is summed in double-double (relative error below
    :math:`2^{-100}`) and rounded once, so it is within :math:`\frac12 + 2^{-47}` ULP of the
    exact value: at most 1 ULP from the correctly rounded reference. That holds for
    logsumexp (:math:`\operatorname{log1p}(t) = t` here), for the leader's log-probability
    :math:`-t`, and for the cross-entropy of the leading class, which is :math:`t`."""
    rows = tiny_tail_rows(k)
    ref = nk.mp_logsumexp(rows)
    assert np.any(ref < np.finfo(np.float64).smallest_normal)
    assert np.any(ref > 1e3 * np.finfo(np.float64).smallest_normal)
    lead = np.zeros(len(rows), dtype=int)
    # With the leader at 0, its log-probability is -LSE and its cross-entropy LSE, exactly,
    # so the correctly rounded reference of each is +-ref.
    results = {
        "logsumexp": (nk.logsumexp(rows), ref),
        "log_softmax": (nk.log_softmax(rows)[:, 0], -ref),
        "cross_entropy": (nk.cross_entropy(rows, lead, reduction="none"), ref),
    }
    for name, (ours, want) in results.items():
        d = nk.ulp_distance(ours, want)
        i = int(np.argmax(d))
        assert d.max() <= 1, f"{name}: {d.max()} ULP at the row of {rows[i, 1]!r}"
