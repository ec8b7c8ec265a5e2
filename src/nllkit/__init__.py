"""nllkit — the companion library of *Why deep learning minimises the negative log-likelihood*.

Accurate numpy implementations of everything the book derives (numerics, losses, closed-form
gradients), the book's models fitted with those gradients (:mod:`nllkit.models`), its seeded
data sets (:mod:`nllkit.data`) and the tools its chapters use to check them (finite
differences, ULP distances, high-precision references). Every public name is importable from
the package root; each public function's body reads as its formula, and the engineering beneath
it (input checking, cache blocking, compensated and double-double arithmetic) lives in private
modules (``nllkit._validation``, ``nllkit._elementwise``, ``nllkit._logsumexp``,
``nllkit._accurate``).
"""

from importlib.metadata import PackageNotFoundError, version

from .checking import finite_difference_gradient, ulp_distance
from .data import (
    binary_clouds,
    binomial_mixture,
    categorical,
    class_clouds,
    heteroscedastic_regression,
    linear_regression_data,
    logistic_regression_data,
    poisson_regression_data,
    xor_clouds,
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
from .models import (
    History,
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
from .numerics import log_sigmoid, log_softmax, logit, logsumexp, sigmoid, softmax, softplus
from .plotting import BOOK_COLORS, BOOK_RC, use_book_style
from .references import (
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
)
from .reporting import portable_format
from .reproducibility import seed

try:
    __version__ = version("nllkit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "BOOK_COLORS",
    "BOOK_RC",
    "History",
    "__version__",
    "binary_clouds",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "binomial_mixture",
    "categorical",
    "class_clouds",
    "cross_entropy",
    "cross_entropy_grad",
    "entropy",
    "finite_difference_gradient",
    "fit_heteroscedastic_gaussian",
    "fit_linear_gaussian",
    "fit_logistic",
    "fit_multinomial",
    "fit_poisson",
    "gaussian_nll",
    "gaussian_nll_grad",
    "gradient_descent",
    "heteroscedastic_gaussian_grad",
    "heteroscedastic_gaussian_nll",
    "heteroscedastic_regression",
    "kl_divergence",
    "linear_gaussian_grad",
    "linear_gaussian_hessian",
    "linear_gaussian_nll",
    "linear_regression_data",
    "log_sigmoid",
    "log_softmax",
    "logistic_grad",
    "logistic_hessian",
    "logistic_nll",
    "logistic_regression_data",
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
    "multinomial_grad",
    "multinomial_hessian",
    "multinomial_nll",
    "newton",
    "poisson_grad",
    "poisson_hessian",
    "poisson_nll",
    "poisson_regression_data",
    "portable_format",
    "seed",
    "sigmoid",
    "softmax",
    "softmax_jacobian",
    "softplus",
    "ulp_distance",
    "use_book_style",
    "xor_clouds",
]
