"""The search index a reader needs: prose only, one entry per section.

Sphinx indexes each page as one document, maths (TeX source) and code included, so a search
gives one hit per page and its words include ``frac`` and ``sigma``. This extension feeds the
index differently, with no change to the pages:

* maths, code and text outputs are left out (prose, captions and inline code names stay);
* each page keeps its title and the text before its first section;
* each section (h2 and below) becomes its own entry, named ``page#section-id``, with its own
  text and title; ``book/_static/reader.js`` turns such a hit into a link to the section.

Every section title still reaches Sphinx's title search, so title hits are unchanged.
"""

from __future__ import annotations

import html

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.search import IndexBuilder

SECTION = "#"
# What is not prose: TeX source, code and its printed output, raw HTML, comments.
NOT_PROSE = (nodes.math, nodes.math_block, nodes.literal_block, nodes.raw, nodes.comment)

_feed = IndexBuilder.feed
_prune = IndexBuilder.prune


def prose(tree: nodes.Node) -> nodes.Node:
    """A copy of ``tree`` without maths, code, outputs and raw HTML."""
    copy = tree.deepcopy()
    for node in list(copy.findall(lambda n: isinstance(n, NOT_PROSE))):
        if node.parent is not None:
            node.parent.remove(node)
    return copy


def own_text(section: nodes.section) -> nodes.section:
    """``section`` without the sections nested in it."""
    copy = section.deepcopy()
    for nested in list(copy.findall(nodes.section, include_self=False)):
        if nested.parent is not None:
            nested.parent.remove(nested)
    return copy


def plain_title(section: nodes.section) -> str:
    """A section's title as text, each formula in it shown as an ellipsis, not as TeX."""
    title = section[0].deepcopy()
    for formula in list(title.findall(nodes.math)):
        formula.parent.replace(formula, nodes.Text("…"))
    return title.astext()


def _as_document(doctree: nodes.document, content: nodes.Node) -> nodes.document:
    document = doctree.copy()  # the settings and reporter, without the children
    document += content
    return document


def feed(self, docname, filename, title, doctree):
    """Index ``docname`` as its page (intro) and one entry per section below the title."""
    tree = prose(doctree)
    titled = [
        section
        for section in doctree.findall(nodes.section)
        if section.children and isinstance(section[0], nodes.title)
    ]
    titles = [(plain_title(s), s["ids"][0] if s["ids"] else None) for s in titled]
    headings = {s["ids"][0]: plain_title(s) for s in titled if s["ids"]}
    top = [node for node in tree.children if isinstance(node, nodes.section)]
    sections = [
        section
        for outer in top
        for section in outer.findall(nodes.section, include_self=False)
        if section["ids"] and section.children and isinstance(section[0], nodes.title)
    ]
    page = tree.deepcopy()
    for outer in [node for node in page.children if isinstance(node, nodes.section)]:
        for nested in list(outer.findall(nodes.section, include_self=False)):
            if nested.parent is not None:
                nested.parent.remove(nested)
    _feed(self, docname, filename, title, page)
    self._all_titles[docname] = titles  # every section title, as Sphinx would have it
    for section in sections:
        entry = f"{docname}{SECTION}{section['ids'][0]}"
        heading = f"{title} › {html.escape(headings[section['ids'][0]])}"
        _feed(self, entry, filename, heading, _as_document(doctree, own_text(section)))
        self._all_titles[entry] = []  # title hits come from the page's list above
        self._index_entries[entry] = []


def prune(self, docnames):
    """Keep a kept page's section entries too (Sphinx knows only the pages)."""
    docnames = set(docnames)
    sections = {name for name in self._titles if name.partition(SECTION)[0] in docnames}
    _prune(self, docnames | sections)


def setup(app: Sphinx) -> dict:
    IndexBuilder.feed = feed
    IndexBuilder.prune = prune
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
