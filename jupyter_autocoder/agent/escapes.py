"""Shell commands and installs inside the model's Python code, found as IPython finds them.

A kernel runs `!cmd`, `x = !cmd`, `%pip install ...`, `%%bash` cells, and a one-line cell
such as `ls -la` (an IPython alias) or `pip install x` (automagic), wherever they stand in a
cell, indented or not; Python runs programs through os, subprocess and pty. So the cell is
transformed with IPython's own input transformer (`TransformerManager`, as the kernel does),
and the Python syntax tree is walked for the calls that run a program:

    find_escapes("if ok:\\n    !rm -rf data")
    # [ShellEscape(kind="shell", command="rm -rf data", via="IPython's `!`", line=2, ...)]

Each `ShellEscape` says what will run, as exactly as the code says it; a command made only
when the code runs is shown as the code that makes it, with a warning. Aliases are followed
(`import subprocess as sp`, `from os import system`, `ip = get_ipython()`, `__import__("os")`),
as are the cells and strings that magics such as `%time` and `%%capture`, and `exec` of a
literal, run.

This is a gate on what the code names, not a sandbox: plain Python can do anything the user
can, and code that computes a name (`getattr(os, "sys" + "tem")`) is not found here.
"""

from __future__ import annotations

import ast
import logging
import re
import shlex
from dataclasses import dataclass

from .packages import InstallRequest, is_pip_install, parse_pip_install

log = logging.getLogger(__name__)

SHELL = "shell"
INSTALL = "install"

# Magics that install packages; `install` lines of these are installs, other lines commands.
INSTALL_MAGICS = frozenset({"pip", "conda", "mamba", "micromamba", "uv"})
# Magics whose line (or cell) is a shell command, and cell magics that run their body in a
# program. `%%!` is `%%system`.
SYSTEM_MAGICS = frozenset({"system", "sx", "sc", "!"})
SCRIPT_MAGICS = frozenset(
    {"bash", "sh", "script", "perl", "ruby", "python", "python2", "python3", "pypy"}
)
# Magics that make shell commands callable later, or start a program (the editor).
OTHER_SHELL_MAGICS = frozenset({"alias", "rehashx", "edit", "ed"})
# Line magics whose line is code (`time !ls` on a line of its own is `%time !ls`).
_CODE_MAGICS = frozenset({"time", "timeit", "prun", "debug"})
# Cell magics whose body is text, not code: not searched.
TEXT_MAGICS = frozenset(
    {"writefile", "file", "html", "HTML", "javascript", "js", "markdown", "latex", "svg", "SVG"}
)

# Functions that run a program, by module; os.exec* and os.spawn* are matched by prefix.
_RUNNERS = frozenset(
    {
        "os.system",
        "os.popen",
        "os.posix_spawn",
        "os.posix_spawnp",
        "os.startfile",
        "pty.spawn",
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
        "asyncio.subprocess.create_subprocess_exec",
        "asyncio.subprocess.create_subprocess_shell",
    }
)
_RUNNER_PREFIXES = ("os.exec", "os.spawn")
# The members `from MODULE import *` brings in that run programs.
_STAR_MEMBERS = {
    "os": (
        "system",
        "popen",
        "posix_spawn",
        "posix_spawnp",
        "execl",
        "execle",
        "execlp",
        "execlpe",
        "execv",
        "execve",
        "execvp",
        "execvpe",
        "spawnl",
        "spawnle",
        "spawnlp",
        "spawnlpe",
        "spawnv",
        "spawnve",
        "spawnvp",
        "spawnvpe",
    ),
    "subprocess": (
        "run",
        "call",
        "check_call",
        "check_output",
        "Popen",
        "getoutput",
        "getstatusoutput",
    ),
    "pty": ("spawn",),
}
# Names that mean a module (or IPython's shell) without an import in this cell: the kernel's
# namespace keeps what earlier cells imported.
_KNOWN_NAMES = {
    "os": "os",
    "posix": "os",
    "nt": "os",
    "subprocess": "subprocess",
    "pty": "pty",
    "asyncio": "asyncio",
    "importlib": "importlib",
    "sys": "sys",
    "get_ipython": "get_ipython",
    "__import__": "__import__",
}
_GET_IPYTHON = frozenset(
    {"get_ipython", "IPython.get_ipython", "IPython.core.getipython.get_ipython"}
)
_IPYTHON_SYSTEM = frozenset({"system", "system_raw", "system_piped", "getoutput"})
_IPYTHON_CELLS = frozenset({"run_cell", "run_cell_async", "ex", "ev"})
# The first argument of these is a command line for a shell; of the others, a program.
_SHELL_STRING_RUNNERS = frozenset(
    {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"}
)
_MAX_DEPTH = 4  # cells inside cells (a %%capture of a %%time of ...)
_EXPANSION = re.compile(r"\$\{|\$[A-Za-z_]|\{[^{}]*\}")


@dataclass(frozen=True)
class ShellEscape:
    """One command or install the code runs: `command` is what runs (a call's source when
    `computed`); `via` names the door (`!`, `%pip`, `%%bash`, `os.system`...); `line` is
    its line in the code (1-based), `source` that line as written ("" when IPython's
    transformation moved lines)."""

    kind: str
    command: str
    via: str
    line: int = 0
    source: str = ""
    computed: bool = False  # only known when the code runs
    expanded: bool = False  # IPython fills in {expr} and $name before running it
    install: InstallRequest | None = None

    @property
    def where(self) -> str:
        """For the user and the model: how, and where in the code."""
        at = f"line {self.line}" if self.line else "the code"
        shown = f": `{self.source}`" if self.source and self.source != self.command else ""
        return f"{self.via}, {at}{shown}"

    @property
    def warning(self) -> str:
        if self.computed:
            return (
                "The command is made when the code runs: the approval cannot say what it "
                "will be, only the code that makes it."
            )
        if self.expanded:
            return (
                "IPython fills in {…} and $name from the notebook's variables before this "
                "runs, so the command that runs may differ from the text shown."
            )
        return ""


def find_escapes(code: str) -> list[ShellEscape]:
    """The shell commands and installs `code` (an IPython cell) runs, in order of lines."""
    found = _Finder(code).cell(code, line=0, depth=0)
    unique: dict[tuple[str, str, int], ShellEscape] = {}
    for escape in found:
        unique.setdefault((escape.kind, escape.command, escape.line), escape)
    return sorted(unique.values(), key=lambda escape: escape.line)


def ipython_to_python(cell: str) -> str | None:
    """The Python a kernel runs for `cell` (None when IPython could not transform it, and
    the kernel would then run none of it)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        python = TransformerManager().transform_cell(cell)
    except Exception as error:  # the kernel shows this error and runs nothing
        log.debug("IPython cannot transform the cell: %s", error)
        return None
    if len(python.splitlines()) == 1:
        python = _one_line_magic(python) or python
    return python


def _one_line_magic(line: str) -> str | None:
    """A one-line cell `NAME rest` where NAME is a magic or alias: IPython's automagic runs
    it as `%NAME rest` (unless NAME is a variable in the kernel, which cannot be known here,
    so it is taken as the magic)."""
    from IPython.core.splitinput import LineInfo

    info = LineInfo(line.rstrip("\n"))
    name, rest = info.ifun, info.the_rest
    if info.esc or info.pre.strip() or not name.isidentifier():
        return None
    if rest[:1] in ("=", ","):
        return None  # IPython's AssignmentChecker: Python (`ls = 1`, `ls == 1`, `ls, x = y`)
    magics = INSTALL_MAGICS | SYSTEM_MAGICS | OTHER_SHELL_MAGICS | _CODE_MAGICS
    if name not in magics and name not in _default_aliases():
        return None
    return f"get_ipython().run_line_magic({name!r}, {rest.strip()!r})\n"


def _default_aliases() -> dict[str, str]:
    from IPython.core.alias import default_aliases

    return dict(default_aliases())


def _alias_command(name: str, rest: str) -> str:
    """The command an IPython alias runs (as IPython's `Alias` builds it)."""
    command = _default_aliases()[name]
    if "%l" in command:
        return command.replace("%l", rest)
    if "%s" in command:
        return f"%{name} {rest}".strip()  # positional arguments: shown as written
    return f"{command} {rest}".strip()


class _Finder:
    def __init__(self, code: str):
        self.lines = code.splitlines()

    def cell(self, cell: str, line: int, depth: int) -> list[ShellEscape]:
        """The escapes of an IPython cell; `line` is its line in the code (0: the code)."""
        python = ipython_to_python(cell)
        if python is None:
            return []
        lines_kept = line == 0 and len(python.splitlines()) == len(self.lines)
        return self.python(python, line, depth, lines_kept)

    def python(
        self, python: str, line: int, depth: int, lines_kept: bool = False
    ) -> list[ShellEscape]:
        try:
            tree = ast.parse(python)
        except (SyntaxError, ValueError):
            return []  # the kernel runs no part of a cell that does not parse
        walker = _Walker(self, python, line, depth, lines_kept)
        return walker.walk(tree)


class _Walker:
    """One pass over one syntax tree: the names first (aliases), then the calls."""

    def __init__(self, finder: _Finder, python: str, line: int, depth: int, lines_kept: bool):
        self.finder = finder
        self.python = python
        self.line = line
        self.depth = depth
        self.lines_kept = lines_kept
        self.aliases: dict[str, str] = {}
        self.found: list[ShellEscape] = []

    # -- names ---------------------------------------------------------------------------

    def walk(self, tree: ast.AST) -> list[ShellEscape]:
        for _ in range(2):  # twice: `a = os` then `b = a.system`, in either order
            for node in ast.walk(tree):
                self._learn_names(node)
        # A runner that is called, or given a name here (whose uses are then followed), is
        # not a reference of its own.
        followed = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                followed.add(id(node.func))
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
                followed.add(id(node.value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node)
            elif isinstance(node, (ast.Name, ast.Attribute)) and id(node) not in followed:
                if isinstance(node.ctx, ast.Load):
                    self._reference(node)
        return self.found

    def _learn_names(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.aliases[alias.asname] = _module(alias.name)
                else:
                    top = alias.name.split(".")[0]
                    self.aliases[top] = _module(top)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            module = _module(node.module)
            for alias in node.names:
                if alias.name == "*":
                    for member in _STAR_MEMBERS.get(module, ()):
                        self.aliases[member] = f"{module}.{member}"
                else:
                    self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            meaning = self._resolve(value) if value is not None else None
            if meaning is None:
                return
            for target in targets:
                if isinstance(target, ast.Name):
                    self.aliases[target.id] = meaning

    def _resolve(self, node: ast.AST) -> str | None:
        """What an expression names: "os.system", "subprocess", "ipython" (IPython's shell)..."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, _KNOWN_NAMES.get(node.id))
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            function = self._resolve(node.func)
            if function in _GET_IPYTHON:
                return "ipython"
            if function in ("__import__", "importlib.import_module"):
                name = _constant(node.args[0]) if node.args else None
                if isinstance(name, str):
                    return _module(name.split(".")[0] if function == "__import__" else name)
        return None

    # -- calls -----------------------------------------------------------------------------

    def _call(self, node: ast.Call) -> None:
        meaning = self._resolve(node.func)
        if meaning is None:
            if isinstance(node.func, ast.Name) and node.func.id in ("exec", "eval", "compile"):
                self._python_string(node)
            return
        if meaning.startswith("ipython."):
            self._ipython_call(node, meaning.removeprefix("ipython."))
        elif meaning in _RUNNERS or meaning.startswith(_RUNNER_PREFIXES):
            self._runner(node, meaning)

    def _reference(self, node: ast.Name | ast.Attribute) -> None:
        """A runner named but not called here (`run = subprocess.run`, `map(os.system, ...)`):
        what it will run is only known when the code runs."""
        meaning = self._resolve(node)
        if meaning is None:
            return
        method = meaning.removeprefix("ipython.") if meaning.startswith("ipython.") else ""
        runs = meaning in _RUNNERS or meaning.startswith(_RUNNER_PREFIXES)
        if method in _IPYTHON_SYSTEM or method in _IPYTHON_CELLS or runs:
            self._add(SHELL, self._source(node), f"`{meaning}`", node, computed=True)
        elif method in ("run_line_magic", "run_cell_magic", "magic"):
            self._add(SHELL, self._source(node), "an IPython magic", node, computed=True)

    def _ipython_call(self, node: ast.Call, method: str) -> None:
        if method in _IPYTHON_SYSTEM:
            via = "IPython's `!!`" if method == "getoutput" else "IPython's `!`"
            self._command(node, _argument(node, 0, "cmd"), via, expands=True)
        elif method in ("run_line_magic", "run_cell_magic", "magic"):
            self._magic_call(node, method)
        elif method in _IPYTHON_CELLS:
            cell = _constant(_argument(node, 0, "raw_cell", "lines", "expr"))
            if isinstance(cell, str):
                self._nested(cell, node)
            else:
                self._add(SHELL, self._source(node), "a cell run by IPython", node, computed=True)

    def _magic_call(self, node: ast.Call, method: str) -> None:
        if method == "magic":  # the old get_ipython().magic("name line")
            text = _constant(_argument(node, 0, "arg_s"))
            if not isinstance(text, str):
                self._add(SHELL, self._source(node), "an IPython magic", node, computed=True)
                return
            name, _, rest = text.lstrip("%").partition(" ")
            self._magic(node, name, rest, None)
            return
        name = _constant(_argument(node, 0, "magic_name"))
        line = _constant(_argument(node, 1, "line"))
        body = _constant(_argument(node, 2, "cell")) if method == "run_cell_magic" else None
        if not isinstance(name, str) or not isinstance(line, str):
            self._add(SHELL, self._source(node), "an IPython magic", node, computed=True)
            return
        if method == "run_cell_magic" and not isinstance(body, str):
            self._add(SHELL, self._source(node), f"`%%{name}`", node, computed=True)
            return
        self._magic(node, name.lstrip("%"), line, body)

    def _magic(self, node: ast.AST, name: str, line: str, body: str | None) -> None:
        """`%name line`, or the cell magic `%%name line` with `body`."""
        line = line.strip()
        as_written = f"%%{name} {line}".rstrip() + "\n" + (body or "").rstrip("\n")
        expanded = body is None and bool(_EXPANSION.search(line))
        if name in INSTALL_MAGICS and body is None:
            command = f"{name} {line}".strip()
            install = _install_request(name, command)
            if install is not None:
                self._add(INSTALL, command, f"`%{name}`", node, install=install)
            else:
                self._add(SHELL, command, f"`%{name}`", node, expanded=expanded)
        elif name in SYSTEM_MAGICS or name in SCRIPT_MAGICS or name in OTHER_SHELL_MAGICS:
            if body is not None:
                self._add(SHELL, as_written, f"`%%{name}`", node)
            elif name in SYSTEM_MAGICS:
                self._command(node, ast.Constant(line), f"`%{name}`", expands=True)
            else:
                self._add(SHELL, f"%{name} {line}".strip(), f"`%{name}`", node, expanded=expanded)
        elif body is None and name in _default_aliases():
            command = _alias_command(name, line)
            self._add(SHELL, command, f"IPython's `{name}` alias", node, expanded=expanded)
        elif body is not None:
            if name not in TEXT_MAGICS:
                self._nested(body, node)
        else:  # `%time !ls`, `%timeit -n1 !ls`: the line is code, after any options
            self._nested(line, node)
            without_options = re.sub(r"^(?:-\S+\s+)+", "", line)
            if without_options != line:
                self._nested(without_options, node)

    def _runner(self, node: ast.Call, meaning: str) -> None:
        via = f"`{meaning}`"
        if meaning.startswith(_RUNNER_PREFIXES) or meaning.startswith("os.posix_spawn"):
            # exec*/spawn* take a path and arguments: the call itself says it best.
            literal = all(_is_literal(argument) for argument in node.args)
            self._add(SHELL, self._source(node), via, node, computed=not literal)
            return
        if meaning.startswith("asyncio.") and meaning.endswith("_exec"):
            words = [_word(argument) for argument in node.args]
            if node.args and all(word is not None for word in words):
                self._add_command(node, shlex.join(words), via)  # type: ignore[arg-type]
            else:
                self._add(SHELL, self._source(node), via, node, computed=True)
            return
        self._command(node, _argument(node, 0, "args", "cmd", "command", "argv", "path"), via)

    def _command(
        self, node: ast.AST, argument: ast.AST | None, via: str, *, expands: bool = False
    ) -> None:
        """A command given as a string, or a list of words (a program and its arguments)."""
        value = _constant(argument)
        if isinstance(value, str):
            expanded = expands and bool(_EXPANSION.search(value))
            self._add_command(node, value.strip(), via, expanded=expanded)
            return
        if isinstance(argument, (ast.List, ast.Tuple)):
            words = [_word(element) for element in argument.elts]
            if words and all(word is not None for word in words):
                self._add_command(node, shlex.join(words), via)  # type: ignore[arg-type]
                return
        self._add(SHELL, self._source(node), via, node, computed=True)

    def _add_command(self, node: ast.AST, command: str, via: str, expanded: bool = False) -> None:
        if is_pip_install(command) and not expanded:
            self._add(INSTALL, command, via, node, install=parse_pip_install(command))
        else:
            self._add(SHELL, command, via, node, expanded=expanded)

    # -- code inside code ------------------------------------------------------------------

    def _nested(self, cell: str, node: ast.AST) -> None:
        """A cell that a magic or IPython's run_cell runs (with IPython's transformation)."""
        if self.depth >= _MAX_DEPTH:
            self._add(
                SHELL, self._source(node), "cells nested too deep to read", node, computed=True
            )
            return
        self.found.extend(self.finder.cell(cell, self._line_of(node), self.depth + 1))

    def _python_string(self, node: ast.Call) -> None:
        """exec / eval / compile of a literal: plain Python (no IPython transformation)."""
        source = _constant(node.args[0]) if node.args else None
        if isinstance(source, str) and self.depth < _MAX_DEPTH:
            line = self._line_of(node)
            self.found.extend(self.finder.python(source, line, self.depth + 1))

    # -- results ---------------------------------------------------------------------------

    def _add(
        self,
        kind: str,
        command: str,
        via: str,
        node: ast.AST,
        *,
        computed: bool = False,
        expanded: bool = False,
        install: InstallRequest | None = None,
    ) -> None:
        line = self._line_of(node)
        source = ""
        if self.lines_kept and 0 < line <= len(self.finder.lines):
            source = self.finder.lines[line - 1].strip()
        self.found.append(
            ShellEscape(kind, command, via, line, source, computed, expanded, install)
        )

    def _line_of(self, node: ast.AST) -> int:
        return self.line or getattr(node, "lineno", 0)

    def _source(self, node: ast.AST) -> str:
        return (ast.get_source_segment(self.python, node) or ast.unparse(node)).strip()


def _module(name: str) -> str:
    top, _, rest = name.partition(".")
    top = "os" if top in ("posix", "nt") else top  # what `os` is made of, on each system
    return f"{top}.{rest}" if rest else top


def _argument(node: ast.Call, position: int, *keywords: str) -> ast.AST | None:
    if len(node.args) > position and not isinstance(node.args[position], ast.Starred):
        return node.args[position]
    for item in node.keywords:
        if item.arg in keywords:
            return item.value
    return None


def _constant(node: ast.AST | None) -> object | None:
    return node.value if isinstance(node, ast.Constant) else None


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _word(node: ast.AST) -> str | None:
    """One word of an argument list as it will be: a string, or the running Python."""
    value = _constant(node)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(node, ast.Attribute) and node.attr == "executable":
        if isinstance(node.value, ast.Name) and node.value.id == "sys":
            return "python"
    return None


def _install_request(magic: str, command: str) -> InstallRequest | None:
    """The install a `%pip` / `%conda` / `%mamba` / `%uv` line makes (None: not an install)."""
    if magic == "pip":
        return parse_pip_install(command) if is_pip_install(command) else None
    words = command.split()
    if magic == "uv" and words[1:3] == ["pip", "install"]:
        return parse_pip_install(" ".join(["pip", *words[2:]]))
    if magic in ("conda", "mamba", "micromamba") and words[1:2] == ["install"]:
        # The same rule of names; conda's own flags (-y, -c CHANNEL...) are not accepted.
        words = [word for word in words if word not in ("-y", "--yes", "-q", "--quiet")]
        request = parse_pip_install(" ".join(["pip", *words[1:]]))
        return InstallRequest(command, request.packages, request.rejected, request.reason)
    return None
