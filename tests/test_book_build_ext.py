"""The build renders stored outputs only, and a stale stored output still fails the tests."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import nbformat
import yaml

from conftest import ROOT


def _load_extension(name="book_build"):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"book/_ext/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_build_executes_nothing():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["execute_notebooks"] == "off"


def test_nbval_fails_on_a_stale_stored_output(tmp_path):
    """A printed constant edited without re-executing: the stored output no longer matches.

    One nbval process over two copies (a pytest start costs seconds): the fresh one passes, the
    one whose code changed after its output was stored fails at that cell.
    """
    for name, code in (("fresh", "print(6 * 7)"), ("stale", "print(6 * 8)")):
        cell = nbformat.v4.new_code_cell(code, execution_count=1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
        notebook = nbformat.v4.new_notebook(cells=[cell])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(notebook, tmp_path / f"{name}.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-q", "-rfE", "--color=no", f"--rootdir={tmp_path}",
         "--nbval", "--nbval-current-env",
         "--nbval-sanitize-with", str(ROOT / "tests/nbval_sanitize.cfg"),
         "fresh.ipynb", "stale.ipynb"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+::Cell \d+)", result.stdout, re.M)
    assert failed == ["stale.ipynb::Cell 0"], result.stdout[-2000:]
    assert result.returncode == 1, result.stdout[-2000:]


def test_bibliography_entries_become_list_items():
    ext = _load_extension()
    body = '<div role="list" class="citation-list"><div role="doc-biblioentry" id="x">A</div></div>'
    fixed = ext.citations_as_list_items(body)
    assert 'role="doc-biblioentry"' not in fixed
    assert fixed.count('role="listitem"') == 1


def test_the_maths_stylesheet_lays_out_multi_line_displays():
    """Regression: the stylesheet pass typeset displays as inline maths, so it had no rules for
    tables, and every aligned or cases display was drawn on one line."""
    ext = _load_extension()
    display = r"\[\begin{aligned} a &= b \\ c &= d \end{aligned}\]"
    page = ext._as_maths_element(display) + ext._as_maths_element(r"\(x\)")
    typeset, css = ext.typeset_maths({"page.html": page}, {"tex": {}})
    assert "<mjx-mtable" in typeset["page.html"]
    assert "mjx-mtable" in css and "mjx-mtr" in css


def test_punctuation_after_inline_maths_stays_on_its_line():
    """Regression: a phone's column broke lines between a formula and its comma or full stop,
    so lines began with a stray ", with" or ". Then"."""
    ext = _load_extension()
    page = (
        '<p>so <span class="math notranslate nohighlight">\\(a\\)</span>, and '
        '<span class="math notranslate nohighlight">\\(b\\)</span> then '
        '(<span class="math notranslate nohighlight">\\(c\\)</span>).</p>'
    )
    typeset, _ = ext.typeset_maths({"page.html": page}, {"tex": {}})
    text = typeset["page.html"]
    pairs = re.findall(
        r'<span class="maths-nobreak">.*?</mjx-container></span>([^<]*)</span>', text
    )
    assert pairs == [",", ")."], text
    assert text.count("maths-nobreak") == 2  # b is followed by a space: nothing to keep


def test_reader_notebook_converts_a_role_split_over_two_lines():
    """Regression (e04b40b): MyST accepts a role whose text runs over a line break, and chapter
    3's {numref} so split reached the reader's notebook raw."""
    export = _load_extension("reader_export")
    labels = {
        "sec-mle-variance": export.Target("book/02-ml", "section", "2.4.1", "The variance"),
        "eq-ml-nll": export.Target("book/02-ml", "displaymath", "2.3", ""),
    }
    converter = export.Converter("book/03-nll", labels, {}, [], {"vw": r"\boldsymbol{w}"})
    source = (
        "As proved in {numref}`section\n%s <sec-mle-variance>`, and by\n"
        "{eq}`eq-ml-nll`, the weights $\\vw$\nstay.\n\n"
        "```python\n{numref}`kept <in-code>`\n```"
    )
    out = converter.markdown(source)
    assert "[section\n2.4.1](02-ml.ipynb#sec-mle-variance)" in out, out
    assert "[(2.3)](02-ml.ipynb#eq-ml-nll)" in out, out
    assert "$\\boldsymbol{w}$\nstay." in out, out
    assert "{numref}`kept <in-code>`" in out, "a code block is not prose"
