// What the reader does: behaviour fixes on top of the theme (see CONTRIBUTING.md, Decisions).
"use strict";

// Drawers. pydata-sphinx-theme and sphinx-book-theme bind their menu and contents handlers to
// the FIRST .primary-toggle / .secondary-toggle of the page, which is the hidden one in the
// theme's top bar; the buttons a reader sees sit in the article header and did nothing but
// show a tooltip. A click on a visible one is handed to the bound one, so the themes' own
// code opens the drawer (below 992 px) or folds the sidebar (above).
document.addEventListener(
  "click",
  (event) => {
    for (const kind of [".primary-toggle", ".secondary-toggle"]) {
      const pressed = event.target.closest(kind);
      const bound = document.querySelector(kind);
      if (pressed && bound && pressed !== bound) {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
        pressed.blur();
        return;
      }
    }
  },
  true,
);

// Search by section, over prose. book/_ext/reader_search.py indexes each section as its own
// entry, named "page#section-id"; here such a hit links to its section. Snippets are taken
// from the article (or the section) without maths, code, outputs or buttons, so a reader sees
// sentences, not TeX source or page chrome.
const SNIPPET_DROPS = [
  ".headerlink", "script", "style", "button", "div.cell", "div.highlight",
  "div.math", "mjx-container", "#jb-print-docs-body", ".prev-next-area", "footer",
].join(", ");

function readerSearch() {
  if (typeof Search === "undefined" || Search.readerSections) return;
  Search.readerSections = true;
  const perform = Search._performSearch;
  Search._performSearch = (...args) =>
    perform(...args).map((result) => {
      const cut = result[0].indexOf("#");
      if (cut < 0) return result;
      const copy = [...result];
      copy[0] = result[0].slice(0, cut);
      copy[2] = result[0].slice(cut);
      return copy;
    });
  // A search for a common word has dozens of hits in the same twenty pages, and Sphinx fetches
  // and hands over the whole page for each hit: each page is parsed and cleaned once (parsing
  // a chapter of 0.7 MB is most of a search's time on a phone), then each hit reads its section.
  const cleaned = new Map();
  Search.htmlToText = (htmlString, anchor) => {
    const key = `${htmlString.length}:${fingerprint(htmlString)}`;
    let page = cleaned.get(key);
    if (page === undefined) {
      page = cleanedPage(htmlString);
      cleaned.set(key, page);
    }
    const section = anchor ? page.getElementById(decodeURIComponent(anchor.slice(1))) : null;
    // The article, not [role=main]: main also holds the header's download menu (".ipynb").
    const root =
      section || page.querySelector("article.bd-article") || page.querySelector("[role=main]");
    const text = root ? root.textContent.replace(/\s+/g, " ") : "";
    return text.replace(/…(?:[\s,;.]*…)+/g, "…").trim();
  };
}

// A page is known by its length and an FNV-1a hash of all of it (the hits arrive as strings).
function fingerprint(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}

function cleanedPage(htmlString) {
  const page = new DOMParser().parseFromString(htmlString, "text/html");
  page.querySelectorAll(SNIPPET_DROPS).forEach((el) => el.remove());
  // Inline maths becomes an ellipsis, so the sentence around it still reads; TeX commands
  // shown as code (the notation appendix's macro column) mean nothing out of their table.
  page.querySelectorAll("span.math").forEach((el) => el.replaceWith("…"));
  page.querySelectorAll("code").forEach((el) => {
    if (/^\\[A-Za-z]/.test(el.textContent.trim())) el.remove();
  });
  return page;
}
readerSearch();
document.addEventListener("DOMContentLoaded", readerSearch);

// Print: a display equation wider than a printed page's text (A4 or Letter with the browser's
// default margins leave about 650 px, less the equation number) is scaled down to fit,
// instead of being cut at the margin. Screen layout is restored after printing.
const PRINTED_EQUATION_WIDTH = 600;
const displayEquations = () => document.querySelectorAll('mjx-container[display="true"]');
window.addEventListener("beforeprint", () => {
  for (const equation of displayEquations()) {
    const need = equation.firstElementChild?.getBoundingClientRect().width ?? 0;
    if (need > PRINTED_EQUATION_WIDTH) {
      equation.style.zoom = (PRINTED_EQUATION_WIDTH / need).toFixed(3);
    }
  }
});
window.addEventListener("afterprint", () => {
  for (const equation of displayEquations()) equation.style.zoom = "";
});
