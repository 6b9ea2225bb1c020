"""Shared parts of the manual full-size parity and speed checks against the Swift `ipet` tool
(tools/ast_fullsize_check.py, tools/wav2vec2_fullsize_check.py; never run in CI).

- `add_arguments()`: the options both scripts take (--no-build, --swift-bin, --threads, --repeat, --atol, --keep,
  --skip-swift, --no-fp64); `work_folder()`: --keep or a temporary folder removed afterwards.
- `write_pcm16_clip()`: a 16 kHz PCM16 WAV clip, decoded back with soundfile (libsndfile, what the Swift side reads).
- transformers timing: `times_of()` (every call's time), `best_of()`, `forward_timing()` (one warm-up, best of N),
  `reference_result()` (logits, timings and, optionally, the float32 vs float64 gap: the size of honest rounding).
- Swift: `swift_binary()` (`swift build -c release -Xswiftc -target-cpu -Xswiftc haswell` unless --no-build),
  `run_swift()` (`ipet predict --backbone DIR --logits --threads N CLIP`, one warm-up run, best wall time of N),
  `fastest_reported()` (the "seconds" timings ipet prints, when it prints them).
- `run_measured()`: one subprocess run with its wall time (start to exit) and its own peak RSS (os.wait4).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import ROOT  # noqa: E402

SR = 16000


# ----------------------------------------------------------------------------------------------------------------------
# command line and work folder


def add_arguments(ap: argparse.ArgumentParser, kept: str) -> None:
    """The options every full-size check takes; `kept` names what --keep keeps (for its help text)."""
    ap.add_argument("--no-build", action="store_true", help="do not run swift build; use the existing binary")
    ap.add_argument("--swift-bin", type=Path, default=ROOT / ".build" / "release" / "ipet")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is reported)")
    ap.add_argument("--atol", type=float, default=1e-4, help="max |logit diff| accepted (exit 1 above)")
    ap.add_argument("--keep", type=Path, help=f"write {kept} here and keep them (default: temp dir)")
    ap.add_argument("--skip-swift", action="store_true", help="only build the backbone and time transformers")
    ap.add_argument("--no-fp64", action="store_true", help="skip the float64 transformers run")


@contextlib.contextmanager
def work_folder(keep: Path | None, prefix: str):
    """`keep` (created if needed by the caller's writes), or a temporary folder that is removed afterwards."""
    work = keep or Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def write_pcm16_clip(path: Path, x: np.ndarray) -> np.ndarray:
    """Write `x` (16 kHz) as a PCM16 WAV file, clipped to [-1, 32767/32768], and return it decoded back as float32."""
    import soundfile as sf

    sf.write(str(path), np.clip(x, -1.0, 32767 / 32768), SR, subtype="PCM_16")
    data, sr = sf.read(str(path), dtype="float32")
    assert sr == SR and data.shape == (len(x),)
    return data


# ----------------------------------------------------------------------------------------------------------------------
# transformers timing


def times_of(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    """(wall time of each of `repeat` calls, result of the last call)."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """(shortest wall time of `repeat` calls, result of the last call)."""
    times, result = times_of(fn, repeat)
    return min(times, default=math.inf), result


def forward_timing(model, x, repeat: int):
    """(best time of `repeat` forwards after one warm-up, logits of the first batch item) of a classification model."""
    import torch

    def forward():
        with torch.no_grad():
            return model(x).logits[0]

    forward()  # warm-up
    return best_of(forward, repeat)


def reference_result(model, x, logits, seconds_model: float, seconds_features: float, fp64: bool) -> dict:
    """What a check keeps of the transformers run: float64 logits, the timings and (fp64) `float64_gap`."""
    out = {"logits": logits.double().numpy(), "seconds_model": seconds_model, "seconds_features": seconds_features}
    if fp64:
        out["fp32_vs_fp64"] = float64_gap(model, x, out["logits"])
    return out


def float64_gap(model, x, logits: np.ndarray) -> float:
    """Max |difference| between `logits` (the float32 run) and the same model run in float64: the size of honest
    rounding, for scale. The model is returned to float32."""
    import torch

    model.double()
    with torch.no_grad():
        l64 = model(x.double()).logits[0].numpy()
    model.float()
    gap = float(np.max(np.abs(logits - l64)))
    print(f"[transformers] float32 vs float64 logits: max |diff| {gap:.3g} (honest rounding)")
    return gap


# ----------------------------------------------------------------------------------------------------------------------
# Swift


HASWELL = ("-Xswiftc", "-target-cpu", "-Xswiftc", "haswell")


def build_swift(extra: Sequence[str] = HASWELL) -> None:
    """`swift build -c release` in the repository with `extra` arguments (default: the full-size checks' CPU target)."""
    cmd = ["swift", "build", "-c", "release", *extra]
    print(f"[swift] {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def swift_binary(args: argparse.Namespace) -> Path | None:
    """The ipet binary to time: built first unless --no-build; None (after saying so) when it does not exist."""
    if not args.no_build:
        build_swift()
    if not args.swift_bin.exists():
        print(f"[swift] {args.swift_bin} not found (build it, or pass --swift-bin)", file=sys.stderr)
        return None
    return args.swift_bin


def parse_ipet_json(stdout: str) -> dict:
    """The last JSON line with "logits" (or "error") that `ipet predict --logits` printed."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "logits" in obj or "error" in obj:
                return obj
    raise RuntimeError(f"no JSON line with 'logits' in ipet output:\n{stdout[-2000:]}")


def run_swift(binary: Path, backbone: Path, clip: Path, threads: int, repeat: int) -> dict:
    """`ipet predict --backbone BACKBONE --logits --threads THREADS CLIP`, once to warm up (page cache, mmap), then
    `repeat` timed runs of the whole subprocess. Returns the fastest run's logits, wall time, "top", "file" and
    "seconds" (as ipet printed them), and every timed run as (wall, parsed JSON)."""
    cmd = [str(binary), "predict", "--backbone", str(backbone), "--logits", "--threads", str(threads), str(clip)]
    print(f"[swift] {' '.join(cmd)}", flush=True)
    runs = []
    for i in range(repeat + 1):  # the first run is a warm-up
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"ipet exited {proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\n"
                               f"stderr:\n{proc.stderr[-2000:]}")
        parsed = parse_ipet_json(proc.stdout)
        if "error" in parsed:
            raise RuntimeError(f"ipet reported an error: {parsed['error']}")
        if i > 0:
            runs.append((wall, parsed))
    wall, parsed = min(runs, key=lambda r: r[0])
    return {"logits": np.asarray(parsed["logits"], dtype=np.float64), "wall": wall, "top": parsed.get("top"),
            "file": parsed.get("file"), "seconds": parsed.get("seconds"), "runs": runs}


def fastest_reported(swift: dict, key: str) -> float | None:
    """The smallest "seconds"[key] ipet reported over the timed runs, or None when it reports no timing object."""
    if not isinstance(swift["seconds"], dict):
        return None
    return min((parsed.get("seconds") or {}).get(key, math.inf) for _, parsed in swift["runs"])


# ----------------------------------------------------------------------------------------------------------------------
# measured subprocesses


@dataclass
class Measured:
    wall: float  # seconds from process start to exit
    max_rss_mb: float  # the child's peak resident set size, MiB
    returncode: int
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], env: dict | None = None, cwd: Path | None = None) -> Measured:
    """Run `cmd` to completion with output captured in files (no pipe limits) and return its wall time and peak RSS.
    The RSS comes from os.wait4 on this child alone (getrusage(RUSAGE_CHILDREN) would give the largest child so far)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(wall, usage.ru_maxrss / 1024, proc.returncode, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"))
