#!/usr/bin/env python3
"""Training speed: `ipet train` against tools/train_ipet.py (PyTorch) with the same settings, side by side (a
benchmark, never a test). Run it through tools/bench-train, which builds ipet in release mode first.

    tools/python-env && tools/bench-train [--tasks keywords,ast,wav2vec2] [--clips 64] [--epochs 2] [--rounds 1]

Tasks (each trained from scratch by both tools, one after the other, `--rounds` times, alternating which goes first):
- keywords  the demo keywords task (tools/make_demo.py: Fixtures/demo/backbone, the 5 000 synthesised training
            clips written as float WAV class folders, needs espeak-ng), its recipe without the mel shift (which
            train_ipet.py's command line lacks): k 4, bottleneck 32, batch 32, lr 1e-2, SpecAugment 8,10.
- ast       a full-size random AST (MIT/ast-finetuned-audioset-10-10-0.4593's configuration, built by
            tools/ast_fullsize_check.py) on --clips random 10.24 s clips (1 024 frames) in two classes.
- wav2vec2  a random wav2vec 2.0 base (tools/wav2vec2_fullsize_check.py) on --clips random clips of --w2v-seconds
            seconds in two classes.
Full-size runs use IPET's defaults (k 4, bottleneck 32, batch 8, lr 1e-3, no augmentation), the backbone's
normalisation statistics (--stats backbone, train_ipet.py's default) and no validation.

Reported per run: seconds of each epoch as the tool itself prints them (ipet: the epoch loop, after decoding and
caching the frozen features; train_ipet.py: the epoch loop, whose first epoch also computes the fbanks it then
caches), the whole process's wall time and peak RSS. The ratio uses the last epoch (steady state) of the fastest
round. Both tools get --threads (default 2). The machine may be shared: rounds interleave the tools so that load
changes hit both; run more rounds when it is noisy.

Backbones and clips are kept under tools/.cache/bench-train/ (git-ignored); delete it to rebuild.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import CACHE, ROOT, env_quiet  # noqa: E402

env_quiet()

WORK = CACHE / "bench-train"
PYTHON = sys.executable
SR = 16000


def log(msg: str) -> None:
    print(f"[bench-train {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------------------
# backbones and data


def full_size_backbone(kind: str) -> Path:
    """tools/{ast,wav2vec2}_fullsize_check.py's random full-size backbone, built once."""
    out = WORK / kind / "hf"
    done = out / ".complete"
    if not done.exists():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        log(f"{kind}: building the random full-size backbone in {out}")
        if kind == "ast":
            import ast_fullsize_check as check

            check.build_backbone(out)
        else:
            import wav2vec2_fullsize_check as check

            check.build_backbone(out, legacy_names=True)  # as tools/bench_peers.py
        done.touch()
    return out


def random_clips(kind: str, clips: int, seconds: float) -> Path:
    """`clips` noisy chirps (two classes: rising and falling) of `seconds` s as PCM16 WAV class folders."""
    from scipy.signal import chirp
    import soundfile as sf

    folder = WORK / kind / f"clips-{clips}x{seconds:g}s"
    if folder.exists():
        return folder
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    rng = np.random.default_rng(2024)
    n = int(round(seconds * SR))
    t = np.arange(n) / SR
    for i in range(clips):
        label = ("rising", "falling")[i % 2]
        f0, f1 = rng.uniform(100, 400), rng.uniform(3000, 6000)
        if label == "falling":
            f0, f1 = f1, f0
        x = 0.3 * chirp(t, f0=f0, t1=seconds, f1=f1, method="logarithmic") + 0.05 * rng.standard_normal(n)
        (tmp / label).mkdir(parents=True, exist_ok=True)
        sf.write(str(tmp / label / f"{i:03d}.wav"), np.clip(x, -1, 32767 / 32768), SR, subtype="PCM_16")
    tmp.rename(folder)
    return folder


def keywords_folder() -> Path:
    import demo_data as data
    import make_demo

    seed, work, espeak = make_demo.RECIPE["seed"], CACHE / "demo", data.espeak_version()
    folder = work / f"keywords-train-{make_demo.data_key(seed, espeak)}"  # as make_demo.training_folder names it
    if folder.exists():
        return folder
    return make_demo.training_folder("keywords", make_demo.make_data(seed, work, False, espeak), seed, work)


# ----------------------------------------------------------------------------------------------------------------------
# runs


def run_measured(cmd: list[str]) -> tuple[int, str, float, float]:
    """-> (exit status, standard error, wall seconds, peak RSS in MB) of one subprocess."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err, time.perf_counter() - t0, usage.ru_maxrss / 1024


def ipet_epochs(stderr: str) -> list[float]:
    return [float(m.group(1)) for m in re.finditer(r"^epoch \d+/\d+: .*, ([0-9.]+) s$", stderr, re.M)]


def torch_epochs(stderr: str) -> list[float]:
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("{") and '"seconds"' in line:
            out.append(float(json.loads(line)["seconds"]))
    return out


def commands(task: dict, ipet: Path, threads: int, out: Path) -> dict[str, list[str]]:
    s = task["settings"]
    ipet_cmd = [str(ipet), "train", "--backbone", str(task["backbone"]), "--data", str(task["data"]),
                "--out", str(out / "ipet.ipet"), "--epochs", str(s["epochs"]), "--batch-size", str(s["batch_size"]),
                "--lr", str(s["lr"]), "--prompts", str(s["k"]), "--bottleneck", str(s["bottleneck"]),
                "--threads", str(threads), "--stats", "backbone"]
    torch_cmd = [PYTHON, str(ROOT / "tools" / "train_ipet.py"), "--backbone", str(task["backbone"]),
                 "--data", str(task["data"]), "--out", str(out / "torch.ipet"), "--epochs", str(s["epochs"]),
                 "--batch-size", str(s["batch_size"]), "--lr", str(s["lr"]), "--k", str(s["k"]),
                 "--bottleneck", str(s["bottleneck"]), "--threads", str(threads), "--stats", "backbone"]
    if "max_length" in s:
        ipet_cmd += ["--max-length", str(s["max_length"])]
        torch_cmd += ["--max-length", str(s["max_length"])]
    if s.get("spec_augment"):
        f, t = s["spec_augment"]
        ipet_cmd += ["--spec-augment", f"{f},{t}"]
        torch_cmd += ["--freqm", str(f), "--timem", str(t)]
    return {"ipet": ipet_cmd, "pytorch": torch_cmd}


def bench(task: dict, ipet: Path, threads: int, rounds: int) -> dict:
    out = WORK / "runs" / task["name"]
    out.mkdir(parents=True, exist_ok=True)
    cmds = commands(task, ipet, threads, out)
    runs = {"ipet": [], "pytorch": []}
    for r in range(rounds):
        order = ["ipet", "pytorch"] if r % 2 == 0 else ["pytorch", "ipet"]
        for tool in order:
            log(f"{task['name']}: round {r + 1}/{rounds}, {tool}: {' '.join(cmds[tool])}")
            status, err, wall, rss = run_measured(cmds[tool])
            if status != 0:
                raise SystemExit(f"{tool} failed ({status}):\n{err[-3000:]}")
            epochs = ipet_epochs(err) if tool == "ipet" else torch_epochs(err)
            if len(epochs) != task["settings"]["epochs"]:
                raise SystemExit(f"{tool}: expected {task['settings']['epochs']} epoch lines, found {epochs}:\n{err[-3000:]}")
            rec = {"epoch_seconds": epochs, "wall_seconds": round(wall, 1), "peak_rss_mb": round(rss)}
            log(f"{task['name']}: {tool}: epochs {epochs} s, wall {wall:.1f} s, peak RSS {rss:.0f} MB")
            runs[tool].append(rec)
    best = {tool: min(r["epoch_seconds"][-1] for r in recs) for tool, recs in runs.items()}
    return {"task": task["name"], "description": task["description"], "settings": task["settings"],
            "commands": {k: " ".join(v) for k, v in cmds.items()}, "runs": runs,
            "last_epoch_seconds": best, "ratio_ipet_over_pytorch": round(best["ipet"] / best["pytorch"], 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ipet", type=Path, default=ROOT / ".build" / "release" / "ipet")
    ap.add_argument("--tasks", default="keywords,ast,wav2vec2")
    ap.add_argument("--clips", type=int, default=64, help="clips of the full-size tasks (default 64)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs of every task (default 2: the second is warm)")
    ap.add_argument("--w2v-seconds", type=float, default=4.0, help="wav2vec 2.0 clip length (default 4 s)")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each tool per task, interleaved")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if not args.ipet.exists():
        raise SystemExit(f"{args.ipet}: no ipet binary (swift build -c release, or tools/bench-train)")

    full = {"epochs": args.epochs, "batch_size": 8, "lr": 1e-3, "k": 4, "bottleneck": 32}
    tasks = []
    for name in args.tasks.split(","):
        if name == "keywords":
            import make_demo

            h = make_demo.RECIPE["keywords"]
            tasks.append({"name": "keywords", "backbone": ROOT / "Fixtures" / "demo" / "backbone", "data": keywords_folder(),
                          "description": "demo keywords task (tiny AST, 5 000 clips of 1 s)",
                          "settings": {"epochs": args.epochs, "batch_size": h["batch_size"], "lr": h["lr"], "k": h["k"],
                                       "bottleneck": h["bottleneck"], "max_length": make_demo.MAX_LENGTH,
                                       "spec_augment": [h["freqm"], h["timem"]]}})
        elif name == "ast":
            tasks.append({"name": "ast", "backbone": full_size_backbone("ast"), "data": random_clips("ast", args.clips, 10.24),
                          "description": f"full-size random AST, {args.clips} clips of 10.24 s (1 024 frames)",
                          "settings": dict(full, max_length=1024)})
        elif name == "wav2vec2":
            tasks.append({"name": "wav2vec2", "backbone": full_size_backbone("wav2vec2"),
                          "data": random_clips("wav2vec2", args.clips, args.w2v_seconds),
                          "description": f"random wav2vec 2.0 base, {args.clips} clips of {args.w2v_seconds:g} s",
                          "settings": dict(full)})
        else:
            raise SystemExit(f"--tasks: unknown task {name!r} (keywords, ast, wav2vec2)")

    results = [bench(t, args.ipet, args.threads, args.rounds) for t in tasks]
    print(f"{'task':<10} {'ipet s/epoch':>13} {'PyTorch s/epoch':>16} {'ipet/PyTorch':>13}  peak RSS ipet / PyTorch")
    for r in results:
        rss = {tool: max(x["peak_rss_mb"] for x in runs) for tool, runs in r["runs"].items()}
        print(f"{r['task']:<10} {r['last_epoch_seconds']['ipet']:>13.1f} {r['last_epoch_seconds']['pytorch']:>16.1f} "
              f"{r['ratio_ipet_over_pytorch']:>12.2f}x  {rss['ipet']} MB / {rss['pytorch']} MB")
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
