"""Model names to checked files: the catalogue, the hub cache offline, bad files, chat formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from jupyter_autocoder.errors import ModelFileError, ModelNotFoundError, ModelTooLargeError
from jupyter_autocoder.llm.catalogue import CATALOGUE
from jupyter_autocoder.llm.chat_format import (
    DEEPSEEK_CODER,
    choose_chat_format,
    format_deepseek_coder,
)
from jupyter_autocoder.llm.gguf_file import GGUFHeader, read_header
from jupyter_autocoder.llm.hardware import GPU, plan_gpu_layers
from jupyter_autocoder.llm.resolve import check_fits, parse_hf_reference, resolve_model

ARCHITECTURE_NAMES = {
    "autocoder-33b",
    "autocoder-s-6.7b",
    "autocoder-qw-7b",
    "smollm2-135m",
    "qwen2.5-coder-1.5b",
}


def test_the_catalogue_has_the_architecture_names():
    assert set(CATALOGUE) == ARCHITECTURE_NAMES
    for spec in CATALOGUE.values():
        if spec.source == "hub":
            quant = spec.quantisations[0]
            assert (
                quant.name == "Q4_K_M"
                and quant.filename.endswith(".gguf")
                and quant.size_bytes > 1e9
            )


def test_the_bundled_model_resolves_with_its_own_template(small_model_path):
    resolved = resolve_model("smollm2-135m", download=False)
    assert resolved.path == small_model_path
    assert resolved.header.architecture == "llama" and resolved.n_layers == 30
    assert resolved.chat.chat_format is None  # the GGUF's own template


def test_a_path_resolves(small_model_path):
    assert resolve_model(small_model_path).path == small_model_path


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(ModelNotFoundError) as raised:
        resolve_model("gpt-7")
    message = str(raised.value)
    assert all(name in message for name in ARCHITECTURE_NAMES) and "hf:REPO/FILE.gguf" in message


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        resolve_model(str(tmp_path / "absent.gguf"))


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    fake = tmp_path / "notes.gguf"
    fake.write_text("these are not weights")
    with pytest.raises(ModelFileError, match="not a GGUF model file"):
        resolve_model(str(fake))


def test_a_truncated_download_is_refused(tmp_path, small_model_path):
    truncated = tmp_path / "half.gguf"
    with open(small_model_path, "rb") as source:
        truncated.write_bytes(source.read(os.path.getsize(small_model_path) // 2))
    with pytest.raises(ModelFileError, match="truncated.*download it again"):
        resolve_model(str(truncated))


def test_a_damaged_header_is_refused(tmp_path, small_model_path):
    damaged = tmp_path / "damaged.gguf"
    with open(small_model_path, "rb") as source:
        data = bytearray(source.read(4096))
    data[24:32] = (2**62).to_bytes(8, "little")  # the first key's length
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        read_header(damaged)


def test_hf_references():
    assert parse_hf_reference("hf:bartowski/AutoCoder-GGUF/AutoCoder-Q4_K_M.gguf") == (
        "bartowski/AutoCoder-GGUF",
        "AutoCoder-Q4_K_M.gguf",
    )
    assert parse_hf_reference("hf:owner/repo/sub/dir/model.gguf") == (
        "owner/repo",
        "sub/dir/model.gguf",
    )
    for bad in ("hf:owner/model.gguf", "hf:owner/repo/readme.md", "hf://x"):
        with pytest.raises(ModelNotFoundError):
            parse_hf_reference(bad)


def test_a_model_too_large_for_memory_says_what_to_do():
    with pytest.raises(ModelTooLargeError, match="Choose a smaller model"):
        check_fits(10**14, "autocoder-33b", gpu=None)


def _fill_hub_cache(cache, repo_id, filename, source_path):
    """Lay a file out the way huggingface_hub's cache does (refs, snapshots)."""
    repo_dir = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    os.symlink(source_path, snapshot / filename)
    return snapshot / filename


RESOLVE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from jupyter_autocoder.llm.resolve import resolve_model, list_models
    floor = {"min_tokens_per_second": float(sys.argv[2])} if len(sys.argv) > 2 else {}
    resolved = resolve_model(sys.argv[1], **floor)
    print(json.dumps({"name": resolved.name, "path": resolved.path, "notice": resolved.notice,
                      "chat": resolved.chat.chat_format,
                      "cached": [m["name"] for m in list_models() if m["cached"]]}))
    """
)


def _resolve_offline(name, hub_cache, tmp_path, *floor):
    # Offline from the hub and from PyPI (pip's own switch): nothing can be downloaded.
    environment = {
        **os.environ,
        "HF_HUB_CACHE": str(hub_cache),
        "HF_HUB_OFFLINE": "1",
        "PIP_NO_INDEX": "1",
        "AUTOCODER_CACHE_DIR": str(tmp_path / "autocoder-cache"),
    }
    result = subprocess.run(
        [sys.executable, "-c", RESOLVE_SCRIPT, name, *floor],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_prefilled_hub_cache_resolves_offline(tmp_path, small_model_path):
    hub_cache = tmp_path / "hub"
    spec = CATALOGUE["autocoder-s-6.7b"]
    quant = spec.quantisations[0]
    expected = _fill_hub_cache(hub_cache, quant.repo_id, quant.filename, small_model_path)
    by_name = _resolve_offline("autocoder-s-6.7b", hub_cache, tmp_path)
    assert by_name["path"] == str(expected) and by_name["name"] == "autocoder-s-6.7b"
    assert "autocoder-s-6.7b" in by_name["cached"]
    by_reference = _resolve_offline(f"hf:{quant.repo_id}/{quant.filename}", hub_cache, tmp_path)
    assert by_reference["path"] == str(expected)
    # auto prefers a cached AutoCoder that fits (and is fast enough: no floor here, since
    # this machine's CPU would decode a real 6.7B below the default one) over the bundled model
    by_auto = _resolve_offline("auto", hub_cache, tmp_path, "0")
    assert by_auto["name"] == "autocoder-s-6.7b" and by_auto["notice"] is None


def test_auto_falls_back_to_the_bundled_model_with_a_notice(tmp_path, small_model_path):
    resolved = _resolve_offline("auto", tmp_path / "empty-hub", tmp_path)
    assert resolved["name"] == "smollm2-135m" and resolved["path"] == small_model_path
    assert (
        "cannot be reached" in resolved["notice"] and "jupyter-autocoder pull" in resolved["notice"]
    )


def test_an_uncached_hub_model_offline_says_what_to_do(tmp_path):
    environment = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "jupyter_autocoder.cli", "pull", "autocoder-33b"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 1
    assert "error: Cannot download bartowski/AutoCoder-GGUF/AutoCoder-Q4_K_M.gguf" in result.stderr


def test_models_command_lists_the_catalogue():
    result = subprocess.run(
        [sys.executable, "-m", "jupyter_autocoder.cli", "models", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == ARCHITECTURE_NAMES
    assert rows["smollm2-135m"]["cached"] is True


def _header(template=None, name="model"):
    metadata = {"general.architecture": "llama", "general.name": name}
    if template:
        metadata["tokenizer.chat_template"] = template
    return GGUFHeader(path=f"/models/{name}.gguf", version=3, metadata=metadata)


def test_chat_format_prefers_the_files_own_template():
    assert choose_chat_format(_header("{{ messages }}"), "deepseek-coder").chat_format is None


def test_chat_format_for_autocoder_without_a_template():
    deepseek = choose_chat_format(_header(name="AutoCoder"), "deepseek-coder")
    assert deepseek.chat_format == DEEPSEEK_CODER and deepseek.stop == ("<|EOT|>",)
    assert choose_chat_format(_header(name="AutoCoder_S_6.7B")).chat_format == DEEPSEEK_CODER
    assert choose_chat_format(_header(name="AutoCoder_QW_7B")).chat_format == "qwen"
    assert choose_chat_format(_header(name="x"), "qwen").chat_format == "qwen"


def test_the_deepseek_coder_prompt():
    prompt = format_deepseek_coder(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Add 1 and 2."},
            {"role": "assistant", "content": "3"},
            {"role": "user", "content": "Now 2 and 2."},
        ]
    )
    assert prompt == (
        "<｜begin▁of▁sentence｜>Be brief.\n### Instruction:\nAdd 1 and 2.\n### "
        "Response:\n3\n<|EOT|>\n"
        "### Instruction:\nNow 2 and 2.\n### Response:\n"
    )


def test_llama_cpp_knows_the_deepseek_coder_format():
    from llama_cpp import llama_chat_format

    from jupyter_autocoder.llm.chat_format import register_llama_cpp_formats

    register_llama_cpp_formats()
    formatter = llama_chat_format.get_chat_completion_handler(DEEPSEEK_CODER)
    assert formatter is not None


def test_gpu_layers_follow_the_memory():
    big = GPU("cuda", "test", total_bytes=80 * 10**9, free_bytes=80 * 10**9)
    small = GPU("cuda", "test", total_bytes=8 * 10**9, free_bytes=8 * 10**9)
    model = 20 * 10**9
    assert plan_gpu_layers(-2, model, 62, big, supports_offload=True) == -1
    partial = plan_gpu_layers(-2, model, 62, small, supports_offload=True)
    assert 0 < partial < 62
    assert plan_gpu_layers(-2, model, 62, big, supports_offload=False) == 0
    assert plan_gpu_layers(-2, model, 62, None, supports_offload=True) == 0
    assert plan_gpu_layers(10, model, 62, None, supports_offload=False) == 10
