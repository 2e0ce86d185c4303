"""The message tables of docs/protocol.md, from the protocol's JSON Schema (protocol_schema.py).

Each table sits between two marker comments; the prose around them is written by hand:

    <!-- generated: browser-messages -->
    ...
    <!-- end generated: browser-messages -->

A row is a message: its `type`, its fields (type, allowed values, limits, whether it may be
left out, its default, what it means) and its meaning (the dataclass's docstring). The
loop's events are listed with "+": they also carry the turn's `notebook`, `session`, `turn`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .protocol_schema import (
    CLIENT_UNION,
    COMMAND,
    EVENT_MESSAGE_UNION,
    MESSAGE_SUFFIX,
    SERVER_UNION,
)

TABLES = {"browser-messages": CLIENT_UNION, "server-messages": SERVER_UNION}
_PLURALS = {"string": "strings", "integer": "integers", "number": "numbers", "object": "objects"}


def with_tables(doc: str, schema: dict[str, Any]) -> str:
    """`doc` with each generated table replaced by the one the schema gives now."""
    for name, union in TABLES.items():
        begin, end = f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.DOTALL)
        if len(pattern.findall(doc)) != 1:
            raise ValueError(f"docs/protocol.md needs one '{begin}' ... '{end}' region")
        table = _Tables(schema["$defs"]).table(union)
        note = f"<!-- written by `{COMMAND}`: do not edit here -->"
        doc = pattern.sub(lambda _: "\n".join([begin, note, *table, end]), doc)  # noqa: B023
    return doc


class _Tables:
    def __init__(self, definitions: dict[str, dict[str, Any]]):
        self.defs = definitions

    def table(self, union: str) -> list[str]:
        rows: list[tuple[str, str, str, bool]] = []  # (type, fields, meaning, of a turn)
        for name in self._members(union):
            if name == EVENT_MESSAGE_UNION:
                for live in self._members(name):
                    rows.append(self._row(live.removesuffix(MESSAGE_SUFFIX), event=True))
            else:
                rows.append(self._row(name, event=False))
        types = [kind for kind, *_ in rows]
        lines = ["| type | fields | meaning |", "| --- | --- | --- |"]
        for kind, fields, meaning, event in rows:
            label = f"`{kind}`"
            if types.count(kind) > 1:
                label += " (of a turn)" if event else " (of a message)"
            lines.append(f"| {label} | {fields} | {meaning} |")
        return lines

    def _members(self, union: str) -> list[str]:
        return [_name(option["$ref"]) for option in self.defs[union]["oneOf"]]

    def _row(self, name: str, event: bool) -> tuple[str, str, str, bool]:
        definition = self.defs[name]
        properties = definition["properties"]
        required = set(definition["required"])
        browser = "additionalProperties" not in definition
        fields = [
            self._field(key, value, key in required, browser, depth=0)
            for key, value in properties.items()
            if key != "type"
        ]
        text = ", ".join(fields)
        meaning = _cell(definition["description"])
        return properties["type"]["const"], _cell(("+ " if event else "") + text), meaning, event

    def _field(
        self, key: str, node: dict[str, Any], required: bool, browser: bool, depth: int
    ) -> str:
        if depth > 0:
            values = self._values(node)
            nested = self._nested(node, depth)
            return f"`{key}`" + (f" ({values})" if values else "") + nested
        details = [self._phrase(node)]
        details += _limits(node)
        if not required:
            details.append("optional")
        if browser and "default" in node and node["default"] != []:
            details.append(f"default `{_json(node['default'])}`")
        text = ", ".join(part for part in details if part)
        if node.get("description"):
            text += f": {node['description']}"
        return f"`{key}` ({text})"

    def _phrase(self, node: dict[str, Any]) -> str:
        """What a value is: `"a"` | `"b"`, string, list of strings, {`field`, ...}, or null."""
        options = node.get("anyOf") or node.get("oneOf")
        kinds = node.get("type")
        nullable = (kinds is not None and "null" in kinds) or any(
            option.get("type") == "null" for option in options or []
        )
        if options:
            node = next(option for option in options if option.get("type") != "null")
        values = self._values(node)
        if values:
            phrase = values
        elif "$ref" in node:
            phrase = self._reference(node)
        else:
            if not isinstance(kinds, str):
                kinds = next((kind for kind in kinds or [] if kind != "null"), "any")
            phrase = {"boolean": "bool", "array": "list"}.get(kinds, kinds)
            if kinds == "array" and node.get("items"):
                item = self._phrase(node["items"])
                phrase = f"list of {_PLURALS.get(item, item)}"
        return f"{phrase} or null" if nullable else phrase

    def _reference(self, node: dict[str, Any]) -> str:
        name = _name(node["$ref"])
        definition = self.defs[name]
        if definition.get("type") != "object":
            return f"`{name}`"  # a union of messages or events
        return self._nested(node, 0) or "object"

    def _nested(self, node: dict[str, Any], depth: int) -> str:
        """An object's fields in braces, one level down only."""
        if "$ref" not in node or depth > 0:
            return ""
        definition = self.defs[_name(node["$ref"])]
        if definition.get("type") != "object":
            return ""
        required = set(definition["required"])
        parts = [
            self._field(key, value, key in required, False, depth + 1)
            for key, value in definition["properties"].items()
            if "const" not in value
        ]
        return "{" + ", ".join(parts) + "}"

    def _values(self, node: dict[str, Any]) -> str:
        if "$ref" in node and "enum" in self.defs[_name(node["$ref"])]:
            node = self.defs[_name(node["$ref"])]
        if "const" in node:
            return f"`{_json(node['const'])}`"
        if "enum" in node:
            return " | ".join(f"`{_json(value)}`" for value in node["enum"])
        return ""


def _limits(node: dict[str, Any]) -> list[str]:
    limits = []
    if node.get("minLength") == 1:
        limits.append("non-empty")
    if node.get("pattern") == r"\S":
        limits.append("not blank")
    if "maxLength" in node:
        limits.append(f"at most {node['maxLength']:,} characters")
    if "minimum" in node and "maximum" in node:
        limits.append(f"{_json(node['minimum'])} to {_json(node['maximum'])}")
    return limits


def _name(reference: str) -> str:
    return reference.rsplit("/", 1)[-1]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _cell(text: str) -> str:
    """Text for a table cell: one line, its bars escaped."""
    return " ".join(text.split()).replace("|", "\\|")
