"""The book builds without a single warning, its internal links resolve, and every page renders in
headless Chromium without network access (MathJax included), errors or broken images."""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from prompticl._figures import toc_files
from support import shared_per_run

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# The site build itself (`build`, `site`) is shared with the PDF tests: tests/book/conftest.py.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("site")]


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def pages(site: Path) -> list[Path]:
    """The book's own pages (not the theme's or MathJax's assets)."""
    return sorted(p for p in site.rglob("*.html") if not p.relative_to(site).parts[0].startswith("_"))


def is_redirect(page: Path) -> bool:
    """index.html only forwards to the root document (sphinx-external-toc writes it)."""
    return 'http-equiv="Refresh"' in page.read_text(encoding="utf-8").replace("refresh", "Refresh")


def test_site_builds_without_warnings(build):
    out = build.stdout + build.stderr
    flagged = [line for line in out.splitlines() if "WARNING" in line or "ERROR" in line or "Error" in line]
    report = "\n".join(flagged[:40]) + "\n...\n" + _tail(out, 30)
    assert build.returncode == 0, f"{' '.join(build.args[1:])} failed:\n{report}"
    assert ": WARNING: " not in out, report


def test_mathjax_is_served_locally(site):
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file(), (
        "MathJax is missing from the build: run `make mathjax` (make book/test do it)"
    )
    assert (site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_every_toc_entry_is_a_page(site):
    missing = [f for f in toc_files(ROOT) if not (site / f"{f}.html").is_file()]
    assert not missing, f"toc entries without a page: {missing}"


# Copied into the site by `make pdf` (after `make book`), so a plain build links to them before they exist.
MADE_BY_MAKE_PDF = {"prompticl.pdf", "formula-sheet.pdf"}


class _Refs(HTMLParser):
    """Collects element ids and the URLs a page refers to."""

    URL_ATTRS = {"href", "src"}

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, url)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif name in self.URL_ATTRS:
                self.refs.append((tag, name, value))


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_internal_links_resolve(site):
    broken, remote_assets = [], []
    for page in pages(site):
        for tag, attr, url in _parse(page).refs:
            parts = urlsplit(url)
            if parts.scheme in ("mailto", "data", "javascript"):
                continue
            if parts.scheme or url.startswith("//"):
                # Links to other sites are fine; anything the page itself loads must be local.
                if tag != "a":
                    remote_assets.append(f"{page.relative_to(site)}: <{tag} {attr}={url}>")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(site)}: {url}"
            if site.resolve() not in target.parents and target != site.resolve():
                broken.append(f"{where} (outside the site)")
            elif not target.is_file():
                if not (target.parent == site.resolve() and target.name in MADE_BY_MAKE_PDF):
                    broken.append(f"{where} (no file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target).ids:
                broken.append(f"{where} (no id {parts.fragment!r})")
    assert not broken, "broken internal links:\n" + "\n".join(broken)
    assert not remote_assets, "pages load remote resources:\n" + "\n".join(remote_assets)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="session")
def server(site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# Runs in the page once it has loaded: waits for MathJax, then reports what is wrong.
_INSPECT = """
async () => {
  const out = {};
  const maths = document.querySelectorAll('.math');
  out.mathElements = maths.length;
  if (maths.length) {
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
      out.mathjaxMissing = true;
    } else {
      await MathJax.startup.promise;
    }
  }
  out.texErrors = Array.from(document.querySelectorAll('mjx-merror'))
    .map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5);
  out.unrendered = Array.from(maths).filter(e => !e.querySelector('mjx-container'))
    .map(e => e.textContent.slice(0, 80)).slice(0, 5);
  const main = (document.querySelector('main') || document.body).cloneNode(true);
  main.querySelectorAll('pre, code, script, style, .highlight, mjx-container, .math').forEach(e => e.remove());
  const text = main.textContent;
  out.rawTex = ['$$', '\\\\(', '\\\\)', '\\\\[', '\\\\]', '\\\\begin{'].filter(s => text.includes(s));
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 10000);
  })));
  out.images = imgs.length;
  out.brokenImages = imgs.filter(i => i.naturalWidth === 0).map(i => i.getAttribute('src'));
  return out;
}
"""


def test_pages_render_offline_in_chromium(survey):
    """Every page loads from the build alone (other hosts refused) with its maths typeset, no TeX
    error or raw delimiter, no broken image and no console error: the survey's desktop pass."""
    problems: list[str] = []
    for name, report in survey["render"].items():
        for key, label in [
            ("texErrors", "TeX errors"), ("unrendered", "math not rendered"),
            ("rawTex", "raw TeX delimiters left in the text"), ("brokenImages", "broken images"),
            ("remote", "requests to other hosts"), ("errors", "console errors"), ("pending", "requests still pending after 17 s"),
        ]:
            if report[key]:
                problems.append(f"{name}: {label}: {report[key][:5]}")
        if report.get("mathjaxMissing"):
            problems.append(f"{name}: math on the page but MathJax did not load")
    assert not problems, "\n".join(problems)
    if any("$" in p.read_text(encoding="utf-8") for p in (ROOT / "book").glob("*.ipynb")):
        checked = sum(r["mathElements"] for r in survey["render"].values())
        assert checked > 0, "the chapters contain maths but no page had any .math element"


# --- What the reader sees ------------------------------------------------------------------------
# One browser visits every page at a desktop and a phone width (all solutions opened) and records
# what each check below needs; the checks then only read that survey, so each can fail on its own
# and name the page and the element at fault.
WIDE, NARROW = 1300, 390
# Playwright hides scrollbars in headless Chromium; the narrow check needs them as a reader has them.
NO_HIDDEN_SCROLLBARS = ["--hide-scrollbars"]

_SURVEY = r"""
async () => {
  const maths = document.querySelectorAll('.math');
  if (maths.length && window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  // Open every solution and every collapsed block, as a reader working through them would.
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));

  // Where an element is, in words: the nearest labelled equation, figure or section heading.
  const where = (el) => {
    const eq = el.closest('div.math[id], .math[id]');
    if (eq) return '#' + eq.id;
    const fig = el.closest('figure[id]');
    if (fig) return '#' + fig.id;
    let node = el, heading = null;
    while (node && !heading) {
      let sib = node.previousElementSibling;
      while (sib && !heading) {
        heading = sib.matches('h1,h2,h3,h4') ? sib : sib.querySelector && sib.querySelector('h1,h2,h3,h4');
        sib = sib.previousElementSibling;
      }
      node = node.parentElement;
    }
    const sec = el.closest('section[id]');
    return 'section "' + (heading ? heading.textContent.replace('#', '').trim() : (sec ? sec.id : '?')) + '"';
  };
  const texOf = new Map();
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const item of MathJax.startup.document.math) {
      if (item.typesetRoot) texOf.set(item.typesetRoot, item.math);
    }
  }
  const label = (el) => {
    const tex = texOf.get(el);
    return where(el) + (tex ? ': ' + tex.replace(/\s+/g, ' ').trim().slice(0, 70) : '');
  };
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const out = {};

  // (a) TeX source in visible text outside code.
  const TEX = /\\[A-Za-z]{2,}|\\[()\[\]{}]|\$\$|\$[^$\s][^$]*\\/;
  const skip = 'pre, code, script, style, mjx-container, .highlight, .cell_input, .headerlink';
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  out.rawTex = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip) || !visible(el)) continue;
    const block = el.closest('p, li, td, th, dd, dt, figcaption, .admonition-title, h1, h2, h3, h4') || el;
    const text = block.textContent.replace(/\s+/g, ' ');
    const m = TEX.exec(n.textContent);
    if (m) {
      const i = Math.max(0, text.indexOf(m[0]) - 30);
      out.rawTex.push(where(el) + ': "…' + text.slice(i, i + 90) + '…"');
    }
  }
  out.rawTex = [...new Set(out.rawTex)];

  // (b), (c) wide content: displays, tables and text outputs, and how they scroll.
  const scrollBox = (el) => {
    for (let node = el; node && node !== document.body; node = node.parentElement) {
      const ox = getComputedStyle(node).overflowX;
      if ((ox === 'auto' || ox === 'scroll') && node.scrollWidth > node.clientWidth + 1) return node;
    }
    return null;
  };
  // "Shows that it scrolls" (see _static/custom.css): the scrolling box keeps a horizontal
  // scrollbar at least 4 px tall AND draws scroll shadows (a gradient background, part of it
  // attached `local`, which is what makes the shadow appear only on the side with hidden content).
  const scrollCue = (box) => {
    const cs = getComputedStyle(box);
    const bar = box.offsetHeight - box.clientHeight - parseFloat(cs.borderTopWidth) - parseFloat(cs.borderBottomWidth);
    const shadow = cs.backgroundImage.includes('gradient') && cs.backgroundAttachment.includes('local');
    return {bar: Math.round(bar), shadow};
  };
  const wide = [];
  article.querySelectorAll('mjx-container[display="true"]').forEach(el => wide.push(['display', el]));
  // An inline formula too wide for the column is made to scroll by _static/wide-inline-math.js.
  article.querySelectorAll('mjx-container:not([display="true"])').forEach(el => wide.push(['inline formula', el]));
  article.querySelectorAll('table').forEach(el => wide.push(['table', el]));
  article.querySelectorAll('div.cell_output pre').forEach(el => wide.push(['text output', el]));
  out.overflow = [];
  for (const [kind, el] of wide) {
    if (!visible(el)) continue;
    // The element's own box and its parent's: a table may be wider than its wrapper.
    // (An inline formula that does not clip its content is judged by its position in the column only:
    // MathJax's own boxes report a few px of scroll overflow for italic corrections.)
    const over = kind === 'inline formula'
      ? (getComputedStyle(el).overflowX === 'visible' ? 0 : el.scrollWidth - el.clientWidth)
      : Math.max(el.scrollWidth - el.clientWidth, el.parentElement.scrollWidth - el.parentElement.clientWidth);
    const right = el.getBoundingClientRect().right - article.getBoundingClientRect().right;
    if (over <= 1 && right <= 1) continue;
    const box = scrollBox(el);
    const what = kind + ' at ' + (kind.endsWith('formula') || kind === 'display' ? label(el) : where(el)) +
      ' (' + Math.round(el.scrollWidth) + ' px wide' + (over > 1 ? ', ' + Math.round(over) + ' px of it hidden' : '') +
      (right > 1 ? ', sticks out ' + Math.round(right) + ' px past the text column' : '') + ')';
    out.overflow.push({what, cue: box ? scrollCue(box) : null, boxed: !!box});
  }
  out.pageOverflow = document.documentElement.scrollWidth - window.innerWidth;

  // (f) display equations inside theorem, proof, lemma and definition boxes: at a phone width
  // the box must leave the display most of the column (issue 21: 189-221 px of 390).
  const acs = getComputedStyle(article);
  const column = article.clientWidth - parseFloat(acs.paddingLeft) - parseFloat(acs.paddingRight);
  out.column = Math.round(column);
  out.boxedDisplays = [];
  out.boxedChecked = 0;
  article.querySelectorAll('div.admonition mjx-container[display="true"]').forEach(el => {
    if (!visible(el)) return;
    out.boxedChecked += 1;
    const w = el.getBoundingClientRect().width;
    if (w < 0.7 * column) {
      out.boxedDisplays.push(label(el) + ' (' + Math.round(w) + ' px of a ' + Math.round(column) + '-px column)');
    }
  });

  // (g) a table wider than its box keeps its first column in view when swiped to the far right.
  out.tables = 0;
  out.lostLabels = [];
  for (const table of article.querySelectorAll('table')) {
    if (!visible(table)) continue;
    const box = scrollBox(table);
    if (!box) continue;
    out.tables += 1;
    box.scrollLeft = box.scrollWidth;
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    const left = box.getBoundingClientRect().left;
    // The first cell of every row, and in the body every header cell before the row's first data
    // cell (a two-level index: its second level is not first on the rows that start a group).
    const lost = Array.from(table.rows).filter(row => row.cells.length > 1)
      .flatMap(row => {
        const labels = [row.cells[0]];
        for (let i = 1; row.parentElement.tagName === 'TBODY' && i < row.cells.length && row.cells[i].tagName === 'TH'; i++) labels.push(row.cells[i]);
        return labels;
      })
      .filter(cell => cell.getBoundingClientRect().left < left - 1);
    if (lost.length) {
      out.lostLabels.push('table at ' + where(table) + ' (' + Math.round(table.scrollWidth) + ' px): ' +
        lost.length + ' first-column cells scroll out of view, e.g. "' + lost[lost.length - 1].textContent.trim().slice(0, 30) + '"');
    }
    box.scrollLeft = 0;
  }

  // (h) every figure opens full size (its image is a link to the image file) and has an alt text
  // that describes it (not the hashed file name Sphinx puts there by default).
  out.figures = [];
  article.querySelectorAll('figure img').forEach(img => {
    const link = img.closest('a[href]');
    const file = (img.getAttribute('src') || '').split('/').pop();
    const alt = (img.getAttribute('alt') || '').trim();
    const name = where(img);
    if (!link || link.getAttribute('href').split('/').pop() !== file) {
      out.figures.push(name + ': the image is not a link to its full-size file');
    }
    if (alt.length < 20 || /_images|\.(png|svg|jpe?g)\b|[0-9a-f]{16}/i.test(alt)) {
      out.figures.push(name + ': alt text "' + alt.slice(0, 60) + '" does not describe the figure');
    }
  });

  // (e) chapter images: every image a cell draws must be a numbered, captioned figure.
  out.images = [];
  article.querySelectorAll('div.cell_output img, div.cell_output svg').forEach(img => {
    // Skip the copy buttons' icons and anything MathJax draws.
    if (img.closest('button, .copybtn, mjx-container') || img.parentElement.closest('div.cell_output svg')) return;
    const fig = img.closest('figure');
    const cap = fig && fig.querySelector('figcaption');
    const num = cap && cap.querySelector('.caption-number');
    const problem = !fig ? 'not in a figure' : !cap ? 'figure without a caption' : !num ? 'caption without a number'
      : cap.textContent.replace(num.textContent, '').trim().length < 10 ? 'caption says nothing' : null;
    if (problem) out.images.push('image ' + (out.images.length + 1) + ' after ' + where(img) + ': ' + problem);
  });

  // (i) punctuation right after an inline formula stays on the formula's line (issue 21: commas
  // and full stops stranded at the start of a line).
  out.punctuated = 0;
  out.stranded = [];
  const texts = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  article.querySelectorAll('mjx-container:not([display="true"])').forEach(el => {
    if (!visible(el)) return;
    texts.currentNode = el;
    let node = texts.nextNode();
    while (node && el.contains(node)) node = texts.nextNode();
    if (!node || !/^[.,;:!?)\]\u2019\u201d]/.test(node.data)) return;
    out.punctuated += 1;
    const range = document.createRange();
    range.setStart(node, 0);
    range.setEnd(node, 1);
    const p = range.getBoundingClientRect(), m = el.getBoundingClientRect();
    if (p.height && p.top >= m.bottom - 2 && p.left < m.right) {
      out.stranded.push('"' + node.data.slice(0, 1) + '" after the formula at ' + label(el));
    }
  });
  return out;
}
"""


SEARCH_TERMS = "Wishart"
_SEARCH_TEX = r"""
() => {
  const results = document.querySelector('#search-results');
  const clone = results.cloneNode(true);
  clone.querySelectorAll('mjx-container').forEach(e => e.remove());
  const snippets = results.querySelectorAll('p.context').length;
  const bad = Array.from(clone.querySelectorAll('p.context')).map(p => p.textContent.replace(/\s+/g, ' '))
    .filter(t => /\\[A-Za-z]{2,}|\\[()\[\]]|\$\$/.test(t)).map(t => t.slice(0, 160));
  return {snippets, bad};
}
"""


def _visible(page, selector: str):
    return [b for b in page.query_selector_all(selector) if b.is_visible()]


def _navigation(page, width: int) -> list[str]:
    """Click the visible ☰ and contents buttons the way a reader does; return what did not work."""
    bad = []
    primary = _visible(page, ".primary-toggle")
    if not primary:
        return ["no visible ☰ (primary sidebar) button"]
    if width < 992:
        primary[0].click()
        page.wait_for_timeout(150)
        if not page.is_visible("#pst-primary-sidebar-modal[open]"):
            bad.append("clicking the visible ☰ does not open the primary sidebar")
        page.keyboard.press("Escape")
        page.wait_for_timeout(150)
        secondary = _visible(page, ".secondary-toggle")
        if not secondary:
            bad.append("no visible contents (secondary sidebar) button")
        else:
            secondary[0].click()
            page.wait_for_timeout(150)
            if not page.is_visible("#pst-secondary-sidebar-modal[open]"):
                bad.append("clicking the visible contents button does not open the secondary sidebar")
            else:
                # Tapping an entry jumps to its section, which the drawer must not keep covering.
                entries = _visible(page, "#pst-secondary-sidebar-modal a[href^='#']")
                if not entries:
                    bad.append("the page-contents drawer lists no section")
                else:
                    entries[-1].click()
                    page.wait_for_timeout(300)
                    if page.is_visible("#pst-secondary-sidebar-modal[open]"):
                        bad.append("the page-contents drawer stays open after tapping an entry")
            page.keyboard.press("Escape")
    else:
        # A solution's header names its exercise with a link; clicking there must open the
        # solution, not jump to the exercise (_static/custom.css lets the click reach the header).
        link = page.locator("div.solution.dropdown > .admonition-title a.reference").first
        if link.count():
            solution = page.locator("div.solution.dropdown").first
            url = page.url
            link.scroll_into_view_if_needed()
            box = link.bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_timeout(300)
            if page.url != url:
                bad.append(f"clicking the exercise link in a solution header leaves the page for {page.url}")
            elif "toggle-hidden" in (solution.get_attribute("class") or ""):
                bad.append("clicking the exercise link in a solution header does not open the solution")
            page.evaluate("window.scrollTo(0, 0)")
        sidebar = page.locator("#pst-primary-sidebar")
        shown = sidebar.is_visible() and sidebar.bounding_box()["width"] > 50
        if not shown:
            return ["the primary sidebar is not shown at desktop width"]
        primary[0].click()
        page.wait_for_timeout(400)  # the collapse is animated
        box = sidebar.bounding_box() if sidebar.is_visible() else None
        if box and box["width"] > 50 and box["x"] + box["width"] > 0:
            bad.append("clicking the visible ☰ does not hide the primary sidebar")
        elif page.is_visible("#pst-primary-sidebar-modal[open]"):
            bad.append("clicking the visible ☰ opens a drawer instead of collapsing the sidebar")
        else:
            _visible(page, ".primary-toggle")[0].click()
            page.wait_for_timeout(400)
            if not (sidebar.is_visible() and sidebar.bounding_box()["width"] > 50):
                bad.append("clicking ☰ a second time does not bring the primary sidebar back")
    return bad


@pytest.fixture(scope="session")
def survey(site, server):
    """{width: {page: report}} for every page at both widths, plus HTTP failures and navigation, and
    (``render``) what test_pages_render_offline_in_chromium checks, from the desktop pass. Computed
    once per test run, whichever xdist worker asks first (:func:`support.shared_per_run`)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("PROMPTICL_REQUIRE_CHROMIUM"):
            pytest.fail(f"{CHROMIUM} is missing but PROMPTICL_REQUIRE_CHROMIUM is set")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium) - browser checks not run")
    return shared_per_run("survey", lambda: _survey(site, server))


def _survey(site: Path, server: str) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    result: dict = {"pages": {WIDE: {}, NARROW: {}}, "http": [], "nav": {}, "search": None, "render": {}}
    names = [str(p.relative_to(site)) for p in pages(site) if not is_redirect(p)]
    # Navigation is the same on every page: check a chapter and the landing page.
    nav_pages = [n for n in names if n.startswith("book/01")][:1] + [n for n in names if n.startswith("book/intro")][:1]
    remote: list[str] = []

    def guard(route):
        url = route.request.url
        if url.startswith(server + "/") or url.split(":", 1)[0] in ("data", "blob", "about"):
            route.continue_()
        else:  # the site must work offline: another host is refused and reported
            remote.append(url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, ignore_default_args=NO_HIDDEN_SCROLLBARS
        )
        try:
            for width in (WIDE, NARROW):
                context = browser.new_context(viewport={"width": width, "height": 900})
                context.route("**/*", guard)
                http_failures = result["http"]
                context.on(
                    "response",
                    lambda r: http_failures.append(f"HTTP {r.status} {r.url.replace(server, '')} (at {width} px)")
                    if r.status >= 400 else None,
                )
                for name in names:
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
                    page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
                    # Requests still in flight: Playwright's "networkidle" can time out on a loaded
                    # 2-core machine although nothing is pending, so a timeout only counts when
                    # something is.
                    in_flight: set = set()
                    page.on("request", lambda r, f=in_flight: f.add(r))
                    page.on("requestfinished", lambda r, f=in_flight: f.discard(r))
                    page.on("requestfailed", lambda r, f=in_flight: f.discard(r))
                    remote.clear()
                    response = page.goto(f"{server}/{name}", wait_until="load")
                    if width == WIDE:
                        # Before the survey opens the solutions: the page as it loads.
                        report = page.evaluate(_INSPECT) if response is not None and response.status == 200 else {
                            k: [] for k in ("texErrors", "unrendered", "rawTex", "brokenImages")}
                        report["mathElements"] = report.get("mathElements", 0)
                        if response is None or response.status != 200:
                            errors.append("the page could not be loaded")
                    result["pages"][width][name] = page.evaluate(_SURVEY)
                    if width == WIDE:
                        pending: list[str] = []
                        try:
                            page.wait_for_load_state("networkidle", timeout=15_000)
                        except PlaywrightTimeout:
                            page.wait_for_timeout(2_000)
                            pending = sorted(r.url for r in in_flight)
                        result["render"][name] = {**report, "errors": list(errors), "remote": sorted(set(remote)),
                                                  "pending": pending}
                    page.close()
                for name in nav_pages:
                    page = context.new_page()
                    page.goto(f"{server}/{name}", wait_until="load")
                    result["nav"][(width, name)] = _navigation(page, width)
                    page.close()
                if width == WIDE:
                    # Search snippets are cut from the pages' HTML: their maths must be typeset too.
                    page = context.new_page()
                    page.goto(f"{server}/search.html?q={SEARCH_TERMS}", wait_until="load")
                    page.wait_for_selector("#search-results p.context", timeout=20000)
                    page.wait_for_timeout(1500)  # MathJax loads on demand there (_static/search-math.js)
                    result["search"] = page.evaluate(_SEARCH_TEX)
                    page.close()
                # What a browser asks for when a page names no icon (and many ask regardless).
                icon = context.request.get(f"{server}/favicon.ico")
                if icon.status >= 400:
                    http_failures.append(f"HTTP {icon.status} /favicon.ico")
                context.close()
        finally:
            browser.close()
    return result


def _listing(rows: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n  " + "\n  ".join(items) for page, items in rows.items() if items)


def test_no_tex_source_in_visible_text(survey):
    """No text a reader can see (solutions opened, code excluded) shows TeX source."""
    rows = {page: r["rawTex"] for page, r in survey["pages"][WIDE].items()}
    if any(rows.values()):  # pytest.fail: the listing is the report, without assertion introspection
        pytest.fail("TeX source shown as text:\n" + _listing(rows), pytrace=False)


def test_wide_displays_and_tables_fit(survey):
    """At desktop width every display equation, table and text output fits its column."""
    rows = {page: [o["what"] for o in r["overflow"]] for page, r in survey["pages"][WIDE].items()}
    wide = {page: [f"the page itself is {r['pageOverflow']} px too wide"] for page, r in survey["pages"][WIDE].items()
            if r["pageOverflow"] > 1}
    if any(rows.values()) or wide:
        pytest.fail(f"cut off at {WIDE} px (break the display with aligned/multline, or narrow the table):\n"
                    + _listing(rows) + _listing(wide), pytrace=False)


def test_narrow_overflow_shows_it_scrolls(survey):
    """At phone width a display may scroll sideways, but only inside a box that shows it scrolls.

    "Shows" is defined in the survey (``scrollCue``): a horizontal scrollbar at least 4 px tall and
    scroll shadows (see ``_static/custom.css``). Nothing may be clipped or widen the page itself.
    """
    rows: dict[str, list[str]] = {}
    for page, r in survey["pages"][NARROW].items():
        items = rows.setdefault(page, [])
        for o in r["overflow"]:
            cue = o["cue"]
            if cue is None:
                items.append(o["what"] + ": clipped, no box scrolls")
            elif cue["bar"] < 4 or not cue["shadow"]:
                items.append(o["what"] + f": scrolls without showing it (scrollbar {cue['bar']} px, shadow {cue['shadow']})")
        if r["pageOverflow"] > 1:
            items.append(f"the page itself is {r['pageOverflow']} px wider than the {NARROW}-px screen")
    if any(rows.values()):
        pytest.fail(f"hidden overflow at {NARROW} px:\n" + _listing(rows), pytrace=False)


def test_boxed_displays_use_the_column(survey):
    """At phone width a display equation in a theorem, proof or definition box is at least 70% of
    the column wide (the box's padding and margins shrink: _static/narrow-screens.css)."""
    rows = {page: r["boxedDisplays"] for page, r in survey["pages"][NARROW].items()}
    checked = sum(r["boxedChecked"] for r in survey["pages"][NARROW].values())
    assert checked >= 20, f"only {checked} display equations in boxes found at {NARROW} px"
    if any(rows.values()):
        pytest.fail(f"display equations squeezed into boxes at {NARROW} px:\n" + _listing(rows), pytrace=False)


def test_wide_tables_keep_their_first_column(survey):
    """At phone width a table that scrolls keeps its row labels in view when swiped to its far end."""
    checked = sum(r["tables"] for r in survey["pages"][NARROW].values())
    assert checked >= 3, f"only {checked} scrolling tables found at {NARROW} px: the check has nothing to check"
    rows = {page: r["lostLabels"] for page, r in survey["pages"][NARROW].items()}
    if any(rows.values()):
        pytest.fail(f"tables losing their first column when swiped at {NARROW} px:\n" + _listing(rows), pytrace=False)


def test_figures_are_links_with_alt_text(survey):
    """Every figure is a link to its full-size image and has a descriptive alt text (its caption)."""
    for width in (WIDE, NARROW):
        rows = {page: r["figures"] for page, r in survey["pages"][width].items()}
        if any(rows.values()):
            pytest.fail(f"figures at {width} px:\n" + _listing(rows), pytrace=False)


def test_no_stranded_punctuation(survey):
    """A comma or full stop right after an inline formula is on the formula's line, at both widths
    (_static/math-punctuation.js glues them)."""
    checked = sum(r["punctuated"] for r in survey["pages"][NARROW].values())
    assert checked >= 100, f"only {checked} inline formulas followed by punctuation found"
    for width in (WIDE, NARROW):
        rows = {page: r["stranded"] for page, r in survey["pages"][width].items()}
        if any(rows.values()):
            pytest.fail(f"punctuation stranded at the start of a line at {width} px:\n" + _listing(rows), pytrace=False)


def test_sidebar_buttons_work(survey):
    """☰ opens the navigation drawer and the contents button the page contents on a phone; on a
    desktop ☰ collapses and restores the sidebar (pydata-sphinx-theme issue 2451 broke both); the
    exercise link in a solution header opens the solution instead of leaving it."""
    bad = [f"{name} at {width} px: {msg}" for (width, name), msgs in survey["nav"].items() for msg in msgs]
    assert survey["nav"], "no page was checked for navigation"
    assert not bad, "\n".join(bad)


def test_search_snippets_show_no_tex(survey):
    found = survey["search"]
    assert found and found["snippets"] >= 3, f"searching for {SEARCH_TERMS!r} gave too few results: {found}"
    assert not found["bad"], "search snippets showing TeX source:\n" + "\n".join(found["bad"])


def test_chapter_images_are_numbered_captioned_figures(survey):
    rows = {page: r["images"] for page, r in survey["pages"][WIDE].items()}
    if any(rows.values()):
        pytest.fail("images that are not numbered figures with a caption (give the cell "
                    "`mystnb: figure: {name, caption}` metadata, see CONTRIBUTING.md):\n" + _listing(rows), pytrace=False)


def test_no_request_fails(survey):
    failures = sorted(set(survey["http"]))
    assert not failures, "requests that failed:\n" + "\n".join(failures)


# --- Student edition (make book-students) and printable book (make pdf) --------------------------
STUDENTS_OUT = ROOT / "_build" / "students"  # as in conftest.py's `students` fixture
STUDENTS_HTML = STUDENTS_OUT / "_build" / "html"
_FENCE = re.compile(r"^(`{3,}|:{3,})\{(solution|exercise)(-start|-end)?\}")
# Source prose between markup: math, roles, literals and emphasis marks split it into runs.
_MARKUP = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\{[a-z:]+\}`[^`]*`|`[^`]*`|[*_\[\]()<>|\\{}$#]", re.S)


def _directive_texts(kind: str) -> list[str]:
    """The markdown source of every ``kind`` (solution or exercise) in the chapters, gated or not."""
    texts = []
    for nb_path in sorted((ROOT / "book").glob("*.ipynb")):
        lines = [
            line
            for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"] if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines()
        ]
        current, fence, gated = None, None, False
        for line in lines:
            m = _FENCE.match(line)
            if current is None:
                if m and m.group(2) == kind and m.group(3) != "-end":
                    current, fence, gated = [], m.group(1), m.group(3) == "-start"
                continue
            if gated and m and m.group(2) == kind and m.group(3) == "-end":
                texts.append("\n".join(current))
                current = None
            elif not gated and line.strip() == fence:
                texts.append("\n".join(current))
                current = None
            elif not line.startswith(":") and line.strip() != fence:
                current.append(line)
    return texts


def _fragments(text: str, words: int = 6) -> list[str]:
    """Runs of at least ``words`` plain words: they reach the HTML verbatim."""
    runs = []
    for part in _MARKUP.split(text):
        run = " ".join(part.split())
        if len(run.split()) >= words and re.fullmatch(r"[A-Za-z0-9 ,.;:'’\-]+", run):
            runs.append(run.strip(" ,.;:"))
    return runs


def _site_text(root: Path) -> str:
    """All text of a built site: pages (tags removed) and the search index."""
    import html as html_lib

    parts = [root.joinpath("searchindex.js").read_text(encoding="utf-8")] if root.joinpath("searchindex.js").exists() else []
    for page in root.rglob("*.html"):
        parts.append(html_lib.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))))
    for source in root.rglob("_sources/**/*"):
        if source.is_file():
            parts.append(source.read_text(encoding="utf-8", errors="replace"))
    text = " ".join(" ".join(parts).split())
    return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')


# The student edition's build, `students`, is a fixture of conftest.py (tests/book/test_student_site.py uses it too).


def test_student_edition_has_no_solution(students, site):
    out = students.stdout + students.stderr
    assert students.returncode == 0 and ": WARNING: " not in out, "the student edition did not build cleanly:\n" + _tail(out, 30)
    solutions = [f for t in _directive_texts("solution") for f in _fragments(t)]
    exercises = [f for t in _directive_texts("exercise") for f in _fragments(t)]
    assert len(solutions) >= 20 and len(exercises) >= 20, "too few solution/exercise fragments found in the chapters"
    full, student = _site_text(site), _site_text(STUDENTS_HTML)
    # Controls: the fragments do reach a built site, so their absence below means something.
    unseen = [f for f in solutions if f not in full]
    assert len(unseen) <= len(solutions) // 5, f"solution fragments not found in the full site: {unseen[:5]}"
    missing_exercises = [f for f in exercises if f not in student]
    assert len(missing_exercises) <= len(exercises) // 5, f"exercises missing from the student edition: {missing_exercises[:5]}"
    # A sentence that the book also states outside any solution (prose that a solution repeats)
    # may stay: count each fragment in all markdown against its count inside the solutions.
    def norm(text: str) -> str:
        return " ".join(_MARKUP.sub(" | ", text).split())

    everywhere = norm(" ".join(
        "".join(cell["source"]) for nb_path in sorted((ROOT / "book").glob("*.ipynb"))
        for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"] if cell["cell_type"] == "markdown"))
    inside = [norm(t) for t in _directive_texts("solution")]
    outside = {f for f in solutions if everywhere.count(f) > sum(t.count(f) for t in inside)}
    leaked = [f for f in solutions if f in student and f not in outside]
    assert not leaked, "solution text in the student edition (_build/students/_build/html):\n" + "\n".join(leaked[:20])
    marked = [str(p.relative_to(STUDENTS_HTML)) for p in STUDENTS_HTML.rglob("*.html") if 'class="solution' in p.read_text(encoding="utf-8")]
    assert not marked, f"solution blocks in the student edition: {marked}"


# `printed` (tools/print_pdf.py over the built site, once per run) is a fixture of conftest.py.


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _pdf_text_page(path: Path, number: int) -> str:
    return subprocess.run(["pdftotext", "-layout", "-f", str(number), "-l", str(number), str(path), "-"],
                          capture_output=True, text=True, check=True).stdout


# tools/print_pdf.py prints A4 with 14-mm side margins; glyph boxes may reach 2 pt beyond the text edge.
RIGHT_MARGIN_PT = 14 / 25.4 * 72


def _past_right_margin(path: Path) -> list[tuple[int, str, float]]:
    """(page, word, right edge) of every word that ends past the right margin (pdftotext -bbox)."""
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    past = []
    for number, page in enumerate(out.split("<page ")[1:], start=1):
        width = float(re.search(r'width="([0-9.]+)"', page).group(1))
        for x_max, word in re.findall(r'<word xMin="[0-9.]+" yMin="[0-9.]+" xMax="([0-9.]+)" yMax="[0-9.]+">([^<]*)</word>', page):
            if float(x_max) > width - RIGHT_MARGIN_PT + 2:
                past.append((number, word, round(float(x_max), 1)))
    return past


def _unprinted_table_cells(site: Path, book: Path) -> list[str]:
    """Cells (one word each) of the chapters' tables that the PDF prints fewer times than the site shows them."""
    from collections import Counter

    shown: Counter = Counter()
    for name in toc_files(ROOT):
        for table in re.findall(r"<table.*?</table>", (site / f"{name}.html").read_text(encoding="utf-8"), re.S):
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S):
                text = " ".join(re.sub(r"<[^>]+>", " ", cell).split())
                if re.fullmatch(r"[+\-−]?[0-9][0-9.,%]*", text):  # numbers only: prose words recur elsewhere
                    shown[text] += 1
    printed = Counter(_pdf_text(book).split())
    return sorted(f"{cell} ({printed[cell]} of {count})" for cell, count in shown.items() if printed[cell] < count)


def _code_text() -> str:
    """Every code cell's source and text output, whitespace collapsed (TeX in plot labels is code)."""
    chunks = []
    for nb_path in (ROOT / "book").glob("*.ipynb"):
        for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                chunks.append("".join(cell["source"]))
                chunks += ["".join(o.get("text", "")) for o in cell.get("outputs", [])]
    return " ".join(" ".join(chunks).split())


def _links(reader) -> list[tuple[int, int, "float | None", str]]:
    """(page index, target page index, target top in pt or None, site target 'page#id') of every
    link inside the book (tools/print_pdf.py records the site target as /PrompticlTarget)."""
    pages = {p.indirect_reference.idnum: i for i, p in enumerate(reader.pages)}
    found = []
    for i, page in enumerate(reader.pages):
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            action = annot.get("/A")
            dest = annot.get("/Dest") or (action.get_object().get("/D") if action is not None else None)
            if isinstance(dest, list) and dest:
                top = dest[3] if len(dest) > 3 and str(dest[1]) == "/XYZ" else None
                top = top if isinstance(top, (int, float)) else None  # a PDF null: the page's top
                found.append((i, pages.get(dest[0].idnum, -1), None if top is None else float(top),
                              str(annot.get("/PrompticlTarget", ""))))
    return found


def _is_figure(site: Path, target: str) -> bool:
    name, _, anchor = target.partition("#")
    before = (site / f"{name}.html").read_text(encoding="utf-8").split(f'id="{anchor}"', 1)[0] if anchor else ""
    return before.rsplit("<", 1)[-1].startswith("figure")  # the tag that carries the id


def _target_words(site: Path, target: str) -> list[str]:
    """Up to three plain words that begin the element a link points at, read from the site's page
    (a heading, a theorem's name, a glossary term; what follows an empty label). Empty when the
    target begins with no plain word (an equation: MathJax sets its number)."""
    name, _, anchor = target.partition("#")
    page = (site / f"{name}.html").read_text(encoding="utf-8")
    match = re.search(rf'id="{re.escape(anchor)}"', page) if anchor else re.search(r"<h1", page)
    if not match:
        return []
    chunk = page[match.start():match.start() + 4000].split(">", 1)[-1]
    chunk = re.sub(r'<span class="math[^"]*">.*?</span>|<div class="math[^"]*">.*?</div>', " § ", chunk, flags=re.S)
    text = " ".join(re.sub(r"<[^>]+>", " ", chunk).split())
    words = []
    for word in text.replace("-", " ").replace("\u2013", " ").split()[:12]:
        if word == "§":
            break  # maths next: what follows may sit anywhere
        if re.fullmatch(r"[A-Za-z]{4,}", word.strip(".,;:()")):
            words.append(word.strip(".,;:()"))
    return words[:3]


@functools.lru_cache(maxsize=None)
def _page_words(book: Path, number: int) -> tuple[float, tuple[tuple[str, float], ...]]:
    """(page height, ((word, top of the word in pt from the page's top), ...)) of page ``number``."""
    out = subprocess.run(["pdftotext", "-bbox", "-f", str(number), "-l", str(number), str(book), "-"],
                         capture_output=True, text=True, check=True).stdout
    height = float(re.search(r'<page width="[0-9.]+" height="([0-9.]+)"', out).group(1))
    words = tuple((part.strip("[](),.;:"), float(y)) for y, w in re.findall(r'<word xMin="[0-9.]+" yMin="([0-9.]+)" xMax="[0-9.]+" yMax="[0-9.]+">([^<]*)</word>', out)
                  for part in w.replace("\u2013", "-").split("-"))
    return height, words


def _check_pdf_navigation(reader, book: Path, site: Path) -> None:
    """A linked contents with page numbers, section bookmarks, and links landing where their target is."""
    top = [item for item in reader.outline if not isinstance(item, list)]
    page_of = {" ".join(item.title.split()): reader.get_destination_page_number(item) for item in top}
    first = min(page_of.values())  # the contents are the pages before the first page of the book
    contents_text = " ".join(" ".join(_pdf_text_page(book, n).split()) for n in range(1, first + 1))
    wrong = [t for t, p in page_of.items() if not re.search(re.escape(t) + rf"\s+{p + 1}\b", contents_text)]
    assert not wrong, f"contents entries missing, or with a page number other than their bookmark's: {wrong}"
    links = _links(reader)
    linked = {target for page, target, _, _ in links if page < first}
    unlinked = [t for t, p in page_of.items() if p not in linked]
    assert not unlinked, f"contents entries that do not link to their page: {unlinked}"
    # Section-level bookmarks under the pages (their h2 headings).
    sections = [s.title for group in reader.outline if isinstance(group, list) for s in group if not isinstance(s, list)]
    assert len(sections) >= 40 and any(s.startswith("7.6. ") for s in sections), f"section bookmarks: {sections[:20]}"
    # Links from one page of the book to another: each lands where its target begins.
    starts = sorted(page_of.values())
    chapter = lambda index: max(s for s in starts if s <= index)  # noqa: E731
    cross = [link for link in links if link[0] >= first and link[3] and chapter(link[1]) != chapter(link[0])]
    assert len(cross) >= 50, f"only {len(cross)} links between the book's pages are links in the PDF"
    checked, wrong = 0, []
    for page, target, y, where in cross:
        words = _target_words(site, where)
        if not words:
            continue
        checked += 1
        height, on_page = _page_words(book, target + 1)
        # within 90 pt of the landing point; a figure's first words are its caption, under the image
        figure = _is_figure(site, where)
        near = [w for w, top in on_page if y is None or -5 <= top - (height - y) <= (450 if figure else 90)]
        if figure and target + 2 <= len(reader.pages):  # a caption may be printed at the top of the next page
            near += [w for w, top in _page_words(book, target + 2)[1] if top < 150]
        # A page's own label (ch-...) stands before its title, which print shows at the page's top.
        whole_page = target in starts and where.partition("#")[2].startswith("ch-")
        # (the first word is enough: a glossary term may end a page and its definition start the next)
        if words[0] not in near and not (whole_page and all(w in (x for x, _ in on_page) for w in words)):
            wrong.append(f"page {page + 1} -> {where} lands on page {target + 1} (y {y}), not at {words}")
    assert checked >= 30, f"only {checked} links between pages could be checked against their target's text"
    assert not wrong, "links landing away from their target:\n" + "\n".join(wrong[:10])


def _titles_losing_maths(reader, site: Path) -> list[str]:
    """Bookmarks (the contents uses the same titles) of headings with maths that hold TeX or lose
    the maths' structure: each subscript of a heading's formulas (L_{\\mathrm D}) must be in its
    bookmark the way the book's tables write it (L_D), not run together with its letter ("LD")."""
    import html as html_lib

    titles = []

    def walk(items):
        for item in items:
            walk(item) if isinstance(item, list) else titles.append(" ".join(item.title.split()))

    walk(reader.outline)
    bad = [f"TeX in a bookmark: {t!r}" for t in titles if re.search(r"\\[A-Za-z]|\$", t)]
    checked = 0
    for name in toc_files(ROOT):
        for m in re.finditer(r"<h2>(.*?)</h2>", (site / f"{name}.html").read_text(encoding="utf-8"), re.S):
            formulas = [html_lib.unescape(f) for f in re.findall(r"\\\((.*?)\\\)", m.group(1), re.S)]
            number = re.search(r'class="section-number">([0-9.]+)', m.group(1))
            subscripts = [f"{b}_{x}" for f in formulas
                          for b, x in re.findall(r"(?<![\\A-Za-z])([A-Za-z])_\{?\s*(?:\\math[a-z]+\s*\{?\s*)?([A-Za-z0-9]+)", f)]
            if not number or not subscripts:
                continue
            checked += 1
            mine = [t for t in titles if t.startswith(number.group(1) + " ")]
            if not mine or any(x not in mine[0] for x in subscripts):
                bad.append(f"{name} {number.group(1)}: bookmark {mine[:1]} should hold {subscripts}")
    assert checked >= 2, f"only {checked} headings with subscripted maths found: the check checks nothing"
    return bad


def _empty_frames(book: Path, dpi: int = 30) -> list[tuple[int, float]]:
    """Pages where a tinted box at least 8% of the page high holds nothing (no dark pixel across it)."""
    import tempfile

    import numpy as np
    from PIL import Image

    found = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-png", "-gray", "-r", str(dpi), str(book), f"{tmp}/p"], check=True)
        for image in sorted(Path(tmp).glob("p-*.png")):
            a = np.asarray(Image.open(image).convert("L")).astype(int)
            height, width = a.shape
            # a row across the box: light grey over 40% of the width, and at most a rule or two of ink
            blank = (((a >= 235) & (a <= 252)).sum(1) > 0.4 * width) & ((a < 200).sum(1) <= 2)
            run = best = 0
            for row in blank:
                run = run + 1 if row else 0
                best = max(best, run)
            if best > 0.08 * height:
                found.append((int(image.stem.split("-")[1]), round(best / height, 2)))
    return found


def test_pdf(printed, site):
    from pypdf import PdfReader

    book = printed / "prompticl.pdf"
    reader = PdfReader(book)
    titles = []
    for name in toc_files(ROOT):
        h1 = re.search(r"<h1>((?:(?!</h1>).)*?)<a class=\"headerlink\"", (site / f"{name}.html").read_text(encoding="utf-8"), re.S)
        titles.append(" ".join(re.sub(r"<[^>]+>", "", h1.group(1)).split()) if h1 else name)
    assert len(reader.pages) > len(titles), f"{book} has only {len(reader.pages)} pages"
    # Top-level bookmarks are the pages of the book; a list after one holds its sections.
    outline = [item.title for item in reader.outline if not isinstance(item, list)]
    text = " ".join(_pdf_text(book).split())
    missing = [t for t in titles if t not in text or not any(t.endswith(o) or o in t or o.endswith(t) for o in outline)]
    assert not missing, f"chapters missing from {book} (text or bookmarks): {missing}; bookmarks: {outline}"
    # Raw TeX in the printed prose (code listings may hold TeX in plot labels: those are allowed).
    code = _code_text()
    raw = []
    for line in _pdf_text(book).splitlines():
        if re.search(r"\\[A-Za-z]{2,}|\$\$|\\[()\[\]]", line) and " ".join(line.split()) not in code:
            raw.append(line.strip()[:100])
    if raw:
        pytest.fail(f"raw TeX in {book}:\n" + "\n".join(raw[:20]), pytrace=False)
    # Hidden code is left out of print cleanly: no empty "Hide code cell source" frames.
    assert "Hide code cell" not in text and "Show code cell" not in text, "hidden-code frames printed"
    # Page numbers: every page has its number in the bottom 40 pt (stamped by _number_pages). By
    # position, not as the last line of the text: pdftotext may list a formula's glyphs after it.
    unnumbered = [n for n in range(1, len(reader.pages) + 1)
                  if not any(w == str(n) and top > _page_words(book, n)[0] - 40 for w, top in _page_words(book, n)[1])]
    assert not unnumbered, f"pages without their number at the foot: {unnumbered[:20]}"
    # Chapter numbers in the titles and bookmarks ("7. Experiments: ..."), and the sections under them.
    assert any(re.match(r"7\. Experiments", o) for o in outline), f"chapter bookmarks without numbers: {outline}"
    # ... and on the chapter's first page, where print shows the theme's title, not the article's h1.
    numbered, unnumbered = 0, []
    for item in reader.outline:
        m = None if isinstance(item, list) else re.match(r"(\d+)\. ([^\s\-–]+)", item.title)
        if m:
            numbered += 1
            opening = [w for w, _ in _page_words(book, reader.get_destination_page_number(item) + 1)[1]][:2]
            if opening != [m.group(1), m.group(2).strip("[](),.;:")]:
                unnumbered.append(f"{item.title!r} opens with {opening}")
    assert numbered >= 9 and not unnumbered, f"chapter openings without their number: {unnumbered}"
    # Nothing past the right margin (a wide table must not be cut or run off the page).
    past = _past_right_margin(book)
    assert not past, "text past the right margin (page, word, right edge in pt):\n" + "\n".join(map(str, past[:20]))
    # ... nor cut at the edge of its box (on paper nothing scrolls): no display or other box of a
    # page is wider than its box once laid out at the paper's width (print_pdf reports each; the
    # words of a cut display end inside the margin, so the check above cannot see them) ...
    cut = [line for line in (printed / "print_pdf.log").read_text(encoding="utf-8").splitlines() if "cut at the right edge" in line]
    assert not cut, "boxes cut at the right edge of the printed page:\n" + "\n".join(cut[:20])
    # ... and every table cell is printed.
    lost = _unprinted_table_cells(site, book)
    assert not lost, f"table cells missing from {book} (cut at the right edge?): {lost[:20]}"
    # Every link inside the book lands in the book (anchors are unique across the merged chapters).
    dests = reader.named_destinations
    prefixes = {d.split("--")[0] for d in dests}
    assert len(prefixes) >= 8, f"named destinations from too few chapters (anchors collide): {sorted(prefixes)[:10]}"
    _check_pdf_navigation(reader, book, site)
    # Maths in the contents and bookmarks: plain text that keeps subscripts, no TeX.
    lost = _titles_losing_maths(reader, site)
    assert not lost, "bookmark titles that lose their maths:\n" + "\n".join(lost)
    # No empty code frame: a box that Chromium could not split, left on one page with its code on the next.
    empty = _empty_frames(book)
    assert not empty, f"pages with an empty frame (page, share of the page height): {empty}"
    if (ROOT / "book" / "at-a-glance.md").exists():
        sheet = printed / "formula-sheet.pdf"
        assert sheet.is_file() and len(PdfReader(sheet).pages) == 1, "the formula sheet is missing or longer than a page"
