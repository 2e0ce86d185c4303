"""What the variables of a namespace hold, told compactly: the one kernel-side module that
describes the user's variables, for the model's context and for the loop's checks.

- The context of a request (`namespace_summary`, `variable_detail`, `kernel_context`):
  the variables, newest first, each with its type and a short summary (a DataFrame's shape,
  dtypes and first rows) within a character budget; and, for a variable the user names
  with `@name` in the panel, a fuller one (head, describe, value counts of a few columns).
  The magic calls these on its shell's namespace; the panel gets the same through a silent
  execution in the notebook's kernel (`kernel_context_json`), sending this module's source
  when the kernel does not have it loaded (`executors/kernel_code.py`).
- The loop's check of a result against the request (`describe_names`, `facts`,
  `agent/results.py`).

It runs where the namespace is, and in kernels whose environment may not have
jupyter_autocoder installed: standard library only at import time and no imports of this
package; pandas, numpy and matplotlib values are recognised by their type's module, never
imported.

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
    if (
        isinstance(value, (int, float, complex))
        or module.startswith("numpy")
        and not hasattr(value, "__len__")
    ):
        return f"{_type_name(value)} {value!r}"
    if isinstance(value, str):
        return f"str of {len(value)} characters: {_short.repr(value)}"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return f"{name} of {len(value)} items: {_short.repr(value)}"
    if module.startswith("sklearn"):
        fitted = (
            any(
                attribute.endswith("_") and not attribute.startswith("_")
                for attribute in vars(value)
            )
            if hasattr(value, "__dict__")
            else False
        )
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


# --- the context of a request: the variables as the model sees them ----------------------

# Variables told in a context, and the characters of one summary (a DataFrame's or a
# Series' rows are the point of theirs: they are cut by the budget instead).
MAX_VARIABLES = 40
MAX_SUMMARY = 240
# Names offered for `@name` completion, and the characters of one `@name` detail.
MAX_NAMES = 200
DETAIL_CHARS = 2500
DETAIL_ROWS = 5
# Value counts are shown for at most this many columns with at most this many values.
COUNTED_COLUMNS = 3
COUNTED_VALUES = 20


def namespace_summary(
    namespace: Mapping[str, Any],
    hidden: Mapping[str, Any] | None = None,
    *,
    budget: int = 3000,
    limit: int = MAX_VARIABLES,
) -> list[dict[str, str]]:
    """The user's variables, newest first, as `{"name", "type_name", "summary"}`, within
    `budget` characters (a name, its type and its summary, and 8 for the line around them).

    `hidden`: IPython's own names (`user_ns_hidden`), left out unless the user rebound them.
    """
    hidden = hidden or {}
    variables: list[dict[str, str]] = []
    used = 0
    # A dict keeps insertion order: the newest names are last.
    for name in reversed(list(namespace)):
        if len(variables) >= limit:
            break
        if name.startswith("_") or not name.isidentifier():
            continue
        value = namespace.get(name)
        if name in hidden and hidden[name] is value:
            continue  # IPython's own (In, Out, exit, get_ipython...), not rebound by the user
        type_name, summary = summarize(value)
        if not type_name:
            continue
        size = len(name) + len(type_name) + len(summary) + 8
        if variables and used + size > budget:
            # Cut this one short rather than drop it, when that leaves a useful line.
            room = budget - used - len(name) - len(type_name) - 8
            if room < 60:
                break
            summary = summary[: room - 3] + "..."
            size = budget - used
        variables.append({"name": name, "type_name": type_name, "summary": summary})
        used += size
    return variables


def summarize(value: Any) -> tuple[str, str]:
    """(type name, summary) of one value for the context; ("", "") for what the model need
    not see (IPython's and the builtins' functions).

    Summaries other than a DataFrame's or a Series' are at most `MAX_SUMMARY` characters."""
    type_name, summary = _summarize(value)
    if len(summary) > MAX_SUMMARY and not type_name.startswith("pandas"):
        summary = summary[: MAX_SUMMARY - 3] + "..."
    return type_name, summary


def _summarize(value: Any) -> tuple[str, str]:
    kind = type(value)
    module = kind.__module__ or ""
    name = kind.__qualname__
    try:
        if isinstance(value, types.ModuleType):
            return "module", value.__name__
        if module.startswith("pandas") and name == "DataFrame":
            return "pandas DataFrame", _dataframe_summary(value)
        if module.startswith("pandas") and name == "Series":
            return "pandas Series", _series_summary(value)
        if module.startswith("numpy") and name == "ndarray":
            return "numpy ndarray", f"shape {tuple(value.shape)}, dtype {value.dtype}"
        if inspect.isclass(value):
            return "class", f"{value.__module__}.{value.__qualname__}"
        if inspect.isroutine(value):
            if module.startswith("IPython") or getattr(value, "__module__", "") in ("builtins",):
                return "", ""
            return "function", f"{getattr(value, '__name__', '')}{_signature(value)}"
        if hasattr(value, "shape") and hasattr(value, "dtype"):  # tensors, xarray, ...
            return (
                f"{module.split('.')[0]} {name}",
                f"shape {tuple(value.shape)}, dtype {value.dtype}",
            )
        if isinstance(value, (bool, int, float, complex)) or value is None:
            return name, repr(value)
        if isinstance(value, (str, bytes)):
            return name, f"{len(value)} characters: {_short.repr(value)}"
        if isinstance(value, dict):
            keys = ", ".join(_short.repr(key) for key in list(value)[:12])
            more = ", ..." if len(value) > 12 else ""
            return _type_label(module, name), f"{len(value)} keys: {keys}{more}"
        if isinstance(value, (list, tuple, set, frozenset)):
            return _type_label(module, name), f"{len(value)} items: {_short.repr(value)}"
        return _type_label(module, name), _safe_repr(value, 160)
    except Exception:  # a summary is a courtesy: a value whose methods fail still gets its type
        return _type_label(module, name), ""


def _type_label(module: str, name: str) -> str:
    if module in ("builtins", "__main__", ""):
        return name
    return f"{module.split('.')[0]} {name}"


def _dataframe_summary(frame: Any) -> str:
    rows, columns = frame.shape
    dtypes = ", ".join(f"{column} {dtype}" for column, dtype in list(frame.dtypes.items())[:20])
    if columns > 20:
        dtypes += f", ... ({columns - 20} more)"
    head = frame.head(3).to_string(max_cols=10, max_colwidth=24)
    return f"{rows} rows x {columns} columns; dtypes: {dtypes}\nfirst rows:\n{head}"


def _series_summary(series: Any) -> str:
    head = series.head(3).to_string(max_rows=3)
    return (
        f"length {len(series)}, dtype {series.dtype}, name {series.name!r}\nfirst values:\n{head}"
    )


def _signature(function: Any) -> str:
    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return "(...)"


def _safe_repr(value: Any, limit: int) -> str:
    try:
        text = _short.repr(value) if isinstance(value, (list, tuple, dict, set)) else repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def variable_detail(value: Any, limit: int = DETAIL_CHARS) -> str:
    """A fuller description of one variable, for `@name` in the panel: a DataFrame's head,
    `describe()` and the value counts of a few columns with few values; a Series' the same;
    anything else as the result check describes it."""
    kind = type(value)
    module = kind.__module__ or ""
    try:
        if module.startswith("pandas") and kind.__name__ == "DataFrame":
            text = _dataframe_detail(value)
        elif module.startswith("pandas") and kind.__name__ == "Series":
            text = _series_detail(value)
        else:
            type_name, summary = summarize(value)
            text = describe_value(value) or f"{type_name}: {summary}"
    except Exception as error:  # a value whose methods fail is still told by its type
        text = f"{_type_name(value)} (cannot be shown: {type(error).__name__})"
    if len(text) > limit:
        text = text[: limit - 4] + " ..."
    return text


def _dataframe_detail(frame: Any) -> str:
    parts = [_dataframe(frame)]
    parts.append(_section("describe()", lambda: frame.describe().to_string(max_cols=12)))
    counted = 0
    for position, column in enumerate(frame.columns):
        if counted >= COUNTED_COLUMNS:
            break
        counts = _few_value_counts(frame.iloc[:, position])
        if counts:
            parts.append(f"value counts of {column!r}:\n{counts}")
            counted += 1
    return "\n".join(part for part in parts if part)


def _series_detail(series: Any) -> str:
    parts = [_series(series), _section("describe()", lambda: series.describe().to_string())]
    counts = _few_value_counts(series)
    if counts:
        parts.append(f"value counts:\n{counts}")
    return "\n".join(part for part in parts if part)


def _section(title: str, make: Any) -> str:
    try:
        return f"{title}:\n{make()}"
    except Exception:  # describe() of an empty or odd frame: the rest is still worth telling
        return ""


def _few_value_counts(series: Any) -> str:
    """The value counts of a column of labels (strings, booleans, categories) with at most
    `COUNTED_VALUES` distinct values, else "". Its first rows tell a column of many values
    before all of it is counted."""
    if series.dtype.kind not in "OSUb" and str(series.dtype) != "category":
        return ""
    try:
        if series.head(1000).nunique(dropna=False) > COUNTED_VALUES:
            return ""
        counts = series.value_counts(dropna=False)
    except Exception:  # unhashable values (lists in cells)
        return ""
    if len(counts) > COUNTED_VALUES:
        return ""
    return counts.to_string()


def kernel_context(
    namespace: Mapping[str, Any],
    hidden: Mapping[str, Any] | None = None,
    *,
    budget: int = 3000,
    details: Iterable[str] = (),
    limit: int = MAX_VARIABLES,
) -> dict[str, Any]:
    """What the panel asks of a kernel before a request: `variables` (the summary within
    `budget`), `attached` (the `@name` details of those of `details` that exist), `names`
    (the user's data names, newest first, for completion) and `seconds` (what it cost)."""
    import time

    started = time.perf_counter()
    hidden = hidden or {}
    attached = []
    for name in dict.fromkeys(details):
        if isinstance(name, str) and name.isidentifier() and name in namespace:
            value = namespace[name]
            attached.append(
                {"name": name, "type_name": summarize(value)[0], "summary": variable_detail(value)}
            )
    names = [
        name
        for name in reversed(user_names(namespace, hidden))
        if name.isidentifier() and _is_data(namespace[name])
    ][:MAX_NAMES]
    return {
        "variables": namespace_summary(namespace, hidden, budget=budget, limit=limit),
        "attached": attached,
        "names": names,
        "seconds": round(time.perf_counter() - started, 6),
    }


def _is_data(value: Any) -> bool:
    return not (isinstance(value, (type, types.ModuleType)) or inspect.isroutine(value))


def kernel_context_json(namespace: Mapping[str, Any], options: str = "{}") -> str:
    """`kernel_context` as JSON, for a silent execution in a kernel: `options` is a JSON
    object of its keyword arguments (`budget`, `details`). IPython's own names are found
    through IPython when it runs this namespace."""
    import json
    import sys

    arguments = json.loads(options)
    hidden: Mapping[str, Any] = {}
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and shell.user_ns is namespace:
        hidden = shell.user_ns_hidden
    context = kernel_context(
        namespace,
        hidden,
        budget=int(arguments.get("budget", 3000)),
        details=[str(name) for name in arguments.get("details", [])],
    )
    return json.dumps(context, default=str)
