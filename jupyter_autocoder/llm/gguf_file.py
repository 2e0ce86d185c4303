"""Read what we need from a GGUF file's header, to check a file before a worker loads it.

The `gguf` package's reader materialises every array (the vocabulary too) and took 9 s on
the 98 MB SmolLM2 file here; this reader skips arrays and reads only the scalar keys and
the tensor offsets, in milliseconds, and finds truncated files by their last tensor offset.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..errors import ModelFileError

GGUF_MAGIC = b"GGUF"

# value type -> struct format of a scalar
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


@dataclass
class GGUFHeader:
    path: str
    version: int
    metadata: dict[str, Any] = field(default_factory=dict)
    tensor_count: int = 0
    data_offset: int = 0
    last_tensor_offset: int = 0

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    @property
    def n_layers(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.block_count")
        return int(value) if value is not None else None

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if value is not None else None

    @property
    def chat_template(self) -> str | None:
        return self.metadata.get("tokenizer.chat_template")

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name", os.path.basename(self.path)))


def read_header(path: str | os.PathLike[str]) -> GGUFHeader:
    """The header of a GGUF file; ModelFileError says what is wrong with a bad one."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"Model file not found: {path}")
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a directory, not a .gguf model file")
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as handle:
            header = _read(handle, path)
    except (struct.error, UnicodeDecodeError, EOFError, MemoryError) as error:
        raise ModelFileError(
            f"{path} is damaged (its GGUF header cannot be read: {error}). "
            "Delete it and download it again (jupyter-autocoder pull NAME)."
        ) from error
    except OSError as error:
        raise ModelFileError(f"Cannot read {path}: {error}") from error
    if header.tensor_count and header.data_offset + header.last_tensor_offset >= size:
        raise ModelFileError(
            f"{path} is truncated ({size} bytes, but its tensors reach past "
            f"{header.data_offset + header.last_tensor_offset}). "
            "An interrupted download? Delete it and download it again (jupyter-autocoder pull "
            "NAME)."
        )
    return header


def _read(handle: BinaryIO, path: str) -> GGUFHeader:
    if handle.read(4) != GGUF_MAGIC:
        raise ModelFileError(f"{path} is not a GGUF model file (wrong magic bytes)")
    (version,) = _unpack(handle, "<I")
    if version not in (2, 3):
        raise ModelFileError(
            f"{path} is GGUF version {version}; only versions 2 and 3 are supported"
        )
    tensor_count, kv_count = _unpack(handle, "<QQ")
    if kv_count > 1_000_000 or tensor_count > 10_000_000:
        raise ModelFileError(
            f"{path} has an implausible header ({kv_count} keys, {tensor_count} tensors)"
        )
    header = GGUFHeader(path=path, version=version, tensor_count=tensor_count)
    for _ in range(kv_count):
        key = _read_string(handle)
        (value_type,) = _unpack(handle, "<I")
        value = _read_value(handle, value_type)
        if value is not _SKIPPED:
            header.metadata[key] = value
    for _ in range(tensor_count):
        _read_string(handle)  # name
        (n_dims,) = _unpack(handle, "<I")
        handle.seek(8 * n_dims + 4, os.SEEK_CUR)  # dimensions, type
        (offset,) = _unpack(handle, "<Q")
        header.last_tensor_offset = max(header.last_tensor_offset, offset)
    alignment = int(header.metadata.get("general.alignment", 32))
    position = handle.tell()
    header.data_offset = position + (-position % alignment)
    return header


_SKIPPED = object()


def _read_value(handle: BinaryIO, value_type: int) -> Any:
    if value_type in _SCALARS:
        return _unpack(handle, _SCALARS[value_type])[0]
    if value_type == _STRING:
        return _read_string(handle)
    if value_type == _ARRAY:
        element_type, count = _unpack(handle, "<IQ")
        if element_type in _SCALARS:
            handle.seek(struct.calcsize(_SCALARS[element_type]) * count, os.SEEK_CUR)
        elif element_type == _STRING:
            for _ in range(count):
                (length,) = _unpack(handle, "<Q")
                handle.seek(length, os.SEEK_CUR)
        else:
            for _ in range(count):
                _read_value(handle, element_type)
        return _SKIPPED
    raise struct.error(f"unknown GGUF value type {value_type}")


def _read_string(handle: BinaryIO) -> str:
    (length,) = _unpack(handle, "<Q")
    if length > 64 * 1024 * 1024:
        raise struct.error(f"implausible string length {length}")
    data = handle.read(length)
    if len(data) != length:
        raise EOFError("file ends inside a string")
    return data.decode("utf-8")


def _unpack(handle: BinaryIO, fmt: str) -> tuple:
    size = struct.calcsize(fmt)
    data = handle.read(size)
    if len(data) != size:
        raise EOFError("file ends inside the header")
    return struct.unpack(fmt, data)
