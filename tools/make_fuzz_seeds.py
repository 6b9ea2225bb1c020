#!/usr/bin/env python3
"""Writes the binary fuzz seeds under tools/fuzz-seeds/ that no committed fixture provides (README "Fuzzing").

Standard library only (no venv needed):

    python3 tools/make_fuzz_seeds.py            # (re)write the seeds
    python3 tools/make_fuzz_seeds.py --check    # regenerate into a temporary folder, compare byte for byte

Outputs (and nothing else); every file is small (a few kB) so that mutations stay cheap:
  tools/fuzz-seeds/pack/w2v2-xvector.ipet      wav2vec 2.0 pack with transformers' x-vector head (TDNN lists given)
  tools/fuzz-seeds/pack/w2v2-seqcls-wls.ipet   wav2vec 2.0 pack with the sequence-classification head and a weighted
                                               layer sum; no prompts, no adapters
  tools/fuzz-seeds/pack/ast-v1.0-override.ipet AST pack of format 1.0 (no content digest), ast-classification head,
                                               prompts only, one `override.*` tensor, provenance
  tools/fuzz-seeds/pack/ast-speaker-embedding.ipet  AST speaker pack with an embedding and no classifier, BF16
  tools/fuzz-seeds/pack/*.ipet-header          the header of each pack above and of the small committed packs
                                               (Fixtures/packs, Fixtures/demo), then a NUL and the first 64 data
                                               bytes: PackFuzz's bare-header form (see Sources/PackFuzz/main.swift)
  tools/fuzz-seeds/audio/*.wav, *.aiff         WAVE variants the fixtures lack: IEEE float stereo with a `fact` chunk,
                                               RIFX (big-endian), a LIST chunk of odd size before `data`, a `data`
                                               chunk claiming more bytes than present, the "unknown size" marker,
                                               WAVE_FORMAT_EXTENSIBLE 24-bit, 8-bit unsigned; one AIFF

The packs carry a correct content digest (Formats/safetensors.md §4, computed here as ContentDigest does) so that,
unmutated, they pass the reader; tensor values are a fixed small pattern (the fuzzer only needs the structure).
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import math
import struct
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tools" / "fuzz-seeds"
FINGERPRINT = "sha256:" + "0" * 64  # the pack reader checks only the form; the CLI compares it with a backbone


# ---------------------------------------------------------------------------------------------------------------------
# safetensors with the content digest


def values(count: int, seed: int) -> list[float]:
    return [round(math.sin(seed * 7.1 + i * 0.37) * 0.5, 4) for i in range(count)]


def encode(dtype: str, xs: list[float]) -> bytes:
    if dtype == "F32":
        return struct.pack(f"<{len(xs)}f", *xs)
    if dtype == "F16":
        return struct.pack(f"<{len(xs)}e", *xs)
    if dtype == "BF16":  # truncation of the float32 bits is exact for these values' purpose (structure only)
        return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", x))[0])[2:] for x in xs)
    raise ValueError(dtype)


def tensor(name: str, shape: list[int], dtype: str = "F32", seed: int = 0) -> tuple[str, str, list[int], bytes]:
    n = 1
    for d in shape:
        n *= d
    return name, dtype, shape, encode(dtype, values(n, seed + len(name)))


def content_digest(metadata: dict[str, str], tensors: list[tuple[str, str, list[int], bytes]]) -> str:
    h = hashlib.sha256(b"ipet-content-v1\n")

    def u64(v: int) -> None:
        h.update(struct.pack("<Q", v))

    def text(s: str) -> None:
        b = s.encode()
        u64(len(b))
        h.update(b)

    entries = sorted((k, v) for k, v in metadata.items() if k != "ipet.content_sha256")
    u64(len(entries))
    for k, v in entries:
        text(k)
        text(v)
    u64(len(tensors))
    for name, dtype, shape, data in sorted(tensors, key=lambda t: t[0].encode()):
        text(name)
        text(dtype)
        u64(len(shape))
        for d in shape:
            u64(d)
        u64(len(data))
        h.update(data)
    return "sha256:" + h.hexdigest()


def safetensors(metadata: dict[str, str], tensors: list[tuple[str, str, list[int], bytes]], digest: bool = True) -> bytes:
    metadata = dict(metadata)
    if digest:
        metadata["ipet.content_sha256"] = content_digest(metadata, tensors)
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    body = b""
    for name, dtype, shape, data in sorted(tensors, key=lambda t: t[0]):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        body += data
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def pack(backbone: dict, config: dict, head: dict, preprocessing: dict, tensors, version: str = "1.1",
         provenance: dict | None = None) -> bytes:
    compact = lambda o: json.dumps(o, separators=(",", ":"))  # noqa: E731
    metadata = {
        "ipet.format": "ipet-pack",
        "ipet.version": version,
        "ipet.backbone": compact({**backbone, "fingerprint": FINGERPRINT}),
        "ipet.config": compact(config),
        "ipet.head": compact(head),
        "ipet.preprocessing": compact(preprocessing),
    }
    if provenance is not None:
        metadata["ipet.provenance"] = compact(provenance)
    return safetensors(metadata, tensors, digest=version != "1.0")


def packs() -> dict[str, bytes]:
    out = {}
    w2v2 = {"architecture": "wav2vec2", "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4}
    none = {"prompt_tokens": 0, "adapter_bottleneck": 0}
    tdnn = [(8, 5), (8, 3), (8, 3), (8, 1), (12, 1)]
    t = [tensor("head.projector.weight", [8, 16]), tensor("head.projector.bias", [8])]
    inner = 8
    for i, (out_dim, k) in enumerate(tdnn):
        t += [tensor(f"head.tdnn.{i}.kernel.weight", [out_dim, k * inner], "F16"), tensor(f"head.tdnn.{i}.kernel.bias", [out_dim])]
        inner = out_dim
    t += [tensor("head.feature_extractor.weight", [6, 2 * inner], "F16"), tensor("head.feature_extractor.bias", [6]),
          tensor("head.classifier.weight", [6, 6], "F16"), tensor("head.classifier.bias", [6])]
    out["w2v2-xvector.ipet"] = pack(
        w2v2, none, {"type": "w2v2-xvector", "tdnn_kernel": [5, 3, 3, 1, 1], "tdnn_dilation": [1, 2, 3, 1, 1],
                     "embedding_dim": 6},
        {"sampling_rate": 16000, "do_normalize": True, "crop_samples": 48000, "segments": 2}, t)

    seqcls = {**w2v2, "num_hidden_layers": 3}
    t = [tensor("head.layer_weights", [4]), tensor("head.projector.weight", [8, 16]), tensor("head.projector.bias", [8]),
         tensor("head.classifier.weight", [3, 8]), tensor("head.classifier.bias", [3])]
    out["w2v2-seqcls-wls.ipet"] = pack(
        seqcls, {**none, "adapter_scale": 0.5}, {"type": "w2v2-sequence-classification", "labels": ["a", "b", "c"]},
        {"sampling_rate": 8000, "do_normalize": False, "crop_samples": None}, t)

    ast = {"architecture": "audio-spectrogram-transformer", "hidden_size": 16, "num_hidden_layers": 1,
           "num_attention_heads": 2, "name": "seed"}
    t = [tensor("prompts.0", [2, 16]), tensor("head.layernorm.weight", [16]), tensor("head.layernorm.bias", [16]),
         tensor("head.dense.weight", [2, 16], "F16"), tensor("head.dense.bias", [2]),
         tensor("override.audio_spectrogram_transformer.layernorm.weight", [16])]
    out["ast-v1.0-override.ipet"] = pack(
        ast, {"prompt_tokens": 2, "adapter_bottleneck": 0, "prompt_placement": "prepend-every-layer"},
        {"type": "ast-classification", "labels": ["yes", "no"], "multi_label": True, "layer_norm_eps": 1e-6},
        {"sampling_rate": 16000, "num_mel_bins": 32, "max_length": 64, "mean": -4.5, "std": 4.0, "do_normalize": True},
        t, version="1.0", provenance={"tool": "make_fuzz_seeds.py", "epochs": 0})

    t = [tensor("adapters.0.down.weight", [4, 16], "BF16"), tensor("adapters.0.down.bias", [4], "BF16"),
         tensor("adapters.0.up.weight", [16, 4], "BF16"), tensor("adapters.0.up.bias", [16], "BF16"),
         tensor("head.embedding.weight", [8, 16], "BF16"), tensor("head.embedding.bias", [8], "BF16")]
    out["ast-speaker-embedding.ipet"] = pack(
        ast, {"prompt_tokens": 0, "adapter_bottleneck": 4, "adapter_scale": 0.25, "adapter_residual": False},
        {"type": "speaker", "pooling": "ast-pooled", "embedding_dim": 8},
        {"sampling_rate": 16000, "max_length": 32, "num_mel_bins": 16, "segments": 3}, t)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# audio


def chunk(tag: bytes, body: bytes, size: int | None = None, big: bool = False) -> bytes:
    n = len(body) if size is None else size
    return tag + struct.pack(">I" if big else "<I", n) + body + (b"\0" if len(body) % 2 else b"")


def riff(chunks: bytes, big: bool = False) -> bytes:
    return (b"RIFX" if big else b"RIFF") + struct.pack(">I" if big else "<I", 4 + len(chunks)) + b"WAVE" + chunks


def fmt(tag: int, channels: int, rate: int, bits: int, big: bool = False, extra: bytes = b"") -> bytes:
    align = channels * bits // 8
    e = ">" if big else "<"
    body = struct.pack(e + "HHIIHH", tag, channels, rate, rate * align, align, bits)
    if extra:
        body += struct.pack(e + "H", len(extra)) + extra
    return chunk(b"fmt ", body, big=big)


def pcm16(frames: int, channels: int = 1, big: bool = False) -> bytes:
    xs = [int(12000 * math.sin(i * 0.2 + c)) for i in range(frames) for c in range(channels)]
    return struct.pack((">" if big else "<") + f"{len(xs)}h", *xs)


def audio() -> dict[str, bytes]:
    out = {}
    floats = [math.sin(i * 0.1) * (0.5 if c == 0 else -0.25) for i in range(64) for c in range(2)]
    out["float32-stereo-fact.wav"] = riff(
        fmt(3, 2, 16000, 32) + chunk(b"fact", struct.pack("<I", 64)) + chunk(b"data", struct.pack(f"<{len(floats)}f", *floats)))
    out["rifx-16bit.wav"] = riff(fmt(1, 1, 16000, 16, big=True) + chunk(b"data", pcm16(40, big=True), big=True), big=True)
    out["list-odd-before-data.wav"] = riff(
        fmt(1, 1, 8000, 16) + chunk(b"LIST", b"INFOISFT\x05\0\0\0seed\0") + chunk(b"data", pcm16(48)))
    out["data-claims-more.wav"] = riff(fmt(1, 1, 16000, 16) + b"data" + struct.pack("<I", 1000) + pcm16(50))
    out["data-size-unknown.wav"] = riff(fmt(1, 1, 16000, 16) + b"data" + struct.pack("<I", 0xFFFFFFFF) + pcm16(30))
    guid = struct.pack("<IHH", 1, 0, 0x10) + bytes([0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71])  # KSDATAFORMAT_SUBTYPE_PCM
    samples24 = b"".join(struct.pack("<i", int(3_000_000 * math.sin(i * 0.3)))[:3] for i in range(2 * 32))
    out["extensible-24bit.wav"] = riff(
        fmt(0xFFFE, 2, 48000, 24, extra=struct.pack("<HI", 24, 3) + guid) + chunk(b"data", samples24))
    out["unsigned-8bit.wav"] = riff(fmt(1, 1, 11025, 8) + chunk(b"data", bytes((128 + int(100 * math.sin(i * 0.5))) & 0xFF for i in range(61))))
    # AIFF: COMM (channels, frames, bits, 80-bit extended rate 16000) and SSND (offset, block size, big-endian PCM).
    rate = b"\x40\x0C\xFA\x00\x00\x00\x00\x00\x00\x00"  # 16000.0 as an IEEE 754 extended
    comm = chunk(b"COMM", struct.pack(">hIh", 1, 40, 16) + rate, big=True)
    ssnd = chunk(b"SSND", struct.pack(">II", 0, 0) + pcm16(40, big=True), big=True)
    body = b"AIFF" + comm + ssnd
    out["pcm16.aiff"] = b"FORM" + struct.pack(">I", len(body)) + body
    return out


# ---------------------------------------------------------------------------------------------------------------------


def bare_header(pack_bytes: bytes) -> bytes:
    n = struct.unpack("<Q", pack_bytes[:8])[0]
    return pack_bytes[8:8 + n] + b"\0" + pack_bytes[8 + n:8 + n + 64]


def headers(seed_packs: dict[str, bytes]) -> dict[str, bytes]:
    sources = dict(seed_packs)
    for path in sorted([*(ROOT / "Fixtures" / "packs").glob("*.ipet"), *(ROOT / "Fixtures" / "demo").glob("*/*.ipet")]):
        if path.stat().st_size < 100_000:
            sources[path.name] = path.read_bytes()
    return {name.removesuffix(".ipet") + ".ipet-header": bare_header(data) for name, data in sources.items()}


def write_all(root: Path) -> list[Path]:
    written = []
    seed_packs = packs()
    for folder, files in (("pack", {**seed_packs, **headers(seed_packs)}), ("audio", audio())):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            assert len(data) < 100_000, name
            (root / folder / name).write_bytes(data)
            written.append(Path(folder) / name)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate into a temporary folder and compare")
    args = parser.parse_args()
    if not args.check:
        for p in write_all(SEEDS):
            print(f"wrote tools/fuzz-seeds/{p}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        different = [p for p in write_all(Path(tmp))
                     if not (SEEDS / p).exists() or not filecmp.cmp(Path(tmp) / p, SEEDS / p, shallow=False)]
    for p in different:
        print(f"differs: tools/fuzz-seeds/{p}")
    print("fuzz seeds: " + ("byte-identical" if not different else f"{len(different)} file(s) differ"))
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
