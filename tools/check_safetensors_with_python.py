#!/usr/bin/env python3
"""Loads every *.safetensors in a directory with the Python `safetensors` package (the reference reader).

    .venv-tools/bin/python tools/check_safetensors_with_python.py DIR [--quiet]

For each file prints the metadata and every tensor's name, dtype and shape (header order). A file is loaded
twice: with `safe_open(framework="pt")`, reading every tensor as a torch tensor, and with
`safetensors.deserialize` (raw bytes, any dtype), and both must agree.

If `NAME.json` sits beside `NAME.safetensors`, it is compared against the file. Schema (as written by
tools/make_safetensors_fixtures.py for Fixtures/safetensors/python/dtypes.json):

    {"metadata": {...},                        # optional: must equal the file's __metadata__ exactly
     "tensors": [{"name", "dtype", "shape",    # required per tensor
                  "values": [...],             # optional: flat row-major; floats compared as float32
                                               #   ("inf"/"-inf"/"nan" strings allowed), ints exactly
                  "data_hex": "..."}]}         # optional: the raw little-endian bytes
     "file_order": [...]                       # optional: tensor names in header/offset order

The file must contain exactly the listed tensors. Exit status 1 if any file fails to load or to match, 2 on
usage errors. This is for checking files the Swift writer produces.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import safetensors
import torch
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import SAFETENSORS_ELEMENT_BYTES, le_array, safetensors_header, torch_dtype_names  # noqa: E402

# deserialize() reports header spellings (safetensors 0.8.0); map long names too, in case a version differs.
RAW_DTYPE_NAMES = {
    "float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64", "int64": "I64", "int32": "I32",
    "int16": "I16", "int8": "I8", "uint8": "U8", "uint16": "U16", "uint32": "U32", "uint64": "U64",
    "bool": "BOOL", "complex64": "C64", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
}


def header_info(path: Path) -> tuple[list[str], dict]:
    """Tensor names in header order, and the parsed header (our own look, only for display/ordering)."""
    _, header = safetensors_header(path.read_bytes())
    return [k for k in header if k != "__metadata__"], header


def decode_values(dtype: str, data: bytes) -> list:
    """Flat values from raw little-endian bytes: floats as float32 (F16/BF16 widened, F64 rounded), integers as
    ints."""
    if dtype == "C64":
        raise ValueError(f"no value decoding for dtype {dtype}")
    values = le_array(dtype, data)  # ValueError for the dtypes without a layout
    if values.dtype.kind == "f":
        return values.astype(np.float32).astype(np.float64).tolist()
    return [int(v) for v in values]


def as_float32(v) -> float:
    if isinstance(v, str):
        return {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}[v]
    return float(np.float32(v))


def same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def compare(path: Path, expected: dict, raw: dict, metadata: dict | None, order: list[str]) -> list[str]:
    problems = []
    if "metadata" in expected and (metadata or {}) != expected["metadata"]:
        problems.append(f"metadata {metadata} != expected {expected['metadata']}")
    if "file_order" in expected and order != expected["file_order"]:
        problems.append(f"header order {order} != expected {expected['file_order']}")
    want_names = [t["name"] for t in expected.get("tensors", [])]
    if sorted(want_names) != sorted(raw):
        problems.append(f"tensor names {sorted(raw)} != expected {sorted(want_names)}")
    for t in expected.get("tensors", []):
        name = t["name"]
        if name not in raw:
            continue
        dtype, shape, data = raw[name]
        if dtype != t["dtype"]:
            problems.append(f"{name}: dtype {dtype} != expected {t['dtype']}")
            continue
        if shape != list(t["shape"]):
            problems.append(f"{name}: shape {shape} != expected {t['shape']}")
        if "data_hex" in t and data.hex() != t["data_hex"]:
            problems.append(f"{name}: bytes {data.hex()} != expected {t['data_hex']}")
        if "values" in t:
            try:
                got = decode_values(dtype, data)
            except ValueError as e:
                problems.append(f"{name}: {e}")
                continue
            want = t["values"]
            if len(got) != len(want):
                problems.append(f"{name}: {len(got)} values, expected {len(want)}")
                continue
            for i, (g, w) in enumerate(zip(got, want)):
                if isinstance(g, int):
                    ok = isinstance(w, int) and g == w
                else:
                    ok = same_float(g, as_float32(w))
                if not ok:
                    problems.append(f"{name}[{i}]: {g!r} != expected {w!r}")
                    break
    return problems


def check_file(path: Path, quiet: bool) -> bool:
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata()
            names = list(f.keys())
            loaded = {}
            for name in names:
                try:
                    tensor = f.get_tensor(name)
                    loaded[name] = (torch_dtype_names().get(tensor.dtype, str(tensor.dtype)), list(tensor.shape))
                except Exception as e:  # noqa: BLE001 - dtypes torch cannot represent
                    loaded[name] = (f"<torch: {type(e).__name__}>", None)
        raw_list = safetensors.deserialize(path.read_bytes())
    except Exception as e:  # noqa: BLE001
        print(f"FAIL {path.name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        return False

    raw = {}
    for name, spec in raw_list:
        dtype = RAW_DTYPE_NAMES.get(str(spec["dtype"]), str(spec["dtype"]).upper())
        raw[name] = (dtype, list(spec["shape"]), bytes(spec["data"]))
    problems = []
    if sorted(raw) != sorted(names):
        problems.append(f"safe_open names {sorted(names)} != deserialize names {sorted(raw)}")
    for name, (tdtype, tshape) in loaded.items():
        if name in raw and tshape is not None and (tdtype, tshape) != raw[name][:2]:
            problems.append(f"{name}: torch sees {tdtype}{tshape}, raw header {raw[name][0]}{raw[name][1]}")
        if name in raw and raw[name][0] in SAFETENSORS_ELEMENT_BYTES:
            count = math.prod(raw[name][1])
            if len(raw[name][2]) != count * SAFETENSORS_ELEMENT_BYTES[raw[name][0]]:
                problems.append(f"{name}: {len(raw[name][2])} data bytes for {count} elements")

    try:
        order, _ = header_info(path)
    except Exception:  # noqa: BLE001 - the package accepted it; our display parse is best effort
        order = names
    expected_path = path.with_suffix(".json")
    if expected_path.exists():
        try:
            expected = json.loads(expected_path.read_text())
        except json.JSONDecodeError as e:
            expected = None
            problems.append(f"{expected_path.name}: invalid JSON ({e})")
        if isinstance(expected, dict) and "tensors" in expected:
            problems += compare(path, expected, raw, metadata, order)

    status = "ok  " if not problems else "FAIL"
    suffix = f" (checked against {expected_path.name})" if expected_path.exists() else ""
    print(f"{status} {path.name}: {len(raw)} tensors, metadata {metadata}{suffix}")
    if not quiet or problems:
        for name in order:
            if name in raw:
                dtype, shape, data = raw[name]
                print(f"       {name}  {dtype}  {shape}  ({len(data)} bytes)")
    for p in problems:
        print(f"       problem: {p}")
    return not problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--quiet", action="store_true", help="print one line per good file")
    args = parser.parse_args()
    if not args.directory.is_dir():
        print(f"not a directory: {args.directory}", file=sys.stderr)
        return 2
    files = sorted(args.directory.glob("*.safetensors"))
    if not files:
        print(f"no *.safetensors files in {args.directory}", file=sys.stderr)
        return 1
    print(f"safetensors {safetensors.__version__}, torch {torch.__version__}")
    failures = sum(0 if check_file(p, args.quiet) else 1 for p in files)
    print(f"{len(files) - failures}/{len(files)} files loaded" + ("" if not failures else f", {failures} FAILED"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
