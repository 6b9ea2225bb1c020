#!/usr/bin/env python3
"""Small IPET trainer: frozen transformers backbone (AST or wav2vec 2.0) + trainable deep prompts, parallel adapters
and a task head (tools/ipet_reference.py), cross-entropy, IPET's optimiser settings; writes an adapter pack
(Formats/ipet-pack.md). Meant for small data on CPU (demos, smoke tests), not for reproducing the paper.

    .venv-tools/bin/python tools/train_ipet.py --backbone Fixtures/ast/tiny-a --data DIR --out task.ipet \\
        [--k 4 --bottleneck 32 | --head-only] [--epochs 30 --batch-size 8 --lr 1e-3] [--max-length 512] \\
        [--val-dir DIR | --val-fraction 0.2] [--dtype F16]

DIR holds one sub-folder per class (class name = folder name, sorted = logit order) with audio files (anything
libsndfile reads). Audio is decoded as float32, averaged to mono, resampled to 16 kHz with soxr HQ when needed.

Defaults follow IPET (docs/ipet-method.md section 5): Adam betas (0.95, 0.999), weight decay 5e-7, MultiStepLR
gamma 0.85 at epochs 5..25 (`--milestones 5-25`), seed 1234; prompts xavier-uniform, adapters "lora" init (up
projection 0), adapter dropout 0.1 in training, head LayerNorm eps 1e-5.
Differences from the official code, on purpose: the frozen backbone runs in eval mode (no dropout, layerdrop or
wav2vec 2.0 time masking), no mixup / noise augmentation, plain (hard-label) cross-entropy, float32 on CPU.

AST: input_values = (pad_or_truncate(kaldi fbank, max_length) - mean) / (2 std) with torchaudio's kaldi.fbank (via
tools/fixture_common.load_kaldi); mean/std from --mean/--std, else --stats data (computed over the training
fbank frames as the AST recipe does), else the backbone's preprocessor_config.json. Optional SpecAugment
(--freqm / --timem: one frequency and one time mask of random width < value) during training.
wav2vec 2.0: raw waveform (do_normalize false, as IPET); with --crop-samples N, training takes random N-sample crops
(wrap-padded when shorter) and evaluation uses whole clips; without it whole clips are used throughout (batches are
then run one clip at a time because lengths differ and "group"-norm backbones must not see padding).

Python use: `train(model, waves, labels, ...)` with in-memory float32 16 kHz arrays.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import env_quiet, kaldi_fbank, pad_normalize  # noqa: E402

env_quiet()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import ipet_reference as ipet  # noqa: E402

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".aifc", ".mp3", ".opus", ".caf", ".w64"}


# ----------------------------------------------------------------------------------------------------------------------
# data


def read_audio(path: Path, rate: int = 16000) -> np.ndarray:
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = data.mean(axis=1, dtype=np.float32)
    if sr != rate:
        import soxr

        x = soxr.resample(x, sr, rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def load_folder(path: Path, classes: Sequence[str] | None = None):
    """-> (waves, labels, class names, files). Class names = sorted sub-folder names unless given."""
    path = Path(path)
    names = list(classes) if classes else sorted(p.name for p in path.iterdir() if p.is_dir())
    if not names:
        raise SystemExit(f"{path}: no class sub-folders")
    waves, labels, files = [], [], []
    for i, c in enumerate(names):
        d = path / c
        if not d.is_dir():
            raise SystemExit(f"{path}: class folder {c} missing")
        for f in sorted(d.rglob("*")):
            if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS:
                waves.append(read_audio(f))
                labels.append(i)
                files.append(str(f))
    if not waves:
        raise SystemExit(f"{path}: no audio files")
    return waves, labels, names, files


def split(n: int, fraction: float, labels: Sequence[int], seed: int):
    """Stratified split -> (train indices, val indices)."""
    rng = np.random.default_rng(seed)
    tr, va = [], []
    labels = np.asarray(labels)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(round(len(idx) * fraction))
        va.extend(idx[:n_val].tolist())
        tr.extend(idx[n_val:].tolist())
    return sorted(tr), sorted(va)


class Features:
    """Per-clip model inputs following the model's preprocessing."""

    def __init__(self, model: ipet._IPETBase, kaldi=None):
        self.model = model
        self.kaldi = kaldi
        self.is_ast = isinstance(model, ipet.IPETAST)
        self._fbank_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def fbank(self, wave: np.ndarray) -> np.ndarray:
        hit = self._fbank_cache.get(id(wave))
        if hit is None or hit[0] is not wave:
            fb = kaldi_fbank(self.kaldi, wave, int(self.model.preprocessing["num_mel_bins"]))
            hit = self._fbank_cache[id(wave)] = (wave, fb)
        return hit[1]

    def ast_input(self, wave: np.ndarray) -> np.ndarray:
        """== ASTFeatureExtractor output (pad with 0 / truncate, then (x - mean) / (2 std))."""
        pre = self.model.preprocessing
        if pre.get("do_normalize", True):
            return pad_normalize(self.fbank(wave), int(pre["max_length"]), pre["mean"], pre["std"])
        return pad_normalize(self.fbank(wave), int(pre["max_length"]), None, None)


def fbank_stats(feats: Features, waves: Sequence[np.ndarray]) -> tuple[float, float]:
    """Mean and std of all training fbank values (AST recipe: before padding)."""
    allv = np.concatenate([feats.fbank(w).ravel() for w in waves]).astype(np.float64)
    return float(allv.mean()), float(allv.std())


def spec_augment(x: torch.Tensor, freqm: int, timem: int, gen: torch.Generator) -> torch.Tensor:
    """One frequency and one time mask per example (torchaudio FrequencyMasking / TimeMasking style), set to 0."""
    if not freqm and not timem:
        return x
    x = x.clone()
    for i in range(x.shape[0]):
        for width_max, axis in ((freqm, 2), (timem, 1)):
            if width_max:
                w = int(torch.randint(0, width_max, (1,), generator=gen))
                start = int(torch.randint(0, max(1, x.shape[axis] - w), (1,), generator=gen))
                if axis == 2:
                    x[i, :, start:start + w] = 0
                else:
                    x[i, start:start + w, :] = 0
    return x


def crop(wave: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if wave.shape[0] < n:
        return np.pad(wave, (0, n - wave.shape[0]), mode="wrap")
    start = int(rng.integers(0, wave.shape[0] - n + 1))
    return wave[start:start + n]


# ----------------------------------------------------------------------------------------------------------------------
# training


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    betas: tuple[float, float] = (0.95, 0.999)
    weight_decay: float = 5e-7
    milestones: tuple[int, ...] = tuple(range(5, 26))
    gamma: float = 0.85
    seed: int = 1234
    freqm: int = 0
    timem: int = 0


def logits_for(model, feats: Features, waves: Sequence[np.ndarray], train: bool, cfg: TrainConfig,
               rng: np.random.Generator, gen: torch.Generator) -> torch.Tensor:
    if feats.is_ast:
        x = torch.from_numpy(np.stack([feats.ast_input(w) for w in waves]))
        if train:
            x = spec_augment(x, cfg.freqm, cfg.timem, gen)
        return model(x).logits
    crop_n = model.preprocessing.get("crop_samples")
    if train and crop_n:
        x = torch.from_numpy(np.stack([crop(w, int(crop_n), rng) for w in waves]))
        return model(x).logits
    if len({w.shape[0] for w in waves}) == 1:
        return model(torch.from_numpy(np.stack(waves))).logits
    return torch.cat([model(torch.from_numpy(w)[None]).logits for w in waves])


def evaluate(model, feats: Features, waves, labels, cfg: TrainConfig, batch_size: int = 16) -> dict:
    model.eval()
    correct, loss_sum = 0, 0.0
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    with torch.no_grad():
        for i in range(0, len(waves), batch_size):
            lg = logits_for(model, feats, waves[i:i + batch_size], False, cfg, rng, gen)
            y = torch.tensor(labels[i:i + batch_size])
            loss_sum += float(F.cross_entropy(lg, y, reduction="sum"))
            correct += int((lg.argmax(-1) == y).sum())
    n = max(1, len(waves))
    return {"loss": loss_sum / n, "accuracy": correct / n, "n": len(waves)}


def train(model: ipet._IPETBase, waves: Sequence[np.ndarray], labels: Sequence[int], cfg: TrainConfig = TrainConfig(),
          val: tuple[Sequence[np.ndarray], Sequence[int]] | None = None, kaldi=None,
          log: Callable[[str], None] = print) -> list[dict]:
    """Train the pack parameters of `model` in place on 16 kHz float32 `waves` with integer `labels`."""
    if model.head.linear is None:
        raise ValueError("training needs a head with labels (a classifier)")
    feats = Features(model, kaldi)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    params = [p for n, p in model.named_parameters() if p.requires_grad]
    assert all(not p.requires_grad for p in model.backbone.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)
    history = []
    n = len(waves)
    for epoch in range(cfg.epochs):
        model.train()
        t0 = time.time()
        order = rng.permutation(n)
        loss_sum, correct = 0.0, 0
        for i in range(0, n, cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            lg = logits_for(model, feats, [waves[j] for j in idx], True, cfg, rng, gen)
            y = torch.tensor([labels[j] for j in idx])
            loss = F.cross_entropy(lg, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((lg.detach().argmax(-1) == y).sum())
        lr = opt.param_groups[0]["lr"]
        sched.step()
        rec = {"epoch": epoch + 1, "lr": lr, "train_loss": loss_sum / n, "train_accuracy_running": correct / n,
               "seconds": round(time.time() - t0, 2)}
        if val is not None and len(val[0]):
            v = evaluate(model, feats, val[0], val[1], cfg)
            rec.update({"val_loss": v["loss"], "val_accuracy": v["accuracy"]})
        history.append(rec)
        log(json.dumps(rec))
    return history


# ----------------------------------------------------------------------------------------------------------------------
# CLI


def parse_milestones(s: str) -> tuple[int, ...]:
    if not s:
        return ()
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return tuple(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", required=True, type=Path, help="transformers model folder (AST or wav2vec 2.0)")
    ap.add_argument("--data", required=True, type=Path, help="folder of class sub-folders with audio")
    ap.add_argument("--out", required=True, type=Path, help="pack to write (.ipet)")
    ap.add_argument("--val-dir", type=Path, help="validation folder (same class sub-folders)")
    ap.add_argument("--val-fraction", type=float, default=0.0, help="stratified hold-out of --data (if no --val-dir)")
    ap.add_argument("--k", type=int, default=4, help="prompt tokens per layer (IPET AST: 4)")
    ap.add_argument("--bottleneck", type=int, default=32, help="adapter bottleneck (IPET AST ESC-50: 32)")
    ap.add_argument("--head-only", action="store_true", help="no prompts, no adapters: head-only baseline")
    ap.add_argument("--head", choices=["ast-pooled", "mean-std", "speaker"], help="default: by backbone")
    ap.add_argument("--embedding-dim", type=int, default=128, help="speaker head embedding size")
    ap.add_argument("--adapter-residual", action="store_true", help="official wav2vec 2.0 adapter quirk")
    ap.add_argument("--adapter-scale", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=5e-7)
    ap.add_argument("--milestones", default="5-25", help="MultiStepLR epochs, e.g. 5-25 or 10,20 ('' = none)")
    ap.add_argument("--gamma", type=float, default=0.85)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--max-length", type=int, help="AST frames (default: the backbone's max_length)")
    ap.add_argument("--mean", type=float)
    ap.add_argument("--std", type=float)
    ap.add_argument("--stats", choices=["backbone", "data"], default="backbone",
                    help="AST normalisation stats when --mean/--std are not given")
    ap.add_argument("--freqm", type=int, default=0, help="AST SpecAugment frequency mask width (training)")
    ap.add_argument("--timem", type=int, default=0, help="AST SpecAugment time mask width (training)")
    ap.add_argument("--crop-samples", type=int, help="wav2vec 2.0 training crop (samples)")
    ap.add_argument("--segments", type=int, help="recorded in the pack (speaker scoring segments)")
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--name", help="backbone name recorded in the pack (default: the folder)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    backbone = ipet.load_backbone(args.backbone)
    arch = backbone.config.model_type
    waves, labels, classes, files = load_folder(args.data)
    if args.val_dir:
        vw, vl, _, vfiles = load_folder(args.val_dir, classes)
        tr_w, tr_l = waves, labels
    elif args.val_fraction > 0:
        tr, va = split(len(waves), args.val_fraction, labels, args.seed)
        tr_w, tr_l = [waves[i] for i in tr], [labels[i] for i in tr]
        vw, vl = [waves[i] for i in va], [labels[i] for i in va]
    else:
        tr_w, tr_l, vw, vl = waves, labels, [], []

    k, b = (0, 0) if args.head_only else (args.k, args.bottleneck)
    head = args.head or ("ast-pooled" if arch == ipet.AST_ARCH else "mean-std")
    torch.manual_seed(args.seed)
    kaldi = None
    if arch == ipet.AST_ARCH:
        from fixture_common import load_kaldi

        kaldi = load_kaldi().module
        pre_cfg = {}
        pc = args.backbone / "preprocessor_config.json"
        if pc.exists():
            pre_cfg = json.loads(pc.read_text())
        max_length = args.max_length or backbone.config.max_length
        model = ipet.IPETAST(backbone, k, b, head=head, labels=classes, adapter_scale=args.adapter_scale,
                             adapter_residual=args.adapter_residual, max_length=max_length,
                             mean=pre_cfg.get("mean"), std=pre_cfg.get("std"),
                             embedding_dim=args.embedding_dim if head == "speaker" else None,
                             preprocessing={"segments": args.segments} if args.segments else None)
        if args.mean is not None or args.std is not None:
            if args.mean is None or args.std is None:
                raise SystemExit("give both --mean and --std")
            model.preprocessing.update(mean=args.mean, std=args.std)
        elif args.stats == "data":
            m, s = fbank_stats(Features(model, kaldi), tr_w)
            model.preprocessing.update(mean=m, std=s)
    else:
        model = ipet.IPETWav2Vec2(backbone, k, b, adapter_residual=args.adapter_residual, head=head, labels=classes,
                                  adapter_scale=args.adapter_scale,
                                  embedding_dim=args.embedding_dim if head == "speaker" else None,
                                  crop_samples=args.crop_samples, segments=args.segments)
    print(f"[train_ipet] {arch} {args.backbone}: {len(classes)} classes {classes}, {len(tr_w)} train / {len(vw)} val "
          f"clips; k={k} b={b} head={head}; {model.trainable_parameter_count()} trainable parameters; "
          f"preprocessing {json.dumps(model.preprocessing)}", file=sys.stderr)

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                      milestones=parse_milestones(args.milestones), gamma=args.gamma, seed=args.seed,
                      freqm=args.freqm, timem=args.timem)
    history = train(model, tr_w, tr_l, cfg, val=(vw, vl) if vw else None, kaldi=kaldi,
                    log=lambda s: print(s, file=sys.stderr))
    model.eval()
    feats = Features(model, kaldi)
    final = {"train": evaluate(model, feats, tr_w, tr_l, cfg)}
    if vw:
        final["val"] = evaluate(model, feats, vw, vl, cfg)
    provenance = {
        "trainer": "tools/train_ipet.py", "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "backbone_dir": str(args.backbone), "data": str(args.data), "val": str(args.val_dir) if args.val_dir else
        (f"{args.val_fraction} stratified hold-out of data" if vw else None),
        "classes": classes, "train_clips": len(tr_w), "val_clips": len(vw), "mode": "head-only" if args.head_only else
        "ipet", "optimizer": {"name": "Adam", "lr": args.lr, "betas": list(cfg.betas), "weight_decay": args.weight_decay,
                               "milestones": list(cfg.milestones), "gamma": args.gamma},
        "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed, "specaugment": [args.freqm, args.timem],
        "metrics": final, "history_last": history[-1] if history else None,
        "versions": {"torch": torch.__version__}}
    size = ipet.export_pack(args.out, model, dtype=args.dtype, provenance=provenance,
                            backbone_name=args.name or str(args.backbone))
    # round trip: the written pack gives the trained model's logits (up to the storage precision)
    reloaded = ipet.load_pack(args.out, backbone)
    probe = tr_w[:4]
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    with torch.no_grad():
        a = logits_for(model, feats, probe, False, cfg, rng, gen)
        bb = logits_for(reloaded, Features(reloaded, kaldi), probe, False, cfg, rng, gen)
    diff = float((a - bb).abs().max())
    if args.dtype == "F32":
        assert diff < 1e-5, diff
    print(json.dumps({"pack": str(args.out), "bytes": size, "trainable_parameters": model.trainable_parameter_count(),
                      "metrics": final, "reload_max_abs_d_logits": diff}))
    return final


if __name__ == "__main__":
    main()
