"""Sphinx extension that keeps the rendered book self-contained and light.

* Copies MathJax 3 (from the pinned ``django-static-mathjax`` wheel, which carries no Django
  dependency) into ``_static/mathjax`` so maths works with no network.
* Typesets every formula at build time with that same MathJax, run by node: pages carry
  MathJax's CommonHTML output and ``_static/pages-maths.css``, and load no MathJax script, so
  maths is readable at first paint.
* Cuts Font Awesome to the glyphs the site shows: the theme's stylesheet draws icons with its
  webfont, whose subsets (a few KB) replace the 150 KB fonts; the 1.5 MB ``fontawesome.js`` is
  left out by ``book/_templates/static/webpack-macros.html``.
* Shows every figure as a lossless WebP (the same pixels in a third of the bytes).
* Cuts the theme's stylesheets to the rules that the site's pages and scripts can use.
* Gives bibliography entries the ARIA role their list requires.

The build executes nothing (``execute_notebooks: "off"`` in ``_config.yml``): it renders the
outputs stored in the notebooks, which nbval proves current in ``make test``.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

MATHS_CSS = "pages-maths.css"

# The CommonHTML stylesheet lives in _static/, so its @font-face URLs are relative to it.
MATHJAX_FONTS = "mathjax/output/chtml/fonts/woff-v2"


def _mathjax_source() -> Path:
    import mathjax  # django-static-mathjax's package; importing it needs no Django

    return Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"


def _copy_mathjax(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = _mathjax_source()
    target = Path(app.outdir) / "_static" / "mathjax"
    stamp = target / ".source"
    if stamp.exists() and stamp.read_text() == str(source):
        return
    if target.exists():
        shutil.rmtree(target)
    # Pages load only the fonts from here (the maths is typeset at build time); the rest is
    # kept so that the whole of MathJax stays available offline beside the book.
    shutil.copytree(source, target)
    stamp.write_text(str(source))


def citations_as_list_items(body: str) -> str:
    """Give bibliography entries the ARIA role their list requires.

    docutils 0.21 writes ``role="doc-biblioentry"`` (deprecated in DPUB-ARIA 1.1) inside a
    ``role="list"``, so the list owns no list items (axe: aria-required-children, critical).
    """
    return body.replace('role="doc-biblioentry"', 'role="listitem"')


def _fix_citation_roles(app, pagename, templatename, context, doctree) -> None:
    if "body" in context:
        context["body"] = citations_as_list_items(context["body"])


# --------------------------------------------------------------------------------------------
# Maths typeset at build time.

# Sphinx writes inline maths as \(…\) in a span and display maths as \[…\] in a div (after the
# equation number, which is Sphinx's HTML, as are {eq} references). The TeX is HTML-escaped.
INLINE_MATHS = re.compile(
    r'(<span class="math notranslate nohighlight">)(\\\(.*?\\\))(</span>)', re.DOTALL
)
DISPLAY_MATHS = re.compile(
    r'(<div class="math notranslate nohighlight"[^>]*>\s*(?:<span class="eqno">.*?</span>)?)'
    r"(\s*\\\[.*?\\\]\s*)(</div>)",
    re.DOTALL,
)

# Run by node: the browser's MathJax 3 components from the wheel, with the liteDOM adaptor and
# assistive MathML (what a screen reader reads, as in the browser). Reads {mathjax, fontURL,
# config, items} on stdin, every item a TeX string with its delimiters; typesets them all in
# one document, and writes {html: [one container per item], css, errors, undefined} on stdout.
PRERENDER_JS = r"""
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const config = input.config;
global.MathJax = Object.assign({}, config, {
  loader: {require: require, paths: {mathjax: input.mathjax},
           load: ["input/tex", "output/chtml", "adaptors/liteDOM", "a11y/assistive-mml"]},
  chtml: Object.assign({}, config.chtml || {}, {fontURL: input.fontURL}),
  startup: {typeset: false},
});
require(input.mathjax + "/startup.js");
MathJax.startup.promise.then(() => {
  const body = input.items.map(tex => `<div>${tex}</div>`).join("");
  const doc = MathJax.startup.getDocument(`<html><head></head><body>${body}</body></html>`);
  return MathJax._.mathjax.mathjax.handleRetriesFor(() => doc.render()).then(() => {
    const adaptor = doc.adaptor;
    const nodes = adaptor.childNodes(adaptor.body(doc.document));
    const errors = [], undefined = [];
    const html = input.items.map((tex, i) => {
      const out = adaptor.innerHTML(nodes[i]);
      if (!out.includes("<mjx-container") || out.includes("<mjx-merror")) errors.push(tex);
      if (out.includes('style="color: red;"')) undefined.push(tex);
      return out;
    });
    const css = adaptor.textContent(doc.outputJax.styleSheet(doc));
    process.stdout.write(JSON.stringify({html, css, errors, undefined}));
  });
}).catch(err => { console.error(err); process.exit(1); });
"""


def _html_pages(outdir: Path) -> list[Path]:
    return sorted(p for p in outdir.rglob("*.html") if "_static" not in p.relative_to(outdir).parts)


def _mathjax_config(app: Sphinx) -> dict:
    """``mathjax3_config`` of _config.yml: the browser's MathJax read the same one.

    As in the browser, an undefined macro shows as its name in red (MathJax's noundefined);
    the build names such formulas in its log.
    """
    return json.loads(json.dumps(app.config.mathjax3_config or {}))


# What MathJax writes into every formula that a reader's browser does not need: the MathML
# namespace (the HTML parser gives <math> its namespace), IE's unselectable, MathJax's own
# re-parsing hints, and the container's style, which pages-maths.css gives every container.
CONTAINER_STYLE = ' style="font-size: 113.1%; position: relative;"'
REDUNDANT = (
    (' xmlns="http://www.w3.org/1998/Math/MathML"', ""),
    (' unselectable="on"', ""),
    (CONTAINER_STYLE, ""),
)
MJX_TEXCLASS = re.compile(r' data-mjx-texclass="[A-Z]+"')


# A display wider than its column scrolls sideways; Tab must reach it so that a keyboard can
# scroll it too (WCAG 2.1.1; axe: scrollable-region-focusable). MathJax in the browser made
# every formula focusable for its menu; the pre-rendered displays keep that for themselves.
DISPLAY_CONTAINER = '<mjx-container class="MathJax" jax="CHTML" display="true">'
FOCUSABLE_DISPLAY = '<mjx-container class="MathJax" jax="CHTML" display="true" tabindex="0">'


def compact(rendered: str) -> str:
    """MathJax's output for one formula without the attributes listed in ``REDUNDANT``; a
    display is made reachable by the keyboard."""
    for old, new in REDUNDANT:
        rendered = rendered.replace(old, new)
    rendered = rendered.replace(DISPLAY_CONTAINER, FOCUSABLE_DISPLAY, 1)
    return MJX_TEXCLASS.sub("", rendered)


def typeset_maths(pages: dict[str, str], config: dict) -> tuple[dict[str, str], str]:
    """Replace the TeX of every maths element of ``pages`` (name -> HTML) by MathJax output.

    Returns the new pages and the CommonHTML stylesheet for every glyph they use. A TeX error
    or an undefined macro raises ``ExtensionError`` naming the formula.
    """
    items: list[str] = []
    for text in pages.values():
        items += [m.group(2).strip() for m in INLINE_MATHS.finditer(text)]
        items += [m.group(2).strip() for m in DISPLAY_MATHS.finditer(text)]
    if not items:
        return pages, ""
    node = shutil.which("node")
    if node is None:
        raise ExtensionError("book_build: node is needed to typeset the maths at build time")
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "prerender.js"
        script.write_text(PRERENDER_JS, encoding="utf-8")
        request = {"mathjax": str(_mathjax_source()), "fontURL": MATHJAX_FONTS,
                   "config": config, "items": items}  # fmt: skip
        result = subprocess.run(
            [node, str(script)], input=json.dumps(request), capture_output=True, text=True,
            check=False, encoding="utf-8",
        )  # fmt: skip
    if result.returncode != 0:
        raise ExtensionError(f"book_build: MathJax (node) failed:\n{result.stderr[-3000:]}")
    answer = json.loads(result.stdout)
    if answer["errors"]:
        bad = "\n".join(html.unescape(tex) for tex in answer["errors"][:10])
        raise ExtensionError(f"book_build: MathJax could not typeset:\n{bad}")
    for tex in dict.fromkeys(answer["undefined"]):
        shown = " ".join(html.unescape(tex).split())
        logger.info("book_build: undefined macro (shown in red) in %s", shown)
    rendered = dict(zip(items, map(compact, answer["html"]), strict=True))

    def replace(match: re.Match) -> str:
        return match.group(1) + rendered[match.group(2).strip()] + match.group(3)

    typeset = {
        name: keep_punctuation_with_maths(
            DISPLAY_MATHS.sub(replace, INLINE_MATHS.sub(replace, text))
        )
        for name, text in pages.items()
    }
    return typeset, answer["css"]


# An inline formula and the punctuation right after it ("$x$," or "$x$).").
MATHS_THEN_PUNCTUATION = re.compile(
    r'(<span class="math notranslate nohighlight"><mjx-container(?:(?!</span>).)*?'
    r"</mjx-container></span>)([.,;:!?)\]]+)",
    re.DOTALL,
)


def keep_punctuation_with_maths(page: str) -> str:
    """Keep each inline formula on one line with the punctuation that follows it.

    The browser may break a line between a formula and the text after it, so a narrow column
    started lines with a stray ", with" or ". Then". The pair is wrapped in a span that does
    not break (``reader.css``); the formula itself cannot break anyway (MathJax 3).
    """
    return MATHS_THEN_PUNCTUATION.sub(r'<span class="maths-nobreak">\1\2</span>', page)


def _as_maths_element(tex: str) -> str:
    """The element Sphinx writes for ``tex``: a span for inline maths, a div for a display.

    Displays must be typeset as displays for the stylesheet too: only they hold the tables
    (``aligned``, ``cases``) whose rules lay out one row under another.
    """
    if tex.startswith("\\["):
        return f'<div class="math notranslate nohighlight">{tex}</div>'
    return f'<span class="math notranslate nohighlight">{tex}</span>'


def _prerender_maths(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    # A page written by an earlier build is already typeset and has no TeX left: only pages
    # (re)written by this build are typeset again. The stylesheet covers the glyphs of every
    # page, so it is rebuilt from all pages' TeX, kept beside the build in a cache.
    cache = outdir / "_static" / ".pages-maths-tex.json"
    known = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
    pages = {str(p.relative_to(outdir)): p.read_text(encoding="utf-8") for p in _html_pages(outdir)}
    fresh = {
        name: text
        for name, text in pages.items()
        if INLINE_MATHS.search(text) or DISPLAY_MATHS.search(text)
    }
    for name, text in fresh.items():
        known[name] = [m.group(2).strip() for m in INLINE_MATHS.finditer(text)] + [
            m.group(2).strip() for m in DISPLAY_MATHS.finditer(text)
        ]
    if not fresh and (outdir / "_static" / MATHS_CSS).exists():
        return
    config = _mathjax_config(app)
    typeset, css = typeset_maths(fresh, config)
    for name, text in typeset.items():
        (outdir / name).write_text(text, encoding="utf-8")
    # One stylesheet for the whole book. A cold build has just typeset every formula, so its
    # stylesheet is the book's; otherwise typeset every formula the book has, once, for it.
    if set(fresh) != set(known):
        everything = {name: "".join(map(_as_maths_element, texs)) for name, texs in known.items()}
        _, css = typeset_maths(everything, config)
    css += 'mjx-container[jax="CHTML"] {' + CONTAINER_STYLE.split('"')[1] + "}\n"
    css = _subset_maths_fonts(outdir / "_static", css)
    (outdir / "_static" / MATHS_CSS).write_text(css, encoding="utf-8")
    cache.write_text(json.dumps(known), encoding="utf-8")


MATHS_FONT_FACE = re.compile(r'url\("mathjax/output/chtml/fonts/woff-v2/([\w-]+\.woff)"\)')
CSS_CONTENT = re.compile(r'content: "((?:[^"\\]|\\.)*)"')


def _css_string(text: str) -> str:
    """The characters of a CSS string body (escapes like \\1D465 or \\" resolved)."""
    return re.sub(
        r"\\([0-9A-Fa-f]{1,6}) ?|\\(.)",
        lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2),
        text,
    )


def _subset_maths_fonts(static: Path, css: str) -> str:
    """Cut MathJax's fonts to the characters the stylesheet draws, and point it at the cuts.

    Every glyph CommonHTML shows is the ``content`` of one of its rules, so the union of those
    strings is all that any page can draw; each font keeps the part of it that it has.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    drawn = {ord(c) for body in CSS_CONTENT.findall(css) for c in _css_string(body)}
    source = static / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    target = static / "pages-maths-fonts"
    target.mkdir(exist_ok=True)
    for name in sorted(set(MATHS_FONT_FACE.findall(css))):
        if name == "MathJax_Zero.woff":  # zero-width stand-ins for any character: kept whole
            shutil.copyfile(source / name, target / name)
            continue
        font = TTFont(source / name)
        options = subset.Options()
        options.flavor = "woff"
        options.layout_features = ["*"]
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(drawn & set(font.getBestCmap())))
        subsetter.subset(font)
        font.flavor = "woff"
        font.save(target / name)
    return MATHS_FONT_FACE.sub(r'url("pages-maths-fonts/\1")', css)


def _drop_mathjax_script(app, pagename, templatename, context, doctree) -> None:
    """Pages need no MathJax script: their maths is typeset by ``_prerender_maths``."""
    if "script_files" not in context:
        return
    path = app.config.mathjax_path

    def wanted(script) -> bool:
        filename = getattr(script, "filename", str(script))
        body = getattr(script, "attributes", {}).get("body", "")
        # sphinx-book-theme prefixes the files it hashes with _static/
        return str(filename).removeprefix("_static/") != path and not body.startswith(
            "window.MathJax ="
        )

    context["script_files"] = [s for s in context["script_files"] if wanted(s)]


# --------------------------------------------------------------------------------------------
# Font Awesome, cut to the glyphs the site shows.

FA_FONTS = ("fa-solid-900", "fa-regular-400", "fa-brands-400")
FA_WEBFONTS = "vendor/fontawesome/webfonts"
# One rule of Font Awesome's class table: `.fa-x:before,.fa-alias:before{content:"\f002"}`.
FA_CLASS_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+:before,?)+)\{content:"\\([0-9a-f]+)"\}')
FA_CLASS_NAME = re.compile(r"\bfa-([a-z0-9-]+)")
PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]|\\([ef][0-9a-f]{3})\b")


def icon_codepoints(theme_css: str, other_css: list[str], markup: list[str]) -> set[int]:
    """Codepoints of the icons the site can show.

    An icon shows through an ``fa-NAME`` class in a page or a script (``markup``), or through a
    glyph written straight into a stylesheet rule (admonition titles, external links, …).
    """
    by_class: dict[str, int] = {}
    for match in FA_CLASS_RULE.finditer(theme_css):
        for name in re.findall(r"\.fa-([a-z0-9-]+):before", match.group(1)):
            by_class[name] = int(match.group(2), 16)
    names = {name for text in markup for name in FA_CLASS_NAME.findall(text)}
    used = {by_class[name] for name in names & by_class.keys()}
    for text in [FA_CLASS_RULE.sub("", theme_css), *other_css]:
        for match in PRIVATE_USE.finditer(text):
            used.add(int(match.group(1), 16) if match.group(1) else ord(match.group(0)))
    return used


def _subset_icon_fonts(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from fontTools import subset
    from fontTools.ttLib import TTFont

    static = Path(app.outdir) / "_static"
    theme_path = static / "styles" / "pydata-sphinx-theme.css"
    theme_css = theme_path.read_text(encoding="utf-8")
    if "pages-fa-" in theme_css:
        return  # already cut by an earlier build
    other_css = [
        p.read_text(encoding="utf-8")
        for p in static.rglob("*.css")
        if p != theme_path and "vendor" not in p.parts and "mathjax" not in p.parts
    ]
    markup = [p.read_text(encoding="utf-8") for p in _html_pages(Path(app.outdir))]
    markup += [p.read_text(encoding="utf-8") for p in (static / "scripts").glob("*.js")
               if p.name != "fontawesome.js"]  # fmt: skip
    wanted = icon_codepoints(theme_css, other_css, markup)
    for name in FA_FONTS:
        font = TTFont(static / FA_WEBFONTS / f"{name}.ttf")
        unicodes = sorted(wanted & set(font.getBestCmap()))
        options = subset.Options()
        options.flavor = "woff"  # zlib; WOFF2 would need brotli, which is not pinned
        options.layout_features = ["*"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=unicodes)
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.flavor = "woff"
        font.save(buffer)
        (static / f"pages-{name}.woff").write_bytes(buffer.getvalue())
        theme_css = theme_css.replace(
            f'url(../{FA_WEBFONTS}/{name}.woff2) format("woff2"),'
            f'url(../{FA_WEBFONTS}/{name}.ttf) format("truetype")',
            f'url(../pages-{name}.woff) format("woff")',
        )
    if theme_css.count("pages-fa-") != len(FA_FONTS):
        raise ExtensionError("book_build: the theme's Font Awesome @font-face rules changed")
    theme_path.write_text(theme_css, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Stylesheets cut to the rules the site can use.

CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
CSS_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
CSS_PSEUDO_FUNCTION = re.compile(r":[\w-]+\(")
JS_TOKEN = re.compile(r"[A-Za-z_][\w-]*")
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
INLINE_SCRIPT = re.compile(r"<script[^>]*>(.*?)</script>", re.DOTALL)
NESTING_AT_RULES = {"@media", "@supports", "@container", "@layer", "@document"}


def _scan(css: str, start: int, stops: str) -> int:
    """Index of the first of ``stops`` at ``start`` or after, outside strings and brackets."""
    quote, depth, i = None, 0, start
    while i < len(css):
        c = css[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c in stops:
            return i
        i += 1
    return len(css)


def _css_items(css: str) -> list[tuple[str, str | None]]:
    """Top-level (prelude, block) pairs of a stylesheet without comments; block None for a
    statement such as ``@import …;``."""
    items, i = [], 0
    while i < len(css):
        j = _scan(css, i, "{;}")
        prelude = css[i:j].strip()
        if j >= len(css) or css[j] in ";}":
            if prelude:
                items.append((prelude, None))
            i = j + 1
            continue
        level, k = 1, j + 1
        while k < len(css) and level:
            k = _scan(css, k, "{}")
            level += 1 if k < len(css) and css[k] == "{" else -1
            k += 1
        items.append((prelude, css[j + 1 : k - 1]))
        i = k
    return items


def _outside_functions(selector: str) -> str:
    """The selector without the arguments of :not(), :is(), :has(), …: a class named only there
    need not occur for the selector to match, so it never decides."""
    out, i = [], 0
    while i < len(selector):
        match = CSS_PSEUDO_FUNCTION.match(selector, i)
        if match:
            i = _scan(selector, match.end(), ")") + 1
            continue
        out.append(selector[i])
        i += 1
    return "".join(out)


def _selectors(prelude: str) -> list[str]:
    parts, start = [], 0
    while True:
        end = _scan(prelude, start, ",")
        parts.append(prelude[start:end].strip())
        if end >= len(prelude):
            return parts
        start = end + 1


def purge_css(css: str, present: set[str], prefixes: tuple[str, ...]) -> str:
    """``css`` without the selectors that name a class no page or script can give an element.

    A selector stays when every class it names (outside :not() and the like) is in
    ``present`` or starts with one of ``prefixes`` (the class stems that scripts complete at
    run time, such as Bootstrap's ``bs-``). Rules without classes, @font-face, @keyframes and
    licence comments (``/*! … */``) all stay.
    """

    def possible(selector: str) -> bool:
        return all(
            name in present or name.startswith(prefixes)
            for name in CSS_CLASS.findall(_outside_functions(selector))
        )

    def purge(text: str) -> str:
        out = []
        for prelude, block in _css_items(text):
            if block is None:
                out.append(prelude + ";")
            elif prelude.startswith("@"):
                if prelude.split()[0].split("(")[0].lower() in NESTING_AT_RULES:
                    inner = purge(block)
                    if inner:
                        out.append(f"{prelude}{{{inner}}}")
                else:
                    out.append(f"{prelude}{{{block}}}")
            else:
                kept = [s for s in _selectors(prelude) if possible(s)]
                if kept:
                    out.append(",".join(kept) + "{" + block + "}")
        return "".join(out)

    licences = [c for c in CSS_COMMENT.findall(css) if c.startswith("/*!")]
    return "\n".join([*licences, purge(CSS_COMMENT.sub("", css))]) + "\n"


def site_classes(outdir: Path) -> tuple[set[str], tuple[str, ...]]:
    """Every class the site's pages carry, and every word of its scripts (a script may add
    any of them as a class), and the stems (words ending in "-") scripts may complete."""
    present: set[str] = set()
    for page in _html_pages(outdir):
        text = page.read_text(encoding="utf-8")
        for attribute in CLASS_ATTRIBUTE.findall(text):
            present.update(attribute.split())
        for script in INLINE_SCRIPT.findall(text):
            present.update(JS_TOKEN.findall(script))
    static = outdir / "_static"
    for script in static.rglob("*.js"):
        if script.relative_to(static).parts[0] != "mathjax" and script.name != "fontawesome.js":
            present.update(JS_TOKEN.findall(script.read_text(encoding="utf-8", errors="replace")))
    prefixes = tuple(sorted(t for t in present if t.endswith("-") and len(t) >= 3))
    return present, prefixes


def _purge_stylesheets(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    static = outdir / "_static"
    # Our own stylesheets are small and written by hand for this site: left as they are.
    ours = {Path(str(entry[0] if isinstance(entry, tuple) else entry)).name
            for entry in app.config.html_css_files}  # fmt: skip
    present, prefixes = site_classes(outdir)
    for sheet in sorted(static.rglob("*.css")):
        parts = sheet.relative_to(static).parts
        if parts[0] in {"mathjax", "vendor"} or sheet.name.startswith("pages-"):
            continue
        if sheet.name in ours:
            continue
        text = sheet.read_text(encoding="utf-8")
        sheet.write_text(purge_css(text, present, prefixes), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Figures: the same pixels in fewer bytes.

IMAGE_SRC = re.compile(r'(<img\b[^>]*\bsrc="[^"]*_images/[^"]+)\.png"')


def png_as_webp(data: bytes) -> bytes:
    """The PNG as a lossless WebP: every pixel (alpha included) kept exactly.

    matplotlib's PNGs of the book's figures come out two to three times smaller. Effort 50 at
    method 4 gets within 3 % of libwebp's slowest setting in a tenth of its time.
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        buffer = io.BytesIO()
        image.save(buffer, format="WEBP", lossless=True, quality=50, method=4, exact=True)
    return buffer.getvalue()


def _webp_figures(app: Sphinx, exception) -> None:
    """Write a WebP beside every figure and make every page show it instead of the PNG."""
    if exception is not None or app.builder.format != "html":
        return
    from concurrent.futures import ThreadPoolExecutor

    outdir = Path(app.outdir)
    todo = []
    for png in sorted((outdir / "_images").glob("*.png")):
        webp = png.with_suffix(".webp")
        if not webp.exists() or webp.stat().st_mtime < png.stat().st_mtime:
            todo.append((png, webp))

    def convert(pair: tuple[Path, Path]) -> None:
        png, webp = pair
        webp.write_bytes(png_as_webp(png.read_bytes()))

    with ThreadPoolExecutor(max_workers=2) as pool:  # Pillow encodes without the GIL
        list(pool.map(convert, todo))
    for page in _html_pages(outdir):
        text = page.read_text(encoding="utf-8")
        new = IMAGE_SRC.sub(r'\1.webp"', text)
        if new != text:
            page.write_text(new, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Our stylesheets and scripts: an edit to one is a change to every page.


def _static_digest(app: Sphinx) -> str:
    """A digest of every file in the project's html_static_path (reader.css, reader.js, ...)."""
    digest = hashlib.sha256()
    for entry in app.config.html_static_path:
        root = Path(app.confdir, entry)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _outdated_when_static_changed(app: Sphinx, env, added, changed, removed) -> list[str]:
    # Sphinx copies html_static_path only when some page is written, and every page links our
    # files with a content hash (?v=...), so after an edit to reader.css alone a no-change
    # build left the old copy in _build. Rewrite every page when those files change.
    digest = _static_digest(app)
    if getattr(env, "book_static_digest", None) == digest:
        return []
    env.book_static_digest = digest
    return sorted(env.found_docs)


def setup(app: Sphinx) -> dict:
    app.connect("env-get-outdated", _outdated_when_static_changed)
    app.connect("html-page-context", _fix_citation_roles)
    app.connect("html-page-context", _drop_mathjax_script)
    app.add_css_file(MATHS_CSS)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _prerender_maths)
    app.connect("build-finished", _subset_icon_fonts)
    app.connect("build-finished", _webp_figures)
    app.connect("build-finished", _purge_stylesheets)  # after _subset_icon_fonts read them
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
