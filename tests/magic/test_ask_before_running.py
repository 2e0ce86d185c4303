"""The magic's approvals on a real kernel through the input prompt: "ask before running"
(`--ask`, `c.AutoCoder.confirm_run`), a shell escape inside the model's code, and a refusal
by `shell_policy` that is said, not asked."""

from __future__ import annotations

from .conftest import py

QUESTION = "Run the code above in this kernel? [y/N] "


def test_ask_declined_runs_nothing_and_puts_the_code_below(nb, script):
    script.enqueue(py("asked_value = 41 + 1\nprint(asked_value)"))
    run = nb.execute("%%autocoder --ask\nset asked_value to 42", answers=("n",))

    assert run.status == "ok", run.text
    assert run.prompts == [QUESTION]
    assert "Not run, as you chose: the code is in the new cell below." in run.text
    assert run.new_cell == "asked_value = 41 + 1\nprint(asked_value)\n"
    assert nb.value("'asked_value' in globals()") is False


def test_ask_approved_runs_the_code(nb, script):
    script.enqueue(py("approved_value = 6 * 7"))
    run = nb.execute("%%autocoder --ask\nset approved_value to 42", answers=("y",))

    assert run.status == "ok", run.text
    assert run.prompts == [QUESTION]
    assert nb.value("approved_value") == 42
    assert run.text.strip().splitlines()[-1].startswith("Done: the code ran without errors")


def test_confirm_run_in_the_configuration_asks_every_request(nb, script):
    nb.execute("get_ipython().config.AutoCoder.confirm_run = True")
    try:
        script.enqueue(py("configured_value = 1"))
        run = nb.execute("%%autocoder\nset configured_value to 1", answers=("n",))
    finally:
        nb.execute("get_ipython().config.AutoCoder.confirm_run = False")
    assert run.prompts == [QUESTION]
    assert nb.value("'configured_value' in globals()") is False


def test_a_shell_escape_in_the_code_is_asked_with_its_exact_command(nb, script, kernel_dirs):
    marker = kernel_dirs["work"] / "made_by_escape"
    script.enqueue(
        py("if True:\n    !touch made_by_escape\nescaped = True"),
        py("escaped = False"),
    )
    run = nb.execute("%%autocoder\nmake a file", answers=("n",))

    assert run.status == "ok", run.text
    [prompt] = run.prompts
    assert prompt.startswith("Run this shell command: touch made_by_escape ?")
    assert "line 2: `!touch made_by_escape`" in prompt
    assert not marker.exists()
    assert nb.value("escaped") is False  # the second answer ran, the first did not
    assert "Your code was not run" in script.asked[1].messages[-1]["content"]


def test_shell_policy_never_refuses_without_asking_and_says_so(nb, script, kernel_dirs):
    marker = kernel_dirs["work"] / "made_under_never"
    script.enqueue(py("if True:\n    !touch made_under_never"), py("print('without it')"))
    nb.execute("get_ipython().config.AutoCoder.shell_policy = 'never'")
    try:
        run = nb.execute("%%autocoder\nmake a file", answers=("y",))
    finally:
        nb.execute("get_ipython().config.AutoCoder.shell_policy = 'ask'")

    assert run.prompts == []
    assert "Not running touch made_under_never:" in run.text
    assert "shell commands are turned off (shell_policy = never)" in run.text
    assert not marker.exists()
