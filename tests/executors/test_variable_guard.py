"""The guard of the user's variables where the namespace is (executors/guard.py and
fingerprint.py): what it sees changed, what it keeps, what it puts back; on plain
namespaces with real pandas and numpy values, and in a real kernel through the executor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_autocoder.executors.fingerprint import Snapshot, describe, sample_positions, summary
from jupyter_autocoder.executors.guard import NamespaceGuard


def run_guarded(namespace: dict, change, exempt=(), restore=False) -> list[dict]:
    """`change(namespace)` between the guard's before and after, as one agent run."""
    guard = NamespaceGuard()
    guard.begin_turn(namespace, {}, exempt)
    guard.before(namespace)
    change(namespace)
    return guard.after(namespace, restore=restore)


def by_name(changes: list[dict]) -> dict[str, dict]:
    return {change["name"]: change for change in changes}


def visits() -> pd.DataFrame:
    return pd.DataFrame({"when": ["2024-01-01", "2024-01-02", "2024-01-08"], "visits": [3, 4, 5]})


def test_a_frame_converted_and_extended_in_place_is_told_column_by_column():
    def code(ns):
        log = ns["log"]
        log["when"] = pd.to_datetime(log["when"])
        log["day_of_week"] = log["when"].dt.day_name()
        ns["by_day"] = log.groupby("day_of_week")["visits"].mean()

    (change,) = run_guarded({"log": visits()}, code)

    assert change["name"] == "log" and change["change"] == "mutated"
    converted, added = change["details"]
    assert converted.startswith("column `when` converted from ") and "datetime64" in converted
    assert added == "column `day_of_week` added"
    assert change["restorable"] is False and change["now"] == "pandas DataFrame, 3 rows x 3 columns"


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas 3.1 deprecates it; code uses it
@pytest.mark.parametrize(
    ("code", "detail"),
    [
        (lambda f: f.sort_values("visits", ascending=False, inplace=True), "index changed"),
        (lambda f: f.drop(index=0, inplace=True), "rows: 3 → 2"),
        (
            lambda f: f.rename(columns={"visits": "n"}, inplace=True),
            "column `visits` renamed to `n`",
        ),
        (lambda f: f.drop(columns="when", inplace=True), "column `when` removed"),
        (lambda f: f.__setitem__("visits", f["visits"] * 10), "values of column `visits` changed"),
        (lambda f: f.set_index("when", inplace=True), "column `when` removed"),
        (lambda f: f.fillna(0, inplace=True), None),  # nothing was missing: no change
    ],
)
def test_changes_in_place_to_a_frame(code, detail):
    changes = run_guarded({"log": visits()}, lambda ns: code(ns["log"]))
    if detail is None:
        assert changes == []
    else:
        (change,) = changes
        assert change["change"] == "mutated"
        assert any(note.startswith(detail) for note in change["details"]), change["details"]


def test_a_change_to_a_tenth_of_a_million_rows_is_seen_and_the_snapshot_stays_small():
    frame = pd.DataFrame({"x": np.arange(1_000_000, dtype=float), "y": np.zeros(1_000_000)})
    snapshot = Snapshot.take(frame)
    assert snapshot._parts["sample"].shape == (256, 2)  # a sample, never a copy of the rows
    frame.loc[frame.index % 10 == 3, "x"] = -1.0
    assert snapshot.differences(frame) == ["values of column `x` changed"]
    assert Snapshot.take(frame).differences(frame) == []


def test_series_arrays_lists_dicts_sets_and_objects():
    class Model:
        def __init__(self):
            self.alpha = 1.0

        def fit(self):
            self.coef_ = np.ones(3)
            self._cache = {}  # private: a cache, not the model's state

    namespace = {
        "s": pd.Series([1, 2, 3]),
        "a": np.arange(12.0).reshape(3, 4),
        "items": [1, 2, 3],
        "table": {"a": 1, "b": 2},
        "seen": {1, 2},
        "model": Model(),
        "untouched": pd.Series([1.0, np.nan]),
    }

    def code(ns):
        ns["s"][0] = 100
        ns["a"][1, 1] = -1
        ns["items"].append(4)
        ns["table"]["c"] = 3
        ns["seen"].discard(1)
        ns["model"].fit()
        ns["untouched"].sum()

    changes = by_name(run_guarded(namespace, code))

    assert changes["s"]["details"] == ["values changed"]
    assert changes["a"]["details"] == ["values changed"]
    assert changes["items"]["details"] == ["items: 3 → 4"]
    assert changes["table"]["details"] == ["key `c` added"]
    assert changes["seen"]["details"] == ["element `1` removed"]
    assert changes["model"]["details"] == ["attribute `coef_` added"]
    assert "untouched" not in changes
    assert all(change["change"] == "mutated" for change in changes.values())


def test_a_series_changed_and_renamed():
    changes = run_guarded(
        {"s": pd.Series([1, 2, 3], name="n")},
        lambda ns: (ns["s"].__setitem__(0, 7), setattr(ns["s"], "name", "m")),
    )
    (change,) = changes
    assert change["details"] == ["renamed from 'n' to 'm'", "values changed"]


def test_reassigned_and_deleted_names_are_kept_for_the_user_to_restore():
    original = visits()
    namespace = {"df": original, "count": 3, "label": "abc", "gone": [1]}
    guard = NamespaceGuard()
    guard.begin_turn(namespace, {})
    guard.before(namespace)
    namespace["df"] = pd.DataFrame({"a": [1]})
    namespace["count"] = 3  # the same value again: nothing a user could tell
    namespace["label"] = "".join(["a", "bc"])  # another str object, the same text
    del namespace["gone"]
    changes = by_name(guard.after(namespace))

    assert set(changes) == {"df", "gone"}
    assert changes["df"]["change"] == "reassigned" and changes["df"]["restorable"] is True
    assert changes["df"]["was"] == "pandas DataFrame, 3 rows x 2 columns"
    assert changes["df"]["now"] == "pandas DataFrame, 1 row x 1 column"
    assert changes["gone"]["change"] == "deleted" and changes["gone"]["was"] == "list of 1 item"
    assert [item["name"] for item in guard.kept_values()] == ["df", "gone"]

    answer = guard.restore(namespace, "df")
    assert answer["restored"] is True and namespace["df"] is original
    assert "back as it was" in answer["message"]
    again = guard.restore(namespace, "df")
    assert again["restored"] is False and "`gone`" in again["message"]

    # the next turn forgets what the last one kept: memory stays bounded
    guard.begin_turn(namespace, {})
    assert guard.kept_values() == []


def test_strict_restore_puts_a_replaced_value_back_at_once():
    original = visits()
    changes = run_guarded({"df": original}, lambda ns: ns.update(df=None), restore=True)
    (change,) = changes
    assert change["restored"] is True and change["restorable"] is False


def test_exempt_new_private_and_code_names_are_not_watched():
    namespace = {"by_day": 1, "df": visits(), "_hidden": [1], "helper": len, "np": np}

    def code(ns):
        ns["by_day"] = 2  # requested
        ns["fresh"] = [1]  # new: the code's own
        ns["_hidden"].append(2)
        ns["helper"] = max
        ns["np"] = None

    assert run_guarded(namespace, code, exempt=["by_day"]) == []


def test_a_reassignment_in_round_one_keeps_the_users_own_object():
    original = visits()
    namespace = {"df": original}
    guard = NamespaceGuard()
    guard.begin_turn(namespace, {})
    for replacement in (pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [2]})):
        guard.before(namespace)
        namespace["df"] = replacement
        guard.after(namespace)
    assert guard.restore(namespace, "df")["restored"] and namespace["df"] is original


def test_summary_and_description_for_whoever_shows_variables():
    frame = visits()
    assert summary(frame) == {
        "type": "pandas DataFrame",
        "shape": [3, 2],
        "columns": ["when", "visits"],
        "dtypes": [str(frame.dtypes.iloc[0]), "int64"],
    }
    assert describe(np.zeros((2, 3))) == "numpy ndarray, shape (2, 3), dtype float64"
    assert describe(5) == "int 5" and describe([1, 2]) == "list of 2 items"
    assert sample_positions(10) == list(range(10))
    positions = sample_positions(1_000_000)
    assert len(positions) == 256 and positions[0] == 0 and positions[-1] == 999_999


def test_a_value_whose_methods_fail_is_still_watched_by_identity():
    class Broken:
        @property
        def __dict__(self):
            raise RuntimeError("no")

    namespace = {"b": Broken()}
    assert run_guarded(namespace, lambda ns: None) == []
    (change,) = run_guarded(namespace, lambda ns: ns.update(b=Broken()))
    assert change["change"] == "reassigned"


# -- in a real kernel, through the executor -------------------------------------------------


def test_the_guard_in_a_kernel_through_the_executor(kernel):
    kernel.run(
        "import pandas as pd\n"
        "log = pd.DataFrame({'when': ['2024-01-01', '2024-01-02'], 'visits': [3, 4]})\n"
        "df = pd.DataFrame({'a': [1, 2, 3]})\n"
        "_original = df\n"
    )
    assert kernel.guard("begin_turn", {"exempt": ["by_day"]}) == 2  # log and df
    assert kernel.guard("before") == 2
    kernel.run(
        "log['when'] = pd.to_datetime(log['when'])\n"
        "df = pd.read_csv(__import__('io').StringIO('a\\n9'))\n"
        "by_day = log['visits'].mean()\n"
    )
    changes = by_name(kernel.guard("after"))
    assert set(changes) == {"log", "df"}
    assert changes["log"]["details"][0].startswith("column `when` converted from ")
    assert changes["df"]["change"] == "reassigned" and changes["df"]["restorable"]
    assert kernel.guard("kept") == [{"name": "df", "was": "pandas DataFrame, 3 rows x 1 column"}]

    answer = kernel.guard("restore", {"name": "df"})
    assert answer["restored"] is True
    check = kernel.run("assert df is _original and len(df) == 3")
    assert check.ok, check.outputs
    # a name that is no identifier is refused in the kernel, and reported as not possible
    assert kernel.guard("restore", {"name": "df; import os"}) is None
