"""The context the magic gives the model, built from a real IPython shell: variables with
their summaries, newest first, within a budget; and the failing cell found after the fact."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_autocoder.agent.prompts import render_context
from jupyter_autocoder.magic.context import (
    CellWatch,
    build_context,
    describe_namespace,
    failure_before_loading,
)


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    before = set(shell.user_ns)
    yield shell
    for name in set(shell.user_ns) - before:
        del shell.user_ns[name]


def test_a_dataframe_is_told_with_its_shape_dtypes_and_first_rows(shell):
    pandas = pytest.importorskip("pandas")
    shell.user_ns["sales"] = pandas.DataFrame(
        {
            "region": ["north", "south", "east", "west"] * 50,
            "units": range(200),
            "price": [2.5] * 200,
        }
    )
    [sales] = [v for v in describe_namespace(shell) if v.name == "sales"]
    assert sales.type_name == "pandas DataFrame"
    assert sales.summary.startswith(
        "200 rows x 3 columns; dtypes: region "
    )  # object, or str in pandas 3
    assert "units int64, price float64\n" in sales.summary
    assert "first rows:" in sales.summary and "north" in sales.summary
    assert "west" not in sales.summary  # three rows, not two hundred


def test_variables_are_newest_first_without_ipython_s_own_and_cut_to_the_budget(shell):
    shell.run_cell("import json\nfirst_made = 1\nwords = ['x' * 30] * 1000\nlast_made = {'a': 1}")
    variables = describe_namespace(shell, budget=400)
    names = [v.name for v in variables]
    assert names.index("last_made") < names.index("words") < names.index("first_made")
    assert not {"In", "Out", "get_ipython", "exit", "quit"} & set(names)
    assert not [name for name in names if name.startswith("_")]
    assert {"name": "json", "type": "module", "summary": "json"} in [
        {"name": v.name, "type": v.type_name, "summary": v.summary} for v in variables
    ]
    words = next(v for v in variables if v.name == "words")
    assert words.summary.startswith("1000 items: ['xxxxxxxx") and len(words.summary) <= 240
    total = sum(len(v.name) + len(v.type_name) + len(v.summary) + 8 for v in variables)
    assert total <= 400


def test_the_failing_cell_is_found_even_when_it_failed_before_the_extension_was_loaded(shell):
    shell.run_cell("ok_before = 1", store_history=True)
    shell.run_cell("bad = missing_name_xyz + 1", store_history=True)
    failure = failure_before_loading(shell)
    assert failure is not None
    assert failure.source.strip() == "bad = missing_name_xyz + 1"
    assert failure.ename == "NameError"
    assert failure.execution_count == shell.execution_count - 1

    watch = CellWatch(shell)
    watch.register()
    try:
        shell.run_cell("also_bad = 1 / 0", store_history=True)
        assert (
            watch.last_failure.source == "also_bad = 1 / 0"
            and watch.last_failure.ename == "ZeroDivisionError"
        )
        context = build_context(shell, watch, include_failure=True)
        rendered = render_context(context)
        assert rendered.startswith(
            "Last error in the notebook:\nZeroDivisionError: division by zero"
        )
        assert "also_bad = 1 / 0" in rendered
    finally:
        watch.unregister()
