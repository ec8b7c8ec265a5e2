"""Shared fixtures: the repository layout and one build of the book per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from filelock import FileLock
from hypothesis import settings

# Property tests: the same examples on every run (a failure in CI reproduces), and no deadline
# (the 200 ms default failed at random on a loaded 2-core machine and in the mutation runs).
settings.register_profile("book", deadline=None, derandomize=True)
settings.load_profile("book")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
HTML = ROOT / "_build" / "html"


def chapter_notebooks() -> list[Path]:
    """Every notebook of the book, in file-name order."""
    return sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


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


_BUILD_FAILURE: list[str] = []


def _build_problems(output: str) -> str:
    """The part of a failed build's log a reader needs: warnings and the failing cell."""
    lines = output.splitlines()
    problems = [
        line
        for line in lines
        if ("WARNING" in line or "ERROR" in line) and "IPKernelApp" not in line
    ]
    for index, line in enumerate(lines):
        if "An error occurred while executing the following cell" in line:
            problems += lines[index : index + 40]
            break
    return "\n".join(problems or lines[-60:])


@pytest.fixture(scope="session")
def built_site(request) -> Path:
    """Build the book once per session, warnings as errors, and return ``_build/html``.

    The build renders the stored outputs and executes nothing; it is incremental. pytest does
    not cache a fixture that failed, so a failed build is remembered here and not repeated for
    every test that needs the site.
    """
    if _BUILD_FAILURE:
        pytest.fail(_BUILD_FAILURE[0], pytrace=False)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    env = dict(os.environ, PATH=f"{jupyter_book.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    HTML.parent.mkdir(parents=True, exist_ok=True)
    # Workers that need the site build it one at a time. The first builds and marks the build
    # with the run's id (pytest-xdist's testrunuid); the second finds the mark and takes that
    # build rather than checking it again (a no-change build costs seconds the tests need).
    run_id = getattr(request.config, "workerinput", {}).get("testrunuid")
    marker = HTML.parent / f".built-{run_id}" if run_id else None
    with FileLock(HTML.parent / ".build.lock"):
        if marker is not None and marker.is_file():
            return HTML
        result = subprocess.run(
            [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0 and marker is not None:
            for old in HTML.parent.glob(".built-*"):
                old.unlink(missing_ok=True)
            marker.touch()
    if result.returncode != 0:
        _BUILD_FAILURE.append(
            f"jupyter-book build failed (exit {result.returncode}):\n"
            + _build_problems(result.stdout + result.stderr)
        )
        pytest.fail(_BUILD_FAILURE[0], pytrace=False)
    return HTML


# --------------------------------------------------------------------------------------------
# Running on both cores (pytest-xdist, ``--dist loadscope``): a module, or a class, is a unit of
# work that one worker runs in order. A notebook is a module, so one kernel runs its cells in
# order; each chapter of the portability layer is a class of its own.


# The units in the order they start (``--no-loadscope-reorder`` keeps it: by default xdist
# starts the units with the most tests first). The build first, on one worker, while the other
# starts on the chapters under emulated CPUs; then the longest units, so that both cores stay
# busy to the end. A unit's length is estimated by its tier and, within a tier, by the size of
# its notebook.
_LONG_MODULES = {"test_site.py", "test_api_reference.py"}  # half a minute each


def _cost(item: pytest.Item) -> tuple[int, int]:
    path = Path(str(item.path))
    cls = getattr(item, "cls", None)  # nbval's cells have none
    page, notebook = getattr(cls, "page", None), None
    if path.name == "test_build.py":
        return 0, 0
    if getattr(cls, "cpu_config", None) is not None:  # every chapter under an emulated CPU
        return 1, 0
    if path.suffix == ".ipynb":
        tier, notebook = 3, path
    elif page is not None and (ROOT / f"{page}.ipynb").is_file():  # a chapter's page
        tier, notebook = 2, ROOT / f"{page}.ipynb"
    elif path.name in _LONG_MODULES:
        return 2, -(10**9)
    elif item.get_closest_marker("build") or item.get_closest_marker("browser"):
        tier = 4
    else:
        tier = 5
    return tier, -(notebook.stat().st_size if notebook is not None else 0)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_cost)  # stable: within a module or class, collection order is kept


def pytest_terminal_summary(terminalreporter):
    """Name, per CPU configuration, the chapters whose stored outputs did not reproduce."""
    failed = terminalreporter.stats.get("failed", [])
    by_config: dict[str, list[str]] = {}
    for report in failed:
        nodeid = report.nodeid.split("@")[0]
        if nodeid.startswith("book/"):
            by_config.setdefault("native", []).append(nodeid.removeprefix("book/"))
        elif "test_portability.py::" in nodeid:
            params = nodeid[nodeid.find("[") + 1 : nodeid.rfind("]")]
            config, _, chapter = params.partition("-")
            by_config.setdefault(config, []).append(chapter)
    if by_config:
        terminalreporter.write_sep("=", "stored outputs that did not reproduce, by CPU")
        for config, where in by_config.items():
            terminalreporter.write_line(f"{config}: {', '.join(where)}", red=True)
