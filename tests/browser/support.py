"""What the browser tests share: the pages to visit, a recording browser tab, anchor lookup."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
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


def toc_pages() -> list[str]:
    """Every page ``_toc.yml`` lists, in reading order, as paths without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            if "glob" in entry:
                pages.extend(
                    str(path.relative_to(ROOT).with_suffix(""))
                    for path in sorted(ROOT.glob(entry["glob"]))
                    if path.suffix in {".md", ".ipynb", ".rst"}
                )
            walk(entry.get("sections"))

    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    stripped = (page.removesuffix(".md").removesuffix(".ipynb") for page in pages)
    return list(dict.fromkeys(stripped))


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


class AnchorIndex:
    """The anchors of each same-site page as rendered, loaded once per page per session."""

    def __init__(self, browser, base: str) -> None:
        self._browser = browser
        self._base = base
        self._context = None
        self._tab: Tab | None = None
        self._cache: dict[str, frozenset[str] | None] = {}

    def anchors(self, url: str) -> frozenset[str] | None:
        """Ids and ``<a name>`` of ``url`` (fragment, query ignored); ``None`` if not served."""
        target = urldefrag(url).url.split("?", 1)[0]
        if target not in self._cache:
            self._cache[target] = self._load(target)
        return self._cache[target]

    def _load(self, target: str) -> frozenset[str] | None:
        if not urlsplit(target).path.endswith((".html", "/")):
            # A download (.ipynb, .png, …): it only has to be served.
            try:
                request = urllib.request.Request(target, method="HEAD")
                with urllib.request.urlopen(request, timeout=10) as response:
                    return frozenset() if response.status == 200 else None
            except urllib.error.URLError:
                return None
        if self._tab is None:
            self._context, self._tab = new_tab(self._browser, self._base)
        try:
            self._tab.open(target.removeprefix(self._base))
        except AssertionError:
            return None
        return frozenset(
            self._tab.page.evaluate(
                """() => [
                    ...Array.from(document.querySelectorAll("[id]"), el => el.id),
                    ...Array.from(document.querySelectorAll("a[name]"), el => el.name),
                ]"""
            )
        )

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
