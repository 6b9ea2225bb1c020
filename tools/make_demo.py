#!/usr/bin/env python3
"""Regenerates the bundled demo under Fixtures/demo/: synthetic data -> a tiny pretrained AST backbone -> two IPET
packs (keywords, sounds) and their head-only baselines -> held-out clips and manifests -> Swift engine check ->
README figures.

    tools/python-env && .venv-tools/bin/python tools/make_demo.py            # everything (~10-15 min on 2 cores)
    .venv-tools/bin/python tools/make_demo.py --ipet .build/release/ipet     # use an already built ipet
    .venv-tools/bin/python tools/make_demo.py --skip-swift                   # Python only (README says so)
    .venv-tools/bin/python tools/make_demo.py --trainer ipet --backbone-from Fixtures/demo/backbone --out /tmp/demo-ipet
                                                                            # packs trained by `ipet train` instead
    .venv-tools/bin/python tools/make_demo.py --trainer ipet --backbone-from Fixtures/demo/backbone --out /tmp/x \
        --tasks sounds --modes ipet --train-seed 2                         # one pack, another training seed, same data

Needs espeak-ng (Debian: `sudo apt-get install espeak-ng`), the reference Python environment (tools/python-env) and,
for the Swift figures, a Swift toolchain (the script builds `ipet` in release mode unless --ipet is given).

Stages (each prints its wall time; the data stage is cached in tools/.cache/demo/ keyed by its parameters, so a
second run with the same seed skips synthesis unless --fresh):
1. data      tools/demo_data.py: pretraining set, keyword / sound training sets, held-out sets, demo clips
2. backbone  tiny AST (ASTForAudioClassification, all weights trained) on the pretraining task; saved with
             save_pretrained + preprocessor_config.json (mean / std of the pretraining fbanks)
3. packs     tools/train_ipet.train on the frozen backbone (or, with --trainer ipet, `ipet train` with the same recipe
             on the training clips written as float WAV class folders): IPET (deep prompts + parallel adapters + head)
             and the head-only baseline (LayerNorm + linear on the pooled output), exported as packs (F16 when that
             keeps the held-out accuracy), evaluated in Python on the FLAC files exactly as written
4. swift     `ipet eval --json` of every pack on its held-out manifest and of the demo clips
5. readme    Fixtures/demo/README.md and results.json

Determinism: every clip comes from its own seeded Generator; torch is seeded per stage, runs with a fixed thread
count (--threads, default 2) and torch.use_deterministic_algorithms(True). Same machine + same thread count gives
identical files; other CPUs / BLAS builds / espeak-ng versions give slightly different floats (see README).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import ROOT, CACHE, dir_size, env_quiet, kaldi_fbank, versions, write_json  # noqa: E402

env_quiet()

import demo_data as data  # noqa: E402

OUT = ROOT / "Fixtures" / "demo"
MAX_LENGTH = 100  # frames (10 ms): a 1 s clip gives 98 fbank frames
NUM_MEL_BINS = 64

# the recipe (all in one place so the README and results.json can quote it)
RECIPE = {
    "seed": 1234,
    "sizes": {"pretrain_per_word": 120, "pretrain_per_sound": 150, "keywords_train_per_word": 500,
              "sounds_train_per_class": 300, "keywords_heldout_per_word": 15, "sounds_heldout_per_class": 15,
              "demo_keywords": 10, "demo_sounds": 10},
    "backbone": {"hidden_size": 96, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 192,
                 "patch_size": 16, "frequency_stride": 10, "time_stride": 10, "num_mel_bins": NUM_MEL_BINS,
                 "max_length": MAX_LENGTH},
    "pretrain": {"epochs": 30, "batch_size": 64, "lr": 2e-3, "weight_decay": 0.02, "warmup_epochs": 1,
                 "label_smoothing": 0.1, "freqm": 8, "timem": 10},
    # per task: the IPET pack's recipe; the head-only baseline uses the same one with k = 0 and no adapters
    "keywords": {"k": 4, "bottleneck": 32, "epochs": 30, "batch_size": 32, "lr": 1e-2, "milestones": "6-29",
                 "gamma": 0.85, "freqm": 8, "timem": 10, "freq_shift": 3},
    "sounds": {"k": 8, "bottleneck": 64, "epochs": 40, "batch_size": 32, "lr": 1e-2, "milestones": "8-39",
               "gamma": 0.9, "freqm": 0, "timem": 10, "freq_shift": 4},
}


def log(msg: str) -> None:
    print(f"[make_demo {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def set_torch(threads: int):
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch


# ----------------------------------------------------------------------------------------------------------------------
# 1. data


def data_key(seed: int, espeak: str) -> str:
    blob = json.dumps({"seed": seed, "sizes": RECIPE["sizes"], "espeak": espeak,
                       "code": hashlib.sha256(Path(data.__file__).read_bytes()).hexdigest()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def make_data(seed: int, work: Path, fresh: bool, espeak: str) -> dict[str, list[data.Item]]:
    s = RECIPE["sizes"]
    cache = work / f"data-{data_key(seed, espeak)}.npz"
    if cache.exists() and not fresh:
        z = np.load(cache, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        out = {}
        for name, items in meta.items():
            waves = z[f"{name}.waves"]  # each z[...] access decodes the whole array: once per set
            out[name] = [data.Item(lab, waves[i], info) for i, (lab, info) in enumerate(items)]
        log(f"data: cached {cache.name} ({', '.join(f'{k} {len(v)}' for k, v in out.items())})")
        return out
    t0 = time.time()
    sets = {
        "pretrain": lambda: data.pretrain_items(seed, s["pretrain_per_word"], s["pretrain_per_sound"]),
        "keywords-train": lambda: data.keyword_items(seed, "train", s["keywords_train_per_word"]),
        "keywords-heldout": lambda: data.keyword_items(seed, "heldout", s["keywords_heldout_per_word"]),
        "keywords-demo": lambda: data.keyword_items(seed, "demo", 1),
        "sounds-train": lambda: data.sound_items(seed, "train", s["sounds_train_per_class"]),
        "sounds-heldout": lambda: data.sound_items(seed, "heldout", s["sounds_heldout_per_class"]),
        "sounds-demo": lambda: data.sound_items(seed, "demo", 2),
    }
    out = {}
    for name, fn in sets.items():
        t = time.time()
        out[name] = fn()
        log(f"data: {name}: {len(out[name])} clips in {time.time() - t:.1f} s")
    # demo sounds: one clip of each class, then the first classes again
    sd = out["sounds-demo"]
    by_class = [sd[2 * i] for i in range(len(data.SOUNDS))] + [sd[2 * i + 1] for i in range(len(data.SOUNDS))]
    out["sounds-demo"] = by_class[:s["demo_sounds"]]
    work.mkdir(parents=True, exist_ok=True)
    arrays = {f"{k}.waves": np.stack([it.wave for it in v]) for k, v in out.items()}
    meta = {k: [(it.label, it.info) for it in v] for k, v in out.items()}
    np.savez(cache, meta=json.dumps(meta), **arrays)
    log(f"data: {sum(len(v) for v in out.values())} clips in {time.time() - t0:.1f} s (cached as {cache.name})")
    return out


def write_flac(path: Path, wave: np.ndarray) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, data.RATE, format="FLAC", subtype="PCM_16")


def write_clips(sets: dict[str, list[data.Item]]) -> dict[str, Path]:
    """Held-out FLAC files + manifests and the demo folder. Returns {task: manifest}."""
    for sub in ("heldout", "clips"):
        if (OUT / sub).exists():
            shutil.rmtree(OUT / sub)
    manifests = {}
    for task in ("keywords", "sounds"):
        rows = []
        counts: dict[str, int] = {}
        for it in sets[f"{task}-heldout"]:
            n = counts[it.label] = counts.get(it.label, 0) + 1
            rel = f"heldout/{task}/{it.label}_{n:02d}.flac"
            write_flac(OUT / rel, it.wave)
            rows.append((rel, it.label))
        m = OUT / f"heldout-{task}.csv"
        with open(m, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["path", "label"])
            w.writerows(rows)
        manifests[task] = m
    demo_rows = []
    for task in ("keywords", "sounds"):
        counts = {}
        for it in sets[f"{task}-demo"]:
            n = counts[it.label] = counts.get(it.label, 0) + 1
            rel = f"clips/{task}/{it.label}{'' if n == 1 else f'-{n}'}.flac"
            write_flac(OUT / rel, it.wave)
            demo_rows.append((rel, it.label, task))
    # the demo folder's answers, for the demo accuracy check (kept out of clips/ so `predict clips/` sees only audio)
    with open(OUT / "clips-labels.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "label", "task"])
        w.writerows(demo_rows)
    return manifests


def read_manifest(path: Path) -> tuple[list[np.ndarray], list[str], list[str]]:
    from train_ipet import read_audio

    waves, labels, files = [], [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            waves.append(read_audio(path.parent / row["path"]))
            labels.append(row["label"])
            files.append(row["path"])
    return waves, labels, files


# ----------------------------------------------------------------------------------------------------------------------
# 2. backbone


def fbank(kaldi, wave: np.ndarray):
    import torch

    return torch.from_numpy(kaldi_fbank(kaldi, wave, NUM_MEL_BINS))


def inputs(kaldi, waves, mean: float, std: float):
    """[N, MAX_LENGTH, mel] like ASTFeatureExtractor: zero-pad / truncate the fbank, then (x - mean) / (2 std)."""
    import torch

    out = torch.zeros(len(waves), MAX_LENGTH, NUM_MEL_BINS)
    for i, w in enumerate(waves):
        fb = fbank(kaldi, w)[:MAX_LENGTH]
        out[i, :fb.shape[0]] = fb
    return (out - mean) / (2 * std)


def spec_augment_(x, freqm: int, timem: int, gen):
    import torch

    b, t, f = x.shape
    fw = torch.randint(0, freqm, (b,), generator=gen)
    fs = (torch.rand(b, generator=gen) * (f - fw)).long()
    tw = torch.randint(0, timem, (b,), generator=gen)
    ts = (torch.rand(b, generator=gen) * (t - tw)).long()
    fr = torch.arange(f)[None]
    tr = torch.arange(t)[None]
    fmask = (fr >= fs[:, None]) & (fr < (fs + fw)[:, None])
    tmask = (tr >= ts[:, None]) & (tr < (ts + tw)[:, None])
    x.masked_fill_(fmask[:, None, :], 0.0)
    x.masked_fill_(tmask[:, :, None], 0.0)
    return x


def make_backbone(items: list[data.Item], kaldi, seed: int, out_dir: Path) -> dict:
    import math

    import torch
    import torch.nn.functional as F
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    p = RECIPE["pretrain"]
    classes = data.PRETRAIN_WORDS + data.PRETRAIN_SOUNDS
    y = torch.tensor([classes.index(it.label) for it in items])
    t0 = time.time()
    fbs = [fbank(kaldi, it.wave) for it in items]
    allfb = torch.cat(fbs)
    mean, std = float(allfb.mean()), float(allfb.std())
    x_all = torch.zeros(len(items), MAX_LENGTH, NUM_MEL_BINS)
    for i, fb in enumerate(fbs):
        x_all[i, :min(MAX_LENGTH, fb.shape[0])] = fb[:MAX_LENGTH]
    x_all = (x_all - mean) / (2 * std)
    del fbs, allfb
    log(f"backbone: {len(items)} pretraining clips, fbank mean {mean:.4f} std {std:.4f} ({time.time() - t0:.1f} s)")

    cfg = ASTConfig(**RECIPE["backbone"], num_labels=len(classes),
                    id2label={i: c for i, c in enumerate(classes)}, label2id={c: i for i, c in enumerate(classes)})
    torch.manual_seed(seed)
    model = ASTForAudioClassification(cfg)
    n_params = sum(v.numel() for v in model.audio_spectrogram_transformer.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
    steps_per_epoch = math.ceil(len(items) / p["batch_size"])
    total = p["epochs"] * steps_per_epoch
    warm = p["warmup_epochs"] * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / (total - warm))))
    gen = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(p["epochs"]):
        model.train()
        t = time.time()
        order = torch.randperm(len(items), generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, len(items), p["batch_size"]):
            idx = order[i:i + p["batch_size"]]
            xb = spec_augment_(x_all[idx].clone(), p["freqm"], p["timem"], gen)
            logits = model(xb).logits
            loss = F.cross_entropy(logits, y[idx], label_smoothing=p["label_smoothing"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(-1) == y[idx]).sum())
        rec = {"epoch": epoch + 1, "loss": round(loss_sum / len(items), 4),
               "train_accuracy_running": round(correct / len(items), 4), "seconds": round(time.time() - t, 1)}
        history.append(rec)
        log(f"backbone: {json.dumps(rec)}")
    model.eval()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    model.save_pretrained(str(out_dir))
    fe = ASTFeatureExtractor(num_mel_bins=NUM_MEL_BINS, max_length=MAX_LENGTH, mean=mean, std=std)
    fe.save_pretrained(str(out_dir))
    for f in out_dir.iterdir():
        os.chmod(f, 0o644)  # safetensors writes through a private (0600) temp file
    return {"parameters": n_params, "parameters_with_classifier": sum(v.numel() for v in model.parameters()),
            "classes": len(classes), "clips": len(items), "mean": mean, "std": std, "history": history,
            "seconds": round(time.time() - t0, 1)}


def reuse_backbone(source: Path, out_dir: Path) -> dict:
    """--backbone-from: copy a trained backbone folder; its record comes from the results.json beside it."""
    if source != out_dir.resolve():
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(source, out_dir)
    results = source.parent / "results.json"
    record = json.loads(results.read_text())["backbone"] if results.exists() else {}
    log(f"backbone: reused {source}")
    return {k: v for k, v in record.items() if k not in ("fingerprint", "bytes")}


# ----------------------------------------------------------------------------------------------------------------------
# 3. packs


class FrequencyShift:
    """Wraps tools/train_ipet.py's SpecAugment hook (used in training only) with a random shift of each example's mel
    axis by up to +-`bins` bins (vacated bins set to 0, the normalised mean, as SpecAugment's masks). For the sounds
    task: the held-out frequencies lie between the training ones, and the pack should not tie a class to the exact
    mel bins it saw."""

    def __init__(self, bins: int):
        self.bins = int(bins)

    def __enter__(self):
        import train_ipet as tr

        self.original = tr.spec_augment
        if self.bins <= 0:
            return self

        def hook(x, freqm, timem, gen):
            import torch

            x = self.original(x, freqm, timem, gen)
            shifts = torch.randint(-self.bins, self.bins + 1, (x.shape[0],), generator=gen).tolist()
            out = torch.zeros_like(x)
            for i, s in enumerate(shifts):
                if s > 0:
                    out[i, :, s:] = x[i, :, :-s]
                elif s < 0:
                    out[i, :, :s] = x[i, :, -s:]
                else:
                    out[i] = x[i]
            return out

        tr.spec_augment = hook
        return self

    def __exit__(self, *exc):
        import train_ipet as tr

        tr.spec_augment = self.original


def python_accuracy(model, kaldi, waves, labels) -> tuple[float, list[str]]:
    import torch
    from train_ipet import Features

    feats = Features(model, kaldi)
    names = model.head.cfg.labels
    preds = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(waves), 32):
            x = torch.from_numpy(np.stack([feats.ast_input(w) for w in waves[i:i + 32]]))
            preds += [names[j] for j in model(x).logits.argmax(-1).tolist()]
    return sum(p == l for p, l in zip(preds, labels)) / len(labels), preds


def train_pytorch(task: str, mode: str, backbone_dir: Path, sets, kaldi, seed: int):
    """tools/train_ipet.py's train() on the frozen backbone -> (model, history, seconds)."""
    import torch

    import ipet_reference as ipet
    import train_ipet as tr

    classes = data.KEYWORDS if task == "keywords" else data.SOUNDS
    train_items = sets[f"{task}-train"]
    waves = [it.wave for it in train_items]
    labels = [classes.index(it.label) for it in train_items]
    h = RECIPE[task]
    k, b = (h["k"], h["bottleneck"]) if mode == "ipet" else (0, 0)
    backbone = ipet.load_backbone(backbone_dir)
    pre = json.loads((backbone_dir / "preprocessor_config.json").read_text())
    torch.manual_seed(seed)
    model = ipet.IPETAST(backbone, k, b, head="ast-pooled", labels=classes, max_length=MAX_LENGTH,
                         mean=pre["mean"], std=pre["std"])
    cfg = tr.TrainConfig(epochs=h["epochs"], batch_size=h["batch_size"], lr=h["lr"],
                         milestones=tr.parse_milestones(h["milestones"]), gamma=h["gamma"], seed=seed,
                         freqm=h["freqm"], timem=h["timem"])
    t0 = time.time()
    with FrequencyShift(h.get("freq_shift", 0)):
        history = tr.train(model, waves, labels, cfg, kaldi=kaldi, log=lambda s: log(f"{task}/{mode}: {s}"))
    return model, history, time.time() - t0


def training_folder(task: str, sets, seed: int, work: Path) -> Path:
    """The task's training clips as float WAV class folders (exact samples) under `work`, written once per data key;
    what `ipet train` (and tools/bench_train.py) read."""
    import soundfile as sf

    folder = work / f"{task}-train-{data_key(seed, data.espeak_version())}"
    if not folder.exists():
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for i, it in enumerate(sets[f"{task}-train"]):
            (tmp / it.label).mkdir(parents=True, exist_ok=True)
            sf.write(str(tmp / it.label / f"{i:05d}.wav"), it.wave, data.RATE, subtype="FLOAT")
        tmp.rename(folder)
    return folder


def train_ipet_cli(task: str, mode: str, backbone_dir: Path, sets, seed: int, ipet_bin: Path, work: Path, threads: int,
                   train_seed: int | None = None):
    """`ipet train` with the same recipe on the training clips written as float WAV class folders (exact samples)
    -> (the pack loaded by tools/ipet_reference.py, history, seconds). `seed`: the data's; `train_seed`: the
    training's (default: `seed`)."""
    import ipet_reference as ipet

    folder = training_folder(task, sets, seed, work)
    h = RECIPE[task]
    train_seed = seed if train_seed is None else train_seed
    out = work / f"{task}-{mode}-seed{train_seed}-ipet-train.ipet"
    cmd = [str(ipet_bin), "train", "--backbone", str(backbone_dir), "--data", str(folder), "--out", str(out),
           "--epochs", str(h["epochs"]), "--batch-size", str(h["batch_size"]), "--lr", str(h["lr"]),
           "--milestones", h["milestones"], "--gamma", str(h["gamma"]), "--seed", str(train_seed),
           "--spec-augment", f"{h['freqm']},{h['timem']}", "--mel-shift", str(h.get("freq_shift", 0)),
           "--stats", "backbone", "--max-length", str(MAX_LENGTH), "--threads", str(threads)]
    cmd += ["--prompts", str(h["k"]), "--bottleneck", str(h["bottleneck"])] if mode == "ipet" else ["--head-only"]
    log(f"{task}/{mode}: {' '.join(cmd)}")
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"ipet train failed ({proc.returncode}): {proc.stderr[-2000:]}")
    for line in proc.stderr.splitlines():
        if line.startswith("epoch "):
            log(f"{task}/{mode}: {line}")
    prov = json.loads(ipet.read_pack(out).metadata["ipet.provenance"])
    history = [{"train_loss": e["train_loss"], "train_accuracy_running": e["train_accuracy"]} for e in prov["history"]]
    return ipet.load_pack(out, ipet.load_backbone(backbone_dir)), history, seconds


def make_pack(task: str, mode: str, backbone_dir: Path, sets, kaldi, seed: int, heldout, demo, trainer=None,
              train_seed: int | None = None) -> dict:
    """Trains one pack (`trainer`: None = PyTorch, else a function of (task, mode) for `ipet train`), exports it as F16
    when that keeps the held-out accuracy (else F32) and evaluates it in Python on the FLAC files as written. `seed`:
    the data's; `train_seed`: the training's (default: `seed`)."""
    import ipet_reference as ipet

    train_seed = seed if train_seed is None else train_seed
    if trainer is None:
        model, history, seconds = train_pytorch(task, mode, backbone_dir, sets, kaldi, train_seed)
        via = "tools/train_ipet.py via tools/make_demo.py"
    else:
        model, history, seconds = trainer(task, mode)
        via = "ipet train via tools/make_demo.py --trainer ipet"
    backbone = ipet.load_backbone(backbone_dir)
    model.eval()
    acc32, _ = python_accuracy(model, kaldi, heldout[0], heldout[1])
    name = task if mode == "ipet" else f"{task}-head-only"
    path = OUT / ("packs" if mode == "ipet" else "baselines") / f"{name}.ipet"
    provenance = {"trainer": via, "task": task, "mode": mode,
                  "data": "synthetic (tools/demo_data.py), seed %d" % seed, "classes": list(model.head.cfg.labels),
                  "train_clips": len(sets[f"{task}-train"]), "recipe": RECIPE[task], "seed": seed}
    if train_seed != seed:
        provenance["train_seed"] = train_seed
    chosen = None
    for dtype in ("F16", "F32"):
        ipet.export_pack(path, model, dtype=dtype, provenance=dict(provenance, dtype=dtype),
                         backbone_name="ipet-swift demo tiny AST (Fixtures/demo/backbone)")
        reloaded = ipet.load_pack(path, backbone)
        acc, preds = python_accuracy(reloaded, kaldi, heldout[0], heldout[1])
        if dtype == "F32" or acc >= acc32 - 0.005:
            chosen = (dtype, acc, preds, reloaded)
            break
        log(f"{task}/{mode}: F16 held-out accuracy {acc:.4f} < F32 {acc32:.4f}; storing F32")
    dtype, acc, preds, reloaded = chosen
    demo_acc, demo_preds = python_accuracy(reloaded, kaldi, demo[0], demo[1])
    res = {"pack": str(path.relative_to(OUT)), "bytes": path.stat().st_size, "dtype": dtype,
           "trainable_parameters": model.trainable_parameter_count(), "train_seconds": round(seconds, 1),
           "final_train_loss": round(history[-1]["train_loss"], 4),
           "final_train_accuracy_running": round(history[-1]["train_accuracy_running"], 4),
           "python_heldout_accuracy_f32": acc32, "python_heldout_accuracy": acc,
           "python_heldout_errors": [(f, l, p) for f, l, p in zip(heldout[2], heldout[1], preds) if l != p],
           "python_demo_accuracy": demo_acc}
    log(f"{task}/{mode}: held-out accuracy {acc:.4f} ({dtype}; F32 {acc32:.4f}), demo {demo_acc:.2f}, "
        f"{res['trainable_parameters']} parameters, {seconds:.0f} s")
    return res


# ----------------------------------------------------------------------------------------------------------------------
# 4. swift


def find_ipet(arg: str | None) -> Path | None:
    if arg:
        return Path(arg)
    if shutil.which("swift") is None:
        log("swift: no Swift toolchain; Swift figures are skipped")
        return None
    log("swift: swift build -c release --product ipet")
    subprocess.run(["swift", "build", "-c", "release", "--product", "ipet"], cwd=ROOT, check=True,
                   stdout=sys.stderr)
    return ROOT / ".build" / "release" / "ipet"


def swift_eval(ipet_bin: Path, pack: Path, manifest: Path) -> dict:
    cmd = [str(ipet_bin), "eval", "--backbone", str(OUT / "backbone"), "--pack", str(pack), "--manifest",
           str(manifest), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"accuracy": rec["accuracy"], "files": rec["files"], "failed": rec["failed"], "macro_f1": rec["macro_f1"],
            "confusion": rec["confusion"], "labels": rec["labels"]}


# ----------------------------------------------------------------------------------------------------------------------
# 5. README


def write_readme(res: dict) -> None:
    from demo_readme import render

    (OUT / "README.md").write_text(render(res, RECIPE), encoding="utf-8")


# ----------------------------------------------------------------------------------------------------------------------


def main(argv=None):
    global OUT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=RECIPE["seed"])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the committed files used 2)")
    ap.add_argument("--work", type=Path, default=CACHE / "demo", help="cache folder for the synthesised data")
    ap.add_argument("--fresh", action="store_true", help="re-synthesise the data even if cached")
    ap.add_argument("--ipet", help="path of a built ipet binary (default: swift build -c release)")
    ap.add_argument("--skip-swift", action="store_true", help="no Swift figures")
    ap.add_argument("--stop-after", choices=["data", "backbone", "packs"], help="for experiments")
    ap.add_argument("--trainer", choices=["pytorch", "ipet"], default="pytorch",
                    help="train the packs with tools/train_ipet.py (PyTorch) or with `ipet train` (the --ipet binary "
                         "or a release build), same recipe")
    ap.add_argument("--backbone-from", type=Path, help="use this already trained backbone folder (e.g. "
                    "Fixtures/demo/backbone, with its results.json beside it) instead of pretraining one")
    ap.add_argument("--out", type=Path, default=OUT, help="output folder (default Fixtures/demo; another folder is "
                    "for reproducibility checks)")
    ap.add_argument("--train-seed", type=int, help="seed of the pack training only (default: --seed, which also seeds "
                    "the data and the backbone); for comparing trainers over seeds on the same data")
    ap.add_argument("--tasks", default="keywords,sounds", help="comma-separated tasks to train (default: both; with "
                    "fewer, no README is written)")
    ap.add_argument("--modes", default="ipet,head_only", help="comma-separated pack kinds to train (default: both)")
    args = ap.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    modes = [m for m in args.modes.split(",") if m]
    if not tasks or any(t not in ("keywords", "sounds") for t in tasks) or not modes or any(
            m not in ("ipet", "head_only") for m in modes):
        ap.error("--tasks takes keywords and/or sounds, --modes ipet and/or head_only")
    full = set(tasks) == {"keywords", "sounds"} and set(modes) == {"ipet", "head_only"}
    if args.train_seed is not None and OUT.resolve() == args.out.resolve():
        ap.error("--train-seed is for experiments: give --out another folder than Fixtures/demo")
    RECIPE["seed"] = args.seed
    OUT = args.out.resolve()

    t_start = time.time()
    timings = {}
    espeak = data.espeak_version()  # exits with install instructions when espeak-ng is missing
    set_torch(args.threads)
    from fixture_common import load_kaldi

    kaldi_src = load_kaldi()
    kaldi = kaldi_src.module

    t = time.time()
    sets = make_data(args.seed, args.work, args.fresh, espeak)
    OUT.mkdir(parents=True, exist_ok=True)
    manifests = write_clips(sets)
    timings["data"] = round(time.time() - t, 1)
    if args.stop_after == "data":
        return

    t = time.time()
    if args.backbone_from:
        bb = reuse_backbone(args.backbone_from.resolve(), OUT / "backbone")
    else:
        bb = make_backbone(sets["pretrain"], kaldi, args.seed, OUT / "backbone")
    timings["backbone"] = round(time.time() - t, 1)
    if args.stop_after == "backbone":
        return

    t = time.time()
    import ipet_reference as ipet

    bb["fingerprint"] = ipet.fingerprint(OUT / "backbone", ipet.AST_ARCH)
    bb["bytes"] = dir_size([OUT / "backbone"])
    demo_rows = list(csv.DictReader(open(OUT / "clips-labels.csv")))
    trainer = None
    if args.trainer == "ipet":
        ipet_bin = find_ipet(args.ipet).resolve()
        trainer = lambda task, mode: train_ipet_cli(task, mode, OUT / "backbone", sets, args.seed, ipet_bin,  # noqa: E731
                                                    args.work, args.threads, args.train_seed)
    packs = {}
    for task in tasks:
        heldout = read_manifest(manifests[task])
        rows = [r for r in demo_rows if r["task"] == task]
        from train_ipet import read_audio

        demo = ([read_audio(OUT / r["path"]) for r in rows], [r["label"] for r in rows])
        for mode in modes:
            packs[f"{task}/{mode}"] = make_pack(task, mode, OUT / "backbone", sets, kaldi, args.seed, heldout, demo, trainer,
                                                args.train_seed)
    timings["packs"] = round(time.time() - t, 1)
    if args.stop_after == "packs":
        return

    t = time.time()
    swift = None
    if not args.skip_swift:
        ipet_bin = find_ipet(args.ipet)
        if ipet_bin is not None:
            swift = {}
            for key, p in packs.items():
                task = key.split("/")[0]
                swift[key] = swift_eval(ipet_bin, OUT / p["pack"], manifests[task])
                log(f"swift: {key}: accuracy {swift[key]['accuracy']:.4f} on {swift[key]['files']} files")
                # the demo folder: clips-labels.csv lists both tasks' clips; eval leaves out the other task's labels
                swift[key]["demo_accuracy"] = swift_eval(ipet_bin, OUT / p["pack"], OUT / "clips-labels.csv")["accuracy"]
    timings["swift"] = round(time.time() - t, 1)
    timings["total"] = round(time.time() - t_start, 1)
    import resource

    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    timings["cpu_total"] = round(sum(u.ru_utime + u.ru_stime for u in usage), 1)

    res = {"recipe": RECIPE, "backbone": bb, "packs": packs, "swift": swift, "timings_seconds": timings,
           "threads": args.threads, "espeak": espeak, "kaldi": kaldi_src.describe(), "versions": versions(),
           "heldout_clips": {task: sum(1 for _ in open(m)) - 1 for task, m in manifests.items()},
           "demo_clips": len(demo_rows), "voices": dict(zip(("train", "heldout"), data.variant_split(args.seed)))}
    res["sizes_bytes"] = {"backbone": bb["bytes"], "packs": dir_size([OUT / "packs"]),
                          "baselines": dir_size([OUT / "baselines"]), "heldout": dir_size([OUT / "heldout"]),
                          "clips": dir_size([OUT / "clips"])}
    if args.train_seed is not None:
        res["train_seed"] = args.train_seed
    write_json(OUT / "results.json", res, sort_keys=False, ensure_ascii=True)
    if full:
        write_readme(res)
    res["sizes_bytes"]["total"] = dir_size([OUT])
    write_json(OUT / "results.json", res, sort_keys=False, ensure_ascii=True)
    log(f"done in {timings['total']:.0f} s; Fixtures/demo is {res['sizes_bytes']['total'] / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
