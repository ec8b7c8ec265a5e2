"""The book's figure style: one look for every chapter, readable in light and dark mode.

Defined in :ref:`chapter-learning-as-optimisation` and used by every chapter's figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["BOOK_COLORS", "BOOK_RC", "use_book_style"]

#: The Okabe–Ito palette: distinguishable under the common forms of colour blindness.
BOOK_COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Matplotlib settings of the book's figures.
BOOK_RC: Mapping[str, Any] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    # An opaque white figure stays legible on the book's dark theme.
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    # 12 pt on a 6.4 in figure: 17 px in the 1280 px layout, still 9 px on a 390 px phone,
    # where the figure is scaled to the column.
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 11,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
    # Fixed hash salt and no timestamps: the same figure gives the same bytes on every run.
    "svg.hashsalt": "nllkit",
    "path.simplify": True,
}


def use_book_style() -> None:
    """Apply the book's figure style (:data:`BOOK_RC` and the :data:`BOOK_COLORS` cycle).

    Call once at the top of a chapter, after importing :mod:`matplotlib.pyplot`. Every figure
    the chapter draws afterwards uses an opaque white background (legible in the book's dark
    mode), the colour-blind-safe Okabe–Ito palette, light grid lines and no top or right spine.
    In a Jupyter kernel, figures are stored at twice their displayed resolution ("retina").

    Called in the first cell of every chapter, from :ref:`chapter-learning-as-optimisation` on.

    Returns
    -------
    None

    Examples
    --------
    >>> import matplotlib
    >>> use_book_style()
    >>> matplotlib.rcParams["axes.spines.top"]
    False
    """
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(dict(BOOK_RC))
    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(BOOK_COLORS))
    _inline_figures_at_twice_the_resolution()


def _inline_figures_at_twice_the_resolution() -> None:
    """In Jupyter, store figures as PNGs of twice the pixels, shown at their normal size.

    A figure of 6.4 in at 100 dpi is shown 640 px wide; its PNG then has 1280 px, so lines and
    labels stay sharp on high-density screens and when the reader zooms in.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: no inline figures
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):  # a terminal IPython shows no PNGs
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")
