"""Mutation check of the unit tier: break one formula at a time and confirm a test fails.

Each mutation replaces one exact piece of source text (it must occur exactly once), runs the given
unit-test files in a subprocess, and restores the file whatever happens. A mutation that no test
catches is reported as SURVIVED and makes the script exit 1. Run from the repository root:

    .venv/bin/python tools/mutations.py            # every mutation
    .venv/bin/python tools/mutations.py moments     # those whose name contains 'moments'

It edits ``src/prompticl`` in place, so run it on a clean checkout (a ``git worktree`` is best);
the file is restored even on Ctrl-C.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "prompticl"

#: name, file under src/prompticl, original text, mutated text, unit-test files that must catch it.
MUTATIONS = [
    ("moments: Sigma_tilde = Sigma_bar + 0.9 M", "_closed_forms.py",
     "return Moments(sigma_bar, mean_part, sigma_bar + mean_part)",
     "return Moments(sigma_bar, mean_part, sigma_bar + 0.9 * mean_part)", ["test_closed_forms.py"]),
    ("wishart_sas: n^2 instead of n(n+1)", "_closed_forms.py",
     "return n * (n + 1) * cov @ a @ cov + n * np.trace(a @ cov) * cov",
     "return n * n * cov @ a @ cov + n * np.trace(a @ cov) * cov", ["test_closed_forms.py"]),
    ("wishart_sas: tr(A) instead of tr(A Sigma)", "_closed_forms.py",
     "return n * (n + 1) * cov @ a @ cov + n * np.trace(a @ cov) * cov",
     "return n * (n + 1) * cov @ a @ cov + n * np.trace(a) * cov", ["test_closed_forms.py"]),
    ("curvature: joint without M", "_closed_forms.py",
     "return num + (np.trace(mom.sigma_tilde) + s2) * np.eye(d) + mom.mean_part",
     "return num + (np.trace(mom.sigma_tilde) + s2) * np.eye(d)", ["test_closed_forms.py", "test_gaps.py"]),
    ("curvature: joint with tr(Sigma_bar)", "_closed_forms.py",
     "return num + (np.trace(mom.sigma_tilde) + s2) * np.eye(d) + mom.mean_part",
     "return num + (np.trace(num) + s2) * np.eye(d) + mom.mean_part", ["test_closed_forms.py", "test_gaps.py"]),
    ("curvature: noise dropped (plain, heads)", "_closed_forms.py",
     "return num + (np.trace(num) + s2) * np.eye(d)\n",
     "return num + np.trace(num) * np.eye(d)\n", ["test_closed_forms.py"]),
    ("population_loss: no sigma^2", "_closed_forms.py",
     "out = np.trace(w @ _curvature_rest(regime, mom, noise), axis1=-2, axis2=-1) + noise**2",
     "out = np.trace(w @ _curvature_rest(regime, mom, noise), axis1=-2, axis2=-1)", ["test_closed_forms.py"]),
    ("optimal_biases: (n - 1) instead of n", "_gaps.py",
     "return spec.means - n * (W @ spec.x_cov @ (spec.means - centres).T).T",
     "return spec.means - (n - 1) * (W @ spec.x_cov @ (spec.means - centres).T).T", ["test_gaps.py"]),
    ("joint_gap: factor n dropped", "_gaps.py",
     'return float(n * np.trace(delta @ curvature("joint", mom, n, spec.noise) @ delta.T))',
     'return float(np.trace(delta @ curvature("joint", mom, n, spec.noise) @ delta.T))', ["test_gaps.py"]),
    ("plain_excess_loss: factor n dropped", "_gaps.py",
     "return float(n * np.trace(delta @ q @ delta.T))",
     "return float(np.trace(delta @ q @ delta.T))", ["test_gaps.py"]),
    ("exact moments: E[G(x)G] with n(n-1)", "_risk_moments.py",
     'GG = n**2 * T + n * (np.einsum("ikjl->ijkl", T) + np.einsum("iljk->ijkl", T))',
     'GG = n * (n - 1) * T + n * (np.einsum("ikjl->ijkl", T) + np.einsum("iljk->ijkl", T))', ["test_risk_moments.py"]),
    ("exact moments: tr(BSBS) halved", "_risk_moments.py",
     "V[d, d] = 4 * mu @ BSBmu + 2 * np.trace(B @ S @ B @ S)",
     "V[d, d] = 4 * mu @ BSBmu + np.trace(B @ S @ B @ S)", ["test_risk_moments.py"]),
    ("heads_scale_loss: misfit dropped", "_layer_closed_forms.py",
     "return base + n * resid",
     "return base", ["test_layer_closed_forms.py"]),
    ("bayes: posterior covariance without the data term", "_bayes.py",
     "tr_cov = np.trace(B @ B) - np.einsum(",
     "tr_cov = np.trace(B @ B) - 0 * np.einsum(", ["test_bayes.py"]),
    ("bayes: mixture spread of the component means dropped", "_bayes.py",
     "tr = np.einsum(\"bk,bk->b\", post, np.stack(trs, axis=1)) + spread",
     "tr = np.einsum(\"bk,bk->b\", post, np.stack(trs, axis=1))", ["test_bayes.py"]),
    ("bayes: posterior weights without the prior weights", "_bayes.py",
     "logs.append(ll + np.log(w.weights[k]))",
     "logs.append(ll)", ["test_bayes.py"]),
    ("bayes: noiseless isotropic closed form c(d - n + 1)", "_bayes.py",
     "total += w.weights[k] * c * (w.d - n)",
     "total += w.weights[k] * c * (w.d - n + 1)", ["test_bayes.py"]),
    ("bayes: label noise left out of the floor", "_bayes.py",
     "aware.append(noise2 + total)",
     "aware.append(total)", ["test_bayes.py"]),
    ("deep: residual dropped in the hidden layers", "_deep.py",
     "Z = Z + out if layer < L - 1 else Z[:, -1:] + out",
     "Z = out if layer < L - 1 else Z[:, -1:] + out", ["test_deep.py"]),
    ("deep: query token among the keys", "_deep.py",
     "        Zc = Z[:, :m]\n",
     "        Zc = Z\n", ["test_deep.py"]),
    # the argument checks of the public API (issue 19)
    ("api checks: n not checked", "_validation.py",
     '    "n": _N,\n', '    "n": lambda value, where, args: value,\n', ["test_validation.py"]),
    ("api checks: W shape not compared with the spec", "_validation.py",
     "arr.shape[0] != arr.shape[1] or (d is not None and arr.shape != (d, d))",
     "arr.shape[0] != arr.shape[1]", ["test_validation.py"]),
    ("api checks: NaN accepted as a real number", "_validation.py",
     "        if not math.isfinite(v):\n            raise _bad_value(where, what, value)\n",
     "", ["test_validation.py"]),
    ("api checks: complex arrays accepted", "_validation.py",
     'if arr.dtype.kind not in "iuf":\n        raise TypeError(f"{where} must be real numbers',
     'if arr.dtype.kind not in "iufc":\n        raise TypeError(f"{where} must be real numbers', ["test_validation.py"]),
    ("api checks: numpy integers refused", "_validation.py",
     "return isinstance(value, (int, np.integer)) and not",
     "return isinstance(value, int) and not", ["test_validation.py"]),
    ("api checks: functions exported unwrapped", "__init__.py",
     "        value = validated(value, name)\n", "", ["test_validation.py"]),
    ("api checks: rule for 'seed' removed", "_validation.py",
     '    "seed": _SEED,\n', "", ["test_validation.py"]),
    ("Spec(...) unchecked", "_spec.py",
     "        checked = _check_fields(self.d,", "        return\n        checked = _check_fields(self.d,",
     ["test_validation.py"]),
    ("save_figure: name with a folder accepted", "_figures/export.py",
     "    if not _NAME.fullmatch(name) or name in (\".\", \"..\"):",
     "    if False:", ["test_validation.py"]),
    ("save_figure: NaN in the data not named", "_figures/export.py",
     "        if not math.isfinite(value):", "        if False:", ["test_validation.py"]),
]


def run(selected: list[tuple]) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OPENBLAS_NUM_THREADS="1")
    survived = 0
    print(f"{'mutation':55} {'file':24} result (time)")
    for name, rel, old, new, tests in selected:
        path = SRC / rel
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            print(f"{name:55} {rel:24} NOT APPLIED: the original text occurs {text.count(old)} times")
            survived += 1
            continue
        start = time.monotonic()
        try:
            path.write_text(text.replace(old, new), encoding="utf-8")
            cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-p", "no:xdist",
                   "-p", "no:cacheprovider", *[str(ROOT / "tests" / "unit" / t) for t in tests]]
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        finally:
            path.write_text(text, encoding="utf-8")
        caught = proc.returncode == 1
        failed = [line.split(" - ")[0].removeprefix("FAILED ") for line in proc.stdout.splitlines() if line.startswith("FAILED")]
        where = failed[0].split("/")[-1] if failed else f"exit {proc.returncode}"
        print(f"{name:55} {rel:24} {'caught by ' + where if caught else 'SURVIVED (' + where + ')'} "
              f"({time.monotonic() - start:.0f} s)")
        survived += not caught
    print(f"{len(selected) - survived} of {len(selected)} mutations caught")
    return 1 if survived else 0


if __name__ == "__main__":
    pattern = sys.argv[1] if len(sys.argv) > 1 else ""
    sys.exit(run([m for m in MUTATIONS if pattern in m[0]]))
