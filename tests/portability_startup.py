"""IPython startup file for the kernels of the portability layer: figures are not rasterised.

nbval compares text and never PNG bytes (``image/png`` is in its skip list), so a PNG drawn
under an emulated CPU is compared with nothing. Before each cell the PNG formatter forgets
matplotlib's figures, so a figure is shown by its text (``<Figure size … with 1 Axes>``),
which nbval still compares. The native nbval run of ``make test`` draws every figure, as a
reader's kernel does. Nothing is imported and no name is left in the notebook's namespace.
"""


def _show_figures_as_text() -> None:
    shell = get_ipython()  # noqa: F821 (IPython runs startup files with it defined)
    png = shell.display_formatter.formatters["image/png"]

    def forget_figures(*_info) -> None:
        for kind in [kind for kind in png.type_printers if kind.__module__ == "matplotlib.figure"]:
            del png.type_printers[kind]

    shell.events.register("pre_run_cell", forget_figures)


_show_figures_as_text()
del _show_figures_as_text
