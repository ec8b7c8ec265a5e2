"""Every TeX macro the book's maths uses is one MathJax knows or one ``_config.yml`` defines.

MathJax typesets an unknown ``\\macro`` as red text (``<mtext mathcolor="red">``), which the
reader sees as garbage in the middle of a formula. This check needs no browser: it reads the
command names straight out of the MathJax copy the site serves (the TeX, AMS and autoloaded
packages of ``tex-chtml.js``), so it cannot drift from what the browser will do.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

from conftest import BOOK, ROOT

# A control word: backslash and letters (\, \; \{ and friends are control symbols, always known).
CONTROL_WORD = re.compile(r"\\([A-Za-z]+)")
# Markdown that is not maths: fenced code (other than {math} fences) and inline code spans.
FENCE = re.compile(r"^(`{3,}|~{3,})(.*?)$(.*?)^\1\s*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!\s*$).+?\1", re.DOTALL)
# The maps in MathJax's minified bundle: new X.CommandMap("macros", {...}, ...) and friends.
MAP = re.compile(r"\.(?:CommandMap|CharacterMap|DelimiterMap|MacroMap)\(\"([^\"]+)\"")
AUTOLOAD = "options:{autoload:(0,"


def _mathjax_bundle() -> Path:
    import mathjax  # django-static-mathjax, the copy book/_ext/book_build.py serves

    return Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5" / "tex-chtml.js"


def _code_characters(source: str, start: int):
    """``(index, char, depth)`` for each character of JavaScript ``source`` from ``start`` that
    lies outside a string literal, ``depth`` counting the brackets open after it."""
    depth, index, quote = 0, start, None
    while index < len(source):
        char = source[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        else:
            depth += (char in "{[(") - (char in "}])")
            yield index, char, depth
        index += 1


def _object_at(source: str, start: int) -> str:
    """The JavaScript object literal that opens at ``source[start] == '{'``."""
    for index, char, depth in _code_characters(source, start):
        if depth == 0 and char in "}])":
            return source[start : index + 1]
    raise ValueError(f"no closing bracket for the object at {start}")


def _top_level_keys(literal: str) -> set[str]:
    """The keys of an object literal (identifiers or strings), not those of nested objects."""
    keys, token_start = set(), 1
    for index, char, depth in _code_characters(literal, 0):
        if char == "," and depth == 1:
            token_start = index + 1
        elif char == ":" and depth == 1 and token_start is not None:
            key = literal[token_start:index].strip()
            if key[:1] in "\"'":
                key = key[1:-1]
            keys.add(key.lstrip("\\"))
            token_start = None
    return keys


@functools.cache
def mathjax_commands() -> frozenset[str]:
    """Every control word the served MathJax knows: its maps plus its autoloaded packages."""
    source = _mathjax_bundle().read_text(encoding="utf-8")
    known: set[str] = set()
    for match in MAP.finditer(source):
        known |= _top_level_keys(_object_at(source, source.index("{", match.end())))
    start = source.index(AUTOLOAD) + len(AUTOLOAD)
    autoload = _object_at(source, source.index("{", start))
    known |= set(re.findall(r'"([A-Za-z]+)"', autoload))  # the macros each package brings
    return frozenset(known)


def defined_macros() -> dict[str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]


def prose_and_maths(markdown: str) -> str:
    """``markdown`` without its code: fences other than {math} and inline code spans go."""

    def keep_math(match: re.Match) -> str:
        return match.group(3) if match.group(2).strip().startswith("{math}") else ""

    return CODE_SPAN.sub("", FENCE.sub(keep_math, markdown))


def _sources() -> dict[str, str]:
    """Markdown of every page: .md files and notebooks' markdown cells and figure captions."""
    import nbformat

    sources = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in BOOK.glob("*.md")}
    for path in sorted(BOOK.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        notebook = nbformat.read(path, as_version=4)
        for number, cell in enumerate(notebook.cells, start=1):
            texts = [cell.source] if cell.cell_type == "markdown" else []
            figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
            if figure.get("caption"):
                texts.append(figure["caption"])
            if texts:
                sources[f"{path.relative_to(ROOT)} cell {number}"] = "\n".join(texts)
    return sources


def test_the_macro_reader_finds_what_mathjax_knows():
    """The bundle parser works: it finds base, AMS and autoloaded commands, and no JS names."""
    known = mathjax_commands()
    assert {"frac", "sum", "alpha", "operatorname", "boldsymbol", "mathbb", "Vert"} <= known
    assert {"align", "vX", "vg"}.isdisjoint(known)  # an environment and two book macros


def test_every_defined_macro_expands_to_known_commands():
    """Each macro of _config.yml is written with commands MathJax knows (or the book's)."""
    macros = defined_macros()
    known = mathjax_commands() | set(macros)
    unknown = {
        f"\\{name}: \\{word}"
        for name, body in macros.items()
        for word in CONTROL_WORD.findall(body)
        if word not in known
    }
    assert not unknown, f"macros of _config.yml use commands MathJax lacks: {sorted(unknown)}"


def test_every_macro_used_in_the_book_is_known():
    """No page uses a macro that is neither MathJax's nor defined in _config.yml."""
    known = mathjax_commands() | set(defined_macros())
    unknown: dict[str, set[str]] = {}
    for where, text in _sources().items():
        for word in CONTROL_WORD.findall(prose_and_maths(text)):
            if word not in known:
                unknown.setdefault(f"\\{word}", set()).add(where)
    report = [f"{word} in {', '.join(sorted(places))}" for word, places in sorted(unknown.items())]
    assert not report, (
        "undefined TeX macros (MathJax shows them as red text); define them in _config.yml "
        "and book/notation.md, or use a standard command:\n" + "\n".join(report)
    )
