""""Run it yourself" (book/run-it-yourself.md), the Linux route exactly as written: in a fresh copy
of the repository (``git archive`` of HEAD, no .venv), the venv commands of the "Linux and macOS"
tab install the package with JupyterLab and jupyterlab-myst, the extension is enabled, and the
student notebooks are written as the page says.

Needs the package indexes pip is configured with (it downloads JupyterLab): measured 2 to 5
minutes idle, so the install is in the long tier (``make test-long``, weekly); the page's commands
are checked on every ``make test`` by the first test. The Windows (PowerShell, cmd) and conda commands are not run by any test; the page says so.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "book" / "run-it-yourself.md"


def _linux_commands(text: str) -> list[str]:
    tab = text.split(":::{tab-item} Linux and macOS", 1)[1].split(":::", 1)[0]
    return re.search(r"```bash\n(.*?)```", tab, re.S).group(1).strip().splitlines()


def test_linux_commands_are_the_venv_route():
    commands = _linux_commands(PAGE.read_text(encoding="utf-8"))
    assert commands == ["python3 -m venv .venv", "source .venv/bin/activate", "pip install -e '.[lab]'"], commands


@pytest.mark.long
def test_linux_route_installs_jupyterlab_with_myst(tmp_path):
    text = PAGE.read_text(encoding="utf-8")
    clone = tmp_path / "prompticl"
    clone.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(clone)], input=archive, check=True)
    student = re.search(r"`(python tools/student_notebooks\.py --out student-notebooks)`", text).group(1)
    script = "\n".join(["set -e", *_linux_commands(text),
                        "jupyter labextension list 2>&1", "jupyter lab --version", student])
    run = subprocess.run(["bash", "-c", script], cwd=clone, capture_output=True, text=True, timeout=1800)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    myst = [line for line in out.splitlines() if "jupyterlab-myst" in line]
    assert myst and all("enabled" in line and "OK" in line for line in myst), "\n".join(myst) or out[-2000:]
    written = sorted(p.name for p in (clone / "student-notebooks").glob("*.ipynb"))
    assert "01-setting.ipynb" in written and len(written) >= 9, written
