#!/usr/bin/env python3
"""Full-size AST parity and speed check against the Swift `ipet` tool (manual; never run in CI).

    tools/python-env && .venv-tools/bin/python tools/ast_fullsize_check.py [--no-build] [--keep DIR]

1. Builds a random-weight ASTForAudioClassification with the exact MIT/ast-finetuned-audioset-10-10-0.4593
   configuration (ASTConfig defaults, 527 labels; every parameter re-randomised like the tiny fixtures) and saves
   config.json + model.safetensors + preprocessor_config.json (ASTFeatureExtractor defaults) to a temporary directory.
2. Writes a deterministic 10.24 s, 16 kHz PCM16 WAV clip and decodes it back with soundfile (what libsndfile gives
   the Swift side too).
3. transformers reference: torchaudio-kaldi feature path (torchaudio's kaldi.py from the pinned wheel), eager
   attention, torch.set_num_threads(THREADS); times the model forward (best of N after one warm-up).
4. Swift: `swift build -c release -Xswiftc -target-cpu -Xswiftc haswell` (skip with --no-build), then
   `.build/release/ipet predict --backbone DIR --logits --threads THREADS CLIP`, which prints one JSON line
   {"file": ..., "top": [...], "logits": [...]} (optionally with "seconds"). Times the whole subprocess (best of N)
   and reads "seconds" when present.
5. Prints the max |logit difference| and the Swift/transformers time ratio; exits 1 if the difference exceeds --atol.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import (  # noqa: E402
    ast_fbank_backend, described, env_quiet, load_kaldi, rerandomize_, seed_everything,
)
from fullsize_common import (  # noqa: E402
    SR, add_arguments, best_of, forward_timing, reference_result, run_swift, swift_binary, work_folder, write_pcm16_clip,
)

env_quiet()

SEED = 4593
CLIP_SECONDS = 10.24  # 163 840 samples -> 1022 fbank frames (padded to 1024)


def build_backbone(out_dir: Path):
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    from make_ast_fixtures import ast_scales

    seed_everything(SEED)
    id2label = {i: f"audioset_class_{i:03d}" for i in range(527)}  # real names are AudioSet ontology labels
    config = ASTConfig(num_labels=527, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    # ASTConfig() defaults == MIT/ast-finetuned-audioset-10-10-0.4593 (docs/model-numerics.md A.2); assert the key ones
    expect = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                  hidden_act="gelu", layer_norm_eps=1e-12, patch_size=16, frequency_stride=10, time_stride=10,
                  max_length=1024, num_mel_bins=128, qkv_bias=True)
    for k, v in expect.items():
        assert getattr(config, k) == v, (k, getattr(config, k), v)
    model = ASTForAudioClassification._from_config(config, attn_implementation="eager").eval()
    t0 = time.perf_counter()
    scales = ast_scales()
    # the tiny fixtures' absolute head std (0.3 at hidden 64 = gain 2.4) would give logits ~30 at hidden 768;
    # keep the same gain instead
    head = r"classifier\.dense\.weight$"
    assert head in scales.overrides
    scales.overrides = {head: described(lambda shape, gen: torch.randn(shape, generator=gen) * (2.4 / math.sqrt(shape[1])),
                                        "normal(0, 2.4/sqrt(768))"),
                        **{k: v for k, v in scales.overrides.items() if k != head}}
    rerandomize_(model, SEED, scales)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == 86_594_063, n_params
    print(f"[build] {n_params:,} parameters re-randomised in {time.perf_counter() - t0:.1f} s")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    fe = ASTFeatureExtractor()  # defaults: 128 mel, max_length 1024, AudioSet mean/std
    fe.save_pretrained(str(out_dir))
    print(f"[build] saved {sorted(os.listdir(out_dir))} to {out_dir}")
    return model, fe


def write_clip(path: Path) -> np.ndarray:
    from scipy.signal import chirp

    rng = np.random.default_rng(SEED)
    n = int(round(CLIP_SECONDS * SR))
    t = np.arange(n) / SR
    x = (0.3 * chirp(t, f0=80.0, t1=CLIP_SECONDS, f1=7000.0, method="logarithmic")
         + 0.2 * np.sin(2 * np.pi * 523.25 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)
         + 0.03 * rng.standard_normal(n))
    return write_pcm16_clip(path, x)


def run_transformers(model, wave: np.ndarray, threads: int, repeat: int, fp64: bool) -> dict:
    import torch

    torch.set_num_threads(threads)
    kaldi = load_kaldi()
    from transformers import ASTFeatureExtractor

    with ast_fbank_backend(kaldi.module):
        fe = ASTFeatureExtractor()
        t_feat, feats = best_of(lambda: fe(wave, sampling_rate=SR, return_tensors="pt")["input_values"], repeat)
    print(f"[transformers] features via {kaldi.describe()}: {tuple(feats.shape)}, best {t_feat * 1e3:.1f} ms")

    t_model, logits = forward_timing(model, feats, repeat)
    print(f"[transformers] model forward (eager, {threads} threads): best of {repeat} = {t_model:.3f} s")
    return reference_result(model, feats, logits, t_model, t_feat, fp64)


def model_seconds(seconds) -> float | None:
    """ipet's optional "seconds": a number (taken as the model time) or an object of named timings."""
    if isinstance(seconds, (int, float)):
        return float(seconds)
    if isinstance(seconds, dict):
        for key in ("model", "forward", "backbone", "inference", "predict"):
            if isinstance(seconds.get(key), (int, float)):
                return float(seconds[key])
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description="full-size AST: transformers vs Swift ipet (logits and time)")
    add_arguments(ap, kept="backbone + clip")
    args = ap.parse_args()

    with work_folder(args.keep, "ipet-ast-fullsize-") as work:
        backbone = work / "ast-audioset-random"
        clip = work / "clip_10p24s_16k.wav"
        model, _ = build_backbone(backbone)
        wave = write_clip(clip)
        ref = run_transformers(model, wave, args.threads, args.repeat, fp64=not args.no_fp64)
        order = np.argsort(-ref["logits"])[:5]
        print(f"[transformers] top-5 {order.tolist()} logits {np.round(ref['logits'][order], 4).tolist()}")
        if args.skip_swift:
            return 0

        binary = swift_binary(args)
        if binary is None:
            return 2
        sw = run_swift(binary, backbone, clip, args.threads, args.repeat)
        if sw["logits"].shape != ref["logits"].shape:
            print(f"[compare] shape mismatch: swift {sw['logits'].shape} vs transformers {ref['logits'].shape}")
            return 1
        diff = float(np.max(np.abs(sw["logits"] - ref["logits"])))
        same_top = [int(i) for i in np.argsort(-sw["logits"])[:5]] == order.tolist()
        print(f"[compare] max |logit diff| = {diff:.3g} (atol {args.atol:g}); top-5 identical: {same_top}")
        if "fp32_vs_fp64" in ref:
            print(f"[compare] for scale: transformers float32 vs float64 = {ref['fp32_vs_fp64']:.3g}")
        print(f"[time] transformers: features {ref['seconds_features']:.3f} s + model {ref['seconds_model']:.3f} s "
              f"= {ref['seconds_features'] + ref['seconds_model']:.3f} s (best of {args.repeat}, in-process)")
        print(f"[time] swift whole subprocess (load + decode + features + model, best of {args.repeat}): "
              f"{sw['wall']:.3f} s; ratio swift/transformers(features+model) = "
              f"{sw['wall'] / (ref['seconds_features'] + ref['seconds_model']):.2f}")
        if sw["seconds"] is not None:
            print(f"[time] swift reported seconds: {json.dumps(sw['seconds'])}")
            ms = model_seconds(sw["seconds"])
            if ms is not None:
                print(f"[time] model forward: swift {ms:.3f} s vs transformers {ref['seconds_model']:.3f} s, "
                      f"ratio swift/transformers = {ms / ref['seconds_model']:.2f}")
        return 0 if diff <= args.atol else 1


if __name__ == "__main__":
    sys.exit(main())
