"""The library's reference appendix and the links between it and the chapters.

* ``.. nllkit-reference:: nllkit.<module>`` (in an ``{eval-rst}`` block of
  ``book/reference/<module>.md``) writes that module's entries: an autodoc entry (napoleon
  reads the numpydoc sections) for each of its names in ``nllkit.__all__``, after a list of
  them. Without an argument (on ``book/api.md``) it lists the modules, then documents, in a
  section each, every module that has no page of its own yet and the package's own constants.
  The names come from the package when the book is built, so a new public name, or a new
  public module, appears without editing any page; a new module gets a page of its own by a
  two-line file in ``book/reference`` and a line in ``_toc.yml``.
* Each chapter ends with "nllkit names used in this chapter": the entries its code cells
  use, found by reading the cells' source (``ast``; nothing is executed), as cross-references
  that Sphinx resolves and ``-n`` checks.
* In a chapter's rendered code and inline code, ``nllkit.name`` becomes a link to its entry.
* Names in docstrings that have no entry here, because they live outside nllkit
  (``numpy.ndarray``, ``random``; the book builds offline, without intersphinx) or are private
  (``nllkit._accurate``), are shown as code. A name that does not import still fails the
  nitpicky build, and so does a public ``nllkit`` name without an entry.

The docstrings' back-links (``Derived in :ref:`chapter-...```) are ordinary references to the
chapters' labels and resolve like any other.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import types
from dataclasses import dataclass
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError, PycodeError
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging

logger = logging.getLogger(__name__)

PACKAGE = "nllkit"
API_PAGE = "book/api"
REFERENCE_DIR = "book/reference"
CHAPTER = re.compile(r"^book/\d\d[a-z]?-[\w-]+$")  # 07-..., 07b-...
USES_TITLE = "nllkit names used in this chapter"
# Sections in reading order: what the chapters derive first, the tools last. A module not
# named here (a new one) comes after these, in alphabetical order.
MODULE_ORDER = (
    "numerics", "losses", "gradients", "models", "data",
    "checking", "references", "reporting", "reproducibility", "plotting",
)  # fmt: skip


@dataclass(frozen=True)
class Entry:
    name: str  # as written in code after ``import nllkit``: ``sigmoid``, ``models.Logistic``
    module: str  # the public module that defines it: ``nllkit.numerics``
    kind: str  # "function", "class", "data" or "module"
    obj: object

    @property
    def target(self) -> str:
        return f"{PACKAGE}.{self.name}"


def _public_modules(package: types.ModuleType) -> list[types.ModuleType]:
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            found.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return found


def _kind(obj: object) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def _home(name: str, obj: object, modules: list[types.ModuleType]) -> str:
    """The public module whose ``__all__`` (or namespace) holds ``obj`` under ``name``."""
    for module in modules:
        if name in getattr(module, "__all__", ()) and getattr(module, name, None) is obj:
            return module.__name__
    defined = getattr(obj, "__module__", None)
    if isinstance(defined, str) and defined.startswith(PACKAGE + ".") and "._" not in defined:
        return defined
    return PACKAGE


def public_entries() -> list[Entry]:
    """One entry per name of ``nllkit.__all__``; a public module listed there brings its own
    ``__all__`` as ``module.name`` entries."""
    package = importlib.import_module(PACKAGE)
    modules = _public_modules(package)
    entries = []
    for name in package.__all__:
        obj = getattr(package, name)
        if inspect.ismodule(obj):
            entries.append(Entry(name, obj.__name__, "module", obj))
            for inner in getattr(obj, "__all__", ()):
                member = getattr(obj, inner)
                entries.append(Entry(f"{name}.{inner}", obj.__name__, _kind(member), member))
        else:
            entries.append(Entry(name, _home(name, obj, modules), _kind(obj), obj))
    return entries


def source_files() -> list[str]:
    """The package's public modules' files: the reference and the chapters' lists of entries
    are read again when one of them changes (a new name in ``__all__``, a new docstring)."""
    package = importlib.import_module(PACKAGE)
    return [package.__file__, *(module.__file__ for module in _public_modules(package))]


def _module_rank(module: str) -> tuple[int, str]:
    short = module.removeprefix(PACKAGE + ".")
    if module == PACKAGE:
        return (len(MODULE_ORDER) + 1, "")
    if short in MODULE_ORDER:
        return (MODULE_ORDER.index(short), "")
    return (len(MODULE_ORDER), short)


def grouped_entries() -> list[tuple[str, list[Entry]]]:
    """The entries by module, modules in reading order, entries in ``__all__`` order."""
    groups: dict[str, list[Entry]] = {}
    for entry in public_entries():
        groups.setdefault(entry.module, []).append(entry)
    return sorted(groups.items(), key=lambda item: _module_rank(item[0]))


def _summary(module: types.ModuleType) -> list[str]:
    """The first paragraph of a module's docstring."""
    doc = inspect.getdoc(module) or ""
    return doc.split("\n\n")[0].splitlines()


def _attribute_doc(module: str, name: str) -> list[str]:
    """The ``#:`` comment or docstring of a module-level constant."""
    try:
        docs = ModuleAnalyzer.for_module(module).find_attr_docs()
    except PycodeError:  # a module without source has no attribute comments
        return []
    return list(docs.get(("", name), []))


def _entry_rst(entry: Entry) -> list[str]:
    if entry.kind == "function":
        return [f".. autofunction:: {entry.target}", ""]
    if entry.kind == "class":
        return [f".. autoclass:: {entry.target}", "   :members:", ""]
    if entry.kind == "module":
        return []  # the section itself is the module's entry
    doc = [line for line in _attribute_doc(entry.module, entry.name.split(".")[-1]) if line]
    if not doc and entry.name == "__version__":
        doc = ["The version of the installed nllkit package (from its metadata)."]
    module, _, short = entry.target.rpartition(".")
    lines = [f".. py:data:: {short}", f"   :module: {module}", ""]
    return lines + [f"   {line}" for line in doc] + [""]


def _summary_line(entry: Entry) -> str:
    """The docstring's summary (its first paragraph) on one line."""
    if entry.kind == "data":
        doc = _attribute_doc(entry.module, entry.name.split(".")[-1])
    else:
        doc = (inspect.getdoc(entry.obj) or "").split("\n\n")[0].splitlines()
    return " ".join(line.strip() for line in doc if line.strip())


def _index_rst(entries: list[Entry]) -> list[str]:
    """A list of the section's entries, each with its docstring's summary."""
    lines = [".. container:: reader-api-index", ""]
    for entry in entries:
        if entry.kind != "module":
            summary = _summary_line(entry)
            lines.append(f"   * :py:obj:`~{entry.target}`" + (f": {summary}" if summary else ""))
    return [*lines, ""]


def module_page(module: str) -> str:
    """The page of a module's entries: ``book/reference/<name>`` for ``nllkit.<name>``."""
    return f"{REFERENCE_DIR}/{module.removeprefix(PACKAGE + '.')}"


def _module_rst(module_name: str, entries: list[Entry]) -> list[str]:
    lines = []
    if module_name != PACKAGE:
        lines += [f".. py:module:: {module_name}", ""]
        summary = _summary(importlib.import_module(module_name))
        lines += [f"Module ``{module_name}``. " + " ".join(summary), ""]
    lines += [f".. py:currentmodule:: {PACKAGE}", ""]
    lines += _index_rst(entries)
    for entry in entries:
        lines += _entry_rst(entry)
    return lines


class NllkitReference(Directive):
    """The entries of one module (``.. nllkit-reference:: nllkit.numerics``, on the module's
    page), or, without an argument (on ``book/api.md``), the list of modules followed by a
    section for each module that has no page of its own (a new one) and for the package's own
    constants."""

    has_content = False
    optional_arguments = 1

    def _parse(self, lines: list[str], into: nodes.Element) -> None:
        source = self.state.document.current_source or API_PAGE
        self.state.nested_parse(StringList(lines, source=source), 0, into)

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        for path in source_files():
            env.note_dependency(path)
        groups = dict(grouped_entries())
        if self.arguments:
            module_name = self.arguments[0]
            if module_name not in groups:
                raise self.error(f"nllkit-reference: {module_name} has no public names")
            box = nodes.container()
            self._parse(_module_rst(module_name, groups[module_name]), box)
            return box.children
        listing = []
        homeless = []
        for module_name in groups:
            if module_name == PACKAGE or module_page(module_name) not in env.found_docs:
                homeless.append(module_name)
            if module_name != PACKAGE:
                summary = " ".join(_summary(importlib.import_module(module_name)))
                listing.append(f"* :py:mod:`{module_name}`: {summary}")
        box = nodes.container()
        self._parse([*listing, ""], box)
        result = list(box.children)
        document = self.state.document
        for module_name in homeless:
            section = nodes.section()
            section["names"].append(module_name)
            document.note_implicit_target(section, section)
            section += nodes.title("", "", nodes.literal(text=module_name))
            self._parse(_module_rst(module_name, groups[module_name]), section)
            result.append(section)
        return result


# --------------------------------------------------------------------------------------------
# Long displays of the docstrings, in rows that fit a phone.

# Glyphs a display may hold on one line of a 390 px column (about 10 px a glyph, in the 290 px
# an entry leaves on a phone): longer ones are laid out in aligned rows.
DISPLAY_GLYPHS = 28
TEX_COMMAND = re.compile(r"\\([A-Za-z]+|.)")
OPENING, CLOSING = "{([", "})]"
SPACES = {"qquad", "quad"}


def _top_level(tex: str) -> list[tuple[int, int, str]]:
    """``(start, end, what)`` of each ``=``, ``+``, ``,``, ``\\quad`` and ``\\qquad`` outside
    any group, bracket or ``\\left ... \\right`` pair."""
    found, depth, index = [], 0, 0
    while index < len(tex):
        char = tex[index]
        if char == "\\":
            match = TEX_COMMAND.match(tex, index)
            word = match.group(1)
            if word in {"left", "{"}:
                depth += 1
            elif word in {"right", "}"}:
                depth -= 1
            elif word in SPACES and depth == 0:
                found.append((index, match.end(), word))
            index = match.end()
            continue
        if char in OPENING:
            depth += 1
        elif char in CLOSING:
            depth -= 1
        elif char in "=+," and depth == 0:
            found.append((index, index + 1, char))
        index += 1
    return found


def glyphs(tex: str) -> int:
    """About how many glyphs ``tex`` draws on one line: a command or a character is one."""
    plain = TEX_COMMAND.sub("x", tex)
    return sum(1 for char in plain if char not in " {}^_&")


def _split_at(text: str, marks: str) -> list[str]:
    """``text`` cut before each top-level character of ``marks`` (after it, for a comma)."""
    cuts = [begin + (what == ",") for begin, _, what in _top_level(text) if what in marks]
    cuts = [cut for cut in cuts if 0 < cut < len(text)]
    ends = [*cuts, None]
    return [text[begin:end].strip() for begin, end in zip([0, *cuts], ends, strict=True)]


def _sum_rows(piece: str, indent: str) -> list[str]:
    """A piece too long for a row, continued at each top-level ``+``."""
    if glyphs(piece) <= DISPLAY_GLYPHS:
        return [piece]
    terms = _split_at(piece, "+")
    return [terms[0], *(f"{indent} {term}" for term in terms[1:])]


def _formula_rows(formula: str) -> list[str]:
    """One formula in rows: ``lhs = a`` then ``= b`` and so on, or ``lhs`` alone first when
    ``lhs = a`` is too long itself; a sum too long for a row continues, indented, at its
    ``+``. Definitions after a comma (``a = b, c = d``) are formulas of
    their own."""
    parts, current = [], ""
    for part in _split_at(formula, ","):
        if "=" in current and "=" in [what for _, _, what in _top_level(part)]:
            parts.append(current)
            current = part
        else:
            current = f"{current} {part}".strip()
    if len(parts) > 0:
        return [row for part in [*parts, current] for row in _formula_rows(part)]
    pieces = _split_at(formula, "=")
    if len(pieces) == 1:
        return _sum_rows(formula, "\\quad")
    if glyphs(pieces[0] + pieces[1]) <= DISPLAY_GLYPHS:
        pieces[:2] = [f"{pieces[0]} {pieces[1]}"]
        rows = _sum_rows(pieces[0], "\\quad")
    else:
        rows = [pieces[0]]
        pieces = ["", pieces[1], *pieces[2:]]
    for piece in pieces[1:]:  # "= ..." rows start at the margin: a phone has no width to spare
        rows += _sum_rows(piece, "\\quad")
    return rows


def aligned_rows(tex: str) -> str | None:
    """A long one-line display as left-aligned rows: each formula (after ``\\qquad``) and each
    remark (after ``\\quad``) starts a row, and a formula too long for one row continues on
    indented rows, one per ``=``. ``None`` for a display that is short, has rows already, or
    has nowhere to break."""
    tex = tex.strip()
    if glyphs(tex) <= DISPLAY_GLYPHS or "\\\\" in tex or "\\begin" in tex:
        return None
    rows, start, remark = [], 0, False
    for begin, end, what in [*_top_level(tex), (len(tex), len(tex), "qquad")]:
        if what in "=+,":
            continue
        segment = tex[start:begin].strip()
        if segment:
            rows += [f"\\quad {segment}"] if remark else _formula_rows(segment)
        start, remark = end, what == "quad"
    if len(rows) < 2:
        return None
    return "\\begin{aligned}" + " \\\\ ".join(f"&{row}" for row in rows) + "\\end{aligned}"


def _fit_displays(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    if docname != API_PAGE and not docname.startswith(REFERENCE_DIR + "/"):
        return
    for block in list(doctree.findall(nodes.math_block)):
        if block.get("nowrap"):
            continue
        rows = aligned_rows(block.astext())
        if rows is not None:
            block.children = [nodes.Text(rows)]


# --------------------------------------------------------------------------------------------
# What a chapter's code uses.


def _cell_sources(doctree: nodes.document) -> list[str]:
    """The source of every code cell myst-nb rendered (inputs, not outputs)."""
    sources = []
    for container in doctree.findall(nodes.container):
        if container.get("nb_element") == "cell_code_source":
            sources += [block.astext() for block in container.findall(nodes.literal_block)]
    return sources


def _parse(source: str) -> ast.Module | None:
    # IPython magics and shell escapes are not Python.
    python = "\n".join("" if line.lstrip()[:1] in "%!" else line for line in source.splitlines())
    try:
        return ast.parse(python)
    except SyntaxError:
        return None


def _dotted(node: ast.expr) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def used_names(sources: list[str]) -> set[str]:
    """Dotted names under nllkit that the code uses (``sigmoid``, ``models.Logistic``), from
    ``import nllkit [as x]``, ``from nllkit[.mod] import y`` and attribute chains on them."""
    trees = [tree for tree in map(_parse, sources) if tree is not None]
    aliases: dict[str, str] = {}  # local name -> dotted path under nllkit ("" for the package)
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                        path = alias.name.removeprefix(PACKAGE).lstrip(".")
                        aliases[alias.asname or PACKAGE] = path if alias.asname else ""
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == PACKAGE or node.module.startswith(PACKAGE + "."):
                    base = node.module.removeprefix(PACKAGE).lstrip(".")
                    for alias in node.names:
                        aliases[alias.asname or alias.name] = ".".join(
                            part for part in (base, alias.name) if part
                        )
    used = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Attribute, ast.Name)) and not isinstance(
                getattr(node, "ctx", None), ast.Store
            ):
                parts = _dotted(node)
                if parts and parts[0] in aliases:
                    path = [p for p in (aliases[parts[0]], *parts[1:]) if p]
                    if path:
                        used.add(".".join(path))
    return used


def _entry_for(dotted: str, by_id: dict[int, Entry]) -> Entry | None:
    """The reference entry of ``nllkit.<dotted>`` (any of the names it goes by), if any."""
    obj: object = importlib.import_module(PACKAGE)
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return None
        obj = getattr(obj, part)
    return by_id.get(id(obj))


def chapter_entries(sources: list[str]) -> list[Entry]:
    """The reference entries a chapter's code cells use, in alphabetical order."""
    entries = [entry for entry in public_entries() if entry.kind != "module"]
    by_id = {id(entry.obj): entry for entry in reversed(entries)}  # first name wins
    found = {_entry_for(dotted, by_id) for dotted in used_names(sources)}
    return sorted((e for e in found if e is not None), key=lambda e: e.name.lower())


def _last_section(doctree: nodes.document) -> nodes.Element | None:
    sections = [child for child in doctree.children if isinstance(child, nodes.section)]
    if not sections:
        return None
    section = sections[-1]
    while section.children and isinstance(section.children[-1], nodes.section):
        section = section.children[-1]
    return section


def _add_uses(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    if not CHAPTER.match(docname):
        return
    for path in source_files():
        app.env.note_dependency(path)
    entries = chapter_entries(_cell_sources(doctree))
    where = _last_section(doctree)
    if not entries or where is None:
        return
    box = nodes.container(classes=["reader-api-uses"])
    box += nodes.rubric(text=USES_TITLE)
    paragraph = nodes.paragraph()
    for index, entry in enumerate(entries):
        if index:
            paragraph += nodes.Text(", ")
        shown = nodes.literal(entry.target, entry.target, classes=["xref", "py", "py-obj"])
        paragraph += addnodes.pending_xref(
            "", shown, refdomain="py", reftype="obj", reftarget=entry.target,
            refexplicit=False, refwarn=True, refdoc=docname,
        )  # fmt: skip
    box += paragraph
    where += box


# --------------------------------------------------------------------------------------------
# Links from code to the reference, in the rendered HTML.

CODE_NAME = re.compile(
    r'<span class="n">(?P<package>nllkit)</span>'
    r'(?P<rest>(?:<span class="o">\.</span><span class="n">\w+</span>)+)'
)
INLINE_NAME = re.compile(
    r'<code class="docutils literal notranslate"><span class="pre">'
    r"(?P<name>nllkit(?:\.\w+)+)</span></code>"
)
INNER_NAME = re.compile(r'<span class="n">(\w+)</span>')


def _targets(app: Sphinx, pagename: str) -> dict[str, str]:
    """``nllkit.name`` -> the URL of its entry, relative to ``pagename``."""
    objects = app.env.get_domain("py").objects
    urls = {}
    for name, obj in objects.items():
        if name.startswith(PACKAGE + ".") and obj.objtype != "module" and not obj.aliased:
            uri = app.builder.get_relative_uri(pagename, obj.docname)
            urls[name] = f"{uri}#{obj.node_id}"
    return urls


def _longest(urls: dict[str, str], parts: list[str]) -> int:
    """How many of ``parts`` (after ``nllkit``) name an entry: the longest such prefix."""
    for count in range(len(parts), 0, -1):
        if ".".join([PACKAGE, *parts[:count]]) in urls:
            return count
    return 0


def _link_code(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if not CHAPTER.match(pagename) or "body" not in context:
        return
    urls = _targets(app, pagename)

    def code(match: re.Match) -> str:
        parts = INNER_NAME.findall(match.group("rest"))
        count = _longest(urls, parts)
        if not count:
            return match.group(0)
        target = ".".join([PACKAGE, *parts[:count]])
        linked = '<span class="n">nllkit</span>' + "".join(
            f'<span class="o">.</span><span class="n">{part}</span>' for part in parts[:count]
        )
        after = "".join(
            f'<span class="o">.</span><span class="n">{part}</span>' for part in parts[count:]
        )
        return f'<a class="reader-api-ref" href="{urls[target]}">{linked}</a>{after}'

    def inline(match: re.Match) -> str:
        name = match.group("name")
        if name not in urls:
            return match.group(0)
        link = f'<a class="reader-api-ref reference internal" href="{urls[name]}">'
        return f"{link}{match.group(0)}</a>"

    context["body"] = INLINE_NAME.sub(inline, CODE_NAME.sub(code, context["body"]))


# --------------------------------------------------------------------------------------------
# Names outside nllkit, as code.


def _imports(target: str) -> bool:
    """Whether ``target`` (``numpy.ndarray``, ``random``) names an importable object."""
    parts = target.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for part in parts[split:]:
                obj = getattr(obj, part)
        except AttributeError:
            return False
        return True
    return False


def _external_as_code(app: Sphinx, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    ours = target == PACKAGE or target.startswith(PACKAGE + ".")
    private = any(part.startswith("_") for part in target.split("."))
    if (ours and not private) or not _imports(target):
        return None  # a public nllkit name must have its entry; a name that is not, an error
    return contnode


# The reference's layout, for its page only (added in ``_link_code``'s event).
STYLESHEET = "reader-api.css"
CSS = """/* book/_ext/reader_api.py: the API reference page (book/api.md). */
/* A long name wraps inside the column rather than running past it on a phone. */
dl.py > dt.sig, .reader-api-index code { overflow-wrap: anywhere; }
dl.py > dt.sig span.pre, .reader-api-index code span.pre { white-space: normal; }
/* An example's long output line wraps rather than scrolling out of view. */
dl.py div.highlight pre { white-space: pre-wrap; overflow-wrap: anywhere; }
/* On a phone, entries and their fields indent less, leaving the width to the text. */
@media (max-width: 600px) {
  dl.py > dd { margin-left: 0; }
  dl.py dl.field-list > dd { margin-left: 0.5rem; }
  dl.py dl.field-list ul { padding-left: 1rem; }
}
"""


def _static_dir(app: Sphinx) -> None:
    """Write the stylesheet where Sphinx copies static files from."""
    folder = Path(app.doctreedir) / "reader_api_static"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STYLESHEET).write_text(CSS, encoding="utf-8")
    app.config.html_static_path.append(str(folder))


def _page_stylesheet(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if pagename == API_PAGE or pagename.startswith(REFERENCE_DIR + "/"):
        app.add_css_file(STYLESHEET)


# The theme's navigation gives a page with sub-pages (this appendix) a <summary> holding only a
# chevron icon: a control without a name (axe: summary-name). It is named after its page.
TOGGLE = re.compile(
    r'(<a class="reference internal" href="[^"]*">(?P<title>.*?)</a><details[^>]*>)<summary>'
)
TAG = re.compile(r"<[^>]+>")


def name_toggles(navigation: str) -> str:
    """``navigation`` with each sub-page toggle labelled "Pages of <its page's title>"."""

    def label(match: re.Match) -> str:
        title = " ".join(TAG.sub("", match.group("title")).split())
        return f'{match.group(1)}<summary aria-label="Pages of {title}">'

    return TOGGLE.sub(label, navigation)


def _name_navigation_toggles(app: Sphinx, pagename, templatename, context, doctree) -> None:
    generate = context.get("generate_toctree_html")
    if generate is None or getattr(generate, "reader_api", False):
        return

    def generate_named(*args, **kwargs):
        navigation = generate(*args, **kwargs)
        if isinstance(navigation, str):
            return name_toggles(navigation)
        for summary in navigation.find_all("summary"):  # the theme's BeautifulSoup form
            link = summary.parent.find_previous_sibling("a")
            if link is not None and not summary.get("aria-label"):
                summary["aria-label"] = "Pages of " + " ".join(link.get_text().split())
        return navigation

    generate_named.reader_api = True
    context["generate_toctree_html"] = generate_named


def _check_page(app: Sphinx, env) -> None:
    if API_PAGE not in env.found_docs:
        raise ExtensionError(f"reader_api: {API_PAGE} is missing")


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.napoleon")
    app.add_directive("nllkit-reference", NllkitReference)
    app.connect("doctree-read", _add_uses)
    app.connect("doctree-read", _fit_displays)
    app.connect("builder-inited", _static_dir)
    app.connect("html-page-context", _link_code)
    app.connect("html-page-context", _page_stylesheet)
    # after the theme's html-page-context handler has put its function in the context
    app.connect("html-page-context", _name_navigation_toggles, priority=900)
    app.connect("missing-reference", _external_as_code)
    app.connect("env-updated", _check_page)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
