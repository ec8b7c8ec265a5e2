"""Sphinx extension that keeps the rendered book self-contained.

* Copies MathJax 3 (from the pinned ``django-static-mathjax`` wheel, which carries no Django
  dependency) into ``_static/mathjax`` so maths typesets with no network.
* Gives bibliography entries the ARIA role their list requires.

The build executes nothing (``execute_notebooks: "off"`` in ``_config.yml``): it renders the
outputs stored in the notebooks, which nbval proves current in ``make test``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx


def _mathjax_source() -> Path:
    import mathjax  # django-static-mathjax's package; importing it needs no Django

    return Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"


def _copy_mathjax(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = _mathjax_source()
    target = Path(app.outdir) / "_static" / "mathjax"
    stamp = target / ".source"
    if stamp.exists() and stamp.read_text() == str(source):
        return
    if target.exists():
        shutil.rmtree(target)
    # The speech-rule engine is only fetched if a reader turns on speech in MathJax's menu,
    # and it is kept so that this works offline too.
    shutil.copytree(source, target)
    stamp.write_text(str(source))


def citations_as_list_items(body: str) -> str:
    """Give bibliography entries the ARIA role their list requires.

    docutils 0.21 writes ``role="doc-biblioentry"`` (deprecated in DPUB-ARIA 1.1) inside a
    ``role="list"``, so the list owns no list items (axe: aria-required-children, critical).
    """
    return body.replace('role="doc-biblioentry"', 'role="listitem"')


def _fix_citation_roles(app, pagename, templatename, context, doctree) -> None:
    if "body" in context:
        context["body"] = citations_as_list_items(context["body"])


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _fix_citation_roles)
    app.connect("build-finished", _copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
