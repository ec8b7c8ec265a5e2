"""The build extension re-executes every chapter when the library changes, and only then."""

from __future__ import annotations

import importlib.util
import shutil
from types import SimpleNamespace

from conftest import ROOT


def _load_extension():
    spec = importlib.util.spec_from_file_location("book_build", ROOT / "book/_ext/book_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_env():
    docs = {"book/preface": "book/preface.md", "book/01-x": "book/01-x.ipynb"}
    return SimpleNamespace(found_docs=set(docs), doc2path=lambda doc, base=False: docs[doc])


def test_fingerprint_changes_with_the_library(tmp_path):
    ext = _load_extension()
    shutil.copytree(ROOT / "src", tmp_path / "src")
    for name in ("requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    before = ext.library_fingerprint(tmp_path)
    assert ext.library_fingerprint(tmp_path) == before
    with open(tmp_path / "src/nllkit/plotting.py", "a") as handle:
        handle.write("\n# a change\n")
    assert ext.library_fingerprint(tmp_path) != before


def test_notebooks_are_outdated_only_after_a_change(monkeypatch):
    ext = _load_extension()
    env = _fake_env()
    monkeypatch.setattr(ext, "library_fingerprint", lambda root=None: "first")
    assert ext._outdated_when_library_changes(None, env, set(), set(), set()) == []
    assert ext._outdated_when_library_changes(None, env, set(), set(), set()) == []
    monkeypatch.setattr(ext, "library_fingerprint", lambda root=None: "second")
    assert ext._outdated_when_library_changes(None, env, set(), set(), set()) == ["book/01-x"]
    assert ext._outdated_when_library_changes(None, env, set(), set(), set()) == []


def test_bibliography_entries_become_list_items():
    ext = _load_extension()
    body = '<div role="list" class="citation-list"><div role="doc-biblioentry" id="x">A</div></div>'
    fixed = ext.citations_as_list_items(body)
    assert 'role="doc-biblioentry"' not in fixed
    assert fixed.count('role="listitem"') == 1
