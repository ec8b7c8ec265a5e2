"""Bibliography labels in the style the text cites: author and year.

The chapters cite with sphinxcontrib-bibtex's author-year style ("Goodfellow et al. [2016]"),
but pybtex's formatting styles label the list with numbers ([1]–[36]) that the text never
shows. ``reader`` is pybtex's ``plain`` style (same entries, same order) whose labels are the
in-text form: one surname, "A and B" for two authors, "A et al." for more, then the year.
"""

from __future__ import annotations

from pybtex.plugin import find_plugin, register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx

STYLE = "reader"


def author_year(entry) -> str:
    """``Surname, year`` as sphinxcontrib-bibtex's author_year style writes it in the text."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    last = find_plugin("pybtex.style.names", "last")()
    names = [last.format(person, True).format().render_as("text") for person in persons]
    if len(names) > 2:
        who = f"{names[0]} et al."
    else:
        who = " and ".join(names)
    year = entry.fields.get("year", "n.d.")
    return f"{who}, {year}" if who else str(year)


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield author_year(entry)


class ReaderStyle(PlainStyle):
    default_label_style = STYLE


def setup(app: Sphinx) -> dict:
    register_plugin("pybtex.style.labels", STYLE, AuthorYearLabels)
    register_plugin("pybtex.style.formatting", STYLE, ReaderStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
