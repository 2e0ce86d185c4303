"""TypeScript types from the protocol's JSON Schema (protocol_schema.py): the panel's
labextension/src/protocol.generated.ts.

Only what that schema uses is understood: objects (`interface I<Name>`), unions of
definitions (`type <Name> = A | B`), enumerations and constants (literal types), arrays,
`X | null`, and `tsType`, which names a TypeScript type outright (nbformat's outputs).
Anything else raises, so that the generator grows with the schema instead of guessing.
Written as Prettier would format it (two spaces, single quotes, lines within 80 columns
where it can).
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from .protocol_schema import CLIENT_UNION, COMMAND, SERVER_UNION, SOURCES

WIDTH = 80
_SIMPLE = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}
_SIMPLE["null"] = "null"


def typescript(schema: dict[str, Any]) -> str:
    definitions: dict[str, dict[str, Any]] = schema["$defs"]
    used = _reachable(definitions, [CLIENT_UNION, SERVER_UNION])
    names = {name: _ts_name(name, definition) for name, definition in definitions.items()}
    lines = [
        "// Generated from docs/protocol.schema.json, itself generated from the dataclasses of",
        *_wrapped(f"{SOURCES}, by `{COMMAND}`. Do not edit: edit them and run it.", "// "),
        "",
    ]
    if "nbformat." in json.dumps(schema):
        lines += ["import type * as nbformat from '@jupyterlab/nbformat';", ""]
    for name, definition in definitions.items():
        if name in used:
            lines += _declaration(names[name], definition, names)
            lines.append("")
    return "\n".join(lines[:-1]) + "\n"


def _ts_name(name: str, definition: dict[str, Any]) -> str:
    return f"I{name}" if definition.get("type") == "object" else name


def _reachable(definitions: dict[str, dict[str, Any]], roots: list[str]) -> set[str]:
    """The definitions the roots use, not counting those under a `tsType` (not emitted)."""
    seen: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if "tsType" in node:
                return
            reference = node.get("$ref")
            if isinstance(reference, str):
                name = reference.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    visit(definitions[name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for root in roots:
        seen.add(root)
        visit(definitions[root])
    return seen


def _declaration(name: str, definition: dict[str, Any], names: dict[str, str]) -> list[str]:
    lines = _comment(definition.get("description", ""), "")
    if definition.get("type") == "object":
        lines.append(f"export interface {name} {{")
        required = set(definition.get("required", []))
        for key, value in definition["properties"].items():
            lines += _comment(value.get("description", ""), "  ")
            mark = "" if key in required else "?"
            lines += _typed(f"  {key}{mark}: ", _type(value, names), ";", "  ")
        lines.append("}")
    else:
        lines += _typed(f"export type {name} = ", _type(definition, names), ";", "")
    return lines


def _typed(head: str, members: list[str], tail: str, indent: str) -> list[str]:
    """`head A | B tail` on one line, or one `| member` a line when it is too long."""
    line = head + " | ".join(members) + tail
    if len(line) <= WIDTH or len(members) == 1:
        return [line]
    return [
        head.rstrip(),
        *(f"{indent}  | {member}" for member in members[:-1]),
        f"{indent}  | {members[-1]}{tail}",
    ]


def _type(node: dict[str, Any], names: dict[str, str]) -> list[str]:
    """The members of the node's TypeScript type (one for anything but a union)."""
    if "tsType" in node:
        return [node["tsType"]]
    if "$ref" in node:
        return [names[node["$ref"].rsplit("/", 1)[-1]]]
    if "const" in node:
        return [_literal(node["const"])]
    if "enum" in node:
        return [_literal(value) for value in node["enum"]]
    for key in ("oneOf", "anyOf"):
        if key in node:
            return [member for option in node[key] for member in _type(option, names)]
    kind = node.get("type")
    if isinstance(kind, list):
        return [member for one in kind for member in _type({**node, "type": one}, names)]
    if kind in _SIMPLE:
        return [_SIMPLE[kind]]
    if kind == "array":
        items = _type(node.get("items", {}), names)
        item = items[0] if len(items) == 1 else f"({' | '.join(items)})"
        return [f"{item}[]"]
    if kind == "object" and "properties" not in node:
        values = _type(node.get("additionalProperties", {}), names)
        return [f"{{ [key: string]: {' | '.join(values)} }}"]
    if not node:
        return ["unknown"]
    raise ValueError(f"no TypeScript for the schema {node!r}: teach protocol_typescript.py")


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return json.dumps(value)


def _comment(text: str, indent: str) -> list[str]:
    if not text:
        return []
    one_line = f"{indent}/** {text} */"
    if len(one_line) <= WIDTH and "\n" not in text:
        return [one_line]
    lines = [f"{indent}/**"]
    for number, paragraph in enumerate(text.split("\n\n")):
        if number:
            lines.append(f"{indent} *")
        lines += _wrapped(paragraph.replace("*/", "* /"), f"{indent} * ")
    return [*lines, f"{indent} */"]


def _wrapped(text: str, prefix: str) -> list[str]:
    width = max(WIDTH - len(prefix), 40)
    return [prefix + line for line in textwrap.wrap(text, width, break_on_hyphens=False)]
