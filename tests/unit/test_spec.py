"""Validation, loading and serialisation of task-mixture specs (prompticl._spec)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from prompticl._spec import PSD_RTOL, WEIGHT_TOL, Spec, SpecError, load_spec, spec_from_dict, spec_names, spec_to_dict, with_overrides

BUILTINS = {
    "zero-mean",
    "zero-mean-wide",
    "nonzero-mean",
    "nonzero-mean-wide",
    "noisy",
    "anisotropic",
    "three-task",
}


def base() -> dict:
    """A small valid spec (d = 3, two tasks) that each case below breaks in one place."""
    return {
        "d": 3,
        "noise": 0.1,
        "x_cov": [[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]],
        "tasks": [
            {"weight": 0.25, "mean": [1.0, 0.0, -1.0], "cov": 1.0},
            {"weight": 0.75, "mean": -0.5, "cov": [1.0, 2.0, 0.0]},
        ],
    }


def broken(**changes) -> dict:
    """``base()`` with dotted-path replacements, e.g. ``broken(**{"tasks.0.weight": 0})``."""
    data = base()
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return data


_DELETE = object()


def check_one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message.strip() == message and message
    return message


# Each case: (data, regex the message must match).  Rules: weights positive and summing to one
# within WEIGHT_TOL; shapes consistent with d; covariances symmetric PSD; x_cov PD; noise >= 0;
# finite numbers; no unknown fields; required fields present.
INVALID = {
    "weight-zero": (broken(**{"tasks.0.weight": 0.0, "tasks.1.weight": 1.0}), r"tasks\[0\]\.weight: must be > 0"),
    "weight-negative": (broken(**{"tasks.0.weight": -0.25, "tasks.1.weight": 1.25}), r"tasks\[0\]\.weight: must be > 0"),
    "weights-sum": (broken(**{"tasks.1.weight": 0.7}), r"weights must sum to 1, they sum to 0\.95"),
    "weights-sum-just-outside": (broken(**{"tasks.1.weight": 0.75 + 10 * WEIGHT_TOL}), r"weights must sum to 1"),
    "weight-string": (broken(**{"tasks.0.weight": "0.25"}), r"tasks\[0\]\.weight: expected a number, got str"),
    "weight-bool": (broken(**{"tasks.0.weight": True}), r"tasks\[0\]\.weight: expected a number, got bool"),
    "weight-nan": (broken(**{"tasks.0.weight": float("nan")}), r"tasks\[0\]\.weight: must be finite"),
    "mean-length": (broken(**{"tasks.0.mean": [1.0, 2.0]}), r"tasks\[0\]\.mean: expected a scalar or a list of length d=3, got shape \(2,\)"),
    "mean-matrix": (broken(**{"tasks.0.mean": [[1.0, 2.0, 3.0]]}), r"tasks\[0\]\.mean: expected a scalar or a list of length d=3, got shape \(1, 3\)"),
    "mean-inf": (broken(**{"tasks.0.mean": [1.0, float("inf"), 0.0]}), r"tasks\[0\]\.mean\[1\]: must be finite"),
    "mean-string-entry": (broken(**{"tasks.0.mean": [1.0, "a", 0.0]}), r"tasks\[0\]\.mean\[1\]: expected a number, got str"),
    "mean-empty": (broken(**{"tasks.0.mean": []}), r"tasks\[0\]\.mean: empty list"),
    "cov-diag-length": (broken(**{"tasks.1.cov": [1.0, 2.0]}), r"tasks\[1\]\.cov: a diagonal must have length d=3, got 2"),
    "cov-shape": (broken(**{"tasks.1.cov": [[1.0, 0.0], [0.0, 1.0]]}), r"tasks\[1\]\.cov: expected a scalar, a length-3 diagonal or a 3x3 matrix, got shape \(2, 2\)"),
    "cov-ragged": (broken(**{"tasks.1.cov": [[1.0, 0.0, 0.0], [0.0, 1.0], [0.0, 0.0, 1.0]]}), r"tasks\[1\]\.cov: rows of the matrix have different lengths"),
    "cov-asymmetric": (broken(**{"tasks.1.cov": [[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]}), r"tasks\[1\]\.cov: matrix is not symmetric"),
    "cov-not-psd": (broken(**{"tasks.1.cov": [[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]}), r"tasks\[1\]\.cov: must be positive semidefinite \(smallest eigenvalue -1\)"),
    "cov-negative-scalar": (broken(**{"tasks.0.cov": -1.0}), r"tasks\[0\]\.cov: must be positive semidefinite"),
    "cov-negative-diag": (broken(**{"tasks.1.cov": [1.0, -0.5, 0.0]}), r"tasks\[1\]\.cov: must be positive semidefinite \(smallest eigenvalue -0\.5\)"),
    "cov-nan": (broken(**{"tasks.1.cov": [[1.0, 0.0, 0.0], [0.0, float("nan"), 0.0], [0.0, 0.0, 1.0]]}), r"tasks\[1\]\.cov\[1\]\[1\]: must be finite"),
    "x_cov-singular": (broken(x_cov=[1.0, 1.0, 0.0]), r"x_cov: must be positive definite \(smallest eigenvalue 0\)"),
    "x_cov-zero": (broken(x_cov=0.0), r"x_cov: must be positive definite"),
    "x_cov-not-psd": (broken(x_cov=[[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), r"x_cov: must be positive definite \(smallest eigenvalue -1\)"),
    "x_cov-asymmetric": (broken(x_cov=[[1.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]]), r"x_cov: matrix is not symmetric"),
    "x_cov-shape": (broken(x_cov=[[1.0, 0.0], [0.0, 1.0]]), r"x_cov: expected a scalar, a length-3 diagonal or a 3x3 matrix"),
    "noise-negative": (broken(noise=-0.1), r"noise: must be >= 0, got -0\.1"),
    "noise-inf": (broken(noise=float("inf")), r"noise: must be finite"),
    "noise-string": (broken(noise="0.1"), r"noise: expected a number, got str"),
    "noise-missing": (broken(noise=_DELETE), r"noise: missing"),
    "d-zero": (broken(d=0), r"d: must be a positive integer, got 0"),
    "d-float": (broken(d=3.0), r"d: must be a positive integer, got 3\.0"),
    "d-bool": (broken(d=True), r"d: must be a positive integer, got True"),
    "d-missing": (broken(d=_DELETE), r"d: missing"),
    "tasks-missing": (broken(tasks=_DELETE), r"tasks: missing"),
    "tasks-empty": (broken(tasks=[]), r"tasks: must be a non-empty list"),
    "tasks-mapping": (broken(tasks={"a": 1}), r"tasks: must be a non-empty list"),
    "task-not-mapping": (broken(**{"tasks.0": 0.25}), r"tasks\[0\]: expected a mapping, got float"),
    "task-missing-cov": (broken(**{"tasks.1.cov": _DELETE}), r"tasks\[1\]\.cov: missing"),
    "task-missing-weight": (broken(**{"tasks.0.weight": _DELETE}), r"tasks\[0\]\.weight: missing"),
    "unknown-top": (dict(base(), sigma=0.1), r"sigma: unknown field \(allowed: d, description, name, noise, tasks, title, x_cov\)"),
    "unknown-task": (broken(**{"tasks.1.std": 1.0}), r"tasks\[1\]\.std: unknown field \(allowed: cov, mean, name, weight\)"),
    "unknown-non-string-key": (dict(base(), **{}) | {1: "x"}, r"1: unknown field"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_spec_is_rejected_with_a_one_line_message(case):
    data, pattern = INVALID[case]
    with pytest.raises(SpecError, match=pattern) as exc:
        spec_from_dict(data, "case.yaml")
    message = check_one_line(exc)
    assert message.startswith("invalid spec case.yaml: ")


def test_top_level_must_be_a_mapping():
    with pytest.raises(SpecError, match=r"<top level>: expected a mapping, got list"):
        spec_from_dict([1, 2])


def test_the_base_spec_is_valid():
    """Guards the table above: every case breaks exactly one thing of a valid spec."""
    spec = spec_from_dict(base())
    assert spec.d == 3 and spec.K == 2 and spec.noise == 0.1


def test_weight_sum_tolerance_is_inclusive_of_rounding():
    data = broken(**{"tasks.1.weight": 0.75 + 0.1 * WEIGHT_TOL})
    assert spec_from_dict(data).K == 2


def test_psd_tolerance_accepts_rounding_noise_and_symmetrises():
    tiny = 0.1 * PSD_RTOL
    cov = [[1.0, 1.0 + tiny, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]  # rank 2, PSD, asymmetric by tiny
    spec = spec_from_dict(broken(**{"tasks.1.cov": cov}))
    np.testing.assert_array_equal(spec.covs[1], spec.covs[1].T)
    assert np.linalg.eigvalsh(spec.covs[1])[0] >= -PSD_RTOL


def test_rank_deficient_task_covariance_and_zero_noise_are_allowed():
    spec = spec_from_dict(broken(noise=0, **{"tasks.0.cov": 0.0, "tasks.1.cov": [1.0, 0.0, 0.0]}))
    assert spec.noise == 0.0
    np.testing.assert_array_equal(spec.covs[0], np.zeros((3, 3)))


def test_scalar_list_and_nested_list_forms_agree():
    d = 3
    as_scalar = broken(x_cov=2.0, **{"tasks.0.mean": 1.5, "tasks.0.cov": 0.5})
    as_list = broken(x_cov=[2.0, 2.0, 2.0], **{"tasks.0.mean": [1.5, 1.5, 1.5], "tasks.0.cov": [0.5] * 3})
    as_matrix = broken(
        x_cov=(2.0 * np.eye(d)).tolist(),
        **{"tasks.0.mean": [1.5, 1.5, 1.5], "tasks.0.cov": (0.5 * np.eye(d)).tolist()},
    )
    specs = [spec_from_dict(x) for x in (as_scalar, as_list, as_matrix)]
    for other in specs[1:]:
        np.testing.assert_array_equal(other.x_cov, specs[0].x_cov)
        np.testing.assert_array_equal(other.means, specs[0].means)
        np.testing.assert_array_equal(other.covs, specs[0].covs)
    np.testing.assert_array_equal(specs[0].x_cov, 2.0 * np.eye(d))
    np.testing.assert_array_equal(specs[0].means[0], [1.5, 1.5, 1.5])
    # A flat list is a diagonal for a covariance, a vector for a mean.
    np.testing.assert_array_equal(specs[0].covs[1], np.diag([1.0, 2.0, 0.0]))
    np.testing.assert_array_equal(specs[0].means[1], [-0.5, -0.5, -0.5])


def test_x_cov_defaults_to_identity_and_numpy_arrays_are_accepted():
    data = base()
    del data["x_cov"]
    data["tasks"][0]["cov"] = np.diag([1.0, 2.0, 3.0])
    spec = spec_from_dict(data)
    np.testing.assert_array_equal(spec.x_cov, np.eye(3))
    np.testing.assert_array_equal(spec.covs[0], np.diag([1.0, 2.0, 3.0]))
    data["tasks"][0]["cov"] = np.array([[1.0, np.nan], [np.nan, 1.0]])
    with pytest.raises(SpecError, match=r"tasks\[0\]\.cov: must be finite"):
        spec_from_dict(data)


def test_builtin_names():
    assert set(spec_names()) == BUILTINS
    assert spec_names() == sorted(spec_names())


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_specs_load_by_name_and_are_valid(name):
    spec = load_spec(name)
    assert isinstance(spec, Spec)
    assert spec.name == name and spec.description
    assert abs(spec.weights.sum() - 1.0) <= WEIGHT_TOL
    assert spec.means.shape == (spec.K, spec.d) and spec.covs.shape == (spec.K, spec.d, spec.d)
    assert np.linalg.eigvalsh(spec.x_cov)[0] > 0


def test_zero_mean_spec_is_the_papers_figure_1_mixture():
    spec = load_spec("zero-mean")
    np.testing.assert_array_equal(spec.weights, [0.3, 0.7])
    np.testing.assert_allclose(spec.weights @ spec.means, np.zeros(10), atol=1e-15)
    np.testing.assert_array_equal(spec.covs[1], 2.0 * np.eye(10))
    assert spec.d == 10 and spec.noise == 0.0


def test_three_task_spec_is_general():
    spec = load_spec("three-task")
    assert spec.K == 3 and spec.noise > 0
    assert not np.allclose(spec.x_cov, np.diag(np.diag(spec.x_cov)))


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_round_trip_through_dict(name):
    spec = load_spec(name)
    data = spec_to_dict(spec)
    again = spec_from_dict(copy.deepcopy(data))
    assert again.name == spec.name and again.description == spec.description and again.title == spec.title
    assert again.d == spec.d and again.noise == spec.noise
    for field in ("x_cov", "weights", "means", "covs"):
        np.testing.assert_array_equal(getattr(again, field), getattr(spec, field))
    assert spec_to_dict(again) == data


def test_load_spec_from_path_mapping_and_spec(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "d: 2\nnoise: 0.5\ntasks:\n  - {weight: 1.0, mean: [1, 2], cov: [[1, 0.5], [0.5, 1]]}\n",
        encoding="utf-8",
    )
    spec = load_spec(path)
    assert spec.name == "mine" and spec.d == 2 and spec.K == 1 and spec.noise == 0.5
    assert load_spec(str(path)).name == "mine"
    assert load_spec(spec) is spec
    assert load_spec(spec_to_dict(spec)).d == 2


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("d: [1, 2\n", r"invalid spec .*bad\.yaml, line 2, column 1: YAML does not parse"),
        ("d: 2\n  noise: 0\n x: 1\n", r"invalid spec .*bad\.yaml, line 2, column 8: YAML does not parse"),
        ("", r"invalid spec .*bad\.yaml: <top level>: expected a mapping, got NoneType"),
        ("- 1\n- 2\n", r"<top level>: expected a mapping, got list"),
        ("d: 2\nnoise: 0\ntasks:\n  - {weight: 0.5, mean: 0, cov: 1}\n", r"bad\.yaml: tasks\[\*\]\.weight: weights must sum to 1"),
        ("d: 2\nnoise: 0\ntasks:\n  - {weight: 1, mean: 0, cov: [[1, 2], [2, 1]]}\n", r"bad\.yaml: tasks\[0\]\.cov: must be positive semidefinite"),
        ("d: 2\nnoise: 0\ntasks:\n  - {weight: 1, mean: [0, 0, 0], cov: 1}\n", r"bad\.yaml: tasks\[0\]\.mean: expected a scalar or a list of length d=2"),
        ("d: 2\nnoise: .nan\ntasks:\n  - {weight: 1, mean: 0, cov: 1}\n", r"bad\.yaml: noise: must be finite"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, text, pattern):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=pattern) as exc:
        load_spec(path)
    check_one_line(exc)


def test_missing_files_and_unknown_names(tmp_path):
    for target in (tmp_path / "missing.yaml", "no-such-spec", tmp_path):
        with pytest.raises(SpecError, match=r"is neither a file nor a built-in spec \(built-ins: anisotropic, ") as exc:
            load_spec(target)
        check_one_line(exc)


def test_undecodable_file(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"d: 2 # \xff\xfe\n")
    with pytest.raises(SpecError, match=r"invalid spec .*latin\.yaml, line 1: byte 0xff is not UTF-8") as exc:
        load_spec(path)
    check_one_line(exc)


def test_with_overrides_revalidates():
    spec = load_spec("zero-mean")
    noisy = with_overrides(spec, noise=0.3)
    assert noisy.noise == 0.3 and spec.noise == 0.0
    np.testing.assert_array_equal(noisy.covs, spec.covs)
    with pytest.raises(SpecError, match=r"noise: must be >= 0"):
        with_overrides(spec, noise=-1.0)


def test_whitened_spec_has_identity_features_and_transformed_tasks():
    spec = load_spec("three-task")
    white = spec.whitened()
    r = spec.x_sqrt
    np.testing.assert_allclose(r @ r, spec.x_cov, atol=1e-12)
    np.testing.assert_array_equal(white.x_cov, np.eye(spec.d))
    np.testing.assert_allclose(white.means, spec.means @ r, atol=1e-12)
    for k in range(spec.K):
        np.testing.assert_allclose(white.covs[k], r @ spec.covs[k] @ r, atol=1e-12)
        s = spec.cov_sqrts[k]
        np.testing.assert_allclose(s @ s, spec.covs[k], atol=1e-12)


def test_numpy_scalars_are_numbers():  # issue 19: d=np.int64(2) and noise=np.float32(0.1) were refused
    spec = spec_from_dict({"d": np.int64(2), "noise": np.float32(0.1),
                           "tasks": [{"weight": np.float64(1.0), "mean": np.int32(1), "cov": np.float32(2.0)}]})
    assert spec.d == 2 and type(spec.d) is int and spec.noise == pytest.approx(0.1) and spec.covs[0, 0, 0] == 2.0
    with pytest.raises(SpecError, match="noise: expected a number, got bool"):
        spec_from_dict({"d": 2, "noise": np.bool_(True), "tasks": [{"weight": 1, "mean": 0, "cov": 1}]})


def test_tiny_but_positive_definite_x_cov_is_accepted():  # issue 19: 1e-12·I was "not positive definite"
    spec = spec_from_dict({"d": 2, "noise": 0, "x_cov": 1e-12, "tasks": [{"weight": 1, "mean": 0, "cov": 1}]})
    assert spec.x_cov[0, 0] == 1e-12
    with pytest.raises(SpecError, match="x_cov: must be positive definite"):
        spec_from_dict({"d": 2, "noise": 0, "x_cov": [1e-12, 0], "tasks": [{"weight": 1, "mean": 0, "cov": 1}]})


@pytest.mark.parametrize("key", ["name", "title", "description"])
@pytest.mark.parametrize("value", [[1, 2], None, 5])
def test_text_fields_must_be_text(key, value):  # issue 19: name [1, 2] / null became "spec None"
    with pytest.raises(SpecError, match=f"{key}: must be text"):
        spec_from_dict({"d": 2, "noise": 0, key: value, "tasks": [{"weight": 1, "mean": 0, "cov": 1}]})


def _array_fields(spec):
    return {"x_cov": spec.x_cov, "weights": spec.weights, "means": spec.means, "covs": spec.covs,
            "x_sqrt": spec.x_sqrt, "cov_sqrts": spec.cov_sqrts}


@pytest.mark.parametrize("make", ["load_spec", "spec_from_dict", "Spec", "whitened", "with_overrides"])
def test_a_specs_arrays_cannot_be_changed_after_validation(make):
    """Validation is done once: writing into a spec's arrays (``spec.covs[0] = -1``, a negative
    'covariance') would bypass it.  Every array is read-only, cannot be made writeable again, and
    does not share memory with the arrays it was built from."""
    given = {"x_cov": np.eye(3), "weights": np.array([0.25, 0.75]), "means": np.zeros((2, 3)),
             "covs": np.stack([np.eye(3), 2 * np.eye(3)])}
    spec = {
        "load_spec": lambda: load_spec("zero-mean"),
        "spec_from_dict": lambda: spec_from_dict(base()),
        "Spec": lambda: Spec(d=3, noise=0.1, **given),
        "whitened": lambda: spec_from_dict(base()).whitened(),
        "with_overrides": lambda: with_overrides(load_spec("zero-mean"), noise=0.5),
    }[make]()
    for name, array in _array_fields(spec).items():
        with pytest.raises(ValueError, match="read-only"):
            array[...] = -1.0
        with pytest.raises(ValueError):
            array.setflags(write=True)
        assert all(not np.shares_memory(array, g) for g in given.values()), name
    if make == "Spec":
        given["covs"][0] = -np.eye(3)  # the caller's array changes, the spec does not
        assert np.all(np.linalg.eigvalsh(spec.covs) > 0)
