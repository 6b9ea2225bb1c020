#!/usr/bin/env python3
"""ipet against its peers on the same full-size models, clips and thread count, side by side in one run (manual; never
run in CI).

    tools/python-env && .venv-tools/bin/python tools/bench_peers.py [--models ast,wav2vec2] [--repeats 5] [--rounds 3]
        [--ipet .build/release/ipet] [--build] [--threads 2] [--quick] [--json OUT]

Models: random-weight full-size AST (MIT/ast-finetuned-audioset-10-10-0.4593's configuration: ASTConfig() defaults,
1024 frames, 527 labels) and wav2vec 2.0 base (Wav2Vec2Config() defaults, Wav2Vec2ForSequenceClassification with
12 labels), built once with fixed seeds by the full-size checks' `build_backbone()` (tools/ast_fullsize_check.py,
tools/wav2vec2_fullsize_check.py: every parameter re-randomised by fixture_common.rerandomize_ / the fixtures'
randomise) and kept as Hugging Face folders under tools/.cache/bench-peers/ (git-ignored), with the clips (AST 10.24 s,
wav2vec 2.0 10 s, 16 kHz PCM16, the checks' deterministic `write_clip()`), the ONNX exports and, for wav2vec 2.0, three
random IPET packs (tools/ipet_reference.py). Delete that folder to rebuild.

Engines (every one with --threads threads, each measured in processes of its own so that no thread pool lingers
into another engine's timing):
- PyTorch float32 (transformers' default sdpa attention) and PyTorch dynamic int8
  (torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8); torch.set_num_threads,
  one inter-op thread);
- ONNX Runtime float32 (torch.onnx.export, TorchScript exporter, fixed input shape) and ONNX Runtime dynamic int8
  (onnxruntime.quantization.quantize_dynamic on MatMul/Gemm, i.e. the same Linear layers PyTorch quantises; weight type
  QInt8, QUInt8 if QInt8 fails: the output says which); SessionOptions intra_op_num_threads = threads,
  inter_op_num_threads = 1, CPU execution provider;
- ipet float32 with `--gemm onednn` and `--gemm openblas` (when the binary has no --gemm: its built-in GEMM), and
  `--compute int8` (the float32 file quantised at load) when `ipet predict --help` lists --compute ("not available"
  otherwise), also with `--int8-attention f32` (float32 attention products instead of bfloat16 where the CPU has
  bf16 dot products: what the bfloat16 products gain in time and cost in logit error). ipet runs a file converted by `ipet convert` (float32); the row "ipet int8 file" runs the file
  `ipet convert --dtype int8` wrote (no flag: an int8 file computes in int8), whose size is printed beside the
  float32 file's.

What each number is:
- "model s": one clip's model forward, best / median of --repeats after one warm-up. PyTorch / ORT: the forward call
  alone (input features precomputed). ipet: `ipet bench throughput --seconds L,L,... --batch 1 --files 1` (one
  measurement per listed length, each after its own warm-up clip; printed with 10 ms resolution) minus the mean of
  ipet's own profiled fbank stage (IPET_PROFILE=1, "ast.fbank"); the WAV decode (about a millisecond) stays in, and
  for wav2vec 2.0, whose features are only a normalisation that ipet does not profile, the figure is marked "~" and
  equals features + model.
- "feat+model s": decoding the WAV file + feature extraction + model. PyTorch / ORT: soundfile decode +
  ASTFeatureExtractor (torchaudio's kaldi fbank, fixture_common.load_kaldi) / Wav2Vec2FeatureExtractor, timed alone
  (best / median after a warm-up), added to the model figure (best + best, median + median). ipet: the throughput
  figure as measured (decode + features + model of one clip).
- "process s": one whole process for one clip, start to exit, median of --process-runs after one warm-up run (page
  cache): `ipet predict --logits` on the clip vs a Python process (interpreter start, imports, model load; for PyTorch
  int8 also the quantize_dynamic at load, since a quantised transformers model with weight norm cannot be pickled;
  ORT session creation) that decodes, extracts features and runs the model once.
- "peak RSS MB": that one-clip process's peak resident set size (os.wait4), MiB.
- "max|dlogit|": max |logit difference| from PyTorch float32 on the same clip (int8 rows: the quantisation error;
  float32 rows: parity).
- ratios "/ORT f32": the row's median over ONNX Runtime float32's median (model, feat+model).
- "GFLOP/s", "%peak": the model's floating-point operations per clip (counted once by torch.utils.flop_counter on the
  PyTorch float32 forward: matmuls and convolutions, 2 per multiply-add) over the row's median model time, and that
  as a share of this CPU's float32 peak at --threads threads (`ipet bench peak`: register-only FMA loops, best of 5,
  measured before and after each model; the larger is used). For int8 rows the same count is shown as
  float32-equivalent operations, without a share of the float32 peak.
Rounds (--rounds R): every engine's per-clip timing is run R times, engine after engine within a round (odd rounds in
the listed order, even rounds in reverse), so that a slow spell of a shared host falls on every engine rather than on
one. The best / median figures pool all rounds; the acceptance lines also give each round's own ratio (both figures
of a round measured minutes apart at most). The one-pack and three-pack runs alternate the same way, --rounds
times. Whole-process runs and logits are measured once.
Then the acceptance ratios: ipet f32 (oneDNN when the binary has it) / ORT f32, ipet int8 / fastest int8 peer, and
for wav2vec 2.0 ipet with three packs vs one pack per clip (`bench throughput --pack`).

The machine's ISA (avx2 avx512f avx512_vnni avx512_bf16 amx), the versions, and the load average before and after are
printed first: on a shared machine the timings are only as good as the load allows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import CACHE, ROOT, env_quiet, max_abs, rel, versions, write_json  # noqa: E402
from fullsize_common import SR, build_swift, parse_ipet_json, run_measured, times_of  # noqa: E402

BENCH = CACHE / "bench-peers"
DEFAULT_IPET = ROOT / ".build" / "release" / "ipet"
JSON_TAG = "BENCH_PEERS_JSON "
ONNX_OPSETS = (17, None)  # the first that exports; None = the exporter's default
PACKS = 3
PACK_SEED = 77
PACK_K, PACK_BOTTLENECK = 4, 32  # tools/train_ipet.py defaults
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx")

PY_ENGINES = {
    "torch-f32": "PyTorch f32",
    "torch-int8": "PyTorch int8 dynamic",
    "ort-f32": "ONNX Runtime f32",
    "ort-int8": "ONNX Runtime int8 dynamic",
}


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    clip_seconds: float

    @property
    def folder(self) -> Path:
        return BENCH / self.name

    @property
    def hf(self) -> Path:
        return self.folder / "hf"

    @property
    def clip(self) -> Path:
        return self.folder / f"clip_{self.clip_seconds:g}s_16k.wav"

    @property
    def onnx_f32(self) -> Path:
        return self.folder / "model.onnx"

    @property
    def onnx_int8(self) -> Path:
        return self.folder / "model.int8.onnx"

    @property
    def meta(self) -> Path:
        return self.folder / "prepared.json"

    @property
    def converted(self) -> Path:
        return self.folder / "ipet-f32.safetensors"

    @property
    def converted_int8(self) -> Path:
        return self.folder / "ipet-int8.safetensors"

    def packs(self) -> list[Path]:
        return [self.folder / f"pack-{i + 1}.ipet" for i in range(PACKS)] if self.name == "wav2vec2" else []


SPECS = {
    "ast": Spec("ast", "AST, MIT/ast-finetuned-audioset-10-10-0.4593 configuration (random weights, 527 labels), "
                       "10.24 s clip", 10.24),
    "wav2vec2": Spec("wav2vec2", "wav2vec 2.0 base (random weights) + 12-label sequence-classification head, 10 s clip",
                     10.0),
}


def emit(obj) -> None:
    print(JSON_TAG + json.dumps(obj), flush=True)


def parse_emitted(stdout: str) -> dict:
    for line in reversed(stdout.splitlines()):
        if line.startswith(JSON_TAG):
            return json.loads(line[len(JSON_TAG):])
    raise RuntimeError(f"no {JSON_TAG.strip()} line in the worker's output:\n{stdout[-2000:]}")


# ----------------------------------------------------------------------------------------------------------------------
# workers (run as `bench_peers.py --worker KIND`, one process each)


def quiet_warnings() -> None:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def logits_only(model):
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x).logits

    return LogitsOnly(model).eval()


def load_torch(spec: Spec, int8: bool):
    import torch
    from transformers import AutoModelForAudioClassification

    model = AutoModelForAudioClassification.from_pretrained(str(spec.hf), attn_implementation="sdpa").eval()
    if int8:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model


def ort_session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def feature_function(spec: Spec, stack: contextlib.ExitStack):
    """() -> input_values [1, ...] float32 of the clip: soundfile decode + the transformers feature extractor (AST:
    torchaudio's kaldi fbank; the backend stays selected for the worker's lifetime)."""
    import soundfile as sf

    if spec.name == "ast":
        from fixture_common import ast_fbank_backend, load_kaldi
        from transformers import ASTFeatureExtractor

        stack.enter_context(ast_fbank_backend(load_kaldi().module))
        fe = ASTFeatureExtractor.from_pretrained(str(spec.hf))
    else:
        from transformers import Wav2Vec2FeatureExtractor

        fe = Wav2Vec2FeatureExtractor.from_pretrained(str(spec.hf))

    def features() -> np.ndarray:
        wave, sr = sf.read(str(spec.clip), dtype="float32")
        return np.ascontiguousarray(fe(wave, sampling_rate=sr, return_tensors="np")["input_values"], dtype=np.float32)

    return features


def model_function(spec: Spec, engine: str, threads: int):
    """(input_values -> logits [labels] float64, notes) for one Python engine."""
    if engine.startswith("torch"):
        import torch

        model = load_torch(spec, int8=engine == "torch-int8")

        def run(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(x)).logits[0].double().numpy()

        return run, []
    meta = json.loads(spec.meta.read_text())
    sess = ort_session(spec.onnx_f32 if engine == "ort-f32" else spec.onnx_int8, threads)
    name = sess.get_inputs()[0].name
    notes = [f"ONNX opset {meta['onnx_opset']}"]
    if engine == "ort-int8":
        notes.append(f"weights {meta['ort_int8_weight_type']} ({meta['ort_int8_note']})")
    return (lambda x: np.asarray(sess.run(None, {name: x})[0][0], dtype=np.float64)), notes


def worker_engine(args) -> int:
    """--worker time: features and model timed apart (best / median after a warm-up) + logits; --worker oneshot:
    decode, features and model once (the whole-process measurement)."""
    spec = SPECS[args.model]
    if args.engine.startswith("torch") or spec.name == "ast":  # AST features: torchaudio's kaldi fbank on torch
        import torch

        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(1)
    env_quiet()
    quiet_warnings()
    with contextlib.ExitStack() as stack:
        features = feature_function(spec, stack)
        run, notes = model_function(spec, args.engine, args.threads)
        if args.worker == "oneshot":
            emit({"logits": run(features()).tolist()})
            return 0
        x = features()  # warm-up
        feature_s, _ = times_of(features, args.repeats)
        run(x)  # warm-up
        model_s, logits = times_of(lambda: run(x), args.repeats)
    emit({"feature_s": feature_s, "model_s": model_s, "logits": logits.tolist(), "notes": notes,
          "input_shape": list(x.shape)})
    return 0


def export_onnx(model, example, path: Path) -> int | str:
    """Export with the TorchScript exporter (the dynamo one needs onnxscript); returns the opset used."""
    import torch

    tmp = path.with_name(path.name + ".tmp")
    error = None
    for opset in ONNX_OPSETS:
        try:
            torch.onnx.export(logits_only(model), (example,), str(tmp), dynamo=False, opset_version=opset,
                              input_names=["input_values"], output_names=["logits"], do_constant_folding=True)
        except Exception as e:  # noqa: BLE001 (try the next opset, report the last failure)
            error = e
            print(f"[prepare] ONNX export with opset {opset} failed: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        os.replace(tmp, path)
        import onnx

        return onnx.load(str(path), load_external_data=False).opset_import[0].version
    raise RuntimeError(f"ONNX export failed: {error}")


def quantize_onnx(spec: Spec, x: np.ndarray, threads: int) -> tuple[str, str]:
    """onnxruntime.quantization.quantize_dynamic on MatMul/Gemm: QInt8 weights, QUInt8 when QInt8 fails to quantise,
    load or run. Returns (weight type, what happened)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    failures = []
    for weight_type in (QuantType.QInt8, QuantType.QUInt8):
        tmp = spec.onnx_int8.with_name(spec.onnx_int8.name + ".tmp")
        try:
            quantize_dynamic(str(spec.onnx_f32), str(tmp), weight_type=weight_type, per_channel=False,
                             op_types_to_quantize=["MatMul", "Gemm"])
            ort_session(tmp, threads).run(None, {"input_values": x})
        except Exception as e:  # noqa: BLE001 (QUInt8 is the documented fallback)
            failures.append(f"{weight_type.name} failed: {type(e).__name__}: {str(e)[:300]}")
            print(f"[prepare] ORT int8 {failures[-1]}", file=sys.stderr)
            continue
        os.replace(tmp, spec.onnx_int8)
        return weight_type.name, "; ".join(failures) or f"{weight_type.name} worked"
    raise RuntimeError("ORT dynamic quantisation failed: " + "; ".join(failures))


def make_packs(spec: Spec) -> None:
    """Three random IPET packs (k prompts, adapters, mean-std head; every adapter weight random so that no pack is a
    no-op) for the wav2vec 2.0 backbone, written by the reference exporter."""
    import torch

    import ipet_reference as ipet

    base = ipet.load_backbone(spec.hf)
    fp = ipet.fingerprint(base, ipet.W2V2_ARCH)
    labels = [f"class_{i:02d}" for i in range(12)]
    for i, path in enumerate(spec.packs()):
        torch.manual_seed(PACK_SEED + i)
        m = ipet.IPETWav2Vec2(base, PACK_K, PACK_BOTTLENECK, head="mean-std", labels=labels).eval()
        with torch.no_grad():
            for p in m.adapters.parameters():
                p.normal_(0.0, 0.05)
        ipet.export_pack(path, m, fingerprint_value=fp, backbone_name="bench-peers wav2vec2-base random",
                         provenance={"maker": "tools/bench_peers.py", "seed": PACK_SEED + i})
    print(f"[prepare] {len(spec.packs())} packs (k={PACK_K}, bottleneck {PACK_BOTTLENECK}) in {rel(spec.folder)}")


def worker_prepare(args) -> int:
    """Builds what is missing under tools/.cache/bench-peers/MODEL: the HF folder, the clip, the ONNX files, packs."""
    import torch

    torch.set_num_threads(args.threads)
    env_quiet()
    quiet_warnings()
    spec = SPECS[args.model]
    spec.folder.mkdir(parents=True, exist_ok=True)
    done = spec.hf / ".complete"
    if spec.name == "ast":
        import ast_fullsize_check as check

        if not done.exists():
            check.build_backbone(spec.hf)
        wave = check.write_clip(spec.clip)
    else:
        import wav2vec2_fullsize_check as check

        if not done.exists():
            check.build_backbone(spec.hf, legacy_names=True)
        wave = check.write_clip(spec.clip, spec.clip_seconds, check.SEED + 1)  # the check's 10 s clip
    done.touch()
    assert abs(len(wave) - spec.clip_seconds * SR) < 1, len(wave)

    meta = json.loads(spec.meta.read_text()) if spec.meta.exists() else {}
    if not spec.onnx_f32.exists() or "onnx_opset" not in meta:
        with contextlib.ExitStack() as stack:
            x = feature_function(spec, stack)()
        model = load_torch(spec, int8=False)
        print(f"[prepare] torch.onnx.export {rel(spec.onnx_f32)} (input {tuple(x.shape)})", flush=True)
        meta = {"onnx_opset": export_onnx(model, torch.from_numpy(x), spec.onnx_f32), "input_shape": list(x.shape)}
        with torch.inference_mode():
            ref = model(torch.from_numpy(x)).logits[0].numpy()
        out = ort_session(spec.onnx_f32, args.threads).run(None, {"input_values": x})[0][0]
        meta["onnx_f32_vs_torch"] = max_abs(out, ref)
        print(f"[prepare] ONNX f32 vs PyTorch f32: max |logit diff| {meta['onnx_f32_vs_torch']:.3g}")
        spec.onnx_int8.unlink(missing_ok=True)
        write_json(spec.meta, meta)
    if not spec.onnx_int8.exists() or "ort_int8_weight_type" not in meta:
        with contextlib.ExitStack() as stack:
            x = feature_function(spec, stack)()
        print(f"[prepare] onnxruntime quantize_dynamic -> {rel(spec.onnx_int8)}", flush=True)
        meta["ort_int8_weight_type"], meta["ort_int8_note"] = quantize_onnx(spec, x, args.threads)
        write_json(spec.meta, meta)
    if "model_flops" not in meta:
        from torch.utils.flop_counter import FlopCounterMode

        with contextlib.ExitStack() as stack:
            x = feature_function(spec, stack)()
        # Eager attention: the counter sees its two batched matmuls (the sdpa kernel on CPU is not counted); weight
        # norm's parametrisation removed (the counter's dispatch mode cannot read a parametrised weight).
        from transformers import AutoModelForAudioClassification

        model = AutoModelForAudioClassification.from_pretrained(str(spec.hf), attn_implementation="eager").eval()
        for module in model.modules():
            if torch.nn.utils.parametrize.is_parametrized(module):
                for name in list(module.parametrizations):
                    torch.nn.utils.parametrize.remove_parametrizations(module, name)
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            model(torch.from_numpy(x))
        meta["model_flops"] = int(counter.get_total_flops())
        print(f"[prepare] model forward: {meta['model_flops'] / 1e9:.1f} GFLOP (torch.utils.flop_counter)")
        write_json(spec.meta, meta)
    if spec.packs() and not all(p.exists() for p in spec.packs()):
        make_packs(spec)
    return 0


# ----------------------------------------------------------------------------------------------------------------------
# ipet


@dataclass
class IpetVariant:
    key: str
    label: str
    flags: list[str] | None  # None: not available in this binary
    note: str = ""
    int8_file: bool = False  # runs the `ipet convert --dtype int8` file instead of the float32 one


def ipet_help(ipet: Path, *sub: str) -> str:
    return subprocess.run([str(ipet), *sub, "--help"], capture_output=True, text=True).stdout


def ipet_variants(ipet: Path) -> tuple[list[IpetVariant], dict]:
    """ipet's rows from what `ipet predict --help` offers (--gemm onednn|openblas, --compute int8), and which of those
    options `ipet bench throughput` takes too."""
    predict, bench = ipet_help(ipet, "predict"), ipet_help(ipet, "bench", "throughput")
    gemm = "--gemm" in predict and "onednn" in predict.lower()
    compute = "--compute" in predict
    int8_file = "int8" in ipet_help(ipet, "convert")
    attention = "--int8-attention" in predict
    out = [
        IpetVariant("ipet-f32-onednn", "ipet f32 --gemm onednn", ["--gemm", "onednn"] if gemm else None,
                    "" if gemm else "this binary has no --gemm"),
        IpetVariant("ipet-f32-openblas", "ipet f32 --gemm openblas", ["--gemm", "openblas"]) if gemm else
        IpetVariant("ipet-f32-openblas", "ipet f32 (built-in GEMM)", [], "no --gemm option: the binary's only GEMM"),
        IpetVariant("ipet-int8", "ipet --compute int8", ["--compute", "int8"] if compute else None,
                    "" if compute else "`ipet predict --help` has no --compute"),
        IpetVariant("ipet-int8-file", "ipet int8 file (convert)", [] if int8_file else None,
                    "" if int8_file else "`ipet convert --help` has no int8", int8_file=True),
        IpetVariant("ipet-int8-f32-attention", "ipet --compute int8 --int8-attention f32",
                    ["--compute", "int8", "--int8-attention", "f32"] if compute and attention else None,
                    "" if compute and attention else "`ipet predict --help` has no --int8-attention"),
    ]
    return out, {"gemm": gemm, "compute": compute, "bench_gemm": "--gemm" in bench, "bench_compute": "--compute" in bench}


THROUGHPUT_ROW = re.compile(r"^\s*([\d.]+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)(.*)$")
PROFILE_ROW = re.compile(r"^(\S+)\s+([\d.]+) s\s+(\d+) calls\s*$")


def ipet_throughput(ipet: Path, backbone: Path, seconds: float, flags: list[str], repeats: int, threads: int,
                    packs: list[Path] = ()) -> dict:
    """Per-clip seconds (decode + features + model) of `repeats` one-clip measurements, each after a warm-up clip, from
    one `ipet bench throughput` process with IPET_PROFILE=1; "stages": its profile {label: (seconds, calls)}."""
    cmd = [ipet, "bench", "throughput", "--backbone", backbone, "--seconds", ",".join([f"{seconds:g}"] * repeats),
           "--batch", "1", "--files", "1", "--threads", str(threads), *flags]
    for p in packs:
        cmd += ["--pack", p]
    print(f"[ipet] IPET_PROFILE=1 {' '.join(rel(Path(c)) if isinstance(c, Path) else c for c in cmd)}", flush=True)
    m = run_measured(cmd, env={**os.environ, "IPET_PROFILE": "1"})
    if m.returncode != 0:
        raise RuntimeError(f"ipet bench throughput exited {m.returncode}:\n{m.stderr[-2000:]}")
    per_clip = []
    for line in m.stdout.splitlines():
        row = THROUGHPUT_ROW.match(line)
        if row:
            if "failed" in row.group(6):
                raise RuntimeError(f"ipet bench throughput: {line.strip()}")
            per_clip.append(float(row.group(4)) / int(row.group(3)))
    if len(per_clip) != repeats:
        raise RuntimeError(f"expected {repeats} measurements from ipet bench throughput, got:\n{m.stdout}")
    stages = {r.group(1): (float(r.group(2)), int(r.group(3)))
              for r in map(PROFILE_ROW.match, m.stderr.splitlines()) if r}
    return {"per_clip_s": per_clip, "stages": stages}


def convert_for_ipet(ipet: Path, spec: Spec, int8: bool = False) -> Path:
    """`ipet convert` (float32, or `--dtype int8`) of the HF folder, redone when the binary is newer than the file."""
    out = spec.converted_int8 if int8 else spec.converted
    if not out.exists() or out.stat().st_mtime < ipet.stat().st_mtime:
        cmd = [str(ipet), "convert", str(spec.hf), str(out)] + (["--dtype", "int8"] if int8 else [])
        print(f"[ipet] {' '.join(cmd)}", flush=True)
        out.unlink(missing_ok=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


# ----------------------------------------------------------------------------------------------------------------------
# measurements


def process_runs(cmd: list, runs: int, warmup: bool) -> dict:
    """Whole-process wall times (`runs` after an optional warm-up run) and the largest peak RSS; the last stdout."""
    measured = []
    for i in range(runs + int(warmup)):
        m = run_measured(cmd)
        if m.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} exited {m.returncode}:\n{m.stderr[-3000:]}")
        if i >= int(warmup):
            measured.append(m)
    return {"process_s": [m.wall for m in measured], "rss_mb": max(m.max_rss_mb for m in measured),
            "stdout": measured[-1].stdout}


def worker_cmd(kind: str, spec: Spec, args, engine: str | None = None) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--models", spec.name, "--threads",
           str(args.threads), "--repeats", str(args.repeats)]
    return cmd + (["--engine", engine] if engine else [])


def bench_python(spec: Spec, engine: str, args) -> dict:
    print(f"[{engine}] timing worker ({args.repeats} repeats)", flush=True)
    m = run_measured(worker_cmd("time", spec, args, engine))
    if m.returncode != 0:
        raise RuntimeError(f"{engine} worker exited {m.returncode}:\n{m.stderr[-3000:]}")
    timing = parse_emitted(m.stdout)
    print(f"[{engine}] whole process, one clip ({args.process_runs} runs)", flush=True)
    proc = process_runs(worker_cmd("oneshot", spec, args, engine), args.process_runs, warmup=not args.quick)
    return {"engine": PY_ENGINES[engine], "key": engine, "available": True, "feature_s": timing["feature_s"],
            "model_s": timing["model_s"], "logits": timing["logits"], "process_s": proc["process_s"],
            "rss_mb": proc["rss_mb"], "notes": timing["notes"],
            "oneshot_vs_timing_logits": max_abs(parse_emitted(proc["stdout"])["logits"], timing["logits"])}


def ipet_model_times(row: dict, per_clip: list[float]) -> list[float]:
    """The model part of ipet's per-clip times: minus the row's profiled fbank mean (AST), else as measured."""
    return [t - row["fbank_mean_s"] for t in per_clip] if "fbank_mean_s" in row else list(per_clip)


def bench_ipet(spec: Spec, ipet: Path, backbone: Path, variant: IpetVariant, caps: dict, args) -> dict:
    row = {"engine": variant.label, "key": variant.key, "available": variant.flags is not None,
           "notes": [variant.note] if variant.note else [], "flags": variant.flags}
    if variant.flags is None:
        return row
    bench_ok = (not variant.flags or (variant.flags[0] == "--gemm" and caps["bench_gemm"])
                or (variant.flags[0] == "--compute" and caps["bench_compute"]))
    if bench_ok:
        thr = ipet_throughput(ipet, backbone, spec.clip_seconds, variant.flags, args.repeats, args.threads)
        row["features_model_s"] = thr["per_clip_s"]
        row["stages"] = thr["stages"]
        fbank = thr["stages"].get("ast.fbank")
        if spec.name == "ast" and fbank:
            row["fbank_mean_s"] = fbank[0] / fbank[1]
            row["model_s"] = ipet_model_times(row, thr["per_clip_s"])
        elif spec.name == "wav2vec2":
            row["model_s"] = ipet_model_times(row, thr["per_clip_s"])
            row["model_s_approx"] = True
        else:
            row["notes"].append("no ast.fbank in IPET_PROFILE output: model-only time unknown")
    else:
        row["notes"].append(f"`ipet bench throughput` does not take {variant.flags[0]}: no per-clip timing")
    cmd = [ipet, "predict", "--backbone", backbone, "--logits", "--quiet", "--threads", str(args.threads),
           *variant.flags, spec.clip]
    print(f"[ipet] whole process: {' '.join(rel(Path(c)) if isinstance(c, Path) else c for c in cmd)} "
          f"({args.process_runs} runs)", flush=True)
    proc = process_runs(cmd, args.process_runs, warmup=not args.quick)
    row.update(process_s=proc["process_s"], rss_mb=proc["rss_mb"], logits=parse_ipet_json(proc["stdout"])["logits"])
    return row


def retime_python(row: dict, spec: Spec, args) -> None:
    """Another round of a Python engine's timing worker, appended to the row's figures."""
    m = run_measured(worker_cmd("time", spec, args, row["key"]))
    if m.returncode != 0:
        raise RuntimeError(f"{row['key']} worker exited {m.returncode}:\n{m.stderr[-3000:]}")
    timing = parse_emitted(m.stdout)
    row["round_model_s"].append(timing["model_s"])
    row["model_s"] += timing["model_s"]
    row["feature_s"] += timing["feature_s"]


def retime_ipet(row: dict, spec: Spec, ipet: Path, backbone: Path, args) -> None:
    """Another round of `ipet bench throughput` for an ipet row, appended to its figures."""
    thr = ipet_throughput(ipet, backbone, spec.clip_seconds, row["flags"], args.repeats, args.threads)
    row["features_model_s"] += thr["per_clip_s"]
    model = ipet_model_times(row, thr["per_clip_s"])
    row["round_model_s"].append(model)
    row["model_s"] += model


def bench_rounds(spec: Spec, rows: list[dict], ipet: Path | None, backbones: dict, args) -> None:
    """Rounds 2..--rounds of every timed row (round 1 is the first measurement), alternating the order."""
    timed = [r for r in rows if r.get("available") and r.get("model_s")]
    for r in timed:
        r["round_model_s"] = [list(r["model_s"])]
    for n in range(2, args.rounds + 1):
        print(f"[round {n}/{args.rounds}]", flush=True)
        for r in (timed if n % 2 else list(reversed(timed))):
            if r["key"] in PY_ENGINES:
                retime_python(r, spec, args)
            else:
                retime_ipet(r, spec, ipet, backbones[r["key"]], args)


def fma_peak(ipet: Path | None, threads: int) -> float | None:
    """`ipet bench peak` at `threads` threads (GFLOP/s), or None without a binary that has it."""
    if ipet is None or "peak" not in ipet_help(ipet, "bench"):
        return None
    out = subprocess.run([str(ipet), "bench", "peak", "--threads", str(threads)], capture_output=True, text=True)
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()[:1].isdigit()]
    return float(rows[-1][1]) if out.returncode == 0 and rows else None


def bench_packs(spec: Spec, ipet: Path, backbone: Path, variant: IpetVariant, args) -> dict:
    """ipet per-clip seconds with one pack and with three (same backbone, `bench throughput --pack`), one after the
    other in each of --rounds rounds; the ratio of each round and of the pooled medians."""
    one, three, per_round = [], [], []
    for n in range(args.rounds):
        a = ipet_throughput(ipet, backbone, spec.clip_seconds, variant.flags, args.repeats, args.threads,
                            spec.packs()[:1])["per_clip_s"]
        b = ipet_throughput(ipet, backbone, spec.clip_seconds, variant.flags, args.repeats, args.threads,
                            spec.packs())["per_clip_s"]
        one += a
        three += b
        per_round.append(statistics.median(b) / statistics.median(a))
    return {"engine": variant.label, "one_pack_s": one, "three_packs_s": three, "round_ratios": per_round,
            "ratio_median": statistics.median(three) / statistics.median(one)}


def bench_model(spec: Spec, ipet: Path | None, args) -> dict:
    print(f"\n=== {spec.title}", flush=True)
    subprocess.run(worker_cmd("prepare", spec, args), check=True)
    peaks = [fma_peak(ipet, args.threads)]
    rows = [bench_python(spec, e, args) for e in PY_ENGINES]
    result = {"title": spec.title, "prepared": json.loads(spec.meta.read_text()), "rows": rows}
    if ipet is None:
        rows.append({"engine": "ipet", "key": "ipet", "available": False,
                     "notes": [f"no ipet binary at {rel(args.ipet)} (build it, or pass --build / --ipet)"]})
        bench_rounds(spec, rows, None, {}, args)
        return result
    backbone = convert_for_ipet(ipet, spec)
    variants, caps = ipet_variants(ipet)
    result["ipet_options"] = caps
    backbones = {}
    for v in variants:
        if v.int8_file and v.flags is not None:
            int8_file = convert_for_ipet(ipet, spec, int8=True)
            result["file_bytes"] = {"f32": backbone.stat().st_size, "int8": int8_file.stat().st_size}
            backbones[v.key] = int8_file
        else:
            backbones[v.key] = backbone
        rows.append(bench_ipet(spec, ipet, backbones[v.key], v, caps, args))
    bench_rounds(spec, rows, ipet, backbones, args)
    peaks.append(fma_peak(ipet, args.threads))
    result["fma_peak_gflops"] = max((p for p in peaks if p), default=None)
    if spec.packs():
        f32 = next(v for v in variants if v.flags is not None)  # oneDNN when available, else the built-in GEMM
        try:
            result["packs"] = bench_packs(spec, ipet, backbone, f32, args)
        except RuntimeError as e:
            result["packs"] = {"error": str(e)[-500:]}
    return result


# ----------------------------------------------------------------------------------------------------------------------
# report


def stats(xs) -> tuple[float, float] | None:
    return (min(xs), statistics.median(xs)) if xs else None


def add_derived(result: dict) -> None:
    """Best / median of each figure, the logit differences and the ratios to ONNX Runtime f32, in place."""
    rows = {r["key"]: r for r in result["rows"]}
    ref = rows["torch-f32"]["logits"]
    for r in result["rows"]:
        if not r["available"]:
            continue
        r["model"] = stats(r.get("model_s"))
        if "feature_s" in r:
            f = stats(r["feature_s"])
            r["features_model"] = (f[0] + r["model"][0], f[1] + r["model"][1])
        else:
            r["features_model"] = stats(r.get("features_model_s"))
        r["process"] = statistics.median(r["process_s"]) if r.get("process_s") else None
        r["max_logit_diff"] = max_abs(r["logits"], ref) if "logits" in r else None
    ort = rows["ort-f32"]
    flops, peak = result["prepared"].get("model_flops"), result.get("fma_peak_gflops")
    for r in result["rows"]:
        if r["available"]:
            r["ratio_model"] = ratio(r.get("model"), ort["model"])
            r["ratio_features_model"] = ratio(r.get("features_model"), ort["features_model"])
            r["gflops"] = flops / r["model"][1] / 1e9 if flops and r.get("model") else None
            r["peak_share"] = r["gflops"] / peak if r["gflops"] and peak and is_float32(r) else None


def is_float32(row: dict) -> bool:
    return "f32" in row["key"] and "int8" not in row["key"]


def round_medians(row: dict) -> list[float]:
    return [statistics.median(x) for x in row.get("round_model_s", [])]


def round_ratios(row: dict, others: list[dict]) -> list[float]:
    """Per round: the row's median model time over the fastest of `others` in the same round."""
    mine, theirs = round_medians(row), [round_medians(o) for o in others]
    if not mine or any(len(t) != len(mine) for t in theirs):
        return []
    return [m / min(t[i] for t in theirs) for i, m in enumerate(mine)]


def ratio(a, b) -> float | None:
    return a[1] / b[1] if a and b else None


def fmt_pair(p, approx=False) -> str:
    return "-" if not p else ("~" if approx else "") + f"{p[0]:.3f}/{p[1]:.3f}"


def fmt(x, spec=".3f") -> str:
    return "-" if x is None else format(x, spec)


def print_table(result: dict) -> None:
    print(f"\n{result['title']}")
    head = (f"{'engine':28s} {'model s':>15s} {'feat+model s':>15s} {'process s':>9s} {'RSS MB':>7s} "
            f"{'max|dlogit|':>11s} {'/ORT f32':>8s} {'/ORT f32':>8s} {'GFLOP/s':>8s} {'%peak':>6s}")
    sub = (f"{'':28s} {'best/median':>15s} {'best/median':>15s} {'median':>9s} {'peak':>7s} {'vs PT f32':>11s} "
           f"{'model':>8s} {'f+model':>8s} {'model':>8s} {'f32':>6s}")
    print(head)
    print(sub)
    print("-" * len(head))
    for r in result["rows"]:
        if not r["available"]:
            print(f"{r['engine']:28s} not available ({'; '.join(r['notes'])})")
            continue
        print(f"{r['engine']:28s} {fmt_pair(r['model'], r.get('model_s_approx', False)):>15s} "
              f"{fmt_pair(r['features_model']):>15s} {fmt(r['process'], '.2f'):>9s} {fmt(r.get('rss_mb'), '.0f'):>7s} "
              f"{fmt(r['max_logit_diff'], '.3g'):>11s} {fmt(r['ratio_model'], '.2f'):>8s} "
              f"{fmt(r['ratio_features_model'], '.2f'):>8s} {fmt(r.get('gflops'), '.1f'):>8s} "
              f"{fmt(r['peak_share'] * 100 if r.get('peak_share') else None, '.0f'):>6s}")
    for r in result["rows"]:
        notes = [n for n in r.get("notes", []) if r["available"]]
        if "fbank_mean_s" in r:
            notes.append(f"model s = decode+features+model minus ipet's profiled fbank ({r['fbank_mean_s']:.3f} s)")
        if r.get("model_s_approx"):
            notes.append("~: ipet does not time its waveform normalisation apart: model s = decode+features+model")
        if notes:
            print(f"  {r['engine']}: {'; '.join(notes)}")
    if "file_bytes" in result:
        fb = result["file_bytes"]
        print(f"  ipet files: float32 {fb['f32'] / 1e6:.1f} MB, int8 {fb['int8'] / 1e6:.1f} MB "
              f"({fb['int8'] / fb['f32']:.3f}x)")
    if result.get("fma_peak_gflops") or result["prepared"].get("model_flops"):
        print(f"  model forward {fmt(result['prepared'].get('model_flops', 0) / 1e9 or None, '.1f')} GFLOP per clip; "
              f"float32 FMA peak at these threads (ipet bench peak) {fmt(result.get('fma_peak_gflops'), '.1f')} GFLOP/s")
    p = result["prepared"]
    print(f"  ONNX export: opset {p.get('onnx_opset')}, ORT f32 vs PyTorch f32 at export "
          f"{fmt(p.get('onnx_f32_vs_torch'), '.3g')}")


def acceptance(results: dict) -> list[str]:
    lines = []
    for name, result in results.items():
        rows = {r["key"]: r for r in result["rows"]}
        f32 = next((rows[k] for k in ("ipet-f32-onednn", "ipet-f32-openblas") if rows.get(k, {}).get("available")),
                   None)
        ort = rows["ort-f32"]
        if f32:
            per_round = round_ratios(f32, [ort])
            lines.append(f"{name}: {f32['engine']} / ONNX Runtime f32 (medians): model {fmt(f32.get('ratio_model'), '.2f')}, "
                         f"features+model {fmt(f32.get('ratio_features_model'), '.2f')}, whole process "
                         f"{fmt(f32['process'] / ort['process'] if f32.get('process') else None, '.2f')}"
                         + (f"; model, round by round: {', '.join(f'{x:.2f}' for x in per_round)}" if len(per_round) > 1 else ""))
        else:
            lines.append(f"{name}: ipet f32 / ONNX Runtime f32: not available (no ipet binary)")
        peers = [rows[k] for k in ("torch-int8", "ort-int8")]
        i8 = rows.get("ipet-int8")
        if i8 and i8["available"] and i8.get("model"):
            parts = []
            for what, key in (("model", "model"), ("features+model", "features_model")):
                best = min(peers, key=lambda r: r[key][1])
                parts.append(f"{what} {i8[key][1] / best[key][1]:.2f} (vs {best['engine']})")
            per_round = round_ratios(i8, peers)
            lines.append(f"{name}: ipet int8 / fastest int8 peer (medians): {', '.join(parts)}"
                         + (f"; model, round by round: {', '.join(f'{x:.2f}' for x in per_round)}" if len(per_round) > 1 else ""))
        else:
            why = "; ".join(i8["notes"]) if i8 else "no ipet binary"
            lines.append(f"{name}: ipet int8 / fastest int8 peer: not available ({why})")
        if "file_bytes" in result:
            fb = result["file_bytes"]
            lines.append(f"{name}: ipet int8 file / float32 file: {fb['int8'] / fb['f32']:.3f}")
        if "packs" in result:
            pk = result["packs"]
            if "error" in pk:
                lines.append(f"{name}: three packs / one pack per clip: failed ({pk['error']})")
            else:
                lines.append(f"{name}: three packs / one pack per clip ({pk['engine']}, medians "
                             f"{statistics.median(pk['three_packs_s']):.3f} / {statistics.median(pk['one_pack_s']):.3f} s)"
                             f": {pk['ratio_median']:.2f}"
                             + (f"; round by round: {', '.join(f'{x:.2f}' for x in pk['round_ratios'])}"
                                if len(pk.get('round_ratios', [])) > 1 else ""))
        elif name == "wav2vec2":
            lines.append(f"{name}: three packs / one pack per clip: skipped (no ipet binary)")
    return lines


def cpu_line() -> str:
    flags, model = set(), "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
    have = [f for f in ISA_FLAGS if f in flags or (f == "amx" and any(x.startswith("amx") for x in flags))]
    missing = [f for f in ISA_FLAGS if f not in have]
    return f"{model}, {os.cpu_count()} CPUs; ISA: {' '.join(have) or '-'} (absent: {' '.join(missing) or '-'})"


def header(ipet: Path | None, args) -> dict:
    v = versions(("torch", "onnxruntime", "onnx", "transformers", "soundfile"))
    ipet_version = "not available"
    if ipet is not None:
        out = subprocess.run([str(ipet), "--version"], capture_output=True, text=True).stdout.splitlines()
        ipet_version = out[0] if out else "?"
    h = {"cpu": cpu_line(), "versions": v, "ipet": ipet_version, "ipet_path": str(ipet) if ipet else None,
         "threads": args.threads, "repeats": args.repeats, "rounds": args.rounds, "process_runs": args.process_runs,
         "loadavg_start": os.getloadavg()}
    print(f"CPU: {h['cpu']}")
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + f"; {ipet_version} ({rel(ipet) if ipet else '-'})")
    print(f"threads {args.threads} for every engine; {args.repeats} repeats after a warm-up, {args.rounds} round(s); whole process: median of "
          f"{args.process_runs}{'' if args.quick else ' after a warm-up run'}; load average at start "
          f"{' '.join(f'{x:.2f}' for x in h['loadavg_start'])}")
    return h


def resolve_ipet(args) -> Path | None:
    ipet = args.ipet
    if not ipet.exists() and args.build and ipet.resolve() == DEFAULT_IPET.resolve():
        build_swift(("--product", "ipet"))
    if not ipet.exists():
        print(f"[ipet] {ipet} not found: the ipet rows are skipped (build with --build, or pass --ipet)",
              file=sys.stderr)
        return None
    return ipet.absolute()


def main() -> int:
    ap = argparse.ArgumentParser(description="ipet vs PyTorch and ONNX Runtime (float32 and int8) on full-size AST and "
                                             "wav2vec 2.0: per-clip time, whole process, RSS, int8 error")
    ap.add_argument("--models", default="ast,wav2vec2", help="comma-separated: ast, wav2vec2")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per engine after a warm-up (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="timing rounds over all engines, order alternating (default 3)")
    ap.add_argument("--process-runs", type=int, default=3, help="whole-process runs per engine (median; default 3)")
    ap.add_argument("--ipet", type=Path, default=DEFAULT_IPET, help="ipet binary (default .build/release/ipet)")
    ap.add_argument("--build", action="store_true", help="swift build -c release --product ipet if --ipet is missing")
    ap.add_argument("--threads", type=int, default=2, help="threads for every engine (default 2)")
    ap.add_argument("--quick", action="store_true", help="1 repeat, 1 process run, no warm-up run (checks the script)")
    ap.add_argument("--json", type=Path, help="also write every number here")
    ap.add_argument("--worker", choices=["prepare", "time", "oneshot"], help=argparse.SUPPRESS)
    ap.add_argument("--engine", choices=list(PY_ENGINES), help=argparse.SUPPRESS)
    args = ap.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if unknown := [m for m in models if m not in SPECS]:
        ap.error(f"unknown model(s) {unknown}: choose from {', '.join(SPECS)}")
    if args.worker:
        args.model = models[0]
        return worker_prepare(args) if args.worker == "prepare" else worker_engine(args)
    if args.quick:
        args.repeats, args.process_runs, args.rounds = 1, 1, 1
    if args.repeats < 1 or args.process_runs < 1 or args.threads < 1 or args.rounds < 1:
        ap.error("--repeats, --rounds, --process-runs and --threads must be positive")
    env_quiet()

    ipet = resolve_ipet(args)
    results = {"header": header(ipet, args), "models": {}}
    for name in models:
        results["models"][name] = bench_model(SPECS[name], ipet, args)
        add_derived(results["models"][name])
    print("\n" + "=" * 100)
    print(f"Results ({args.threads} threads; times in seconds per clip unless stated; load average at end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    for result in results["models"].values():
        print_table(result)
    results["acceptance"] = acceptance(results["models"])
    results["header"]["loadavg_end"] = os.getloadavg()
    print("\nacceptance ratios (< 1: ipet faster):")
    for line in results["acceptance"]:
        print(f"  {line}")
    if args.json:
        write_json(args.json, results)
        print(f"\nnumbers written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
