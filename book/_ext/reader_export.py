"""Reader's notebooks: what a chapter's download button serves, made for plain Jupyter.

The chapters in ``book/`` are MyST notebooks: their theorems, proofs, exercises and
admonitions are directives, their references roles, and their maths uses the macros of
``_config.yml``. Plain JupyterLab and Colab show all of that as raw fences and red macro
names. After an HTML build, every chapter's copy in ``_sources/`` (the file the download button
links to) is replaced by a reader's notebook:

* a first Markdown cell that says how to install ``nllkit`` and the oracles and defines the
  book's macros (``\\newcommand`` inside ``$…$``, for a reader's own formulas), then a code cell
  that installs what is missing, from a clone of the repository (its exact pins) or from the
  wheel shipped with the site;
* every formula with the book's macros written out (``\\vw`` as ``\\boldsymbol{w}``): JupyterLab
  typesets cells in no fixed order, so definitions in the first cell alone left some formulas
  with red macro names, and Colab or GitHub may not keep definitions across cells at all;
* directives turned into plain Markdown: "**Theorem 2.1** (title)", "*Proof.* … ∎",
  "#### Exercise 2.1", "#### Solution to Exercise 2.1", admonitions as a bold title;
  numbered equations as ``$$ … \\tag{2.1} $$``;
* ``{eq}``, ``{ref}``, ``{numref}``, ``{prf:ref}`` and ``{cite:p}``/``{cite:t}`` written as the site
  writes them, with the site's numbers (from Sphinx's environment), linked to an anchor in the
  same notebook or in the chapter notebook beside it; headings numbered as on the site;
  figure captions (cell metadata) as a Markdown cell under the figure; the cited works listed
  at the end.

Code cells and their stored outputs are kept as they are. A directive or role this module does
not know fails the build (``ExtensionError``) rather than reaching a reader as a raw fence.

The wheel of ``nllkit`` (built from ``src/`` with the pinned setuptools, only when ``src/`` or
``pyproject.toml`` changed) is written to ``_downloads/`` of the site.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

WHEEL_DIR = "_downloads"

# What the site calls each numbered kind (sphinx-proof and sphinx-exercise title their boxes
# with the capitalised kind; figures follow numfig_format).
KIND_NAMES = {
    "figure": "Fig.",
    "displaymath": "",
}


@dataclass(frozen=True)
class Target:
    """Where a label points and how the site writes a reference to it."""

    docname: str
    kind: str  # "section", "displaymath", "figure", "theorem", "exercise", ...
    number: str  # "2.1", or "" when unnumbered
    title: str  # section title, figure caption, or "" (the site then writes the number)

    def numbered_name(self) -> str:
        """'Theorem 2.1', 'Fig. 2.1', '(2.1)' for an equation."""
        if self.kind == "displaymath":
            return f"({self.number})"
        name = KIND_NAMES.get(self.kind, self.kind.capitalize())
        return f"{name} {self.number}".strip()


def _number(numbers: tuple[int, ...] | None) -> str:
    return ".".join(map(str, numbers or ()))


def _sections(env, docname: str) -> list[tuple[list[str], str, str]]:
    """Every section of ``docname`` in document order: (ids, title text, site number)."""
    secnumbers = env.toc_secnumbers.get(docname, {})
    doctree = env.get_doctree(docname)
    out = []
    for index, section in enumerate(doctree.findall(nodes.section)):
        anchor = "" if index == 0 else "#" + section["ids"][0]
        title = section.next_node(nodes.title)
        out.append(
            (list(section["ids"]), title.astext() if title else "", _number(secnumbers.get(anchor)))
        )
    return out


def label_table(env, sections=None) -> dict[str, Target]:
    """Every label of the book with its page, kind, number (as on the site) and title.

    ``sections`` maps each docname to its :func:`_sections` (read here if not given)."""
    table: dict[str, Target] = {}
    for docname, kinds in env.toc_fignumbers.items():
        for kind, numbers in kinds.items():
            for node_id, numbers_of in numbers.items():
                label = node_id.removeprefix("equation-") if kind == "displaymath" else node_id
                table[label] = Target(docname, kind, _number(numbers_of), "")
    std = env.get_domain("std")
    section_numbers: dict[tuple[str, str], tuple[str, str]] = {}
    for docname in env.found_docs:
        found = sections[docname] if sections is not None else _sections(env, docname)
        for ids, title, number in found:
            for node_id in ids:
                section_numbers[docname, node_id] = (title, number)
    for label, (docname, node_id, title) in std.labels.items():
        if not docname or label in table:
            if label in table and title:  # a figure: keep its caption for {ref}
                old = table[label]
                table[label] = Target(old.docname, old.kind, old.number, title)
            continue
        if (docname, node_id) in section_numbers:
            title, number = section_numbers[docname, node_id]
            table[label] = Target(docname, "section", number, title)
    return table


# --------------------------------------------------------------------------------------------
# Citations, as reader_bibtex writes them (author and year).


@dataclass(frozen=True)
class Work:
    who: str
    year: str
    entry_markdown: str


def citation_table(env) -> dict[str, Work]:
    from reader_bibtex import author_year  # book/_ext is on the path of local extensions

    works = {}
    for citation in env.get_domain("cite").citations:
        who, _, year = author_year(citation.entry).rpartition(", ")
        text = citation.formatted_entry.text.render_as("markdown")
        works[citation.key] = Work(who, year, " ".join(text.split()))
    return works


# --------------------------------------------------------------------------------------------
# MyST Markdown to plain Markdown.

DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[^}]+)\}[ \t]*(?P<arg>.*?)\s*$")
CODE_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*?)\s*$")
LABEL_LINE = re.compile(r"^\((?P<label>[^)\s]+)\)=\s*$")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*$")
ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<body>[^`]*)`")
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<label>[^<>]+)>$", re.DOTALL)
PROOF_KINDS = {"theorem", "definition", "lemma", "proposition", "remark", "corollary",
               "example", "axiom", "conjecture", "criterion", "algorithm", "assumption",
               "observation", "property"}  # fmt: skip
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention",
               "danger", "error", "seealso"}  # fmt: skip


def _closing(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes ``fence`` opened just before ``start``."""
    char, size = fence[0], len(fence)
    for index in range(start, len(lines)):
        stripped = lines[index].strip()
        if len(stripped) >= size and set(stripped) == {char}:
            return index
    raise ExtensionError(f"reader_export: the fence {fence} is never closed")


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    index = 0
    while index < len(body) and (match := OPTION.match(body[index])):
        options[match["key"]] = match["value"]
        index += 1
    rest = body[index:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    while rest and not rest[-1].strip():
        rest = rest[:-1]
    return options, rest


CODE_SPAN = re.compile(r"(`+)(.+?)\1")
CONTROL_WORD_BEFORE = re.compile(r"(?:\\[A-Za-z]+|[\^_])\s*$")


def expand_macros(text: str, macros: dict[str, str]) -> str:
    """``text`` with every macro of the book replaced by its definition, as MathJax expands it.

    JupyterLab typesets a notebook's Markdown cells in no fixed order, so ``\\newcommand``s in
    the first cell do not always precede the formulas that use them (seen on a loaded
    machine); written out, a formula reads in any client. Where the macro is the argument of a
    command or a script (``\\hat\\vtheta``, ``x^\\vw``) its expansion is braced, as TeX reads it;
    operators (``\\argmin``) never are, so their limits stay below them.
    """
    if not macros:
        return text
    names = "|".join(sorted(map(re.escape, macros), key=len, reverse=True))

    def expand(match: re.Match) -> str:
        value = macros[match[1]]
        argument = CONTROL_WORD_BEFORE.search(text, 0, match.start())
        operator = value.startswith("\\operatorname")
        return f"{{{value}}}" if argument and not operator else value

    return re.sub(rf"\\({names})(?![A-Za-z])", expand, text)


SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _starts_block(line: str) -> bool:
    """Whether a line ends a paragraph of text: a blank line, or one convert() treats apart."""
    return not line.strip() or any(
        pattern.match(line) for pattern in (DIRECTIVE, CODE_FENCE, LABEL_LINE, HEADING)
    )


def _normalised(title: str) -> str:
    """A heading as Markdown and as docutils write it, compared: no markup, no smart quotes."""
    return re.sub(r"[\s$`*_]", "", title.translate(SMART_QUOTES))


class Converter:
    """Turns one chapter's MyST Markdown into plain Markdown, with the site's numbers."""

    def __init__(self, docname: str, labels: dict[str, Target], works: dict[str, Work],
                 sections: list[tuple[list[str], str, str]],
                 macros: dict[str, str] | None = None):  # fmt: skip
        self.docname = docname
        self.macros = macros or {}
        self.labels = labels
        self.works = works
        self.sections = sections
        self.next_section = 0
        self.cited: list[str] = []

    # Links ----------------------------------------------------------------------------------

    def href(self, label: str) -> str | None:
        """The link to a label: an anchor here, or in the chapter notebook beside this one."""
        target = self.labels[label]
        if target.docname == self.docname:
            return f"#{label}"
        if Path(target.docname).parent != Path(self.docname).parent:
            return None
        if not target.docname.split("/")[-1][:2].isdigit():
            return None  # a page that is not a chapter: there is no notebook of it
        return f"{Path(target.docname).name}.ipynb#{label}"

    def target(self, label: str, role: str) -> Target:
        if label not in self.labels:
            raise ExtensionError(f"reader_export: {self.docname}: {{{role}}} to unknown {label!r}")
        return self.labels[label]

    def link(self, text: str, label: str) -> str:
        href = self.href(label)
        return f"[{text}]({href})" if href else text

    # Roles ----------------------------------------------------------------------------------

    def role(self, match: re.Match) -> str:
        role, body = match["role"], match["body"]
        explicit = EXPLICIT.match(body)
        text, label = (explicit["text"], explicit["label"]) if explicit else (None, body.strip())
        if role == "eq":
            return self.link(self.target(label, role).numbered_name(), label)
        if role in {"numref", "prf:ref"}:
            target = self.target(label, role)
            shown = text.replace("%s", target.number) if text else target.numbered_name()
            return self.link(shown, label)
        if role == "ref":
            target = self.target(label, role)
            return self.link(text or target.title or target.numbered_name(), label)
        if role in {"cite:p", "cite:t", "cite"}:
            keys = [key.strip() for key in body.split(",")]
            for key in keys:
                if key not in self.works:
                    raise ExtensionError(f"reader_export: {self.docname}: unknown citation {key}")
                if key not in self.cited:
                    self.cited.append(key)
            works = [self.works[key] for key in keys]
            if role == "cite:t":
                return "; ".join(f"{w.who} ({w.year})" for w in works)
            return "(" + "; ".join(f"{w.who}, {w.year}" for w in works) + ")"
        raise ExtensionError(
            f"reader_export: {self.docname}: no plain form for the role {{{role}}}"
        )

    def inline(self, text: str) -> str:
        """A line of text with its roles written out and its maths without macros; code spans
        keep their macros."""
        parts = CODE_SPAN.split(ROLE.sub(self.role, text))
        # The split gives (text, fence, code) triples: expand in the text, keep the code.
        return "".join(
            expand_macros(part, self.macros) if index % 3 == 0 else
            part + parts[index + 1] + part if index % 3 == 1 else ""
            for index, part in enumerate(parts)
        )  # fmt: skip

    # Blocks ---------------------------------------------------------------------------------

    def heading(self, hashes: str, text: str, anchor: str | None) -> str:
        """A heading with its site number ("2.1. Title"); sections are matched by title."""
        number = ""
        wanted = _normalised(self.inline(text))
        for index in range(self.next_section, len(self.sections)):
            if _normalised(self.sections[index][1]) == wanted:
                number = self.sections[index][2]
                self.next_section = index + 1
                break
        shown = f"{number}. {self.inline(text)}" if number else self.inline(text)
        return f"{hashes} {shown}" + (f' <a id="{anchor}"></a>' if anchor else "")

    def directive(self, name: str, arg: str, body: list[str]) -> list[str]:
        options, content = _options(body)
        label = options.get("label")
        anchor = f'<a id="{label}"></a>' if label else ""
        if name == "math":
            number = self.labels[label].number if label in self.labels else ""
            tag = [f"\\tag{{{number}}}"] if number else []
            content = [expand_macros(line, self.macros) for line in content]
            return ([anchor, ""] if anchor else []) + ["$$", *content, *tag, "$$"]
        inner = self.convert(content)
        kind = name.removeprefix("prf:")
        if name.startswith("prf:") and kind == "proof":
            lines = ["*Proof.*" + (f" ({self.inline(arg)})" if arg else ""), "", *inner]
            if lines[-1].strip() and not lines[-1].lstrip().startswith(("$$", "```", "|")):
                lines[-1] += " ∎"
            else:
                lines += ["", "∎"]
            return lines
        if (name.startswith("prf:") and kind in PROOF_KINDS) or name == "exercise":
            number = self.labels[label].number if label in self.labels else ""
            head = f"{kind.capitalize()} {number}".strip()
            title = f" ({self.inline(arg)})" if arg else ""
            if name == "exercise":
                return [f"#### {head}{title} {anchor}".rstrip(), "", *inner]
            return [f"{anchor}**{head}**{title}", "", *inner]
        if name in {"solution-start", "solution"}:
            exercise = arg.strip()
            number = self.target(exercise, name).number
            head = f"#### Solution to {self.link(f'Exercise {number}', exercise)}"
            return [head, "", *inner]
        if name == "solution-end":
            return []
        if name == "admonition" or name in ADMONITIONS:
            title = self.inline(arg) if name == "admonition" else name.capitalize()
            return [f"**{title}**", "", *inner]
        raise ExtensionError(f"reader_export: {self.docname}: no plain form for {{{name}}}")

    def convert(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        index = 0
        pending_anchor: str | None = None
        while index < len(lines):
            line = lines[index]
            if match := DIRECTIVE.match(line):
                end = _closing(lines, index + 1, match["fence"])
                if pending_anchor:
                    out.append(f'<a id="{pending_anchor}"></a>')
                    pending_anchor = None
                out += self.directive(match["name"], match["arg"], lines[index + 1 : end])
                index = end + 1
                continue
            if match := CODE_FENCE.match(line):
                end = _closing(lines, index + 1, match["fence"])
                out += lines[index : end + 1]
                index = end + 1
                continue
            if match := LABEL_LINE.match(line):
                pending_anchor = match["label"]
                index += 1
                continue
            if match := HEADING.match(line):
                out.append(self.heading(match["hashes"], match["text"], pending_anchor))
                pending_anchor = None
                index += 1
                continue
            if pending_anchor:
                out.append(f'<a id="{pending_anchor}"></a>')
                pending_anchor = None
            # A paragraph's lines go through inline() together: MyST lets a role, a link or
            # inline maths run over a line break, and so must the conversion.
            end = index + 1
            while end < len(lines) and not _starts_block(lines[end]):
                end += 1
            out += self.inline("\n".join(lines[index:end])).split("\n")
            index = end
        if pending_anchor:
            out.append(f'<a id="{pending_anchor}"></a>')
        return out

    def markdown(self, source: str) -> str:
        text = "\n".join(self.convert(source.split("\n")))
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


# --------------------------------------------------------------------------------------------
# The notebook.


def book_macros(config: dict) -> dict[str, str]:
    """The macros of ``mathjax3_config`` (_config.yml), name (without backslash) to body."""
    macros = ((config or {}).get("tex") or {}).get("macros") or {}
    if any(not isinstance(value, str) for value in macros.values()):
        raise ExtensionError("reader_export: a macro with arguments has no plain expansion")
    return dict(macros)


def macros_tex(macros: dict[str, str]) -> str:
    """``\\newcommand`` for each of the book's macros."""
    return " ".join(f"\\newcommand{{\\{name}}}{{{value}}}" for name, value in macros.items())


def first_cells(title: str, wheel: str | None, macros: str) -> list[dict]:
    """The cell that says how to run the notebook (and defines the macros), and the one that
    installs what is missing."""
    wheel_line = (
        f"- otherwise from the wheel `{wheel}` that comes with the book's site (in its "
        f"`{WHEEL_DIR}/` folder), saved next to this notebook (in Colab: uploaded to the "
        "session's files); torch and mpmath then come from PyPI."
    )
    text = "\n".join([
        f"**{title}** is a chapter of *Why deep learning minimises the negative "
        "log-likelihood*, an executable textbook. This notebook is its reader's copy: it runs "
        "in plain JupyterLab or Colab, and its stored outputs are those of the book.",
        "",
        "It needs `nllkit`, the book's companion library, and the two oracles its checks "
        "compare with, `torch` and `mpmath`. The next cell installs whatever is missing "
        "(and does nothing where they are installed, as under `make lab` in a clone):",
        "- from a clone of the repository, with this notebook anywhere inside it: the clone, "
        "with the exact versions pinned in its `requirements.txt`;",
        wheel_line,
        "",
        "Then run the cells in order (Run → Run All Cells).",
        "",
        f"${macros}$",
    ])  # fmt: skip
    code = "\n".join([
        "# Install nllkit and the oracles (torch, mpmath) if they are missing.",
        "import importlib",
        "import importlib.util",
        "import pathlib",
        "",
        'needed = ("nllkit", "torch", "mpmath")',
        "if any(importlib.util.find_spec(name) is None for name in needed):",
        "    here = pathlib.Path.cwd().resolve()",
        "    clone = next(",
        '        (d for d in (here, *here.parents) if (d / "src" / "nllkit").is_dir()), None',
        "    )",
        '    wheels = sorted(here.glob("nllkit-*.whl"))',
        "    if clone is not None:",
        '        %pip install -c {clone / "requirements.txt"} {clone}[oracle]',
        "    elif wheels:",
        "        %pip install {wheels[-1]}[oracle]",
        "    else:",
        "        raise ModuleNotFoundError(",
        '            "nllkit: open this notebook inside a clone of the book\'s repository, "',
        f'            "or save {wheel or "the nllkit wheel"} next to it"',
        "        )",
        "    importlib.invalidate_caches()",
    ])  # fmt: skip
    return [
        {"cell_type": "markdown", "id": "reader-how-to-run", "metadata": {}, "source": text},
        {
            "cell_type": "code",
            "id": "reader-install",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": code,
        },
    ]


def figure_caption(cell: dict, converter: Converter) -> dict | None:
    figure = cell.get("metadata", {}).get("mystnb", {}).get("figure")
    if not figure or "caption" not in figure:
        return None
    name = figure.get("name")
    head = converter.labels[name].numbered_name() if name in converter.labels else "Figure"
    anchor = f'<a id="{name}"></a>' if name else ""
    text = f"{anchor}**{head}** {converter.inline(figure['caption'])}"
    return {"cell_type": "markdown", "id": f"{cell.get('id', 'fig')}-caption", "metadata": {},
            "source": text}  # fmt: skip


def reader_notebook(source: dict, converter: Converter, wheel: str | None, macros: str) -> dict:
    """The reader's copy of the notebook ``source`` (nbformat 4 JSON)."""
    notebook = copy.deepcopy(source)
    cells = []
    title = ""
    for cell in notebook["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            converted = converter.markdown(text)
            if not title and (heading := re.search(r"^# (.+?)(?: <a id=.*)?$", converted, re.M)):
                title = heading[1]
            if converted.strip():
                cell["source"] = converted
                cells.append(cell)
            continue
        cell["source"] = text
        cells.append(cell)
        if cell["cell_type"] == "code" and (caption := figure_caption(cell, converter)):
            cells.append(caption)
    if converter.cited:
        works = [converter.works[key] for key in converter.cited]
        items = [f"- {w.who} ({w.year}). {w.entry_markdown}" for w in works]
        cells.append({"cell_type": "markdown", "id": "reader-references", "metadata": {},
                      "source": "\n".join(["## References", "", *items])})  # fmt: skip
    notebook["cells"] = first_cells(title or converter.docname, wheel, macros) + cells
    notebook.setdefault("nbformat_minor", 5)
    notebook["nbformat_minor"] = max(notebook["nbformat_minor"], 5)  # cell ids
    return notebook


# --------------------------------------------------------------------------------------------
# The wheel of nllkit.


def _wheel_inputs(root: Path) -> list[Path]:
    files = [root / "pyproject.toml", root / "README.md"]
    for path in sorted((root / "src").rglob("*")):
        skipped = "__pycache__" in path.parts or path.parent.name.endswith(".egg-info")
        if path.is_file() and not skipped:
            files.append(path)
    return files


def build_wheel(root: Path, target: Path) -> str:
    """Build nllkit's wheel into ``target`` (once per change of its sources); its file name."""
    files = _wheel_inputs(root)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    stamp = target / ".nllkit-wheel"
    if stamp.exists():
        name, _, known = stamp.read_text().partition("\n")
        if known == digest.hexdigest() and (target / name).exists():
            return name
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        for path in files:
            copy_to = tree / path.relative_to(root)
            copy_to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy_to)
        out = Path(scratch) / "dist"
        out.mkdir()
        build = "import sys, setuptools.build_meta as b; print(b.build_wheel(sys.argv[1]))"
        result = subprocess.run([sys.executable, "-c", build, str(out)], cwd=tree,
                                capture_output=True, text=True, check=False)  # fmt: skip
        if result.returncode != 0:
            raise ExtensionError(
                f"reader_export: the nllkit wheel did not build:\n{result.stderr[-2000:]}"
            )
        name = result.stdout.strip().splitlines()[-1]
        for old in target.glob("nllkit-*.whl"):
            old.unlink()
        shutil.copyfile(out / name, target / name)
    stamp.write_text(f"{name}\n{digest.hexdigest()}")
    return name


# --------------------------------------------------------------------------------------------


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _note_written(app: Sphinx, doctree, docname: str) -> None:
    """Sphinx writes this page, and copies its source over the reader's copy in ``_sources``."""
    app.reader_export_written = True  # this process's build, not pickled with the env


def _export(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.name != "html":
        return
    env = app.env
    outdir = Path(app.outdir)
    wheel = build_wheel(Path(app.srcdir), outdir / WHEEL_DIR)
    notebooks = [
        docname
        for docname in sorted(env.found_docs)
        if Path(env.doc2path(docname)).suffix == ".ipynb"
    ]
    targets = {docname: outdir / "_sources" / f"{docname}.ipynb" for docname in notebooks}
    # A build that wrote no page changed no number, label or source: the reader's copies of the
    # last build stand (reading every doctree again would cost a no-change build seconds).
    written = getattr(app, "reader_export_written", False)
    if not written and all(path.is_file() for path in targets.values()):
        return
    sections = {docname: _sections(env, docname) for docname in env.found_docs}
    labels = label_table(env, sections)
    works = citation_table(env)
    macros = book_macros(app.config.mathjax3_config)
    for docname in notebooks:
        source = Path(env.doc2path(docname))
        converter = Converter(docname, labels, works, sections[docname], macros)
        notebook = reader_notebook(json.loads(source.read_text(encoding="utf-8")), converter,
                                   wheel, macros_tex(macros))  # fmt: skip
        text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        _write_if_changed(targets[docname], text)


def setup(app: Sphinx) -> dict:
    app.connect("doctree-resolved", _note_written)
    app.connect("build-finished", _export)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
