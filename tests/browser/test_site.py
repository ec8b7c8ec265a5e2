"""Site-wide reader journeys: the front door, search, the light/dark toggle, notebook download."""

from __future__ import annotations

import html
import re
import urllib.request
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import nbformat
import pytest

from .support import ROOT, new_tab, toc_pages

pytestmark = pytest.mark.browser

# The chapter each term must lead to once that chapter is in the table of contents.
SEARCHES = {
    "softmax": "book/06-softmax-multiclass",
    "log-sum-exp": "book/07-numerical-stability",
    # Checked against whichever chapters' titles mention them (tests the search while the
    # chapters above are still being written).
    "sigmoid": None,
    "likelihood": None,
    "optimisation": None,
}
# The terms a reader must always find something for (issue 8).
MUST_FIND = {"softmax", "log-sum-exp"}

IMPORTS_NLLKIT = re.compile(r"^\s*(?:import nllkit\b|from nllkit(?:\.\w+)* import )", re.MULTILINE)


def _normalised(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def page_title(html_dir: Path, page: str) -> str:
    """The title the built page shows (its ``<title>`` without the book's name)."""
    source = (html_dir / f"{page}.html").read_text(encoding="utf-8")
    match = re.search(r"<title>(.*?)</title>", source, re.DOTALL)
    return html.unescape(match.group(1)).split(" \u2014 ")[0].strip() if match else ""


def expected_chapters(html_dir: Path, term: str) -> set[str]:
    """The chapter named for ``term`` if the toc lists it, else the toc pages titled with it."""
    pages = toc_pages()
    chapter = SEARCHES.get(term)
    if chapter in pages:
        return {chapter}
    return {page for page in pages if _normalised(term) in _normalised(page_title(html_dir, page))}


def search_results(tab, term: str) -> list[str]:
    """Open ``search.html?q=term`` and return the pages (without suffix) its results link to."""
    tab.open(f"search.html?q={quote(term)}")
    return read_results(tab)


def read_results(tab) -> list[str]:
    tab.page.wait_for_function(
        """() => document.querySelector("#search-results .search-summary")
            ?.textContent.trim()""",
        timeout=30_000,
    )
    hrefs = tab.page.evaluate(
        """() => Array.from(document.querySelectorAll("#search-results ul.search li a"),
            a => a.href)"""
    )
    pages = []
    for href in hrefs:
        path = urlsplit(href).path.removeprefix(urlsplit(tab.base).path)
        pages.append(path.removesuffix(".html"))
    return pages


def test_site_root_leads_to_the_first_page(tab):
    """``/`` (what `make serve` shows first) redirects to the root page of the toc."""
    response = tab.page.goto(tab.base)
    assert response is not None and response.ok, "the site root is not served"
    tab.page.wait_for_url(f"**/{toc_pages()[0]}.html", timeout=10_000)
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.locator("article.bd-article h1").count() == 1
    assert not tab.problems(), tab.problems()


@pytest.mark.parametrize("term", list(SEARCHES))
def test_search_finds_the_chapter(term, tab, built_site):
    """The search page finds the term and links to the chapter about it."""
    expected = expected_chapters(built_site, term)
    found = search_results(tab, term)
    if term in MUST_FIND:
        assert found, f"search for {term!r} found nothing"
    if not expected:
        pytest.skip(
            f"no chapter about {term!r} in _toc.yml yet "
            f"({SEARCHES.get(term) or 'no title mentions it'}): only checked that search runs"
        )
    missing = expected - set(found)
    assert not missing, f"search for {term!r} does not link to {sorted(missing)}; found {found}"


def test_search_box_leads_to_results(tab):
    """A reader types in the search box of a chapter, presses Enter and gets results."""
    term = "softmax"
    tab.open(f"{toc_pages()[1]}.html")
    tab.page.locator(".search-button__button:visible").first.click()
    field = tab.page.locator("form.bd-search input[name=q]:visible").first
    field.fill(term)
    field.press("Enter")
    tab.page.wait_for_url(re.compile(r"search\.html\?q=softmax"))
    assert read_results(tab), "searching from the search box found nothing"


def _theme(page) -> dict:
    return page.evaluate(
        """() => ({
            theme: document.documentElement.dataset.theme,
            mode: document.documentElement.dataset.mode,
            background: getComputedStyle(document.body).backgroundColor,
        })"""
    )


def test_light_dark_toggle(tab):
    """The theme button switches ``data-theme`` and the page background, and it sticks."""
    page = toc_pages()[1] if len(toc_pages()) > 1 else toc_pages()[0]
    tab.open(f"{page}.html")
    light = _theme(tab.page)
    assert light["theme"] == "light", light  # the browser prefers light
    button = tab.page.locator(".theme-switch-button:visible").first
    seen = [light]
    for _ in range(3):  # the button cycles auto → dark → light (with a light preference)
        button.click()
        seen.append(_theme(tab.page))
        if seen[-1]["theme"] == "dark":
            break
    dark = seen[-1]
    assert dark["theme"] == "dark", f"the toggle never reached the dark theme: {seen}"
    assert dark["background"] != light["background"], f"background did not change: {seen}"
    tab.page.reload()
    assert _theme(tab.page)["theme"] == "dark", "the dark choice is lost on reload"
    button = tab.page.locator(".theme-switch-button:visible").first
    for _ in range(3):
        button.click()
        if _theme(tab.page)["theme"] == "light":
            break
    assert _theme(tab.page)["background"] == light["background"], "cannot switch back to light"


NOTEBOOK_PAGES = [page for page in toc_pages() if (ROOT / f"{page}.ipynb").is_file()]


def check_notebook(page: str, text: str) -> None:
    """``text`` is a valid notebook (nbformat 4) whose code imports nllkit."""
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert IMPORTS_NLLKIT.search(code), f"{page}: the downloaded notebook does not import nllkit"


@pytest.mark.skipif(not NOTEBOOK_PAGES, reason="no chapter notebook in _toc.yml")
def test_download_button_serves_the_notebook(tab):
    """A reader opens a chapter's download menu, clicks .ipynb and gets the notebook."""
    page = NOTEBOOK_PAGES[0]
    tab.open(f"{page}.html")
    tab.page.locator(".dropdown-download-buttons button.dropdown-toggle").first.click()
    link = tab.page.locator("a.btn-download-source-button")
    assert link.is_visible(), f"{page}: no visible .ipynb download button"
    assert link.inner_text().strip() == ".ipynb"
    with tab.page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"{Path(page).name}.ipynb"
    check_notebook(page, Path(download.path()).read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_every_chapter_offers_its_notebook(page, site):
    """Each chapter's download button points at its own notebook, served and valid."""
    written = site.built(page).download
    assert written, f"{page}: no .ipynb download button"
    href = urljoin(f"{site.base}{page}.html", written)
    assert urlsplit(href).path.endswith(f"/_sources/{page}.ipynb"), href
    with urllib.request.urlopen(href, timeout=10) as response:
        check_notebook(page, response.read().decode("utf-8"))


# The drawers below the desktop layout: the theme's two toggles and the dialogs they open.
DRAWERS = {
    "site navigation": (".primary-toggle", "#pst-primary-sidebar-modal", "nav.bd-docs-nav a"),
    "contents": (".secondary-toggle", "#pst-secondary-sidebar-modal", "nav.page-toc a"),
}


@pytest.mark.parametrize("width", [390, 900])
def test_phone_and_tablet_drawers_open(width, browser, site_url):
    """At phone and tablet widths the menu and the contents buttons open a usable drawer."""
    page = NOTEBOOK_PAGES[min(4, len(NOTEBOOK_PAGES) - 1)] if NOTEBOOK_PAGES else toc_pages()[0]
    context, tab = new_tab(browser, site_url, {"width": width, "height": 844})
    try:
        tab.open(f"{page}.html")
        for name, (button, drawer, links) in DRAWERS.items():
            toggle = tab.page.locator(f"{button}:visible")
            assert toggle.count() == 1, f"{width} px: {toggle.count()} visible {name} buttons"
            toggle.click()
            dialog = tab.page.locator(drawer)
            dialog.wait_for(state="visible", timeout=5_000)
            link = dialog.locator(links).first
            assert link.is_visible(), f"{width} px: the {name} drawer shows no link"
            link.click(trial=True, timeout=5_000)  # visible, enabled, not covered: clickable
            tab.page.keyboard.press("Escape")
            dialog.wait_for(state="hidden", timeout=5_000)
        # A reader follows a chapter link from the menu.
        tab.page.locator(".primary-toggle:visible").click()
        target = tab.page.locator(f"{DRAWERS['site navigation'][1]} nav.bd-docs-nav a").last
        href = target.get_attribute("href")
        target.click()
        tab.page.wait_for_url(f"**/{href}", timeout=10_000)
        assert not tab.problems(), tab.problems()
    finally:
        context.close()


# TeX a snippet would show raw: a control word, or \( \) \[ \] delimiters.
RAW_TEX = re.compile(r"\\[A-Za-z]+|\\[()\[\]]")


# The article header's download menu, which a snippet taken from all of <main> began with.
PAGE_CHROME = re.compile(r"(?:^|\s)\.ipynb\b")
# Visible search fields whose magnifying glass reaches into the text area (past the padding).
ICON_OVER_TEXT_JS = """() => Array.from(document.querySelectorAll("form.bd-search"))
    .filter(form => form.offsetParent !== null)
    .flatMap(form => {
        const icon = form.querySelector(".fa-magnifying-glass");
        const field = form.querySelector("input[name=q]");
        if (!icon || !field) return [];
        const text = field.getBoundingClientRect().left
            + parseFloat(getComputedStyle(field).paddingLeft);
        const right = icon.getBoundingClientRect().right;
        return right > text ? [`icon ends at ${right} px, text starts at ${text} px`] : [];
    })"""


# Counts the pages parsed for snippets (reader.js parses each result page once, not per hit).
COUNT_PARSES_JS = """() => {
    window.pagesParsed = 0;
    const parse = DOMParser.prototype.parseFromString;
    DOMParser.prototype.parseFromString = function (...args) {
        window.pagesParsed += 1;
        return parse.apply(this, args);
    };
}"""


def test_search_finds_sections_with_readable_snippets(tab):
    """ "softmax" leads to sections (not only pages); no snippet shows raw TeX or the page's
    buttons; the box's icon covers no typed text; each result page is parsed once, however
    many of its sections are hits."""
    tab.page.add_init_script(script=f"({COUNT_PARSES_JS})()")
    tab.open("search.html?q=softmax")
    read_results(tab)
    tab.page.wait_for_timeout(500)  # snippets arrive after the list
    results = tab.page.evaluate(
        """() => Array.from(document.querySelectorAll("#search-results ul.search li"),
            li => ({href: li.querySelector("a")?.href ?? "",
                    snippet: li.querySelector("p.context")?.innerText ?? ""}))"""
    )
    sections = [r["href"] for r in results if urlsplit(r["href"]).fragment]
    assert sections, f"no section-level hit among {[r['href'] for r in results]}"
    raw = [r["snippet"][:120] for r in results if RAW_TEX.search(r["snippet"])]
    assert not raw, "snippets with raw TeX:\n" + "\n".join(raw)
    chrome = [r["snippet"][:120] for r in results if PAGE_CHROME.search(r["snippet"])]
    assert not chrome, "snippets with the page's buttons in them:\n" + "\n".join(chrome)
    covered = tab.page.evaluate(ICON_OVER_TEXT_JS)
    assert not covered, f"the search box's icon covers the typed text: {covered}"
    pages = {urlsplit(r["href"])._replace(fragment="").geturl() for r in results}
    parsed = tab.page.evaluate("() => window.pagesParsed")
    assert len(results) > len(pages), "no page with two hits: the parse count proves nothing"
    assert parsed == len(pages), f"{parsed} parses for {len(results)} hits on {len(pages)} pages"
    boxes = tab.page.locator("input[name=q]:visible, .search-button-field:visible").count()
    assert boxes == 1, f"the search page shows {boxes} search boxes"
