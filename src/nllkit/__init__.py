"""nllkit — the companion library of *Why deep learning minimises the negative log-likelihood*.

Accurate numpy implementations of everything the book derives (numerics, losses, closed-form
gradients) and the tools its chapters use to check them (finite differences, ULP distances,
high-precision references). Every public name is importable from the package root.
"""

from importlib.metadata import PackageNotFoundError, version

from .checking import (
    finite_difference_gradient,
    mp_binary_cross_entropy_with_logits,
    mp_cross_entropy,
    mp_entropy,
    mp_kl_divergence,
    mp_log_sigmoid,
    mp_log_softmax,
    mp_logit,
    mp_logsumexp,
    mp_sigmoid,
    mp_softmax,
    mp_softplus,
    ulp_distance,
)
from .plotting import BOOK_COLORS, BOOK_RC, use_book_style
from .reproducibility import seed

try:
    __version__ = version("nllkit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "BOOK_COLORS",
    "BOOK_RC",
    "__version__",
    "finite_difference_gradient",
    "mp_binary_cross_entropy_with_logits",
    "mp_cross_entropy",
    "mp_entropy",
    "mp_kl_divergence",
    "mp_log_sigmoid",
    "mp_log_softmax",
    "mp_logit",
    "mp_logsumexp",
    "mp_sigmoid",
    "mp_softmax",
    "mp_softplus",
    "seed",
    "ulp_distance",
    "use_book_style",
]
