"""The portability layer: every chapter, re-executed under emulated CPUs, prints what it stored.

The plain nbval run of ``make test`` proves that the stored outputs reproduce on this machine's
native CPU level. Here each chapter runs again under strict nbval in a fresh process whose
environment makes torch and numpy act as another CPU (``tests/cpu_configs.py``). A failure is
named by its configuration and cell, so a maintainer sees at once which CPU a printed value
depends on; ``CONTRIBUTING.md`` ("What a chapter may print") says how to fix it.

Run this layer alone with ``make portability``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, chapter_notebooks
from cpu_configs import emulated_configs

CONFIGS = emulated_configs()
NOTEBOOKS = chapter_notebooks()
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FAILED_CELL = re.compile(r"^FAILED \S+::(Cell \d+)", re.M)


def nbval_command(notebook) -> list[str]:
    """Strict nbval over one notebook, exactly as ``make test`` runs it, in this venv."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-o",
        "addopts=",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "-q",
        "--color=no",
        "-rf",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(ROOT / "tests" / "nbval_sanitize.cfg"),
        str(notebook.relative_to(ROOT)),
    ]


def _failure_report(output: str) -> str:
    """What a maintainer needs from nbval's output: each failing cell and its diff."""
    text = ANSI.sub("", output)
    start = text.find("= FAILURES =")
    end = text.find("short test summary info")
    body = text[start:end] if start >= 0 else text[-4000:]
    return body[:6000]


def check_on_emulated_cpu(config, notebook):
    if reason := config.same_as_native():
        pytest.skip(f"{config.name} = native on this CPU ({reason})")
    env = dict(os.environ, PYTHONHASHSEED="0", **config.env())
    result = subprocess.run(
        nbval_command(notebook),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        cells = FAILED_CELL.findall(ANSI.sub("", result.stdout)) or ["(no cell named)"]
        settings = " ".join(f"{k}={v!r}" for k, v in config.environment)
        pytest.fail(
            f"CPU configuration {config.name!r} ({config.description}; {settings}): "
            f"{notebook.name} prints something else in {', '.join(cells)}. A printed value "
            "depends on the CPU; see CONTRIBUTING.md, 'What a chapter may print'.\n\n"
            + _failure_report(result.stdout + result.stderr),
            pytrace=False,
        )


def _chapter_class(notebook):
    """A class per chapter: pytest-xdist (``--dist loadscope``) runs each on either core."""

    ids = [f"{c.name}-{notebook.stem}" for c in CONFIGS]  # -k "05-" selects a chapter

    @pytest.mark.parametrize("config", CONFIGS, ids=ids)
    def test_stored_outputs_reproduce(self, config):
        check_on_emulated_cpu(config, notebook)

    name = "TestChapter" + "".join(part.title() for part in notebook.stem.split("-"))
    methods = {"test_stored_outputs_reproduce": test_stored_outputs_reproduce}
    return type(name, (), {"notebook": notebook, **methods})


for _notebook in NOTEBOOKS:
    _class = _chapter_class(_notebook)
    globals()[_class.__name__] = _class
