#!/usr/bin/env python3
"""Builds the tiny random-weight AST reference models and their reference outputs under Fixtures/ast/.

    tools/python-env && .venv-tools/bin/python tools/make_audio_fixtures.py && .venv-tools/bin/python tools/make_ast_fixtures.py
    .venv-tools/bin/python tools/make_ast_fixtures.py --check    # regenerate into a temp dir, compare bytes

Needs Fixtures/audio/reference.safetensors (from make_audio_fixtures.py): the `<clip>.16k` waveforms stored there are
the exact inputs. Writes, for each tiny config NAME in (tiny-a, tiny-b):
- Fixtures/ast/NAME/      save_pretrained output (config.json, model.safetensors with the 4.x / hub tensor names),
                          preprocessor_config.json, state_dict_names.json
- Fixtures/ast/NAME-5x/   the same weights under transformers 5.x module names (model.state_dict() saved directly),
                          config.json + preprocessor_config.json copies, state_dict_names.json
- Fixtures/ast/references/NAME.safetensors   fbank / input_values / hidden states / pooled / logits per clip
- Fixtures/ast/references/sensitivity.json   how far known bugs move the logits (and honest-rounding baselines)
Everything is described in Fixtures/ast/README.md.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import (  # noqa: E402
    FIXTURES, Scales, ast_fbank_backend, ast_fbank_kwargs, check_regeneration, described, dir_size, env_quiet,
    file_sha256, fixture_arguments, kaldi_fbank, load_kaldi, load_np_safetensors, load_safetensors, max_abs,
    pad_normalize, rel, rerandomize_, safetensors_listing, save_np_safetensors, seed_everything, versions,
    write_json,
)

env_quiet()
warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification  # noqa: E402

OUT = FIXTURES / "ast"
AUDIO_REF = FIXTURES / "audio" / "reference.safetensors"
SKIP_CLIPS = {"tiny_300samples_16k": "300 samples < one 400-sample window: torchaudio's kaldi.fbank raises "
                                     "AssertionError('choose a window size 400 that is [2, 300]')"}


@dataclass
class Spec:
    name: str
    seed: int
    model: dict
    labels: list[str]
    extractor: dict
    # clips that get every key; the others get fbank, input_values, pooled, logits only (keeps Fixtures/ near its
    # size budget: one tiny-a hidden state is 602 x 64 floats = 154 kB, one input_values 512 x 128 = 262 kB).
    # None = all clips.
    full_clips: tuple[str, ...] | None = None
    scales: Scales = field(default_factory=lambda: ast_scales())


def _patch_weight(shape, gen):
    # Small patch projection => small embeddings (std ~0.03) => the first layernorm_before sees a variance of ~1e-3,
    # so LayerNorm eps 1e-5 (timm / PyTorch default) instead of 1e-12 moves the outputs visibly.
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=gen) * (0.03 / math.sqrt(fan_in))


def _small_ln_weight(shape, gen):
    return 0.03 * (1.0 + 0.2 * torch.randn(shape, generator=gen))


def ast_scales(small_final_layernorm: bool = False) -> Scales:
    """Weight scales for the tiny AST fixtures (chosen with the sensitivity runs, see Fixtures/ast/README.md).

    small_final_layernorm: the encoder's final layernorm gets weights 0.03 * (1 + normal(0, 0.2)) and biases
    normal(0, 0.003), so pooled outputs have a variance of ~1e-3 and the classifier LayerNorm's eps (1e-12 vs 1e-5)
    visibly moves the logits."""
    overrides = {}
    if small_final_layernorm:
        overrides[r"^audio_spectrogram_transformer\.layernorm\.weight$"] = described(
            _small_ln_weight, "0.03 * (1 + normal(0, 0.2))")
        overrides[r"^audio_spectrogram_transformer\.layernorm\.bias$"] = 0.003
    return Scales(
        matrix_gain=1.0, bias=0.1, ln_weight=0.2, ln_bias=0.1, other=0.1,
        overrides={
            **overrides,
            r"patch_embeddings\.projection\.weight$": described(_patch_weight, "normal(0, 0.03/sqrt(fan_in=256))"),
            r"patch_embeddings\.projection\.bias$": 0.01,
            r"embeddings\.position_embeddings$": 0.02,
            r"embeddings\.(cls_token|distillation_token)$": 0.03,
            r"classifier\.dense\.weight$": 0.3,
            r"classifier\.dense\.bias$": 0.1,
        })


SPECS = [
    Spec(
        name="tiny-a", seed=101,
        model=dict(patch_size=16, frequency_stride=10, time_stride=10, num_mel_bins=128, max_length=512,
                   hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                   layer_norm_eps=1e-12, hidden_act="gelu", qkv_bias=True,
                   hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
        labels=["dog", "rain", "siren", "speech", "engine"],
        extractor=dict(num_mel_bins=128, max_length=512),  # mean/std: AudioSet defaults
        full_clips=("chirp_6s_16k",),
    ),
    Spec(
        name="tiny-b", seed=202,
        model=dict(patch_size=16, frequency_stride=12, time_stride=12, num_mel_bins=64, max_length=200,
                   hidden_size=48, num_hidden_layers=3, num_attention_heads=4, intermediate_size=96,
                   layer_norm_eps=1e-12, hidden_act="gelu", qkv_bias=True,
                   hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
        labels=["yes", "no", "unknown"],
        extractor=dict(num_mel_bins=64, max_length=200, mean=-6.845978, std=5.5654526),
        full_clips=None,
        scales=ast_scales(small_final_layernorm=True),
    ),
]

# ----------------------------------------------------------------------------------------------------------------------
# names


def to_5x_name(name: str) -> str:
    """transformers 4.x / hub AST tensor name -> 5.x module name (docs/model-numerics.md A.3); identity on 5.x names."""
    import re

    name = re.sub(r"\.encoder\.layer\.(\d+)\.", r".layers.\1.", name)
    for old, new in ((".attention.attention.query.", ".attention.q_proj."),
                     (".attention.attention.key.", ".attention.k_proj."),
                     (".attention.attention.value.", ".attention.v_proj."),
                     (".attention.output.dense.", ".attention.o_proj."),
                     (".intermediate.dense.", ".mlp.fc1."),
                     (".output.dense.", ".mlp.fc2.")):
        name = name.replace(old, new)
    return name


# ----------------------------------------------------------------------------------------------------------------------
# features (kaldi_fbank / pad_normalize: fixture_common, the extractor re-implemented to cross-check it and inject bugs)


def effective_fbank_settings(kaldi, num_mel_bins: int) -> dict:
    params = {n: p.default for n, p in inspect.signature(kaldi.fbank).parameters.items() if n != "waveform"}
    params.update(ast_fbank_kwargs(num_mel_bins))
    return params


# ----------------------------------------------------------------------------------------------------------------------
# model


def build_model(spec: Spec):
    seed_everything(spec.seed)
    id2label = {i: lab for i, lab in enumerate(spec.labels)}
    config = ASTConfig(**spec.model, num_labels=len(spec.labels), id2label=id2label,
                       label2id={lab: i for i, lab in id2label.items()})
    model = ASTForAudioClassification._from_config(config, attn_implementation="eager")
    model.eval()
    rules = rerandomize_(model, spec.seed, spec.scales)
    assert model.config._attn_implementation == "eager"
    return model, rules


def run_model(model, input_values: np.ndarray) -> dict:
    """Outputs of ASTForAudioClassification on one [T, F] input (batch of 1), squeezed to per-example arrays."""
    x = torch.from_numpy(input_values)[None]
    with torch.no_grad():
        base = model.audio_spectrogram_transformer(x, output_hidden_states=True)
        logits = model(x).logits
        # consistency: head applied by hand on the pooled output; hidden_states[0] is the embedding output
        assert torch.equal(model.classifier(base.pooler_output), logits)
        assert torch.equal(model.audio_spectrogram_transformer.embeddings(x), base.hidden_states[0])
    return {"hidden_states": [h[0].numpy().copy() for h in base.hidden_states],
            "last_hidden_state": base.last_hidden_state[0].numpy().copy(),
            "pooled": base.pooler_output[0].numpy().copy(),
            "logits": logits[0].numpy().copy()}


def logits_of(model, input_values: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(input_values)[None]).logits[0].double().numpy()


# ----------------------------------------------------------------------------------------------------------------------
# sensitivity: how much would a known bug move the logits?


def _time_major_forward(self, input_values):
    x = input_values.unsqueeze(1).transpose(2, 3)
    return self.projection(x).transpose(2, 3).flatten(2).transpose(1, 2)  # BUG: time-major token order


def model_variants(model, spec: Spec) -> dict:
    """name -> (description, function(input_values) -> logits [float64])."""
    hidden = spec.model["hidden_size"]
    heads = spec.model["num_attention_heads"]
    head_dim = hidden // heads
    out = {}

    def with_copy(mutate):
        m = copy.deepcopy(model)
        mutate(m)
        m.eval()
        return lambda iv: logits_of(m, iv)

    def set_eps(eps):
        def mutate(m):
            for mod in m.modules():
                if isinstance(mod, nn.LayerNorm):
                    mod.eps = eps
        return mutate

    out["layernorm_eps_1e-5"] = ("every LayerNorm eps 1e-5 (PyTorch default) instead of 1e-12",
                                 with_copy(set_eps(1e-5)))
    out["layernorm_eps_1e-6"] = ("every LayerNorm eps 1e-6 (timm DeiT) instead of 1e-12", with_copy(set_eps(1e-6)))
    out["classifier_ln_eps_1e-5"] = ("only the classifier LayerNorm eps 1e-5 (original AST mlp_head)",
                                     with_copy(lambda m: setattr(m.classifier.layernorm, "eps", 1e-5)))

    def time_major(m):
        pe = m.audio_spectrogram_transformer.embeddings.patch_embeddings
        pe.forward = _time_major_forward.__get__(pe)
    out["patch_flatten_time_major"] = ("patch tokens flattened time-major (j*F_out + i) instead of frequency-major",
                                       with_copy(time_major))

    def kernel_transposed(m):
        w = m.audio_spectrogram_transformer.embeddings.patch_embeddings.projection.weight
        w.data = w.data.transpose(2, 3).contiguous()
    out["patch_kernel_transposed"] = ("conv kernel indexed [out,0,kt,kf] instead of [out,0,kf,kt]",
                                      with_copy(kernel_transposed))

    def gelu_tanh(m):
        for layer in m.audio_spectrogram_transformer.layers:
            layer.mlp.activation_fn = nn.GELU(approximate="tanh")
    out["gelu_tanh"] = ("GELU tanh approximation instead of exact erf", with_copy(gelu_tanh))

    def scale_hidden(m):
        for layer in m.audio_spectrogram_transformer.layers:
            layer.attention.scaling = hidden ** -0.5
    out["attention_scale_hidden"] = ("attention scores scaled by hidden^-0.5 instead of head_dim^-0.5",
                                     with_copy(scale_hidden))

    def interleaved_heads(m):
        # head h taking features d*heads + h (view as [head_dim, heads]) instead of h*head_dim + d
        perm = torch.arange(hidden).view(head_dim, heads).t().reshape(-1)
        for layer in m.audio_spectrogram_transformer.layers:
            att = layer.attention
            for lin in (att.q_proj, att.k_proj, att.v_proj):
                lin.weight.data = lin.weight.data[perm].contiguous()
                lin.bias.data = lin.bias.data[perm].contiguous()
            att.o_proj.weight.data = att.o_proj.weight.data[:, perm].contiguous()
    out["heads_interleaved"] = ("attention heads split as [head_dim, heads] instead of [heads, head_dim]",
                                with_copy(interleaved_heads))

    def pooled_with(fn):
        def run(iv):
            with torch.no_grad():
                base = model.audio_spectrogram_transformer(torch.from_numpy(iv)[None], output_hidden_states=True)
                return model.classifier(fn(base)).double()[0].numpy()
        return run
    out["pool_cls_only"] = ("pooled = CLS token only instead of (CLS + distillation)/2",
                            pooled_with(lambda b: b.last_hidden_state[:, 0]))
    out["pool_before_final_ln"] = ("pooled from the last layer output before the final layernorm",
                                   pooled_with(lambda b: (b.hidden_states[-1][:, 0] + b.hidden_states[-1][:, 1]) / 2))

    def no_dist_position(m):
        pe = m.audio_spectrogram_transformer.embeddings.position_embeddings
        pe.data[:, 1] = 0
    out["distillation_position_zeroed"] = ("position embedding of the distillation token ignored",
                                           with_copy(no_dist_position))

    m64 = copy.deepcopy(model).double().eval()

    def float64(iv):
        with torch.no_grad():
            return m64(torch.from_numpy(iv.astype(np.float64))[None]).logits[0].numpy()
    out["honest_float64_model"] = ("HONEST: same model evaluated in float64", float64)
    return out


def sensitivity(model, spec: Spec, kaldi, waves: dict[str, np.ndarray], decoded: dict, inputs: dict,
                inputs_np: dict) -> dict:
    """Max |delta logits| per variant and clip. Bugs should move logits by >> 1e-4, honest rounding by << 1e-4."""
    M, T = spec.extractor["num_mel_bins"], spec.extractor["max_length"]
    mean = spec.extractor.get("mean", -4.2677393)
    std = spec.extractor.get("std", 4.5689974)
    base = {c: logits_of(model, iv) for c, iv in inputs.items()}
    results = {}

    def record(name, desc, per_clip, kind):
        per_clip = {c: float(v) for c, v in per_clip.items()}
        vals = list(per_clip.values())
        results[name] = {"description": desc, "kind": kind, "max_abs_dlogit_per_clip": per_clip,
                         "min_over_clips": min(vals), "max_over_clips": max(vals)}

    for name, (desc, fn) in model_variants(model, spec).items():
        record(name, desc, {c: np.max(np.abs(fn(iv) - base[c])) for c, iv in inputs.items()},
               "honest" if name.startswith("honest") else "model")

    # feature-pipeline bugs, fed through the correct model
    def feat_variant(name, desc, make_iv, clips=None):
        per = {}
        for c in (clips or inputs):
            iv = make_iv(c)
            if iv is None:
                continue
            per[c] = np.max(np.abs(logits_of(model, iv) - base[c]))
        if per:
            record(name, desc, per, "honest" if name.startswith("honest") else "features")

    feat_variant("honest_numpy_fbank_path", "HONEST: input_values from the transformers numpy fbank path",
                 lambda c: inputs_np[c])
    feat_variant("pad_zero_after_normalise",
                 "padded frames set to 0 after normalisation instead of 0 before (-> (0-mean)/(2 std))",
                 lambda c: pad_normalize(kaldi_fbank(kaldi, waves[c], M), T, mean, std, pad_value_after_norm=0.0)
                 if kaldi_fbank(kaldi, waves[c], M).shape[0] < T else None)
    feat_variant("frames_off_by_one", "first fbank frame dropped (framing off by one hop)",
                 lambda c: pad_normalize(kaldi_fbank(kaldi, waves[c], M)[1:], T, mean, std))
    feat_variant("povey_window", "kaldi default povey window instead of hanning",
                 lambda c: pad_normalize(kaldi_fbank(kaldi, waves[c], M, window_type="povey"), T, mean, std))
    feat_variant("no_preemphasis", "pre-emphasis 0 instead of 0.97",
                 lambda c: pad_normalize(kaldi_fbank(kaldi, waves[c], M, preemphasis_coefficient=0.0), T, mean, std))
    feat_variant("no_dc_removal", "per-frame DC offset not removed",
                 lambda c: pad_normalize(kaldi_fbank(kaldi, waves[c], M, remove_dc_offset=False), T, mean, std))
    feat_variant("magnitude_not_power", "magnitude spectrum instead of power",
                 lambda c: pad_normalize(kaldi_fbank(kaldi, waves[c], M, use_power=False), T, mean, std))
    feat_variant("log_floor_1e-10", "log floor 1e-10 instead of float32 epsilon",
                 lambda c: pad_normalize(_log_floor_variant(kaldi, waves[c], M, 1e-10), T, mean, std))
    feat_variant("normalise_by_std_not_2std", "(x - mean)/std instead of (x - mean)/(2 std)",
                 lambda c: pad_normalize(kaldi_fbank(kaldi, waves[c], M), T, mean, std / 2))
    feat_variant("pcm16_scale_32767", "PCM16 decoded as x/32767 instead of x/32768 (16 kHz PCM16 clips)",
                 lambda c: pad_normalize(kaldi_fbank(kaldi, waves[c] * np.float32(32768 / 32767), M), T, mean, std)
                 if decoded[c]["subtype"] == "PCM_16" and decoded[c]["sample_rate"] == 16000 else None)

    from scipy.signal import resample_poly

    def other_resampler(c):
        info = decoded[c]
        if info["sample_rate"] == 16000:
            return None
        g = math.gcd(16000, info["sample_rate"])
        x = resample_poly(decoded[c]["decoded"].astype(np.float64), 16000 // g, info["sample_rate"] // g)
        return pad_normalize(kaldi_fbank(kaldi, x.astype(np.float32), M), T, mean, std)
    feat_variant("resampler_scipy_polyphase", "scipy resample_poly (Kaiser 5) instead of soxr HQ (resampled clips)",
                 other_resampler)

    def left_only(c):
        import soundfile as sf
        import soxr
        info = decoded[c]
        if info["channels"] != 2:
            return None
        data, sr = sf.read(str(FIXTURES / "audio" / info["file"]), dtype="float32", always_2d=True)
        x = soxr.resample(data[:, 0].copy(), sr, 16000, quality="HQ").astype(np.float32)
        return pad_normalize(kaldi_fbank(kaldi, x, M), T, mean, std)
    feat_variant("stereo_left_channel_only", "stereo downmix = left channel instead of the mean", left_only)
    return results


def _log_floor_variant(kaldi, wave, M, floor):
    """fbank with a different log floor: recompute the mel energies without the log and apply ln(max(E, floor))."""
    e = kaldi_fbank(kaldi, wave, M, use_log_fbank=False).astype(np.float64)
    return np.log(np.maximum(e, floor)).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------------
# main


def save_model_dirs(spec: Spec, model, fe: ASTFeatureExtractor, out: Path) -> dict:
    from safetensors.torch import save_file as torch_save_file

    d4 = out / spec.name
    d5 = out / f"{spec.name}-5x"
    for d in (d4, d5):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)

    model.save_pretrained(str(d4))
    fe.save_pretrained(str(d4))
    listing4 = safetensors_listing(d4 / "model.safetensors")

    sd = model.state_dict()
    names5 = sorted(sd)
    # transformers 5.24 state_dict() already uses the 5.x module tree; rename defensively if a version does not.
    renamed = {to_5x_name(k): v.detach().contiguous() for k, v in sd.items()}
    assert sorted(renamed) == sorted(to_5x_name(k) for k in listing4["tensors"]), "4.x/5.x name sets disagree"
    assert any(".layers.0.attention.q_proj.weight" in k for k in renamed), names5[:8]
    torch_save_file(renamed, str(d5 / "model.safetensors"), metadata={"format": "pt"})
    for f in ("config.json", "preprocessor_config.json"):
        shutil.copyfile(d4 / f, d5 / f)
    listing5 = safetensors_listing(d5 / "model.safetensors")

    # the two files hold identical tensors, only the names differ
    t4, _ = load_safetensors(d4 / "model.safetensors", "pt")
    t5, _ = load_safetensors(d5 / "model.safetensors", "pt")
    for k, v in t4.items():
        assert torch.equal(v, t5[to_5x_name(k)]), k
    n4 = sorted(t4)
    assert n4 != sorted(listing5["tensors"]) or not any(".encoder.layer." in k for k in n4)

    for d, listing, how in ((d4, listing4, "ASTForAudioClassification.save_pretrained (transformers "
                                           f"{__import__('transformers').__version__}, save_original_format default)"),
                            (d5, listing5, "safetensors.torch.save_file(model.state_dict(), metadata={'format':'pt'})")):
        listing["written_by"] = how
        write_json(d / "state_dict_names.json", listing)

    # round trip: both directories load in transformers and give identical logits
    checks = {}
    for d in (d4, d5):
        re_m = ASTForAudioClassification.from_pretrained(str(d), attn_implementation="eager").eval()
        for (k, a), (k2, b) in zip(sorted(model.state_dict().items()), sorted(re_m.state_dict().items())):
            assert k == k2 and torch.equal(a, b), (d, k, k2)
        checks[d.name] = "from_pretrained reproduces every parameter exactly"
    return {"dir_4x": d4, "dir_5x": d5, "listing4": listing4, "listing5": listing5, "checks": checks}


def main() -> None:
    ap = fixture_arguments(__doc__, OUT, " (with --no-sensitivity: all but references/sensitivity.json)")
    ap.add_argument("--no-sensitivity", action="store_true", help="skip the (slower) injected-bug sensitivity runs")
    args = ap.parse_args()
    if args.check:
        sys.exit(check_regeneration(OUT, lambda d: build(d, not args.no_sensitivity), fresh_only=args.no_sensitivity))
    build(OUT, not args.no_sensitivity)


def build(folder: Path, with_sensitivity: bool = True) -> None:
    """Writes every fixture into `folder` (Fixtures/ast, or a temporary folder for --check: the metadata always names
    the model folders by their place under Fixtures/ast)."""
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    kaldi_src = load_kaldi()
    kaldi = kaldi_src.module
    audio, audio_meta = load_np_safetensors(AUDIO_REF)
    clip_info = json.loads(audio_meta["clips"])
    clips = sorted(clip_info)
    decoded = {c: dict(clip_info[c], decoded=audio[f"{c}.decoded"]) for c in clips}
    waves = {c: audio[f"{c}.16k"] for c in clips}
    good = [c for c in clips if c not in SKIP_CLIPS]

    (folder / "references").mkdir(parents=True, exist_ok=True)
    all_sens = {}
    summary = {}
    for spec in SPECS:
        print(f"== {spec.name}")
        model, rules = build_model(spec)
        M, T = spec.extractor["num_mel_bins"], spec.extractor["max_length"]

        with ast_fbank_backend(kaldi):
            fe_t = ASTFeatureExtractor(**spec.extractor)
            assert not hasattr(fe_t, "mel_filters")
            inputs = {c: fe_t(waves[c], sampling_rate=16000, return_tensors="np")["input_values"][0] for c in good}
            skipped = {}
            for c in SKIP_CLIPS:
                try:
                    fe_t(waves[c], sampling_rate=16000, return_tensors="np")
                    skipped[c] = "UNEXPECTED: torchaudio path accepted it"
                except AssertionError as exc:
                    skipped[c] = f"torchaudio path: AssertionError({exc})"
        with ast_fbank_backend(None):
            fe_n = ASTFeatureExtractor(**spec.extractor)
            assert hasattr(fe_n, "mel_filters")
            inputs_np = {c: fe_n(waves[c], sampling_rate=16000, return_tensors="np")["input_values"][0] for c in good}
            for c in SKIP_CLIPS:
                iv = fe_n(waves[c], sampling_rate=16000, return_tensors="np")["input_values"][0]
                skipped[c] += (f"; numpy path: no frames, every row padding -> all values "
                               f"{np.unique(iv).tolist()} (shape {list(iv.shape)})")
        saved = save_model_dirs(spec, model, fe_t, folder)
        fe_cfg = json.loads((saved["dir_4x"] / "preprocessor_config.json").read_text())
        mean, std = fe_cfg["mean"], fe_cfg["std"]

        tensors = {}
        diffs = {}
        keys_per_clip = {}
        for c in good:
            fb = kaldi_fbank(kaldi, waves[c], M)
            iv = inputs[c].astype(np.float32)
            ivn = inputs_np[c].astype(np.float32)
            assert iv.shape == (T, M) and fb.shape[1] == M
            assert max_abs(iv, pad_normalize(fb, T, mean, std)) == 0.0, c  # extractor == fbank + pad + normalise
            out = run_model(model, iv)
            n_hidden = len(out["hidden_states"])
            assert n_hidden == spec.model["num_hidden_layers"] + 1
            ln = model.audio_spectrogram_transformer.layernorm
            with torch.no_grad():
                assert torch.equal(ln(torch.from_numpy(out["hidden_states"][-1])),
                                   torch.from_numpy(out["last_hidden_state"]))
            full = spec.full_clips is None or c in spec.full_clips
            entry = {f"{c}.fbank": fb, f"{c}.input_values": iv, f"{c}.pooled": out["pooled"],
                     f"{c}.logits": out["logits"]}
            if full:
                entry[f"{c}.input_values_numpy"] = ivn
                entry[f"{c}.last_hidden_state"] = out["last_hidden_state"]
                for i, h in enumerate(out["hidden_states"]):
                    entry[f"{c}.hidden_state.{i}"] = h
            tensors.update(entry)
            keys_per_clip[c] = sorted(k.split(".", 1)[1] for k in entry)
            diffs[c] = {"input_values_max_abs_diff": max_abs(iv, ivn),
                        "logits_max_abs_diff": max_abs(out["logits"], logits_of(model, ivn)),
                        "frames": int(fb.shape[0])}
            print(f"  {c:22s} frames={fb.shape[0]:4d} torchaudio-vs-numpy input_values {diffs[c]['input_values_max_abs_diff']:.3g}"
                  f" logits {diffs[c]['logits_max_abs_diff']:.3g}  logits={np.round(out['logits'], 4).tolist()}")

        sens = None
        if with_sensitivity:
            sens = sensitivity(model, spec, kaldi, waves, decoded, inputs, inputs_np)
            all_sens[spec.name] = sens
            for name, r in sens.items():
                # model bugs must show on every clip; feature bugs on at least one clip (silence is immune to many)
                worst = {"model": r["min_over_clips"], "features": r["max_over_clips"]}.get(r["kind"])
                flag = "" if worst is None else ("  <-- below 3e-4" if worst < 3e-4 else "")
                print(f"    {name:32s} min {r['min_over_clips']:.3g}  max {r['max_over_clips']:.3g}{flag}")

        tokens = out["last_hidden_state"].shape[0] if "last_hidden_state" in out else None
        metadata = {
            "generator": "tools/make_ast_fixtures.py",
            "model_dir": rel(OUT / saved["dir_4x"].name),
            "model_dir_5x": rel(OUT / saved["dir_5x"].name),
            "model_safetensors_sha256": file_sha256(saved["dir_4x"] / "model.safetensors"),
            "input": "Fixtures/audio/reference.safetensors `<clip>.16k` (float32, 16 kHz), used exactly",
            "fbank_path_for_input_values": kaldi_src.describe() + "; patched into transformers' ASTFeatureExtractor "
                                           "(is_speech_available -> True, ta_kaldi -> this module)",
            "fbank_call": f"kaldi.fbank(waveform[None], **{json.dumps(ast_fbank_kwargs(M))}) - exactly what "
                          "ASTFeatureExtractor passes; every other argument at its default",
            "fbank_effective_settings": effective_fbank_settings(kaldi, M),
            "input_values": f"ASTFeatureExtractor({json.dumps(spec.extractor)})(wave, sampling_rate=16000, "
                            "return_tensors='np')['input_values'][0] via the torchaudio path: fbank zero-padded "
                            f"(or truncated) to {T} frames, then (x - mean) / (2 std)",
            "input_values_numpy": "the same extractor with transformers' numpy fbank path (is_speech_available -> "
                                  "False at construction and call)",
            "extractor": fe_cfg,
            "model_outputs": "ASTForAudioClassification (eager attention, eval, torch.no_grad, float32, batch 1) on "
                             "the torchaudio-path input_values; hidden_state.0 = embeddings (patches + tokens + "
                             "position), hidden_state.i = output of layer i-1 (before the final layernorm); "
                             "last_hidden_state = final layernorm of the last hidden_state; pooled = "
                             "(last_hidden_state[0] + last_hidden_state[1]) / 2; logits = classifier(pooled)",
            "keys_per_clip": keys_per_clip,
            "full_clips": "all" if spec.full_clips is None else list(spec.full_clips),
            "skipped_clips": skipped,
            "torchaudio_vs_numpy": diffs,
            "tokens": tokens,
            "weight_scales": spec.scales.as_metadata(),
            "seed": spec.seed,
            "versions": versions(),
            "torchaudio_kaldi_source": {"version": kaldi_src.torchaudio_version, "wheel": kaldi_src.wheel,
                                        "kaldi_py_sha256": kaldi_src.kaldi_sha256},
        }
        ref_path = folder / "references" / f"{spec.name}.safetensors"
        size = save_np_safetensors(ref_path, tensors, metadata)
        summary[spec.name] = {"reference_bytes": size, "tensors": len(tensors),
                              "model_dir_bytes": dir_size([saved["dir_4x"], saved["dir_5x"]]),
                              "parameters": sum(p.numel() for p in model.parameters())}
        print(f"  wrote {rel(ref_path)} ({size} bytes, {len(tensors)} tensors); {saved['checks']}")

    if all_sens:
        write_json(folder / "references" / "sensitivity.json",
                   {"note": "max |delta logits| when a known bug is injected (or, for honest_*, when only float "
                            "rounding differs), per clip; generated by tools/make_ast_fixtures.py",
                    "models": all_sens})
    total = dir_size([FIXTURES / "audio", folder])
    print(json.dumps(summary, indent=1))
    print(f"Fixtures/audio + Fixtures/ast: {total} bytes ({total / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
