"""Generate the configuration reference in charts/cg-operator/README.md from values.yaml.

Every value's description is the comment block right above it in values.yaml, its type comes
from values.schema.json and its default from values.yaml itself, so the reference cannot drift
from the chart. The table goes between the README's `<!-- values:start -->` and
`<!-- values:end -->` markers. A value without a comment, or a schema property missing from
values.yaml, is an error. `--check` changes nothing and exits 1 when the README is stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "cg-operator"
START, END = "<!-- values:start -->", "<!-- values:end -->"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][A-Za-z0-9_.-]*):(?:\s|$)")
_MAX_DEFAULT = 60


@dataclass
class Entry:
    """One documented key: a leaf value, or a section (an object with its own keys)."""

    path: tuple[str, ...]
    description: str
    section: bool
    children: list[Entry] = field(default_factory=list)


class DocError(Exception):
    """values.yaml and values.schema.json do not document each other completely."""


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/definitions/")
        node = schema["definitions"][name]
    return node


def _subschema(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node = schema
    for key in path:
        props = _resolve(schema, node).get("properties") or {}
        if key not in props:
            raise DocError(f"{'.'.join(path)}: in values.yaml but not in values.schema.json")
        node = props[key]
    return _resolve(schema, node)


def _is_section(node: dict[str, Any]) -> bool:
    return node.get("type") == "object" and bool(node.get("properties"))


def parse(values_text: str, schema: dict[str, Any]) -> list[Entry]:
    """The documented keys of values.yaml, in file order, nested by section."""
    root = Entry(path=(), description="", section=True)
    stack: list[tuple[int, Entry]] = [(-1, root)]
    comment: list[str] = []
    skip_deeper_than: int | None = None
    for line in values_text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if skip_deeper_than is not None:
            if not stripped or indent > skip_deeper_than or stripped.startswith("- "):
                continue
            skip_deeper_than = None
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if match is None:
            raise DocError(f"values.yaml: cannot read the line {line!r}")
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        path = (*parent.path, match["key"])
        node = _subschema(schema, path)
        if not comment:
            raise DocError(f"{'.'.join(path)}: no comment above it in values.yaml")
        # A section is an object of the schema written as a block; `affinity: {}` is a value.
        inline = line[match.end() :].split("#", 1)[0].strip()
        section = _is_section(node) and not inline
        entry = Entry(path=path, description=" ".join(comment), section=section)
        comment = []
        parent.children.append(entry)
        if entry.section:
            stack.append((indent, entry))
        else:
            skip_deeper_than = indent
    return root.children


def undocumented(
    entries: list[Entry], schema: dict[str, Any], path: tuple[str, ...] = ()
) -> list[str]:
    """Schema properties of each section that values.yaml does not list."""
    node = _subschema(schema, path)
    present = {e.path[-1] for e in entries}
    out = [".".join((*path, key)) for key in node.get("properties", {}) if key not in present]
    for entry in entries:
        if entry.section:
            out += undocumented(entry.children, schema, entry.path)
    return out


def _type(node: dict[str, Any], schema: dict[str, Any]) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if "oneOf" in node:
        kinds = sorted({str(_resolve(schema, n).get("type")) for n in node["oneOf"]})
        return " or ".join(kinds)
    kind = str(node.get("type", "object"))
    if kind == "array":
        items = _resolve(schema, node.get("items") or {})
        return f"list of {_type(items, schema)}"
    return kind


def _default(values: dict[str, Any], path: tuple[str, ...]) -> str:
    value: Any = values
    for key in path:
        value = value[key]
    text = json.dumps(value, separators=(", ", ": "))
    if len(text) > _MAX_DEFAULT:
        return "see values.yaml"
    return f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render(entries: list[Entry], values: dict[str, Any], schema: dict[str, Any]) -> str:
    """The Markdown reference: general values first, then one table per section."""
    header = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]

    def rows(items: list[Entry]) -> list[str]:
        out = []
        for entry in items:
            if entry.section:
                key = ".".join(entry.path)
                out.append(f"| `{key}` | section | | {_cell(entry.description)} |")
                out += rows(entry.children)
                continue
            node = _subschema(schema, entry.path)
            out.append(
                f"| `{'.'.join(entry.path)}` | {_cell(_type(node, schema))} | "
                f"{_cell(_default(values, entry.path))} | {_cell(entry.description)} |"
            )
        return out

    general = [e for e in entries if not e.section]
    parts = ["### General", "", *header, *rows(general)]
    for entry in entries:
        if entry.section:
            intro = entry.description.replace("<", "&lt;").replace(">", "&gt;")
            parts += ["", f"### `{entry.path[0]}`", "", intro, "", *header]
            parts += rows(entry.children)
    return "\n".join(parts)


def generate(chart: Path) -> str:
    """The reference for the chart in `chart`; raises DocError when documentation is missing."""
    values_text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(values_text)
    schema = json.loads((chart / "values.schema.json").read_text())
    entries = parse(values_text, schema)
    missing = undocumented(entries, schema)
    if missing:
        names = ", ".join(missing)
        raise DocError(f"in values.schema.json but not documented in values.yaml: {names}")
    return render(entries, values, schema)


def splice(readme: str, reference: str) -> str:
    """The README with the text between the markers replaced by `reference`."""
    if START not in readme or END not in readme:
        raise DocError(f"README.md lacks the {START} / {END} markers")
    head, rest = readme.split(START, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{START}\n{reference}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Write the reference into README.md, or with --check fail when it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when README.md is stale")
    parser.add_argument("--chart", type=Path, default=CHART, help="chart folder (for tests)")
    args = parser.parse_args(argv)
    readme_path = args.chart / "README.md"
    readme = readme_path.read_text()
    try:
        wanted = splice(readme, generate(args.chart))
    except DocError as error:
        print(f"{args.chart}: {error}", file=sys.stderr)
        return 1
    if args.check:
        if wanted != readme:
            print(f"{readme_path} is stale: run `python hack/chart_values_doc.py`", file=sys.stderr)
            return 1
        return 0
    if wanted != readme:
        readme_path.write_text(wanted)
        print(f"wrote the values reference into {readme_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
