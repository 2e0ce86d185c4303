"""What a variable holds, told in a few lines: for the loop's check of a result against the
request (`agent/results.py`).

It runs where the namespace is: called directly by the in-kernel executor, and imported in a
kernel by `KernelExecutor` through a silent request. Standard library only at import time;
pandas, numpy and matplotlib values are recognised by their type's module, never imported.

    describe_names(namespace, ["monthly", "acc"])
    # {"monthly": {"text": "pandas Series, length 4, dtype float64; index: PeriodIndex ...",
    #              "type": "pandas Series", "default_index": False, "unique_index": True,
    #              "all_missing": False, "order": "increasing"},
    #  "acc": {"text": "float 0.9333333333333333", "type": "float", ...}}

The facts beside the text are what the loop compares with the request's words
(`agent/results.py`): a type name, and for pandas values whether the index is the default
0..n-1, whether its labels repeat, whether all values are missing, and the order of a
Series' values.
"""

from __future__ import annotations

import inspect
import reprlib
import types
from collections.abc import Iterable, Mapping
from typing import Any

# Characters of one variable's description, and of all of them together.
VALUE_CHARS = 700
ALL_CHARS = 3000
HEAD_ROWS = 5

_short = reprlib.Repr()
_short.maxlist = _short.maxtuple = _short.maxset = _short.maxdict = 8
_short.maxstring = 80
_short.maxother = 120


def describe_names(
    namespace: Mapping[str, Any], names: Iterable[str], budget: int = ALL_CHARS
) -> dict[str, dict[str, Any]]:
    """`{name: {"text": description, **facts}}` for those of `names` that exist in
    `namespace` and are data (modules, functions and classes are left out); the texts
    within `budget` characters."""
    descriptions: dict[str, dict[str, Any]] = {}
    used = 0
    for name in names:
        if name not in namespace or name in descriptions:
            continue
        value = namespace[name]
        text = describe_value(value)
        if not text:
            continue
        if used + len(text) > budget:
            text = text[: max(budget - used, 0)]
            if len(text) < 40:
                break
        descriptions[name] = {"text": text, **facts(value)}
        used += len(text)
    return descriptions


def facts(value: Any) -> dict[str, Any]:
    """The type name of `value`, and for pandas values: default index, unique index, all
    missing, the order of a Series' values (None where it does not apply or fails)."""
    found: dict[str, Any] = {
        "type": kind_of(value),
        "default_index": None,
        "unique_index": None,
        "all_missing": None,
        "order": None,
    }
    try:
        index = getattr(value, "index", None)
        if found["type"] in ("pandas Series", "pandas DataFrame") and index is not None:
            found["default_index"] = type(index).__name__ == "RangeIndex"
            found["unique_index"] = bool(index.is_unique)
            found["all_missing"] = bool(len(value)) and bool(value.isna().all(axis=None))
        if found["type"] == "pandas Series" and len(value) > 1 and value.dtype.kind in "iuf":
            values = value.dropna()
            if values.is_monotonic_decreasing and not values.is_monotonic_increasing:
                found["order"] = "decreasing"
            elif values.is_monotonic_increasing and not values.is_monotonic_decreasing:
                found["order"] = "increasing"
            elif values.is_monotonic_increasing:
                found["order"] = "constant"
            else:
                found["order"] = "unordered"
        if found["type"] == "float":
            found["all_missing"] = bool(value != value)  # NaN
    except Exception:  # a fact is a courtesy: a value whose methods fail keeps its type
        pass
    return found


def kind_of(value: Any) -> str:
    """A type name as `agent/requested.py` names kinds: "pandas Series", "float", ..."""
    import numbers

    kind = type(value)
    module = kind.__module__ or ""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    if module.startswith("pandas") and kind.__name__ in ("Series", "DataFrame"):
        return f"pandas {kind.__name__}"
    if module.startswith("numpy") and kind.__name__ == "ndarray":
        return "numpy ndarray"
    if module.startswith("matplotlib") and kind.__name__ == "Figure":
        return "matplotlib Figure"
    for builtin in (str, list, dict, tuple, set):
        if isinstance(value, builtin):
            return builtin.__name__
    return _type_name(value)


def user_names(namespace: Mapping[str, Any], hidden: Mapping[str, Any] | None = None) -> list[str]:
    """The user's own names in `namespace`: not private, not IPython's (unless rebound)."""
    hidden = hidden or {}
    return [
        name
        for name, value in namespace.items()
        if not name.startswith("_") and not (name in hidden and hidden[name] is value)
    ]


def describe_value(value: Any, limit: int = VALUE_CHARS) -> str:
    """Type, shape, dtypes, index and first rows, or the value itself; "" for modules,
    functions and classes."""
    try:
        text = _describe(value)
    except Exception as error:  # a value whose methods fail is still told by its type
        text = f"{_type_name(value)} (cannot be shown: {type(error).__name__})"
    if len(text) > limit:
        text = text[: limit - 4] + " ..."
    return text


def _describe(value: Any) -> str:
    kind = type(value)
    module = kind.__module__ or ""
    name = kind.__name__
    if isinstance(value, (type, types.ModuleType)) or inspect.isroutine(value):
        return ""  # code, not data: the model wrote it and can read it
    if module.startswith("pandas") and name == "DataFrame":
        return _dataframe(value)
    if module.startswith("pandas") and name == "Series":
        return _series(value)
    if module.startswith("numpy") and name == "ndarray":
        return f"numpy ndarray, shape {value.shape}, dtype {value.dtype}: {_array_head(value)}"
    if module.startswith("matplotlib") and name == "Figure":
        return _figure(value)
    if module.startswith("matplotlib") and "Axes" in name:
        return f"matplotlib {name}: {_axes(value)}"
    if isinstance(value, bool) or value is None:
        return f"{name} {value!r}"
    if isinstance(value, (int, float, complex)) or module.startswith("numpy") and not hasattr(
        value, "__len__"
    ):
        return f"{_type_name(value)} {value!r}"
    if isinstance(value, str):
        return f"str of {len(value)} characters: {_short.repr(value)}"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return f"{name} of {len(value)} items: {_short.repr(value)}"
    if module.startswith("sklearn"):
        fitted = any(attribute.endswith("_") and not attribute.startswith("_")
                     for attribute in vars(value)) if hasattr(value, "__dict__") else False
        return f"scikit-learn {name}, {'fitted' if fitted else 'not fitted'}: {_short.repr(value)}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{_type_name(value)}, shape {tuple(value.shape)}, dtype {value.dtype}"
    return f"{_type_name(value)}: {_short.repr(value)}"


def _type_name(value: Any) -> str:
    kind = type(value)
    module = (kind.__module__ or "").split(".")[0]
    return kind.__name__ if module in ("builtins", "__main__", "") else f"{module} {kind.__name__}"


def _index(index: Any) -> str:
    labels = _short.repr(list(index[:HEAD_ROWS]))
    return f"{type(index).__name__} of {index.dtype}, first labels {labels}"


def _dataframe(frame: Any) -> str:
    rows, columns = frame.shape
    dtypes = ", ".join(f"{column}: {dtype}" for column, dtype in list(frame.dtypes.items())[:16])
    if columns > 16:
        dtypes += f", ... ({columns - 16} more)"
    head = frame.head(HEAD_ROWS).to_string(max_cols=10, max_colwidth=20)
    return (
        f"pandas DataFrame, {rows} rows x {columns} columns; columns and dtypes: {dtypes}; "
        f"index: {_index(frame.index)}\nfirst rows:\n{head}"
    )


def _series(series: Any) -> str:
    head = series.head(HEAD_ROWS).to_string()
    return (
        f"pandas Series, length {len(series)}, dtype {series.dtype}, name {series.name!r}; "
        f"index: {_index(series.index)}\nfirst values:\n{head}"
    )


def _array_head(array: Any) -> str:
    flat = array.ravel()[:8].tolist()
    return _short.repr(flat) + (" ..." if array.size > 8 else "")


def _figure(figure: Any) -> str:
    width, height = (round(float(size) * figure.dpi) for size in figure.get_size_inches())
    axes = figure.get_axes()
    parts = [f"matplotlib Figure {width}x{height} px, {len(axes)} axes"]
    parts.extend(f"axes {number}: {_axes(ax)}" for number, ax in enumerate(axes[:4], 1))
    return "; ".join(parts)


def _axes(ax: Any) -> str:
    shown = []
    for what, count in (
        ("lines", len(ax.get_lines())),
        ("bars or patches", len(ax.patches)),
        ("scatter or other collections", len(ax.collections)),
        ("images", len(ax.images)),
    ):
        if count:
            shown.append(f"{count} {what}")
    return (
        f"title {ax.get_title()!r}, x label {ax.get_xlabel()!r}, y label {ax.get_ylabel()!r}, "
        + (", ".join(shown) or "empty")
    )
