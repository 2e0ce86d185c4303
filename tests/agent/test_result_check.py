"""The check of a clean run's result against the request's words: a mismatch (type, index,
order, all NaN) is told to the model with what the variables hold; a match costs nothing."""

from __future__ import annotations

import pytest

from jupyter_autocoder.agent.requested import expected_results, requested_forms
from jupyter_autocoder.agent.results import mismatches
from jupyter_autocoder.agent.verdict import Verdict


def fence(code: str) -> str:
    return f"```python\n{code}\n```"


@pytest.fixture
def shop(kernel):
    kernel.run(
        "import pandas as pd\n"
        "shop = pd.DataFrame({'store': ['a', 'b', 'a', 'c'], 'revenue': [10.0, 5.0, 15.0, 20.0]})"
    )
    return kernel


SHARE = (
    "Put each store's share of the total revenue of shop into a Series share indexed by "
    "store, largest first."
)


def test_a_mismatch_is_told_with_what_the_variables_hold(shop, engine, make_session):
    engine.enqueue(
        # Clean and rightly named, but one row per sale rather than per store.
        fence("share = shop['revenue'] / shop['revenue'].sum()"),
        fence(
            "share = shop.groupby('store')['revenue'].sum()\n"
            "share = (share / share.sum()).sort_values(ascending=False)"
        ),
    )
    session = make_session(shop, check_results=True, retry_temperature=0.7)
    done = list(session.run(SHARE))[-1]
    assert (done.reason, done.success, done.rounds) == ("success", True, 2)
    told = engine.history[1].messages[-1]["content"]
    assert "does not match the request" in told
    assert (
        "- `share` should be indexed as the request says, but it has the default index 0, 1, 2"
        in told
    )
    assert (
        "- `share` should be in decreasing order of its values (largest first), but its "
        "values are unordered." in told
    )
    assert "- `share`: pandas Series, length 4, dtype float64" in told
    # A failure like an error: the answer to it is sampled.
    assert engine.history[1].body["temperature"] == 0.7


def test_a_matching_result_costs_no_answer(shop, engine, make_session):
    engine.enqueue(
        fence(
            "share = shop.groupby('store')['revenue'].sum()\n"
            "share = (share / share.sum()).sort_values(ascending=False)"
        )
    )
    done = list(make_session(shop, check_results=True).run(SHARE))[-1]
    assert (done.reason, done.success, done.rounds) == ("success", True, 1)
    assert len(engine.history) == 1


def test_without_the_setting_or_in_the_last_round_nothing_is_checked(shop, engine, make_session):
    wrong = fence("share = shop['revenue'] / shop['revenue'].sum()")
    engine.enqueue(wrong, wrong)
    assert list(make_session(shop).run(SHARE))[-1].success
    assert list(make_session(shop, check_results=True, max_rounds=1).run(SHARE))[-1].success
    assert len(engine.history) == 2


@pytest.mark.parametrize(
    ("request_text", "facts", "told"),
    [
        (
            "Store the test accuracy as a float in acc.",
            {"acc": {"type": "pandas DataFrame"}},
            ["`acc` should be a float, but it is a pandas DataFrame."],
        ),
        ("Store the test accuracy as a float in acc.", {"acc": {"type": "float"}}, []),
        (
            "Store the test accuracy as a float in acc.",
            {"acc": {"type": "int"}},
            ["`acc` should be a float, but it is a int."],
        ),
        (
            "Put the totals into a Series monthly indexed by month.",
            {"monthly": {"type": "pandas Series", "default_index": False, "unique_index": False}},
            ["`monthly` should be indexed as the request says, but its labels repeat."],
        ),
        (
            "Put the totals into a Series daily; days without readings stay in it as NaN.",
            {"daily": {"type": "pandas Series", "all_missing": True}},
            ["`daily` holds only missing values (NaN)."],
        ),
        (
            "Put the totals per country in a Series by_country, largest first.",
            {"by_country": {"type": "pandas Series", "order": "increasing"}},
            [
                "`by_country` should be in decreasing order of its values (largest first), "
                "but its values are increasing."
            ],
        ),
        (
            "Keep the two best products per category in a DataFrame top2, highest first.",
            {"top2": {"type": "pandas DataFrame", "order": None}},
            [],
        ),
        ("Put the names in the list keep.", {"keep": {"type": "list"}}, []),
        (
            "Put the names in the list keep.",
            {"keep": {"type": "numpy ndarray"}},
            ["`keep` should be a list, but it is a numpy ndarray."],
        ),
    ],
)
def test_mismatches_from_the_request_words(request_text, facts, told):
    forms = requested_forms(request_text, expected_results(request_text).names)
    assert mismatches(forms, facts) == told


def test_a_verifier_recheck_is_confirmed_without_a_second_run(kernel, engine, make_session):
    runs = []

    def verifier(code, result, executor, number):
        runs.append(number)
        return Verdict("Look again.", recheck=True) if number == 1 else Verdict()

    engine.enqueue(fence("counter = globals().get('counter', 0) + 1"), "The code is right.")
    session = make_session(kernel, verifier=verifier)
    done = list(session.run("Count."))[-1]
    assert (done.reason, done.success, done.rounds) == ("success", True, 2)
    assert runs == [1]
    assert kernel.run("print(counter)").stdout.strip() == "1"


def test_the_same_code_after_a_recheck_is_not_run_again(kernel, engine, make_session):
    """Code that changes data in place would not survive a second run."""
    kernel.run("values = [1, 2, 3]")
    code = "values.append(len(values) + 1)\ntotal = sum(values)"

    def verifier(code, result, executor, number):
        return Verdict("Look again.", recheck=True) if number == 1 else Verdict()

    engine.enqueue(fence(code), "It is right.\n" + fence(code))
    done = list(make_session(kernel, verifier=verifier).run("Append the next number."))[-1]
    assert (done.reason, done.success, done.rounds) == ("success", True, 2)
    assert kernel.run("print(values, total)").stdout.strip() == "[1, 2, 3, 4] 10"
