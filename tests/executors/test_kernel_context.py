"""The variables of a kernel as the model is told them: one module (`executors/values.py`)
that the magic calls on its shell and that the panel sends to its notebook's kernel
(`executors/kernel_code.py`), where it must work without this package installed and leave
no trace in the user's namespace, history or execution count."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_autocoder.executors import kernel_code
from jupyter_autocoder.executors.values import kernel_context
from jupyter_autocoder.magic.context import describe_namespace

SETUP = """
import pandas as pd
sales = pd.DataFrame({
    "region": ["north", "south", "east", "west"] * 50,
    "units": range(200),
    "price": [2.5, 3.0] * 100,
})
ratio = 0.25
def helper(x):
    return x
"""


def test_the_magic_and_the_kernel_call_tell_the_same_variables():
    pytest.importorskip("pandas")
    shell = InteractiveShell.instance()
    before = set(shell.user_ns)
    try:
        shell.run_cell(SETUP)
        told = kernel_context(shell.user_ns, shell.user_ns_hidden, budget=1500)
        assert told["variables"] == [asdict(v) for v in describe_namespace(shell, budget=1500)]
        names = [variable["name"] for variable in told["variables"]]
        assert names[:3] == ["helper", "ratio", "sales"]  # newest first
        assert told["names"][:2] == ["ratio", "sales"]  # data only: no function, no module
    finally:
        for name in set(shell.user_ns) - before:
            del shell.user_ns[name]


def test_an_at_name_gets_head_describe_and_value_counts():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {
            "region": ["north", "south"] * 50,
            "units": range(100),
            "id": [f"u{i}" for i in range(100)],
        }
    )
    told = kernel_context({"sales": frame, "n": 3}, budget=1000, details=["sales", "n", "absent"])
    attached = {item["name"]: item for item in told["attached"]}
    assert set(attached) == {"sales", "n"}
    detail = attached["sales"]["summary"]
    assert attached["sales"]["type_name"] == "pandas DataFrame"
    assert "100 rows x 3 columns" in detail and "first rows:" in detail
    assert "describe():" in detail and "mean" in detail and "49.5" in detail  # units' mean
    assert "value counts of 'region':" in detail and "north" in detail
    assert "value counts of 'id'" not in detail  # a hundred values: not counted
    assert attached["n"]["summary"] == "int 3"


def silent(kernel, code: str):
    result = kernel.run(code, 60.0, silent=True)
    assert result.ok, result.to_dict()
    return result


def test_in_a_real_kernel_the_call_loads_the_module_once_and_leaves_no_trace(kernel):
    pytest.importorskip("pandas")
    assert kernel.run(SETUP).ok
    names_before = kernel.user_names()
    count_before = kernel.run("print('count')").execution_count

    missing = json.loads(silent(kernel, kernel_code.call_code({})).stdout)
    assert missing == kernel_code.MISSING  # a kernel that never had it
    silent(kernel, kernel_code.load_code())
    options = {"budget": 800, "details": ["sales"]}
    told = json.loads(silent(kernel, kernel_code.call_code(options)).stdout)
    sales = next(v for v in told["variables"] if v["name"] == "sales")
    assert sales["summary"].startswith("200 rows x 3 columns; dtypes: region ")
    assert (
        told["attached"][0]["name"] == "sales" and "describe():" in told["attached"][0]["summary"]
    )
    assert (
        sum(len(v["name"]) + len(v["type_name"]) + len(v["summary"]) + 8 for v in told["variables"])
        <= 800
    )

    # Nothing was added to the user's names, and the silent runs took no execution count.
    assert kernel.user_names() == names_before
    assert kernel.run("print('count')").execution_count == count_before + 1
    history = kernel.run("print(len(In))").stdout
    assert "kernel_context_json" not in kernel.run("print(In)").stdout, history

    # The executor's own call goes the same way.
    assert (
        kernel.kernel_context(budget=800, details=["ratio"])["attached"][0]["summary"]
        == "float 0.25"
    )


def test_the_kernel_code_works_where_jupyter_autocoder_is_not_installed(tmp_path):
    """A Python without site-packages and without PYTHONPATH (-I -S) cannot import this
    package; the code the panel sends still tells its variables."""
    script = tmp_path / "kernel.py"
    script.write_text(
        "namespace = {'__name__': '__main__'}\n"
        f"call = {kernel_code.call_code({'budget': 500, 'details': ['scores']})!r}\n"
        "exec(call, namespace)\n"
        f"exec({kernel_code.load_code()!r}, namespace)\n"
        "namespace.update(scores=[3, 4, 5], label='hello')\n"
        "exec(call, namespace)\n"
        "try:\n"
        "    import jupyter_autocoder\n"
        "    print('importable')\n"
        "except ImportError:\n"
        "    print('not importable')\n"
        "print(sorted(name for name in namespace if not name.startswith('__')))\n"
    )
    output = subprocess.run(
        [sys.executable, "-I", "-S", str(script)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert json.loads(output[0]) == kernel_code.MISSING
    told = json.loads(output[1])
    assert told["variables"] == [
        {"name": "label", "type_name": "str", "summary": "5 characters: 'hello'"},
        {"name": "scores", "type_name": "list", "summary": "3 items: [3, 4, 5]"},
    ]
    assert told["attached"] == [
        {"name": "scores", "type_name": "list", "summary": "list of 3 items: [3, 4, 5]"}
    ]
    assert output[2] == "not importable"
    assert output[3] == "['label', 'scores']"  # the module bound nothing in the namespace


def test_the_module_name_follows_its_source():
    name = kernel_code.module_name()
    assert name.startswith("_autocoder_values_") and name in kernel_code.load_code()
    assert (
        name in kernel_code.call_template()
        and kernel_code.OPTIONS_PLACEHOLDER in kernel_code.call_template()
    )
