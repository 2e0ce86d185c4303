"""What variables hold, told compactly where the namespace is: in the shell, in a kernel."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_autocoder.executors import ShellExecutor
from jupyter_autocoder.executors.base import Executor

SETUP = """
import pandas as pd
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
monthly = pd.Series([3.0, 5.0], index=pd.PeriodIndex(['2024-01', '2024-02'], freq='M'))
latest = pd.DataFrame({'user': ['u1', 'u2'], 'value': [2, 3]})
acc = 0.9333
keep = ['a', 'b']
fig, ax = plt.subplots()
ax.plot([1, 2, 3])
ax.set_title('Revenue')
def helper(x):
    return x
"""


def check_descriptions(executor: Executor) -> None:
    names = executor.user_names()
    assert {"monthly", "latest", "acc", "keep", "fig", "helper", "pd"} <= set(names)
    assert not any(name.startswith("_") for name in names) and "In" not in names
    described = executor.describe_names(
        ["monthly", "latest", "acc", "keep", "fig", "helper", "pd", "missing"]
    )
    assert set(described) == {"monthly", "latest", "acc", "keep", "fig"}  # no code, no modules
    told = {name: fact["text"] for name, fact in described.items()}
    assert described["monthly"]["type"] == "pandas Series"
    assert described["monthly"]["default_index"] is False
    assert described["monthly"]["order"] == "increasing"
    assert described["latest"]["type"] == "pandas DataFrame"
    assert described["latest"]["default_index"] is True
    assert (described["acc"]["type"], described["keep"]["type"]) == ("float", "list")
    assert told["monthly"].startswith("pandas Series, length 2, dtype float64")
    assert "index: PeriodIndex of period[M]" in told["monthly"]
    assert "2 rows x 2 columns; columns and dtypes: user: " in told["latest"]
    assert "value: int64" in told["latest"] and "u2" in told["latest"]
    assert told["acc"] == "float 0.9333"
    assert told["keep"] == "list of 2 items: ['a', 'b']"
    assert told["fig"].startswith("matplotlib Figure 640x480 px, 1 axes")
    assert "title 'Revenue'" in told["fig"] and "1 lines" in told["fig"]


def test_in_the_shell():
    shell = InteractiveShell.instance()
    executor = ShellExecutor(shell)
    assert executor.run(SETUP).ok
    check_descriptions(executor)


def test_in_a_kernel(kernel):
    assert kernel.run(SETUP).ok
    check_descriptions(kernel)


@pytest.mark.parametrize("value", [float("nan"), None, "x" * 5000, list(range(1000))])
def test_a_description_stays_short(value):
    from jupyter_autocoder.executors.values import VALUE_CHARS, describe_value

    assert 0 < len(describe_value(value)) <= VALUE_CHARS
