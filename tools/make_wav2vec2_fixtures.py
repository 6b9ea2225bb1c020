#!/usr/bin/env python3
"""Build tiny random-weight wav2vec 2.0 reference models and reference outputs for the Swift tests.

Writes Fixtures/wav2vec2/<fixture>/{config.json, model.safetensors, preprocessor_config.json,
state_dict_names.json} and Fixtures/wav2vec2/references/<fixture>.safetensors.  See Fixtures/wav2vec2/README.md.

Run with the reference environment (tools/python-env):

    .venv-tools/bin/python tools/make_wav2vec2_fixtures.py            # write fixtures + self-checks
    .venv-tools/bin/python tools/make_wav2vec2_fixtures.py --check    # only rebuild in a temp dir and compare

Besides transformers, the script carries an independent float64 NumPy implementation of the wav2vec 2.0 forward
pass (docs/model-numerics.md section B).  It is used to (1) confirm that the documented numerics match what transformers
computes, and (2) measure how far known bugs (shifted positional-conv frame, wrong LayerNorm eps, biased std in
x-vector pooling, ...) move the stored outputs, so that a Swift test at 1e-4 would catch them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.torch import save_file as torch_save_file
from scipy.special import erf
from transformers import (
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForPreTraining,
    Wav2Vec2ForSequenceClassification,
    Wav2Vec2ForXVector,
    Wav2Vec2Model,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import (  # noqa: E402
    FIXTURES, check_regeneration, dir_size, env_quiet, fixture_arguments, load_safetensors, max_abs, safetensors_bytes,
    safetensors_listing, seed_everything, write_file_atomically,
)

OUT_DIR = str(FIXTURES / "wav2vec2")
SR = 16000

DEFAULT_KERNELS = (10, 3, 3, 3, 3, 2, 2)
DEFAULT_STRIDES = (5, 2, 2, 2, 2, 2, 2)
SHORT_KERNELS = (10, 3, 3)
SHORT_STRIDES = (5, 4, 8)

PARAM_G = "encoder.pos_conv_embed.conv.parametrizations.weight.original0"
PARAM_V = "encoder.pos_conv_embed.conv.parametrizations.weight.original1"
LEGACY_G = "encoder.pos_conv_embed.conv.weight_g"
LEGACY_V = "encoder.pos_conv_embed.conv.weight_v"


# ----------------------------------------------------------------------------------------------------------------
# Fixture specifications
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Spec:
    name: str
    cls: type
    seed: int
    config: dict
    do_normalize: bool
    return_attention_mask: bool
    batch: bool = False  # store a padded batch of the three clips
    legacy_weight_norm: bool = False  # rename g/v to weight_g/weight_v in the saved file
    same_weights_as: str | None = None  # copy of another fixture's weights under other names
    notes: str = ""


def base_config(**over) -> dict:
    cfg = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_act="gelu",
        feat_extract_activation="gelu",
        conv_dim=(32,) * 7,
        conv_kernel=DEFAULT_KERNELS,
        conv_stride=DEFAULT_STRIDES,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        mask_time_prob=0.0,
        layer_norm_eps=1e-5,
        # training-only knobs; zero so the config does not suggest they matter
        hidden_dropout=0.0,
        activation_dropout=0.0,
        attention_dropout=0.0,
        feat_proj_dropout=0.0,
        final_dropout=0.0,
        layerdrop=0.0,
    )
    cfg.update(over)
    return cfg


def labels(names):
    return dict(
        num_labels=len(names),
        id2label={i: n for i, n in enumerate(names)},
        label2id={n: i for i, n in enumerate(names)},
    )


SPECS = [
    Spec(
        name="gn-postln",
        cls=Wav2Vec2Model,
        seed=101,
        config=base_config(feat_extract_norm="group", conv_bias=False, do_stable_layer_norm=False),
        do_normalize=False,
        return_attention_mask=False,
        legacy_weight_norm=True,
        notes="base-style backbone (GroupNorm conv stack, post-LN encoder); pos-conv weight norm stored with "
        "the legacy names weight_g / weight_v like the public facebook checkpoints",
    ),
    Spec(
        name="gn-postln-param",
        cls=Wav2Vec2Model,
        seed=101,
        config=base_config(feat_extract_norm="group", conv_bias=False, do_stable_layer_norm=False),
        do_normalize=False,
        return_attention_mask=False,
        same_weights_as="gn-postln",
        notes="exactly the weights of gn-postln, weight norm stored as parametrizations.weight.original0/1 "
        "(what torch>=2.1 / transformers 5.x save_pretrained writes)",
    ),
    Spec(
        name="ln-preln-seqcls",
        cls=Wav2Vec2ForSequenceClassification,
        seed=202,
        config=base_config(
            hidden_size=64,
            intermediate_size=128,
            feat_extract_norm="layer",
            conv_bias=True,
            do_stable_layer_norm=True,
            classifier_proj_size=16,
            use_weighted_layer_sum=False,
            **labels(["yes", "no", "up", "down"]),
        ),
        do_normalize=True,
        return_attention_mask=True,
        batch=True,
        notes="large/lv60-style backbone (LayerNorm conv stack with conv bias, pre-LN 'stable' encoder) with a "
        "sequence-classification head",
    ),
    Spec(
        name="gn-seqcls-wls",
        cls=Wav2Vec2ForSequenceClassification,
        seed=303,
        config=base_config(
            feat_extract_norm="group",
            conv_bias=False,
            do_stable_layer_norm=False,
            num_conv_pos_embeddings=15,
            classifier_proj_size=16,
            use_weighted_layer_sum=True,
            **labels(["speech", "music", "noise"]),
        ),
        do_normalize=True,
        return_attention_mask=False,
        notes="base-style backbone, odd positional-conv kernel (15: no frame removed), sequence classification "
        "with use_weighted_layer_sum (softmax of layer_weights over hidden_states[0..L])",
    ),
    Spec(
        name="ln-xvector",
        cls=Wav2Vec2ForXVector,
        seed=404,
        config=base_config(
            hidden_size=48,
            intermediate_size=96,
            feat_extract_norm="layer",
            conv_bias=True,
            do_stable_layer_norm=True,
            # Not 1e-5 on purpose: the conv-stack LayerNorms use PyTorch's default eps 1e-5 whatever the config
            # says, every other LayerNorm uses layer_norm_eps.  A loader that mixes them up fails this fixture.
            layer_norm_eps=1e-4,
            tdnn_dim=(32, 32, 32, 32, 48),
            tdnn_kernel=(5, 3, 3, 1, 1),
            tdnn_dilation=(1, 2, 3, 1, 1),
            xvector_output_dim=24,
            **labels([f"speaker_{i}" for i in range(6)]),
        ),
        do_normalize=True,
        return_attention_mask=True,
        batch=True,
        notes="LayerNorm conv stack / pre-LN backbone with the x-vector head (TDNN with dilations, mean + "
        "unbiased std pooling); layer_norm_eps=1e-4 (conv LNs keep 1e-5)",
    ),
    Spec(
        name="short-conv",
        cls=Wav2Vec2Model,
        seed=505,
        config=base_config(
            feat_extract_norm="group",
            conv_bias=False,
            do_stable_layer_norm=False,
            conv_dim=(24, 32, 40),
            conv_kernel=SHORT_KERNELS,
            conv_stride=SHORT_STRIDES,
            num_conv_pos_embeddings=15,
        ),
        do_normalize=False,
        return_attention_mask=False,
        notes="3-layer conv stack with unequal widths (24, 32, 40), kernels (10,3,3), strides (5,4,8) and an odd "
        "positional-conv kernel: proves conv_dim/conv_kernel/conv_stride are read from the config",
    ),
    Spec(
        name="pretraining",
        cls=Wav2Vec2ForPreTraining,
        seed=606,
        config=base_config(
            feat_extract_norm="group",
            conv_bias=False,
            do_stable_layer_norm=False,
            mask_time_prob=0.05,  # like facebook/wav2vec2-base: masked_spec_embed exists (training only)
            num_codevector_groups=2,
            num_codevectors_per_group=8,
            codevector_dim=16,
            proj_codevector_dim=12,
        ),
        do_normalize=True,
        return_attention_mask=False,
        notes="Wav2Vec2ForPreTraining checkpoint (the class of facebook/wav2vec2-base): wav2vec2.* backbone plus "
        "quantizer.*, project_hid.*, project_q.* and wav2vec2.masked_spec_embed, all unused at inference; "
        "references are the bare backbone outputs",
    ),
]
SPEC_BY_NAME = {s.name: s for s in SPECS}


# ----------------------------------------------------------------------------------------------------------------
# Waveforms
# ----------------------------------------------------------------------------------------------------------------


def make_waveforms() -> dict[str, np.ndarray]:
    """Deterministic test clips (float32, 16 kHz).  Different amplitudes and DC offsets so that the per-utterance
    normalisation matters; clip_3p7s is quiet (rms ~2e-3) so that eps=1e-7 inside the sqrt is visible."""
    rng = np.random.default_rng(20240611)

    def tone(n, freqs, amps, phase_seed):
        t = np.arange(n) / SR
        p = np.random.default_rng(phase_seed).uniform(0, 2 * np.pi, len(freqs))
        return sum(a * np.sin(2 * np.pi * f * t + ph) for f, a, ph in zip(freqs, amps, p))

    clips = {}
    n = 400
    clips["one_frame"] = 0.3 * tone(n, [440.0, 1250.0, 3100.0], [0.6, 0.3, 0.2], 1) + 0.05 * rng.standard_normal(n) + 0.02

    n = 16000
    t = np.arange(n) / SR
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 1.7 * t) ** 2
    chirp = np.sin(2 * np.pi * (200 * t + 900 * t**2))
    clips["one_second"] = 0.55 * env * (0.7 * chirp + 0.3 * tone(n, [330.0, 2700.0], [0.5, 0.5], 2)) + 0.08 * rng.standard_normal(n) - 0.04

    n = 59200
    t = np.arange(n) / SR
    env = np.clip(np.sin(2 * np.pi * 0.6 * t), 0.05, None)
    x = env * tone(n, [150.0, 600.0, 1800.0, 5200.0], [0.5, 0.8, 0.3, 0.15], 3) + 0.3 * rng.standard_normal(n)
    x[20000:23200] *= 0.02  # a near-silent stretch
    clips["clip_3p7s"] = 0.004 * x

    n = 300
    clips["too_short"] = 0.2 * tone(n, [500.0], [1.0], 4) + 0.01 * rng.standard_normal(n)
    return {k: v.astype(np.float32) for k, v in clips.items()}


CLIPS = ["one_frame", "one_second", "clip_3p7s"]
ERROR_CLIP = "too_short"


# ----------------------------------------------------------------------------------------------------------------
# Randomisation
# ----------------------------------------------------------------------------------------------------------------


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Re-randomise every parameter.  Scales chosen so that every part of the network visibly changes the outputs
    (LN weights 1 +- 0.2, biases ~0.1, heads ~0.3, attention scores O(1), pos-conv comparable to its input)."""
    gen = torch.Generator().manual_seed(seed)

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen) * std + mean

    def uniform(shape, lo, hi):
        return torch.rand(shape, generator=gen) * (hi - lo) + lo

    head_prefixes = ("projector", "classifier", "feature_extractor.", "tdnn")
    last_conv = f"feature_extractor.conv_layers.{len(model.config.conv_kernel) - 1}."
    seen = set()
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = tuple(p.shape)
            is_head = name.startswith(head_prefixes)
            if name.endswith("parametrizations.weight.original0") or name.endswith("weight_g"):
                # g: one gain per kernel tap (shape [1, 1, K]); positive and varied
                val = uniform(shape, 0.8, 2.5)
            elif name.endswith("parametrizations.weight.original1") or name.endswith("weight_v"):
                val = normal(shape, 1.0)
            elif "layer_weights" in name:
                val = normal(shape, 1.0)
            elif name.endswith("masked_spec_embed"):
                val = uniform(shape, 0.0, 1.0)
            elif "codevectors" in name:
                val = uniform(shape, -1.0, 1.0)
            elif name.startswith("objective"):
                val = normal(shape, 1.0)
            elif last_conv + "layer_norm" in name:
                # Small output of the conv stack => the feature-projection LayerNorm sees a small variance
                # (~1e-3), so its eps (config.layer_norm_eps) visibly matters.  "layer" mode only.
                val = normal(shape, 0.015, 0.06) if name.endswith("weight") else normal(shape, 0.02)
            elif ("layer_norm" in name) and name.endswith("weight"):
                val = normal(shape, 0.2, 1.0)
            elif ("layer_norm" in name) and name.endswith("bias"):
                val = normal(shape, 0.1)
            elif name.endswith("bias"):
                val = normal(shape, 0.3 if is_head else 0.1)
            elif "feature_extractor.conv_layers" in name and name.endswith("conv.weight"):
                fan_in = shape[1] * shape[2]
                val = normal(shape, (2.0 / fan_in) ** 0.5)
                if last_conv in name and model.config.feat_extract_norm == "group":
                    val *= 0.05  # same purpose as the small last conv LayerNorm weight in "layer" mode
            elif name.endswith("weight") and p.dim() == 2:
                fan_in = shape[1]
                if name.startswith("tdnn"):
                    val = normal(shape, (2.0 / fan_in) ** 0.5)  # ReLU follows: keep the variance
                elif name.startswith("projector"):
                    val = normal(shape, 1.0 / fan_in**0.5)
                elif is_head:
                    # small output layers: ~0.3 per element (keeps pooled outputs O(1) but clip-dependent)
                    val = normal(shape, 1.5 / fan_in**0.5)
                else:
                    val = normal(shape, 1.0 / fan_in**0.5)
            else:
                raise RuntimeError(f"no randomisation rule for {name} {shape}")
            p.copy_(val.to(p.dtype))
            seen.add(name)
    missing = {n for n, _ in model.named_parameters()} - seen
    assert not missing, missing


# ----------------------------------------------------------------------------------------------------------------
# Building, saving and reloading
# ----------------------------------------------------------------------------------------------------------------


def build_model(spec: Spec):
    cfg = Wav2Vec2Config(**spec.config)
    cfg._attn_implementation = "eager"
    seed_everything(spec.seed)
    model = spec.cls(cfg)
    model.eval()
    randomise(model, spec.seed)
    model.eval()
    return model


def build_extractor(spec: Spec) -> Wav2Vec2FeatureExtractor:
    return Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=SR,
        padding_value=0.0,
        do_normalize=spec.do_normalize,
        return_attention_mask=spec.return_attention_mask,
    )


def save_safetensors_sorted(tensors: dict, path: str, metadata: dict) -> None:
    """safetensors with a deterministic header (fixture_common.safetensors_bytes: metadata sorted by key, tensors by
    dtype then name, ASCII JSON), so that regenerating the fixtures gives byte-identical files.
    safetensors.numpy.save_file orders __metadata__ like a Rust HashMap, i.e. differently on every run."""
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    meta = {k: str(metadata[k]) for k in sorted(metadata)}
    write_file_atomically(path, safetensors_bytes(arrays, meta, ensure_ascii=True))
    back, back_meta = load_safetensors(path)  # round-trip check through the real reader
    assert back_meta == meta
    for k, a in arrays.items():
        assert np.array_equal(back[k], a) and back[k].dtype == a.dtype, k


def names_json(path) -> dict:
    listing = safetensors_listing(Path(path))
    entries = [{"name": k, **v} for k, v in listing["tensors"].items()]
    return {"file": listing["file"], "metadata": listing["metadata"], "count": len(entries), "tensors": entries}


def write_names_json(obj: dict, path: str) -> None:
    """Pretty JSON with one tensor per line (readable diffs)."""
    lines = ["{"]
    for k in ("file", "metadata", "count"):
        lines.append(f'  "{k}": {json.dumps(obj[k], sort_keys=True)},')
    lines.append('  "tensors": [')
    rows = [f"    {json.dumps(e)}" for e in obj["tensors"]]
    lines.append(",\n".join(rows))
    lines.append("  ]")
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(path) as f:
        assert json.load(f) == obj


def save_fixture(spec: Spec, model, extractor, out_dir: str) -> dict:
    d = os.path.join(out_dir, spec.name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    model.save_pretrained(d, safe_serialization=True)
    extractor.save_pretrained(d)
    st = os.path.join(d, "model.safetensors")
    tensors, meta = load_safetensors(st, "pt")
    save_report = {"saved_names_sample": sorted(k for k in tensors if "pos_conv_embed" in k), "metadata": meta}
    if spec.legacy_weight_norm:
        rename_to_legacy_weight_norm(st)
    write_names_json(names_json(st), os.path.join(d, "state_dict_names.json"))
    return save_report


def rename_to_legacy_weight_norm(st) -> None:
    """Rewrite a saved model.safetensors with the positional conv's weight norm under the legacy names weight_g /
    weight_v (as in the public facebook checkpoints) instead of parametrizations.weight.original0 / original1."""
    tensors, meta = load_safetensors(st, "pt")
    renamed = {}
    for k, v in tensors.items():
        if k.endswith(PARAM_G):
            k = k[: -len(PARAM_G)] + LEGACY_G
        elif k.endswith(PARAM_V):
            k = k[: -len(PARAM_V)] + LEGACY_V
        renamed[k] = v.contiguous()
    assert sum(k.endswith(("weight_g", "weight_v")) for k in renamed) == 2
    torch_save_file(renamed, str(st), metadata=meta or {"format": "pt"})


# ----------------------------------------------------------------------------------------------------------------
# Reference outputs from transformers
# ----------------------------------------------------------------------------------------------------------------


def backbone_of(model):
    return model if isinstance(model, Wav2Vec2Model) else model.wav2vec2


def conv_out_len(n, kernels, strides):
    for k, s in zip(kernels, strides):
        n = (n - k) // s + 1 if n >= k else 0
    return n


def run_transformers(spec: Spec, model, extractor, waves) -> tuple[dict, dict]:
    """Returns (tensors, metadata) for references/<fixture>.safetensors."""
    out: dict[str, np.ndarray] = {}
    meta: dict[str, str] = {}
    cfg = model.config
    bb = backbone_of(model)
    for clip, w in waves.items():
        out[f"{clip}.waveform"] = w
    clips = list(CLIPS)
    nframes_too_short = conv_out_len(len(waves[ERROR_CLIP]), cfg.conv_kernel, cfg.conv_stride)
    if nframes_too_short >= 1:
        clips.append(ERROR_CLIP)
        meta[f"{ERROR_CLIP}.expect"] = "accept"
    else:
        meta[f"{ERROR_CLIP}.expect"] = "reject"
        meta[f"{ERROR_CLIP}.reason"] = (
            f"{len(waves[ERROR_CLIP])} samples give 0 frames with conv_kernel {list(cfg.conv_kernel)} / conv_stride "
            f"{list(cfg.conv_stride)} (minimum {min_samples(cfg)} samples); transformers raises"
        )
        fe = extractor(waves[ERROR_CLIP], sampling_rate=SR, return_tensors="pt")
        try:
            with torch.no_grad():
                model(fe["input_values"])
            raise AssertionError("transformers accepted the too-short clip")
        except RuntimeError as e:
            meta[f"{ERROR_CLIP}.transformers_error"] = str(e).splitlines()[0][:200]
    meta["min_samples"] = str(min_samples(cfg))
    meta["clips"] = ",".join(clips)

    hs_last = None
    for clip in clips:
        fe = extractor(waves[clip], sampling_rate=SR, return_tensors="np")
        iv = fe["input_values"].astype(np.float32)
        assert iv.shape == (1, len(waves[clip]))
        out[f"{clip}.input_values"] = iv
        x = torch.from_numpy(iv)
        with torch.no_grad():
            bo = bb(x, output_hidden_states=True)
        nf = conv_out_len(len(waves[clip]), cfg.conv_kernel, cfg.conv_stride)
        assert bo.last_hidden_state.shape[1] == nf, (bo.last_hidden_state.shape, nf)
        meta[f"{clip}.frames"] = str(nf)
        out[f"{clip}.extract_features"] = bo.extract_features.numpy()
        assert len(bo.hidden_states) == cfg.num_hidden_layers + 1
        for i, h in enumerate(bo.hidden_states):
            out[f"{clip}.hidden_state.{i}"] = h.numpy()
        out[f"{clip}.last_hidden_state"] = bo.last_hidden_state.numpy()
        d_last = float((bo.hidden_states[-1] - bo.last_hidden_state).abs().max())
        hs_last = d_last if hs_last is None else max(hs_last, d_last)
        if isinstance(model, (Wav2Vec2ForSequenceClassification, Wav2Vec2ForXVector)):
            try:
                with torch.no_grad():
                    ho = model(x)
            except RuntimeError as e:
                meta[f"{clip}.head"] = "reject"
                meta[f"{clip}.head_reason"] = (
                    f"{nf} frames < TDNN receptive field {tdnn_receptive(cfg)} frames; transformers raises: "
                    + str(e).splitlines()[0][:160]
                )
                continue
            out[f"{clip}.logits"] = ho.logits.numpy()
            if isinstance(model, Wav2Vec2ForXVector):
                out[f"{clip}.embeddings"] = ho.embeddings.numpy()
                meta[f"{clip}.tdnn_frames"] = str(nf - tdnn_shrink(cfg))
            meta[f"{clip}.head"] = "ok"

    if cfg.do_stable_layer_norm:
        # last hidden_states entry vs last_hidden_state (which went through encoder.layer_norm)
        meta["hidden_states_last"] = (
            "pre_final_layer_norm" if hs_last > 1e-3 else "post_final_layer_norm"
        )
        meta["hidden_states_last_vs_last_hidden_state_max_abs"] = f"{hs_last:.3g}"
    else:
        meta["hidden_states_last"] = "equals_last_hidden_state (post-LN encoder has no final LayerNorm)"
        assert hs_last == 0.0

    if spec.batch:
        ws = [waves[c] for c in CLIPS]
        fe = extractor(ws, sampling_rate=SR, padding=True, return_attention_mask=True, return_tensors="np")
        iv = fe["input_values"].astype(np.float32)
        am = fe["attention_mask"].astype(np.int64)
        out["batch.input_values"] = iv
        out["batch.attention_mask"] = am
        meta["batch.clips"] = ",".join(CLIPS)
        xb, mb = torch.from_numpy(iv), torch.from_numpy(am)
        with torch.no_grad():
            bo = bb(xb, attention_mask=mb)
            ho = model(xb, attention_mask=mb)
        out["batch.last_hidden_state"] = bo.last_hidden_state.numpy()
        out["batch.logits"] = ho.logits.numpy()
        lens = [conv_out_len(len(w), cfg.conv_kernel, cfg.conv_stride) for w in ws]
        meta["batch.frames"] = ",".join(map(str, lens))
        meta["batch.padded_frames"] = str(bo.last_hidden_state.shape[1])
        if isinstance(model, Wav2Vec2ForXVector):
            out["batch.embeddings"] = ho.embeddings.numpy()
            T = bo.last_hidden_state.shape[1]
            valid_tdnn = T - tdnn_shrink(cfg)
            used = []
            for L in lens:
                hf = L - sum(k - 1 for k in cfg.tdnn_kernel)  # transformers ignores dilation here
                used.append(len(range(valid_tdnn)[:hf]))
            meta["batch.xvector_pool_frames"] = ",".join(map(str, used))
            meta["batch.xvector_note"] = (
                "pooling length per item = frames - sum(tdnn_kernel-1) (dilation ignored), used as a Python slice "
                "[:length] of the padded TDNN output; a negative length (one_frame: 1-8=-7) drops frames from the "
                "END. Items whose own (unbatched) run is valid: "
                + ",".join(str(i) for i, L in enumerate(lens) if L >= tdnn_receptive(cfg))
            )
    return out, meta


def min_samples(cfg) -> int:
    n = 1
    for k, s in zip(reversed(list(cfg.conv_kernel)), reversed(list(cfg.conv_stride))):
        n = (n - 1) * s + k
    return n


def tdnn_shrink(cfg) -> int:
    return sum(d * (k - 1) for k, d in zip(cfg.tdnn_kernel, cfg.tdnn_dilation))


def tdnn_receptive(cfg) -> int:
    return tdnn_shrink(cfg) + 1


# ----------------------------------------------------------------------------------------------------------------
# Independent float64 NumPy implementation (docs/model-numerics.md section B), with switchable bugs
# ----------------------------------------------------------------------------------------------------------------

BUGS = {
    "none": "correct implementation",
    "pos_conv_shift": "positional conv window one frame late (even K: drop the FIRST output frame instead of the "
    "last; odd K: pad K//2-1 left and K//2+1 right)",
    "ln_eps_1e-12": "LayerNorms that use config.layer_norm_eps use 1e-12 instead",
    "conv_ln_eps_from_config": "conv-stack LayerNorms use config.layer_norm_eps instead of 1e-5",
    "groupnorm_eps_1e-12": "conv layer-0 GroupNorm uses eps 1e-12 instead of 1e-5",
    "normalize_eps_outside_sqrt": "feature extractor: (x-mean)/(sqrt(var)+1e-7)",
    "normalize_unbiased_var": "feature extractor: variance with ddof=1",
    "weight_norm_whole_tensor": "pos-conv weight norm over the whole v tensor instead of per kernel tap",
    "gelu_tanh": "tanh approximation of GELU everywhere",
    "xvector_biased_std": "x-vector statistics pooling with biased std (divide by n)",
    "wls_post_final_ln": "weighted layer sum: last hidden state taken after encoder.layer_norm (4.x semantics)",
    "seqcls_mean_before_projector": "sequence classification: average frames before the projector (same maths, "
    "rounding only; expected to be invisible)",
}


class NumpyWav2Vec2:
    def __init__(self, model_dir: str, bug: str = "none"):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        with open(os.path.join(model_dir, "preprocessor_config.json")) as f:
            self.pp = json.load(f)
        raw, _ = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        raw = {k: v.astype(np.float64) for k, v in raw.items()}
        self.bug = bug
        # strip the backbone prefix; accept both weight-norm spellings
        self.p = {}
        for k, v in raw.items():
            k2 = k[len("wav2vec2."):] if k.startswith("wav2vec2.") else k
            k2 = k2.replace("parametrizations.weight.original0", "weight_g").replace(
                "parametrizations.weight.original1", "weight_v"
            )
            self.p[k2] = v
        g, v = self.p["encoder.pos_conv_embed.conv.weight_g"], self.p["encoder.pos_conv_embed.conv.weight_v"]
        if bug == "weight_norm_whole_tensor":
            self.pos_w = g * v / np.sqrt((v**2).sum())
        else:
            self.pos_w = g * v / np.sqrt((v**2).sum(axis=(0, 1), keepdims=True))

    # -- primitives --
    def gelu(self, x):
        if self.bug == "gelu_tanh":
            return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
        return 0.5 * x * (1 + erf(x / np.sqrt(2)))

    @staticmethod
    def ln(x, w, b, eps):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + eps) * w + b

    def cfg_eps(self):
        return 1e-12 if self.bug == "ln_eps_1e-12" else self.cfg["layer_norm_eps"]

    @staticmethod
    def conv1d(x, w, b, stride=1, dilation=1, pad_left=0, pad_right=0, groups=1):
        """x [C_in, T], w [C_out, C_in/groups, K] -> [C_out, T_out]"""
        if pad_left or pad_right:
            x = np.pad(x, ((0, 0), (pad_left, pad_right)))
        c_in, T = x.shape
        c_out, cpg, K = w.shape
        t_out = (T - dilation * (K - 1) - 1) // stride + 1
        if t_out <= 0:
            raise ValueError(f"conv input too short: T={T}, kernel {K}, dilation {dilation}")
        idx = np.arange(t_out)[:, None] * stride + np.arange(K)[None, :] * dilation  # [t_out, K]
        cols = x[:, idx]  # [C_in, t_out, K]
        opg = c_out // groups
        y = np.empty((c_out, t_out))
        for g in range(groups):
            y[g * opg:(g + 1) * opg] = np.einsum("oik,itk->ot", w[g * opg:(g + 1) * opg], cols[g * cpg:(g + 1) * cpg])
        if b is not None:
            y += b[:, None]
        return y

    # -- feature extractor --
    def normalise(self, x, length=None):
        x = x.astype(np.float64)
        if not self.pp["do_normalize"]:
            return x
        n = len(x) if length is None else length
        seg = x[:n]
        m = seg.mean()
        var = seg.var(ddof=1 if self.bug == "normalize_unbiased_var" else 0)
        if self.bug == "normalize_eps_outside_sqrt":
            y = (x - m) / (np.sqrt(var) + 1e-7)
        else:
            y = (x - m) / np.sqrt(var + 1e-7)
        y[n:] = self.pp["padding_value"]
        return y

    # -- backbone --
    def conv_stack(self, x):
        c = self.cfg
        h = x[None, :]
        for i, (k, s) in enumerate(zip(c["conv_kernel"], c["conv_stride"])):
            pre = f"feature_extractor.conv_layers.{i}."
            h = self.conv1d(h, self.p[pre + "conv.weight"], self.p.get(pre + "conv.bias"), stride=s)
            if c["feat_extract_norm"] == "layer":
                eps = c["layer_norm_eps"] if self.bug == "conv_ln_eps_from_config" else 1e-5
                h = self.ln(h.T, self.p[pre + "layer_norm.weight"], self.p[pre + "layer_norm.bias"], eps).T
            elif i == 0:
                eps = 1e-12 if self.bug == "groupnorm_eps_1e-12" else 1e-5
                m = h.mean(1, keepdims=True)
                v = ((h - m) ** 2).mean(1, keepdims=True)
                h = (h - m) / np.sqrt(v + eps) * self.p[pre + "layer_norm.weight"][:, None] + self.p[
                    pre + "layer_norm.bias"
                ][:, None]
            h = self.gelu(h)
        return h.T  # [T, C]

    def conv_len(self, n):
        return conv_out_len(n, self.cfg["conv_kernel"], self.cfg["conv_stride"])

    def pos_conv(self, h):
        K = self.cfg["num_conv_pos_embeddings"]
        G = self.cfg["num_conv_pos_embedding_groups"]
        b = self.p["encoder.pos_conv_embed.conv.bias"]
        if self.bug == "pos_conv_shift":
            y = self.conv1d(h.T, self.pos_w, b, pad_left=K // 2 - 1, pad_right=K // 2 + 1, groups=G)
        else:
            y = self.conv1d(h.T, self.pos_w, b, pad_left=K // 2, pad_right=K // 2, groups=G)
        if K % 2 == 0:
            y = y[:, :-1]
        return self.gelu(y).T

    def attention(self, h, pre, n_valid):
        c = self.cfg
        H = c["num_attention_heads"]
        D = c["hidden_size"] // H

        def lin(name, x):
            return x @ self.p[pre + name + ".weight"].T + self.p[pre + name + ".bias"]

        T = h.shape[0]
        q = lin("q_proj", h).reshape(T, H, D).transpose(1, 0, 2)
        k = lin("k_proj", h).reshape(T, H, D).transpose(1, 0, 2)
        v = lin("v_proj", h).reshape(T, H, D).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) * D**-0.5
        if n_valid < T:
            s[:, :, n_valid:] = -np.inf
        s = s - s.max(-1, keepdims=True)
        a = np.exp(s)
        a /= a.sum(-1, keepdims=True)
        o = (a @ v).transpose(1, 0, 2).reshape(T, H * D)
        return lin("out_proj", o)

    def ff(self, h, pre):
        x = h @ self.p[pre + "intermediate_dense.weight"].T + self.p[pre + "intermediate_dense.bias"]
        x = self.gelu(x)
        return x @ self.p[pre + "output_dense.weight"].T + self.p[pre + "output_dense.bias"]

    def backbone(self, iv, n_samples=None):
        """iv: normalised input values [N] (padded batch row allowed); n_samples: valid samples if masked."""
        c = self.cfg
        eps = self.cfg_eps()
        feats = self.conv_stack(iv)
        T = feats.shape[0]
        n_valid = T if n_samples is None else self.conv_len(n_samples)
        ef = self.ln(feats, self.p["feature_projection.layer_norm.weight"], self.p["feature_projection.layer_norm.bias"], eps)
        h = ef @ self.p["feature_projection.projection.weight"].T + self.p["feature_projection.projection.bias"]
        if n_samples is not None:
            h[n_valid:] = 0.0
        h = h + self.pos_conv(h)
        hs = []
        stable = c["do_stable_layer_norm"]
        if not stable:
            h = self.ln(h, self.p["encoder.layer_norm.weight"], self.p["encoder.layer_norm.bias"], eps)
        hs.append(h)
        for L in range(c["num_hidden_layers"]):
            pre = f"encoder.layers.{L}."

            def lnp(x, nm):
                return self.ln(x, self.p[pre + nm + ".weight"], self.p[pre + nm + ".bias"], eps)

            if stable:
                h = h + self.attention(lnp(h, "layer_norm"), pre + "attention.", n_valid)
                h = h + self.ff(lnp(h, "final_layer_norm"), pre + "feed_forward.")
            else:
                a = lnp(h + self.attention(h, pre + "attention.", n_valid), "layer_norm")
                h = lnp(a + self.ff(a, pre + "feed_forward."), "final_layer_norm")
            hs.append(h)
        if stable:
            last = self.ln(h, self.p["encoder.layer_norm.weight"], self.p["encoder.layer_norm.bias"], eps)
        else:
            last = h
        return dict(extract_features=ef, hidden_states=hs, last_hidden_state=last, n_valid=n_valid)

    # -- heads --
    def head_input(self, bo):
        if self.cfg.get("use_weighted_layer_sum"):
            hs = list(bo["hidden_states"])
            if self.bug == "wls_post_final_ln":
                hs[-1] = bo["last_hidden_state"]
            w = self.p["layer_weights"]
            w = np.exp(w - w.max())
            w /= w.sum()
            return sum(wi * hi for wi, hi in zip(w, hs))
        return bo["last_hidden_state"]

    def seqcls(self, bo):
        x = self.head_input(bo)
        n = bo["n_valid"]
        if self.bug == "seqcls_mean_before_projector":
            pooled = x[:n].mean(0) @ self.p["projector.weight"].T + self.p["projector.bias"]
        else:
            y = x @ self.p["projector.weight"].T + self.p["projector.bias"]
            pooled = y[:n].sum(0) / n
        return dict(logits=pooled @ self.p["classifier.weight"].T + self.p["classifier.bias"])

    def xvector(self, bo, n_samples=None):
        c = self.cfg
        x = self.head_input(bo)
        y = x @ self.p["projector.weight"].T + self.p["projector.bias"]
        for i, (k, d) in enumerate(zip(c["tdnn_kernel"], c["tdnn_dilation"])):
            W = self.p[f"tdnn.{i}.kernel.weight"]
            out_dim = W.shape[0]
            in_dim = W.shape[1] // k
            w = W.reshape(out_dim, k, in_dim).transpose(0, 2, 1)
            y = np.maximum(self.conv1d(y.T, w, self.p[f"tdnn.{i}.kernel.bias"], dilation=d).T, 0.0)
        if n_samples is not None:
            # transformers: length = conv_len(samples) - sum(k-1) (dilation ignored), Python slice semantics
            length = self.conv_len(n_samples) - sum(k - 1 for k in c["tdnn_kernel"])
            y = y[:length]
        ddof = 0 if self.bug == "xvector_biased_std" else 1
        stats = np.concatenate([y.mean(0), y.std(0, ddof=ddof)])
        emb = stats @ self.p["feature_extractor.weight"].T + self.p["feature_extractor.bias"]
        logits = emb @ self.p["classifier.weight"].T + self.p["classifier.bias"]
        return dict(embeddings=emb, logits=logits)

    def head(self, bo, n_samples=None):
        arch = self.cfg["architectures"][0]
        if arch == "Wav2Vec2ForSequenceClassification":
            return self.seqcls(bo)
        if arch == "Wav2Vec2ForXVector":
            return self.xvector(bo, n_samples)
        return {}

    def run_clip(self, wave):
        iv = self.normalise(wave)
        bo = self.backbone(iv)
        out = {"input_values": iv[None], "extract_features": bo["extract_features"][None],
               "last_hidden_state": bo["last_hidden_state"][None]}
        for i, h in enumerate(bo["hidden_states"]):
            out[f"hidden_state.{i}"] = h[None]
        try:
            for k, v in self.head(bo).items():
                out[k] = v[None]
        except ValueError:
            pass
        return out

    def run_batch(self, waves):
        n_max = max(len(w) for w in waves)
        rows, masks, lhs, heads = [], [], [], {}
        for w in waves:
            x = np.zeros(n_max)
            x[: len(w)] = w
            iv = self.normalise(x, len(w))
            rows.append(iv)
            m = np.zeros(n_max, dtype=np.int64)
            m[: len(w)] = 1
            masks.append(m)
            bo = self.backbone(iv, len(w))
            lhs.append(bo["last_hidden_state"])
            for k, v in self.head(bo, len(w)).items():
                heads.setdefault(k, []).append(v)
        out = {"batch.input_values": np.stack(rows), "batch.attention_mask": np.stack(masks),
               "batch.last_hidden_state": np.stack(lhs)}
        for k, v in heads.items():
            out[f"batch.{k}"] = np.stack(v)
        return out


def numpy_outputs(model_dir, waves, clips, batch, bug="none"):
    ref = NumpyWav2Vec2(model_dir, bug)
    out = {}
    for c in clips:
        for k, v in ref.run_clip(waves[c]).items():
            out[f"{c}.{k}"] = v
    if batch:
        out.update(ref.run_batch([waves[c] for c in CLIPS]))
    return out


def max_diffs(a: dict, b: dict, keys=None):
    return {k: max_abs(a[k], b[k]) for k in keys or a
            if k in a and k in b and not k.endswith(("waveform", "attention_mask"))}


# ----------------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------------


def head_keys(keys):
    return [k for k in keys if k.endswith((".logits", ".embeddings"))]


INPUTS_FILE = "inputs.safetensors"


def input_key(key: str, do_normalize: bool) -> str | None:
    """Where an input tensor of a fixture lives in references/inputs.safetensors (None: not an input)."""
    clip, _, what = key.partition(".")
    if clip == "batch":
        return key if what in ("input_values", "attention_mask") else None
    if what == "waveform":
        return key
    if what == "input_values":
        # do_normalize=False: the extractor only casts to float32 and adds the batch axis, so the waveform itself
        # is the expected output (asserted in split_inputs); not stored twice
        return f"{clip}.input_values.normalized" if do_normalize else f"{clip}.waveform"
    return None


def split_inputs(tensors: dict, spec: Spec, inputs: dict) -> dict:
    """Move the (large, fixture-independent) inputs into the shared dict; check that fixtures agree on them."""
    rest = {}
    for k, v in tensors.items():
        ik = input_key(k, spec.do_normalize)
        if ik is None:
            rest[k] = v
            continue
        if ik.endswith(".waveform") and k.endswith(".input_values"):
            assert v.dtype == np.float32 and np.array_equal(v, inputs[ik][None]), (spec.name, k)
        elif ik in inputs:
            assert inputs[ik].dtype == v.dtype and np.array_equal(inputs[ik], v), (spec.name, k)
        else:
            inputs[ik] = v
    return rest


def load_references(out_dir: str, name: str):
    """Per-fixture references merged with the shared inputs under the per-fixture key names."""
    ref, meta = load_safetensors(os.path.join(out_dir, "references", f"{name}.safetensors"))
    inputs, _ = load_safetensors(os.path.join(out_dir, "references", INPUTS_FILE))
    dn = meta["do_normalize"] == "true"
    for c in CLIPS + [ERROR_CLIP]:
        ref[f"{c}.waveform"] = inputs[f"{c}.waveform"]
    for c in meta["clips"].split(","):
        iv = inputs[input_key(f"{c}.input_values", dn)]
        ref[f"{c}.input_values"] = iv if iv.ndim == 2 else iv[None]
    if "batch.clips" in meta:
        ref["batch.input_values"] = inputs["batch.input_values"]
        ref["batch.attention_mask"] = inputs["batch.attention_mask"]
    return ref, meta


def generate(out_dir: str, verbose=True) -> dict:
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    os.makedirs(os.path.join(out_dir, "references"), exist_ok=True)
    waves = make_waveforms()
    report = {"fixtures": {}}
    models = {}
    inputs: dict[str, np.ndarray] = {}
    for spec in SPECS:
        if spec.same_weights_as:
            model = models[spec.same_weights_as]
        else:
            model = build_model(spec)
            models[spec.name] = model
        extractor = build_extractor(spec)
        save_report = save_fixture(spec, model, extractor, out_dir)
        d = os.path.join(out_dir, spec.name)

        # reload through transformers (legacy names included) and confirm identical outputs
        reload_cls = Wav2Vec2Model if spec.cls is Wav2Vec2ForPreTraining else spec.cls
        reloaded, info = reload_cls.from_pretrained(d, attn_implementation="eager", output_loading_info=True)
        reloaded.eval()
        assert not info["missing_keys"] and not info.get("mismatched_keys"), (spec.name, info)
        unused = sorted(info["unexpected_keys"])
        assert bool(unused) == (spec.cls is Wav2Vec2ForPreTraining), (spec.name, unused)

        tensors, meta = run_transformers(spec, model, extractor, waves)
        tensors2, _ = run_transformers(spec, reloaded, extractor, waves) if reload_cls is spec.cls else (None, None)
        if tensors2 is None:
            # pretraining checkpoint loaded as a bare backbone: compare backbone outputs
            rspec = Spec(**{**spec.__dict__, "cls": Wav2Vec2Model})
            tensors2, _ = run_transformers(rspec, reloaded, extractor, waves)
        reload_diff = max(max_diffs(tensors, tensors2).values())
        # CPU kernels may round differently for the memory-mapped tensors (seen: 6e-7 on one_frame), so not == 0
        assert reload_diff < 1e-5, (spec.name, reload_diff)
        missing = set(backbone_of(model).state_dict()) ^ set(backbone_of(reloaded).state_dict())
        assert not missing, missing

        meta.update(
            fixture=spec.name,
            model_class=spec.cls.__name__,
            transformers_version=transformers.__version__,
            torch_version=torch.__version__,
            numpy_version=np.__version__,
            generator="tools/make_wav2vec2_fixtures.py",
            attn_implementation="eager",
            do_normalize=str(spec.do_normalize).lower(),
            layer_norm_eps=repr(model.config.layer_norm_eps),
            dtype="float32",
            reload_check=f"{reload_cls.__name__}.from_pretrained(<fixture dir>) reproduces every tensor (< 1e-5)",
        )
        if unused:
            meta["unused_by_backbone"] = ",".join(unused)
        meta["inputs_file"] = INPUTS_FILE
        meta["input_values_key"] = (
            "<clip>.input_values.normalized" if spec.do_normalize else "<clip>.waveform (do_normalize=false: the "
            "extractor output is the waveform itself, shape [1, N])"
        )
        ref_path = os.path.join(out_dir, "references", f"{spec.name}.safetensors")
        outputs = split_inputs(tensors, spec, inputs)
        save_safetensors_sorted(outputs, ref_path, meta)

        # independent NumPy float64 implementation
        clips = meta["clips"].split(",")
        npo = numpy_outputs(d, waves, clips, spec.batch)
        diffs = max_diffs(tensors, npo)
        not_covered = sorted(k for k in tensors if k not in npo and not k.endswith("waveform"))
        worst = max(diffs.values())
        rep = dict(
            numpy_vs_transformers_max_abs=worst,
            numpy_vs_transformers_worst_key=max(diffs, key=diffs.get),
            numpy_not_covered=not_covered,
            frames={c: meta[f"{c}.frames"] for c in clips},
            hidden_states_last=meta["hidden_states_last"],
            save=save_report,
            reload_max_abs=reload_diff,
            ref_size=os.path.getsize(ref_path),
        )
        report["fixtures"][spec.name] = rep
        if verbose:
            print(f"[{spec.name}] frames {rep['frames']}  numpy-vs-transformers max |d| = {worst:.2e} "
                  f"({rep['numpy_vs_transformers_worst_key']})  hidden_states_last: {meta['hidden_states_last']}")
            if not_covered:
                print("   not covered by numpy:", not_covered)
        assert worst < 2e-5, (spec.name, rep["numpy_vs_transformers_worst_key"], worst)

    # the waveforms of every fixture are the same: store them (and both extractor variants) once
    for c, w in waves.items():
        assert np.array_equal(inputs[f"{c}.waveform"], w)
    imeta = {
        "generator": "tools/make_wav2vec2_fixtures.py",
        "transformers_version": transformers.__version__,
        "sampling_rate": str(SR),
        "clips": ",".join(CLIPS + [ERROR_CLIP]),
        "waveform": "float32 [N] raw samples given to Wav2Vec2FeatureExtractor",
        "input_values.normalized": "Wav2Vec2FeatureExtractor(do_normalize=True) output [1, N]",
        "input_values.do_normalize_false": "Wav2Vec2FeatureExtractor(do_normalize=False) output is exactly "
        "<clip>.waveform with a leading batch axis [1, N]; not stored separately",
        "batch": "extractor(do_normalize=True)([one_frame, one_second, clip_3p7s], padding=True, "
        "return_attention_mask=True); attention_mask stored as int64",
        f"{ERROR_CLIP}.expect": "reject for the default 7-layer conv stack (needs >= 400 samples); short-conv "
        "accepts it",
    }
    for c, w in waves.items():
        imeta[f"{c}.samples"] = str(len(w))
    save_safetensors_sorted(inputs, os.path.join(out_dir, "references", INPUTS_FILE), imeta)
    return report


def sensitivity(out_dir: str, names=None) -> dict:
    """For each fixture, how much each injected bug moves the stored references (max |d| over all keys, and over
    head outputs).  Bugs that do not apply to a fixture's configuration give 0."""
    waves = make_waveforms()
    res = {}
    for spec in SPECS:
        if names and spec.name not in names:
            continue
        ref, meta = load_references(out_dir, spec.name)
        clips = meta["clips"].split(",")
        d = os.path.join(out_dir, spec.name)
        row = {}
        for bug in BUGS:
            npo = numpy_outputs(d, waves, clips, spec.batch, bug)
            diffs = max_diffs(ref, npo)
            hk = head_keys(diffs)
            lk = [k for k in diffs if k.endswith("last_hidden_state")]
            row[bug] = dict(
                all=max(diffs.values()),
                last_hidden_state=max(diffs[k] for k in lk),
                heads=max((diffs[k] for k in hk), default=None),
                min_clip_head=min((diffs[k] for k in hk if not k.startswith("batch")), default=None),
                min_clip_last=min(diffs[k] for k in lk if not k.startswith("batch")),
            )
        res[spec.name] = row
    return res


def print_sensitivity(res):
    for name, row in res.items():
        print(f"\n== {name}")
        print(f"  {'bug':32s} {'max|d| all':>11s} {'last_hs':>10s} {'heads':>10s} {'min clip last_hs':>17s} {'min clip head':>14s}")
        for bug, r in row.items():
            f = lambda v: "-" if v is None else f"{v:.2e}"
            print(f"  {bug:32s} {f(r['all']):>11s} {f(r['last_hidden_state']):>10s} {f(r['heads']):>10s} "
                  f"{f(r['min_clip_last']):>17s} {f(r['min_clip_head']):>14s}")


def main():
    env_quiet()
    ap = fixture_arguments(__doc__, Path(OUT_DIR), " (or --out)")
    ap.add_argument("--out", default=OUT_DIR, help="output directory (default Fixtures/wav2vec2)")
    ap.add_argument("--sensitivity", action="store_true", help="print the bug-injection table afterwards")
    ap.add_argument("--report-json", help="write the self-check / sensitivity report here")
    args = ap.parse_args()
    if args.check:
        sys.exit(check_regeneration(Path(args.out), lambda d: generate(str(d), verbose=False)))
    report = generate(args.out)
    if args.sensitivity:
        report["sensitivity"] = sensitivity(args.out)
        print_sensitivity(report["sensitivity"])
    if args.report_json:
        with open(args.report_json, "w") as f:
            json.dump(report, f, indent=1, default=str)
    print(f"\nFixtures/wav2vec2 total size: {dir_size([Path(args.out)]) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
