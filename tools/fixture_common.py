"""Shared helpers for the Python fixture scripts in tools/ (reference environment: tools/python-env).

Nothing here is needed by CI: the scripts write their results under Fixtures/, which is committed.

Contents
- paths (ROOT, FIXTURES, CACHE) and `seed_everything`
- `load_kaldi()`: torchaudio's plain-Python `compliance/kaldi.py`, taken from a pinned torchaudio wheel at run time
  (downloaded with `pip download --no-deps` into the git-ignored tools/.cache/) and executed against a stub
  `torchaudio` module, because no torchaudio wheel can be installed beside torch 2.13.
- `ast_fbank_backend()`: makes transformers' ASTFeatureExtractor use that kaldi module (or force its numpy path).
- `rerandomize_()`: overwrite every parameter of a model with seeded random values whose scales keep the reference
  outputs sensitive to ordering / epsilon / pooling bugs (see Fixtures/ast/README.md, "Sensitivity");
  `randomise_pack_()` does the same for the pack tensors of a tools/ipet_reference.py model.
- AST input features: `kaldi_fbank()` (torchaudio's fbank called as ASTFeatureExtractor calls it) and
  `pad_normalize()` (the extractor's pad / truncate + normalisation).
- saving and loading helpers: float32 safetensors with string metadata, `load_safetensors()`, JSON (`write_json()`),
  the tensor-name listing of a safetensors file, `max_abs()`, `file_sha256()`, `dir_size()`.
- safetensors at the byte level (Formats/safetensors.md): dtype names, little-endian bytes, header parsing, and
  `safetensors_bytes()`, the reference Python writer's layout with metadata in a fixed order (byte-reproducible).
- the command line of the fixture scripts: `fixture_arguments()` / `fixture_main()` with `--check`, which rebuilds a
  fixture folder in a temporary folder and compares it with the committed one byte for byte (`check_regeneration()`,
  `compare_trees()`; `same_safetensors_content()` for files whose metadata order cannot repeat).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import importlib.util
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Fixtures"
CACHE = ROOT / "tools" / ".cache"

# torchaudio wheel whose compliance/kaldi.py is the reference fbank. The first version that pip can download is used;
# the one actually used is recorded in every fixture's metadata.
TORCHAUDIO_VERSIONS = ("2.11.0", "2.10.0", "2.9.1", "2.9.0", "2.8.0")


# ----------------------------------------------------------------------------------------------------------------------
# determinism


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy's legacy global RNG and torch; return a fresh numpy Generator for explicit use."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # audio fixtures do not need torch
        pass
    return np.random.default_rng(seed)


VERSION_MODULES = ("torch", "transformers", "safetensors", "soundfile", "soxr", "scipy")


def versions(modules: Iterable[str] = VERSION_MODULES) -> dict[str, str]:
    """Versions of python, numpy and the libraries that produce the fixtures (stored in metadata); modules that are
    not installed are left out. With soundfile, also the libsndfile it uses."""
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    modules = tuple(modules)
    for name in modules:
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__version__", "?")
        except ImportError:
            pass
    if "soundfile" in modules:
        try:
            import soundfile

            out["libsndfile"] = soundfile.__libsndfile_version__
        except (ImportError, AttributeError):
            pass
    return out


# ----------------------------------------------------------------------------------------------------------------------
# torchaudio.compliance.kaldi without torchaudio


@dataclass
class KaldiSource:
    module: types.ModuleType
    torchaudio_version: str
    wheel: str
    kaldi_sha256: str
    path: Path

    def describe(self) -> str:
        return (f"torchaudio {self.torchaudio_version} compliance/kaldi.py (sha256 {self.kaldi_sha256}) "
                f"from {self.wheel}, executed with a stub torchaudio module on torch")


def _find_wheel(version: str) -> Path | None:
    hits = sorted(CACHE.glob(f"torchaudio-{version}-*.whl"))
    return hits[0] if hits else None


def _download_wheel(version: str) -> Path | None:
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q", "--no-deps",
           f"torchaudio=={version}", "-d", str(CACHE)]
    print(f"[kaldi] {' '.join(cmd)}", file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"[kaldi] torchaudio {version} unavailable: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return _find_wheel(version)


def load_kaldi(versions_to_try: Iterable[str] = TORCHAUDIO_VERSIONS) -> KaldiSource:
    """Return torchaudio's compliance/kaldi.py as a module, extracted from a cached (or freshly downloaded) wheel."""
    import torch  # noqa: F401  (kaldi.py needs it)

    tried = []
    for version in versions_to_try:
        wheel = _find_wheel(version) or _download_wheel(version)
        tried.append(version)
        if wheel is None:
            continue
        target = CACHE / f"torchaudio-{version}-kaldi" / "kaldi.py"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as zf:
                target.write_bytes(zf.read("torchaudio/compliance/kaldi.py"))
        source = target.read_bytes()
        sha = hashlib.sha256(source).hexdigest()

        # kaldi.py does `import torchaudio` and only uses it in mfcc() (torchaudio.functional.create_dct). Put a stub in
        # sys.modules while the file executes, then remove it again so that transformers' package probing
        # (importlib find_spec / metadata) still sees "torchaudio not installed".
        stub = types.ModuleType("torchaudio")
        stub.__version__ = f"{version}+kaldi-stub"
        stub.__path__ = []  # a package, so `import torchaudio.x` fails cleanly instead of oddly
        previous = sys.modules.get("torchaudio")
        sys.modules["torchaudio"] = stub
        try:
            spec = importlib.util.spec_from_file_location("_ipet_torchaudio_kaldi", target)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            if previous is None:
                sys.modules.pop("torchaudio", None)
            else:
                sys.modules["torchaudio"] = previous
        return KaldiSource(module, version, wheel.name, sha, target)
    raise RuntimeError(f"could not obtain torchaudio's kaldi.py from any of {tried}")


@contextlib.contextmanager
def ast_fbank_backend(kaldi: types.ModuleType | None):
    """Inside this context transformers' ASTFeatureExtractor uses `kaldi` (torchaudio path) or, with None, its numpy
    path.  The extractor module decides per call via the module-level names `is_speech_available()` and `ta_kaldi`
    (imported only when torchaudio was importable at import time); its __init__ also builds the numpy mel bank only
    when speech is unavailable, so construct extractors inside the context whose path they will run."""
    import transformers.models.audio_spectrogram_transformer.feature_extraction_audio_spectrogram_transformer as fe

    missing = object()
    old_avail = fe.is_speech_available
    old_kaldi = getattr(fe, "ta_kaldi", missing)
    try:
        if kaldi is None:
            fe.is_speech_available = lambda: False
        else:
            fe.is_speech_available = lambda: True
            fe.ta_kaldi = kaldi
        yield fe
    finally:
        fe.is_speech_available = old_avail
        if old_kaldi is missing:
            if hasattr(fe, "ta_kaldi"):
                del fe.ta_kaldi
        else:
            fe.ta_kaldi = old_kaldi


def ast_fbank_kwargs(num_mel_bins: int) -> dict:
    """Exactly the arguments ASTFeatureExtractor._extract_fbank_features passes to kaldi.fbank (the rest default)."""
    return dict(sample_frequency=16000, window_type="hanning", num_mel_bins=num_mel_bins)


def kaldi_fbank(kaldi: types.ModuleType, wave: np.ndarray, num_mel_bins: int, **overrides) -> np.ndarray:
    """kaldi.fbank of a 16 kHz waveform called as ASTFeatureExtractor calls it (`overrides` change single arguments,
    e.g. for injected bugs): [frames, num_mel_bins] float32."""
    import torch

    kw = ast_fbank_kwargs(num_mel_bins)
    kw.update(overrides)
    return kaldi.fbank(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None], **kw).numpy()


def pad_normalize(fbank: np.ndarray, max_length: int, mean: float | None, std: float | None,
                  pad_value_after_norm=None) -> np.ndarray:
    """ASTFeatureExtractor's pad (zero rows) / truncate to `max_length` frames, then (x - mean) / (2 std); mean None:
    no normalisation. pad_value_after_norm: padded rows set to this after normalising (an injected bug)."""
    n = fbank.shape[0]
    if n < max_length:
        x = np.concatenate([fbank, np.zeros((max_length - n, fbank.shape[1]), np.float32)])
    else:
        x = fbank[:max_length]
    if mean is None:
        return x.astype(np.float32)
    y = (x - mean) / (std * 2)
    if pad_value_after_norm is not None and n < max_length:
        y[n:] = pad_value_after_norm
    return y.astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------------
# re-randomisation of parameters


@dataclass
class Scales:
    """Standard deviations used by `rerandomize_`.

    Matrices (Linear / Conv weights) get normal(0, gain / sqrt(fan_in)) so that every projection keeps activations of
    order one (plain normal(0, 0.02) makes attention nearly uniform and outputs insensitive to token order).
    `overrides` maps a regular expression (re.search on the parameter name) to either a float standard deviation for a
    zero-mean normal, or a callable (shape, generator) -> tensor; the first matching pattern wins.
    """

    matrix_gain: float = 1.0
    bias: float = 0.1
    ln_weight: float = 0.2  # LayerNorm / GroupNorm weights: 1 + normal(0, ln_weight)
    ln_bias: float = 0.1
    other: float = 0.1  # tokens, position embeddings, anything else
    overrides: dict[str, object] = field(default_factory=dict)

    def as_metadata(self) -> str:
        def show(v):
            return v if isinstance(v, (int, float)) else getattr(v, "description", repr(v))

        return json.dumps({"matrix_gain_over_sqrt_fan_in": self.matrix_gain, "bias": self.bias,
                           "layernorm_weight": f"1 + normal(0, {self.ln_weight})", "layernorm_bias": self.ln_bias,
                           "other": self.other, "overrides": {k: show(v) for k, v in self.overrides.items()}},
                          sort_keys=True)


def described(fn: Callable, description: str) -> Callable:
    fn.description = description
    return fn


def rerandomize_(model, seed: int, scales: Scales) -> dict[str, str]:
    """Overwrite every parameter of `model` in place (named_parameters order, one torch.Generator seeded with `seed`).
    Returns {parameter name: rule used} so callers can record / assert that nothing was left at its init value."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(seed)
    norm_types = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d)
    owners = {}
    for mod_name, module in model.named_modules():
        for p_name, _ in module.named_parameters(recurse=False):
            owners[f"{mod_name}.{p_name}" if mod_name else p_name] = module
    rules = {}
    with torch.no_grad():
        for name, param in model.named_parameters():
            shape = tuple(param.shape)
            rule = None
            for pattern, spec in scales.overrides.items():
                if re.search(pattern, name):
                    if callable(spec):
                        value = spec(shape, gen)
                        rule = f"override {pattern}: {getattr(spec, 'description', 'callable')}"
                    else:
                        value = torch.randn(shape, generator=gen) * float(spec)
                        rule = f"override {pattern}: normal(0, {spec})"
                    break
            if rule is None:
                owner = owners.get(name)
                leaf = name.rsplit(".", 1)[-1]
                if isinstance(owner, norm_types) and leaf == "weight":
                    value = 1.0 + torch.randn(shape, generator=gen) * scales.ln_weight
                    rule = f"norm weight: 1 + normal(0, {scales.ln_weight})"
                elif isinstance(owner, norm_types) and leaf == "bias":
                    value = torch.randn(shape, generator=gen) * scales.ln_bias
                    rule = f"norm bias: normal(0, {scales.ln_bias})"
                elif leaf == "bias":
                    value = torch.randn(shape, generator=gen) * scales.bias
                    rule = f"bias: normal(0, {scales.bias})"
                elif leaf == "weight" and len(shape) >= 2:
                    fan_in = math.prod(shape[1:])
                    std = scales.matrix_gain / math.sqrt(fan_in)
                    value = torch.randn(shape, generator=gen) * std
                    rule = f"matrix: normal(0, {scales.matrix_gain}/sqrt({fan_in}))"
                else:
                    value = torch.randn(shape, generator=gen) * scales.other
                    rule = f"other: normal(0, {scales.other})"
            param.copy_(value.to(param.dtype))
            rules[name] = rule
    return rules


def randomise_pack_(model, seed: int, small_embedding: bool = False) -> dict[str, str]:
    """Re-randomise every pack tensor (adapter up weights included, which IPET initialises to 0):
    prompts normal(0, 1); adapter down normal(0, 1/sqrt(D)), up normal(0, 1/sqrt(b)), biases normal(0, 0.1);
    head LayerNorm 1 + normal(0, 0.2) / normal(0, 0.1); head linear normal(0, 0.3), bias normal(0, 0.1);
    speaker embedding normal(0, 1/sqrt(in)), bias normal(0, 0.1) (small_embedding: normal(0, 0.03/sqrt(in)),
    bias normal(0, 0.003), so the embedding's variance is ~1e-3 and the classifier LayerNorm's eps matters)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    rules = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("backbone."):
                continue
            shape = tuple(p.shape)
            n = lambda std: torch.randn(shape, generator=gen) * std  # noqa: E731
            if name.startswith("prompts."):
                v, r = n(1.0), "normal(0, 1)"
            elif name.startswith("adapters.") and name.endswith("weight"):
                v, r = n(1 / math.sqrt(shape[1])), f"normal(0, 1/sqrt({shape[1]}))"
            elif name.startswith("adapters."):
                v, r = n(0.1), "normal(0, 0.1)"
            elif name.startswith("head.norm.weight"):
                v, r = 1 + n(0.2), "1 + normal(0, 0.2)"
            elif name.startswith("head.norm.bias"):
                v, r = n(0.1), "normal(0, 0.1)"
            elif name == "head.linear.weight":
                v, r = n(0.3), "normal(0, 0.3)"
            elif name == "head.embedding.weight":
                g = 0.03 if small_embedding else 1.0
                v, r = n(g / math.sqrt(shape[1])), f"normal(0, {g}/sqrt({shape[1]}))"
            elif name == "head.embedding.bias" and small_embedding:
                v, r = n(0.003), "normal(0, 0.003)"
            elif name.endswith("bias"):
                v, r = n(0.1), "normal(0, 0.1)"
            else:
                raise AssertionError(name)
            p.copy_(v)
            rules[name] = r
    return rules


# ----------------------------------------------------------------------------------------------------------------------
# saving


def _meta(metadata: Mapping[str, object] | None) -> dict[str, str]:
    out = {}
    for k, v in (metadata or {}).items():
        out[str(k)] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return out


def save_np_safetensors(path: Path, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, object] | None = None,
                        dtype=np.float32) -> int:
    """safetensors.numpy.save_file with C-contiguous arrays of `dtype` (float32 by default; integer arrays are kept)
    and string-only metadata (non-strings are JSON-encoded). Returns the file size."""
    from safetensors.numpy import save_file

    clean = {}
    for k in sorted(tensors):
        a = np.asarray(tensors[k])
        if a.dtype.kind == "f":
            a = a.astype(dtype, copy=False)
        clean[k] = np.ascontiguousarray(a)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(clean, str(path), metadata=_meta(metadata))
    canonicalize_safetensors_header(path)
    os.chmod(path, 0o644)  # safetensors writes through a private temp file (mode 0600)
    return path.stat().st_size


def canonicalize_safetensors_header(path: Path) -> None:
    """Rewrite a safetensors header as compact JSON with sorted keys (same length, space padded) so that reruns are
    byte-identical: the Rust writer emits `__metadata__` entries in hash-map order, which changes between processes.
    Tensor data and offsets are untouched."""
    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(text) > n:
            raise RuntimeError(f"canonical header of {path} is longer than the original ({len(text)} > {n})")
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def load_safetensors(path: Path | str, framework: str = "np") -> tuple[dict[str, object], dict[str, str]]:
    """({name: tensor} in safe_open's key order, metadata) of a safetensors file; framework "np" or "pt"."""
    from safetensors import safe_open

    with safe_open(str(path), framework) as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def load_np_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    return load_safetensors(path, "np")


def write_json(path: Path, obj, *, indent: int = 2, sort_keys: bool = True, ensure_ascii: bool = False) -> None:
    """JSON text + newline (UTF-8); by default 2-space indent, sorted keys, non-ASCII characters kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    path.write_text(text + "\n", encoding="utf-8")


def safetensors_listing(path: Path) -> dict:
    """Exact tensor names, dtypes and shapes stored in a safetensors file, read back from its header."""
    header = read_safetensors_header(path)
    meta = header.pop("__metadata__", {})
    return {"file": path.name, "metadata": meta,
            "tensors": {k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in sorted(header.items())}}


def dir_size(paths: Iterable[Path]) -> int:
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def max_abs(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def env_quiet() -> None:
    """Silence transformers' advisory warnings (sampling-rate hint etc.) and progress bars in fixture runs; no hub
    access, no tokenizer threads."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


# ----------------------------------------------------------------------------------------------------------------------
# safetensors at the byte level (Formats/safetensors.md)

# The reference Dtype enum in declaration order. Its Python writer lays tensors out by this position, descending
# (U64 / I64 / F64 / C64 first), then by name in byte order.
SAFETENSORS_DTYPES = ("BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
                      "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64")

# numpy layout of one little-endian element (BF16: its 16-bit pattern; BOOL: one byte, 0 or 1)
_LE_LAYOUT = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "C64": "<c8", "I64": "<i8", "I32": "<i4",
              "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "u1"}
SAFETENSORS_ELEMENT_BYTES = {name: np.dtype(layout).itemsize for name, layout in _LE_LAYOUT.items()}
_NUMPY_NAMES = {np.dtype(t).newbyteorder("<"): name for t, name in (
    (np.float64, "F64"), (np.float32, "F32"), (np.float16, "F16"), (np.complex64, "C64"), (np.int64, "I64"),
    (np.int32, "I32"), (np.int16, "I16"), (np.int8, "I8"), (np.uint64, "U64"), (np.uint32, "U32"),
    (np.uint16, "U16"), (np.uint8, "U8"), (np.bool_, "BOOL"))}


@functools.cache
def torch_dtype_names() -> dict:
    """{torch dtype: safetensors dtype name} for every dtype this torch build has."""
    import torch

    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
             torch.bool: "BOOL"}
    for attr, name in (("uint16", "U16"), ("uint32", "U32"), ("uint64", "U64"), ("complex64", "C64"),
                       ("float8_e4m3fn", "F8_E4M3"), ("float8_e5m2", "F8_E5M2"), ("float8_e8m0fnu", "F8_E8M0"),
                       ("float8_e4m3fnuz", "F8_E4M3FNUZ"), ("float8_e5m2fnuz", "F8_E5M2FNUZ")):
        if hasattr(torch, attr):
            names[getattr(torch, attr)] = name
    return names


def dtype_name(x) -> str:
    """safetensors dtype name of a numpy array or torch tensor."""
    if isinstance(x, np.ndarray):
        return _NUMPY_NAMES[x.dtype.newbyteorder("<")]
    return torch_dtype_names()[x.dtype]


def le_bytes(x) -> bytes:
    """The raw little-endian bytes of a numpy array or torch tensor in C order (BF16: its 16-bit patterns)."""
    if not isinstance(x, np.ndarray):
        import torch

        x = x.detach().contiguous().cpu()
        x = (x.view(torch.int16) if x.dtype == torch.bfloat16 else x).numpy()
    x = np.ascontiguousarray(x)
    return x.astype(x.dtype.newbyteorder("<"), copy=False).tobytes()


def le_array(dtype: str, data: bytes) -> np.ndarray:
    """Flat numpy view of a tensor's raw little-endian bytes: BF16 widened (exactly) to float32, BOOL as uint8."""
    if dtype not in _LE_LAYOUT:
        raise ValueError(f"no value decoding for dtype {dtype}")
    a = np.frombuffer(data, _LE_LAYOUT[dtype])
    return (a.astype(np.uint32) << 16).view(np.float32) if dtype == "BF16" else a


def safetensors_header(raw: bytes) -> tuple[int, dict]:
    """(header length, parsed header) of a whole safetensors file's bytes; tensor data starts at 8 + length."""
    (n,) = struct.unpack("<Q", raw[:8])
    return n, json.loads(raw[8:8 + n])


def read_safetensors_header(path: str | os.PathLike) -> dict:
    """The parsed JSON header of a safetensors file (`__metadata__` included), without reading the tensors."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


CONTENT_DIGEST_KEY = "ipet.content_sha256"


def content_digest(metadata: Sequence[tuple[str, str]], tensors: Sequence[tuple[str, str, Sequence[int], bytes]]) -> str:
    """The content digest v1 of Formats/safetensors.md section 4 (`ContentDigest` in Swift): SHA-256 over
    "ipet-content-v1\\n", the metadata (all keys but the digest's own, sorted by UTF-8 bytes, each key and value
    length-prefixed with u64le) and the tensors (sorted by name bytes: name, dtype, rank, dims, data), every
    variable-size field preceded by its u64le length. `tensors`: (name, dtype name, shape, little-endian data)."""
    h = hashlib.sha256(b"ipet-content-v1\n")

    def text(s: str) -> None:
        b = s.encode("utf-8")
        h.update(struct.pack("<Q", len(b)) + b)

    entries = sorted(((k, v) for k, v in metadata if k != CONTENT_DIGEST_KEY), key=lambda kv: kv[0].encode("utf-8"))
    h.update(struct.pack("<Q", len(entries)))
    for k, v in entries:
        text(k)
        text(v)
    h.update(struct.pack("<Q", len(tensors)))
    for name, dtype, shape, data in sorted(tensors, key=lambda t: t[0].encode("utf-8")):
        text(name)
        text(dtype)
        h.update(struct.pack("<Q", len(shape)) + b"".join(struct.pack("<Q", int(d)) for d in shape))
        h.update(struct.pack("<Q", len(data)) + data)
    return "sha256:" + h.hexdigest()


def file_content_digest(path: str | os.PathLike) -> str:
    """The content digest of a safetensors file as stored (its recorded digest excluded)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = list((header.pop("__metadata__", None) or {}).items())
    return content_digest(meta, [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
                                 for k, v in header.items()])


def safetensors_bytes(tensors: Mapping[str, object], metadata: Mapping[str, str] | Sequence[tuple[str, str]] = (),
                      *, ensure_ascii: bool = False, record_digest: bool = False) -> bytes:
    """A safetensors file laid out like the reference Python writer's (tensors by SAFETENSORS_DTYPES position,
    descending, then by name bytes; compact JSON header with `__metadata__` first and entries {dtype, shape,
    data_offsets}; header space-padded to a multiple of 8), but with `metadata` in the order given: the Python
    writer's `__metadata__` order is a Rust HashMap's, i.e. random per process. `tensors`: numpy arrays or torch
    tensors, written in their own dtype. No `__metadata__` entry when `metadata` is empty. `record_digest` appends
    the content digest (`content_digest`) to the metadata."""
    items = list(metadata.items()) if isinstance(metadata, Mapping) else list(metadata)
    if record_digest:
        items = [(k, v) for k, v in items if k != CONTENT_DIGEST_KEY]
        items.append((CONTENT_DIGEST_KEY, content_digest(
            items, [(k, dtype_name(v), list(v.shape), le_bytes(v)) for k, v in tensors.items()])))
    keys = [k for k, _ in items]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate metadata key")
    for k, v in items:
        if not isinstance(v, str):
            raise TypeError(f"metadata value of {k} is not a string")
    if "__metadata__" in tensors:
        raise ValueError("reserved tensor name")
    dtypes = {k: dtype_name(v) for k, v in tensors.items()}
    names = sorted(tensors, key=lambda k: (-SAFETENSORS_DTYPES.index(dtypes[k]), k.encode("utf-8")))
    header: dict = {"__metadata__": dict(items)} if items else {}
    blobs, offset = [], 0
    for k in names:
        b = le_bytes(tensors[k])
        header[k] = {"dtype": dtypes[k], "shape": list(tensors[k].shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=ensure_ascii).encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write_file_atomically(path: str | os.PathLike, data: bytes) -> int:
    """Write through a temporary file in the same folder (mode 0644) and rename it into place; returns the size."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path.stat().st_size


# ----------------------------------------------------------------------------------------------------------------------
# --check: regenerate into a temporary folder and compare byte for byte


def compare_trees(expected: Path, fresh: Path, *, ignore: Iterable[str] = ("README.md",), fresh_only: bool = False,
                  same: Mapping[str, Callable[[bytes, bytes], bool]] | None = None) -> list[str]:
    """What differs between the committed tree `expected` and a regenerated tree `fresh`: files (by relative path)
    whose bytes differ, that the regeneration did not write (unless `fresh_only`) or that only it wrote. Files named
    in `ignore` (hand-written READMEs) are skipped anywhere; `same` maps a relative path to a comparison used
    instead of byte equality (for a file whose bytes cannot repeat)."""
    ignore = set(ignore)

    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name not in ignore}

    have, made = files(expected), files(fresh)
    problems = [f"only in the regeneration: {f}" for f in sorted(made - have)]
    if not fresh_only:
        problems += [f"not regenerated: {f}" for f in sorted(have - made)]
    for f in sorted(have & made):
        a, b = (expected / f).read_bytes(), (fresh / f).read_bytes()
        if not (same[f](a, b) if same and f in same else a == b):
            problems.append(f"differs: {f}")
    return problems


def same_safetensors_content(a: bytes, b: bytes) -> bool:
    """Equal headers as JSON objects (any key order) and equal tensor bytes: for a file written with several
    metadata keys by the safetensors package, whose `__metadata__` order is random per process."""
    (na, ha), (nb, hb) = safetensors_header(a), safetensors_header(b)
    return ha == hb and a[8 + na:] == b[8 + nb:]


def check_regeneration(out: Path, build: Callable[[Path], object], **compare_kwargs) -> int:
    """The `--check` mode of a fixture script: `build(folder)` writes the fixtures into a fresh temporary folder (of
    the same name as `out`), which is then compared with `out` (compare_trees). Prints the verdict; returns the exit
    status (0: every file reproduces byte for byte, 1: not)."""
    with tempfile.TemporaryDirectory(prefix="ipet-fixture-check-") as tmp:
        fresh = Path(tmp) / out.name
        build(fresh)
        problems = compare_trees(out, fresh, **compare_kwargs)
    for p in problems:
        print(f"  {p}")
    special = sorted(compare_kwargs.get("same") or ())
    verdict = "every file reproduces byte for byte" + (f" (except as allowed for {', '.join(special)})"
                                                        if special else "")
    print(f"{rel(out)}: " + (verdict if not problems else f"{len(problems)} file(s) DIFFER from a fresh regeneration"))
    return 1 if problems else 0


def fixture_arguments(doc: str, out: Path, check_note: str = "") -> argparse.ArgumentParser:
    """The command line every fixture script shares: its docstring as help, and --check (compare a regeneration in
    a temporary folder with `out`); scripts add their own options."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help=f"regenerate into a temp dir and compare with {rel(out)} "
                    f"byte for byte{check_note}")
    return ap


def fixture_main(doc: str, out: Path, build: Callable[[Path], object], check_note: str = "", **compare_kwargs) -> None:
    """main() of a fixture script whose only option is --check: `build(out)`, or the --check comparison (exits)."""
    if fixture_arguments(doc, out, check_note).parse_args().check:
        sys.exit(check_regeneration(out, build, **compare_kwargs))
    build(out)
