"""What the browser tests share: the pages to visit, a recording browser tab, anchor lookup."""

from __future__ import annotations

import functools
import html.parser
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conftest import ROOT, toc_pages

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "_build" / "screenshots"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# Pages every built book has besides those of the table of contents.
SITE_PAGES = ("search", "genindex")


def site_pages() -> list[str]:
    """The pages every per-page check runs over: the table of contents, search and index."""
    return [*toc_pages(), *SITE_PAGES]


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob", "about"} or parts.hostname in LOCAL_HOSTS


# Waits for MathJax's first typeset (its startup promise) and for every image to load or fail.
SETTLE_JS = """async () => {
    const timeout = new Promise(resolve => setTimeout(resolve, 15000));
    const images = Array.from(document.images, img => {
        img.loading = "eager";
        return img.complete ? null : new Promise(resolve => {
            img.addEventListener("load", resolve);
            img.addEventListener("error", resolve);
        });
    });
    const startup = window.MathJax?.startup?.promise;
    await Promise.race([Promise.all([startup, ...images]), timeout]);
}"""


# Display equations and code boxes whose content is wider than the box that holds it (one copy:
# tools/measure_pages.py imports it from here). Each item: kind, need and have in px, text.
MEASURE_JS = """() => {
    const out = [];
    for (const el of document.querySelectorAll('mjx-container[display="true"]')) {
        const box = el.closest('div.math, div.math-wrapper, .MathJax_Display') || el.parentElement;
        const need = el.firstElementChild ? el.firstElementChild.getBoundingClientRect().width : 0;
        const have = box.getBoundingClientRect().width;
        if (need > have + 1) {
            const label = (box.querySelector('.eqno') || {}).textContent || '';
            const tex = el.querySelector('mjx-assistive-mml')?.textContent
                || el.getAttribute('aria-label') || '';
            out.push({kind: 'equation', need: Math.round(need), have: Math.round(have),
                      text: `${label.trim()} ${tex.trim().slice(0, 70)}`.trim()});
        }
    }
    // Inline maths cannot break across lines: a long formula in running text runs past the
    // right edge of its paragraph, where the reader loses the end of it.
    for (const el of document.querySelectorAll('mjx-container:not([display="true"])')) {
        const box = el.closest('p, li, dd, dt, td, th, figcaption, div, section');
        if (!box || el.closest('.table-wrapper, pre')) continue;
        const edge = box.getBoundingClientRect().right
            - parseFloat(getComputedStyle(box).paddingRight);
        const right = el.getBoundingClientRect().right;
        if (right > edge + 1) {
            const tex = el.querySelector('mjx-assistive-mml')?.textContent
                || el.getAttribute('aria-label') || '';
            out.push({kind: 'inline', need: Math.round(right - box.getBoundingClientRect().left),
                      have: Math.round(edge - box.getBoundingClientRect().left),
                      text: tex.trim().slice(0, 70)});
        }
    }
    for (const pre of document.querySelectorAll('div.cell pre, div.highlight pre')) {
        if (pre.scrollWidth > pre.clientWidth + 1) {
            const kind = pre.closest('.cell_output') ? 'output' : 'code';
            const line = pre.textContent.split('\\n').reduce((a, b) => b.length > a.length ? b : a);
            out.push({kind, need: pre.scrollWidth, have: pre.clientWidth, text: line.slice(0, 70)});
        }
    }
    return out;
}"""

# A heading's text without its "#" permalink, spaces collapsed.
HEADING_JS = """const headingText = h => {
        if (!h) return '';
        const copy = h.cloneNode(true);
        copy.querySelectorAll('.headerlink').forEach(link => link.remove());
        return copy.textContent.replace(/\\s+/g, ' ').trim();
    };"""

# What a reader sees that the text checks cannot: maths MathJax could not read (an undefined
# macro is typeset as red text), figures and their sharpness, sideways panning.
READER_JS = (
    """() => {
    """
    + HEADING_JS
    + """
    const red = el => getComputedStyle(el).color === 'rgb(255, 0, 0)';
    const undefinedMacros = [
        ...Array.from(document.querySelectorAll('mjx-container mjx-mtext'))
            .filter(red).map(el => el.textContent),
        ...Array.from(document.querySelectorAll('mjx-container mtext[mathcolor="red"]'),
            el => el.textContent),
    ];
    const figures = Array.from(
        document.querySelectorAll('article.bd-article img'),
        img => ({src: img.getAttribute('src'), natural: img.naturalWidth,
                 shown: img.getBoundingClientRect().width}))
        .filter(img => img.shown > 0);
    return {
        undefined_macros: Array.from(new Set(undefinedMacros)),
        title: headingText(document.querySelector('article.bd-article h1')),
        figures,
        page_width: document.documentElement.scrollWidth,
        viewport_width: document.documentElement.clientWidth,
        wide: Array.from(document.querySelectorAll('article.bd-article *'))
            .filter(el => el.getBoundingClientRect().right
                > document.documentElement.clientWidth + 1
                && !el.closest('pre, .highlight, mjx-container, div.math, .table-wrapper'))
            .slice(0, 5).map(el => el.tagName.toLowerCase() + ': '
                + (el.textContent || '').trim().slice(0, 60)),
    };
}"""
)

# Scroll down, then back up a little (what makes the theme show its "Back to top" button), and
# name what the button covers: the topmost thing under it that belongs to the article.
BACK_TO_TOP_JS = """async () => {
    // The theme sets the button's display in its scroll listener; two frames deliver the event
    // (or 300 ms, if the page draws no frame: a visit must never wait for ever).
    const frames = () => Promise.race([
        new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))),
        new Promise(r => setTimeout(r, 300)),
    ]);
    window.scrollTo({top: document.documentElement.scrollHeight / 2, behavior: 'instant'});
    await frames();
    window.scrollBy({top: -300, behavior: 'instant'});
    await frames();
    const button = document.getElementById('pst-back-to-top');
    if (!button || getComputedStyle(button).display === 'none') {
        window.scrollTo({top: 0, behavior: 'instant'});
        return null;
    }
    const box = button.getBoundingClientRect();
    const covered = new Set();
    for (let i = 0; i <= 4; i++) for (let j = 0; j <= 2; j++) {
        const x = box.left + box.width * i / 4, y = box.top + box.height * j / 2;
        const under = document.elementsFromPoint(Math.min(x, innerWidth - 1), y)
            .find(el => !button.contains(el));
        if (under?.closest('article.bd-article')) {
            covered.add(under.tagName.toLowerCase() + ': '
                + (under.textContent || '').trim().slice(0, 50));
        }
    }
    window.scrollTo({top: 0, behavior: 'instant'});
    return Array.from(covered);
}"""

# The chapter laid out as printed (print media, the width of an A4 page's text): what is cut at
# the margin, where the print style forces a page break, and what the printed text says.
PRINT_JS = (
    """() => {
    """
    + HEADING_JS
    + """
    const article = document.querySelector('article.bd-article') || document.body;
    const width = document.documentElement.clientWidth;
    const cut = [];
    const name = el => {
        const what = el.closest('mjx-container') || el;
        const text = what.querySelector?.('mjx-assistive-mml')?.textContent || what.textContent;
        return what.tagName.toLowerCase() + ': ' + (text || '').trim().slice(0, 60);
    };
    const blocks = 'p, li, dt, dd, h1, h2, h3, h4, pre, table, img, figure, blockquote, '
        + 'div.math, div.cell, div.admonition, mjx-container[display="true"]';
    for (const el of article.querySelectorAll(blocks)) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || getComputedStyle(el).display === 'none') continue;
        if (box.right > width + 1) { cut.push('past the margin ' + name(el)); continue; }
        // Content wider than its box, which print cannot scroll: a code line, an equation.
        const need = el.matches('mjx-container')
            ? el.firstElementChild?.getBoundingClientRect().width ?? 0 : el.scrollWidth;
        const have = el.matches('mjx-container') ? box.width : el.clientWidth;
        if (el.matches('pre, mjx-container') && need > have + 1) cut.push('clipped ' + name(el));
    }
    // Forced breaks, and unbreakable boxes taller than half a page (each one that does not fit
    // leaves the rest of a page empty).
    const forced = ['page', 'always', 'left', 'right'];
    const breaks = Array.from(article.querySelectorAll('div, section, pre, figure, table'))
        .filter(el => {
            const style = getComputedStyle(el);
            if (style.display === 'none') return false;
            return forced.includes(style.breakBefore) || forced.includes(style.breakAfter)
                || (style.breakInside.startsWith('avoid')
                    && el.getBoundingClientRect().height > innerHeight / 2);
        }).map(el => el.tagName.toLowerCase() + '.' + [...el.classList].join('.'));
    const headings = Array.from(document.querySelectorAll('h1, h2'))
        .filter(h => h.offsetParent !== null).map(headingText);
    // Text a print style adds (::before/::after), such as the toggle buttons' hints.
    const generated = Array.from(document.querySelectorAll('button, summary, [data-toggle-hint]'))
        .filter(el => el.offsetParent !== null)
        .map(el => ['::before', '::after'].map(p => getComputedStyle(el, p).content).join(' '));
    return {cut: Array.from(new Set(cut)), breaks: Array.from(new Set(breaks)),
            text: document.body.innerText + '\\n' + generated.join('\\n'), headings,
            height: document.documentElement.scrollHeight};
}"""
)


@dataclass
class Tab:
    """A page of a fresh browser context that records what went wrong while it was open."""

    page: Any
    base: str
    external: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def open(self, path: str, wait_until: str = "load") -> None:
        """Load ``path`` (relative to the site root); wait until maths and images are done."""
        response = self.page.goto(self.base + path, wait_until=wait_until)
        status = response.status if response is not None else "no response"
        assert response is not None and response.ok, f"{path}: HTTP {status}"
        for _attempt in range(3):
            try:
                self.page.evaluate(SETTLE_JS)
                return
            except Exception as error:  # playwright's Error, when a redirect replaces the page
                if "context was destroyed" not in str(error):
                    raise
                self.page.wait_for_load_state("load")
        self.page.evaluate(SETTLE_JS)

    def problems(self) -> list[str]:
        return [
            *(f"request to outside the site (blocked): {url}" for url in self.external),
            *(f"failed request: {entry}" for entry in self.failed),
            *(f"console error: {entry}" for entry in self.console_errors),
        ]


def new_tab(browser, base: str, viewport: dict | None = None) -> tuple[Any, Tab]:
    """A fresh context and page on ``base`` that blocks and records every outside request."""
    context = browser.new_context(
        color_scheme="light",
        service_workers="block",
        viewport=viewport or {"width": 1280, "height": 900},
    )
    page = context.new_page()
    tab = Tab(page=page, base=base)
    blocked: set[str] = set()

    def route(route):
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            tab.external.append(url)
            blocked.add(url)
            route.abort("blockedbyclient")

    def on_console(message):
        if message.type == "error":
            where = (message.location or {}).get("url")
            tab.console_errors.append(message.text + (f" ({where})" if where else ""))

    def on_failed(request):
        if request.url not in blocked:
            tab.failed.append(f"{request.url}: {request.failure}")

    def on_response(response):
        if response.status >= 400:
            tab.failed.append(f"{response.url}: HTTP {response.status}")

    context.route("**/*", route)
    page.on("console", on_console)
    page.on("pageerror", lambda error: tab.console_errors.append(f"uncaught {error}"))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    return context, tab


# Everything the per-page checks look at, gathered in one pass over the settled page.
OBSERVE_JS = """() => {
    const article = document.querySelector("article.bd-article")
        || document.querySelector("main") || document.body;
    const maths = Array.from(article.querySelectorAll(".math"));
    // The text a reader sees, leaving out code (where TeX may be meant literally).
    const hide = document.createElement("style");
    hide.textContent = "pre, code, kbd, samp, .highlight, mjx-assistive-mml "
        + "{ display: none !important; }";
    document.head.append(hide);
    const text = article.innerText;
    hide.remove();
    return {
        text,
        maths: maths.length,
        typeset: article.querySelectorAll("mjx-container").length,
        untypeset: maths.filter(el => !el.querySelector("mjx-container"))
            .map(el => el.textContent.trim().slice(0, 80)),
        // A dollar left beside typeset maths: "$$…$$" written inline, half parsed.
        strays: maths.map(el => [
                el.previousSibling?.textContent ?? "", el.nextSibling?.textContent ?? ""])
            .filter(([before, after]) => before.endsWith("$") || after.startsWith("$"))
            .map(([before, after]) => `${before.slice(-30)}<maths>${after.slice(0, 30)}`),
        tex_errors: Array.from(document.querySelectorAll("mjx-merror"),
            el => el.getAttribute("data-mjx-error") || el.textContent),
        images: Array.from(document.images, img => ({
            src: img.getAttribute("src"),
            alt: (img.getAttribute("alt") || "").trim(),
            width: img.naturalWidth,
        })),
        download: document.querySelector("a.btn-download-source-button")?.href ?? null,
        // In-text citations, and the label each bibliography entry shows (by its id).
        citations: Array.from(article.querySelectorAll(".bibtex-citation"), span => ({
            text: span.textContent.replace(/\\s+/g, " ").trim(),  // also in a closed solution
            targets: Array.from(span.querySelectorAll("a[href]"), a => a.href),
        })),
        bibliography: Object.fromEntries(Array.from(article.querySelectorAll("div.citation"),
            entry => [entry.id, entry.querySelector(".label")?.innerText.trim() ?? ""])),
        links: Array.from(document.querySelectorAll("a[href]"),
            a => [a.getAttribute("href"), a.href]),
        anchors: [
            ...Array.from(document.querySelectorAll("[id]"), el => el.id),
            ...Array.from(document.querySelectorAll("a[name]"), el => el.name),
        ],
    };
}"""

# axe-core's violations as plain data, on the page with its repeats set aside.
#
# A chapter is mostly code cells and maths, and most of axe's time (about two thirds of a
# chapter's whole visit) went to checking the same markup again and again: every code cell
# is the same box with the same token colours, and MathJax's glyphs (aria-hidden, drawn by
# CSS) repeat one structure per formula. What a reader's contrast depends on is the pair of
# colours, the text size and the box around it; so a code box is checked if it shows a token
# class (in its kind of box) that no earlier box showed, and one formula is kept per colour
# and kind of box. The others are detached while axe runs and put back in place after.
AXE_RUN_JS = """async (options) => {
    const box = el => {
        const around = el.closest('.admonition, .cell_output, details, table, figure');
        return around ? around.tagName + '.' + [...around.classList].sort().join('.') : 'page';
    };
    const seen = new Set(), held = [];
    for (const pre of document.querySelectorAll('article.bd-article pre')) {
        const where = box(pre);
        const keys = [where, ...Array.from(pre.querySelectorAll('[class]'),
            token => where + ' ' + token.className)];
        if (keys.some(key => !seen.has(key))) keys.forEach(key => seen.add(key));
        else held.push(pre);
    }
    for (const maths of document.querySelectorAll('mjx-container > mjx-math')) {
        const key = 'maths ' + box(maths) + ' ' + getComputedStyle(maths).color;
        if (seen.has(key)) held.push(maths);
        else seen.add(key);
    }
    const places = held.map(el => [el, el.parentNode, el.nextSibling]);
    held.forEach(el => el.remove());
    try {
        return (await axe.run(document, options)).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
            nodes: v.nodes.map(n => n.target.join(" ")),
        }));
    } finally {
        places.reverse().forEach(([el, parent, next]) => parent.insertBefore(el, next));
    }
}"""
# The full rule set in the light theme; the dark theme changes colours only.
AXE_OPTIONS = {
    "light": {"resultTypes": ["violations"]},
    "dark": {
        "resultTypes": ["violations"],
        "runOnly": {"type": "rule", "values": ["color-contrast"]},
    },
}
# The theme fades colours when it switches: measure contrast only once that is over.
NO_TRANSITIONS_CSS = (
    "*, *::before, *::after { transition: none !important; animation: none !important; }"
)
TRANSITIONS_DONE_JS = """async () => {
    // Bounded, like every wait of a visit: an endless animation or a page that draws no frame
    // must not hang the run (one did, on a reference page, with no timeout to end it).
    const bounded = (promise, ms) => Promise.race([promise, new Promise(r => setTimeout(r, ms))]);
    await bounded(new Promise(requestAnimationFrame), 300);
    await bounded(
        Promise.all(document.getAnimations().map(a => a.finished.catch(() => null))), 3000);
}"""


# The two widths a reader's screen has in these tests: a laptop, and a phone held upright.
VIEWPORTS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}
# A4 with 15 mm margins, in CSS pixels (96 per inch): the box the printed text must fit.
PRINT_MARGIN = "15mm"
# A full-page screenshot of a chapter takes 5-30 s (it rasterises 20 000 px): by default each
# variant shows the first screen and the first figure; SCREENSHOTS=full adds whole pages at
# 1280 px in the light theme, for a person reviewing every line.
FULL_PAGE = os.environ.get("SCREENSHOTS", "").strip().lower() == "full"
# The chapter printed to PDF (the others are laid out for print and measured only).
PRINTED_CHAPTER = "book/05-sigmoid-logistic-regression"
PRINT_TEXT = {"width": round((210 - 30) / 25.4 * 96), "height": round((297 - 30) / 25.4 * 96)}


@dataclass
class PageReport:
    """What a reader's browser showed of one page, observed once per session."""

    page: str
    served: bool
    problems: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    observed: dict = field(default_factory=dict)
    axe: dict[str, list[dict]] | None = None
    #: per viewport ("1280", "390"): READER_JS and MEASURE_JS results, and the back-to-top check
    layout: dict[str, dict] = field(default_factory=dict)
    #: PRINT_JS on the page laid out for A4, plus the PDF's page count (chapters only)
    printed: dict | None = None
    screenshots: list[Path] = field(default_factory=list)


def pdf_page_count(pdf: bytes) -> int:
    """Pages of a PDF as Chromium writes it (one ``/Type /Page`` object per page)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


class _StaticPage(html.parser.HTMLParser):
    """What the built HTML file of a page holds, without a browser: its anchors (ids and
    ``<a name>``), its bibliography labels by entry id, and its notebook download link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: set[str] = set()
        self.bibliography: dict[str, str] = {}
        self.download: str | None = None
        self._entry: str | None = None  # id of the div.citation being read
        self._label: list[str] | None = None  # text of its span.label, while inside it
        self._depth = 0  # open elements inside that span

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        for name in ("id", "name") if tag == "a" else ("id",):
            if attributes.get(name):
                self.anchors.add(attributes[name])
        if tag == "div" and "citation" in classes:
            self._entry = attributes.get("id")
        elif self._label is not None:
            self._depth += 1
        elif tag == "span" and "label" in classes and self._entry:
            self._label, self._depth = [], 0
        if tag == "a" and "btn-download-source-button" in classes and self.download is None:
            self.download = attributes.get("href")

    def handle_endtag(self, tag) -> None:
        if self._label is None:
            return
        if self._depth:
            self._depth -= 1
            return
        self.bibliography[self._entry] = "".join(self._label).strip()
        self._label, self._entry = None, None

    def handle_data(self, data) -> None:
        if self._label is not None:
            self._label.append(data)


@functools.cache
def static_page(html_file: Path) -> _StaticPage | None:
    """The built page as written (``None`` if the build has no such file)."""
    if not html_file.is_file():
        return None
    page = _StaticPage()
    page.feed(html_file.read_text(encoding="utf-8"))
    page.close()
    return page


class Site:
    """Visits each page once per session, in its own fresh context, and keeps the report.

    One load per page, at 1280 px: screenshot (``FULL_PAGE``), maths, images, links, anchors
    and widths, axe-core in the light and the dark theme (dark screenshot), a chapter laid out
    for A4 print (``PRINTED_CHAPTER`` also printed to PDF); then the same page resized to
    390 px is measured and shot in both themes. Every console error and failed or outside
    request is recorded on the way. The per-page tests then check one aspect each.
    """

    def __init__(
        self, browser, base: str, html: Path, screenshots: Path, axe_source: str | None
    ) -> None:
        self.browser = browser
        self.base = base
        self.html = html
        self.screenshots = screenshots
        self.axe_source = axe_source
        self._reports: dict[str, PageReport] = {}
        self._downloads: dict[str, bool] = {}

    def report(self, page: str) -> PageReport:
        if page not in self._reports:
            try:
                self._reports[page] = self._visit(page)
            except Exception as error:  # reported by every check of the page, visited once
                self._reports[page] = PageReport(page, False, [f"visit failed: {error}"])
        return self._reports[page]

    def _shoot(self, tab: Tab, report: PageReport, variant: str, full_page=False) -> Path:
        """Save what the reader sees: the whole page, or the first screen (cheaper)."""
        path = self.screenshots / f"{report.page}@{variant}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tab.page.screenshot(
            path=str(path), full_page=full_page, animations="disabled", timeout=120_000
        )
        report.screenshots.append(path)
        return path

    def _shoot_figure(self, tab: Tab, report: PageReport, variant: str) -> None:
        """The first figure on its own, for pages whose first screen shows none."""
        figure = tab.page.locator("article.bd-article div.cell_output img").first
        if figure.count():
            path = self.screenshots / f"{report.page}@{variant}-figure.png"
            figure.screenshot(path=str(path), animations="disabled")
            report.screenshots.append(path)

    @staticmethod
    def _scheme(tab: Tab, scheme: str) -> None:
        """Switch the system preference, which the theme follows until the reader picks."""
        tab.page.emulate_media(color_scheme=scheme)
        tab.page.wait_for_function(f"() => document.documentElement.dataset.theme === {scheme!r}")
        tab.page.evaluate(TRANSITIONS_DONE_JS)

    def _visit(self, page: str) -> PageReport:
        """One page load: 1280 px light, print (chapters), 390 px light then dark, 1280 px dark.

        The order switches the theme once and resizes three times: each switch or resize lays
        out the whole page again, which is most of a long chapter's cost.
        """
        report = PageReport(page, served=True)
        context, tab = new_tab(self.browser, self.base)
        try:
            try:
                tab.open(f"{page}.html", wait_until="networkidle")
            except AssertionError as error:
                return PageReport(page, served=False, problems=[str(error)])
            # The theme fades colours and drawers; what a reader sees is the state after the
            # fade, so the fades are switched off rather than waited for.
            tab.page.add_style_tag(content=NO_TRANSITIONS_CSS)
            report.screenshot = self._shoot(tab, report, "1280-light", full_page=FULL_PAGE)
            report.observed = tab.page.evaluate(OBSERVE_JS)
            report.layout["1280"] = self._layout(tab)
            if self.axe_source is not None:
                tab.page.add_script_tag(content=self.axe_source)
                report.axe = {"light": tab.page.evaluate(AXE_RUN_JS, AXE_OPTIONS["light"])}
            if (ROOT / f"{page}.ipynb").is_file():
                report.printed = self._print(tab, pdf=page == PRINTED_CHAPTER)
            # A phone held upright: the same page, resized (as a reader's rotated tablet is).
            tab.page.set_viewport_size(VIEWPORTS["390"])
            tab.page.evaluate(TRANSITIONS_DONE_JS)
            report.layout["390"] = self._layout(tab)
            report.layout["390"]["back_to_top"] = tab.page.evaluate(BACK_TO_TOP_JS)
            self._shoot(tab, report, "390-light")
            self._scheme(tab, "dark")
            self._shoot(tab, report, "390-dark")
            tab.page.set_viewport_size(VIEWPORTS["1280"])
            tab.page.evaluate(TRANSITIONS_DONE_JS)
            if report.axe is not None:
                report.axe["dark"] = tab.page.evaluate(AXE_RUN_JS, AXE_OPTIONS["dark"])
            self._shoot(tab, report, "1280-dark")
            self._shoot_figure(tab, report, "1280-dark")
            report.problems += tab.problems()
        finally:
            context.close()
        return report

    @staticmethod
    def _layout(tab: Tab) -> dict:
        return {**tab.page.evaluate(READER_JS), "overflows": tab.page.evaluate(MEASURE_JS)}

    @staticmethod
    def _print(tab: Tab, pdf: bool) -> dict:
        """Lay the page out as Chromium prints it on A4, measure it; print it to PDF if asked."""
        tab.page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
        tab.page.set_viewport_size(PRINT_TEXT)
        tab.page.emulate_media(media="print")
        try:
            printed = tab.page.evaluate(PRINT_JS)
            if pdf:  # slow (seconds per chapter): one chapter stands for the others
                document = tab.page.pdf(
                    format="A4",
                    margin={side: PRINT_MARGIN for side in ("top", "right", "bottom", "left")},
                    print_background=False,
                )
                printed["pdf_pages"] = pdf_page_count(document)
        finally:  # the caller sets the next viewport
            tab.page.emulate_media(media="screen")
            tab.page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
        return printed

    def built(self, page: str) -> _StaticPage | None:
        """The built HTML of ``page`` as written, read without a browser."""
        return static_page(self.html / f"{page}.html")

    def anchors(self, url: str) -> frozenset[str] | None:
        """Ids and ``<a name>`` of a same-site ``url``; ``None`` if not served.

        Read from the built HTML, not from a visit: each xdist worker visits only its own
        pages, and the theme's scripts add no anchor that a link of the book targets.
        """
        path = urlsplit(url).path.removeprefix(urlsplit(self.base).path)
        if path == "" or path.endswith("/"):
            path += "index.html"
        if path.endswith(".html"):
            built = self.built(path.removesuffix(".html"))
            return frozenset(built.anchors) if built is not None else None
        # A download (.ipynb, .png, …): it only has to be served.
        if path not in self._downloads:
            try:
                request = urllib.request.Request(self.base + path, method="HEAD")
                with urllib.request.urlopen(request, timeout=10) as response:
                    self._downloads[path] = response.status == 200
            except urllib.error.URLError:
                self._downloads[path] = False
        return frozenset() if self._downloads[path] else None
