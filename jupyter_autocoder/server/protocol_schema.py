"""The agent WebSocket's JSON Schema, built from the protocol's dataclasses, and the command
that writes every file generated from it:

    python -m jupyter_autocoder.server.protocol_schema            # write what changed
    python -m jupyter_autocoder.server.protocol_schema --check    # exit 1 when one is stale

It writes docs/protocol.schema.json, the panel's TypeScript types
(labextension/src/protocol.generated.ts, see `protocol_typescript.py`) and the message
tables of docs/protocol.md (`protocol_doc.py`). The sources are the dataclasses of
`server/protocol.py` and `agent/events.py` (and the parts they hold).

A dataclass becomes an object: each field a property, typed by its annotation (str, int,
float, bool, lists, dicts, `X | None`, nested dataclasses as `$defs`) and by its `wire(...)`
hints (wire.py); a field fixed at its default (`init=False`, the `type`) is a `const`; the
docstring is the description. The two directions differ: what the browser sends may leave
out a field that has a default, and may hold fields the server ignores; what the server
sends has every field (unless a hint says `optional`) and no other.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import types
from collections.abc import Sequence
from dataclasses import MISSING, Field, fields, is_dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from ..agent.events import EVENT_TYPES, AgentEvent
from ..wire import hints_of
from .protocol import CLIENT_MESSAGES, PROTOCOL_VERSION, SERVER_MESSAGES, TurnMeta

COMMAND = "python -m jupyter_autocoder.server.protocol_schema"
SCHEMA_FILE = "docs/protocol.schema.json"
TYPESCRIPT_FILE = "labextension/src/protocol.generated.ts"
DOC_FILE = "docs/protocol.md"
SOURCES = "jupyter_autocoder/server/protocol.py and jupyter_autocoder/agent/events.py"

BROWSER, SERVER = "browser", "server"  # who sends a dataclass: the rules differ
CLIENT_UNION, SERVER_UNION = "ClientMessage", "ServerMessage"
EVENT_UNION, EVENT_MESSAGE_UNION = "AgentEvent", "AgentEventMessage"
MESSAGE_SUFFIX = "Message"


def build_schema() -> dict[str, Any]:
    """The whole protocol: `$defs` for every message and part, `ClientMessage` (browser ->
    server) and `ServerMessage` (server -> browser) the two unions."""
    builder = _Builder()
    client = [builder.define(cls, BROWSER, _message_name(cls)) for cls in CLIENT_MESSAGES]
    server = [builder.define(cls, SERVER, _message_name(cls)) for cls in SERVER_MESSAGES]
    events = [builder.define(cls, SERVER) for cls in EVENT_TYPES.values()]
    builder.union(EVENT_UNION, events, "The loop's events, as the history keeps them.")
    meta = builder.define(TurnMeta, SERVER)
    live = [builder.event_message(name, meta) for name in events]
    builder.union(
        EVENT_MESSAGE_UNION,
        live,
        "The loop's events, as sent during a turn: each with the turn's `notebook`, `session` "
        "and `turn`.",
    )
    builder.union(CLIENT_UNION, client, "A message of the browser (the panel) to the server.")
    # The loop's events go out after `started`, before the server's requests to the browser.
    server[2:2] = [EVENT_MESSAGE_UNION]
    builder.union(SERVER_UNION, server, "A message of the server to the browser.")
    first = [CLIENT_UNION, *client, SERVER_UNION, *server, *live, meta, EVENT_UNION, *events]
    ordered = {name: builder.defs[name] for name in first}
    rest = [name for name in builder.defs if name not in ordered]
    # The parts in the order met, then the named enumerations.
    for name in sorted(rest, key=lambda name: "enum" in builder.defs[name]):
        ordered[name] = builder.defs[name]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "The agent WebSocket of jupyter-autocoder",
        "description": (
            f"Protocol version {PROTOCOL_VERSION}. Generated from the dataclasses of {SOURCES} "
            f"by `{COMMAND}`: edit those, not this file."
        ),
        "anyOf": [_ref(CLIENT_UNION), _ref(SERVER_UNION)],
        "$defs": ordered,
    }


def _message_name(cls: type) -> str:
    return cls.__name__ + MESSAGE_SUFFIX


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


class _Builder:
    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self._defined: dict[type, tuple[str, str]] = {}  # class -> (name, sender)
        self._enums: dict[str, tuple[Any, ...]] = {}

    def define(self, cls: type, sender: str, name: str | None = None) -> str:
        """The `$defs` name of a dataclass, defined on first use."""
        name = name or cls.__name__
        if cls in self._defined:
            known, known_sender = self._defined[cls]
            if known_sender != sender:
                raise ValueError(f"{cls.__name__} is sent both ways; give each way a class")
            return known
        if name in self.defs:
            raise ValueError(f"two definitions are named {name}")
        self._defined[cls] = (name, sender)
        self.defs[name] = {}  # reserved: a part may refer back to it
        self.defs[name] = self._object(cls, sender)
        return name

    def union(self, name: str, members: Sequence[str], description: str) -> None:
        self.defs[name] = {"description": description, "oneOf": [_ref(m) for m in members]}

    def event_message(self, event: str, meta: str) -> str:
        """A loop's event as the socket sends it: the event's fields and the turn's."""
        stored, added = self.defs[event], self.defs[meta]
        kind = stored["properties"]["type"]["const"]
        name = event + MESSAGE_SUFFIX
        self.defs[name] = {
            "type": "object",
            "description": f"The `{kind}` event ({event}) with the turn's `notebook`, "
            "`session` and `turn`.",
            "properties": {**stored["properties"], **added["properties"]},
            "required": [*stored["required"], *added["required"]],
            "additionalProperties": False,
        }
        return name

    def _object(self, cls: type, sender: str) -> dict[str, Any]:
        annotations = get_type_hints(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        # The `type` first: it says what the rest is.
        for item in sorted(fields(cls), key=lambda item: item.name != "type"):
            properties[item.name] = self._property(item, annotations[item.name], sender)
            if _required(item, sender):
                required.append(item.name)
        schema: dict[str, Any] = {
            "type": "object",
            "description": description_of(cls),
            "properties": properties,
            "required": required,
        }
        if sender == SERVER:
            schema["additionalProperties"] = False
        return schema

    def _property(self, item: Field[Any], annotation: Any, sender: str) -> dict[str, Any]:
        hints = hints_of(item)
        if not item.init or hints.const:
            return {"const": item.default}
        base, nullable = _without_none(annotation)
        if hints.shape is not None:
            base = hints.shape
        schema = dict(hints.schema) if hints.schema is not None else self._type(base, sender)
        if hints.enum:
            schema = (
                self._enum(hints.enum_name, hints.enum)
                if hints.enum_name
                else {"enum": list(hints.enum)}
            )
        limits = {
            "minLength": hints.min_length,
            "maxLength": hints.max_length,
            "pattern": hints.pattern or None,
            "minimum": hints.minimum,
            "maximum": hints.maximum,
        }
        schema.update((key, value) for key, value in limits.items() if value is not None)
        if nullable and not hints.not_null:
            schema = _or_null(schema)
        if hints.ts_type:
            schema["tsType"] = hints.ts_type
        description = hints.doc
        if hints.default_doc:
            description = f"{description}; " if description else ""
            description += f"by default {hints.default_doc}"
        if description:
            schema["description"] = description
        default = _default(item)
        if sender == BROWSER and default is not None and not hints.default_doc:
            schema["default"] = default
        return schema

    def _type(self, annotation: Any, sender: str) -> dict[str, Any]:
        if annotation is Any:
            return {}
        base, nullable = _without_none(annotation)
        if nullable:
            return _or_null(self._type(base, sender))
        origin, args = get_origin(annotation), get_args(annotation)
        if origin in (Union, types.UnionType):
            return {"oneOf": [self._type(arg, sender) for arg in args]}
        simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
        if annotation in simple:
            return {"type": simple[annotation]}
        if origin is list:
            return {"type": "array", "items": self._type(args[0], sender)}
        if origin is dict:
            schema: dict[str, Any] = {"type": "object"}
            if args and args[1] is not Any:
                schema["additionalProperties"] = self._type(args[1], sender)
            return schema
        if annotation is AgentEvent:  # the events' base class: any one of them
            return _ref(EVENT_UNION)
        if is_dataclass(annotation) and isinstance(annotation, type):
            return _ref(self.define(annotation, sender))
        raise TypeError(f"no JSON Schema for {annotation!r}: use a `wire(shape=...)` hint")

    def _enum(self, name: str, values: tuple[Any, ...]) -> dict[str, Any]:
        known = self._enums.setdefault(name, values)
        if known != values:
            raise ValueError(f"the enumeration {name} has two sets of values")
        self.defs.setdefault(name, {"enum": list(values)})
        return _ref(name)


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without None, whether None was part of it)."""
    if get_origin(annotation) not in (Union, types.UnionType):
        return annotation, False
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if len(args) == len(get_args(annotation)):
        return annotation, False
    return (args[0] if len(args) == 1 else Union[tuple(args)]), True  # noqa: UP007


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str) and "enum" not in schema and "$ref" not in schema:
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _required(item: Field[Any], sender: str) -> bool:
    if not item.init:
        return True  # the `type`
    if sender == SERVER:
        return not hints_of(item).optional
    return item.default is MISSING and item.default_factory is MISSING


def _default(item: Field[Any]) -> Any:
    if item.default is not MISSING:
        return item.default
    if item.default_factory is not MISSING:
        return item.default_factory()
    return None


def description_of(cls: type) -> str:
    """The docstring as one line per paragraph."""
    doc = cls.__doc__ or ""
    if not doc or doc.startswith(f"{cls.__name__}("):  # what @dataclass writes when none
        raise ValueError(f"{cls.__name__} needs a docstring: it says what the message means")
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


# --- the generated files ------------------------------------------------------------------


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated_files(root: Path) -> dict[Path, str]:
    """Each generated file's path under `root` (a checkout) and the text it should have."""
    from .protocol_doc import with_tables
    from .protocol_typescript import typescript

    schema = build_schema()
    doc = root / DOC_FILE
    return {
        root / SCHEMA_FILE: schema_text(schema),
        root / TYPESCRIPT_FILE: typescript(schema),
        doc: with_tables(doc.read_text(encoding="utf-8"), schema),
    }


def stale_files(root: Path) -> list[Path]:
    """The generated files that differ from what the dataclasses give now."""
    return [
        path
        for path, text in generated_files(root).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def _checkout() -> Path:
    return Path(__file__).resolve().parents[2]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND, description="Write the files generated from the protocol's dataclasses."
    )
    parser.add_argument("--check", action="store_true", help="only say which files are stale")
    parser.add_argument("--root", type=Path, default=_checkout(), help="the source checkout")
    options = parser.parse_args(argv)
    root: Path = options.root
    if not (root / DOC_FILE).exists():
        parser.error(f"{root} is not a source checkout ({DOC_FILE} is missing); pass --root")
    stale = stale_files(root)
    if options.check:
        for path in stale:
            print(f"stale: {path.relative_to(root)}")
        return 1 if stale else 0
    for path, text in generated_files(root).items():
        if path in stale:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
