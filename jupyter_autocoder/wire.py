"""What a dataclass field says about the wire beyond its type: allowed values, limits, a
field that may be absent. The agent WebSocket's schema (`server/protocol_schema.py`) reads
these hints from the field's metadata:

    status: str = field(default="pending", metadata=wire(enum=APPROVAL_STATUSES))

They change nothing at run time; they only describe. A module of its own (and of the
standard library only) so that the agent, the executors and the server can all use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, dataclass
from typing import Any

METADATA_KEY = "wire"


@dataclass(frozen=True)
class WireHints:
    doc: str = ""  # what the field means (the schema's description, a TS comment, the doc)
    enum: tuple[Any, ...] = ()  # the values allowed
    enum_name: str = ""  # a name for `enum`, shared by the fields that use it (one TS type)
    const: bool = False  # the value is always the field's default
    min_length: int | None = None
    max_length: int | None = None
    pattern: str = ""  # a regular expression the string must match (somewhere)
    minimum: float | None = None
    maximum: float | None = None
    not_null: bool = False  # None is only the Python default: the wire always has a value
    optional: bool = False  # in what the server sends: the field may be absent
    default_doc: str = ""  # the default in words, when the receiver computes it
    shape: Any = None  # the type the JSON has, when the annotation is a plain dict or list
    schema: Mapping[str, Any] | None = None  # the JSON Schema outright, when no type says it
    ts_type: str = ""  # the TypeScript type, when a library's own type fits better


def wire(**hints: Any) -> Mapping[str, WireHints]:
    """Field metadata: `field(default=..., metadata=wire(enum=(...), doc="..."))`."""
    if "enum" in hints:
        hints["enum"] = tuple(hints["enum"])
    return {METADATA_KEY: WireHints(**hints)}


def hints_of(item: Field[Any]) -> WireHints:
    return item.metadata.get(METADATA_KEY, WireHints())
