"""The single-page build that ``tools/make_pdf.py`` prints to the book's PDF.

``jupyter-book build --builder singlehtml`` writes the whole book as one page, typeset at build
time like the site (``book_build.py`` handles every HTML builder). This extension makes that
page a book to print:

* sphinx-proof and sphinx-exercise register their boxes for the ``html`` builder only; the
  single page gets the same visitors, so theorems, proofs and exercises render as on the site;
* a linked table of contents (the site's navigation, with part captions and the site's
  numbers) opens the page, and each part's caption is printed as a title page before its
  first chapter;
* the page is copied to ``book.html`` at the top of the output, where its links resolve;
* ``reader-pdf.css`` adds the print rules of the book (each chapter on a new page, no
  navigation, solutions shown) to those of ``reader.css``, which already wraps code at the
  margin.

Nothing changes for the site's own (``html``) build.
"""

from __future__ import annotations

import html
from pathlib import Path

from sphinx import addnodes
from sphinx.application import Sphinx

PDF_CSS = "reader-pdf.css"
# The page that is printed. Sphinx writes the single page at the root document's path
# (book/preface.html) but with links relative to the output folder, so a copy is put there.
PRINT_PAGE = "book.html"

PRINT_CSS = """\
/* The book as one printed document (tools/make_pdf.py); reader.css's print rules apply too. */
@page { size: A4; margin: 18mm 16mm 18mm 16mm; }
@media print {
  html { font-size: 10.5pt; }
  .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-article,
  .prev-next-area, .header-article, #jb-print-docs-body, .skip-link { display: none !important; }
  .bd-main .bd-content .bd-article-container { max-width: none !important; }
  .bd-page-width { max-width: none !important; }
  /* Every part title, chapter and appendix starts a page (the single page nests each
     document's section in the front page's, after a span that names the document). */
  .pdf-part, span[id^="document-"] + section { break-before: page; }
  .pdf-part { font-size: 2.2rem; padding-top: 30vh; text-align: center; border: none; }
  .pdf-contents { break-after: page; }
  .pdf-contents ul { list-style: none; padding-left: 1.2em; }
  .pdf-contents > ul { padding-left: 0; }
  .pdf-contents p.caption { font-weight: bold; margin: 0.8em 0 0.2em; }
  .pdf-contents a { text-decoration: none; }
  /* Solutions are in dropdowns on the site: printed open. */
  details.dropdown > *, .toggle-hidden, div.solution .dropdown-content {
    display: block !important; visibility: visible !important; }
  div.cell_output img, figure img { max-width: 100% !important; height: auto; }
  /* A heading stays whole and with what follows it: a two-line heading was split over two
     pages, its first line left alone at the foot of one (chapters 6 and 9). */
  h1, h2, h3, h4, .admonition-title { break-after: avoid; break-inside: avoid; }
  figure, img { break-inside: avoid; }
}
"""


def _single_page_builder(app: Sphinx) -> bool:
    return app.builder.name == "singlehtml"


def _share_html_visitors(app: Sphinx) -> None:
    """Give the single page the visitors that extensions registered for ``html`` only.

    Sphinx looks up a builder's node handlers by its name, and falls back to its format
    ("html") only when no extension registered any for that name; one did, so sphinx-proof's
    and sphinx-exercise's nodes had none.
    """
    if not _single_page_builder(app):
        return
    handlers = app.registry.translation_handlers
    handlers["singlehtml"] = {**handlers.get("html", {}), **handlers.get("singlehtml", {})}
    app.add_css_file(PDF_CSS)


def _parts(app: Sphinx) -> list[tuple[str, str]]:
    """(caption, first docname) of every captioned toctree of the root page, in order."""
    doctree = app.env.get_doctree(app.config.root_doc)
    parts = []
    for toctree in doctree.findall(addnodes.toctree):
        if toctree.get("caption") and toctree["entries"]:
            parts.append((toctree["caption"], toctree["entries"][0][1]))
    return parts


def _print_layout(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if not _single_page_builder(app) or pagename != app.config.root_doc or "body" not in context:
        return
    body = context["body"]
    for caption, docname in _parts(app):
        marker = f'<span id="document-{docname}"></span>'
        body = body.replace(marker, f'<h1 class="pdf-part">{html.escape(caption)}</h1>{marker}', 1)
    if context.get("toc"):
        contents = f'<nav class="pdf-contents"><h1>Contents</h1>{context["toc"]}</nav>'
        # After the front page's title and text, before the first part.
        first = f'<h1 class="pdf-part">{html.escape(_parts(app)[0][0])}</h1>' if _parts(app) else ""
        body = body.replace(first, contents + first, 1) if first else contents + body
    context["body"] = body


def _write_print_page(app: Sphinx, exception) -> None:
    if exception is not None or not _single_page_builder(app):
        return
    outdir = Path(app.outdir)
    (outdir / "_static" / PDF_CSS).write_text(PRINT_CSS, encoding="utf-8")
    page = f"{app.config.root_doc}.html"
    text = (outdir / page).read_text(encoding="utf-8")
    # Every cross-reference points into the page itself: an internal link of the PDF.
    text = text.replace(f'href="{page}#', 'href="#')
    (outdir / PRINT_PAGE).write_text(text, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _share_html_visitors)
    app.connect("html-page-context", _print_layout)
    app.connect("build-finished", _write_print_page)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
