#!/usr/bin/env python3
"""Writes the PyTorch checkpoint fixtures under Fixtures/torch/ for the Swift zip + pickle reader.

Run from anywhere with the tools venv (torch 2.13 CPU):

    .venv-tools/bin/python tools/make_torch_fixtures.py
    .venv-tools/bin/python tools/make_torch_fixtures.py --check    # regenerate into a temp dir, compare bytes
                                                                  # (legacy.pt: up to its storage keys)

Outputs (and nothing else):
  Fixtures/torch/pytorch_model.bin      torch.save(state_dict) of Fixtures/ast/tiny-a (names exactly as in its
                                        model.safetensors; an OrderedDict with `_metadata`, like Module.state_dict())
  Fixtures/torch/gn-postln.bin          the same for Fixtures/wav2vec2/gn-postln
  Fixtures/torch/nested.pth             {"model": gn-postln with "module." prefixes (weights as nn.Parameter),
                                         "epoch": 3, "optimizer": {...}, "ema_partial": {2 tensors}}
  Fixtures/torch/gn-postln-f16.pth      gn-postln state dict converted with .half()
  Fixtures/torch/noncontig.pth          strided views saved as they are (transpose, slices, expand, offsets)
  Fixtures/torch/misc.pth               every dtype the reader maps, 0-d and empty tensors, a tensor with a Python
                                        attribute (_rebuild_from_type_v2), a uint16 tensor (_rebuild_tensor_v3 +
                                        UntypedStorage), shared storages, torch.Size, a set, bytes, a dtype value
  Fixtures/torch/protocol4.pth          a small state dict saved with pickle_protocol=4 (STACK_GLOBAL, FRAME, MEMOIZE)
  Fixtures/torch/broadcast-huge.pth     a stride-0 view of 2^60 elements over one stored float (must be refused by size)
  Fixtures/torch/tensors.json           expected name/dtype/shape/strides/offset/values for noncontig, misc, protocol4
  Fixtures/torch/legacy.pt              the pre-1.6 (non-zip) format, which the reader reads (Formats/pytorch.md)
  Fixtures/torch/plain-p0.pkl, -p2, -p5 the same plain Python value pickled with protocols 0, 2 and 5
  Fixtures/torch/malicious/*            pickles and checkpoints that must be refused, never executed
  Fixtures/torch/malicious/expected.json  file name -> text the Swift error must contain (the global or opcode)

Safety: the malicious files are produced by *pickling* objects whose __reduce__ names a dangerous callable (pickling
only records the name) or by writing opcode bytes by hand. Nothing here ever unpickles them; the script checks each
one statically with pickletools.genops. The benign checkpoints are verified with torch.load(weights_only=True).
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import pickletools
import re
import struct
import subprocess
import sys
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import FIXTURES, fixture_main, load_safetensors, torch_dtype_names, write_json  # noqa: E402

OUT = FIXTURES / "torch"
SEED = 20240812


def fixture_tensors(folder: str) -> OrderedDict:
    """Tensors of a fixture's model.safetensors in file order, names untouched."""
    return OrderedDict(load_safetensors(FIXTURES / folder / "model.safetensors", "pt")[0])


def as_state_dict(tensors: OrderedDict) -> OrderedDict:
    """An OrderedDict carrying `_metadata` as nn.Module.state_dict() returns it (pickled via BUILD)."""
    sd = OrderedDict(tensors)
    prefixes = sorted({k.rsplit(".", 1)[0] for k in tensors} | {""})
    sd._metadata = OrderedDict((p, {"version": 1}) for p in prefixes)  # type: ignore[attr-defined]
    return sd


def save(obj, path: Path, **kwargs) -> None:
    """torch.save to a path names the archive's top folder after the file stem (to a buffer: `archive/`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, str(path), **kwargs)


def check_loads(path: Path) -> None:
    """torch.load must read the file; protocol 4 (FRAME) is beyond the weights_only unpickler, and that file was
    written by this script a moment ago from plain tensors, so it is loaded with the full unpickler."""
    if path.name == "protocol4.pth":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.load(path, weights_only=False)
    else:
        torch.load(path, weights_only=True)


def strides(t: torch.Tensor) -> list[int]:
    return list(t.stride())


def tensor_expect(t: torch.Tensor, parameter: bool = False) -> dict:
    dtype = torch_dtype_names()[t.dtype]
    rec = {
        "dtype": dtype,
        "shape": list(t.shape),
        "strides": strides(t),
        "storage_offset": t.storage_offset(),
        "contiguous": t.is_contiguous(),
        "requires_grad": bool(t.requires_grad),
        "parameter": parameter,
    }
    flat = t.detach().contiguous().reshape(-1)
    if t.is_floating_point():
        rec["values"] = [float(v) for v in flat.to(torch.float32).tolist()]  # widened exactly, F64 rounded
    elif t.dtype == torch.uint16:
        rec["values"] = [int(v) for v in flat.to(torch.int32).tolist()]
    else:
        rec["values"] = [int(v) for v in flat.tolist()]
    return rec


# ----------------------------------------------------------------------------------------------------------
# benign checkpoints


def make_benign(out: Path) -> dict:
    expected: dict = {}
    g = torch.Generator().manual_seed(SEED)

    ast = fixture_tensors("ast/tiny-a")
    save(as_state_dict(ast), out / "pytorch_model.bin")
    w2v = fixture_tensors("wav2vec2/gn-postln")
    save(as_state_dict(w2v), out / "gn-postln.bin")

    model = OrderedDict()
    for k, v in w2v.items():
        model["module." + k] = torch.nn.Parameter(v.clone()) if k.endswith("weight") else v.clone()
    first = next(iter(w2v))
    nested = {
        "epoch": 3,
        "model": model,
        "optimizer": {
            "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(4), "exp_avg_sq": torch.ones(4)}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "params": [0]}],
        },
        "ema_partial": {first: w2v[first].clone(), "extra": torch.ones(2)},
        "best_metric": 0.8125,
        "args": {"lr": 1e-3, "name": "gn-postln", "tags": ["a", "b"]},
    }
    save(nested, out / "nested.pth")

    save(as_state_dict(OrderedDict((k, v.half()) for k, v in w2v.items())), out / "gn-postln-f16.pth")

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8
    rows = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    noncontig = OrderedDict(
        [
            ("transposed", rows.t()),
            ("row_view", base[2]),
            ("column_view", base[:, 3]),
            ("step_slice", base[1:, ::2]),
            ("expanded", torch.tensor([1.5, -2.0, 4.25]).expand(2, 3)),
            ("permuted", torch.arange(24, dtype=torch.float16).reshape(2, 3, 4).permute(2, 0, 1)),
            ("contiguous_offset", base.reshape(-1)[6:12]),
        ]
    )
    save(noncontig, out / "noncontig.pth")
    expected["noncontig.pth"] = {k: tensor_expect(v) for k, v in noncontig.items()}

    attributed = torch.tensor([0.5, 0.25])
    attributed.note = "has a python attribute"  # type: ignore[attr-defined]
    shared = torch.arange(10, dtype=torch.int64)
    param = torch.nn.Parameter(torch.tensor([[1.0, 2.0]]), requires_grad=True)
    misc = OrderedDict(
        [
            ("f32", torch.randn(2, 3, generator=g)),
            ("f16", torch.randn(5, generator=g).half()),
            ("bf16", torch.randn(2, 2, generator=g).bfloat16()),
            ("f64", torch.randn(3, generator=g).double()),
            ("i64", torch.tensor([-(2**40), 0, 7])),
            ("i32", torch.tensor([-5, 6], dtype=torch.int32)),
            ("i16", torch.tensor([-300, 300], dtype=torch.int16)),
            ("i8", torch.tensor([-7, 7], dtype=torch.int8)),
            ("u8", torch.tensor([0, 255], dtype=torch.uint8)),
            ("bool", torch.tensor([True, False, True])),
            ("u16", torch.tensor([1, 65535, 7], dtype=torch.int32).to(torch.uint16)),
            ("scalar", torch.tensor(2.5)),
            ("empty", torch.zeros(0, 3)),
            ("attributed", attributed),
            ("parameter", param),
            ("shared_head", shared[:4]),
            ("shared_tail", shared[6:]),
        ]
    )
    extras = {"size": torch.Size([2, 3]), "set": {5}, "bytes": b"\x00\xffab", "dtype": torch.float16, "none": None}
    save({"state_dict": misc, "extras": extras}, out / "misc.pth")
    expected["misc.pth"] = {k: tensor_expect(v, parameter=isinstance(v, torch.nn.Parameter)) for k, v in misc.items()}

    p4 = OrderedDict([("a.weight", torch.randn(3, 2, generator=g)), ("a.bias", torch.randn(3, generator=g).half())])
    save(p4, out / "protocol4.pth", pickle_protocol=4)
    expected["protocol4.pth"] = {k: tensor_expect(v) for k, v in p4.items()}

    for name in ["pytorch_model.bin", "gn-postln.bin", "nested.pth", "gn-postln-f16.pth", "noncontig.pth", "misc.pth",
                 "protocol4.pth"]:
        check_loads(out / name)

    save({"a": torch.ones(2)}, out / "legacy.pt", _use_new_zipfile_serialization=False)

    plain = {
        "int": 7, "neg": -300000, "big": 2**62, "negbig": -(2**63), "float": 1.25, "str": "h\u00e9llo \u2603",
        "bytes": b"\x00\xffab", "list": [1, 2, [3]], "tuple": (1, "a"), "none": None, "bools": [True, False],
        "set": {1}, "frozenset": frozenset({2}), "nested": {"k": {1: "v"}}, "empty": ((), [], {}),
    }
    for proto in (0, 2, 5):
        (out / f"plain-p{proto}.pkl").write_bytes(pickle.dumps(plain, protocol=proto))
    return expected


# ----------------------------------------------------------------------------------------------------------
# malicious files (never unpickled here)


class Reduces:
    """An object that pickles as `func(*args)`; pickling records the names only."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def globals_named(data: bytes) -> list[str]:
    """Static scan: names of GLOBAL/INST opcodes and the string pairs before STACK_GLOBAL."""
    out, strings = [], []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("GLOBAL", "INST"):
            out.append(arg.replace(" ", "."))
        elif isinstance(arg, str):
            strings.append(arg)
        if op.name == "STACK_GLOBAL":
            out.append(".".join(strings[-2:]))
    return out


def zip_checkpoint(pickle_bytes: bytes, storages: dict[str, bytes] | None = None, top: str = "archive") -> bytes:
    """A torch-style zip (stored entries) around a hand-written data.pkl, written with Python's zipfile."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        def add(name: str, data: bytes):
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)
        add("data.pkl", pickle_bytes)
        add("byteorder", b"little")
        for key, data in (storages or {}).items():
            add(f"data/{key}", data)
        add("version", b"3\n")
    return buf.getvalue()


def torch_saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def data_pkl(zip_bytes: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        (name,) = [n for n in z.namelist() if n.endswith("/data.pkl")]
        return z.read(name)


def make_malicious(bad: Path) -> dict:
    cases: dict[str, tuple[bytes, str, str]] = {}  # file -> (bytes, must_contain, what it is)
    weight = torch.arange(4, dtype=torch.float32)

    # Hand-written raw pickles.
    cases["os_system_reduce.pkl"] = (
        b"\x80\x02cos\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.",
        "os.system", "GLOBAL os.system then REDUCE, protocol 2")
    cases["builtins_exec.pkl"] = (
        b"\x80\x02cbuiltins\nexec\nX\x0c\x00\x00\x00print(1 + 1)\x85R.", "builtins.exec", "builtins.exec via REDUCE")
    cases["getattr_chain.pkl"] = (
        b"\x80\x02cbuiltins\ngetattr\ncbuiltins\n__import__\nX\x02\x00\x00\x00os\x85RX\x06\x00\x00\x00system\x86R"
        b"X\x02\x00\x00\x00id\x85R.",
        "builtins.getattr", "getattr(__import__('os'), 'system')('id')")
    framed = b"\x8c\x06shutil\x94\x8c\x06rmtree\x94\x93\x94\x8c\x04/tmp\x94\x85R\x94."
    cases["stack_global_forbidden.pkl"] = (
        b"\x80\x04\x95" + struct.pack("<Q", len(framed)) + framed, "shutil.rmtree",
        "protocol 4 FRAME + MEMOIZE + STACK_GLOBAL to shutil.rmtree")
    cases["stack_global_torch_load.pkl"] = (
        b"\x80\x04\x8c\x05torch\x8c\x04load\x93\x8c\x05x.pth\x85R.", "torch.load",
        "STACK_GLOBAL to torch.load (would unpickle another file)")
    cases["subprocess_popen.pkl"] = (
        b"\x80\x02csubprocess\nPopen\n]q\x00(X\x04\x00\x00\x00echoX\x05\x00\x00\x00pwnede\x85R.", "subprocess.Popen",
        "subprocess.Popen(['echo', 'pwned'])")
    cases["inst_opcode.pkl"] = (b"(S'id'\nios\nsystem\n.", "INST", "protocol 0 INST os.system")
    cases["obj_opcode.pkl"] = (b"\x80\x02(ccollections\nOrderedDict\no.", "OBJ", "OBJ opcode, even on an allowed class")
    cases["ext_opcode.pkl"] = (b"\x80\x02\x82\x01)R.", "EXT1", "extension registry lookup")
    cases["persid_text.pkl"] = (b"Pstorage\n.", "PERSID", "text persistent id")
    cases["reduce_on_string.pkl"] = (b"\x80\x02X\x02\x00\x00\x00id)R.", "REDUCE", "REDUCE on a non-callable value")
    cases["reduce_on_storage_class.pkl"] = (b"\x80\x02ctorch\nFloatStorage\nK\x03\x85R.", "REDUCE",
                                            "REDUCE on an allowed non-callable global")
    cases["build_on_list.pkl"] = (b"\x80\x02]}b.", "BUILD", "BUILD (setstate) on a list")
    cases["nested_eval_in_tuple.pkl"] = (
        b"\x80\x02}X\x01\x00\x00\x00a(K\x01c__builtin__\neval\nX\x01\x00\x00\x001\x85Rts.", "__builtin__.eval",
        "eval hidden inside a tuple value of a dict")

    # Pickled by Python from objects whose __reduce__ names the callable (nothing runs).
    cases["posix_system.pkl"] = (pickle.dumps(Reduces(os.system, ("echo pwned",)), protocol=2), "posix.system",
                                 "pickle.dumps of an os.system reduce (module is posix on Linux)")
    # Inside valid torch.save checkpoints, next to real tensors.
    cases["eval_in_checkpoint.pth"] = (
        torch_saved({"weight": weight, "evil": Reduces(builtins.eval, ("print('pwned')",))}), "__builtin__.eval",
        "torch.save of a state dict holding an eval reduce")
    cases["subprocess_in_checkpoint.pth"] = (
        torch_saved(OrderedDict([("weight", weight), ("evil", Reduces(subprocess.Popen, (["echo", "pwned"],)))])),
        "commands.Popen", "torch.save with a subprocess.Popen reduce (protocol 2 writes its Python 2 name)")
    cases["load_from_bytes.pth"] = (
        torch_saved({"weight": weight, "evil": Reduces(torch.storage._load_from_bytes, (b"not a checkpoint",))}),
        "torch.storage._load_from_bytes", "torch.storage._load_from_bytes (a nested torch.load)")
    cases["whole_module.pth"] = (torch_saved(torch.nn.Linear(2, 2)), "torch.nn.modules.linear.Linear",
                                 "torch.save(model) instead of its state dict")
    cases["numpy_array.pth"] = (torch_saved({"weight": weight, "stats": weight.numpy()}), "numpy",
                                "a numpy array in the checkpoint")
    # A hand-written data.pkl in a zip made by Python's zipfile (no ZIP64), with a real storage record.
    evil_pkl = (b"\x80\x02}q\x00(X\x06\x00\x00\x00weightctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
                b"ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x00K\x04\x85K\x01\x85\x89"
                b"ccollections\nOrderedDict\n)RtRX\x04\x00\x00\x00evilcposix\nsystem\nX\x02\x00\x00\x00id\x85Ru.")
    cases["posix_system_in_zip.pth"] = (zip_checkpoint(evil_pkl, {"0": weight.numpy().tobytes()}), "posix.system",
                                        "hand-written data.pkl in a zipfile-made checkpoint")

    expected = {}
    bad.mkdir(parents=True, exist_ok=True)
    for name, (data, needle, what) in sorted(cases.items()):
        (bad / name).write_bytes(data)
        pk = data_pkl(data) if data[:2] == b"PK" else data
        # Static check that the file really names what the Swift error must report.
        if needle not in ("INST", "OBJ", "EXT1", "PERSID", "REDUCE", "BUILD"):
            assert any(needle in g for g in globals_named(pk)), (name, globals_named(pk))
        expected[name] = {"must_contain": needle, "what": what}
    return expected


def make_broadcast(out: Path) -> None:
    """A 1-element storage expanded to 2^30 × 2^30 (what `torch.save` writes for an `.expand()` view): 1.5 kB that
    would materialise to 4 EiB. The reader must refuse it by size, not try to allocate it."""
    save({"w": torch.zeros(1).expand(2**30, 2**30)}, out / "broadcast-huge.pth")


def same_up_to_storage_keys(a: bytes, b: bytes) -> bool:
    """torch's legacy (non-zip) writer names every storage by its memory address (a decimal string), so legacy.pt
    differs from run to run; compare with those keys renamed storage0, storage1, ... in order of appearance."""
    def canonical(blob: bytes) -> bytes:
        keys: dict[bytes, int] = {}

        def rename(m: re.Match) -> bytes:
            if struct.unpack("<I", m.group(1))[0] != len(m.group(2)):
                return m.group(0)
            name = f"storage{keys.setdefault(m.group(2), len(keys))}".encode()
            return b"X" + struct.pack("<I", len(name)) + name
        return re.sub(rb"X(.{4})(\d{6,})", rename, blob, flags=re.S)
    return canonical(a) == canonical(b)


def main() -> None:
    fixture_main(__doc__, OUT, build, " (legacy.pt up to its storage keys, which are memory addresses)",
                 ignore=("README.md", "fuzz.dict"),  # both written by hand
                 same={"legacy.pt": same_up_to_storage_keys})


def build(out: Path) -> None:
    torch.manual_seed(SEED)
    out.mkdir(parents=True, exist_ok=True)
    make_broadcast(out)
    tensors = make_benign(out)
    write_json(out / "tensors.json", tensors, indent=1, sort_keys=False, ensure_ascii=True)
    expected = make_malicious(out / "malicious")
    write_json(out / "malicious" / "expected.json", expected, sort_keys=False, ensure_ascii=True)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {sum(1 for p in out.rglob('*') if p.is_file())} files, {total} bytes under {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
