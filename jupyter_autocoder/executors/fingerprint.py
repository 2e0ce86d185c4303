"""A cheap fingerprint of one variable, and what differs once code has run; and a short
summary of a value (type, shape, columns, dtypes) for whoever shows variables.

    snapshot = Snapshot.take(log)       # before the agent's code runs
    ...                                 # the code runs
    snapshot.differences(log)           # the same object afterwards:
    # ["column `when` converted from object to datetime64[us]", "column `day_of_week` added"]
    summary(log)     # {"type": "pandas DataFrame", "shape": [7, 2], "columns": [...], ...}
    describe(log)    # "pandas DataFrame, 7 rows x 2 columns"

It runs where the namespace is (the guard of the user's variables, `executors/guard.py`,
calls it in the kernel). Standard library only at import time; pandas and numpy values are
recognised through the modules already imported, never imported here.

The cost does not grow with the rows: a DataFrame, Series or array is told by its shape,
columns, dtypes and index (pandas' Index objects are immutable, so the snapshot keeps a
reference to them, not a copy) and by a sample of SAMPLE_ROWS rows at fixed positions
spread over it, first and last included, copied when taken and compared afterwards. So a
change to a few rows between the sampled ones goes unseen; a conversion, a new column, a
sort, a fill of missing values or any change to a sizeable share of the rows is seen.
Lists and dicts are told by their length and the identity of a sample of their items;
other objects by their public attributes (`vars`), which is how a refitted estimator
shows. Immutable values (numbers, strings, tuples) can only be replaced, which the guard
sees by identity.
"""

from __future__ import annotations

import inspect
import itertools
import sys
import types
from typing import Any

from .values import kind_of

# Rows (or elements) sampled from a DataFrame, Series or array.
SAMPLE_ROWS = 256
# Columns whose values and dtypes are compared one by one (beyond: shape and names only).
MAX_COLUMNS = 200
# Items of a dict, elements of a set, or public attributes of an object that are looked at.
MAX_ITEMS = 64
# Labels named in one phrase ("columns `a`, `b`, `c` and 4 more added").
MAX_NAMED = 4
# Columns listed by `summary`.
SUMMARY_COLUMNS = 50

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range, frozenset, tuple)
# Objects that change in the normal course of being used (a figure when it is drawn).
_SELF_CHANGING_MODULES = ("matplotlib", "IPython", "ipykernel", "ipywidgets")


def is_code(value: Any) -> bool:
    """Modules, classes and functions: code, not data."""
    return isinstance(value, (type, types.ModuleType)) or inspect.isroutine(value)


def _pandas() -> Any:
    return sys.modules.get("pandas")


def _numpy() -> Any:
    return sys.modules.get("numpy")


def _is_frame(value: Any) -> bool:
    pandas = _pandas()
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _is_series(value: Any) -> bool:
    pandas = _pandas()
    return pandas is not None and isinstance(value, pandas.Series)


def _is_array(value: Any) -> bool:
    numpy = _numpy()
    return numpy is not None and isinstance(value, numpy.ndarray)


def sample_positions(length: int, count: int = SAMPLE_ROWS) -> list[int]:
    """`count` positions spread evenly over `length`, the first and the last included."""
    if length <= count:
        return list(range(length))
    return [index * (length - 1) // (count - 1) for index in range(count)]


# -- the summary ---------------------------------------------------------------------------


def summary(value: Any) -> dict[str, Any]:
    """What a value is, in JSON: its type, and its shape, length, columns and dtypes where
    it has them. Cheap: nothing is computed over the rows."""
    found: dict[str, Any] = {"type": kind_of(value)}
    try:
        if _is_frame(value):
            columns = list(value.columns[:SUMMARY_COLUMNS])
            found["shape"] = [len(value.index), len(value.columns)]
            found["columns"] = [_label(column) for column in columns]
            found["dtypes"] = [str(dtype) for dtype in value.dtypes.iloc[:SUMMARY_COLUMNS]]
        elif _is_series(value):
            found["shape"] = [len(value)]
            found["dtype"] = str(value.dtype)
        elif _is_array(value):
            found["shape"] = list(value.shape)
            found["dtype"] = str(value.dtype)
        elif isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
            found["length"] = len(value)
    except Exception:  # a value whose methods fail is still told by its type
        pass
    return found


def describe(value: Any) -> str:
    """A value in a few words: "pandas DataFrame, 7 rows x 2 columns", "list of 3 items",
    "int 5"."""
    found = summary(value)
    kind = found["type"]
    shape = found.get("shape")
    if _is_frame(value) and shape:
        return f"{kind}, {_count(shape[0], 'row')} x {_count(shape[1], 'column')}"
    if _is_series(value) and shape:
        return f"{kind} of {_count(shape[0], 'value')}, dtype {found['dtype']}"
    if _is_array(value) and shape is not None:
        return f"{kind}, shape {tuple(shape)}, dtype {found['dtype']}"
    if isinstance(value, (bool, int, float, complex)) or value is None:
        text = repr(value)
        return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
    if isinstance(value, str):
        return f"str {value!r}" if len(value) <= 40 else f"str of {len(value)} characters"
    if "length" in found:
        return f"{kind} of {_count(found['length'], 'item')}"
    return kind


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def _label(label: Any) -> str:
    text = str(label)
    return text if len(text) <= 40 else text[:37] + "..."


def _named(labels: list[Any], what: str, verb: str) -> str:
    """'column `a` added', 'columns `a`, `b` and 3 more added'."""
    shown = ", ".join(f"`{_label(label)}`" for label in labels[:MAX_NAMED])
    more = f" and {len(labels) - MAX_NAMED} more" if len(labels) > MAX_NAMED else ""
    plural = "s" if len(labels) > 1 else ""
    return f"{what}{plural} {shown}{more} {verb}"


# -- snapshots -----------------------------------------------------------------------------


class Snapshot:
    """A value as it was: a reference to it (its identity, and the object to put back), and
    what `differences` compares it by later."""

    __slots__ = ("value", "_kind", "_parts")

    def __init__(self, value: Any, kind: str, parts: dict[str, Any]):
        self.value = value
        self._kind = kind
        self._parts = parts

    @classmethod
    def take(cls, value: Any) -> Snapshot:
        try:
            for kind, test, take in _KINDS:
                if test(value):
                    return cls(value, kind, take(value))
        except Exception:  # a value that cannot be sampled is still watched by identity
            pass
        return cls(value, "identity", {})

    def differences(self, value: Any) -> list[str]:
        """How `value`, the same object after code ran, differs from the snapshot: a phrase
        per change, [] when none is seen."""
        if self._kind == "identity" or value is not self.value:
            return []
        try:
            return _DIFFERENCES[self._kind](self._parts, value)
        except Exception:  # comparing failed (a value whose methods fail): nothing to tell
            return []


def _take_frame(frame: Any) -> dict[str, Any]:
    rows = len(frame.index)
    positions = sample_positions(rows)
    return {
        "rows": rows,
        "columns": frame.columns,  # pandas Index objects are immutable: no copy needed
        "dtypes": list(frame.dtypes.iloc[:MAX_COLUMNS]),
        "index": frame.index,
        "positions": positions,
        "sample": frame.iloc[positions, :MAX_COLUMNS],  # a copy
    }


def _frame_differences(before: dict[str, Any], frame: Any) -> list[str]:
    """Conversions and changed values first, then columns added or removed, rows, index."""
    old_columns, new_columns = before["columns"], frame.columns
    same_columns = old_columns is new_columns or old_columns.equals(new_columns)
    shape_notes = [] if same_columns else _column_changes(old_columns, new_columns)
    rows = len(frame.index)
    if rows != before["rows"]:
        shape_notes.append(f"rows: {before['rows']} → {rows}")
    same_index = rows == before["rows"] and _same_index(before["index"], frame.index)
    if rows == before["rows"] and not same_index:
        shape_notes.append("index changed (rows reordered or relabelled)")
    # Columns by position where the columns are the same, else by label where unique.
    sample = before["sample"]
    if same_columns:
        pairs = [(i, i) for i in range(sample.shape[1])]
    elif old_columns.is_unique and new_columns.is_unique:
        pairs = [
            (i, new_columns.get_loc(label))
            for i, label in enumerate(sample.columns)
            if label in new_columns
        ]
    else:
        pairs = []
    notes: list[str] = []
    new_dtypes = frame.dtypes
    kept = []
    for old_at, new_at in pairs:
        old_dtype, new_dtype = before["dtypes"][old_at], new_dtypes.iloc[new_at]
        if old_dtype != new_dtype:
            notes.append(
                f"column `{_label(sample.columns[old_at])}` converted from {old_dtype} to "
                f"{new_dtype}"
            )
        else:
            kept.append((old_at, new_at))
    if same_index and kept:
        now = frame.iloc[before["positions"], [new_at for _, new_at in kept]]
        then = sample.iloc[:, [old_at for old_at, _ in kept]]
        if not _same_frame(then, now):
            changed = [
                sample.columns[old_at]
                for column, (old_at, _) in enumerate(kept)
                if not then.iloc[:, column]
                .reset_index(drop=True)
                .equals(now.iloc[:, column].reset_index(drop=True))
            ]
            if changed:
                notes.append(_named(changed, "values of column", "changed"))
    return notes + shape_notes


def _same_frame(then: Any, now: Any) -> bool:
    """The two samples hold the same values (their column labels may differ)."""
    then = then.set_axis(range(then.shape[1]), axis=1)
    now = now.set_axis(range(now.shape[1]), axis=1)
    return bool(then.equals(now))


def _column_changes(old: Any, new: Any) -> list[str]:
    old_set, new_set = set(old), set(new)
    added = [label for label in new if label not in old_set]
    removed = [label for label in old if label not in new_set]
    if len(added) == 1 and len(removed) == 1 and len(old) == len(new):
        return [f"column `{_label(removed[0])}` renamed to `{_label(added[0])}`"]
    notes = []
    if added:
        notes.append(_named(added, "column", "added"))
    if removed:
        notes.append(_named(removed, "column", "removed"))
    if not added and not removed:
        notes.append("columns reordered")
    return notes


def _same_index(old: Any, new: Any) -> bool:
    """Whether two indexes hold the same labels, compared without touching every label
    unless they are of one kind and length (RangeIndex compares in constant time)."""
    if old is new:
        return True
    if type(old) is not type(new) or len(old) != len(new) or old.names != new.names:
        return False
    positions = sample_positions(len(old))
    return bool(old[positions].equals(new[positions]))


def _take_series(series: Any) -> dict[str, Any]:
    positions = sample_positions(len(series))
    return {
        "length": len(series),
        "dtype": series.dtype,
        "name": series.name,
        "index": series.index,
        "positions": positions,
        "sample": series.iloc[positions],  # a copy
    }


def _series_differences(before: dict[str, Any], series: Any) -> list[str]:
    notes: list[str] = []
    if len(series) != before["length"]:
        notes.append(f"length: {before['length']} → {len(series)}")
    if series.dtype != before["dtype"]:
        notes.append(f"converted from {before['dtype']} to {series.dtype}")
    if series.name != before["name"]:
        notes.append(f"renamed from {before['name']!r} to {series.name!r}")
    if len(series) != before["length"]:
        return notes
    if not _same_index(before["index"], series.index):
        notes.append("index changed (values reordered or relabelled)")
        return notes
    if series.dtype == before["dtype"]:
        now = series.iloc[before["positions"]].reset_index(drop=True)
        if not before["sample"].reset_index(drop=True).equals(now):
            notes.append("values changed")
    return notes


def _take_array(array: Any) -> dict[str, Any]:
    positions = sample_positions(array.size)
    return {
        "shape": array.shape,
        "dtype": array.dtype,
        "positions": positions,
        "sample": array.flat[positions] if positions else None,  # a copy
    }


def _array_differences(before: dict[str, Any], array: Any) -> list[str]:
    numpy = _numpy()
    if array.shape != before["shape"]:
        return [f"shape {before['shape']} → {array.shape}"]
    if array.dtype != before["dtype"]:
        return [f"dtype {before['dtype']} → {array.dtype}"]
    if before["sample"] is None:
        return []
    now = array.flat[before["positions"]]
    try:
        same = numpy.array_equal(before["sample"], now, equal_nan=True)
    except TypeError:  # equal_nan is for numbers only
        same = numpy.array_equal(before["sample"], now)
    return [] if same else ["values changed"]


def _take_list(items: Any) -> dict[str, Any]:
    positions = sample_positions(len(items), MAX_ITEMS)
    return {"length": len(items), "ids": [id(items[at]) for at in positions]}


def _list_differences(before: dict[str, Any], items: Any) -> list[str]:
    if len(items) != before["length"]:
        return [f"items: {before['length']} → {len(items)}"]
    positions = sample_positions(len(items), MAX_ITEMS)
    if [id(items[at]) for at in positions] != before["ids"]:
        return ["items replaced or reordered"]
    return []


def _take_dict(mapping: dict[Any, Any]) -> dict[str, Any]:
    first = list(itertools.islice(mapping.items(), MAX_ITEMS))
    return {
        "length": len(mapping),
        "items": [(key, id(value)) for key, value in first],
        "keys": set(mapping) if len(mapping) <= MAX_ITEMS else None,
    }


def _dict_differences(before: dict[str, Any], mapping: dict[Any, Any]) -> list[str]:
    notes: list[str] = []
    keys = before["keys"]
    if keys is not None and len(mapping) <= 4 * MAX_ITEMS:
        added = [key for key in mapping if key not in keys]
        removed = [key for key in keys if key not in mapping]
        if added:
            notes.append(_named(added, "key", "added"))
        if removed:
            notes.append(_named(removed, "key", "removed"))
    elif len(mapping) != before["length"]:
        notes.append(f"items: {before['length']} → {len(mapping)}")
    changed = [
        key for key, identity in before["items"] if key in mapping and id(mapping[key]) != identity
    ]
    if changed:
        notes.append(_named(changed, "value of key", "replaced"))
    return notes


def _take_set(items: Any) -> dict[str, Any]:
    return {"length": len(items), "items": set(items) if len(items) <= 4 * MAX_ITEMS else None}


def _set_differences(before: dict[str, Any], items: Any) -> list[str]:
    if before["items"] is not None and len(items) <= 4 * MAX_ITEMS:
        added = [item for item in items if item not in before["items"]]
        removed = [item for item in before["items"] if item not in items]
        notes = []
        if added:
            notes.append(_named(added, "element", "added"))
        if removed:
            notes.append(_named(removed, "element", "removed"))
        return notes
    if len(items) != before["length"]:
        return [f"elements: {before['length']} → {len(items)}"]
    return []


def _has_public_attributes(value: Any) -> bool:
    module = type(value).__module__ or ""
    return (
        not isinstance(value, _IMMUTABLE)
        and not is_code(value)
        and not module.startswith(_SELF_CHANGING_MODULES)
        and isinstance(getattr(value, "__dict__", None), dict)
    )


def _public_attributes(value: Any) -> dict[str, int]:
    found = {}
    for name, attribute in vars(value).items():
        if not name.startswith("_"):  # private ones are often caches, filled by reading
            found[name] = id(attribute)
            if len(found) >= MAX_ITEMS:
                break
    return found


def _object_differences(before: dict[str, int], value: Any) -> list[str]:
    now = _public_attributes(value)
    notes = []
    added = [name for name in now if name not in before]
    removed = [name for name in before if name not in now]
    changed = [name for name in now if name in before and now[name] != before[name]]
    if added:
        notes.append(_named(added, "attribute", "added"))
    if removed:
        notes.append(_named(removed, "attribute", "removed"))
    if changed:
        notes.append(_named(changed, "attribute", "replaced"))
    return notes


# In order: the first whose test holds takes the snapshot.
_KINDS = (
    ("frame", _is_frame, _take_frame),
    ("series", _is_series, _take_series),
    ("array", _is_array, _take_array),
    ("list", lambda value: isinstance(value, (list, bytearray)), _take_list),
    ("dict", lambda value: isinstance(value, dict), _take_dict),
    ("set", lambda value: isinstance(value, set), _take_set),
    ("object", _has_public_attributes, _public_attributes),
)
_DIFFERENCES = {
    "frame": _frame_differences,
    "series": _series_differences,
    "array": _array_differences,
    "list": _list_differences,
    "dict": _dict_differences,
    "set": _set_differences,
    "object": _object_differences,
}
