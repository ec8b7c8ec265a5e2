"""The portability layer: every chapter, re-executed under emulated CPUs, prints what it stored.

The plain nbval run of ``make test`` proves that the stored outputs reproduce on this machine's
native CPU level. Here every chapter runs again under strict nbval, a fresh kernel each, in one
process per configuration whose environment makes torch and numpy act as another CPU
(``tests/cpu_configs.py``). A failure is named by its configuration, chapter and cell, so a
maintainer sees at once which CPU a printed value depends on; ``CONTRIBUTING.md`` ("What a
chapter may print") says how to fix it.

Run this layer alone with ``make portability``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conftest import ROOT, chapter_notebooks
from cpu_configs import emulated_configs

CONFIGS = emulated_configs()
NOTEBOOKS = chapter_notebooks()
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def nbval_command(notebooks, junit) -> list[str]:
    """Strict nbval over the notebooks, one kernel each, exactly as ``make test`` runs them."""
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
        f"--junitxml={junit}",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(ROOT / "tests" / "nbval_sanitize.cfg"),
        *(str(notebook.relative_to(ROOT)) for notebook in notebooks),
    ]


def _failures_by_notebook(junit: Path, notebooks) -> dict[str, list[tuple[str, str]]]:
    """Each notebook's failing cells, with nbval's report of each: {file name: [(cell, text)]}."""
    # junit names a notebook's cells by its path with dots: book.05-sigmoid-….ipynb
    names = {str(nb.relative_to(ROOT)).replace(os.sep, "."): nb.name for nb in notebooks}
    failed: dict[str, list[tuple[str, str]]] = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        notebook = names.get(case.get("classname", ""), case.get("classname", ""))
        text = ANSI.sub("", problem.text or problem.get("message") or "")
        failed.setdefault(notebook, []).append((case.get("name", "(no cell named)"), text))
    return failed


@dataclass
class _Run:
    """One nbval process under one CPU configuration, over the notebooks this session selected."""

    notebooks: list[Path]
    returncode: int
    output: str
    failed: dict[str, list[tuple[str, str]]]


_RUNS: dict[str, _Run] = {}


def _run_under(config, notebooks, tmp_path_factory) -> _Run:
    """The configuration's one nbval process: a pytest start and its imports cost seconds, so
    a configuration runs every selected chapter in one process, a fresh kernel for each."""
    if config.name not in _RUNS:
        folder = tmp_path_factory.mktemp(f"nbval-{config.name}")
        junit = folder / "junit.xml"
        ipython = folder / "ipython"
        startup = ipython / "profile_default" / "startup"
        startup.mkdir(parents=True)
        shutil.copy(Path(__file__).with_name("portability_startup.py"), startup)
        env = dict(os.environ, PYTHONHASHSEED="0", IPYTHONDIR=str(ipython), **config.env())
        result = subprocess.run(
            nbval_command(notebooks, junit),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300 * len(notebooks),
        )
        failed = _failures_by_notebook(junit, notebooks) if junit.is_file() else {}
        output = result.stdout + result.stderr
        _RUNS[config.name] = _Run(notebooks, result.returncode, output, failed)
    return _RUNS[config.name]


def check_on_emulated_cpu(config, notebook, request):
    if reason := config.same_as_native():
        pytest.skip(f"{config.name} = native on this CPU ({reason})")
    selected = [
        item.callspec.params["notebook"]
        for item in request.session.items
        if getattr(item, "cls", None) is request.cls and hasattr(item, "callspec")
    ]
    run = _run_under(config, selected, request.getfixturevalue("tmp_path_factory"))
    cells = run.failed.get(notebook.name)
    if run.returncode != 0 and not run.failed:  # nbval failed, but no cell says where
        pytest.fail(
            f"CPU configuration {config.name!r}: nbval exited with {run.returncode}:\n"
            + ANSI.sub("", run.output)[-4000:],
            pytrace=False,
        )
    if cells:
        settings = " ".join(f"{k}={v!r}" for k, v in config.environment)
        names = ", ".join(cell for cell, _ in cells)
        pytest.fail(
            f"CPU configuration {config.name!r} ({config.description}; {settings}): "
            f"{notebook.name} prints something else in {names}. A printed value "
            "depends on the CPU; see CONTRIBUTING.md, 'What a chapter may print'.\n\n"
            + "\n\n".join(f"{cell}:\n{text}" for cell, text in cells)[:6000],
            pytrace=False,
        )


def _config_class(config):
    """A class per configuration: one unit of work for pytest-xdist (``--dist loadscope``)."""

    ids = [f"{config.name}-{notebook.stem}" for notebook in NOTEBOOKS]  # -k "05-": a chapter

    @pytest.mark.parametrize("notebook", NOTEBOOKS, ids=ids)
    def test_stored_outputs_reproduce(self, notebook, request):
        check_on_emulated_cpu(config, notebook, request)

    name = "TestOnCpu" + config.name.title()
    methods = {"test_stored_outputs_reproduce": test_stored_outputs_reproduce}
    return type(name, (), {"cpu_config": config, **methods})


for _config in CONFIGS:
    _class = _config_class(_config)
    globals()[_class.__name__] = _class
