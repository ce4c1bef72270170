"""Rendering keeps every value exactly as given: YAML structure cannot be changed by a value,
and characters beyond the Basic Multilingual Plane (emoji) survive, where JSON's surrogate-pair
escapes used to make libyaml refuse the whole object and stop reconciliation."""

from __future__ import annotations

import random

import pytest
import yaml

from cg_operator.render import environment
from cg_operator.render.environment import dump_yaml, render, yaml_json

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


def _python_dump(data: object) -> str:
    """A configuration as the operator wrote every one before libyaml's emitter was used."""
    return yaml.dump(data, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True, width=4096)


# Characters where one of the emitters quotes, escapes or breaks: controls, NEL, the YAML
# indicators, quotes, spaces and line breaks, Latin and CJK letters, BOM, line separators and
# astral characters.
_ALPHABET = [
    *map(chr, range(0x00, 0x100)),
    *"ŋ€中文\u2028\u2029\ufeff\u200b\u3000\ufffd",
    "\U0001f3db",
    "\U00010000",
]


def _corpus(count: int, seed: int = 20261206) -> list[object]:
    """Seeded random configuration-like data: nested mappings and lists of strings (short, and
    some past the width, where folding starts), numbers, booleans and nulls."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret

    def text() -> str:
        length = rng.choice([1, 2, 5, 12, 40, rng.randint(1000, 5000)])
        return "".join(rng.choice(_ALPHABET) for _ in range(length))

    def value(depth: int) -> object:
        pick = rng.random()
        if depth < 3 and pick < 0.2:
            return {text(): value(depth + 1) for _ in range(rng.randint(0, 3))}
        if depth < 3 and pick < 0.35:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return rng.choice(
            [text, text, text, lambda: rng.randint(-5, 5), lambda: None, lambda: True]
        )()

    return [{"key": value(0), text(): [value(1)]} for _ in range(count)]


def test_a_configuration_is_written_as_the_python_emitter_writes_it() -> None:
    """The text names the configuration's Job: were it to change with the emitter, an upgrade
    would run every municipality's configuration again. The seeded corpus holds strings each
    emitter writes otherwise (astral characters, NEL, long strings) and finds them taken by the
    Python emitter."""
    corpus = _corpus(1500)
    # Lines made longer than the width by escapes: a control character is four characters
    # escaped, so a key and a value each under the length limit can still be folded.
    escaped = [
        {"\x01" * 128: ("\x01" * 10 + " ") * 93},
        {"a": {"b": {"\x01" * 120: ("\x01" * 20 + " ") * 48}}},
    ]
    for data in [*corpus, *escaped]:
        assert dump_yaml(data) == _python_dump(data)
    fast = yaml.CSafeDumper  # the operator's image has libyaml; the comparison needs it too
    differing = sum(
        yaml.dump(data, Dumper=fast, sort_keys=False, allow_unicode=True, width=4096)
        != _python_dump(data)
        for data in corpus
    )
    assert differing > 100  # the corpus does reach the cases the guard is for


def test_plain_configurations_are_written_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the strings the emitters write otherwise, libyaml's emitter is the one used."""
    calls: list[type] = []
    real_dump = yaml.dump

    def dump(data: object, Dumper: type, **options: object) -> str:  # noqa: N803 - PyYAML's name
        calls.append(Dumper)
        return real_dump(data, Dumper=Dumper, **options)

    plain = {"zgw_consumers": {"services": [{"identifier": "zaken", "api_root": "http://x/"}]}}
    astral = {"label": "Gemeente 's-Hertogenbosch \U0001f3db"}
    expected = [_python_dump(plain), _python_dump(astral)]
    monkeypatch.setattr(yaml, "dump", dump)
    assert [dump_yaml(plain), dump_yaml(astral)] == expected
    assert calls == [yaml.CSafeDumper, yaml.SafeDumper]


TRICKY = """\
ints: [0, -3, +5, 0x1f, 0o17, 017, 1_000, 1:30, 0b101]
floats: [1.5, -0.0, 1e3, .inf, -.Inf, .nan, 1_0.5, 1:30.5]
booleans: [yes, No, ON, off, true, FALSE, y, n]
nulls: [~, null, Null, ]
empty:
strings: ["5", '0x1f', "yes", plain text, "\\u00e9\\U0001f3db"]
block: |
  block
  text
when: 2026-12-06T01:02:03Z
day: 2026-12-06
blob: !!binary aGVsbG8=
base: &base {a: 1, b: [x, y]}
merged:
  <<: *base
  b: 2
shared: *base
valued:
  =: value key
  other: [yes, 0x1f]
---
---
second: [{}, [], {"k": {"n": [1, 2.0, null]}}]
"""


def test_the_templates_loader_gives_pyyamls_own_objects() -> None:
    """Templates are read by a direct construction of their nodes; every other kind of node
    (timestamps, binary, merge keys, value keys) is left to PyYAML's safe constructor, and
    every value is the one PyYAML's reference loader gives."""
    ours = list(yaml.load_all(TRICKY, Loader=environment._TEMPLATE_LOADER))
    reference = list(yaml.load_all(TRICKY, Loader=yaml.SafeLoader))
    assert repr(ours) == repr(reference)  # repr: nan != nan, and True == 1 for ==
    assert ours[0]["merged"] == {"a": 1, "b": 2}
    assert ours[0]["valued"] == {"=": "value key", "other": [True, 31]}
    assert len(ours) == 3


def test_the_templates_loader_refuses_what_pyyaml_refuses() -> None:
    complex_key = "? [complex, key]\n: value\n"
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load(complex_key, Loader=yaml.SafeLoader)
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load(complex_key, Loader=environment._TEMPLATE_LOADER)  # noqa: S506 - safe too
