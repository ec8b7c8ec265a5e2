"""The built HTML book: every page present, nothing fetched from outside, every link resolves."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import ROOT, toc_pages

pytestmark = pytest.mark.build

# Attributes through which a page loads something (as opposed to linking to it).
ASSET_ATTRIBUTES = {("script", "src"), ("link", "href"), ("img", "src"), ("source", "src")}


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.assets: list[tuple[str, str]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name"):
            if attributes.get(key):
                self.ids.add(attributes[key])
        for name, value in attributes.items():
            if value is None:
                continue
            if (tag, name) in ASSET_ATTRIBUTES:
                # <link rel="canonical|prev|next|index|search"> navigate, they load nothing.
                rel = (attributes.get("rel") or "").split()
                if tag == "link" and not {"stylesheet", "preload", "icon", "modulepreload"} & set(
                    rel
                ):
                    self.links.append(value)
                else:
                    self.assets.append((tag, value))
            elif tag == "a" and name == "href":
                self.links.append(value)


def _parse(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)


def test_every_page_of_the_toc_is_built(built_site):
    for name in toc_pages():
        assert (built_site / f"{name}.html").is_file(), f"{name} listed in _toc.yml but not built"
    assert (built_site / "index.html").is_file()


def test_pages_load_nothing_from_outside_the_site(built_site):
    external = [
        f"{page.relative_to(built_site)}: <{tag}> {url}"
        for page in _pages(built_site)
        for tag, url in _parse(page).assets
        if urlsplit(url).scheme in {"http", "https"} or url.startswith("//")
    ]
    assert not external, "pages load assets from outside the site:\n" + "\n".join(external)


def test_raw_html_has_no_cdn_script_or_stylesheet(built_site):
    pattern = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', re.IGNORECASE)
    offenders = [
        str(page.relative_to(built_site))
        for page in _pages(built_site)
        if pattern.search(page.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"CDN script or stylesheet in: {offenders}"


def test_maths_is_typeset_in_the_pages_with_the_books_macros(built_site):
    """The build typesets the maths (book/_ext/book_build.py): no MathJax script, no TeX left,
    and MathJax's fonts served from the site."""
    chapter = built_site / "book" / "01-learning-as-optimisation.html"
    scripts = [urlsplit(url).path for tag, url in _parse(chapter).assets if tag == "script"]
    assert not [path for path in scripts if "mathjax" in path.lower()], scripts
    text = chapter.read_text(encoding="utf-8")
    assert '<mjx-container class="MathJax" jax="CHTML" display="true"' in text
    assert not re.search(r'<span class="math notranslate nohighlight">\\[(\[]', text)
    fonts = built_site / "_static" / "pages-maths-fonts"
    assert any(fonts.glob("*.woff")), "MathJax's fonts were not copied into the site"
    # The book's macros reached MathJax: \vtheta became a bold italic theta (U+1D73D).
    assert "mjx-c1D73D" in text


def test_internal_links_and_anchors_resolve(built_site):
    pages = _pages(built_site)
    ids = {page.resolve(): _parse(page).ids for page in pages}
    broken = []
    for page in pages:
        for url in _parse(page).links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith(("//", "mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(built_site)} -> {url} (no such file)")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                anchors = ids.get(target)
                if anchors is None:
                    anchors = _parse(target).ids
                if fragment not in anchors:
                    broken.append(f"{page.relative_to(built_site)} -> {url} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(sorted(set(broken)))


def test_chapters_offer_their_notebook_for_download(built_site):
    for name in toc_pages():
        if (ROOT / f"{name}.ipynb").exists():
            source = built_site / "_sources" / f"{name}.ipynb"
            assert source.is_file(), f"download button of {name} would serve nothing"
            assert f"_sources/{name}.ipynb" in (built_site / f"{name}.html").read_text()
