"""Shell escapes inside the model's Python code: each form a real kernel runs is put to the
approver with the exact command, and nothing of the code runs when it is declined.

Every form writes a file named `pwned` in the kernel's working directory (this test's
tmp_path) when it runs, so that "it ran" is a fact on disk, not a guess. The model is the
scripted double (a model that writes an escape on purpose); the kernel is real.
"""

from __future__ import annotations

import pytest
from agent_support import Approver, of, py, told

# name: (the model's code, the approval's kind, the exact command the user is shown)
FORMS = {
    "indented_bang": ("if True:\n    !touch pwned", "shell", "touch pwned"),
    "assigned_bang": ("listing = !touch pwned\nprint(listing)", "shell", "touch pwned"),
    "double_bang_in_loop": ("for _ in range(1):\n    !!touch pwned", "shell", "touch pwned"),
    "assigned_sx": ("files = %sx touch pwned", "shell", "touch pwned"),
    "cell_magic_bash_after_capture": (
        "%%capture\n%%bash\ntouch pwned",
        "shell",
        "%%bash\ntouch pwned",
    ),
    "cell_magic_bang": ("%%!\ntouch pwned", "shell", "%%!\ntouch pwned"),
    "time_magic_argument": ("%time !touch pwned", "shell", "touch pwned"),
    "get_ipython_system": ('get_ipython().system("touch pwned")', "shell", "touch pwned"),
    "get_ipython_alias": (
        'ip = get_ipython()\nip.getoutput("touch pwned")',
        "shell",
        "touch pwned",
    ),
    "os_system": ('import os\nos.system("touch pwned")', "shell", "touch pwned"),
    "os_popen_dunder_import": (
        '__import__("os").popen("touch pwned").read()',
        "shell",
        "touch pwned",
    ),
    "subprocess_run_list": (
        'import subprocess\nsubprocess.run(["touch", "pwned"])',
        "shell",
        "touch pwned",
    ),
    "subprocess_alias_shell": (
        'import subprocess as sp\nsp.check_call("touch pwned", shell=True)',
        "shell",
        "touch pwned",
    ),
    "from_os_import_system_as": (
        'from os import system as run_it\nrun_it("touch pwned")',
        "shell",
        "touch pwned",
    ),
    "exec_of_a_literal": ("exec(\"import os; os.system('touch pwned')\")", "shell", "touch pwned"),
    "one_line_alias": ("mkdir pwned", "shell", "mkdir pwned"),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_a_declined_escape_runs_nothing_and_the_model_is_told(
    form, offline_kernel, engine, make_session, tmp_path
):
    code, kind, command = FORMS[form]
    engine.enqueue(py(code), py("print('done without it')"))
    approver = Approver(answer=False)
    session = make_session(offline_kernel, approver=approver)
    events = list(session.run("make a file"))

    assert [(r.kind, r.command) for r in approver.asked] == [(kind, command)]
    assert not (tmp_path / "pwned").exists()
    assert not any("pwned" in run for run in session.executor.runs)
    assert [e.status for e in of(events, "approval")] == ["pending", "declined"]
    assert command in told(engine) and "not run" in told(engine)
    assert events[-1].reason == "success" and events[-1].rounds == 2


@pytest.mark.parametrize(
    "form",
    ["indented_bang", "assigned_bang", "get_ipython_system", "os_system", "subprocess_run_list"],
)
def test_an_approved_escape_runs_as_written(form, offline_kernel, engine, make_session, tmp_path):
    code, kind, command = FORMS[form]
    engine.enqueue(py(code))
    approver = Approver(answer=True)
    session = make_session(offline_kernel, approver=approver)
    events = list(session.run("make a file"))

    assert [(r.kind, r.command) for r in approver.asked] == [(kind, command)]
    assert (tmp_path / "pwned").exists()
    assert events[-1].reason == "success" and events[-1].rounds == 1


def test_a_cell_magic_bash_block_is_asked_line_by_line(offline_kernel, engine, make_session):
    # Already caught before the fix (a %%bash first line); kept here as the form the issue names.
    engine.enqueue(py("%%bash\ntouch pwned"), py("print('done without it')"))
    approver = Approver(answer=False)
    session = make_session(offline_kernel, approver=approver)
    list(session.run("make a file"))
    assert [(r.kind, r.command) for r in approver.asked] == [("shell", "touch pwned")]


def test_an_indented_pip_with_an_index_url_is_refused_unasked(
    offline_kernel, engine, make_session, tmp_path
):
    code = (
        "if True:\n"
        "    %pip install --index-url=http://127.0.0.1:9/simple acw_from_elsewhere\n"
        "    open('pwned', 'w').close()"
    )
    engine.enqueue(py(code), py("print('done without it')"))
    approver = Approver(answer=True)
    session = make_session(offline_kernel, approver=approver, install_policy="auto")
    events = list(session.run("install it"))

    assert approver.asked == []
    [refused] = of(events, "install")
    assert refused.status == "refused"
    assert "--index-url=http://127.0.0.1:9/simple" in refused.rejected
    assert not (tmp_path / "pwned").exists()
    assert "--index-url" in told(engine) and "not run" in told(engine)


@pytest.mark.parametrize(
    "code",
    [
        "if True:\n    %pip install acw_wanted\n    open('pwned', 'w').close()",
        "pip install acw_wanted",
    ],
    ids=["indented_pip", "one_line_automagic_pip"],
)
def test_an_install_inside_the_code_is_put_to_the_approver(
    code, offline_kernel, engine, make_session, tmp_path
):
    engine.enqueue(py(code), py("print('done without it')"))
    approver = Approver(answer=False)
    session = make_session(offline_kernel, approver=approver, install_policy="ask")
    list(session.run("install it"))

    [request] = approver.asked
    assert (request.kind, request.command, request.packages) == (
        "install",
        "pip install acw_wanted",
        ["acw_wanted"],
    )
    assert not (tmp_path / "pwned").exists()
    assert "declined installing acw_wanted" in told(engine)


def test_install_policy_never_refuses_an_install_inside_the_code(
    offline_kernel, engine, make_session, tmp_path
):
    code = "if True:\n    %pip install acw_wanted\n    open('pwned', 'w').close()"
    engine.enqueue(py(code), py("print('done without it')"))
    approver = Approver(answer=True)
    session = make_session(offline_kernel, approver=approver, install_policy="never")
    events = list(session.run("install it"))

    assert approver.asked == []
    assert [e.status for e in of(events, "install")] == ["disabled"]
    assert not (tmp_path / "pwned").exists()
    assert "installing is turned off" in told(engine)


def test_shell_policy_never_refuses_unasked_and_says_why(
    offline_kernel, engine, make_session, tmp_path
):
    engine.enqueue(py("if True:\n    !touch pwned"), py("print('done without it')"))
    approver = Approver(answer=True)
    session = make_session(offline_kernel, approver=approver, shell_policy="never")
    events = list(session.run("make a file"))

    assert approver.asked == []
    [refusal] = of(events, "approval")
    assert refusal.status == "declined" and refusal.request.command == "touch pwned"
    assert "shell_policy" in refusal.request.reason
    assert not (tmp_path / "pwned").exists()
    assert "shell commands are turned off" in told(engine)


def test_shell_policy_auto_runs_without_asking(offline_kernel, engine, make_session, tmp_path):
    engine.enqueue(py('import os\nos.system("touch pwned")'))
    approver = Approver(answer=False)
    session = make_session(offline_kernel, approver=approver, shell_policy="auto")
    events = list(session.run("make a file"))
    assert approver.asked == [] and (tmp_path / "pwned").exists()
    assert events[-1].reason == "success"


def test_a_declined_command_is_not_asked_again_in_the_session(
    offline_kernel, engine, make_session, tmp_path
):
    code = "if True:\n    !touch pwned"
    engine.enqueue(py(code), py(code), py("print('fine')"))
    approver = Approver(answer=False)
    session = make_session(offline_kernel, approver=approver, max_rounds=3)
    list(session.run("make a file"))
    assert len(approver.asked) == 1
    assert "declined it earlier in this session" in told(engine, 2)
    assert not (tmp_path / "pwned").exists()


def test_a_command_computed_at_run_time_is_shown_as_code_with_a_warning(
    offline_kernel, engine, make_session, tmp_path
):
    code = 'import subprocess\nwords = ["touch", "pwned"]\nsubprocess.run(words)'
    engine.enqueue(py(code), py("print('done without it')"))
    approver = Approver(answer=False)
    session = make_session(offline_kernel, approver=approver)
    list(session.run("make a file"))

    [request] = approver.asked
    assert request.command == "subprocess.run(words)"
    assert "when the code runs" in request.warning
    assert not (tmp_path / "pwned").exists()


def test_ipython_expansion_in_a_command_is_warned(offline_kernel, engine, make_session):
    engine.enqueue(py("name = 'pwned'\nif True:\n    !touch {name}"), py("print('without')"))
    approver = Approver(answer=False)
    session = make_session(offline_kernel, approver=approver)
    list(session.run("make a file"))
    [request] = approver.asked
    assert request.command == "touch {name}"
    assert "fills in" in request.warning
