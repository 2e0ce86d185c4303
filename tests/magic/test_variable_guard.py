"""What the user reads when `%%autocoder`'s code changes variables the request did not ask
to change, and `%autocoder restore`; in a real kernel with the scripted model."""

from __future__ import annotations

from .conftest import py

LOG = (
    "import pandas as pd\n"
    "log = pd.DataFrame({'when': ['2024-01-01', '2024-01-02', '2024-01-08'], "
    "'visits': [3, 4, 5]})"
)
LOG_REQUEST = (
    "log has a column 'when' of date strings and a column 'visits'. Compute the mean visits "
    "per weekday into a Series by_day."
)
IN_PLACE = (
    "log['when'] = pd.to_datetime(log['when'])\n"
    "log['day_of_week'] = log['when'].dt.day_name()\n"
    "by_day = log.groupby('day_of_week')['visits'].mean()"
)
DF = (
    "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3], 'g': ['x', 'y', 'x']})\n_original = df"
)
TABLE_REQUEST = "Show the mean of a per g in df as a table."
RELOADS = (
    "df = pd.DataFrame({'a': [1, 2, 3, 4], 'g': ['x', 'y', 'x', 'y']})\n"
    "print(df.groupby('g')['a'].mean())"
)


def test_a_change_in_place_is_named_and_said_to_be_final(nb, script):
    nb.execute(LOG)
    script.enqueue(py(IN_PLACE))
    run = nb.execute(f"%%autocoder\n{LOG_REQUEST}")

    assert run.status == "ok", run.text
    text = run.text
    assert "The code changed your variable `log` in place: column `when` converted from " in text
    assert "column `day_of_week` added. This cannot be undone: the object itself was " in text
    assert "no copy was kept" in text
    assert "by_day" not in text.split("The code changed")[1].split(".")[0]  # requested: not flagged
    # after the run's line, before the closing one
    assert text.index("Ran without errors") < text.index("The code changed") < text.index("Done:")
    assert nb.value("list(log.columns)") == ["when", "visits", "day_of_week"]
    # nothing to put back for a change in place
    restore = nb.execute("%autocoder restore log")
    assert restore.status == "error" and "No earlier value of log is kept" in restore.text


def test_a_replaced_variable_can_be_restored_until_the_next_request(nb, script):
    nb.execute(DF)
    script.enqueue(py(RELOADS))
    run = nb.execute(f"%%autocoder\n{TABLE_REQUEST}")

    assert run.status == "ok", run.text
    assert (
        "The code replaced your variable `df` (now: pandas DataFrame, 4 rows x 2 columns). "
        "The old value (it held: pandas DataFrame, 3 rows x 2 columns) is kept until your next "
        "request: `%autocoder restore df` puts it back."
    ) in run.text
    assert nb.value("len(df)") == 4

    listed = nb.execute("%autocoder restore")
    assert "Can be put back: df (pandas DataFrame, 3 rows x 2 columns)" in listed.text
    restored = nb.execute("%autocoder restore df")
    assert restored.status == "ok", restored.text
    assert "df is back as it was before the agent's code: pandas DataFrame, 3 rows" in (
        restored.text
    )
    assert nb.value("df is _original") is True
    assert "Nothing to restore" in nb.execute("%autocoder restore").text


def test_the_next_request_forgets_the_kept_values(nb, script):
    nb.execute(DF)
    script.enqueue(py(RELOADS), py("print(df['a'].sum())"))
    nb.execute(f"%%autocoder\n{TABLE_REQUEST}")
    run = nb.execute("%%autocoder\nPrint the sum of a.")
    assert "changed your variable" not in run.text and "replaced your" not in run.text
    assert "Nothing to restore" in nb.execute("%autocoder restore").text


def test_requested_changes_and_reads_are_not_flagged(nb, script):
    nb.execute(DF + "\ntotal = 0")
    script.enqueue(
        py("total = int(df['a'].sum())"),
        py("df['double'] = df['a'] * 2"),
        py("print(df.describe())"),
    )
    for request in (
        "Store the sum of column a of df in `total`.",
        "Add a column double to df holding twice a.",
        "Describe df.",
    ):
        run = nb.execute(f"%%autocoder\n{request}")
        assert run.status == "ok", run.text
        assert "your variable" not in run.text, run.text
    assert nb.value("total") == 6


def test_strict_fails_the_round_and_puts_the_value_back(nb, script):
    nb.execute(DF)
    nb.execute("%config AutoCoder.variable_guard = 'strict'")
    script.enqueue(py(RELOADS), py("print(df.groupby('g')['a'].mean())"))
    try:
        run = nb.execute(f"%%autocoder\n{TABLE_REQUEST}")
    finally:
        nb.execute("%config AutoCoder.variable_guard = 'warn'")

    text = run.text
    assert (
        "The code replaced your variable `df` (now: pandas DataFrame, 4 rows x 2 columns). " in text
    )
    assert "It was put back as it was (it held: pandas DataFrame, 3 rows x 2 columns)." in text
    assert "The strict setting (variable_guard) makes this a failed round." in text
    assert "Done: the code ran without errors (2 rounds" in text
    assert nb.value("df is _original") is True
    told = script.asked[1].messages[-1]["content"]
    assert "your code changed `df`: reassigned" in told and "`df` has been put back" in told
