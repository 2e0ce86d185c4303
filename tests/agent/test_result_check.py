"""The check of a clean run's result against the request: what the code left is shown to the
model once a turn; an answer that keeps the code accepts it without running it again."""

from __future__ import annotations

import pytest

from jupyter_autocoder.agent.verdict import Verdict


def fence(code: str) -> str:
    return f"```python\n{code}\n```"


def events_of(session, request):
    return list(session.run(request))


@pytest.fixture
def sales(kernel):
    kernel.run(
        "import pandas as pd\n"
        "sales = pd.DataFrame({'date': pd.to_datetime(['2023-01-05', '2024-01-09', '2024-02-01']),"
        " 'amount': [5.0, 20.0, 7.0]})"
    )
    return kernel


def test_the_model_sees_what_the_code_left_and_corrects_it(sales, engine, make_session):
    engine.enqueue(
        # Clean, rightly named, wrong: January 2023 and 2024 end up in one row.
        fence("monthly = sales.groupby(sales['date'].dt.month)['amount'].sum()"),
        fence("monthly = sales.groupby(sales['date'].dt.to_period('M'))['amount'].sum()"),
    )
    session = make_session(sales, check_results=True)
    events = events_of(
        session, "Compute the total amount of sales per calendar month into a Series monthly"
    )
    done = events[-1]
    assert (done.reason, done.success, done.rounds) == ("success", True, 2)
    check = engine.history[1].messages[-1]["content"]
    assert "compare what it left in the notebook with the request" in check
    assert "`monthly`: pandas Series, length 2, dtype float64" in check
    assert "`sales`: pandas DataFrame, 3 rows x 2 columns" in check  # the request mentions it
    assert "index: Index of int32" in check or "index: Index of int64" in check
    assert sales.run("print(list(map(str, monthly.index)))").stdout.strip() == (
        "['2023-01', '2024-01', '2024-02']"
    )
    # The check is asked once a turn: the corrected code is accepted when it runs cleanly.
    assert len(engine.history) == 2
    # It was a second look, not a failure: the answer to it is greedy.
    assert engine.history[1].body["temperature"] == 0.0


def test_done_accepts_the_code_as_it_ran(sales, engine, make_session):
    engine.enqueue(fence("sales['amount'] = sales['amount'] * 100\ntotal = sales['amount'].sum()"),
                   "DONE")
    session = make_session(sales, check_results=True)
    done = events_of(session, "Turn amount into cents in place and put the sum in total.")[-1]
    assert (done.reason, done.success, done.rounds) == ("success", True, 2)
    assert session.final_code.startswith("sales['amount'] = ")
    # Ran once: the amounts were multiplied by 100 once.
    assert sales.run("print(total)").stdout.strip() == "3200.0"


def test_the_same_code_again_is_not_run_again(sales, engine, make_session):
    """Code that changes data in place would not survive a second run: a correct first
    answer is never broken by the check."""
    code = "sales['amount'] = sales['amount'].astype(int)\nsales['amount'] //= 2\nn = len(sales)"
    engine.enqueue(fence(code), "It matches.\n" + fence(code))
    session = make_session(sales, check_results=True)
    done = events_of(session, "Halve the amounts of sales in place as integers; store the row "
                               "count in n.")[-1]
    assert (done.reason, done.success, done.rounds) == ("success", True, 2)
    assert sales.run("print(sales['amount'].tolist())").stdout.strip() == "[2, 10, 3]"


def test_no_check_without_the_setting_nor_in_the_last_round(sales, engine, make_session):
    engine.enqueue(fence("n = 1"), fence("m = 2"))
    done = events_of(make_session(sales), "Put 1 in n.")[-1]
    assert (done.success, done.rounds) == (True, 1)
    done = events_of(make_session(sales, check_results=True, max_rounds=1), "Put 2 in m.")[-1]
    assert (done.success, done.rounds) == (True, 1)
    assert len(engine.history) == 2


def test_a_verifier_recheck_is_confirmed_without_a_second_run(kernel, engine, make_session):
    runs = []

    def verifier(code, result, executor, number):
        runs.append(number)
        return Verdict("Look again.", recheck=True) if number == 1 else Verdict()

    engine.enqueue(fence("counter = globals().get('counter', 0) + 1"), "The code is right.")
    session = make_session(kernel, verifier=verifier)
    done = events_of(session, "Count.")[-1]
    assert (done.reason, done.success, done.rounds) == ("success", True, 2)
    assert runs == [1]
    assert kernel.run("print(counter)").stdout.strip() == "1"
