"""The guard of the user's variables, where the namespace is: before the agent's code runs,
a snapshot of the user's existing variables (`fingerprint.py`); afterwards, which of them the
code reassigned, deleted or changed in place; the replaced objects kept, for the last turn
only, so that the user can put them back.

    guard = NamespaceGuard()
    guard.begin_turn(namespace, hidden, exempt=["by_day"])   # forget the last turn's objects
    guard.before(namespace)                                  # before each run
    ... the code runs ...
    guard.after(namespace)   # [{"name": "log", "change": "mutated", "details": [...], ...}]
    guard.restore(namespace, "df")                           # the user's choice

The executors reach it with `call(shell, action, arguments)`: directly in the magic's own
shell, through a silent request in a kernel (`KernelExecutor`), or as a silent probe of the
panel (`BrowserExecutor`). The one guard of a shell lives on that shell, so that the
objects it keeps outlast the session that ran the code: `%autocoder restore NAME` in a
later cell, or the panel's button, finds them. Everything it answers is plain JSON data.

What is watched: the user's names when the turn began (`values.user_names`: not private,
not IPython's), less the names the request asks to create or change, less code (modules,
classes, functions). Names the turn's own code creates are the model's, not watched. The
guard holds a reference to each watched object while the code runs (no copy); after the
run it keeps only those the code replaced or deleted, until the next turn begins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from .fingerprint import Snapshot, describe, is_code
from .values import user_names

# Change kinds.
REASSIGNED = "reassigned"
MUTATED = "mutated"
DELETED = "deleted"

ACTIONS = ("begin_turn", "before", "after", "restore", "kept")
_SHELL_ATTRIBUTE = "_autocoder_guard"
_CONSTANTS = (int, float, complex, str, bytes, bool, type(None))


class NamespaceGuard:
    """One namespace's guard: the watched names of the turn, the snapshots of a run, and the
    objects kept from the last turn."""

    def __init__(self) -> None:
        self.watched: list[str] = []
        self.snapshots: dict[str, Snapshot] = {}
        self.kept: dict[str, Any] = {}  # name -> the object the code replaced or deleted

    def begin_turn(
        self,
        namespace: Mapping[str, Any],
        hidden: Mapping[str, Any] | None = None,
        exempt: Iterable[str] = (),
    ) -> int:
        """A turn begins: forget the last turn's kept objects; watch the user's data names
        now, less `exempt`. Returns how many names are watched."""
        self.kept.clear()
        self.snapshots.clear()
        skip = set(exempt)
        self.watched = [
            name
            for name in user_names(namespace, hidden)
            if name not in skip and not is_code(namespace[name])
        ]
        return len(self.watched)

    def before(self, namespace: Mapping[str, Any]) -> int:
        """Snapshots of the watched names, before a run. Returns how many were taken."""
        self.snapshots = {
            name: Snapshot.take(namespace[name]) for name in self.watched if name in namespace
        }
        return len(self.snapshots)

    def after(self, namespace: MutableMapping[str, Any], restore: bool = False) -> list[dict]:
        """What the run changed among the snapshots' names, one dict each (`name`, `change`,
        `details`, `was`, `now`, `restorable`, `restored`). A replaced or deleted object is
        kept (the first one of the turn: the user's own), or with `restore` put back at
        once. The snapshots are dropped."""
        changes = []
        snapshots, self.snapshots = self.snapshots, {}
        for name, snapshot in snapshots.items():
            old = snapshot.value
            if name not in namespace:
                change, details, now = DELETED, [], ""
            elif namespace[name] is not old:
                if _equal_constants(old, namespace[name]):
                    continue  # `n = 5` again: another object, the same value
                change, details, now = REASSIGNED, [], describe(namespace[name])
            else:
                details = snapshot.differences(old)
                if not details:
                    continue
                change, now = MUTATED, describe(old)
            replaced = change != MUTATED
            if replaced:
                self.kept.setdefault(name, old)
            restored = False
            if replaced and restore:
                namespace[name] = self.kept.pop(name)
                restored = True
            changes.append(
                {
                    "name": name,
                    "change": change,
                    "details": details,
                    "was": describe(old) if change != MUTATED else "",
                    "now": now,
                    "restorable": replaced and not restored,
                    "restored": restored,
                }
            )
        return changes

    def restore(self, namespace: MutableMapping[str, Any], name: str) -> dict[str, Any]:
        """Put back the object the last turn's code replaced or deleted under `name`."""
        if name not in self.kept:
            known = ", ".join(f"`{kept}`" for kept in self.kept) or "nothing"
            return {
                "name": name,
                "restored": False,
                "message": f"No earlier value of `{name}` is kept (kept now: {known}). Only "
                "the last agent turn's replaced variables are kept, while this kernel runs.",
            }
        value = self.kept.pop(name)
        namespace[name] = value
        return {
            "name": name,
            "restored": True,
            "message": f"`{name}` is back as it was before the agent's code: {describe(value)}.",
        }

    def kept_values(self) -> list[dict[str, str]]:
        """The kept objects: name and what each is."""
        return [{"name": name, "was": describe(value)} for name, value in self.kept.items()]


def _equal_constants(old: Any, new: Any) -> bool:
    """Two numbers or strings of one type and value: no change a user could tell."""
    if type(old) is not type(new) or not isinstance(old, _CONSTANTS):
        return False
    try:
        return bool(old == new)
    except Exception:
        return False


def guard_of(shell: Any) -> NamespaceGuard:
    """The guard of an IPython shell, made on first use."""
    guard = getattr(shell, _SHELL_ATTRIBUTE, None)
    if guard is None:
        guard = NamespaceGuard()
        setattr(shell, _SHELL_ATTRIBUTE, guard)
    return guard


def call(shell: Any, action: str, arguments: Mapping[str, Any] | None = None) -> Any:
    """One action of the shell's guard, with JSON arguments and a JSON answer:
    "begin_turn" (`exempt`: names), "before", "after" (`restore`: bool), "restore" (`name`),
    "kept"."""
    arguments = dict(arguments or {})
    guard = guard_of(shell)
    namespace = shell.user_ns
    if action == "begin_turn":
        exempt = [name for name in arguments.get("exempt", []) if isinstance(name, str)]
        return guard.begin_turn(namespace, getattr(shell, "user_ns_hidden", None), exempt)
    if action == "before":
        return guard.before(namespace)
    if action == "after":
        return guard.after(namespace, restore=bool(arguments.get("restore", False)))
    if action == "restore":
        name = arguments.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"not a variable name: {name!r}")
        return guard.restore(namespace, name)
    if action == "kept":
        return guard.kept_values()
    raise ValueError(f"unknown guard action {action!r}; expected one of {', '.join(ACTIONS)}")
