"""Every page of the table of contents (plus search and index), as a reader's browser shows it.

Each test loads its page in a fresh browser context from the local server, so a failure names
the page and the check. ``test_page_loads_cleanly`` also saves the page's full screenshot to
``_build/screenshots/<page>.png`` for a person to review.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest

from .support import site_pages

pytestmark = pytest.mark.browser

PAGES = site_pages()

# The main text of a page; the whole body where the theme has no article.
ARTICLE_JS = """() => document.querySelector("article.bd-article")
    || document.querySelector("main") || document.body"""

# TeX that MathJax should have turned into maths: display dollars, any control word, \( \[.
RAW_TEX = re.compile(r"\$\$|\\[A-Za-z]+|\\[()\[\]]")

# Impacts that fail the accessibility check.
FAILING_IMPACTS = {"serious", "critical"}


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_cleanly(page, tab, screenshots):
    """No console error, no failed request, nothing fetched from outside; screenshot saved."""
    tab.open(f"{page}.html", wait_until="networkidle")
    target = screenshots / f"{page}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 0
    problems = tab.problems()
    assert not problems, f"{page}: " + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_maths_is_typeset(page, tab):
    """Every maths element holds MathJax output, with no TeX error and no raw TeX in the text."""
    tab.open(f"{page}.html")
    found = tab.page.evaluate(
        f"""() => {{
            const article = ({ARTICLE_JS})();
            const maths = Array.from(article.querySelectorAll(".math"));
            const untypeset = maths.filter(el => !el.querySelector("mjx-container"))
                .map(el => el.textContent.trim().slice(0, 80));
            const errors = Array.from(document.querySelectorAll("mjx-merror"),
                el => el.getAttribute("data-mjx-error") || el.textContent);
            // The text a reader sees, leaving out code (where TeX may be meant literally).
            const hide = document.createElement("style");
            hide.textContent = "pre, code, kbd, samp, .highlight, mjx-assistive-mml "
                + "{{ display: none !important; }}";
            document.head.append(hide);
            const text = article.innerText;
            hide.remove();
            return {{
                maths: maths.length,
                containers: article.querySelectorAll("mjx-container").length,
                untypeset, errors, text,
            }};
        }}"""
    )
    raw = [
        found["text"][max(match.start() - 30, 0) : match.end() + 30].replace("\n", " ")
        for match in RAW_TEX.finditer(found["text"])
    ]
    assert not raw, f"{page}: raw TeX in the rendered text:\n" + "\n".join(raw[:10])
    assert not found["untypeset"], f"{page}: maths not typeset by MathJax: {found['untypeset']}"
    assert not found["errors"], f"{page}: MathJax reports TeX errors: {found['errors'][:10]}"
    if found["maths"]:
        assert found["containers"] >= found["maths"], found


@pytest.mark.parametrize("page", PAGES)
def test_figures_load_and_have_alt_text(page, tab):
    """Every image has loaded (natural width > 0) and has a non-empty alt text."""
    tab.open(f"{page}.html")
    images = tab.page.evaluate(
        """() => Array.from(document.images, img => ({
            src: img.getAttribute("src"),
            alt: (img.getAttribute("alt") || "").trim(),
            width: img.naturalWidth,
        }))"""
    )
    not_loaded = [image["src"] for image in images if image["width"] == 0]
    no_alt = [image["src"] for image in images if not image["alt"]]
    assert not not_loaded, f"{page}: images that did not load: {not_loaded}"
    assert not no_alt, f"{page}: images without alt text: {no_alt}"


@pytest.mark.parametrize("page", PAGES)
def test_links_and_cross_references_resolve(page, tab, anchor_index):
    """Every same-site link reaches a served page, and its fragment an element of that page."""
    tab.open(f"{page}.html")
    links = tab.page.evaluate(
        """() => Array.from(document.querySelectorAll("a[href]"),
            a => [a.getAttribute("href"), a.href])"""
    )
    broken = []
    for written, url in links:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not url.startswith(tab.base):
            continue  # mailto:, javascript:, and links to other sites (never fetched)
        anchors = anchor_index.anchors(url)
        fragment = unquote(parts.fragment)
        if anchors is None:
            broken.append(f"{written} (not served)")
        elif fragment and fragment not in anchors:
            broken.append(f"{written} (no element with id {fragment!r})")
    assert links, f"{page}: no links at all, so the page did not render"
    assert not broken, f"{page}: broken links:\n" + "\n".join(sorted(set(broken)))


@pytest.mark.parametrize("page", PAGES)
def test_no_serious_accessibility_violation(page, tab, axe_source):
    """axe-core finds no serious or critical violation of its rules."""
    tab.open(f"{page}.html")
    tab.page.add_script_tag(content=axe_source)
    violations = tab.page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] }))
            .violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
                nodes: v.nodes.map(n => n.target.join(" ")),
            }))"""
    )
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    report = [
        f"{v['impact']} {v['id']}: {v['help']} ({v['url']})\n    on "
        + "\n    on ".join(v["nodes"][:5])
        for v in failing
    ]
    assert not failing, f"{page}: accessibility violations:\n" + "\n".join(report)
