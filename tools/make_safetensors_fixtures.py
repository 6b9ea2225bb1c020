#!/usr/bin/env python3
"""Writes the safetensors reader/writer fixtures under Fixtures/safetensors/ (Formats/safetensors.md).

Run from anywhere with the tools venv:

    .venv-tools/bin/python tools/make_safetensors_fixtures.py
    .venv-tools/bin/python tools/make_safetensors_fixtures.py --check    # regenerate into a temp dir, compare bytes

Outputs (and nothing else):
  Fixtures/safetensors/python/dtypes.safetensors         written by the Python `safetensors` package
  Fixtures/safetensors/python/dtypes.json                tensors, values (widened to float32) and metadata
  Fixtures/safetensors/python/writer-expected.safetensors  reference writer output for a fixed tensor set
  Fixtures/safetensors/python/writer-expected.json       the same tensor set, so a test can rebuild it byte-exactly
  Fixtures/safetensors/malformed/NN-*.safetensors        hand-built invalid files (struct.pack, never the package)
  Fixtures/safetensors/malformed/expected.json           filename -> keyword the Swift error must contain
  Fixtures/safetensors/valid-edge/NN-*.safetensors       hand-built valid edge cases the reader must accept
  Fixtures/safetensors/valid-edge/expected.json          filename -> tensors/metadata the reader must report

Everything is deterministic: the values are fixed or drawn from a seeded generator, the malformed and
valid-edge files are assembled byte by byte, and the Python writer's one source of nondeterminism (the Rust
HashMap order of `__metadata__` keys) is removed by re-serialising until the keys come out sorted.
Each malformed/valid file is also loaded with the Python package; whether it rejects the file is recorded
(`python_rejects` / `python_accepts`) and checked against the expectation written below.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import save as torch_save

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import (  # noqa: E402
    FIXTURES, SAFETENSORS_DTYPES, fixture_main, le_bytes, rel, seed_everything, torch_dtype_names, write_json,
)

OUT = FIXTURES / "safetensors"

SEED = 20240611

# ----------------------------------------------------------------------------------------------------------
# helpers


def json_float(x: float):
    """A float for the expected-values JSON: exact double of the value, infinities/NaN as strings."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def tensor_record(name: str, t: torch.Tensor) -> dict:
    """name/dtype/shape/values (float32-widened) plus the raw little-endian bytes as hex."""
    dtype = torch_dtype_names()[t.dtype]
    flat = t.contiguous().reshape(-1)
    rec: dict = {"name": name, "dtype": dtype, "shape": list(t.shape)}
    if dtype in ("I64", "I32"):
        rec["values"] = [int(v) for v in flat.tolist()]
    else:
        # F16/BF16 widen exactly; F64 narrows (round to nearest) as the Swift `floats()` accessor does.
        rec["values"] = [json_float(v) for v in flat.to(torch.float32).tolist()]
        if dtype == "F64":
            rec["values_f64"] = [json_float(v) for v in flat.tolist()]
    rec["data_hex"] = le_bytes(t).hex()
    return rec


def header_of(blob: bytes) -> tuple[int, bytes]:
    n = struct.unpack("<Q", blob[:8])[0]
    return n, blob[8 : 8 + n]


def python_save_sorted_metadata(tensors: dict, metadata: dict) -> bytes:
    """safetensors serialises `__metadata__` from a Rust HashMap, so key order changes from process to process.
    Re-serialise until the keys come out in sorted order, so the committed file is byte-stable across reruns."""
    want = sorted(metadata)
    for _ in range(1000):
        blob = torch_save(tensors, metadata=metadata)
        _, header = header_of(blob)
        got = list(json.loads(header)["__metadata__"].keys())
        if got == want:
            return blob
    raise RuntimeError("could not obtain sorted __metadata__ order from the Python writer")


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_expected(path: Path, obj) -> None:
    """The expected-values JSON: 2-space indent, keys in insertion order, ASCII."""
    write_json(path, obj, sort_keys=False, ensure_ascii=True)


def python_load(path: Path):
    """Loads a file with the Python package. Returns (ok, error text, tensors info, metadata)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata()
            names = list(f.keys())
        # The raw deserializer validates the same way and returns every tensor's bytes, whatever the dtype.
        raw = safetensors.deserialize(path.read_bytes())
        info = {name: (spec["dtype"], list(spec["shape"]), bytes(spec["data"])) for name, spec in raw}
        if set(info) != set(names):
            return False, "safe_open and deserialize disagree on names", None, None
        return True, "", info, metadata
    except Exception as e:  # noqa: BLE001 - any failure means "rejected"
        text = f"{type(e).__name__}: {e}".splitlines()[0]
        return False, text[:200], None, None


def st_file(header: bytes | str, data: bytes = b"", declared: int | None = None) -> bytes:
    """Hand-assembles a safetensors file: u64 LE header length, header bytes, data."""
    if isinstance(header, str):
        header = header.encode("utf-8")
    n = len(header) if declared is None else declared
    return struct.pack("<Q", n) + header + data


def entry(dtype: str, shape, begin: int, end: int) -> str:
    return json.dumps({"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}, separators=(",", ":"))


def f32(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


# ----------------------------------------------------------------------------------------------------------
# (a, b) dtypes.safetensors written by the Python package


def make_dtypes(py_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    f32_matrix = torch.from_numpy(rng.standard_normal((3, 4)).astype(np.float32))
    # 0.1 (rounds), -2.5 (exact), 65504 (largest finite half), 6.0e-5 (rounds to a subnormal half), +inf.
    f16 = torch.tensor([0.1, -2.5, 65504.0, 6.0e-5, float("inf")], dtype=torch.float16)
    bf16 = torch.tensor([[1.0, -0.1, 3.14159265], [1.0e30, -1.0e-30, -float("inf")]], dtype=torch.bfloat16)
    i64 = torch.tensor([-1, 1_099_511_627_899, -5_000_000_000, 9_223_372_036_854_775_807], dtype=torch.int64)
    empty0 = torch.zeros(0, dtype=torch.float32)
    empty20 = torch.zeros(2, 0, dtype=torch.float32)
    scalar = torch.tensor(3.25, dtype=torch.float32)
    f64 = torch.tensor([0.1, -123456.789], dtype=torch.float64)
    i32 = torch.tensor([-2_147_483_648, 0, 2_147_483_647], dtype=torch.int32)

    tensors = {
        "f32.matrix": f32_matrix,
        "f16.specials": f16,
        "bf16.matrix": bf16,
        "i64.values": i64,
        "f32.empty": empty0,
        "f32.empty_2x0": empty20,
        "f32.scalar": scalar,
        "f64.values": f64,
        "i32.values": i32,
    }
    metadata = {"format": "pt", "note": "ipet-swift dtype fixture, written by python safetensors"}
    blob = python_save_sorted_metadata(tensors, metadata)
    path = py_dir / "dtypes.safetensors"
    write(path, blob)

    n, header = header_of(blob)
    parsed = json.loads(header)
    order = [k for k in parsed if k != "__metadata__"]
    records = [tensor_record(name, tensors[name]) for name in order]
    for rec in records:
        rec["data_offsets"] = parsed[rec["name"]]["data_offsets"]
    write_expected(
        py_dir / "dtypes.json",
        {
            "file": "dtypes.safetensors",
            "written_by": f"safetensors {safetensors.__version__} (safetensors.torch.save), torch {torch.__version__}",
            "header_length": n,
            "file_length": len(blob),
            "metadata": parsed["__metadata__"],
            "notes": (
                "tensors are listed in header (= data offset) order. 'values' is the flat row-major content as "
                "float32: F16/BF16 widened exactly, F64 rounded to nearest float32 (exact doubles in "
                "'values_f64'); integers as JSON integers; infinities as the strings \"inf\"/\"-inf\". "
                "'data_hex' is the tensor's raw little-endian bytes."
            ),
            "tensors": records,
        },
    )
    ok, err, _, _ = python_load(path)
    assert ok, err


# ----------------------------------------------------------------------------------------------------------
# (c) writer-expected.safetensors: what the reference writer produces for a fixed tensor set


def make_writer_expected(py_dir: Path) -> None:
    # Values are exactly representable in their dtype, so any correct float32 -> F16/BF16 narrowing agrees.
    tensors = {
        "b.weight": torch.tensor([[0.5, -1.25, 2.0], [3.75, -0.0625, 100.0]], dtype=torch.float32),
        "a.bias": torch.tensor([7, -8, 2_147_483_647], dtype=torch.int32),
        "z": torch.tensor([-3, 1_099_511_627_776], dtype=torch.int64),
        "m": torch.tensor([1.5, -0.25, 65504.0, 2.0 ** -24], dtype=torch.float16),
        "c": torch.tensor([0.5, -3.0, 1.0e10], dtype=torch.bfloat16),
        "a.weight": torch.tensor([1.0, 2.0], dtype=torch.float32),
        "B.upper": torch.tensor([-7.5], dtype=torch.float32),
        "e.empty": torch.zeros(0, dtype=torch.float32),
        "s.scalar": torch.tensor(42.0, dtype=torch.float32),
    }
    metadata = {"format": "pt"}
    blob = torch_save(tensors, metadata=metadata)
    path = py_dir / "writer-expected.safetensors"
    write(path, blob)

    n, header = header_of(blob)
    text = header.decode("utf-8")
    stripped = text.rstrip(" ")
    parsed = json.loads(header)
    file_order = [k for k in parsed if k != "__metadata__"]

    # Check the rule we document against what the package actually did.
    rank = SAFETENSORS_DTYPES
    dtypes = {k: parsed[k]["dtype"] for k in file_order}
    predicted = sorted(file_order, key=lambda k: (-rank.index(dtypes[k]), k.encode("utf-8")))
    assert predicted == file_order, (predicted, file_order)
    cursor = 0
    for k in file_order:
        b, e = parsed[k]["data_offsets"]
        assert b == cursor
        cursor = e
    assert n % 8 == 0 and len(stripped) > n - 8 and set(text[len(stripped):]) <= {" "}
    assert text.startswith('{"__metadata__":{"format":"pt"},')
    assert stripped == json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)

    records = [tensor_record(name, tensors[name]) for name in tensors]  # insertion (unsorted) order
    write_expected(
        py_dir / "writer-expected.json",
        {
            "file": "writer-expected.safetensors",
            "written_by": f"safetensors {safetensors.__version__} (safetensors.torch.save), torch {torch.__version__}",
            "metadata": metadata,
            "header_length": n,
            "header_padding_spaces": n - len(stripped),
            "file_length": len(blob),
            "file_order": file_order,
            "notes": [
                "Order: tensors are sorted by dtype in DESCENDING position of the reference Dtype enum "
                "(BOOL,F4,F6_E2M3,F6_E3M2,U8,I8,F8_E5M2,F8_E4M3,F8_E8M0,F8_E4M3FNUZ,F8_E5M2FNUZ,I16,U16,F16,BF16,"
                "I32,U32,F32,C64,F64,I64,U64), so U64/I64/F64/C64 first, then F32 before U32 before I32, then BF16 "
                "before F16 before U16 before I16, ... ; ties broken by name in byte order ('B.upper' < 'a.weight' < 'b.weight'). "
                "Zero-size tensors take their place in that order with begin == end.",
                "Offsets are contiguous from 0 in that order; data bytes follow in the same order, no padding "
                "between tensors.",
                "Header: compact JSON (no spaces), '__metadata__' first, then tensors in offset order; each entry "
                "is {\"dtype\",\"shape\",\"data_offsets\"} in that key order. The header is padded with 0x20 to the "
                "next multiple of 8 (no padding when already a multiple of 8); the u64 length includes the padding. "
                "An empty dict is written as '{}' + 6 spaces.",
                "Python quirks: metadata={} is written as '\"__metadata__\":{}' (an empty object), while metadata=None "
                "omits the key. With more than one metadata key the key order is random per process (Rust "
                "HashMap), so only single-key metadata can be compared byte-for-byte.",
                "'tensors' below is in insertion order (deliberately unsorted); 'values' are exactly representable "
                "in their dtype; 'data_hex' is the raw little-endian tensor bytes.",
            ],
            "tensors": records,
        },
    )
    ok, err, _, _ = python_load(path)
    assert ok, err


# ----------------------------------------------------------------------------------------------------------
# (d) malformed files. Each: (name, bytes, keyword in the Swift message, python expected to reject?, why)

E4 = entry("F32", [1], 0, 4)  # one F32 element at [0, 4)
ONE = f32(1.0)


def malformed_cases() -> list[tuple[str, bytes, str, bool, str]]:
    cases: list[tuple[str, bytes, str, bool, str]] = []

    def add(name, blob, keyword, py_rejects, why):
        cases.append((name, blob, keyword, py_rejects, why))

    ok_header = '{"a":' + E4 + "}"

    # --- file / header length
    add("empty-file", b"", "0 bytes", True, "0-byte file: no room for the u64 header length")
    add("seven-bytes", b"\x02\x00\x00\x00\x00\x00\x00", "too small", True, "7 bytes: one short of the u64 length")
    add("header-length-past-eof", st_file("{}", declared=100), "runs past the end", True,
        "declares a 100-byte header but only 2 header bytes follow")
    add("header-length-one-past-eof", st_file(ok_header, ONE, declared=len(ok_header) + 5), "runs past the end", True,
        "declared header length is one byte more than the rest of the file")
    add("header-length-200mb", st_file("{}", declared=200_000_000), "exceeds the 100 MB limit", True,
        "declares a 200,000,000-byte header in a 10-byte file")
    add("header-length-100mb-plus-one", st_file("{}", declared=100_000_001), "exceeds the 100 MB limit", True,
        "declares 100,000,001 bytes: one over the decimal 100 MB limit")
    add("header-length-u64-max", st_file("{}", declared=2**64 - 1), "exceeds the 100 MB limit", True,
        "header length 2^64-1 (8 + N overflows u64)")
    add("header-length-zero", st_file(b"", b""), "not valid JSON", True,
        "8-byte file with header length 0: an empty header is not JSON")

    # --- encoding / JSON syntax
    add("invalid-utf8-header", st_file(b'{"a\xff":' + E4.encode() + b"}", ONE), "not valid UTF-8", True,
        "tensor name contains the byte 0xFF")
    add("utf8-encoded-surrogate", st_file(b'{"a\xed\xa0\x80":' + E4.encode() + b"}", ONE), "not valid UTF-8", True,
        "tensor name contains ED A0 80 (a UTF-16 surrogate encoded as UTF-8, invalid UTF-8)")
    add("utf8-bom-before-json", st_file(b"\xef\xbb\xbf" + ok_header.encode(), ONE), "not valid JSON", True,
        "header starts with a UTF-8 byte-order mark; a BOM is not JSON whitespace")
    add("header-json-array", st_file("[]"), "not a JSON object", True, "header is the JSON array []")
    add("header-json-string", st_file('"hello"'), "not a JSON object", True, "header is a JSON string")
    add("truncated-json", st_file('{"a":' + E4, ONE), "not valid JSON", True, "header JSON lacks its closing brace")
    add("json-nul-padding", st_file(ok_header.encode() + b"\x00\x00\x00", ONE), "not valid JSON", True,
        "valid JSON followed by NUL padding inside the header (only whitespace may follow)")
    add("trailing-garbage-after-json", st_file(ok_header + "xyz", ONE), "not valid JSON", True,
        "valid JSON followed by 'xyz' inside the header")
    add("deeply-nested-json", st_file("[" * 100_000), "nested deeper", True,
        "header is 100000 '[' characters: must fail on the depth limit, not overflow the stack")
    add("lone-surrogate-escape", st_file('{"a\\ud800":' + E4 + "}", ONE), "not valid JSON", True,
        "tensor name contains the escape \\ud800 without a low surrogate")

    # --- dtype
    add("unknown-dtype-F33", st_file('{"a":' + entry("F33", [1], 0, 4) + "}", ONE), "unknown dtype", True,
        "dtype F33 does not exist")
    add("lowercase-dtype-f32", st_file('{"a":' + entry("f32", [1], 0, 4) + "}", ONE), "unknown dtype", True,
        "dtype strings are case-sensitive: f32 is not F32")
    add("dtype-not-string", st_file('{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}', ONE),
        'non-string "dtype"', True, "dtype is the number 32")
    add("missing-dtype", st_file('{"a":{"shape":[1],"data_offsets":[0,4]}}', ONE), 'non-string "dtype"', True,
        "tensor entry has no dtype")
    add("subbyte-dtype-F4", st_file('{"a":' + entry("F4", [3], 0, 2) + "}", b"\x00\x00"), "sub-byte", True,
        "F4 x 3 = 12 bits: not a whole number of bytes (the reference also rejects: MisalignedSlice)")
    add("subbyte-dtype-F4-whole-bytes", st_file('{"a":' + entry("F4", [2], 0, 1) + "}", b"\x00"), "sub-byte", False,
        "F4 x 2 = 1 byte: VALID for the reference reader, rejected by ours because we do not read sub-byte dtypes")

    # --- shape
    add("negative-shape-dim", st_file('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', ONE),
        "shape dimensions must be non-negative integers", True, "shape [-1]")
    add("fractional-shape-dim", st_file('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', ONE),
        "shape dimensions must be non-negative integers", True, "shape [1.5]")
    add("exponent-shape-dim", st_file('{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}', ONE),
        "shape dimensions must be non-negative integers", True, "shape [1e0]: a JSON number that is not an integer literal")
    add("string-shape-dim", st_file('{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}', ONE),
        "shape dimensions must be non-negative integers", True, 'shape ["1"]')
    add("missing-shape", st_file('{"a":{"dtype":"F32","data_offsets":[0,4]}}', ONE), 'non-array "shape"', True,
        "tensor entry has no shape")
    add("shape-product-overflows-u64", st_file('{"a":' + entry("F32", [2**32, 2**32], 0, 4) + "}", ONE),
        "shape size overflows", True, "shape [2^32, 2^32]: element count 2^64 overflows u64")
    add("shape-bits-overflow-u64", st_file('{"a":' + entry("F32", [2**62], 0, 4) + "}", ONE),
        "shape size overflows", True, "shape [2^62] F32: 2^62 elements x 32 bits overflows u64")

    # --- data_offsets
    add("data-offsets-three-elements", st_file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', ONE),
        '"data_offsets" must be an array of two integers', True, "data_offsets [0,4,8]")
    add("missing-data-offsets", st_file('{"a":{"dtype":"F32","shape":[1]}}', ONE),
        '"data_offsets" must be an array of two integers', True, "tensor entry has no data_offsets")
    add("negative-data-offset", st_file('{"a":{"dtype":"F32","shape":[0],"data_offsets":[-4,-4]}}'),
        '"data_offsets" must be non-negative integers', True, "data_offsets [-4,-4]")
    add("data-offset-exceeds-u64", st_file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}', ONE),
        '"data_offsets" must be non-negative integers', True, "data_offsets end is 2^64, outside u64")
    add("data-offsets-end-before-begin", st_file('{"a":' + entry("F32", [1], 4, 0) + "}", ONE),
        "is before begin", True, "data_offsets [4,0]")
    add("shape-offset-size-mismatch", st_file('{"a":' + entry("F32", [2], 0, 4) + "}", ONE),
        "data_offsets span", True, "F32 shape [2] needs 8 bytes but data_offsets [0,4] span 4")
    add("empty-shape-nonempty-span", st_file('{"a":' + entry("F32", [0], 0, 4) + "}", ONE),
        "data_offsets span", True, "F32 shape [0] needs 0 bytes but data_offsets [0,4] span 4")
    add("overlapping-offsets",
        st_file('{"a":' + entry("F32", [2], 0, 8) + ',"b":' + entry("F32", [2], 4, 12) + "}", f32(1, 2, 3)),
        "overlaps", True, "a=[0,8) and b=[4,12) share bytes 4..8")
    add("gap-between-tensors",
        st_file('{"a":' + entry("F32", [1], 0, 4) + ',"b":' + entry("F32", [1], 8, 12) + "}", f32(1, 2, 3)),
        "gap before", True, "bytes 4..8 belong to no tensor")
    add("offsets-not-starting-at-zero", st_file('{"a":' + entry("F32", [1], 4, 8) + "}", f32(1, 2)),
        "gap before", True, "the only tensor starts at 4: bytes 0..4 belong to no tensor")
    add("tensor-claims-2pow60-bytes", st_file('{"a":' + entry("F32", [2**58], 0, 2**60) + "}", ONE),
        "invalid data_offsets", True, "shape [2^58] F32 with data_offsets [0, 2^60] in a file with 4 data bytes")

    # --- file length vs data
    add("trailing-bytes-after-data", st_file(ok_header, f32(1, 2)), "but the header describes", True,
        "4 extra bytes after the last tensor (polyglot-file guard)")
    add("truncated-data", st_file('{"a":' + entry("F32", [4], 0, 16) + "}", f32(1, 2) + b"\x00\x00"),
        "but the header describes", True, "declares 16 data bytes, file has 10")

    # --- duplicates
    add("duplicate-tensor-same-offsets", st_file('{"a":' + E4 + ',"a":' + E4 + "}", ONE), "duplicate key", False,
        "tensor a appears twice with identical entries")
    add("duplicate-tensor-different-offsets",
        st_file('{"a":' + entry("F32", [1], 0, 4) + ',"a":' + entry("F32", [1], 4, 8) + "}", f32(1, 2)),
        "duplicate key", True, "tensor a appears twice, at [0,4) and [4,8)")
    add("duplicate-metadata",
        st_file('{"__metadata__":{"format":"pt"},"__metadata__":{"format":"pt"},"a":' + E4 + "}", ONE),
        "duplicate key", True, "two __metadata__ members")
    add("duplicate-metadata-key",
        st_file('{"__metadata__":{"format":"pt","format":"tf"},"a":' + E4 + "}", ONE),
        "duplicate key", False, "__metadata__ has the key format twice")
    add("duplicate-field-in-entry",
        st_file('{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', ONE),
        "duplicate key", True, "a tensor entry has dtype twice")

    # --- __metadata__
    add("metadata-value-number", st_file('{"__metadata__":{"format":1},"a":' + E4 + "}", ONE), "not a string", True,
        "__metadata__ value is the number 1")
    add("metadata-value-object", st_file('{"__metadata__":{"format":{"x":"pt"}},"a":' + E4 + "}", ONE),
        "not a string", True, "__metadata__ value is an object")
    add("metadata-is-array", st_file('{"__metadata__":["pt"],"a":' + E4 + "}", ONE), "invalid __metadata__", True,
        "__metadata__ is an array")
    add("metadata-is-bool", st_file('{"__metadata__":true,"a":' + E4 + "}", ONE), "invalid __metadata__", True,
        "__metadata__ is the boolean true")
    add("tensor-named-metadata", st_file('{"__metadata__":' + E4 + "}", ONE), "reserved", True,
        "a tensor entry stored under the reserved name __metadata__ (what a naive writer produces)")

    # --- entry shape
    add("tensor-entry-not-object", st_file('{"a":5}'), "invalid tensor entry: not an object", True,
        "tensor entry is the number 5")

    # --- added later: appended so that existing file numbers stay stable
    add("deeply-nested-unknown-field",
        st_file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":' + "[" * 10_000 + "]" * 10_000 + "}}", ONE),
        "nested deeper", True,
        "an ignored extra field holds 10000 nested arrays (well-formed); serde stops at its recursion limit of 128")
    return cases


def write_cases(folder: Path, cases: list[tuple], record: Callable[[str, tuple, tuple, list], dict]) -> None:
    """Writes case i as `{i:02d}-{name}.safetensors` into `folder` (case = (name, bytes, ...)), loads it with the
    Python package, removes stale numbered files and writes expected.json: file name -> record(file name, case,
    python_load result, problems list). Stops if the package did not behave as a case expects."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict = {}
    problems: list[str] = []
    for i, case in enumerate(cases, start=1):
        fname = f"{i:02d}-{case[0]}.safetensors"
        write(folder / fname, case[1])
        expected[fname] = record(fname, case, python_load(folder / fname), problems)
    for stale in folder.glob("*.safetensors"):
        if stale.name not in expected:
            stale.unlink()
    write_expected(folder / "expected.json", expected)
    if problems:
        raise SystemExit("unexpected Python behaviour:\n  " + "\n  ".join(problems))


def malformed_record(fname: str, case: tuple, loaded: tuple, problems: list) -> dict:
    _, _, keyword, py_rejects_expected, why = case
    ok, err, _, _ = loaded
    rejects = not ok
    if rejects != py_rejects_expected:
        problems.append(f"{fname}: expected python_rejects={py_rejects_expected}, got {rejects} ({err})")
    rec = {"keyword": keyword, "python_rejects": rejects, "description": why}
    if rejects:
        rec["python_error"] = err
    return rec


# ----------------------------------------------------------------------------------------------------------
# valid edge files (hand-built) the reader must accept


def valid_edge_cases():
    """(name, bytes, tensors [(name, dtype, shape, values|None)], metadata dict|None, description)."""
    cases = []

    def add(name, blob, tensors, metadata, why, python_accepts=True):
        cases.append((name, blob, tensors, metadata, why, python_accepts))

    a = '{"a":' + entry("F32", [2], 0, 8) + "}"
    add("empty-header", st_file("{}"), [], None, "header {} and no data bytes (10-byte file)")
    add("empty-header-space-padded", st_file("{}      "), [], None,
        "header {} padded with 6 spaces, exactly as the Python writer emits an empty dict")
    add("leading-whitespace", st_file(" \t\r\n" + a, f32(1.5, -2)), [("a", "F32", [2], [1.5, -2.0])], None,
        "header starts with space, tab, CR, LF before '{'")
    add("trailing-space-padding", st_file(a + " " * 13, f32(1.5, -2)), [("a", "F32", [2], [1.5, -2.0])], None,
        "header followed by 13 spaces of padding (odd header length, so the data is unaligned)")
    add("trailing-mixed-whitespace", st_file(a + "\n\t \r", f32(1.5, -2)), [("a", "F32", [2], [1.5, -2.0])], None,
        "header followed by LF, TAB, space, CR")
    add("metadata-only", st_file('{"__metadata__":{"format":"pt","empty":""}}'), [], {"format": "pt", "empty": ""},
        "only __metadata__ (two keys, one with an empty value), no tensors, no data")
    add("unknown-extra-field",
        st_file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":[1,{"x":null}],"z":true}}',
                f32(0.25, 8)),
        [("a", "F32", [2], [0.25, 8.0])], None, "tensor entry carries unknown fields, which are ignored")
    add("entries-out-of-offset-order",
        st_file('{"b":' + entry("F32", [1], 4, 8) + ',"a":' + entry("I32", [1], 0, 4) + "}",
                struct.pack("<i", -9) + f32(6.5)),
        [("b", "F32", [1], [6.5]), ("a", "I32", [1], [-9])], None,
        "header lists b=[4,8) before a=[0,4); tensors keep header order")
    add("zero-size-tensors-sharing-offsets",
        st_file('{"a":' + entry("F32", [1], 0, 4) + ',"e1":' + entry("F32", [0], 4, 4) + ',"e2":'
                + entry("I64", [3, 0], 4, 4) + ',"b":' + entry("F32", [1], 4, 8) + ',"e3":' + entry("F16", [0], 8, 8)
                + "}", f32(1, 2)),
        [("a", "F32", [1], [1.0]), ("e1", "F32", [0], []), ("e2", "I64", [3, 0], []), ("b", "F32", [1], [2.0]),
         ("e3", "F16", [0], [])], None,
        "zero-size tensors at offsets 4 and 8, two of them with identical [4,4) ranges")
    add("unicode-and-escaped-names",
        st_file('{"caf\\u00e9":' + entry("F32", [1], 0, 4) + ',"na\u00efve/\u97f3":' + entry("F32", [1], 4, 8)
                + ',"a\\/b\\"q\\\\":' + entry("F32", [1], 8, 12) + "}", f32(1, 2, 3)),
        [("caf\u00e9", "F32", [1], [1.0]), ("na\u00efve/\u97f3", "F32", [1], [2.0]), ('a/b"q\\', "F32", [1], [3.0])],
        None, "names with a \\u escape, raw multi-byte UTF-8, and \\/ \\\" \\\\ escapes")
    all_dtypes = [("BOOL", 1), ("U8", 1), ("I8", 1), ("F8_E5M2", 1), ("F8_E4M3", 1), ("F8_E8M0", 1),
                  ("F8_E4M3FNUZ", 1), ("F8_E5M2FNUZ", 1), ("I16", 2), ("U16", 2), ("F16", 2), ("BF16", 2),
                  ("I32", 4), ("U32", 4), ("F32", 4), ("C64", 8), ("F64", 8), ("I64", 8), ("U64", 8)]
    parts, data, off, tensors = [], b"", 0, []
    for dt, width in all_dtypes:
        n = 2
        chunk = bytes((off + k) % 251 for k in range(n * width))
        if dt == "BOOL":
            chunk = b"\x01\x00"
        parts.append(f'"{dt.lower()}":' + entry(dt, [n], off, off + n * width))
        tensors.append((dt.lower(), dt, [n], None))
        data += chunk
        off += n * width
    add("every-byte-dtype", st_file("{" + ",".join(parts) + "}", data), tensors, None,
        "one 2-element tensor of every byte-sized dtype (values not checked)")
    add("unaligned-tensors",
        st_file('{"x":' + entry("I16", [1], 0, 2) + ',"y":' + entry("F64", [1], 2, 10) + ',"z":'
                + entry("F32", [2], 10, 18) + "}", struct.pack("<hd2f", -2, 0.5, 1.25, -3)),
        [("x", "I16", [1], [-2]), ("y", "F64", [1], [0.5]), ("z", "F32", [2], [1.25, -3.0])], None,
        "odd header length and tensors at offsets 2 and 10: every load is unaligned")
    add("scalar-and-large-dims",
        st_file('{"s":' + entry("F32", [], 0, 4) + ',"w":' + entry("F32", [1, 1, 1, 1, 1, 1, 1, 1], 4, 8) + "}",
                f32(-0.5, 9)),
        [("s", "F32", [], [-0.5]), ("w", "F32", [1, 1, 1, 1, 1, 1, 1, 1], [9.0])], None,
        "a scalar (shape []) and an 8-dimensional tensor")
    # appended later so that existing file numbers stay stable
    add("metadata-after-tensors",
        st_file('{"a":' + entry("F32", [1], 0, 4) + ',"__metadata__":{"format":"pt","k":"line\\nbreak \\u00e9 \\"q\\""}}',
                f32(0.75)),
        [("a", "F32", [1], [0.75])], {"format": "pt", "k": 'line\nbreak \u00e9 "q"'},
        "__metadata__ after the tensor entries, with escaped characters in a value")
    add("metadata-null", st_file('{"__metadata__":null,"a":' + entry("F32", [1], 0, 4) + "}", f32(0.5)),
        [("a", "F32", [1], [0.5])], None, "__metadata__ is null, which the reference reads as no metadata")
    return cases


def valid_edge_record(fname: str, case: tuple, loaded: tuple, problems: list) -> dict:
    """Flat map filename -> record. Tensors are in header order; 'values' (when present) are flat row-major,
    float32 for float dtypes and integers for integer dtypes."""
    _, _, tensors, metadata, why, py_accepts_expected = case
    ok, err, info, py_meta = loaded
    if ok != py_accepts_expected:
        problems.append(f"{fname}: expected python_accepts={py_accepts_expected}, got {ok} ({err})")
    if ok:
        got = {k: (v[0], v[1]) for k, v in info.items()}
        want = {t[0] for t in tensors}
        for tname, dt, shape, _ in tensors:
            if tname not in got or got[tname][1] != shape:
                problems.append(f"{fname}: python sees {got}, expected {tname} {shape}")
        if set(got) != set(want):
            problems.append(f"{fname}: python names {sorted(got)} != {sorted(want)}")
        if (py_meta or None) != (metadata or None):
            problems.append(f"{fname}: python metadata {py_meta} != {metadata}")
    recs = []
    for tname, dt, shape, values in tensors:
        rec = {"name": tname, "dtype": dt, "shape": shape}
        if values is not None:
            rec["values"] = values
        recs.append(rec)
    rec = {"tensors": recs, "metadata": metadata or {}, "python_accepts": ok, "description": why}
    if not ok:
        rec["python_error"] = err
    return rec


def main() -> None:
    fixture_main(__doc__, OUT, build)


def build(out: Path) -> int:
    seed_everything(SEED)
    make_dtypes(out / "python")
    make_writer_expected(out / "python")
    write_cases(out / "malformed", malformed_cases(), malformed_record)
    write_cases(out / "valid-edge", valid_edge_cases(), valid_edge_record)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote fixtures under {rel(out)} ({total} bytes)")
    if total >= 200_000:
        raise SystemExit(f"fixtures total {total} bytes, over the 200 KB budget")
    return 0


if __name__ == "__main__":
    main()
