"""Take the book with you (issue 18): the whole-book PDF and the reader's notebooks.

The PDF is built and printed once per session (``tools/make_pdf.py``, after the session's HTML
build, sharing its doctrees) and read back with poppler's ``pdftotext``. The reader's notebook
of one short chapter is executed from a temporary folder outside the repository, in a fresh
kernel. JupyterLab itself is driven in ``tests/browser/test_lab.py``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from filelock import FileLock
from nbclient import NotebookClient

from conftest import HTML, ROOT, toc_pages

sys.path.insert(0, str(ROOT / "tools"))
import make_pdf

pytestmark = [pytest.mark.build, pytest.mark.export]

PDF = ROOT / "_build" / "pdf" / "book.pdf"
# The chapter whose reader's notebook is executed: short, with theorems, exercises, a figure.
CHAPTER = "book/04-cross-entropy-kl"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

# What no reader's notebook may contain: MyST directive fences, roles and target labels.
RAW_MYST = re.compile(r"^\s*(?:`{3,}|:{3,})\{[^}]*\}|\{[\w:-]+\}`[^`]*`|^\([^)\s]+\)=\s*$", re.M)


def _missing(message: str):
    """Skip loudly, or fail under CI (CI=true), where every piece must be installed."""
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        _missing(f"{tool} (poppler-utils) is missing: apt-get install -y poppler-utils")
    return path


@pytest.fixture(scope="session")
def book_pdf(built_site) -> Path:
    """``make pdf``'s work, once per session: the single page (incremental, the HTML build's
    doctrees) under the build lock, then Chromium's print."""
    if not make_pdf.CHROMIUM.is_file():
        _missing(f"Chromium not found at {make_pdf.CHROMIUM}: apt-get install -y chromium")
    with FileLock(HTML.parent / ".build.lock"):
        single = make_pdf.build_single_page(ROOT)
    with FileLock(HTML.parent / ".pdf.lock"):
        return make_pdf.print_pdf(single, PDF)


@pytest.fixture(scope="session")
def pdf_text(book_pdf) -> str:
    result = subprocess.run([_poppler("pdftotext"), "-layout", str(book_pdf), "-"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stdout


def _site_pages(built_site: Path) -> dict[str, str]:
    return {page: (built_site / f"{page}.html").read_text(encoding="utf-8") for page in toc_pages()}


def _flat(text: str) -> str:
    return " ".join(text.split())


H1 = re.compile(r'<h1>((?:(?!</h1>).)*?)<a class="headerlink"', re.DOTALL)
CAPTION_NUMBER = re.compile(r'<span class="caption-number">([^<]+?)\s*</span>')
BOX_NUMBER = re.compile(r"^[\s\ue000-\uf8ff]*((?:[A-Z][a-z]+|Fig\.) \d+(?:\.\d+)*)\b", re.M)
EQNO = re.compile(r'<span class="eqno">\((\d+(?:\.\d+)*)\)')


def test_pdf_has_every_chapter_title(built_site, pdf_text):
    flat = _flat(pdf_text)
    missing = []
    for page, text in _site_pages(built_site).items():
        title = H1.search(text)
        assert title, f"{page}: no title in the site's page"
        shown = _flat(html.unescape(re.sub(r"<[^>]+>", "", title.group(1))))
        if shown not in flat:
            missing.append(shown)
    assert not missing, f"chapter titles missing from the PDF: {missing}"


def test_pdf_numbers_what_the_site_numbers(built_site, pdf_text):
    """Every equation, theorem-like box, exercise and figure number of the site, in the PDF:
    an equation number ends a line (it is set beside its display), a box's or a caption's
    number starts one."""
    equations, captions = set(), set()
    for text in _site_pages(built_site).values():
        equations.update(EQNO.findall(text))
        captions.update(_flat(c) for c in CAPTION_NUMBER.findall(text))
    assert len(equations) > 50 and len(captions) > 100, "the site numbers too little"
    ends = set(re.findall(r"\((\d+(?:\.\d+)*)\)\s*$", pdf_text, re.M))
    # A box's title may start with its icon (a private-use character of the icon font).
    starts = {_flat(m) for m in BOX_NUMBER.findall(pdf_text)}
    assert not equations - ends, f"equation numbers not in the PDF: {sorted(equations - ends)}"
    assert not captions - starts, f"numbered items not in the PDF: {sorted(captions - starts)}"


TEX_WORD = re.compile(r"\\[A-Za-z]+")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)


def _literal_tex() -> set[str]:
    """TeX words that the book shows as code: code cells and what they print (matplotlib
    labels such as r"$\\phi$"), and code spans of the text (the notation appendix's macro
    names)."""
    tokens = set()
    for path in sorted((ROOT / "book").rglob("*.ipynb")) + sorted((ROOT / "book").rglob("*.md")):
        if path.suffix == ".md":
            cells = [nbformat.v4.new_markdown_cell(path.read_text(encoding="utf-8"))]
        else:
            cells = nbformat.read(path, as_version=4).cells
        for cell in cells:
            if cell.cell_type == "code":
                tokens.update(TEX_WORD.findall(cell.source))
                for output in cell.get("outputs", []):
                    tokens.update(TEX_WORD.findall(str(output.get("text", ""))))
            else:
                for span in CODE_SPAN.finditer(cell.source):
                    tokens.update(TEX_WORD.findall(span.group(2)))
    return tokens


def test_pdf_has_no_undefined_macro(pdf_text):
    """MathJax writes an undefined macro as its name in red: no TeX word may reach the text,
    except those that the book shows as code."""
    stray = set(TEX_WORD.findall(pdf_text)) - _literal_tex()
    assert not stray, f"TeX left in the PDF (undefined macros?): {sorted(stray)[:20]}"


WORD = re.compile(r'<page width="([\d.]+)" height="[\d.]+">|<word xMin="([\d.]+)" yMin="[\d.]+" '
                  r'xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>')  # fmt: skip


def test_pdf_cuts_nothing_at_the_margin(book_pdf):
    """Every word lies inside the page's 16 mm side margins (``reader_pdf.py``'s @page), with
    1 pt of slack: a code line, output or equation that ran past the text column would not."""
    result = subprocess.run([_poppler("pdftotext"), "-bbox", str(book_pdf), "-"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    margin = 16 / 25.4 * 72
    width, page, outside = 0.0, 0, []
    for match in WORD.finditer(result.stdout):
        if match.group(1):
            width, page = float(match.group(1)), page + 1
            continue
        left, right = float(match.group(2)), float(match.group(3))
        if left < margin - 1 or right > width - margin + 1:
            outside.append(
                f"page {page}: {html.unescape(match.group(4))!r} at {left:.0f}-{right:.0f} pt"
            )
    assert not outside, f"{len(outside)} words outside the text column:\n" + "\n".join(outside[:15])
    assert page > 100, f"the PDF has only {page} pages"


SECTION_HEADING = re.compile(r"^\s*\d+(?:\.\d+)+\.\s+\S")


def test_pdf_leaves_no_heading_at_the_foot_of_a_page(pdf_text):
    """A section heading is never the last line of a page (its page number aside): it would
    be cut from its section, or split in two when it runs over two lines."""
    stranded = []
    for number, text in enumerate(pdf_text.split("\f"), start=1):
        lines = [line for line in text.splitlines() if line.strip()]
        if lines and re.fullmatch(r"\s*\d+\s*", lines[-1]):
            lines.pop()
        if lines and SECTION_HEADING.match(lines[-1]):
            stranded.append(f"page {number}: {lines[-1].strip()!r}")
    assert not stranded, "headings at the foot of a page:\n" + "\n".join(stranded)


def test_pdf_has_a_linked_table_of_contents(book_pdf):
    """Bookmarks for the headings, and the contents page's entries link into the document."""
    data = book_pdf.read_bytes()
    assert b"/Outlines" in data, "the PDF has no bookmarks"
    internal = len(re.findall(rb"/Dest\b", data))
    assert internal > 100, f"only {internal} internal links in the PDF"


# --------------------------------------------------------------------------------------------
# The reader's notebook.


MACROS = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]["config"][
    "mathjax3_config"
]["tex"]["macros"]
MACRO_USE = re.compile(r"\\(" + "|".join(map(re.escape, MACROS)) + r")(?![A-Za-z])")


@pytest.fixture(scope="session")
def reader_notebook(built_site) -> Path:
    return built_site / "_sources" / f"{CHAPTER}.ipynb"


def test_every_reader_notebook_is_plain_markdown(built_site):
    """No directive fence, role or label in any chapter's download; the macros are defined."""
    for page in toc_pages():
        if not (ROOT / f"{page}.ipynb").is_file():
            continue
        notebook = nbformat.read(built_site / "_sources" / f"{page}.ipynb", as_version=4)
        nbformat.validate(notebook)
        raw = [m.group(0) for cell in notebook.cells if cell.cell_type == "markdown"
               for m in RAW_MYST.finditer(cell.source)]  # fmt: skip
        assert not raw, f"{page}: raw MyST in the reader's notebook: {raw[:5]}"
        first = notebook.cells[0].source
        assert "pip install" in notebook.cells[1].source and "nllkit" in first, page
        assert "\\newcommand{\\vw}{\\boldsymbol{w}}" in first, f"{page}: the macros are not defined"
        # Headings carry the site's section numbers (the closing list of works has none there).
        headings = [line for cell in notebook.cells if cell.cell_type == "markdown"
                    for line in cell.source.splitlines() if re.match(r"#{1,3} ", line)]  # fmt: skip
        unnumbered = [h for h in headings if not re.match(r"#+ \d", h) and h != "## References"]
        assert not unnumbered, f"{page}: headings without the site's number: {unnumbered}"
        # Formulas are written without the book's macros, so they read in any client.
        used = {m for cell in notebook.cells[1:] if cell.cell_type == "markdown"
                for m in MACRO_USE.findall(CODE_SPAN.sub("", cell.source))}  # fmt: skip
        assert not used, f"{page}: formulas still use the book's macros {sorted(used)}"
        source = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
        code = [c.source for c in source.cells if c.cell_type == "code"]
        assert [c.source for c in notebook.cells[2:] if c.cell_type == "code"] == code, page


def test_reader_notebook_runs_outside_the_repository(reader_notebook, tmp_path):
    """The download, alone in a temporary folder, holds no raw MyST, runs top to bottom in a
    fresh kernel, and prints what the book stores (its prints are portable)."""
    assert not tmp_path.resolve().is_relative_to(ROOT)
    copy = tmp_path / reader_notebook.name
    shutil.copyfile(reader_notebook, copy)
    notebook = nbformat.read(copy, as_version=4)
    raw = [m.group(0) for cell in notebook.cells if cell.cell_type == "markdown"
           for m in RAW_MYST.finditer(cell.source)]  # fmt: skip
    assert not raw, f"{CHAPTER}: raw MyST in the reader's notebook: {raw[:5]}"
    stored = [[o for o in c.outputs if o.output_type == "stream"] for c in notebook.cells
              if c.cell_type == "code"]  # fmt: skip
    NotebookClient(notebook, kernel_name="python3", timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    errors = [f"{o.ename}: {o.evalue}" for c in notebook.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]  # fmt: skip
    assert not errors, f"{CHAPTER}: the reader's notebook fails: {errors}"
    ran = [[o for o in c.outputs if o.output_type == "stream"] for c in notebook.cells
           if c.cell_type == "code"]  # fmt: skip

    def text(streams):
        return "".join(o.text for o in streams)

    differs = [i for i, (a, b) in enumerate(zip(stored, ran, strict=True)) if text(a) != text(b)]
    assert not differs, f"code cells {differs} printed something else than the book stores"


def test_the_site_ships_a_wheel_of_nllkit_that_installs(built_site, tmp_path):
    """The wheel the first cell names installs on its own and imports its own copy."""
    wheels = sorted((built_site / "_downloads").glob("nllkit-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
    assert "nllkit/__init__.py" in names and any(n.endswith("METADATA") for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--target", str(target), str(wheels[0])],
                   check=True)  # fmt: skip
    check = "import nllkit, sys; print(nllkit.__file__)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                            env={"PYTHONPATH": str(target), "PATH": ""}, cwd=tmp_path,
                            check=True)  # fmt: skip
    assert Path(result.stdout.strip()).is_relative_to(target), result.stdout
    first = nbformat.read(built_site / "_sources" / f"{CHAPTER}.ipynb", as_version=4).cells[0]
    assert wheels[0].name in first.source
