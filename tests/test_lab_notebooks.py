"""``make lab``'s copies (tools/lab_notebooks.py): the reader's notebooks, never over an edit."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import lab_notebooks


def _site(folder, **chapters):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in chapters.items():
        (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")
    return folder


def test_copies_new_chapters_and_updates_untouched_ones(tmp_path):
    site, mine = tmp_path / "site", tmp_path / "notebooks"
    _site(site, a="a1", b="b1")
    assert lab_notebooks.refresh(site, mine) == {"a.ipynb": "new", "b.ipynb": "new"}
    assert lab_notebooks.refresh(site, mine) == {"a.ipynb": "current", "b.ipynb": "current"}
    _site(site, a="a2")
    assert lab_notebooks.refresh(site, mine)["a.ipynb"] == "updated"
    assert (mine / "a.ipynb").read_text(encoding="utf-8") == "a2"


def test_never_overwrites_a_copy_the_learner_edited(tmp_path):
    site, mine = tmp_path / "site", tmp_path / "notebooks"
    _site(site, a="a1")
    lab_notebooks.refresh(site, mine)
    (mine / "a.ipynb").write_text("my experiment", encoding="utf-8")
    _site(site, a="a2")
    assert lab_notebooks.refresh(site, mine) == {"a.ipynb": "kept"}
    assert (mine / "a.ipynb").read_text(encoding="utf-8") == "my experiment"
    (mine / "a.ipynb").unlink()  # how the learner asks for the current chapter back
    assert lab_notebooks.refresh(site, mine) == {"a.ipynb": "new"}
    assert (mine / "a.ipynb").read_text(encoding="utf-8") == "a2"


def test_make_lab_opens_the_copies_and_lab_source_the_chapters():
    def recipe(target):
        run = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run.stdout

    lab = recipe("lab")
    assert "tools/lab_notebooks.py" in lab and "--ServerApp.root_dir=notebooks" in lab
    assert "--ServerApp.root_dir=book" in recipe("lab-source")
    assert "notebooks/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
