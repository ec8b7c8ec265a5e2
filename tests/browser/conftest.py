"""The built book as a reader sees it: served like ``make serve``, opened in headless Chromium.

One Chromium per session (Debian's ``chromium``, never a downloaded browser), a fresh context
per test. Every request to an origin other than the local server is blocked and counted, so a
page that would fetch anything from the web fails instead of silently reaching out.

Missing pieces are loud: without chromium or axe-core the tests skip with the command that
installs them, and under CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NoReturn

import pytest
from filelock import FileLock

from .support import AXE, CHROMIUM, CHROMIUM_ARGS, IN_CI, ROOT, SCREENSHOTS, Site, new_tab

_missing: list[str] = []


def missing(what: str, install: str, tests: str = "the browser tests") -> NoReturn:
    """Skip loudly (locally) or fail (under CI) because a piece the browser tests need is absent."""
    message = f"{what}: {tests} did NOT run. Install it with: {install}"
    _missing.append(message)
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def pytest_terminal_summary(terminalreporter):
    """Repeat a missing-piece message at the very end of the run, where nobody can miss it."""
    for message in dict.fromkeys(_missing):
        terminalreporter.write_sep("!", "BROWSER TESTS SKIPPED", red=True, bold=True)
        terminalreporter.write_line(message, red=True, bold=True)


# --------------------------------------------------------------------------------------------
# The server: what `make serve` runs, on a free port.


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_command(html: Path, port: int) -> list[str]:
    if html.resolve() == (ROOT / "_build" / "html").resolve() and shutil.which("make"):
        # The reader's own command, so these tests also prove that `make serve` works.
        return ["make", "--no-print-directory", "-s", "-C", str(ROOT), "serve", f"PORT={port}"]
    server = ("-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(html))
    return [sys.executable, *server]


def _stop(server: subprocess.Popen) -> None:
    """End the server's process group (make and the python it started), which we created."""
    if server.poll() is None:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()


def _wait_until_serving(server: subprocess.Popen, base: str) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(base + "index.html", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def site_url(built_site: Path, tmp_path_factory):
    """Base URL (ending in ``/``) of the built book, served on 127.0.0.1 like `make serve`."""
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    for _attempt in range(3):
        port = _free_port()
        base = f"http://127.0.0.1:{port}/"
        with log_path.open("w") as log:
            server = subprocess.Popen(
                _serve_command(built_site, port),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if _wait_until_serving(server, base):
            try:
                yield base
            finally:
                _stop(server)
            return
        _stop(server)  # the port was taken in between, or the server did not start: retry
    pytest.fail(f"could not serve {built_site} on 127.0.0.1:\n{log_path.read_text()}")


# --------------------------------------------------------------------------------------------
# The browser and axe-core.


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium (fresh temporary profile) for the whole session."""
    if not CHROMIUM.is_file():
        missing(f"Chromium not found at {CHROMIUM}", "apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright for Python is not installed", "make install")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _axe_problem() -> tuple[str, str] | None:
    """Why axe-core cannot be used, and the command that fixes it; ``None`` if it can."""
    if not AXE.is_file():
        return f"axe-core not found at {AXE.relative_to(ROOT)}", "npm ci"
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/axe-core"]["version"]
    installed = json.loads((AXE.parent / "package.json").read_text(encoding="utf-8"))["version"]
    if installed != pinned:
        return f"axe-core {installed} is installed but package-lock.json pins {pinned}", "npm ci"
    return None


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, in the version that package-lock.json pins (skip or fail without)."""
    problem = _axe_problem()
    if problem is not None:
        missing(*problem, tests="the accessibility (axe-core) tests")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def tab(browser, site_url):
    """A fresh browser context and page for one test."""
    context, tab = new_tab(browser, site_url)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="session")
def site(browser, site_url, built_site) -> Site:
    """Each page visited once per session (fresh context), with screenshots and axe-core."""
    # Only this run's pages: cleared once per run, not by every xdist worker that visits pages
    # (a second worker would delete the first one's screenshots).
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "single process")
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(SCREENSHOTS.parent / ".screenshots.lock"):
        stamp = SCREENSHOTS / ".run"
        if not (stamp.exists() and stamp.read_text() == run):
            if SCREENSHOTS.exists():
                shutil.rmtree(SCREENSHOTS)
            SCREENSHOTS.mkdir(parents=True)
            stamp.write_text(run)
    axe = AXE.read_text(encoding="utf-8") if _axe_problem() is None else None
    return Site(browser, site_url, built_site, SCREENSHOTS, axe)
