"""Shared helpers for the Python fixture scripts in tools/ (reference environment: tools/python-env).

Nothing here is needed by CI: the scripts write their results under Fixtures/, which is committed.

Contents
- paths (ROOT, FIXTURES, CACHE) and `seed_everything`
- `load_kaldi()`: torchaudio's plain-Python `compliance/kaldi.py`, taken from a pinned torchaudio wheel at run time
  (downloaded with `pip download --no-deps` into the git-ignored tools/.cache/) and executed against a stub
  `torchaudio` module, because no torchaudio wheel can be installed beside torch 2.13.
- `ast_fbank_backend()`: makes transformers' ASTFeatureExtractor use that kaldi module (or force its numpy path).
- `rerandomize_()`: overwrite every parameter of a model with seeded random values whose scales keep the reference
  outputs sensitive to ordering / epsilon / pooling bugs (see Fixtures/ast/README.md, "Sensitivity").
- saving helpers: float32 safetensors with string metadata, JSON, the tensor-name listing of a safetensors file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import math
import os
import random
import re
import subprocess
import sys
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

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


def versions() -> dict[str, str]:
    """Versions of the libraries that produce the fixtures (stored in metadata)."""
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    for name in ("torch", "transformers", "safetensors", "soundfile", "soxr", "scipy"):
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__version__", "?")
        except ImportError:
            pass
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
    import struct

    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(text) > n:
            raise RuntimeError(f"canonical header of {path} is longer than the original ({len(text)} > {n})")
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def load_np_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def safetensors_listing(path: Path) -> dict:
    """Exact tensor names, dtypes and shapes stored in a safetensors file, read back from its header."""
    import struct

    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
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
    """Silence transformers' advisory warnings (sampling-rate hint etc.) and progress bars in fixture runs."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
