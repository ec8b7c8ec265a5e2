"""What the browser tests share: the pages to visit, a recording browser tab, anchor lookup."""

from __future__ import annotations

import os
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


def new_tab(browser, base: str) -> tuple[Any, Tab]:
    """A fresh context and page on ``base`` that blocks and records every outside request."""
    context = browser.new_context(
        color_scheme="light", service_workers="block", viewport={"width": 1280, "height": 900}
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
        links: Array.from(document.querySelectorAll("a[href]"),
            a => [a.getAttribute("href"), a.href]),
        anchors: [
            ...Array.from(document.querySelectorAll("[id]"), el => el.id),
            ...Array.from(document.querySelectorAll("a[name]"), el => el.name),
        ],
    };
}"""

# axe-core's violations as plain data.
AXE_RUN_JS = """async (options) => (await axe.run(document, options))
    .violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
        nodes: v.nodes.map(n => n.target.join(" ")),
    }))"""
# The full rule set in the light theme; the dark theme changes colours only.
AXE_OPTIONS = {
    "light": {"resultTypes": ["violations"]},
    "dark": {
        "resultTypes": ["violations"],
        "runOnly": {"type": "rule", "values": ["color-contrast"]},
    },
}
# The theme fades colours when it switches: measure contrast only once that is over.
TRANSITIONS_DONE_JS = """async () => {
    await new Promise(requestAnimationFrame);
    await Promise.all(document.getAnimations().map(a => a.finished.catch(() => null)));
}"""


@dataclass
class PageReport:
    """What a reader's browser showed of one page, observed once per session."""

    page: str
    served: bool
    problems: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    observed: dict = field(default_factory=dict)
    axe: dict[str, list[dict]] | None = None


class Site:
    """Visits each page once per session, in its own fresh context, and keeps the report.

    A visit loads the page (until the network is idle), waits for MathJax and the images,
    saves a full-page screenshot, gathers the maths, images, links and anchors, runs axe-core
    in the light and the dark theme, and records every console error and failed or outside
    request on the way. The per-page tests then check one aspect of the report each.
    """

    def __init__(self, browser, base: str, screenshots: Path, axe_source: str | None) -> None:
        self.browser = browser
        self.base = base
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

    def _visit(self, page: str) -> PageReport:
        context, tab = new_tab(self.browser, self.base)
        try:
            try:
                tab.open(f"{page}.html", wait_until="networkidle")
            except AssertionError as error:
                return PageReport(page, served=False, problems=[str(error)])
            screenshot = self.screenshots / f"{page}.png"
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            tab.page.screenshot(path=str(screenshot), full_page=True)
            observed = tab.page.evaluate(OBSERVE_JS)
            axe = None
            if self.axe_source is not None:
                tab.page.add_script_tag(content=self.axe_source)
                axe = {}
                for scheme, options in AXE_OPTIONS.items():
                    # The theme follows the system preference until the reader picks a mode.
                    tab.page.emulate_media(color_scheme=scheme)
                    tab.page.wait_for_function(
                        f"() => document.documentElement.dataset.theme === {scheme!r}"
                    )
                    tab.page.evaluate(TRANSITIONS_DONE_JS)
                    axe[scheme] = tab.page.evaluate(AXE_RUN_JS, options)
            return PageReport(page, True, tab.problems(), screenshot, observed, axe)
        finally:
            context.close()

    def anchors(self, url: str) -> frozenset[str] | None:
        """Ids and ``<a name>`` of a same-site ``url`` as rendered; ``None`` if not served."""
        path = urlsplit(url).path.removeprefix(urlsplit(self.base).path)
        if path == "" or path.endswith("/"):
            path += "index.html"
        if path.endswith(".html"):
            report = self.report(path.removesuffix(".html"))
            return frozenset(report.observed.get("anchors", ())) if report.served else None
        # A download (.ipynb, .png, …): it only has to be served.
        if path not in self._downloads:
            try:
                request = urllib.request.Request(self.base + path, method="HEAD")
                with urllib.request.urlopen(request, timeout=10) as response:
                    self._downloads[path] = response.status == 200
            except urllib.error.URLError:
                self._downloads[path] = False
        return frozenset() if self._downloads[path] else None
