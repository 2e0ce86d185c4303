"""The loop and the guard of the user's variables, in a real kernel with the scripted model:
code that changes a frame in place, reassigns a name, changes only what was asked, or
changes nothing; what the model is told and what the user is shown (the events)."""

from __future__ import annotations

import pytest

from jupyter_autocoder.agent.guard import changes_feedback
from jupyter_autocoder.agent.requested import assigned_names, changed_names

LOG_SETUP = (
    "import pandas as pd\n"
    "log = pd.DataFrame({'when': ['2024-01-01', '2024-01-02', '2024-01-08'], "
    "'visits': [3, 4, 5]})\n"
)
LOG_REQUEST = (
    "log has a column 'when' of date strings and a column 'visits'. Compute the mean visits "
    "per weekday into a Series by_day."
)
IN_PLACE = (
    "```python\n"
    "log['when'] = pd.to_datetime(log['when'])\n"
    "log['day_of_week'] = log['when'].dt.day_name()\n"
    "by_day = log.groupby('day_of_week')['visits'].mean()\n"
    "```"
)
ON_A_COPY = (
    "```python\n"
    "days = pd.to_datetime(log['when']).dt.day_name()\n"
    "by_day = log['visits'].groupby(days).mean()\n"
    "```"
)
DF_SETUP = (
    "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3], 'g': ['x', 'y', 'x']})\n"
    "_original = df\n"
)
PLOT_REQUEST = "Show the mean of a per g in df as a table."
RELOADS = (
    "```python\n"
    "df = pd.DataFrame({'a': [1, 2, 3, 4], 'g': ['x', 'y', 'x', 'y']})\n"
    "print(df.groupby('g')['a'].mean())\n"
    "```"
)
READS = "```python\nprint(df.groupby('g')['a'].mean())\n```"


def changed_events(events):
    return [event for event in events if event.type == "variables_changed"]


def run_turn(session, request):
    events = list(session.run(request))
    return events, events[-1]


@pytest.fixture
def log_kernel(kernel):
    kernel.guard("begin_turn")  # the shared kernel's guard forgets an earlier test's values
    assert kernel.run(LOG_SETUP).ok
    return kernel


@pytest.fixture
def df_kernel(kernel):
    kernel.guard("begin_turn")
    assert kernel.run(DF_SETUP).ok
    return kernel


def test_a_frame_changed_in_place_is_told_to_the_user_and_then_to_the_model(
    log_kernel, engine, make_session
):
    engine.enqueue(IN_PLACE, "```python\nprint(by_day.max())\n```")
    session = make_session(log_kernel)
    events, done = run_turn(session, LOG_REQUEST)

    assert done.success  # warn: the round is judged as before
    (notice,) = changed_events(events)
    # it follows the run that made the change
    assert events[events.index(notice) - 1].type == "execution"
    assert notice.mode == "warn"
    (change,) = notice.changes
    assert change.name == "log" and change.change == "mutated" and not change.restorable
    converted, added = change.details
    assert converted.startswith("column `when` converted from ") and "datetime64" in converted
    assert added == "column `day_of_week` added"
    # the requested by_day is not flagged; the model is told with the user's next turn
    list(session.continue_with("Now print the largest mean."))
    told = engine.history[1].messages[-1]["content"]
    assert "your code changed `log`: column `when` converted from" in told
    assert "column `day_of_week` added" in told
    assert "Leave the user's data as it was and work on a copy" in told


def test_strict_fails_the_round_and_the_model_corrects_on_a_copy(log_kernel, engine, make_session):
    engine.enqueue(IN_PLACE, ON_A_COPY)
    session = make_session(log_kernel, variable_guard="strict")
    events, done = run_turn(session, LOG_REQUEST)

    assert done.success and done.rounds == 2
    first, second = [event for event in events if event.type == "execution"]
    assert first.ok is False and first.result.ok  # it ran, but changed the user's data
    assert "your code changed `log`" in first.feedback
    assert "`log` was changed in place and stays so" in first.feedback
    (notice,) = changed_events(events)
    assert notice.mode == "strict" and notice.round == 1
    told = engine.history[1].messages[-1]["content"]
    assert told == first.feedback and "```python block" in told
    assert second.ok and not second.feedback


def test_a_reassigned_name_is_kept_for_restore_until_the_next_turn(df_kernel, engine, make_session):
    engine.enqueue(RELOADS, READS)
    session = make_session(df_kernel)
    events, done = run_turn(session, PLOT_REQUEST)

    assert done.success
    (notice,) = changed_events(events)
    (change,) = notice.changes
    assert (change.name, change.change, change.restorable) == ("df", "reassigned", True)
    assert change.was == "pandas DataFrame, 3 rows x 2 columns"
    assert change.now == "pandas DataFrame, 4 rows x 2 columns"
    assert "your code changed `df`: reassigned (before: pandas DataFrame, 3 rows" in (
        session._pending_note
    )
    # the user puts it back (what `%autocoder restore df` and the panel's button do)
    assert df_kernel.guard("kept") == [{"name": "df", "was": change.was}]
    assert df_kernel.guard("restore", {"name": "df"})["restored"] is True
    assert df_kernel.run("assert df is _original").ok
    # kept for the last turn only: the next turn forgets it
    assert df_kernel.run("df = pd.DataFrame({'a': [0]})").ok  # the user's own cell
    list(session.continue_with("Print it again."))
    assert df_kernel.guard("kept") == []


def test_strict_puts_a_reassigned_name_back_at_once(df_kernel, engine, make_session):
    engine.enqueue(RELOADS, READS)
    session = make_session(df_kernel, variable_guard="strict")
    events, done = run_turn(session, PLOT_REQUEST)

    assert done.success and done.rounds == 2
    (notice,) = changed_events(events)
    assert notice.changes[0].restored and not notice.changes[0].restorable
    first = next(event for event in events if event.type == "execution")
    assert "`df` has been put back as it was." in first.feedback
    assert df_kernel.run("assert df is _original").ok


def test_changing_only_the_requested_names_is_not_flagged(df_kernel, engine, make_session):
    assert df_kernel.run("total = 0").ok
    engine.enqueue(
        "```python\ntotal = int(df['a'].sum())\n```",
        "```python\ndf['double'] = df['a'] * 2\n```",
    )
    session = make_session(df_kernel, variable_guard="strict")
    events, done = run_turn(session, "Store the sum of column a of df in `total`.")
    assert done.success and changed_events(events) == []
    events = list(session.continue_with("Add a column double to df holding twice a."))
    assert events[-1].success and changed_events(events) == []
    assert df_kernel.run("assert total == 6 and list(df['double']) == [2, 4, 6]").ok


def test_code_that_changes_nothing_is_not_flagged(df_kernel, engine, make_session):
    engine.enqueue(READS)
    session = make_session(df_kernel, variable_guard="strict")
    events, done = run_turn(session, PLOT_REQUEST)
    assert done.success and done.rounds == 1 and changed_events(events) == []
    assert "changed" not in session._pending_note


def test_a_failed_round_tells_the_error_and_the_change(df_kernel, engine, make_session):
    engine.enqueue(
        "```python\ndf = df.dropna()\nprint(df['missing'])\n```",
        READS,
    )
    session = make_session(df_kernel)
    events, done = run_turn(session, PLOT_REQUEST)
    first = next(event for event in events if event.type == "execution")
    assert "KeyError" in first.feedback and "your code changed `df`: reassigned" in first.feedback
    assert done.success and len(changed_events(events)) == 1


def test_off_checks_nothing(df_kernel, engine, make_session):
    engine.enqueue(RELOADS)
    session = make_session(df_kernel, variable_guard="off")
    events, done = run_turn(session, PLOT_REQUEST)
    assert done.success and changed_events(events) == []
    assert df_kernel.guard("kept") == []


def test_a_fix_may_rewrite_what_the_failing_cell_assigns():
    request = (
        "Fix this cell. It raised `KeyError: 'b'`.\n\n```python\n"
        "df = pd.read_csv('data.csv')\ndf['c'] = df['b'] * 2\nmodel.fit(X, y)\n```"
    )
    assert {"df", "model"} <= set(changed_names(request))
    code = "x, (y, z) = 1, (2, 3)\nfor i in r: pass\nitems.append(1)\ndel w\nprint(v)"
    assert set(assigned_names(code)) == {"x", "y", "z", "i", "items", "w"}


@pytest.mark.parametrize(
    ("request_text", "asked", "not_asked"),
    [
        (LOG_REQUEST, [], ["log"]),
        ("Convert the when column of log to datetimes, then plot it.", ["log"], []),
        ("Drop the rows of sales where revenue is missing.", ["sales"], []),
        ("Plot a bar chart of the mean alcohol per wine class in df.", [], ["df"]),
        ("Sort df by date in place; print the head.", ["df"], []),
        # the change refers back to what an earlier sentence named
        ("trips has a column start as text. Parse it into datetimes in place.", ["trips"], []),
        ("prices has a column close. Add a column ma7 with its rolling mean.", ["prices"], []),
        # "store" the column is no verb; a new result named in prose changes nothing
        (
            "shop has columns store and revenue. Put the share per store into a Series share.",
            [],
            ["shop"],
        ),
        ("x and y are arrays. Fit a line and store slope and intercept as floats.", [], ["x"]),
    ],
)
def test_which_names_a_request_asks_to_change(request_text, asked, not_asked):
    found = changed_names(request_text)
    assert all(name in found for name in asked)
    assert not any(name in found for name in not_asked)


def test_the_feedback_names_each_change():
    from jupyter_autocoder.agent.guard import VariableChange

    text = changes_feedback(
        [
            VariableChange("log", "mutated", ["column `when` converted", "column `x` added"]),
            VariableChange("df", "deleted", was="pandas DataFrame, 3 rows x 2 columns"),
        ],
        strict=False,
    )
    assert "- your code changed `log`: column `when` converted, column `x` added" in text
    assert "- your code changed `df`: deleted (it held: pandas DataFrame, 3 rows" in text
    assert "```python block" not in text  # only strict asks for new code
