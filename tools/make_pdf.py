"""The whole book as one PDF, offline: the single-page build printed by headless Chromium.

    python tools/make_pdf.py                 # build _build/singlehtml, print _build/pdf/book.pdf
    python tools/make_pdf.py --no-build      # print the single page already built

The single page is ``jupyter-book build --builder singlehtml`` (``book/_ext/reader_pdf.py``
adds the table of contents, the part titles and the print stylesheet); its maths is typeset at
build time by ``book/_ext/book_build.py``, as on the site, so the page loads no MathJax and
there is nothing to wait for but its fonts and figures. Debian's Chromium prints it (never a
downloaded browser), with the book's print rules (``reader.css``: code wrapped at the margin,
wide equations scaled by ``reader.js`` on ``beforeprint``), PDF bookmarks from the headings
and links for every cross-reference and entry of the contents.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ROOT / "_build" / "singlehtml"
PDF = ROOT / "_build" / "pdf" / "book.pdf"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip

FOOTER = (
    '<div style="font-size: 8pt; width: 100%; text-align: center; color: #555;">'
    '<span class="pageNumber"></span></div>'
)

# Fonts and figures loaded, then the page's own print preparation (reader.js listens for it).
SETTLE_JS = """async () => {
    await Promise.all(Array.from(document.images, img => {
        img.loading = "eager";
        return img.complete ? null : new Promise(resolve => {
            img.addEventListener("load", resolve);
            img.addEventListener("error", resolve);
        });
    }));
    await document.fonts.ready;
    window.dispatchEvent(new Event("beforeprint"));
}"""


def build_single_page(root: Path = ROOT) -> Path:
    """Build the single-page book (incremental: it shares the HTML build's doctrees)."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    env = dict(os.environ, PATH=f"{jupyter_book.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [str(jupyter_book), "build", str(root), "--builder", "singlehtml", "-W", "-n",
               "--keep-going"]  # fmt: skip
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                            check=False)  # fmt: skip
    if result.returncode != 0:
        problems = [line for line in (result.stdout + result.stderr).splitlines()
                    if "WARNING" in line or "ERROR" in line or "Error" in line]  # fmt: skip
        raise RuntimeError("the single-page build failed:\n" + "\n".join(problems[-40:]))
    return root / "_build" / "singlehtml"


def front_page(single: Path) -> Path:
    """The page to print, written by ``book/_ext/reader_pdf.py``."""
    page = single / "book.html"
    if not page.is_file():
        raise RuntimeError(f"no single-page book at {page}: build it first (without --no-build)")
    return page


def print_pdf(single: Path, pdf: Path) -> Path:
    """Print the single page to ``pdf`` with Debian's headless Chromium."""
    from playwright.sync_api import sync_playwright

    page_file = front_page(single)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)  # fmt: skip
        try:
            context = browser.new_context()
            # Offline: nothing but the built files.
            context.route("**/*", lambda route: route.continue_()
                          if route.request.url.startswith("file:") else route.abort())  # fmt: skip
            page = context.new_page()
            page.emulate_media(media="print", color_scheme="light")
            page.goto(page_file.as_uri(), wait_until="load", timeout=120_000)
            page.evaluate(SETTLE_JS)
            page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True,
                     print_background=True, outline=True, tagged=True,
                     display_header_footer=True, header_template="<span></span>",
                     footer_template=FOOTER)  # fmt: skip
        finally:
            browser.close()
    return pdf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-build", action="store_true", help="print the existing single page")
    parser.add_argument("--single", type=Path, default=SINGLE, help="single-page build folder")
    parser.add_argument("--out", type=Path, default=PDF, help="where to write the PDF")
    args = parser.parse_args(argv)
    single = args.single if args.no_build else build_single_page()
    pdf = print_pdf(single, args.out)
    print(f"The book is in {pdf.relative_to(ROOT) if pdf.is_relative_to(ROOT) else pdf}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
