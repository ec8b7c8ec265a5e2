"""The learner's copies that ``make lab`` opens: each chapter's reader's notebook in notebooks/.

Usage: python tools/lab_notebooks.py [--no-build]

The chapters in book/ are MyST notebooks: plain JupyterLab shows their theorem, proof and
exercise directives as raw fences and cannot expand the book's maths macros. The reader's
notebooks the HTML build writes (book/_ext/reader_export.py, the site's download button) read
well in Lab, so ``make lab`` builds the site (incrementally, from the stored outputs) and copies
them into ``notebooks/``, a folder of the learner's own that git ignores.

A copy the learner has edited is never overwritten: ``notebooks/.copied.json`` records the hash
of what was copied, and only a file that still has that hash (untouched since) is replaced by a
newer version of its chapter. Delete a file to get the book's current version back. Authors who
edit the chapters themselves open book/ with ``make lab-source``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "_build" / "html" / "_sources" / "book"
TARGET = ROOT / "notebooks"
RECORD = ".copied.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refresh(sources: Path, target: Path, names: list[str] | None = None) -> dict[str, str]:
    """Copy each reader's notebook of ``sources`` into ``target`` unless the learner edited it.

    Returns what happened to each file name: "new", "updated", "current" or "kept" (edited by
    the learner, so left as it is).
    """
    target.mkdir(parents=True, exist_ok=True)
    record_path = target / RECORD
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    notebooks = sorted(sources.glob("*.ipynb"))
    if names is not None:
        notebooks = [nb for nb in notebooks if nb.name in names]
    if not notebooks:
        raise SystemExit(f"lab_notebooks: no reader's notebooks in {sources}; build the book")
    outcome: dict[str, str] = {}
    for notebook in notebooks:
        copy = target / notebook.name
        fresh = _digest(notebook)
        if not copy.exists():
            outcome[notebook.name] = "new"
        elif _digest(copy) == fresh:
            outcome[notebook.name] = "current"
        elif _digest(copy) == record.get(notebook.name):
            outcome[notebook.name] = "updated"
        else:
            outcome[notebook.name] = "kept"
            continue
        if outcome[notebook.name] != "current":
            shutil.copyfile(notebook, copy)
        record[notebook.name] = fresh
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="use the site as it is")
    args = parser.parse_args()
    if not args.no_build:
        build = [Path(sys.executable).with_name("jupyter-book"), "build", ".", "-W", "-n",
                 "--keep-going", "-q"]  # fmt: skip
        subprocess.run(build, cwd=ROOT, check=True)
    outcome = refresh(SOURCES, TARGET)
    kept = [name for name, what in outcome.items() if what == "kept"]
    changed = sum(what in {"new", "updated"} for what in outcome.values())
    print(f"notebooks/: {len(outcome)} chapters, {changed} copied from the book")
    for name in kept:
        print(f"  kept your edited {name}; delete it to get the book's current version")


if __name__ == "__main__":
    main()
