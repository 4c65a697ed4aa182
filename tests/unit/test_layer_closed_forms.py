"""Closed forms of the layer beyond the reduced model (prompticl._layer_closed_forms), against the certified
optimum of prompticl._layer_optimum."""
import numpy as np
import pytest

from prompticl import load_spec, optimal_losses, spec_from_dict
from prompticl._reduced import to_reduced
from prompticl._layer_optimum import layer_optimum
from prompticl._layer_closed_forms import centred_spec, heads_scale_loss, joint_shift_losses, task_optimum_losses
from support import DIAG3, SHAPES, SYMMETRIC



@pytest.mark.parametrize("spec_data,n", [(None, 50), (SYMMETRIC, 50), (DIAG3, 7)])
def test_joint_shift_closed_form(spec_data, n):
    spec = load_spec("nonzero-mean") if spec_data is None else spec_from_dict(spec_data)
    closed = joint_shift_losses(spec, [n])[0]
    opt = layer_optimum(spec, n, "joint", "shift")
    assert opt.loss == pytest.approx(closed, rel=1e-10)
    # the optimal shift m = −b_x/b_y is the mixture mean
    shift = to_reduced(opt.eff).centres[0]
    assert np.allclose(shift, spec.weights @ spec.means, atol=1e-6)
    # the best shift is the mixture mean: the shifted model of the centred mixture gains nothing more
    cen = centred_spec(spec)
    assert layer_optimum(cen, n, "joint", "reduced").loss == pytest.approx(closed, rel=1e-10)


@pytest.mark.parametrize("spec_data,n", [(SHAPES, 10), (SHAPES, 50), (DIAG3, 5)])
def test_heads_scale_closed_form(spec_data, n):
    spec = spec_from_dict(spec_data)
    assert layer_optimum(spec, n, "joint-heads", "scale").loss == pytest.approx(heads_scale_loss(spec, n), rel=1e-10)


def test_isotropic_tasks_each_reach_their_own_optimum():
    spec = spec_from_dict(SHAPES)
    for n in (10, 50):
        assert heads_scale_loss(spec, n) == pytest.approx(spec.weights @ task_optimum_losses(spec, n), rel=1e-12)
    # and that is strictly below the reduced closed form L_D
    assert heads_scale_loss(spec, 10) < optimal_losses(spec, [10])["joint-heads"][0] * (1 - 0.01)


def test_heads_scale_rejects_non_commuting_covariances():
    with pytest.raises(ValueError, match="do not commute"):
        heads_scale_loss(load_spec("three-task"), 5)
