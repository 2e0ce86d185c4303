"""`%%autocoder` in a real kernel, driven as a notebook drives it, with the scripted model
reached through AUTOCODER_ENGINE_URL (as a Jupyter server's proxy is)."""

from __future__ import annotations

from jupyter_autocoder.testing.scripted_engine import ScriptedReply

from .conftest import py

USAGE = "usage: %%autocoder [options]"


def test_a_name_error_is_corrected_in_round_2(nb, script):
    nb.execute("prices = [3, 4, 5]")
    script.enqueue(
        py("total = sum(price) * 2\nprint('total is', total)"),
        py("total = sum(prices) * 2\nprint('total is', total)", "Fixed: the list is `prices`."),
    )
    run = nb.execute("%%autocoder\nStore twice the sum of the prices in `total` and print it.")

    assert run.status == "ok", run.text
    # The working code goes into a new cell below; the variable is in the user's namespace.
    assert run.new_cell == "total = sum(prices) * 2\nprint('total is', total)\n"
    assert nb.value("total") == 24
    # What the user read: both rounds, the real error, the code's output, how it ended.
    text = run.text
    assert "Round 1 of 3" in text and "Round 2 of 3" in text
    assert "NameError: name 'price' is not defined" in text
    assert "total is 24" in text
    assert (
        text.index("Round 1 of 3")
        < text.index("NameError")
        < text.index("Round 2 of 3")
        < text.index("total is 24")
    )
    last_line = text.strip().splitlines()[-1]
    assert last_line.startswith("Done: the code ran without errors (2 rounds,")
    assert "tokens/s" in last_line and "new cell below" in last_line
    # The streamed answer is rendered Markdown.
    assert any(
        "Fixed: the list is `prices`." in o.get("data", {}).get("text/markdown", "")
        for o in run.outputs
    )
    # The model was told the real error in round 2.
    first, second = script.asked
    assert "NameError: name 'price' is not defined" in second.messages[-1]["content"]
    # ... and in round 1 about the notebook: the variable and the cell that made it.
    request = first.messages[-1]["content"]
    assert "- prices (list): 3 items: [3, 4, 5]" in request
    assert "prices = [3, 4, 5]" in request
    assert request.rstrip().endswith(
        "Request:\nStore twice the sum of the prices in `total` and print it."
    )


def test_the_context_is_newest_first_with_the_last_error_and_what_earlier_requests_ran(nb, script):
    nb.execute("older_value = 'first'")
    nb.execute("import numpy as np\nreadings = np.zeros((4, 2), dtype='float32')")
    failed = nb.execute("readings.mean(axis=5)")
    assert failed.status == "error"
    script.enqueue(py("made_by_request = len(readings)"), py("print(made_by_request)"))
    nb.execute("%%autocoder\nCount the readings.")
    nb.execute("%%autocoder\nPrint it.")

    request = script.asked[-1].messages[-1]["content"]
    assert "AxisError" in request.split("Variables in the kernel:")[0]  # the last error comes first
    assert "- readings (numpy ndarray): shape (4, 2), dtype float32" in request
    assert "- np (module): numpy" in request
    # Variables newest first; cells newest first, an autocoder cell as the code it ran.
    assert (
        request.index("- made_by_request")
        < request.index("- readings")
        < request.index("- older_value")
    )
    assert "# %%autocoder: Count the readings.\nmade_by_request = len(readings)" in request
    cells = request.split("Recent cells, newest first:")[1]
    assert cells.index("made_by_request = len(readings)") < cells.index("readings.mean(axis=5)")
    assert cells.index("readings.mean(axis=5)") < cells.index("older_value = 'first'")


def test_a_missing_module_is_installed_after_asking_and_the_code_rerun(
    nb, script, kernel_dirs, build_wheel
):
    build_wheel(
        kernel_dirs["wheels"],
        "acw_magicpkg",
        "0.1",
        "acw_magicpkg",
        "def greet():\n    return 'hello from the wheel'\n",
    )
    script.enqueue(py("import acw_magicpkg\ngreeting = acw_magicpkg.greet()\nprint(greeting)"))
    run = nb.execute("%%autocoder --install ask\nGreet with acw_magicpkg.", answers=("y",))

    assert run.status == "ok", run.text
    [prompt] = run.prompts
    assert prompt.startswith(
        "Install acw_magicpkg into this kernel's environment (pip install acw_magicpkg)?"
    )
    text = run.text
    assert "ModuleNotFoundError: No module named 'acw_magicpkg'" in text
    assert "Installed acw_magicpkg with: pip install acw_magicpkg" in text
    assert "Running the code again with the package installed." in text
    assert "hello from the wheel" in text
    assert text.strip().splitlines()[-1].startswith("Done: the code ran without errors (1 round,")
    assert nb.value("greeting") == "hello from the wheel"
    assert run.new_cell.startswith("import acw_magicpkg\n")
    assert len(script.asked) == 1  # installed and rerun without asking the model again
    assert (kernel_dirs["site"] / "acw_magicpkg" / "__init__.py").is_file()


def test_install_never_tells_the_user_and_the_model(nb, script):
    script.enqueue(
        py("import acw_not_there\nprint('x')"),
        py("plain = 'done without it'\nprint(plain)"),
    )
    run = nb.execute("%%autocoder --install never\nUse acw_not_there.")

    assert run.prompts == []
    assert "Not installing acw_not_there: installing is turned off (--install never)." in run.text
    assert "cannot be installed here" in script.asked[1].messages[-1]["content"]
    assert nb.value("plain") == "done without it"


def test_no_run_writes_the_code_into_a_new_cell_without_running_it(nb, script):
    script.enqueue(
        "You need pandas for this.\n```sh\npip install 'pandas>=2'\n```\n"
        "```python\nnever_ran = 'ran'\nprint(never_ran)\n```"
    )
    run = nb.execute("%%autocoder --no-run\nSet `never_ran`.")

    assert run.status == "ok", run.text
    assert run.new_cell == "%pip install 'pandas>=2'\nnever_ran = 'ran'\nprint(never_ran)\n"
    assert nb.value("'never_ran' in globals()") is False
    assert run.text.strip().splitlines()[-1].startswith("Written, not run (")
    assert "ran" not in [
        o.get("text", "").strip() for o in run.outputs if o["output_type"] == "stream"
    ]


def test_no_clean_run_puts_the_last_code_below_marked_as_failing(nb, script):
    script.enqueue(py("ratio = 1 / 0"))
    run = nb.execute("%%autocoder --rounds 1\nCompute a ratio.")

    assert run.status == "ok"
    assert (
        run.new_cell
        == "# autocoder: this code did not run cleanly: ZeroDivisionError: division by zero\n"
        "ratio = 1 / 0\n"
    )
    assert run.text.strip().splitlines()[-1].startswith("No clean run after 1 round (")


def test_the_stop_button_ends_an_endless_run_and_keeps_the_namespace(nb, script):
    nb.execute("kept_before = 'still here'")
    # No flush: the kernel sends the text while the loop runs (an interrupt must land in the loop).
    script.enqueue(py("spins = 0\nprint('spinning')\nwhile True:\n    spins += 1"))
    run = nb.execute(
        "%%autocoder --timeout 120\nSpin forever.",
        interrupt_when=lambda run: any("spinning" in o.get("text", "") for o in run.outputs),
        timeout=30,
    )

    # The cell fails as any interrupted cell does (so "run all" stops here), told in one line.
    assert run.status == "error" and run.ename == "StoppedByUser"
    assert run.outputs[-1]["traceback"] == ["KeyboardInterrupt: the request was stopped"]
    assert "Stopped (1 round," in run.text and "Your variables are kept." in run.text
    assert run.new_cell is None
    assert nb.value("kept_before") == "still here"
    assert nb.value("spins > 0") is True  # the state the loop reached is kept too
    assert len(script.asked) == 1  # the model was not asked to "fix" the interrupt


def test_the_stop_button_during_the_answer_stops_generation(nb, script):
    long_answer = "Thinking about it. " * 400
    script.enqueue(ScriptedReply(content=long_answer, chunk_size=8, delay=0.01))
    run = nb.execute(
        "%%autocoder\nThink at length.",
        interrupt_when=lambda run: run.text.count("Thinking about it.") >= 3,
        timeout=30,
    )

    assert run.status == "error" and run.ename == "StoppedByUser"
    assert "Stopped (1 round," in run.text
    [request] = script.asked
    # The stream was cut: the engine stopped sending long before the end of its answer.
    assert request.chunks_sent < len(long_answer) // 8
    assert nb.value("1 + 1") == 2  # the kernel goes on


def test_fix_repairs_the_last_failing_cell_from_its_real_error(nb, script):
    nb.execute("celsius = [10.0, 20.0]")
    failing = nb.execute("fahrenheit = [c * 9 / 5 + 32 for c in celsius_values]")
    assert failing.ename == "NameError"
    nb.execute("unrelated = 1")  # a later cell that ran fine does not hide the failure
    script.enqueue(py("fahrenheit = [c * 9 / 5 + 32 for c in celsius]"))
    run = nb.execute("%autocoder fix")

    assert run.status == "ok", run.text
    assert run.new_cell == "fahrenheit = [c * 9 / 5 + 32 for c in celsius]\n"
    assert nb.value("fahrenheit") == [50.0, 68.0]
    request = script.asked[0].messages[-1]["content"]
    assert "failed with NameError: name 'celsius_values' is not defined" in request
    assert "fahrenheit = [c * 9 / 5 + 32 for c in celsius_values]" in request
    last_error = request.split("Last error in the notebook:")[1].split("Variables in the kernel:")[
        0
    ]
    assert "celsius_values" in last_error and "NameError" in last_error
    # Repaired: a second fix has nothing to do.
    again = nb.execute("%autocoder fix")
    assert again.ename == "UsageError" and "nothing to fix" in again.reply["evalue"]


def test_bad_options_give_a_usage_message_and_ask_nothing(nb, script):
    cases = {
        "%%autocoder --rounds zero\nDo it.": "argument --rounds: not a whole number: 'zero'",
        "%%autocoder --install sometimes\nDo it.": (
            "argument --install: invalid choice: 'sometimes'"
        ),
        "%%autocoder --timeout 0\nDo it.": "argument --timeout: must be more than 0",
        "%%autocoder --frobnicate\nDo it.": "unrecognized arguments: --frobnicate",
        "%autocoder plot the data": "unknown command 'plot'",
        "%%autocoder\n   ": "the %%autocoder cell has no request",
    }
    for cell, message in cases.items():
        run = nb.execute(cell)
        assert run.status == "error" and run.ename == "UsageError", (cell, run.text)
        assert message in run.reply["evalue"], (cell, run.reply["evalue"])
    assert USAGE in nb.execute("%%autocoder --rounds 0\nDo it.").reply["evalue"]
    assert script.asked == []
    helped = nb.execute("%autocoder help")
    assert helped.status == "ok" and "--install {ask,auto,never}" in helped.text


def test_status_says_where_requests_go_without_the_key(nb, engine):
    run = nb.execute("%autocoder status")

    assert run.status == "ok"
    assert (
        f"Requests go to {engine.base_url}: the engine that AUTOCODER_ENGINE_URL names, with a key."
        in run.text
    )
    assert "The engine serves: scripted-proxy." in run.text
    assert engine.api_key not in run.text


def test_an_unreachable_engine_is_reported(nb, script):
    run = nb.execute(
        "import os\n_saved = os.environ['AUTOCODER_ENGINE_URL']\n"
        "os.environ['AUTOCODER_ENGINE_URL'] = 'http://127.0.0.1:9/v1'\n"
        "try:\n    get_ipython().run_cell_magic('autocoder', '', 'Do it.')\n"
        "finally:\n    os.environ['AUTOCODER_ENGINE_URL'] = _saved"
    )
    assert "The model engine failed: cannot reach the engine at http://127.0.0.1:9/v1" in run.text
    assert run.new_cell is None
