"""Every page of the table of contents (plus search and index), as a reader's browser shows it.

Each page is visited once per session in a fresh browser context (``support.Site``): loaded
from the local server until the network is idle, MathJax and images settled, screenshot saved
to ``_build/screenshots/<page>.png`` for a person to review, axe-core run in the light and the
dark theme. Each test below checks one aspect of that visit, so a failure names page and check.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest

from .support import site_pages

pytestmark = pytest.mark.browser

PAGES = site_pages()

# TeX that MathJax should have turned into maths: display dollars, any control word, \( \[.
RAW_TEX = re.compile(r"\$\$|\\[A-Za-z]+|\\[()\[\]]")

# Impacts that fail the accessibility check.
FAILING_IMPACTS = {"serious", "critical"}


def visited(site, page):
    report = site.report(page)
    assert report.served, f"{page}: {report.problems}"
    return report


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_cleanly(page, site):
    """No console error, no failed request, nothing fetched from outside; screenshot saved."""
    report = visited(site, page)
    assert report.screenshot.stat().st_size > 0, f"{page}: empty screenshot"
    assert not report.problems, f"{page}:\n" + "\n".join(report.problems)


@pytest.mark.parametrize("page", PAGES)
def test_maths_is_typeset(page, site):
    """Every maths element holds MathJax output, with no TeX error and no raw TeX in the text."""
    found = visited(site, page).observed
    lines = found["text"].splitlines()
    problems = [f"raw TeX: {line.strip()[:160]}" for line in lines if RAW_TEX.search(line)]
    problems += [f"stray $ beside maths: {stray}" for stray in found["strays"]]
    problems += [f"not typeset by MathJax: {tex}" for tex in found["untypeset"]]
    problems += [f"MathJax error: {error}" for error in found["tex_errors"]]
    if found["maths"] and found["typeset"] < found["maths"]:
        problems.append(f"{found['maths']} maths elements, {found['typeset']} typeset")
    assert not problems, f"{page}: maths a reader cannot read:\n" + "\n".join(problems[:20])


@pytest.mark.parametrize("page", PAGES)
def test_figures_load_and_have_alt_text(page, site):
    """Every image has loaded (natural width > 0) and has a non-empty alt text."""
    images = visited(site, page).observed["images"]
    problems = [f"did not load: {image['src']}" for image in images if image["width"] == 0]
    problems += [f"no alt text: {image['src']}" for image in images if not image["alt"]]
    assert not problems, f"{page}: images that fail a reader:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_links_and_cross_references_resolve(page, site):
    """Every same-site link reaches a served page, and its fragment an element of that page."""
    links = visited(site, page).observed["links"]
    broken = []
    for written, url in links:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not url.startswith(site.base):
            continue  # mailto:, javascript:, and links to other sites (never fetched)
        anchors = site.anchors(url)
        fragment = unquote(parts.fragment)
        if anchors is None:
            broken.append(f"{written} (not served)")
        elif fragment and fragment not in anchors:
            broken.append(f"{written} (no element with id {fragment!r})")
    assert links, f"{page}: no links at all, so the page did not render"
    assert not broken, f"{page}: broken links:\n" + "\n".join(sorted(set(broken)))


@pytest.mark.parametrize("page", PAGES)
def test_no_serious_accessibility_violation(page, site, axe_source):
    """axe-core finds no serious or critical violation (nor a contrast one in dark mode)."""
    axe = visited(site, page).axe
    assert axe is not None, "axe-core was not run"
    report = [
        f"{v['impact']} {v['id']} ({scheme} theme): {v['help']} ({v['url']})\n    on "
        + "\n    on ".join(v["nodes"][:5])
        for scheme, violations in axe.items()
        for v in violations
        if v["impact"] in FAILING_IMPACTS
    ]
    assert not report, f"{page}: accessibility violations:\n" + "\n".join(report)
