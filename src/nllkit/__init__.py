"""nllkit — the companion library of *Why deep learning minimises the negative log-likelihood*.

Accurate numpy implementations of everything the book derives (numerics, losses, closed-form
gradients) and the tools its chapters use to check them (finite differences, ULP distances,
high-precision references). Every public name is importable from the package root.
"""

from importlib.metadata import PackageNotFoundError, version

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
    "seed",
    "use_book_style",
]
