"""environment.yml (conda) and pyproject.toml list the same packages with the same version bounds."""
from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _spec(text: str) -> tuple[str, str]:
    req = Requirement(text)
    assert not req.extras and req.marker is None, f"unsupported requirement {text!r}"
    return canonicalize_name(req.name), ",".join(sorted(str(s) for s in req.specifier))


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        texts += extra
    reqs = dict(_spec(t) for t in texts)
    assert len(reqs) == len(texts), "a package is listed twice in pyproject.toml"
    reqs["python"] = _spec("python" + project["requires-python"])[1]
    return reqs


def environment_requirements() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    texts, pip_lines = [], []
    for item in env["dependencies"]:
        if isinstance(item, dict):
            assert set(item) == {"pip"}, f"unexpected entry {item!r} in environment.yml"
            for line in item["pip"]:
                (pip_lines if line.startswith("-") or line == "." else texts).append(line)
        elif item != "pip":
            texts.append(item)
    reqs = dict(_spec(t.replace(" ", "")) for t in texts)
    assert len(reqs) == len(texts), "a package is listed twice in environment.yml"
    return reqs, pip_lines


def test_same_packages_and_bounds():
    want = pyproject_requirements()
    got, _ = environment_requirements()
    only_py = sorted(set(want) - set(got))
    only_env = sorted(set(got) - set(want))
    assert not only_py and not only_env, (
        f"only in pyproject.toml: {only_py}; only in environment.yml: {only_env}"
    )
    differ = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
    assert not differ, f"version bounds differ (pyproject, environment.yml): {differ}"


def test_environment_installs_the_project():
    _, pip_lines = environment_requirements()
    assert "-e ." in pip_lines, "environment.yml must install the project itself ('-e .' under pip)"
