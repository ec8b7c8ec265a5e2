"""The functions compared: nllkit, the naive textbook formula in numpy, scipy.special and torch.

Each benchmarked function has a list of input names (keys of the grids / speed inputs), its
mpmath reference, one implementation per library (``None`` where the library has none) and the
bounds that issue 3 sets. Implementations take "native" inputs: numpy arrays, or for torch
tensors made once beforehand, so the speed table times the computation and not a conversion.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.special as sp
import torch
import torch.nn.functional as F

import nllkit

LIBRARIES = ("nllkit", "numpy", "scipy", "torch")

Impl = Callable[..., Any]


@dataclass(frozen=True)
class Candidate:
    """One benchmarked function."""

    name: str
    inputs: tuple[str, ...]
    reference: Impl
    impls: dict[str, Impl | None]
    #: max ULP allowed for nllkit, per dtype name; missing: no bound in issue 3
    ulp_bound: dict[str, float] = field(default_factory=dict)
    #: nllkit time / torch time allowed; None: no bound
    torch_ratio: float | None = None
    #: nllkit must be faster than scipy
    beat_scipy: bool = False


def _ours(name: str, **kwargs: Any) -> Impl | None:
    """nllkit's function ``name`` (with keyword arguments bound), None if it does not exist yet."""
    f = getattr(nllkit, name, None)
    return None if f is None else functools.partial(f, **kwargs) if kwargs else f


def _quiet(f: Impl) -> Impl:
    """Run a naive formula with numpy's overflow / invalid warnings silenced."""

    def run(*args: Any) -> Any:
        with np.errstate(all="ignore"):
            return f(*args)

    return run


def _naive_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def _naive_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _naive_bce(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    s = _naive_sigmoid(z)
    return -(y * np.log(s) + (1 - y) * np.log(1 - s))


def _take(values: Any, k: Any) -> Any:
    """values[i, k[i]] for numpy arrays."""
    return np.take_along_axis(values, k[:, None], axis=-1)[:, 0]


def _torch_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return F.kl_div(torch.log(q), p, reduction="none").sum(-1)


CANDIDATES = (
    Candidate(
        "sigmoid",
        ("x",),
        nllkit.mp_sigmoid,
        {
            "nllkit": _ours("sigmoid"),
            "numpy": _quiet(_naive_sigmoid),
            "scipy": sp.expit,
            "torch": torch.sigmoid,
        },
        {"float64": 2, "float32": 3},
        1.5,
        True,
    ),
    Candidate(
        "log_sigmoid",
        ("x",),
        nllkit.mp_log_sigmoid,
        {
            "nllkit": _ours("log_sigmoid"),
            "numpy": _quiet(lambda x: np.log(_naive_sigmoid(x))),
            "scipy": sp.log_expit,
            "torch": F.logsigmoid,
        },
        {"float64": 1, "float32": 2},
        1.5,
        True,
    ),
    Candidate(
        "softplus",
        ("x",),
        nllkit.mp_softplus,
        {
            "nllkit": _ours("softplus"),
            "numpy": _quiet(lambda x: np.log(1 + np.exp(x))),
            "scipy": sp.softplus,
            "torch": F.softplus,
        },
        {"float64": 1, "float32": 2},
        1.5,
        True,
    ),
    Candidate(
        "logit",
        ("p",),
        nllkit.mp_logit,
        {
            "nllkit": _ours("logit"),
            "numpy": _quiet(lambda p: np.log(p / (1 - p))),
            "scipy": sp.logit,
            "torch": torch.logit,
        },
        {"float64": 4, "float32": 4},
        2.5,  # issue 12, re-scoped: the accurate method costs about twice the naive formula
        True,
    ),
    Candidate(
        "binary_cross_entropy_with_logits",
        ("z", "y"),
        nllkit.mp_binary_cross_entropy_with_logits,
        {
            "nllkit": _ours("binary_cross_entropy_with_logits", reduction="none"),
            "numpy": _quiet(_naive_bce),
            "scipy": None,
            "torch": lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction="none"),
        },
        {"float64": 2, "float32": 2},
    ),
    Candidate(
        "logsumexp",
        ("rows",),
        nllkit.mp_logsumexp,
        {
            "nllkit": _ours("logsumexp"),
            "numpy": _quiet(lambda x: np.log(np.sum(np.exp(x), axis=-1))),
            "scipy": lambda x: sp.logsumexp(x, axis=-1),
            "torch": lambda x: torch.logsumexp(x, -1),
        },
        {"float64": 3, "float32": 8},
        1.3,
    ),
    Candidate(
        "softmax",
        ("rows",),
        nllkit.mp_softmax,
        {
            "nllkit": _ours("softmax"),
            "numpy": _quiet(_naive_softmax),
            "scipy": lambda x: sp.softmax(x, axis=-1),
            "torch": lambda x: torch.softmax(x, -1),
        },
    ),
    Candidate(
        "log_softmax",
        ("rows",),
        nllkit.mp_log_softmax,
        {
            "nllkit": _ours("log_softmax"),
            "numpy": _quiet(lambda x: np.log(_naive_softmax(x))),
            "scipy": lambda x: sp.log_softmax(x, axis=-1),
            "torch": lambda x: F.log_softmax(x, -1),
        },
        {"float64": 4, "float32": 8},
        3.5,
    ),
    Candidate(
        "cross_entropy (class indices)",
        ("rows", "k"),
        nllkit.mp_cross_entropy,
        {
            "nllkit": _ours("cross_entropy", reduction="none"),
            "numpy": _quiet(lambda x, k: -np.log(_take(_naive_softmax(x), k))),
            "scipy": None,
            "torch": lambda x, k: F.cross_entropy(x, k, reduction="none"),
        },
        {"float64": 4, "float32": 8},
        3.5,
    ),
    Candidate(
        "cross_entropy (probabilities)",
        ("rows", "t"),
        nllkit.mp_cross_entropy,
        {
            "nllkit": _ours("cross_entropy", reduction="none"),
            "numpy": _quiet(lambda x, t: -np.sum(t * np.log(_naive_softmax(x)), axis=-1)),
            "scipy": None,
            "torch": lambda x, t: F.cross_entropy(x, t, reduction="none"),
        },
        {"float64": 4, "float32": 8},
        3.5,
    ),
    Candidate(
        "entropy",
        ("p_rows",),
        nllkit.mp_entropy,
        {
            "nllkit": _ours("entropy"),
            "numpy": _quiet(lambda p: -np.sum(p * np.log(p), axis=-1)),
            "scipy": lambda p: np.sum(sp.entr(p), axis=-1),
            "torch": lambda p: torch.special.entr(p).sum(-1),
        },
        {"float64": 4, "float32": 4},
    ),
    Candidate(
        "kl_divergence",
        ("p_rows", "q_rows"),
        nllkit.mp_kl_divergence,
        {
            "nllkit": _ours("kl_divergence"),
            "numpy": _quiet(lambda p, q: np.sum(p * np.log(p / q), axis=-1)),
            "scipy": lambda p, q: np.sum(sp.rel_entr(p, q), axis=-1),
            "torch": _torch_kl,
        },
        {"float64": 4, "float32": 4},
    ),
)

#: how each library's entry is computed, printed under the tables
NOTES = (
    "numpy: the textbook formula — 1/(1+exp(-x)), log of that, log(1+exp(x)), log(p/(1-p)), "
    "-(y log σ + (1-y) log(1-σ)), log(sum(exp(x))), exp(x)/sum(exp(x)), log of that, "
    "-log softmax[k], -sum(t log softmax), -sum(p log p), sum(p log(p/q)).",
    "scipy: scipy.special.expit, log_expit, softplus, logit, logsumexp, softmax, log_softmax; "
    "entropy = sum(entr(p)), KL = sum(rel_entr(p, q)); no BCE or cross-entropy (—).",
    "torch: torch.sigmoid, F.logsigmoid, F.softplus, torch.logit, "
    "F.binary_cross_entropy_with_logits, torch.logsumexp, torch.softmax, F.log_softmax, "
    "F.cross_entropy (reduction='none'); entropy = special.entr(p).sum(-1), "
    "KL = F.kl_div(log q, p).sum(-1).",
)


def to_native(library: str, arrays: list[np.ndarray]) -> list[Any]:
    """Inputs as the library takes them (torch tensors for torch; class indices as int64)."""
    if library == "torch":
        return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
    return arrays


def to_numpy(result: Any) -> np.ndarray:
    if isinstance(result, torch.Tensor):
        return result.detach().numpy()
    return np.asarray(result)
