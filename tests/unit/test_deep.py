"""The JAX trainer of deeper and softmax attention (chapter 09, issue 20)."""
from __future__ import annotations

import json

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from prompticl import cli  # noqa: E402
from prompticl._closed_forms import optimal_losses  # noqa: E402
from prompticl._attention import effective_predict  # noqa: E402
from prompticl._deep import _forward, _from_layer_optimum, _grow, _jax, _sample, deep_test_loss, train_deep, train_gd_steps  # noqa: E402
from prompticl._layer_optimum import layer_optimum  # noqa: E402
from prompticl._experiments import within_tolerance  # noqa: E402
from prompticl._layer_optimum import layer_optima  # noqa: E402
from prompticl._spec import spec_from_dict  # noqa: E402

TINY = spec_from_dict({"d": 2, "noise": 0.2, "name": "tiny", "tasks": [
    {"weight": 0.4, "mean": [1.0, -0.5], "cov": [0.5, 0.3]},
    {"weight": 0.6, "mean": [-0.5, 0.5], "cov": 1.0},
]})


def _random_params(rng, L, D, K, prompts=True, heads=False):
    p = {name: rng.standard_normal((L, D, D)) / D for name in ("Wq", "Wk", "Wv")}
    p["prompts"] = rng.standard_normal((K, 1, D)) if prompts else None
    p["heads"] = rng.standard_normal((K, D)) if heads else None
    return p


def test_one_linear_layer_is_chapter_08s_layer():
    """With one layer the prediction is xᵀ A G b: A = (W_Q W_Kᵀ)[:d]/√D, G the Gram of prompt and
    context tokens (the query excluded), b = W_V e_D (or the head v_k through the residual)."""
    _, jnp = _jax()
    rng = np.random.default_rng(0)
    data = _sample(TINY, 4, 7, rng)
    D, K = 3, 2
    p = _random_params(rng, 1, D, K)
    pred = np.asarray(_forward(p, jnp.asarray(data["ctx"]), jnp.asarray(data["zq"]), data["task"], "linear", jnp))
    for i in range(len(pred)):
        Z = np.concatenate([p["prompts"][data["task"][i]], data["ctx"][i]])
        G = Z.T @ Z
        A = (p["Wq"][0] @ p["Wk"][0].T)[:2] / np.sqrt(D)
        x = data["zq"][i, :2]
        assert pred[i] == pytest.approx(x @ A @ G @ p["Wv"][0][:, -1], rel=1e-10)


def test_a_grown_layer_is_the_identity():
    """Nested classes: one more layer with zero value map leaves every prediction unchanged."""
    _, jnp = _jax()
    rng = np.random.default_rng(1)
    data = _sample(TINY, 3, 5, rng)
    for attention in ("linear", "softmax"):
        p = _random_params(rng, 2, 3, 2, heads=True)
        p.pop("Wk")
        grown = _grow(p, rng)
        args = (jnp.asarray(data["ctx"]), jnp.asarray(data["zq"]), data["task"], attention, jnp)
        before, after = np.asarray(_forward(p, *args)), np.asarray(_forward(grown, *args))
        assert np.allclose(before, after, rtol=1e-12) and grown["Wq"].shape[0] == 3
        # control: a nonzero value map in the new layer changes the predictions
        grown["Wv"][-1] = rng.standard_normal((3, 3))
        assert not np.allclose(before, np.asarray(_forward(grown, *args)))


@pytest.mark.slow  # more than a second: make test only
@pytest.mark.parametrize("regime", ["plain", "joint-heads"])
def test_one_linear_layer_lands_on_the_certified_optimum(regime):
    """The trainer's first check: L = 1, linear, trained from random starts alone (no chapter-8
    start), within the tolerance of chapter 7 (4 standard errors plus the excess risk p/N of N
    training prompts) of chapter 8's certified optimum."""
    samples = 3000
    res = train_deep(TINY, 3, regime, 1, samples=samples, starts=3, seed=0, layer_start=False)
    est = deep_test_loss(TINY, res, samples=20000, seed=1)
    target = layer_optima(TINY, 3, "full")[regime].loss
    p = 3 * 3 + 2 * 3 + 2 * 3  # A, b_k, prompt biases (d = 2, K = 2)
    assert within_tolerance(est.loss, est.se, target, p / (2 * samples)), (est.loss, est.se, target)
    # control: a start that stopped early (one L-BFGS iteration) is not within the tolerance
    bad = train_deep(TINY, 3, regime, 1, samples=samples, starts=1, seed=0, maxiter=1, layer_start=False)
    bad_est = deep_test_loss(TINY, bad, samples=20000, seed=1)
    assert not within_tolerance(bad_est.loss, bad_est.se, target, p / (2 * samples))


@pytest.mark.parametrize("regime", ["plain", "finetune", "joint", "joint-heads"])
def test_chapter_8_start_is_the_certified_layer(regime):
    """The chapter-8 start written as W_Q, W_V, prompts and heads predicts exactly xᵀ(A G b_k + c_k)
    of the certified optimum (the heads' residual term h_k·z_q included)."""
    _, jnp = _jax()
    rng = np.random.default_rng(3)
    data = _sample(TINY, 3, 6, rng)
    p = _from_layer_optimum(TINY, 3, regime)
    p.setdefault("prompts", None)
    p.setdefault("heads", None)
    pred = np.asarray(_forward(p, jnp.asarray(data["ctx"]), jnp.asarray(data["zq"]), data["task"], "linear", jnp))
    eff = layer_optimum(TINY, 3, regime, "full").eff
    G = np.einsum("bni,bnj->bij", data["ctx"], data["ctx"])
    want = effective_predict(eff, G, data["zq"][:, :2], data["task"])
    assert np.allclose(pred, want, rtol=1e-9, atol=1e-12)
    # and it is a start: one linear layer trained with it lands on the optimum from no random start
    res = train_deep(TINY, 3, regime, 1, samples=2000, starts=0, seed=0)
    est = deep_test_loss(TINY, res, samples=20000, seed=1)
    target = layer_optima(TINY, 3, "full")[regime].loss
    assert within_tolerance(est.loss, est.se, target, 21 / 4000), (est.loss, est.se, target)


def test_one_gd_step_from_zero_is_the_reduced_plain_model():
    """The reference with one step and a shared start is ŷ = xᵀ(c + ΓXᵀ(y − Xc)); with plain training
    its loss matches the reduced closed form L_PT up to the training sample's excess risk (the start c
    may only help, so it is compared from above with the same tolerance)."""
    res = train_gd_steps(TINY, 3, "plain", 1, samples=3000)
    est = deep_test_loss(TINY, res, samples=20000, seed=2)
    target = optimal_losses(TINY, [3])["plain"][0]
    assert est.loss <= target * (1 + 6 / 6000) + 4 * est.se
    assert est.loss >= 0.8 * target  # not far below: a learned start is only a mean correction


@pytest.mark.slow  # more than a second: make test only
def test_nested_validation_loss_non_increasing():
    """The grown start begins at the (L−1)-layer model and each start keeps its best validated point,
    so the validation loss cannot increase with L; the reported val_loss is that of the returned
    parameters."""
    one = train_deep(TINY, 2, "joint", 1, samples=500, starts=1, seed=0, maxiter=300)
    two = train_deep(TINY, 2, "joint", 2, samples=500, starts=1, seed=0, maxiter=300, warm=one)
    assert two.val_loss <= one.val_loss + 1e-12
    assert len(two.start_losses) == 2  # one random start and the grown one
    _, jnp = _jax()
    val = _sample(TINY, 2, 2000, np.random.default_rng([0, 2, 22]))
    pred = np.asarray(_forward({k: None if v is None else jnp.asarray(v) for k, v in two.params.items()},
                               jnp.asarray(val["ctx"]), jnp.asarray(val["zq"]), val["task"], "linear", jnp))
    assert np.sum(val["w"] * (pred - val["y"]) ** 2) == pytest.approx(two.val_loss, rel=1e-10)


@pytest.mark.slow  # more than a second: make test only
def test_depth_does_not_raise_the_test_loss():
    """Two layers grown from one, both early-stopped: the fresh-prompt test loss is not above one
    layer's (3 s.e.), and the validation loss (held out, as the test) agrees with the test loss."""
    one = train_deep(TINY, 3, "joint", 1, samples=1500, starts=0, seed=0)
    two = train_deep(TINY, 3, "joint", 2, samples=1500, starts=0, seed=0, warm=one)
    e1, e2 = deep_test_loss(TINY, one, samples=20000, seed=1), deep_test_loss(TINY, two, samples=20000, seed=1)
    assert e2.loss <= e1.loss + 3 * np.hypot(e1.se, e2.se), (e1.loss, e2.loss)
    for res, est in ((one, e1), (two, e2)):
        assert abs(est.loss - res.val_loss) <= 0.1 * est.loss, (res.val_loss, est.loss)


def test_softmax_trains():
    res = train_deep(TINY, 3, "joint", 1, attention="softmax", samples=500, starts=1, maxiter=200)
    est = deep_test_loss(TINY, res, samples=4000)
    assert np.isfinite(est.loss) and est.ci95[0] < est.loss < est.ci95[1]


def test_cli_train_layers_json(capsys, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\nd: 2\nnoise: 0.2\ntasks:\n  - {weight: 0.4, mean: [1.0, -0.5], cov: [0.5, 0.3]}\n"
                    "  - {weight: 0.6, mean: [-0.5, 0.5], cov: 1.0}\n")
    rc = cli.main(["train", str(path), "--regime", "joint", "--n", "2", "--layers", "1", "--starts", "1",
                   "--deep-samples", "300", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0
    data = json.loads(out)
    for key in ("test_loss", "ci95", "theory", "layer_optimum", "bayes", "bayes_se", "layers", "attention"):
        assert key in data
    assert data["layers"] == 1 and data["attention"] == "linear"
    assert data["bayes"] < data["layer_optimum"] <= data["theory"] * (1 + 1e-9)


@pytest.mark.parametrize("argv,needle", [
    (["--layers", "0"], "expected an integer >= 1"),
    (["--layers", "9"], "above the limit 4"),
    (["--layers", "2", "--method", "adam"], "leave out --method"),
    (["--layers", "3", "--n", "150"], "--allow-long"),
    (["--attention", "tanh"], "invalid choice"),
    (["--attention", "softmax", "--starts", "0"], "no certified start"),
    (["--layers", "2", "--starts", "-1"], "--starts"),
])
def test_cli_train_layers_bad_input(capsys, argv, needle):
    base = ["train", "noisy", "--regime", "joint"] + ([] if "--n" in argv else ["--n", "5"])
    rc = cli.main(base + argv)
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and needle in err


def test_gd_reference_grown_step_by_step():
    """The L-step reference grown from the (L−1)-step one (one more step with Γ = 0, the same
    predictor) keeps the validation loss from increasing with L; a wrong warm start is refused."""
    one = train_gd_steps(TINY, 3, "joint", 1, samples=400)
    two = train_gd_steps(TINY, 3, "joint", 2, samples=400, warm=one)
    assert two.val_loss <= one.val_loss + 1e-12 and two.params["Gamma"].shape == (2, 2, 2)
    with pytest.raises(ValueError):
        train_gd_steps(TINY, 3, "joint", 3, samples=400, warm=one)
