"""The admin's policy for a shared server (issue 11, part 4), enforced by the server:
`allowed_models` on switch, pull, load and the proxy; `allow_downloads`;
`allowed_install_policies`; `max_rounds_limit`. Each test sends what a user could send
before (when these settings did not exist, traitlets ignored them) and asserts the refusal.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

MESSAGES = [{"role": "user", "content": "hello"}]


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


async def _status(jp_fetch) -> dict:
    return _json(await jp_fetch("autocoder", "api", "status"))


@pytest.fixture
def autocoder_config(request):
    """The small model, not loaded, with the policy a test names; with "scripted": True,
    the scripted engine as a remote engine instead."""
    param = dict(getattr(request, "param", {}))
    if param.pop("scripted", False):
        return {**request.getfixturevalue("scripted_config"), **param}
    return {"load_on_start": False, "model": "smollm2-135m", **param}


ONLY_SMOLLM = {"allowed_models": ["smollm2-*"]}


@pytest.mark.parametrize("autocoder_config", [ONLY_SMOLLM], indirect=True)
@pytest.mark.parametrize(
    "action, model",
    [
        ("switch", "autocoder-33b"),
        ("load", "qwen2.5-coder-1.5b"),
        ("pull", "autocoder-s-6.7b"),
        ("pull", "hf:somebody/big-model/model-Q8_0.gguf"),
        ("switch", "auto"),
    ],
)
async def test_a_model_outside_allowed_models_is_refused(jp_fetch, autocoder, action, model):
    status, reply = await _post(jp_fetch, action, {"model": model})

    assert status == 403, reply
    assert f"Cannot {'switch to' if action == 'switch' else action} {model!r}" in reply["message"]
    assert "smollm2-*" in reply["message"] and "c.AutoCoder.allowed_models" in reply["message"]
    state = await _status(jp_fetch)
    assert state["engine"]["model"] == "smollm2-135m" and state["engine"]["state"] == "stopped"
    assert _json(await jp_fetch("autocoder", "api", "models"))["pulls"] == {}


@pytest.mark.parametrize("autocoder_config", [ONLY_SMOLLM], indirect=True)
async def test_the_panel_is_told_the_policy_and_which_models_are_allowed(jp_fetch, autocoder):
    policy = (await _status(jp_fetch))["policy"]
    assert policy["allowed_models"] == ["smollm2-*"] and policy["allow_downloads"] is True
    models = _json(await jp_fetch("autocoder", "api", "models"))
    allowed = {model["name"]: model["allowed"] for model in models["models"]}
    assert allowed["smollm2-135m"] is True and allowed["autocoder-33b"] is False
    assert models["policy"] == policy


@pytest.mark.parametrize(
    "autocoder_config",
    [{"model": "autocoder-s-6.7b", "allowed_models": ["smollm2-*"]}],
    indirect=True,
)
async def test_a_configured_model_outside_the_policy_is_not_loaded(jp_fetch, autocoder):
    await _post(jp_fetch, "load", {})
    for _ in range(50):
        engine = (await _status(jp_fetch))["engine"]
        if engine["state"] == "failed":
            break
        await asyncio.sleep(0.1)
    assert engine["state"] == "failed"
    assert (
        "Cannot load 'autocoder-s-6.7b'" in engine["error"]
        and "c.AutoCoder.allowed_models" in engine["error"]
    )
    assert not engine.get("progress")  # nothing was downloaded


# --- the proxy ---------------------------------------------------------------------------


@pytest.mark.parametrize("autocoder_config", [{"scripted": True, **ONLY_SMOLLM}], indirect=True)
async def test_the_proxy_refuses_a_model_outside_the_policy(autocoder, scripted_engine, send_raw):
    """The server's remote engine serves `scripted`, which the policy does not allow."""
    scripted_engine.enqueue("an answer")
    response = await send_raw(
        "POST", "v1/chat/completions", key=autocoder.proxy_key, body={"messages": MESSAGES}
    )

    assert scripted_engine.history == []
    assert response.code == 403
    assert response.json()["error"]["code"] == "model_not_allowed"
    assert "c.AutoCoder.allowed_models" in response.message


# --- downloads ----------------------------------------------------------------------------


NO_DOWNLOADS = {"allow_downloads": False}


@pytest.mark.parametrize("autocoder_config", [NO_DOWNLOADS], indirect=True)
@pytest.mark.parametrize(
    "action, model, words",
    [
        ("pull", "autocoder-s-6.7b", "Cannot pull autocoder-s-6.7b: downloads are turned off"),
        ("pull", "hf:somebody/model/model-Q4_K_M.gguf", "downloads are turned off"),
        (
            "switch",
            "autocoder-s-6.7b",
            "Cannot switch to autocoder-s-6.7b: it is not on this machine",
        ),
        ("load", "hf:somebody/model/model-Q4_K_M.gguf", "it is not on this machine"),
    ],
)
async def test_with_downloads_off_nothing_is_downloaded(
    jp_fetch, autocoder, model_caches, action, model, words
):
    status, reply = await _post(jp_fetch, action, {"model": model})

    assert status == 403, reply
    assert words in reply["message"] and "c.AutoCoder.allow_downloads = False" in reply["message"]
    assert _json(await jp_fetch("autocoder", "api", "models"))["pulls"] == {}
    assert (await _status(jp_fetch))["engine"]["state"] == "stopped"


@pytest.fixture
def model_caches(tmp_path, monkeypatch):
    """Empty model caches: nothing but the packaged small model is on this machine."""
    from huggingface_hub import constants

    monkeypatch.setenv("AUTOCODER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))


# --- turns: rounds and installs -----------------------------------------------------------


@pytest.mark.parametrize(
    "autocoder_config", [{"scripted": True, "max_rounds_limit": 2}], indirect=True
)
async def test_a_turn_cannot_ask_for_more_rounds_than_the_limit(
    open_browser, scripted_engine, autocoder
):
    browser = await open_browser()
    before = len(browser.errors)
    browser.send(
        {"type": "start", "notebook": "many.ipynb", "request": "Print 1.", "max_rounds": 5}
    )

    refusal = await browser.next_error(before)

    assert refusal["in_reply_to"] == "start" and refusal["notebook"] == "many.ipynb"
    assert "5 rounds asked" in refusal["message"] and "at most 2" in refusal["message"]
    assert "c.AutoCoder.max_rounds_limit" in refusal["message"]
    assert scripted_engine.history == [] and not browser.by_notebook["many.ipynb"]


@pytest.mark.parametrize(
    "autocoder_config", [{"scripted": True, "max_rounds": 5, "max_rounds_limit": 2}], indirect=True
)
async def test_the_server_s_own_round_limit_is_kept_within_the_limit(
    open_browser, scripted_engine, autocoder
):
    scripted_engine.enqueue("Nothing to run here.")
    browser = await open_browser()

    events = await browser.turn({"type": "start", "notebook": "few.ipynb", "request": "Say hello."})

    rounds = [event for event in events if event["type"] == "round"]
    assert rounds and rounds[0]["max_rounds"] == 2
    assert autocoder.status()["policy"]["max_rounds"] == 2


@pytest.mark.parametrize(
    "autocoder_config",
    [{"scripted": True, "install_policy": "auto", "allowed_install_policies": ["ask", "never"]}],
    indirect=True,
)
async def test_installing_without_asking_is_not_allowed(
    open_browser, scripted_engine, engine_responder, autocoder
):
    """The server was set to `auto`, which the policy forbids: it asks instead."""
    scripted_engine.enqueue("First the package:\n```sh\npip install rich\n```")
    engine_responder.function = lambda body: "Done without it."
    asked = []

    async def run_cell(request):
        return {"outputs": [], "status": "ok", "execution_count": 1}

    def approve(request):
        asked.append(request)
        return False

    browser = await open_browser(run_cell=run_cell, approve=approve)
    events = await browser.turn(
        {"type": "start", "notebook": "pkg.ipynb", "request": "Pretty-print a table."}
    )

    assert [request["packages"] for request in asked] == [["rich"]]
    assert [r for r in browser.run_requests if r["purpose"] == "install"] == [], (
        "it installed without asking"
    )
    installs = [event["status"] for event in events if event["type"] == "install"]
    assert "declined" in installs and "installed" not in installs
    policy = autocoder.status()["policy"]
    assert policy["install_policy"] == "ask" and policy["allowed_install_policies"] == [
        "ask",
        "never",
    ]


# --- the magic in the server's kernels ----------------------------------------------------


def _run_in_kernel(kernel, cells: list[str]) -> list[str]:
    """Each cell's printed text and error message, in a kernel the server started."""
    client = kernel.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        outputs = []
        for cell in cells:
            pieces: list[str] = []

            def hook(message, pieces=pieces):
                content = message["content"]
                pieces.append(content.get("text", "") + content.get("evalue", ""))
                pieces.append(content.get("data", {}).get("text/plain", ""))

            client.execute_interactive(cell, timeout=60, output_hook=hook)
            outputs.append("".join(pieces))
        return outputs
    finally:
        client.stop_channels()


@pytest.mark.parametrize(
    "autocoder_config",
    [{"scripted": True, "max_rounds_limit": 2, "allowed_install_policies": ["ask", "never"]}],
    indirect=True,
)
async def test_the_magic_in_the_server_s_kernels_follows_the_policy(
    autocoder, scripted_engine, jp_fetch, jp_serverapp
):
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(response.body)["id"]
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    cells = [
        "%load_ext jupyter_autocoder",
        "%%autocoder --rounds 5\nPrint 1.",
        "%%autocoder --install auto\nPrint 1.",
        "%autocoder status",
    ]
    try:
        _, rounds, install, status = await asyncio.get_running_loop().run_in_executor(
            None, _run_in_kernel, kernel, cells
        )
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")

    assert "5 rounds asked; this server allows at most 2" in rounds
    assert "The install policy 'auto' is not allowed on this server" in install
    assert "Admin policy: installs ask, never; at most 2 rounds." in status
    assert scripted_engine.history == []
