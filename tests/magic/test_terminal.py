"""`%%autocoder` in IPython without a kernel (the terminal): plain text, and the code as the
next input."""

from __future__ import annotations

import threading

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_autocoder.testing.scripted_engine import ScriptedEngine

from .conftest import py


@pytest.fixture
def shell(monkeypatch):
    engine = ScriptedEngine().start()
    monkeypatch.setenv("AUTOCODER_ENGINE_URL", engine.base_url)
    monkeypatch.setenv("AUTOCODER_API_KEY", engine.api_key)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_autocoder")
    yield shell, engine
    shell.run_line_magic("unload_ext", "jupyter_autocoder")
    shell.user_ns.pop("doubled", None)
    shell.rl_next_input = None
    threading.Thread(target=engine.stop, daemon=True).start()


def test_in_a_terminal_the_answer_is_printed_and_the_code_is_the_next_input(
    shell, capsys, tmp_path, monkeypatch
):
    shell, engine = shell
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    shell.user_ns["base"] = 21
    engine.enqueue(py("doubled = base * 2\nprint('doubled is', doubled)"))
    shell.run_cell("%%autocoder --rounds 2\nDouble `base` into `doubled`.", store_history=True)

    printed = capsys.readouterr().out
    assert "Round 1 of 2\nHere is the code.\n```python\ndoubled = base * 2" in printed
    assert "doubled is 42" in printed
    assert "Done: the code ran without errors (1 round," in printed
    assert (
        "**" not in printed and "<IPython.core.display" not in printed
    )  # plain text, not Markdown objects
    assert shell.user_ns["doubled"] == 42
    assert shell.rl_next_input == "doubled = base * 2\nprint('doubled is', doubled)\n"
    assert "- base (int): 21" in engine.history[0].messages[-1]["content"]


def test_the_help_is_the_same_for_the_question_mark_and_the_help_command(shell, capsys):
    shell, engine = shell
    shell.run_cell("%%autocoder?")
    asked = capsys.readouterr().out
    shell.run_cell("%autocoder help")
    helped = capsys.readouterr().out

    for text in (asked, helped):
        assert "%%autocoder [--model NAME] [--rounds N] [--no-run]" in text
        assert "--install {ask,auto,never}" in text
        assert "--timeout SECONDS     seconds each run may take before it is interrupted" in text
        assert "%autocoder fix [options]     repair the last cell that failed" in text
    assert helped.strip() in asked
    assert engine.history == []
