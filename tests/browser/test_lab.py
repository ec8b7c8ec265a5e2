"""JupyterLab itself, the learner's client: a reader's notebook opened, run and read in it.

JupyterLab (the venv's, as ``make lab`` starts it) serves a temporary folder that holds one
chapter's reader's notebook (the site's download, copied by ``make lab``'s own tool), on a
loopback port with a token; Debian's Chromium opens the notebook, runs all cells and reads
what Lab shows: no error output, and every formula typeset by Lab's own MathJax with the
book's macros, which only the notebook's first cell defines. Lab's settings and workspaces
live in the temporary folder too.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

from .conftest import _free_port, _stop
from .support import is_local

sys.path.insert(0, str(ROOT / "tools"))
import lab_notebooks

pytestmark = [pytest.mark.browser, pytest.mark.export]

CHAPTER = "book/04-cross-entropy-kl"

# Lab's settings for the run: every cell in the page (no windowing, so every formula is in the
# DOM to be read), and no news or update checks (they would go to the web).
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# Waits for Lab and the kernel, runs every cell, and reports what the notebook holds.
RUN_ALL_JS = """async () => {
    const app = window.jupyterapp;
    await app.started;
    await app.restored;
    let panel = null;
    for (let i = 0; i < 600 && !(panel && panel.content && panel.sessionContext); i++) {
        panel = app.shell.currentWidget;
        await new Promise(r => setTimeout(r, 100));
    }
    await panel.context.ready;
    await panel.sessionContext.ready;
    for (let i = 0; i < 600 && !panel.sessionContext.session?.kernel; i++) {
        await new Promise(r => setTimeout(r, 100));
    }
    const ran = await app.commands.execute("notebook:run-all-cells");
    const cells = panel.content.widgets;
    const code = cells.filter(c => c.model.type === "code");
    const errors = [];
    for (const cell of code) {
        for (const output of cell.model.outputs.toJSON()) {
            if (output.output_type === "error") errors.push(`${output.ename}: ${output.evalue}`);
        }
    }
    return {ran, cells: cells.length, code: code.length,
            executed: code.filter(c => c.model.executionCount !== null).length, errors};
}"""

# Every rendered Markdown cell: its formulas, MathJax errors, red (undefined) macros, and TeX
# left in the text outside the formulas.
MATHS_JS = """() => {
    const out = {formulas: 0, errors: [], undefinedMacros: [], rawTex: []};
    for (const md of document.querySelectorAll(".jp-MarkdownCell .jp-RenderedMarkdown")) {
        const formulas = md.querySelectorAll("mjx-container");
        out.formulas += formulas.length;
        for (const f of formulas) {
            const tex = f.querySelector("mjx-assistive-mml")?.textContent || f.textContent;
            if (f.querySelector("mjx-merror")) out.errors.push(f.textContent.slice(0, 80));
            for (const el of f.querySelectorAll("*")) {
                if (getComputedStyle(el).color === "rgb(255, 0, 0)"
                        && el.textContent.startsWith("\\\\")) {
                    out.undefinedMacros.push(el.textContent);
                }
            }
        }
        const copy = md.cloneNode(true);
        copy.querySelectorAll("mjx-container, code, pre").forEach(el => el.remove());
        const raw = copy.textContent.match(/\\$[^$]*\\\\[A-Za-z]+|\\\\[A-Za-z]+\\{/g);
        if (raw) out.rawTex.push(...raw.map(s => s.slice(0, 60)));
    }
    return out;
}"""


def _wait_until_serving(server: subprocess.Popen, url: str) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    return False


def start_lab(folder: Path) -> tuple[subprocess.Popen, str, str]:
    """JupyterLab on ``folder`` at 127.0.0.1, with a fresh token; (server, base URL, token)."""
    settings, state = folder / ".lab-settings", folder / ".lab-state"
    for name, values in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    token, port = secrets.token_hex(16), _free_port()
    lab = Path(sys.executable).with_name("jupyter-lab")
    command = [
        str(lab), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={state / 'workspaces'}", "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
    ]  # fmt: skip
    if os.geteuid() == 0:  # as `make lab` does on root-run machines
        command.append("--allow-root")
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(state / "config"),
        JUPYTER_DATA_DIR=str(state / "data"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
    )
    env["PATH"] = f"{lab.parent}{os.pathsep}{env.get('PATH', '')}"
    log = (folder / ".lab.log").open("w")
    server = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}/"
    if not _wait_until_serving(server, f"{base}api/status?token={token}"):
        _stop(server)
        pytest.fail(f"JupyterLab did not start:\n{(folder / '.lab.log').read_text()[-3000:]}")
    return server, base, token


def run_in_lab(browser, notebook: Path, folder: Path) -> tuple[dict, dict, list[str]]:
    """Open ``notebook`` (copied into ``folder`` as ``make lab`` copies it) in Lab, run all
    cells, read the maths."""
    assert lab_notebooks.refresh(notebook.parent, folder, [notebook.name]) == {notebook.name: "new"}
    server, base, token = start_lab(folder)
    blocked: list[str] = []
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", lambda route: route.continue_() if is_local(route.request.url)
                      else (blocked.append(route.request.url), route.abort()))  # fmt: skip
        page = context.new_page()
        page.goto(f"{base}lab/tree/{notebook.name}?token={token}", timeout=120_000)
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=120_000)
        page.set_default_timeout(300_000)
        run = page.evaluate(RUN_ALL_JS)
        # Lab typesets each Markdown cell as it renders it: wait until the count settles.
        maths, before = {}, -1
        for _ in range(60):
            maths = page.evaluate(MATHS_JS)
            if maths["formulas"] == before and before > 0:
                break
            before = maths["formulas"]
            page.wait_for_timeout(500)
        context.close()
    finally:
        _stop(server)
    return run, maths, blocked


def test_a_chapter_runs_and_reads_in_jupyterlab(browser, built_site, tmp_path):
    notebook = built_site / "_sources" / f"{CHAPTER}.ipynb"
    run, maths, blocked = run_in_lab(browser, notebook, tmp_path)
    assert run["ran"] is True and run["executed"] == run["code"] > 5, run
    assert not run["errors"], f"error outputs in JupyterLab: {run['errors']}"
    assert maths["formulas"] > 50, maths
    assert not maths["errors"], f"MathJax errors in JupyterLab: {maths['errors'][:5]}"
    assert not maths["undefinedMacros"], (
        f"undefined macros: {sorted(set(maths['undefinedMacros']))}"
    )
    assert not maths["rawTex"], f"TeX not typeset: {maths['rawTex'][:5]}"
    assert not blocked, f"JupyterLab tried to reach the web: {blocked[:5]}"
