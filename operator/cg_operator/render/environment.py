"""The Jinja2 environment and `render`: template + context -> Kubernetes object dicts. Pure.

Templates never interpolate a value as text: every value goes through `tojson`, so a quote, a
colon or a newline in a municipality's setting cannot change the YAML's structure. Undefined
variables fail loudly (StrictUndefined).

Rendering is the operator's hottest path (every pass plans every child), so templates are
compiled once (no auto-reload, no file stat per render) and the YAML is parsed by libyaml's C
parser when PyYAML has it; the Python parser is the fallback and gives the same objects. A
configuration's YAML is written by libyaml's emitter too where that gives the Python emitter's
text (`dump_yaml`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import jinja2
import yaml

# libyaml's parser with PyYAML's safe constructor: the same objects, about 10x faster.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _NULL, _BOOL, _INT, _FLOAT = (
    f"{_TAG}{name}" for name in ("str", "map", "seq", "null", "bool", "int", "float")
)
_SPECIAL_KEYS = frozenset({f"{_TAG}merge", f"{_TAG}value"})
# Plain scalar text -> its resolved tag, for the texts templates repeat (bounded: a number a
# municipality sets is plain too).
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_KEPT = 4096


class _TemplateLoader(_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader with a direct construction of the nodes templates produce.

    PyYAML's constructor builds each node through generators and per-node bookkeeping that
    anchors, merge keys and recursive structures need: it was more than half of planning's CPU
    (`bench/planning.py`). A template's documents have none of them (every value is JSON from
    `tojson`), so mappings, sequences and scalars are built in one walk (nulls, booleans, ints
    and floats as the safe constructor makes them), and any other node (another tag, a mapping
    with a merge key) by the safe constructor itself. Only for templates: an alias would be
    copied where the safe constructor shares it, which data from elsewhere (a configuration's
    YAML) must not risk."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # A plain scalar's tag depends on its text alone (no path resolvers are registered):
        # the texts of templates (their keys and literals) repeat on every render.
        if kind is not yaml.ScalarNode or not implicit[0]:
            return super().resolve(kind, value, implicit)
        tag = _PLAIN_TAGS.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_PLAIN_TAGS) < _PLAIN_TAGS_KEPT:
                _PLAIN_TAGS[value] = tag
        return tag

    def construct_document(self, node: yaml.Node) -> Any:
        try:
            return self._build(node)
        finally:
            # What the safe constructor clears at each document's end (a node it built fills it).
            self.constructed_objects = dict[Any, Any]()
            self.recursive_objects = dict[Any, Any]()
            self.state_generators = list[Any]()
            self.deep_construct = False

    def _build(self, node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _MAP and all(_plain_key(key) for key, _ in node.value):
            return {self._build(key): self._build(value) for key, value in node.value}
        if tag == _SEQ:
            return [self._build(item) for item in node.value]
        scalar = _SCALARS.get(tag)
        return scalar(self, node) if scalar else self.construct_object(node, deep=True)


def _plain_key(node: yaml.Node) -> bool:
    """A mapping key the direct walk builds as the safe constructor would: a scalar, neither a
    merge key nor a value key (a sequence or mapping as key is the safe constructor's error)."""
    return type(node) is yaml.ScalarNode and node.tag not in _SPECIAL_KEYS


# The other scalars a template has, each as the safe constructor makes it.
_SCALARS: dict[str, Callable[[Any, Any], Any]] = {
    _NULL: lambda _loader, _node: None,
    _BOOL: lambda loader, node: loader.bool_values[node.value.lower()],
    _INT: yaml.constructor.SafeConstructor.construct_yaml_int,
    _FLOAT: yaml.constructor.SafeConstructor.construct_yaml_float,
}


# What templates are read with (the reference, PyYAML's own safe loader, in tests and
# bench/planning.py).
_TEMPLATE_LOADER: type[yaml.SafeLoader] = _TemplateLoader


# libyaml's emitter with PyYAML's safe representer; None where PyYAML was built without libyaml.
_FAST_DUMPER: type[yaml.SafeDumper] | None = getattr(yaml, "CSafeDumper", None)

# How a configuration is written: block style, keys in their order, characters as they are, and
# a line wide enough that no value is folded.
_DUMP_OPTIONS: dict[str, Any] = {"sort_keys": False, "allow_unicode": True, "width": 4096}
# Where libyaml's emitter writes other text than PyYAML's (compared in
# tests/unit/test_render.py over every catalogue configuration and a seeded random corpus): it
# escapes a carriage return, NEL and characters beyond U+FFFF that PyYAML writes as they are, and
# folds a line longer than the width at other places. So libyaml writes only strings of
# characters both write as they are or as a two-character escape (printable ones, tab and line
# feed: not a control character, NEL, U+FEFF, a surrogate or one beyond U+FFFF), each shorter
# than _LONGEST_SAME: a key (a simple one is at most 128 characters) and its value then fit on
# one line well within the width, escaped, and nothing is folded.
_EMITTERS_DIFFER = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
_LONGEST_SAME = 1024


# A character outside the Basic Multilingual Plane is a JSON surrogate pair (\ud83c\udfdb),
# which YAML refuses; YAML's own escape for it is \U0001f3db. Only pairs whose backslash is not
# itself escaped are rewritten.
_SURROGATE_PAIR = re.compile(r"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def _astral(match: re.Match[str]) -> str:
    high, low = int(match.group(2), 16), int(match.group(3), 16)
    return f"{match.group(1)}\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


def yaml_json(value: Any) -> str:
    """`tojson` for YAML: JSON (ASCII, keys sorted) whose escapes YAML reads back exactly,
    emoji and other characters beyond U+FFFF included."""
    encoded = json.dumps(value, sort_keys=True)
    return _SURROGATE_PAIR.sub(_astral, encoded) if "\\ud" in encoded else encoded


@cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment, loading templates from this package."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cg_operator.render", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML, not HTML; values are JSON-encoded with tojson
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship in the package; never stat them per render
    )
    env.filters["tojson"] = yaml_json
    return env


def render(template: str, **context: Any) -> list[dict[str, Any]]:
    """Render one template to the objects it defines (a template may define several)."""
    text = environment().get_template(template).render(**context)
    return [doc for doc in yaml.load_all(text, Loader=_TEMPLATE_LOADER) if doc]


def load_yaml(text: str) -> Any:
    """One YAML document, read as `render` reads templates: a configuration's YAML is parsed
    on every pass of an installation that has one, and PyYAML's Python parser made it the
    largest cost of a restart's passes (6.8 ms against 2.8 ms per configuration)."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - _LOADER is a safe loader


def dump_yaml(data: Any) -> str:
    """A configuration's YAML text. The text names its Job (a digest of it), so it must not
    change with the emitter, or an upgrade would run every municipality's configuration again:
    libyaml's emitter (about 10x faster) writes it where it gives PyYAML's text, PyYAML else."""
    dumper = _FAST_DUMPER if _FAST_DUMPER is not None and _emitters_agree(data) else yaml.SafeDumper
    text: str = yaml.dump(data, Dumper=dumper, **_DUMP_OPTIONS)
    return text


def _emitters_agree(data: Any) -> bool:
    """Whether both emitters write `data` alike: plain data (what a safe loader gives, less
    timestamps and binary) with no string that libyaml writes otherwise."""
    if isinstance(data, str):
        return len(data) < _LONGEST_SAME and _EMITTERS_DIFFER.search(data) is None
    if isinstance(data, dict):
        return all(_emitters_agree(k) and _emitters_agree(v) for k, v in data.items())
    if isinstance(data, list):
        return all(_emitters_agree(item) for item in data)
    return data is None or isinstance(data, bool | int | float)


def render_text(template: str, **context: Any) -> str:
    """Render a template that is a file for a container (a web server's configuration), not
    Kubernetes objects."""
    return environment().get_template(template).render(**context)
