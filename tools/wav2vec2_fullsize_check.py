#!/usr/bin/env python3
"""Full-size wav2vec 2.0 parity and speed check against the Swift `ipet` tool (manual; never run in CI).

    tools/python-env && .venv-tools/bin/python tools/wav2vec2_fullsize_check.py [--no-build] [--keep DIR]

1. Builds a random-weight Wav2Vec2ForSequenceClassification (12 labels) with the exact facebook/wav2vec2-base
   architecture (Wav2Vec2Config defaults: 768 hidden, 12 layers, GroupNorm conv stack 7x512, post-LN encoder,
   pos-conv 128 taps / 16 groups), re-randomises every parameter like the tiny fixtures
   (tools/make_wav2vec2_fixtures.py: randomise), and saves config.json + model.safetensors +
   preprocessor_config.json (Wav2Vec2FeatureExtractor defaults: do_normalize, no attention mask) to a temporary
   directory.  By default the pos-conv weight norm is renamed to the legacy weight_g / weight_v like the hub file
   (--param-names keeps transformers 5.x's parametrizations.weight.original0/1).
2. Writes deterministic 1 s and 10 s 16 kHz PCM16 WAV clips and decodes them back with soundfile (libsndfile,
   what the Swift side reads too).
3. transformers reference: eager attention, torch.set_num_threads(THREADS); times feature extraction and the model
   forward separately (best of N after one warm-up).  Optionally a float64 run shows the size of honest rounding.
4. Swift: `swift build -c release -Xswiftc -target-cpu -Xswiftc haswell` (skip with --no-build), then per clip
   `.build/release/ipet predict --backbone DIR --logits --threads THREADS CLIP`, which prints one JSON line
   per file with "logits". Times the whole subprocess
   (best of N after a warm-up run).
5. Prints per clip the max |logit difference| and the Swift/transformers time ratios; exits 1 if any difference
   exceeds --atol.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import env_quiet, seed_everything  # noqa: E402
from fullsize_common import (  # noqa: E402
    SR, add_arguments, best_of, fastest_reported, forward_timing, reference_result, run_swift, swift_binary, work_folder,
    write_pcm16_clip,
)

SEED = 2020
NUM_LABELS = 12
CLIPS = {"clip_1s_16k.wav": 1.0, "clip_10s_16k.wav": 10.0}

# Wav2Vec2Model 94 371 712 (docs/model-numerics.md B.8, includes masked_spec_embed) + projector 768x256+256
# + classifier 256x12+12
EXPECTED_PARAMS = 94_371_712 + 768 * 256 + 256 + 256 * NUM_LABELS + NUM_LABELS


def build_backbone(out_dir: Path, legacy_names: bool):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    from make_wav2vec2_fixtures import randomise, rename_to_legacy_weight_norm

    id2label = {i: f"class_{i:02d}" for i in range(NUM_LABELS)}
    config = Wav2Vec2Config(num_labels=NUM_LABELS, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    # Wav2Vec2Config() defaults == facebook/wav2vec2-base architecture (docs/model-numerics.md B.2); assert the ones
    # that matter
    expect = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                  hidden_act="gelu", layer_norm_eps=1e-5, feat_extract_norm="group", feat_extract_activation="gelu",
                  conv_bias=False, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
                  do_stable_layer_norm=False, use_weighted_layer_sum=False, classifier_proj_size=256)
    for k, v in expect.items():
        assert getattr(config, k) == v, (k, getattr(config, k), v)
    assert tuple(config.conv_dim) == (512,) * 7
    assert tuple(config.conv_kernel) == (10, 3, 3, 3, 3, 2, 2)
    assert tuple(config.conv_stride) == (5, 2, 2, 2, 2, 2, 2)
    config._attn_implementation = "eager"
    seed_everything(SEED)
    model = Wav2Vec2ForSequenceClassification(config).eval()
    t0 = time.perf_counter()
    randomise(model, SEED)
    model.eval()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == EXPECTED_PARAMS, (n_params, EXPECTED_PARAMS)
    print(f"[build] {n_params:,} parameters re-randomised in {time.perf_counter() - t0:.1f} s")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    Wav2Vec2FeatureExtractor().save_pretrained(str(out_dir))
    st = out_dir / "model.safetensors"
    if legacy_names:
        rename_to_legacy_weight_norm(st)
    print(f"[build] saved {sorted(os.listdir(out_dir))} to {out_dir} "
          f"({st.stat().st_size / 1e6:.0f} MB, weight norm as {'weight_g/weight_v' if legacy_names else 'original0/1'})")
    return model


def write_clip(path: Path, seconds: float, seed: int) -> np.ndarray:
    from scipy.signal import chirp

    rng = np.random.default_rng(seed)
    n = int(round(seconds * SR))
    t = np.arange(n) / SR
    x = (0.25 * chirp(t, f0=100.0, t1=max(seconds, 1.0), f1=6000.0, method="logarithmic")
         + 0.15 * np.sin(2 * np.pi * 220.0 * t) * (np.sin(2 * np.pi * 0.7 * t) > 0)
         + 0.03 * rng.standard_normal(n) + 0.01)
    return write_pcm16_clip(path, x)


def run_transformers(model, wave: np.ndarray, threads: int, repeat: int, fp64: bool) -> dict:
    import torch
    from transformers import Wav2Vec2FeatureExtractor

    torch.set_num_threads(threads)
    fe = Wav2Vec2FeatureExtractor()
    fe(wave, sampling_rate=SR, return_tensors="pt")  # warm-up
    t_feat, iv = best_of(lambda: fe(wave, sampling_rate=SR, return_tensors="pt")["input_values"], repeat)
    t_model, logits = forward_timing(model, iv, repeat)
    frames = model._get_feat_extract_output_lengths(iv.shape[1])
    print(f"[transformers] {iv.shape[1]} samples -> {int(frames)} frames; features {t_feat * 1e3:.1f} ms, "
          f"model forward (eager, {threads} threads) best of {repeat}: {t_model:.3f} s")
    return reference_result(model, iv, logits, t_model, t_feat, fp64)


def main() -> int:
    ap = argparse.ArgumentParser(description="full-size wav2vec 2.0: transformers vs Swift ipet (logits and time)")
    add_arguments(ap, kept="backbone + clips")
    ap.add_argument("--param-names", action="store_true",
                    help="keep parametrizations.weight.original0/1 instead of the hub's legacy weight_g/weight_v")
    args = ap.parse_args()
    env_quiet()

    with work_folder(args.keep, "ipet-wav2vec2-fullsize-") as work:
        backbone = work / "wav2vec2-base-random-seqcls12"
        model = build_backbone(backbone, legacy_names=not args.param_names)
        refs = {}
        for i, (name, seconds) in enumerate(CLIPS.items()):
            path = work / name
            wave = write_clip(path, seconds, SEED + i)
            print(f"[clip] {path} ({len(wave)} samples)")
            refs[name] = run_transformers(model, wave, args.threads, args.repeat, fp64=not args.no_fp64)
        if args.skip_swift:
            return 0

        binary = swift_binary(args)
        if binary is None:
            return 2
        worst = 0.0
        rows = []
        for name in CLIPS:
            ref = refs[name]
            sw = run_swift(binary, backbone, work / name, args.threads, args.repeat)
            sw["model"] = fastest_reported(sw, "model")
            if sw["logits"].shape != ref["logits"].shape:
                print(f"[compare] {name}: shape mismatch: swift {sw['logits'].shape} vs {ref['logits'].shape}")
                return 1
            diff = float(np.max(np.abs(sw["logits"] - ref["logits"])))
            worst = max(worst, diff)
            rows.append((name, diff, ref, sw))

        print()
        print(f"{'clip':18s} {'max|dlogit|':>11s} {'hf feat+model s':>15s} {'swift wall s':>12s} {'wall ratio':>10s} "
              f"{'hf model s':>10s} {'swift model s':>13s} {'model ratio':>11s}")
        for name, diff, ref, sw in rows:
            hf_total = ref["seconds_features"] + ref["seconds_model"]
            model_ratio = f"{sw['model'] / ref['seconds_model']:.2f}" if sw["model"] is not None else "-"
            swift_model = f"{sw['model']:.3f}" if sw["model"] is not None else "-"
            print(f"{name:18s} {diff:11.3g} {hf_total:15.3f} {sw['wall']:12.3f} {sw['wall'] / hf_total:10.2f} "
                  f"{ref['seconds_model']:10.3f} {swift_model:>13s} {model_ratio:>11s}")
            if "fp32_vs_fp64" in ref:
                print(f"{'':18s} (for scale: transformers float32 vs float64 = {ref['fp32_vs_fp64']:.3g})")
        print(f"\n[compare] worst max |logit diff| = {worst:.3g} (atol {args.atol:g}); swift wall time includes "
              f"process start, model load, WAV decode and features; transformers times are in-process, "
              f"best of {args.repeat}, {args.threads} threads")
        return 0 if worst <= args.atol else 1


if __name__ == "__main__":
    sys.exit(main())
