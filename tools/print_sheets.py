"""Print one problem sheet per session of the session plan, without solutions.

    python tools/print_sheets.py [--html _build/html-students] [--out _build/pdf/sheets]

Each ``session-N.pdf`` holds the exercises that ``book/session-plan.md`` assigns to session N,
grouped as *In session*, *Homework* and *Optional homework*, copied from the chapter pages of the
built site (the student edition, which has no solution) and printed by Chromium after MathJax, with
the helpers of tools/print_pdf.py. Run by ``make book-students``.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from print_pdf import CHROMIUM, CHROMIUM_ARGS, PAPER, _serve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "book" / "session-plan.md"
GROUPS = (("in session:", "In session"), ("optional homework:", "Optional homework"), ("homework:", "Homework"))


def session_exercises(text: str) -> dict[int, tuple[str, list[tuple[str, list[str]]]]]:
    """``{N: (title, [(group heading, [exercise labels])])}`` from the session plan's text."""
    sessions = {}
    for match in re.finditer(r"^## Session (\d+): (.*?)\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        number, title, block = int(match[1]), match[2].strip(), match[3]
        line = re.search(r"\*\*Exercises\*\*(.*?)(?=\n- \*\*)", block, re.S)
        if line is None:
            continue
        parts = {}
        for piece in line[1].split(";"):
            piece = " ".join(piece.split())
            for key, heading in GROUPS:
                if piece.startswith(key):
                    parts.setdefault(heading, []).extend(re.findall(r"\{numref\}`([^`]+)`", piece))
                    break
        order = [h for _, h in (GROUPS[0], GROUPS[2], GROUPS[1])]
        sessions[number] = (title, [(h, parts[h]) for h in order if parts.get(h)])
    return sessions


def exercise_pages(html_root: Path) -> dict[str, str]:
    """Label of every exercise in the site -> the page (relative URL) that holds it."""
    where = {}
    for page in sorted(html_root.glob("book/*.html")):
        for label in re.findall(r'<div class="exercise[^"]*" id="([^"]+)"', page.read_text(encoding="utf-8")):
            where[label] = page.relative_to(html_root).as_posix()
    return where


# Replaces the article of a site page by the sheet: each exercise is fetched from its chapter page,
# then MathJax typesets the new content. Links are made plain text (they point at the local server).
_BUILD_SHEET = r"""
async ({title, groups}) => {
  const cache = {};
  const parser = new DOMParser();
  let html = `<div style="font-size: 20pt; font-weight: 700; margin: 0 0 4mm">${title}</div><p>Problem sheet from the prompticl book (no solutions). Exercise
    numbers are the book's.</p>`;
  for (const [heading, items] of groups) {
    html += `<h2>${heading}</h2>`;
    for (const [label, url] of items) {
      if (!(url in cache)) cache[url] = parser.parseFromString(await (await fetch(url)).text(), 'text/html');
      const node = cache[url].getElementById(label);
      if (!node) throw new Error(`exercise ${label} not found in ${url}`);
      html += node.outerHTML;
    }
  }
  // A page of its own: the site's styles and MathJax stay (head), its navigation goes (body).
  document.body.innerHTML = `<div class="bd-page-width"><main class="bd-main"><div class="bd-content">
    <div class="bd-article-container"><article class="bd-article" role="main">${html}</article></div></div></main></div>`;
  const article = document.querySelector('article.bd-article');
  document.querySelectorAll('a[href]').forEach(a => a.removeAttribute('href'));
  if (window.MathJax && MathJax.typesetPromise) await MathJax.typesetPromise([article]);
  await document.fonts.ready;
  return article.querySelectorAll('.exercise').length;
}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html-students")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "sheets")
    args = parser.parse_args(argv)
    if not (args.html / "book" / "session-plan.html").is_file():
        print(f"print_sheets: {args.html} is not a built site (no book/session-plan.html)", file=sys.stderr)
        return 2
    if not Path(CHROMIUM).exists():
        print(f"print_sheets: {CHROMIUM} not found", file=sys.stderr)
        return 2
    sessions = session_exercises(PLAN.read_text(encoding="utf-8"))
    pages = exercise_pages(args.html)
    missing = sorted({label for _, groups in sessions.values() for _, labels in groups for label in labels} - set(pages))
    if missing:
        print(f"print_sheets: exercises not in the site: {', '.join(missing)}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    httpd, server = _serve(args.html)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context()
            for number, (title, groups) in sorted(sessions.items()):
                page = context.new_page()
                try:
                    page.goto(f"{server}/book/session-plan.html", wait_until="load", timeout=180_000)
                    items = [[heading, [[label, "/" + pages[label]] for label in labels]] for heading, labels in groups]
                    count = page.evaluate(_BUILD_SHEET, {"title": f"Session {number}: {title}", "groups": items})
                    assert count == sum(len(labels) for _, labels in groups)
                    page.emulate_media(media="print")
                    target = args.out / f"session-{number}.pdf"
                    part = target.with_suffix(".pdf.part")
                    part.write_bytes(page.pdf(**PAPER))
                    part.replace(target)  # no half-written sheet under the final name
                finally:
                    page.close()
                print(f"wrote {args.out / f'session-{number}.pdf'} ({count} exercises)")
            browser.close()
    finally:
        httpd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
