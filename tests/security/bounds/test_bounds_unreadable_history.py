"""A history file that cannot be read is set aside, and the user is told so: the `history`
message says that it could not be read and where the old file was kept."""

from __future__ import annotations

import jsonschema
from bounds_support import make_notebook

from jupyter_autocoder.server.protocol_schema import build_schema

SCHEMA = build_schema()


def history_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**SCHEMA, "$ref": "#/$defs/HistoryMessage"})


async def test_the_user_is_told_that_the_history_could_not_be_read(
    open_socket, autocoder, jp_root_dir
):
    # Before the fix: an empty conversation, and no word of the file set aside.
    notebook = make_notebook(jp_root_dir, "broken.ipynb")
    path = autocoder.agents.history.file_for(notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"version": 1, "notebook": "broken.ipynb", "turns": [{"turn": 1, "req')  # torn

    socket = await open_socket()
    socket.send({"type": "history", "notebook": notebook})
    (history,) = await socket.wait_for(lambda: socket.of("history", notebook))
    assert history["turns"] == []
    unreadable = history.get("unreadable")
    assert unreadable, history
    assert "could not be read" in unreadable["message"]
    kept_as = unreadable["kept_as"]
    assert kept_as in unreadable["message"]
    with open(kept_as, encoding="utf-8") as kept:
        assert kept.read().endswith('"req')  # the old file, untouched
    assert list(history_validator().iter_errors(history)) == []

    # Asked again (the panel reconnects, another tab opens): the same word.
    socket.send({"type": "history", "notebook": notebook})
    await socket.wait_for(lambda: len(socket.of("history", notebook)) == 2)
    assert socket.of("history", notebook)[1]["unreadable"]["kept_as"] == kept_as
