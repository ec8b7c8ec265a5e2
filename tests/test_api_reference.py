"""The library's reference appendix, read from the built site as a reader follows it.

* every name of ``nllkit.__all__`` has an entry on the reference pages;
* every function's entry shows a formula (maths) and links back to a chapter page, at an
  anchor that page has;
* every chapter links forward, from its code and from its closing list, to the entry of each
  nllkit name its code uses;
* every reference page weighs what a chapter may (``test_page_weight``);
* the docstrings' maths uses only commands MathJax knows or ``_config.yml`` defines (the check
  of ``test_macros`` for the chapters, applied to what the reference renders).

The names a chapter uses are found here by tokenizing the notebook's code cells, independently
of the build extension (book/_ext/reader_api.py), which parses them with ``ast``.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import sys
import tokenize
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

import nllkit
from conftest import BOOK, ROOT, toc_pages
from test_macros import CONTROL_WORD, defined_macros, mathjax_commands
from test_page_weight import MAX_PAGE_BYTES, page_weight

pytestmark = pytest.mark.build

sys.path.insert(0, str(BOOK / "_ext"))
import reader_api  # noqa: E402  (the extension's own helpers, for the tests without a build)

REFERENCE_PAGES = [page for page in toc_pages() if page == "book/api" or "/reference/" in page]
CHAPTERS = [page for page in toc_pages() if (ROOT / f"{page}.ipynb").is_file()]
CHAPTER_FILE = re.compile(r"^book/\d\d[a-z]?-[\w-]+\.html$")  # 07b-... too
# Entries that configure the reader's machine rather than compute something the book derives:
# they have no formula to show. Everything else that is callable must show one.
NO_FORMULA = {"seed", "use_book_style", "ulp_distance"}
MATHS = "mjx-container, span.math, div.math"


@cache
def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@cache
def _entries(site: Path) -> dict[str, tuple[Path, object]]:
    """Every element with an id ``nllkit.…`` or ``module-nllkit.…`` on the reference pages."""
    found = {}
    for page in REFERENCE_PAGES:
        path = site / f"{page}.html"
        for element in _soup(path).find_all(id=re.compile(r"^(module-)?nllkit\.")):
            found[element["id"].removeprefix("module-")] = (path, element)
    return found


def _resolve(site: Path, page: Path, href: str) -> tuple[Path, str]:
    parts = urlsplit(href)
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    return target, unquote(parts.fragment)


def _is_chapter(site: Path, target: Path) -> bool:
    root = site.resolve()
    return target.is_relative_to(root) and bool(
        CHAPTER_FILE.match(target.relative_to(root).as_posix())
    )


def _lands(site: Path, page: Path, href: str) -> bool:
    """Whether ``href`` (from ``page``) reaches a built page and an element of it."""
    target, fragment = _resolve(site, page, href)
    if not target.is_file():
        return False
    return not fragment or _soup(target).find(id=fragment) is not None


def test_the_reference_pages_are_in_the_table_of_contents():
    assert "book/api" in REFERENCE_PAGES
    assert len(REFERENCE_PAGES) > 1, "no module page under book/reference"


def test_every_public_name_has_an_entry(built_site):
    entries = _entries(built_site)
    missing = [name for name in nllkit.__all__ if f"nllkit.{name}" not in entries]
    assert not missing, f"names of nllkit.__all__ without a reference entry: {missing}"


def _callables() -> list[str]:
    return [
        name
        for name in nllkit.__all__
        if callable(getattr(nllkit, name)) and not isinstance(getattr(nllkit, name), type(nllkit))
    ]


@pytest.mark.parametrize("name", _callables())
def test_an_entry_shows_its_formula_and_links_back_to_a_chapter(built_site, name):
    path, signature = _entries(built_site)[f"nllkit.{name}"]
    body = signature.find_next_sibling("dd")
    assert body is not None, f"nllkit.{name}: the entry has no description"
    if name not in NO_FORMULA:
        assert body.select(MATHS), f"nllkit.{name}: the entry shows no formula"
    back = [
        link["href"]
        for link in body.find_all("a", href=True)
        if _is_chapter(built_site, _resolve(built_site, path, link["href"])[0])
    ]
    assert back, f"nllkit.{name}: no link back to a chapter"
    broken = [href for href in back if not _lands(built_site, path, href)]
    assert not broken, f"nllkit.{name}: back-links that land nowhere: {broken}"


def names_in_code(notebook: Path) -> set[str]:
    """Public nllkit names that the notebook's code cells use as ``nllkit.<name>``, comments and
    strings left out."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    used = set()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        source = "\n".join("" if line.lstrip()[:1] in "%!" else line for line in source.split("\n"))
        code = [
            token.string
            for token in tokenize.generate_tokens(io.StringIO(source + "\n").readline)
            if token.type not in {tokenize.COMMENT, tokenize.STRING}
            and not token.type == getattr(tokenize, "FSTRING_MIDDLE", None)
        ]
        text = " ".join(code).replace(" . ", ".")
        used.update(re.findall(r"\bnllkit\.(\w+)", text))
    return {name for name in used if name in nllkit.__all__}


def _links_to(built_site: Path, page: Path, links, name: str) -> bool:
    if f"nllkit.{name}" not in _entries(built_site):
        return False
    entry_path, _ = _entries(built_site)[f"nllkit.{name}"]
    for link in links:
        target, fragment = _resolve(built_site, page, link["href"])
        if target == entry_path.resolve() and fragment == f"nllkit.{name}":
            return True
    return False


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_links_to_the_entries_its_code_uses(built_site, chapter):
    page = built_site / f"{chapter}.html"
    soup = _soup(page)
    wanted = names_in_code(ROOT / f"{chapter}.ipynb")
    assert wanted, f"{chapter}: uses no nllkit name? (the test found none)"
    code_links = soup.select("div.highlight a[href]")
    listed = soup.select(".reader-api-uses a[href]")
    no_code_link = sorted(n for n in wanted if not _links_to(built_site, page, code_links, n))
    unlisted = sorted(n for n in wanted if not _links_to(built_site, page, listed, n))
    assert not no_code_link, f"{chapter}: code uses, but does not link, {no_code_link}"
    assert not unlisted, f"{chapter}: the closing list misses {unlisted}"
    extra = [link["href"] for link in listed if not _lands(built_site, page, link["href"])]
    assert not extra, f"{chapter}: listed links that land nowhere: {extra}"


@pytest.mark.parametrize("page", REFERENCE_PAGES)
def test_a_reference_page_weighs_no_more_than_a_chapter(built_site, page):
    weight = sum(page_weight(built_site / f"{page}.html", built_site).values())
    assert weight <= MAX_PAGE_BYTES, f"{page} loads {weight} bytes, over {MAX_PAGE_BYTES}"


# --------------------------------------------------------------------------------------------
# Without a build: the docstrings' maths, and the extension's reading of code.

MATH_ROLE = re.compile(r":math:`([^`]*)`")
MATH_DIRECTIVE = re.compile(r"^(\s*)\.\. math::(.*)$")


def docstring_maths(doc: str) -> list[str]:
    """The TeX of a docstring: its ``:math:`` roles and the bodies of its ``.. math::``."""
    found = MATH_ROLE.findall(doc)
    lines = doc.splitlines()
    for index, line in enumerate(lines):
        match = MATH_DIRECTIVE.match(line)
        if match:
            found.append(match.group(2))
            indent = len(match.group(1))
            for body in lines[index + 1 :]:
                if body.strip() and len(body) - len(body.lstrip()) <= indent:
                    break
                found.append(body)
    return found


def _documented_texts() -> dict[str, str]:
    texts = {}
    for entry in reader_api.public_entries():
        texts[entry.target] = inspect.getdoc(entry.obj) if entry.kind != "data" else ""
        module = sys.modules[entry.module]
        texts[entry.module] = inspect.getdoc(module) or ""
    return texts


def test_docstring_maths_uses_known_macros():
    known = mathjax_commands() | set(defined_macros())
    unknown = {
        f"\\{word} in {name}"
        for name, doc in _documented_texts().items()
        for tex in docstring_maths(doc or "")
        for word in CONTROL_WORD.findall(tex)
        if word not in known
    }
    assert not unknown, f"docstring maths MathJax would show in red: {sorted(unknown)}"


def test_the_maths_reader_finds_roles_and_displays():
    doc = "A :math:`\\sigma(x)` b.\n\n.. math::\n\n    \\frac{a}{b}\n\nText \\notmaths."
    assert docstring_maths(doc) == ["\\sigma(x)", "", "", "    \\frac{a}{b}", ""]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import nllkit\nnllkit.sigmoid(1.0)", {"sigmoid"}),
        ("import nllkit as nk\nnk.softmax([1.0])\nnk.models.fit(x)", {"softmax", "models.fit"}),
        ("from nllkit import logsumexp as lse\nlse([0.0])", {"logsumexp"}),
        ("from nllkit.checking import ulp_distance\nulp_distance(a, b)", {"checking.ulp_distance"}),
        ("%matplotlib inline\nimport nllkit\n# nllkit.entropy\nnllkit.logit(0.5)", {"logit"}),
        ("import numpy as np\nnp.log(2.0)", set()),
    ],
)
def test_the_extension_finds_the_names_code_uses(source, expected):
    assert reader_api.used_names([source]) >= expected
    assert "entropy" not in reader_api.used_names([source])


def test_every_public_name_gets_an_entry_from_the_extension():
    names = {entry.name for entry in reader_api.public_entries()}
    assert set(nllkit.__all__) <= names


@pytest.mark.parametrize(
    ("tex", "rows"),
    [
        # a chain: one formula a row, continued at each "="
        (r"\ell(z, y) = -y\log\sigma(z) - (1-y)\log(1-\sigma(z))"
         r" = y\softplus(-z) + (1-y)\softplus(z)",
         [r"\ell(z, y)", r"= -y\log\sigma(z) - (1-y)\log(1-\sigma(z))",
          r"= y\softplus(-z) + (1-y)\softplus(z)"]),
        # two formulas side by side, and a remark after \quad; "=" inside braces stays
        (r"\frac{a = b}{c} = \sigma(z)_t, \qquad"
         r" \ell(z, p) = -\sum_j p_j \log q_j \quad\text{if } s = 1",
         [r"\frac{a = b}{c} = \sigma(z)_t,", r"\ell(z, p) = -\sum_j p_j \log q_j",
          r"\quad \text{if } s = 1"]),
        # a long sum continues at its "+"; a definition after a comma is a formula of its own
        (r"L = \frac1N\sum_n\big[\operatorname{softplus}(z_n) - y_n z_n\big]"
         r" + \frac\lambda2\lVert w\rVert^2 + \lambda I, s_n = \sigma(W^{\mathsf T}x_n),",
         [r"L", r"= \frac1N\sum_n\big[\operatorname{softplus}(z_n) - y_n z_n\big]",
          r"\quad + \frac\lambda2\lVert w\rVert^2", r"\quad + \lambda I,",
          r"s_n = \sigma(W^{\mathsf T}x_n),"]),
    ],
)  # fmt: skip
def test_a_long_display_is_laid_out_in_rows(tex, rows):
    assert reader_api.aligned_rows(tex) == (
        r"\begin{aligned}" + r" \\ ".join(f"&{row}" for row in rows) + r"\end{aligned}"
    )


def test_a_short_or_multiline_display_is_left_alone():
    assert reader_api.aligned_rows(r"\frac{\partial \ell}{\partial z} = \sigma(z) - y") is None
    assert reader_api.aligned_rows(r"\begin{aligned} a &= b \\ &= c \end{aligned}") is None
