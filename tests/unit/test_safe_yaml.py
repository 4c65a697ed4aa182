"""The YAML reader for user input (prompticl._safe_yaml): what a spec needs loads, the rest is refused
with one line naming where."""
from __future__ import annotations

import pytest

from prompticl._safe_yaml import MAX_BYTES, MAX_DEPTH, YAMLInputError, escape_control, load_yaml_bytes, load_yaml_file, load_yaml_text


def test_a_spec_loads_like_safe_load():
    text = "d: 2\nnoise: 0.5\ntasks:\n  - {weight: 1, mean: [1, 2], cov: 1}\n"
    assert load_yaml_text(text) == {"d": 2, "noise": 0.5, "tasks": [{"weight": 1, "mean": [1, 2], "cov": 1}]}


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: &x 1\nb: *x\n", "alias|anchor"),
        ("d: 3\nd: 4\n", "duplicate key"),
        ("[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2), "nested deeper"),
        ("n: " + "9" * 400 + "\n", "400 digits"),
        ("n: 1.0e+400\n", "too large for a float"),
        ("n: 2001-13-45\n", "2001-13-45"),
        ("n: !!float abc\n", "abc"),
    ],
)
def test_refusals_are_one_line_with_the_place(text, message):
    with pytest.raises(YAMLInputError, match=message) as info:
        load_yaml_text(text, source="s.yaml")
    assert "\n" not in str(info.value) and "s.yaml" in str(info.value)


def test_bytes_that_are_not_utf8_and_oversized_files(tmp_path):
    with pytest.raises(YAMLInputError, match="0xff"):
        load_yaml_bytes(b"d: \xff\n", "s.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("x: 1\n" + "#" * MAX_BYTES)
    with pytest.raises(YAMLInputError, match="KB|bytes"):
        load_yaml_file(big)


def test_control_characters_are_escaped():
    assert escape_control("a\x1b[31mb\x07") == "a\\x1b[31mb\\x07"
    assert escape_control("plain text, ü") == "plain text, ü"
