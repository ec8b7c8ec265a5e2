"""Sphinx extension that keeps the rendered book honest and self-contained.

* Re-executes every chapter when the library or the pins change. Sphinx re-reads (and so
  myst-nb re-executes) only pages whose source changed; a chapter whose notebook is unchanged
  but whose output depends on ``src/nllkit`` would otherwise keep stale output.
* Copies MathJax 3 (from the pinned ``django-static-mathjax`` wheel, which carries no Django
  dependency) into ``_static/mathjax`` so maths typesets with no network.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
WATCHED = ("src/nllkit/**/*.py", "requirements.txt", "pyproject.toml")


def library_fingerprint(root: Path = ROOT) -> str:
    """SHA-256 of every file the chapters' outputs depend on besides the notebooks."""
    digest = hashlib.sha256()
    for pattern in WATCHED:
        for path in sorted(root.glob(pattern)):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _outdated_when_library_changes(app, env: BuildEnvironment, added, changed, removed):
    fingerprint = library_fingerprint()
    previous = getattr(env, "nllkit_fingerprint", None)
    env.nllkit_fingerprint = fingerprint
    if previous is None or previous == fingerprint:
        return []
    notebooks = sorted(
        doc for doc in env.found_docs if str(env.doc2path(doc, base=False)).endswith(".ipynb")
    )
    logger.info("nllkit or the pins changed: re-executing %d chapters", len(notebooks))
    return notebooks


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
    app.connect("env-get-outdated", _outdated_when_library_changes)
    app.connect("html-page-context", _fix_citation_roles)
    app.connect("build-finished", _copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
