"""Shared fixtures: the repository layout and one build of the book per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
def built_site() -> Path:
    """Build the book once per session, warnings as errors, and return ``_build/html``.

    The build is incremental: it re-executes only chapters whose notebook changed, or all of
    them when ``src/nllkit`` or the pins changed (``book/_ext/book_build.py``). pytest does
    not cache a fixture that failed, so a failed build is remembered here and not repeated for
    every test that needs the site.
    """
    if _BUILD_FAILURE:
        pytest.fail(_BUILD_FAILURE[0], pytrace=False)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    env = dict(os.environ, PATH=f"{jupyter_book.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        _BUILD_FAILURE.append(
            f"jupyter-book build failed (exit {result.returncode}):\n"
            + _build_problems(result.stdout + result.stderr)
        )
        pytest.fail(_BUILD_FAILURE[0], pytrace=False)
    return HTML


# --------------------------------------------------------------------------------------------
# Running on both cores (pytest-xdist, ``--dist loadgroup``): which tests must share a worker.

#: Everything that needs the built book shares one worker, so the book is built once.
SITE_GROUP = "site"


def _group_of(item: pytest.Item) -> str | None:
    path = Path(str(item.path)).resolve()
    if path.suffix == ".ipynb":
        return f"nbval:{path.stem}"  # one kernel runs a notebook's cells in order
    if item.get_closest_marker("build") or item.get_closest_marker("browser"):
        return SITE_GROUP
    if path.name == "test_portability.py":
        return None  # each (configuration, chapter) is its own unit of work
    return f"module:{path.relative_to(ROOT)}"  # module-scoped fixtures are set up once


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Group tests for xdist, and start the longest units first so both cores stay busy."""
    for item in items:
        group = _group_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))

    def cost(item: pytest.Item) -> int:
        group = _group_of(item)
        if group == SITE_GROUP:
            return 0
        if group is None or group.startswith("nbval:"):
            return 1
        return 2

    items.sort(key=cost)  # stable: within a class, collection order is kept


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
