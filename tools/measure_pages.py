"""What overflows on a built page: display equations and code wider than their column.

Usage: python tools/measure_pages.py [--html DIR] PAGE [PAGE ...]
       (PAGE as in _toc.yml, e.g. book/05-sigmoid-logistic-regression; DIR: _build/html)

Opens each page in Debian's headless Chromium at 1280 px and 390 px and prints every display
equation, code cell and output whose content is wider than the box that holds it. A writer's
tool for fixing a chapter; the browser tests make the same measurement
(MEASURE_JS, imported from tests/browser/support.py).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import socketserver
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (1280, 390)

# One copy of the measurement, shared with the browser tests (tests/browser/support.py).
sys.path.insert(0, str(ROOT / "tests"))
from browser.support import MEASURE_JS  # noqa: E402


def _serve(directory: Path) -> tuple[socketserver.TCPServer, int]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = socketserver.TCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("pages", nargs="+")
    args = parser.parse_args(argv)
    server, port = _serve(args.html)
    problems = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for width in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": 900})
            for name in args.pages:
                page.goto(f"http://127.0.0.1:{port}/{name}.html", wait_until="load")
                page.evaluate("() => window.MathJax?.startup?.promise")
                page.wait_for_timeout(300)
                for box in page.evaluate(MEASURE_JS):
                    size = f"needs {box['need']} px of {box['have']}"
                    print(f"{width}px {name}: {box['kind']} {size}: {box['text']}")
                    problems += 1
            page.close()
        browser.close()
    server.shutdown()
    print(f"{problems} overflowing boxes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
