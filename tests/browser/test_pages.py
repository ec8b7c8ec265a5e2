"""Every page of the table of contents (plus search and index), as a reader's browser shows it.

Each page is visited once per session (``support.Site``): loaded from the local server until
the network is idle, MathJax and images settled, screenshots saved to
``_build/screenshots/<page>@<width>-<theme>.png`` for a person to review, axe-core run in the
light and the dark theme, laid out for print, resized to a phone. Each test below checks one
aspect of that visit, so a failure names page and check.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest

from .support import PRINT_TEXT, ROOT, site_pages

pytestmark = pytest.mark.browser

PAGES = site_pages()
CHAPTERS = [page for page in PAGES if (ROOT / f"{page}.ipynb").is_file()]
# Printed text that only makes sense on a screen (sphinx-togglebutton's hints).
SCREEN_ONLY = re.compile(r"Click to (?:hide|show)")
# Chromium's page breaks waste some height (a figure or a heading pushed to the next page):
# a print style that forces no break fills pages to at least 1 / PRINT_SLACK on average.
PRINT_SLACK = 1.35


# TeX that MathJax should have turned into maths: display dollars, any control word, \( \[.
RAW_TEX = re.compile(r"\$\$|\\[A-Za-z]+|\\[()\[\]]")

# Impacts that fail the accessibility check.
FAILING_IMPACTS = {"serious", "critical"}


def visited(site, page):
    report = site.report(page)
    assert report.served, f"{page}: {report.problems}"
    return report


def check_page_loads_cleanly(page, site):
    """No console error, no failed request, nothing fetched from outside; screenshot saved."""
    report = visited(site, page)
    assert report.screenshot.stat().st_size > 0, f"{page}: empty screenshot"
    assert not report.problems, f"{page}:\n" + "\n".join(report.problems)


def check_maths_is_typeset(page, site):
    """Every maths element holds MathJax output, with no TeX error and no raw TeX in the text."""
    found = visited(site, page).observed
    lines = found["text"].splitlines()
    problems = [f"raw TeX: {line.strip()[:160]}" for line in lines if RAW_TEX.search(line)]
    problems += [f"stray $ beside maths: {stray}" for stray in found["strays"]]
    problems += [f"not typeset by MathJax: {tex}" for tex in found["untypeset"]]
    problems += [f"MathJax error: {error}" for error in found["tex_errors"]]
    for width, layout in visited(site, page).layout.items():
        problems += [
            f"undefined macro (red) at {width} px: {tex}" for tex in layout["undefined_macros"]
        ]
    if found["maths"] and found["typeset"] < found["maths"]:
        problems.append(f"{found['maths']} maths elements, {found['typeset']} typeset")
    assert not problems, f"{page}: maths a reader cannot read:\n" + "\n".join(problems[:20])


def check_figures_load_and_have_alt_text(page, site):
    """Every image has loaded (natural width > 0) and has a non-empty alt text."""
    images = visited(site, page).observed["images"]
    problems = [f"did not load: {image['src']}" for image in images if image["width"] == 0]
    problems += [f"no alt text: {image['src']}" for image in images if not image["alt"]]
    assert not problems, f"{page}: images that fail a reader:\n" + "\n".join(problems)


def check_links_and_cross_references_resolve(page, site):
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


def check_no_serious_accessibility_violation(page, site):
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


def check_figures_are_sharp(page, site):
    """At 1280 px every figure has at least two image pixels per CSS pixel (retina)."""
    figures = visited(site, page).layout["1280"]["figures"]
    blurred = [
        f"{image['src']}: {image['natural']} px wide, shown at {image['shown']:.0f} px"
        for image in figures
        if image["natural"] < 2 * image["shown"] - 0.5
    ]
    assert not blurred, f"{page}: figures blurred on a retina screen:\n" + "\n".join(blurred)


def _overflows(site, page, width, kinds):
    found = visited(site, page).layout[width]["overflows"]
    return [
        f"{item['kind']} needs {item['need']} px of {item['have']}: {item['text']}"
        for item in found
        if item["kind"] in kinds
    ]


def check_equations_and_code_fit_their_column_at_1280(page, site):
    """No display equation, inline formula, code cell or output is wider than the column on a
    laptop."""
    wide = _overflows(site, page, "1280", {"equation", "inline", "code", "output"})
    assert not wide, f"{page} at 1280 px: boxes wider than the column:\n" + "\n".join(wide)


def check_equations_fit_on_a_phone(page, site):
    """No display equation, and no inline formula, is wider than the column at 390 px."""
    wide = _overflows(site, page, "390", {"equation", "inline"})
    assert not wide, f"{page} at 390 px: equations wider than the column:\n" + "\n".join(wide)


def check_a_phone_never_pans_sideways(page, site):
    """At 390 px the page is no wider than the screen (long code names wrap)."""
    layout = visited(site, page).layout["390"]
    assert layout["page_width"] <= layout["viewport_width"], (
        f"{page}: the page is {layout['page_width']} px wide on a "
        f"{layout['viewport_width']} px screen; past the edge:\n" + "\n".join(layout["wide"])
    )


def check_back_to_top_covers_no_text(page, site):
    """The "Back to top" button, once it shows on a phone, sits over no text of the page."""
    covered = visited(site, page).layout["390"]["back_to_top"]
    assert not covered, f"{page}: the back-to-top button covers:\n" + "\n".join(covered)


def check_citations_use_the_labels_of_the_bibliography(page, site):
    """Each in-text citation shows the label of the bibliography entry it links to."""
    citations = visited(site, page).observed["citations"]
    problems = []
    for citation in citations:
        words = re.findall(r"\w+", citation["text"])
        for target in citation["targets"]:
            path, _, entry = target.partition("#")
            built = site.built(path.removeprefix(site.base).removesuffix(".html"))
            label = built.bibliography.get(entry) if built is not None else None
            if label is None:
                problems.append(f"{citation['text']!r} links to no bibliography entry")
                continue
            want = re.findall(r"\w+", label)
            if not any(words[i : i + len(want)] == want for i in range(len(words))):
                problems.append(f"{citation['text']!r} cites an entry labelled {label!r}")
    assert not problems, f"{page}: citations unlike the list:\n" + "\n".join(problems)


def printed(site, page):
    report = visited(site, page)
    assert report.printed is not None, f"{page} was not printed"
    return report.printed


def check_print_keeps_every_line(page, site):
    """On A4, nothing is cut at the margin or clipped inside a box."""
    cut = printed(site, page)["cut"]
    assert not cut, f"{page}: printed on A4, cut off:\n" + "\n".join(cut[:20])


def check_print_fills_its_pages(page, site):
    """No forced break, no unbreakable box taller than half a page; the PDF's pages are full."""
    result = printed(site, page)
    pages_of_text = result["height"] / PRINT_TEXT["height"]
    assert not result["breaks"], f"{page}: page breaks forced or likely at {result['breaks']}"
    if "pdf_pages" in result:  # the chapter printed to PDF
        assert result["pdf_pages"] <= PRINT_SLACK * pages_of_text + 1, (
            f"{page}: {result['pdf_pages']} A4 pages for {pages_of_text:.1f} pages of text"
        )


def check_print_reads_like_the_page(page, site):
    """The printed chapter has its numbered title, no screen-only hints, no stray contents."""
    result = printed(site, page)
    title = visited(site, page).layout["1280"]["title"]
    problems = [f"screen-only text: {m}" for m in sorted(set(SCREEN_ONLY.findall(result["text"])))]
    if title not in result["headings"]:
        problems.append(f"title {title!r} is not printed; headings: {result['headings'][:3]}")
    if "Contents" in result["headings"]:
        problems.append("a 'Contents' list is printed")
    assert not problems, f"{page}: the print differs from the page:\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------------
# A class per page: pytest-xdist (``--dist loadscope``) runs each page's checks on one worker,
# which visits that page once, and the pages are shared between the two workers.

EVERY_PAGE = (
    check_page_loads_cleanly,
    check_maths_is_typeset,
    check_figures_load_and_have_alt_text,
    check_links_and_cross_references_resolve,
    check_no_serious_accessibility_violation,
    check_figures_are_sharp,
    check_equations_and_code_fit_their_column_at_1280,
    check_equations_fit_on_a_phone,
    check_a_phone_never_pans_sideways,
    check_back_to_top_covers_no_text,
    check_citations_use_the_labels_of_the_bibliography,
)
CHAPTERS_ONLY = (
    check_print_keeps_every_line,
    check_print_fills_its_pages,
    check_print_reads_like_the_page,
)
NEEDS_AXE = {check_no_serious_accessibility_violation}


def _test_method(page, check):
    def test(self, site, request):
        if check in NEEDS_AXE:
            request.getfixturevalue("axe_source")  # skips, or fails in CI, without axe-core
        check(page, site)

    test.__name__ = check.__name__.replace("check_", "test_", 1)
    test.__doc__ = check.__doc__
    return test


def _page_class(page):
    checks = EVERY_PAGE + (CHAPTERS_ONLY if page in CHAPTERS else ())
    methods = {check.__name__.replace("check_", "test_", 1): _test_method(page, check)
               for check in checks}  # fmt: skip
    name = "TestPage_" + re.sub(r"\W", "_", page.removeprefix("book/"))
    attributes = {"__doc__": f"What a reader sees of {page}.", "page": page}
    return type(name, (), {**attributes, **methods})


for _page in PAGES:
    _class = _page_class(_page)
    globals()[_class.__name__] = _class
