"""Rendering keeps every value exactly as given: YAML structure cannot be changed by a value,
and characters beyond the Basic Multilingual Plane (emoji) survive, where JSON's surrogate-pair
escapes used to make libyaml refuse the whole object and stop reconciliation."""

from __future__ import annotations

import pytest

from cg_operator.render.environment import render, yaml_json

VALUES = [
    "Gemeente Súdwest-Fryslân 🏛️",
    "😀😀",
    "a literal \\ud83c\\udfdb stays literal",
    "\\",
    "line\u2028separator and next\x85line",
    "quotes ' \" and <html> & colons: {a: b}\n- list",
    "\x00\x07 control characters",
]


@pytest.mark.parametrize("value", VALUES)
def test_a_value_renders_to_exactly_itself(value: str) -> None:
    [config] = render(
        "configmap.yaml.j2",
        name="open-zaak-config",
        namespace="gm1900",
        labels={},
        data={"A": value},
    )
    assert config["data"] == {"A": value}


def test_the_yaml_text_stays_ascii_with_yamls_own_escape_for_astral_characters() -> None:
    encoded = yaml_json("🏛")
    assert encoded == '"\\U0001f3db"'
    assert encoded.isascii()
