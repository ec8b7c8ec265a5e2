"""Bibliography labels in the style the text cites: author and year.

The chapters cite with sphinxcontrib-bibtex's author-year style ("Goodfellow et al. [2016]"),
but pybtex's formatting styles label the list with numbers ([1]–[36]) that the text never
shows. ``reader`` is pybtex's ``plain`` style (same entries, same order) whose labels are the
in-text form: one surname, "A and B" for two authors, "A et al." for more, then the year.
"""

from __future__ import annotations

import functools
from importlib.metadata import distributions

from pybtex.plugin import PluginGroupNotFound, find_plugin, register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx

STYLE = "reader"


@functools.cache
def _last_names():
    return find_plugin("pybtex.style.names", "last")()


def resolve_pybtex_plugins() -> None:
    """Register each of pybtex's entry points as a runtime plugin, loaded once.

    pybtex finds a plugin (a style, a backend) by scanning the entry points of every installed
    distribution, on every lookup; a build makes hundreds (every rendered citation and entry),
    which cost about a fifth of a cold build. Runtime plugins are looked up first, in a dict.
    """
    pybtex = (ep for dist in distributions() for ep in dist.entry_points)
    for entry_point in pybtex:
        if not entry_point.group.startswith("pybtex."):
            continue
        # An alias ("text" for "plaintext") is looked up in the plugin's own group first.
        groups = [entry_point.group, entry_point.group.removesuffix(".aliases")]
        for group in dict.fromkeys(groups):
            try:
                register_plugin(group, entry_point.name, entry_point.load(), force=True)
            except PluginGroupNotFound:  # a group pybtex does not define: never looked up
                break


def author_year(entry) -> str:
    """``Surname, year`` as sphinxcontrib-bibtex's author_year style writes it in the text."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    last = _last_names()
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
    resolve_pybtex_plugins()
    register_plugin("pybtex.style.labels", STYLE, AuthorYearLabels)
    register_plugin("pybtex.style.formatting", STYLE, ReaderStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
