"""What a reader's browser loads for a chapter: at most 1.5 MB, and no search index.

The weight of a page is the bytes of the HTML and of everything it loads on the way to first
paint, resolved on disk: scripts, stylesheets (and what they @import), images, and the fonts
that its stylesheets declare and its content uses. A font counts when its family is named by a
rule whose classes all occur in the page (MathJax's ``TEX-I``, Font Awesome's ``fa-solid``, …),
or by a rule without classes (``mjx-c``, an admonition title, …). Browsers fetch an @font-face
only when text is drawn with it, so this is what a first visit downloads; the browser
measurement in benchmarks/RESULTS.md ("Pages") agrees with it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import toc_pages

pytestmark = pytest.mark.build

#: The budget of issue 12: a chapter, uncompressed, everything it loads included.
MAX_PAGE_BYTES = 1_500_000

LOADING_RELS = {"stylesheet", "icon", "preload", "modulepreload"}


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.classes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.classes.update((attributes.get("class") or "").split())
        if tag == "script" and attributes.get("src"):
            self.urls.append(attributes["src"])
        elif tag == "link" and LOADING_RELS & set((attributes.get("rel") or "").split()):
            self.urls.append(attributes["href"])
        elif tag in {"img", "source"} and attributes.get("src"):
            self.urls.append(attributes["src"])


def _local(base: Path, url: str, root: Path) -> Path | None:
    """The file a relative URL names, or None for data: URLs and anchors."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        if parts.scheme == "data":
            return None
        raise AssertionError(f"{url} is loaded from outside the site")
    if not parts.path:
        return None
    path = (base.parent / unquote(parts.path)).resolve()
    assert path.is_file(), f"{url} (from {base.relative_to(root)}) is not in the built site"
    return path


CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
CSS_IMPORT = re.compile(r"@import\s+(?:url\()?[\"']?([^\"')\s;]+)")
FONT_FACE = re.compile(r"@font-face\s*\{([^}]*)\}")
CSS_RULE = re.compile(r"([^{}@;]+)\{([^{}]*)\}")
FAMILY = re.compile(r"font-family\s*:\s*([^;}]+)")
FONT_SHORTHAND_VAR = re.compile(r"--[\w-]+\s*:\s*[^;}]*\d(?:em|px|rem)?(?:/[\d.]+)?\s+\"([^\"]+)\"")
FIRST_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)")


def _families(value: str) -> list[str]:
    return [name.strip().strip("\"'").replace("\\ ", " ") for name in value.split(",")]


def _stylesheets(path: Path, root: Path, seen: set[Path]) -> list[tuple[Path, str]]:
    """The stylesheet and those it @imports, each with its text (comments removed)."""
    if path in seen:
        return []
    seen.add(path)
    text = CSS_COMMENT.sub("", path.read_text(encoding="utf-8"))
    found = [(path, text)]
    for url in CSS_IMPORT.findall(text):
        target = _local(path, url, root)
        if target is not None:
            found += _stylesheets(target, root, seen)
    return found


def _used_families(css: str, classes: set[str]) -> set[str]:
    """Font families drawn by rules that can match the page (all their classes present)."""
    used: set[str] = set()
    for selectors, body in CSS_RULE.findall(FONT_FACE.sub("", css)):
        families = [f for value in FAMILY.findall(body) for f in _families(value)]
        families += FONT_SHORTHAND_VAR.findall(body)
        if "font:" in body and "var(--fa-font" in body:
            families.append("Font Awesome 6 Free")
        if not families:
            continue
        for selector in selectors.split(","):
            if set(re.findall(r"\.([\w-]+)", selector)) <= classes:
                used.update(families)
                break
    return used


def page_weight(page: Path, root: Path) -> dict[Path, int]:
    """Every file ``page`` loads at first paint, with its size in bytes."""
    page, root = page.resolve(), root.resolve()
    parser = _Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    files = {page}
    sheets: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for url in parser.urls:
        target = _local(page, url, root)
        if target is None:
            continue
        files.add(target)
        if target.suffix == ".css":
            sheets += _stylesheets(target, root, seen)
    files.update(path for path, _ in sheets)
    all_css = "\n".join(text for _, text in sheets)
    used = _used_families(all_css, parser.classes)
    for sheet, text in sheets:
        for face in FONT_FACE.findall(text):
            family = FAMILY.search(face)
            if family and _families(family.group(1))[0] in used:
                src = FIRST_URL.search(face)  # a browser takes the first format it supports
                target = _local(sheet, src.group(1), root) if src else None
                if target is not None:
                    files.add(target)
    return {path: path.stat().st_size for path in files}


def chapter_pages() -> list[str]:
    return [name for name in toc_pages() if re.search(r"/\d\d[a-z]?-", name)]


@pytest.mark.parametrize("name", chapter_pages())
def test_a_chapter_weighs_at_most_1_5_mb(built_site, name):
    page = built_site / f"{name}.html"
    sizes = page_weight(page, built_site)
    total = sum(sizes.values())
    heaviest = sorted(sizes.items(), key=lambda item: -item[1])[:6]
    listing = "\n".join(f"  {size:>9,} {path.name}" for path, size in heaviest)
    assert total <= MAX_PAGE_BYTES, (
        f"{name} loads {total:,} bytes over {len(sizes)} files (budget {MAX_PAGE_BYTES:,});"
        f" heaviest:\n{listing}"
    )


@pytest.mark.parametrize("name", chapter_pages())
def test_a_chapter_loads_no_search_index(built_site, name):
    """Only search.html loads the index; a chapter's search box submits to it."""
    page = built_site / f"{name}.html"
    loaded = {path.name for path in page_weight(page, built_site)}
    assert not {"searchindex.js", "searchtools.js"} & loaded, f"{name} loads the search index"


@pytest.mark.parametrize("name", chapter_pages())
def test_a_chapter_loads_no_maths_script(built_site, name):
    """Maths is typeset at build time: no MathJax script, no TeX left for one."""
    page = built_site / f"{name}.html"
    text = page.read_text(encoding="utf-8")
    assert "mathjax/tex-" not in text and "window.MathJax" not in text, f"{name} loads MathJax"
    assert not re.search(r'class="math notranslate nohighlight">\s*\\[(\[]', text), (
        f"{name} has maths left untypeset"
    )
    assert "<mjx-container" in text, f"{name} shows no typeset maths"


def test_the_search_page_still_loads_the_index(built_site):
    loaded = {path.name for path in page_weight(built_site / "search.html", built_site)}
    assert {"searchindex.js", "searchtools.js"} <= loaded
