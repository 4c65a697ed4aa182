"""The measured limits (prompticl._limits) refuse before any work, with the limit in the message."""
from __future__ import annotations

import pytest

from prompticl._limits import MAX_D, MAX_LAYER_D, MAX_N_VALUES, MAX_TRAIN_D, LimitError, check_context_length, check_layer, check_spec_size, check_theory, check_train


def test_limits_pass_at_and_refuse_beyond():
    check_spec_size(MAX_D, 2)
    with pytest.raises(LimitError, match=f"d <= {MAX_D}"):
        check_spec_size(MAX_D + 1, 2)
    check_theory(10, [5] * MAX_N_VALUES)
    with pytest.raises(LimitError, match=str(MAX_N_VALUES)):
        check_theory(10, [5] * (MAX_N_VALUES + 1))
    check_layer(MAX_LAYER_D, [5, 10])
    with pytest.raises(LimitError, match=f"d <= {MAX_LAYER_D}"):
        check_layer(MAX_LAYER_D + 1, [5])


def test_train_limits_name_the_dimension():
    check_train(MAX_TRAIN_D, 2, 10, 1000, 1)
    with pytest.raises(LimitError, match=str(MAX_TRAIN_D)):
        check_train(MAX_TRAIN_D + 1, 2, 10, 1000, 1)


@pytest.mark.parametrize("d", [10, 30, 82, 83, MAX_TRAIN_D])
def test_train_accepts_its_fewest_prompts_up_to_the_largest_d(d):
    """``train`` refuses fewer than 2(d+1)² prompts (the CLI), so check_train must accept that many at every
    d it accepts: with the old samples·(d+1)² limit (the default sample at d = 30) no --samples passed beyond d = 82."""
    check_train(d, 2, 50, 2 * (d + 1) ** 2, 1)


@pytest.mark.parametrize("n", [0, -1, 2.5, float("nan"), float("inf"), None, "3"])
def test_context_length_must_be_a_positive_integer(n):
    with pytest.raises(ValueError, match="context length must be an integer >= 1"):
        check_context_length(n)


def test_context_length_is_returned_as_int():
    assert check_context_length(3.0) == 3 and type(check_context_length(3.0)) is int
