"""Print the built site to PDF: the whole book, and the one-page formula sheet if there is one.

    python tools/print_pdf.py [--html _build/html] [--out _build/pdf]

Every page of ``_toc.yml`` (read by ``prompticl._figures.toc_files``) is opened in the Debian Chromium the browser tests use (no network: the
site serves its own MathJax), printed with Playwright's ``page.pdf`` once MathJax has typeset the
page and its images have loaded, with all solutions opened; the pages are then merged with pypdf
behind a generated table of contents, and each chapter gets a bookmark (the PDF outline).

``book/at-a-glance.md``, when it exists, is also printed alone as ``formula-sheet.pdf``: one A4 page
in landscape, two columns, without the site's navigation and the code cells (their tables stay),
scaled down until it fits. ``--sheet-only`` prints just that page. Run by ``make pdf``; checked by
tests/book/test_site.py::test_pdf and tests/book/test_pdf_formula_sheet.py.
"""
from __future__ import annotations

import argparse
import functools
import html
import http.server
import io
import sys
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

from prompticl._figures import toc_files  # the one reader of _toc.yml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
FORMULA_SHEET_PAGE = "book/at-a-glance"
PAPER = {"format": "A4", "print_background": True,
         "margin": {"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"}}
SHEET_PAPER = {"format": "A4", "landscape": True, "print_background": True,
               "margin": {"top": "8mm", "bottom": "8mm", "left": "9mm", "right": "9mm"}}
# Text on the sheet is at least 12 pt before scaling (_SHEET_CSS), so scale 2/3 prints it at 8 pt,
# the smallest the sheet may use (tests/book/test_pdf_formula_sheet.py measures it in the PDF).
SHEET_SCALES = (1.0, 0.95, 0.9, 0.85, 0.8, 0.76, 0.73, 0.7, 0.68, 0.667)

# The formula sheet: the article alone, in two columns.
# The hidden code cells are left out (their tables are kept), and so is the site's chrome and
# whatever the page marks `no-formula-sheet` (a MyST `{container}` class).
_SHEET_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .header-article,
.prev-next-area, .bd-footer, .bd-footer-article, .bd-footer-content, footer, #pst-back-to-top,
.headerlink, .bd-article details.above-input, .bd-article .cell_input, .search-button-field,
.skip-link, .pst-async-banner-revealer, #jb-print-toc,
.bd-article .no-formula-sheet { display: none !important; }
html, body, .bd-page-width, .bd-container, .bd-container__inner, .bd-main, .bd-content,
.bd-article-container, .bd-article { max-width: none !important; width: auto !important;
  margin: 0 !important; padding: 0 !important; }
.bd-article > section { column-count: 2; column-gap: 6mm; column-rule: 0.2mm solid #bbb; }
#jb-print-docs-body h1 { font-size: 20pt; margin: 0 0 2mm; }
.bd-article h2 { font-size: 15pt; font-weight: 700; margin: 3mm 0 1mm; break-after: avoid; }
/* A section may continue in the next column (kept whole, the sections leave both columns part
   empty and the sheet on two pages); a heading stays with its text, and a display, a list item
   or a table is never split. */
.bd-article .cell_output table, .bd-article mjx-container, .bd-article li, .bd-article p { break-inside: avoid; }
.bd-article p:has(+ div.math) { break-after: avoid; }
.bd-article p, .bd-article li { margin-top: 0.8mm; margin-bottom: 0.8mm; }
.bd-article mjx-container[display="true"] { margin: 1mm 0 !important; }
.bd-article, .bd-article p, .bd-article li { font-size: 12pt; line-height: 1.3; }
.bd-article code, .bd-article .cell_output table { font-size: 12pt; }
.bd-article .cell_output table { margin: 1mm auto; }
.bd-article .cell_output table th, .bd-article .cell_output table td { padding: 0.2mm 1.2mm !important; }
.bd-article .cell { margin: 0; }
"""

# Runs in each page before printing: wait for MathJax and the images, open solutions, and make
# links to other pages plain text (they would point at the temporary local server).
_PREPARE = r"""
async (prefix) => {
  if (document.querySelector('.math') && window.MathJax && MathJax.startup) await MathJax.startup.promise;
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-button').forEach(b => b.remove());
  // Code a chapter hides on the site is left out of print, frame and all (an opened
  // "Hide code cell source" box would print the code; a closed one an empty frame).
  document.querySelectorAll('.bd-article details.above-input').forEach(d => d.remove());
  document.querySelectorAll('a[href]').forEach(a => {
    if (a.href.startsWith(location.origin) && !a.getAttribute('href').startsWith('#')) a.removeAttribute('href');
  });
  // The chapters are merged into one PDF, where an anchor name must be unique: every chapter has
  // its "#exercises". Prefix the targets of this page's own links with the page's name.
  const targets = new Set(Array.from(document.querySelectorAll('a[href^="#"]')).map(a => a.getAttribute('href').slice(1)));
  targets.forEach(id => {
    const el = id && document.getElementById(decodeURIComponent(id));
    if (el) el.id = prefix + el.id;
  });
  document.querySelectorAll('a[href^="#"]').forEach(a => {
    const id = a.getAttribute('href').slice(1);
    if (id && document.getElementById(prefix + decodeURIComponent(id))) a.setAttribute('href', '#' + prefix + decodeURIComponent(id));
  });
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 10000);
  })));
  await document.fonts.ready;
  const h1 = document.querySelector('article.bd-article h1') || document.querySelector('main h1');
  let title = h1 ? h1.textContent.replace(/#\s*$/, '').trim() : document.title;
  // The chapter's number is in the navigation (multitoc numbering), not in its h1: put it back.
  const current = document.querySelector('.bd-docs-nav li.current > a, .bd-docs-nav a.current');
  const number = current && /^\s*(\d+)\.\s/.exec(current.textContent);
  if (number && h1 && !title.startsWith(number[1] + '.')) {
    h1.insertBefore(document.createTextNode(number[1] + '. '), h1.firstChild);
    title = number[1] + '. ' + title;
  }
  return title;
}
"""

# Page numbers: one page per number, blank but for the number at the foot, merged under the
# book's pages (Chromium numbers each printed page from 1; the book is printed page by page).
_NUMBERS_HTML = """<!doctype html><meta charset="utf-8"><style>
@page { size: A4; margin: 0; }
body { margin: 0; font-family: sans-serif; }
div { height: 297mm; position: relative; break-after: page; }
span { position: absolute; bottom: 7mm; left: 0; right: 0; text-align: center; font-size: 9pt; color: #444; }
</style>"""


def _contents_html(entries: list[tuple[str, int]], title: str) -> str:
    rows = "\n".join(
        f'<tr><td>{html.escape(t)}</td><td class="p">{p}</td></tr>' for t, p in entries
    )
    return f"""<!doctype html><meta charset="utf-8"><style>
      body {{ font-family: sans-serif; margin: 0; }} h1 {{ font-size: 22pt; margin: 0 0 4mm; }}
      h2 {{ font-size: 14pt; margin: 10mm 0 4mm; }} table {{ width: 100%; border-collapse: collapse; }}
      td {{ padding: 1.6mm 0; border-bottom: 0.2mm dotted #999; font-size: 11pt; }} td.p {{ text-align: right; }}
      </style><h1>{html.escape(title)}</h1><p>Printed from the prompticl book; page numbers refer to this PDF.</p>
      <h2>Contents</h2><table>{rows}</table>"""


def _serve(directory: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def _print(context, url: str, scale: float = 1.0, sheet: bool = False) -> tuple[str, bytes]:
    page = context.new_page()
    try:
        page.goto(url, wait_until="load")
        prefix = re.sub(r"[^A-Za-z0-9]+", "-", urlsplit(url).path.strip("/").removesuffix(".html")) + "--"
        title = page.evaluate(_PREPARE, prefix)
        if sheet:
            page.add_style_tag(content=_SHEET_CSS)
        page.emulate_media(media="print")
        return title, page.pdf(scale=scale, **(SHEET_PAPER if sheet else PAPER))
    finally:
        page.close()


def print_formula_sheet(context, server: str, out: Path) -> "tuple[float, int]":
    """Print the at-a-glance page as ``out``: the largest scale of SHEET_SCALES that fits one page.

    Returns the scale and the number of pages (more than one only if even the smallest scale does
    not fit; the caller reports it).
    """
    from pypdf import PdfReader

    for scale in SHEET_SCALES:
        _, pdf = _print(context, f"{server}/{FORMULA_SHEET_PAGE}.html", scale, sheet=True)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        if pages == 1:
            break
    out.write_bytes(pdf)
    return scale, pages


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's folder, holding _toc.yml")
    parser.add_argument("--sheet-only", action="store_true", help="print only the formula sheet")
    args = parser.parse_args(argv)
    names = [FORMULA_SHEET_PAGE] if args.sheet_only else toc_files(args.root)
    missing = [n for n in names if not (args.html / f"{n}.html").is_file()]
    if missing:
        print(f"print_pdf: pages missing from {args.html} (run `make book` first): {', '.join(missing)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    httpd, server = _serve(args.html)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1100, "height": 1400})
                context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server + "/") else r.abort())
                if args.sheet_only:
                    return _sheet(context, server, args.out)
                chapters = [(n, *_print(context, f"{server}/{n}.html")) for n in names]
                # Contents first: print it once to learn its length, then with the final numbers.
                book_title = chapters[0][1]
                lengths = [len(PdfReader(io.BytesIO(pdf)).pages) for _, _, pdf in chapters]
                contents_pages = 1
                for _ in range(3):
                    starts, page_no = [], contents_pages + 1
                    for length in lengths:
                        starts.append(page_no)
                        page_no += length
                    entries = [(title, start) for (_, title, _), start in zip(chapters, starts)]
                    page = context.new_page()
                    page.set_content(_contents_html(entries, book_title))
                    contents = page.pdf(**PAPER)
                    page.close()
                    n_contents = len(PdfReader(io.BytesIO(contents)).pages)
                    if n_contents == contents_pages:
                        break
                    contents_pages = n_contents
                writer = PdfWriter()
                writer.append(PdfReader(io.BytesIO(contents)))
                for (name, title, pdf), start in zip(chapters, starts):
                    writer.append(PdfReader(io.BytesIO(pdf)))
                    writer.add_outline_item(title=title, page_number=start - 1)
                _number_pages(context, writer)
                writer.add_metadata({"/Title": book_title, "/Creator": "prompticl tools/print_pdf.py"})
                with open(args.out / "prompticl.pdf", "wb") as fh:
                    writer.write(fh)
                print(f"print_pdf: {args.out / 'prompticl.pdf'} ({page_no - 1} pages, {len(chapters)} chapters)")

                if (args.html / f"{FORMULA_SHEET_PAGE}.html").is_file():
                    status = _sheet(context, server, args.out)
                    if status:
                        return status
                else:
                    print(f"print_pdf: no {FORMULA_SHEET_PAGE}.html in the site, formula sheet skipped")
            finally:
                browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    return 0


def _number_pages(context, writer) -> None:
    """Stamp its number at the foot of every page (the contents is page 1)."""
    from pypdf import PdfReader

    count = len(writer.pages)
    page = context.new_page()
    try:
        page.set_content(_NUMBERS_HTML + "".join(f"<div><span>{n}</span></div>" for n in range(1, count + 1)))
        numbers = PdfReader(io.BytesIO(page.pdf(format="A4", margin={"top": "0", "bottom": "0", "left": "0", "right": "0"},
                                                 prefer_css_page_size=True)))
    finally:
        page.close()
    for n, target in enumerate(writer.pages, start=1):
        if n - 1 < len(numbers.pages):
            target.merge_page(numbers.pages[n - 1], over=True)


def _sheet(context, server: str, out_dir: Path) -> int:
    out = out_dir / "formula-sheet.pdf"
    scale, pages = print_formula_sheet(context, server, out)
    if pages != 1:
        print(f"print_pdf: {out} does not fit one page even at scale {scale} ({pages} pages)", file=sys.stderr)
        return 1
    print(f"print_pdf: {out} (1 page, scale {scale})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
