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
from .gradients import (
    binary_cross_entropy_with_logits_grad,
    cross_entropy_grad,
    gaussian_nll_grad,
    softmax_jacobian,
)
from .losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    entropy,
    gaussian_nll,
    kl_divergence,
)
from .numerics import log_sigmoid, log_softmax, logit, logsumexp, sigmoid, softmax, softplus
from .plotting import BOOK_COLORS, BOOK_RC, use_book_style
from .reporting import portable_format
from .reproducibility import seed

try:
    __version__ = version("nllkit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "BOOK_COLORS",
    "BOOK_RC",
    "__version__",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "entropy",
    "finite_difference_gradient",
    "gaussian_nll",
    "gaussian_nll_grad",
    "kl_divergence",
    "log_sigmoid",
    "log_softmax",
    "logit",
    "logsumexp",
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
    "portable_format",
    "seed",
    "sigmoid",
    "softmax",
    "softmax_jacobian",
    "softplus",
    "ulp_distance",
    "use_book_style",
]
