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
            // A dollar left beside typeset maths: "$$…$$" written inline, half parsed.
            const strays = maths.map(el => [
                el.previousSibling?.textContent ?? "", el.nextSibling?.textContent ?? ""])
                .filter(([before, after]) => before.endsWith("$") || after.startsWith("$"))
                .map(([before, after]) => `${{before.slice(-30)}}<maths>${{after.slice(0, 30)}}`);
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
                untypeset, strays, errors, text,
            }};
        }}"""
    )
    lines = found["text"].splitlines()
    problems = [f"raw TeX: {line.strip()[:160]}" for line in lines if RAW_TEX.search(line)]
    problems += [f"stray $ beside maths: {stray}" for stray in found["strays"]]
    problems += [f"not typeset by MathJax: {tex}" for tex in found["untypeset"]]
    problems += [f"MathJax error: {error}" for error in found["errors"]]
    if found["maths"] and found["containers"] < found["maths"]:
        problems.append(f"{found['maths']} maths elements, {found['containers']} typeset")
    assert not problems, f"{page}: maths a reader cannot read:\n" + "\n".join(problems[:20])


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
    problems = [f"did not load: {image['src']}" for image in images if image["width"] == 0]
    problems += [f"no alt text: {image['src']}" for image in images if not image["alt"]]
    assert not problems, f"{page}: images that fail a reader:\n" + "\n".join(problems)


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


# axe-core's violations as plain data; the second run, in the dark theme, checks colours only.
AXE_RUN_JS = """async (options) => (await axe.run(document, options))
    .violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
        nodes: v.nodes.map(n => n.target.join(" ")),
    }))"""
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


@pytest.mark.parametrize("page", PAGES)
def test_no_serious_accessibility_violation(page, tab, axe_source):
    """axe-core finds no serious or critical violation (and no contrast one in dark mode)."""
    tab.open(f"{page}.html")
    tab.page.add_script_tag(content=axe_source)
    report = []
    for scheme, options in AXE_OPTIONS.items():
        # The theme follows the reader's system preference until they choose a mode.
        tab.page.emulate_media(color_scheme=scheme)
        tab.page.wait_for_function(f"() => document.documentElement.dataset.theme === {scheme!r}")
        tab.page.evaluate(TRANSITIONS_DONE_JS)
        report += [
            f"{v['impact']} {v['id']} ({scheme} theme): {v['help']} ({v['url']})\n    on "
            + "\n    on ".join(v["nodes"][:5])
            for v in tab.page.evaluate(AXE_RUN_JS, options)
            if v["impact"] in FAILING_IMPACTS
        ]
    assert not report, f"{page}: accessibility violations:\n" + "\n".join(report)
