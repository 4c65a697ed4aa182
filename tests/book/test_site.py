"""The book builds without a single warning, its internal links resolve, and every page renders in
headless Chromium without network access (MathJax included), errors or broken images."""
from __future__ import annotations

import fcntl
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Same flags as `make book`; --all so that warnings of unchanged pages are reported again.
BUILD = [str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "-W", "-n", "--keep-going", "--all"]

# The site tests share one build. Under pytest-xdist each worker has its own session fixtures, and
# `xdist_group` is not honoured with pytest 9 (the group suffix no longer reaches the scheduler), so
# the build itself is serialised with a file lock and its result shared through a file named after
# the test run: whichever worker comes first builds, the others wait and reuse the result.
pytestmark = pytest.mark.xdist_group("site")


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _run_build() -> subprocess.CompletedProcess:
    # Start from an empty output folder: Sphinx never deletes pages that left the toc.
    # The execution cache (_build/.jupyter_cache) is kept.
    shutil.rmtree(HTML, ignore_errors=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(BUILD, cwd=ROOT, capture_output=True, text=True, env=env)


@pytest.fixture(scope="session")
def build() -> subprocess.CompletedProcess:
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:  # a single process: nothing to share
        return _run_build()
    ROOT.joinpath("_build").mkdir(exist_ok=True)
    result_file = ROOT / "_build" / f".site-build-{run_id}.json"
    with open(ROOT / "_build" / ".site-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if result_file.is_file():
            done = json.loads(result_file.read_text())
            return subprocess.CompletedProcess(BUILD, done["returncode"], done["stdout"], done["stderr"])
        for stale in ROOT.joinpath("_build").glob(".site-build-*.json"):
            stale.unlink()
        result = _run_build()
        result_file.write_text(
            json.dumps({"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr})
        )
        return result


@pytest.fixture(scope="session")
def site(build) -> Path:
    if build.returncode != 0:
        pytest.fail("the site did not build (see test_site_builds_without_warnings)", pytrace=False)
    return HTML


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
    assert build.returncode == 0, f"jupyter-book build {' '.join(BUILD[3:])} failed:\n{report}"
    assert ": WARNING: " not in out, report


def test_mathjax_is_served_locally(site):
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file(), (
        "MathJax is missing from the build: run `make mathjax` (make book/test do it)"
    )
    assert (site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_every_toc_entry_is_a_page(site):
    import yaml

    def files(node):
        if isinstance(node, dict):
            if "file" in node or "root" in node:
                yield node.get("file", node.get("root"))
            for v in node.values():
                yield from files(v)
        elif isinstance(node, list):
            for v in node:
                yield from files(v)

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    missing = [f for f in files(toc) if not (site / f"{Path(f).with_suffix('')}.html").is_file()]
    assert not missing, f"toc entries without a page: {missing}"


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


def test_pages_render_offline_in_chromium(site, server):
    if not Path(CHROMIUM).exists():
        if os.environ.get("PROMPTICL_REQUIRE_CHROMIUM"):
            pytest.fail(f"{CHROMIUM} is missing but PROMPTICL_REQUIRE_CHROMIUM is set")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium) - browser check not run")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    checked_math = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            remote: list[str] = []

            def guard(route):
                url = route.request.url
                if url.startswith(server + "/") or url.split(":", 1)[0] in ("data", "blob", "about"):
                    route.continue_()
                else:
                    remote.append(url)
                    route.abort()

            context.route("**/*", guard)
            for path in [p for p in pages(site) if not is_redirect(p)]:
                name = str(path.relative_to(site))
                errors: list[str] = []
                page = context.new_page()
                page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
                page.on("response", lambda r, e=errors: e.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
                remote.clear()
                response = page.goto(f"{server}/{path.relative_to(site).as_posix()}", wait_until="load")
                if response is None or response.status != 200:
                    problems.append(f"{name}: could not be loaded")
                    continue
                report = page.evaluate(_INSPECT)
                page.wait_for_load_state("networkidle")
                checked_math += report["mathElements"]
                for key, label in [
                    ("texErrors", "TeX errors"), ("unrendered", "math not rendered"),
                    ("rawTex", "raw TeX delimiters left in the text"), ("brokenImages", "broken images"),
                ]:
                    if report[key]:
                        problems.append(f"{name}: {label}: {report[key]}")
                if report.get("mathjaxMissing"):
                    problems.append(f"{name}: math on the page but MathJax did not load")
                if remote:
                    problems.append(f"{name}: requests to other hosts: {sorted(set(remote))}")
                if errors:
                    problems.append(f"{name}: console errors: {errors[:5]}")
                page.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
    if any("$" in p.read_text(encoding="utf-8") for p in (ROOT / "book").glob("*.ipynb")):
        assert checked_math > 0, "the chapters contain maths but no page had any .math element"
