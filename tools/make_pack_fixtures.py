#!/usr/bin/env python3
"""Builds the IPET adapter-pack fixtures under Fixtures/packs/ (format: Formats/ipet-pack.md, method:
docs/ipet-method.md) with tools/ipet_reference.py, and their reference outputs.

    .venv-tools/bin/python tools/make_pack_fixtures.py                 # write Fixtures/packs
    .venv-tools/bin/python tools/make_pack_fixtures.py --check         # regenerate into a temp dir, compare bytes
    .venv-tools/bin/python tools/make_pack_fixtures.py --no-sensitivity

Inputs: the tiny backbones in Fixtures/ast and Fixtures/wav2vec2, the `<clip>.16k` waveforms of
Fixtures/audio/reference.safetensors (AST) and the `<clip>.waveform` of Fixtures/wav2vec2/references/inputs.safetensors
(wav2vec 2.0). Every pack tensor is re-randomised (non-zero adapters, LN weights 1 +- 0.2, head weights ~0.3) so that
the references are sensitive to placement bugs; references are computed from the pack as written (read back and
widened to float32, so F16 packs are referenced with their rounded weights).

Checks run every time (the script stops if one fails):
- IPET with k = 0 and zero adapters reproduces transformers' last_hidden_state exactly (AST tiny-a / tiny-b,
  wav2vec 2.0 post-LN and pre-LN, with and without an attention mask);
- the AST position-table adaptation reproduces the examples of docs/ipet-method.md 4.1 (512 / 400 / 128 frames on the
  12 x 101 grid);
- the pack writer is byte-identical to safetensors' Python writer for single-key metadata;
- fingerprints: file vs in-memory model, 4.x vs 5.x names, weight_g/v vs parametrizations, and an independent
  implementation parsing the raw safetensors bytes; equal / different where expected;
- an independent float64 implementation (raw tensors + torch functional ops, no transformers modules) reproduces
  every stored reference.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import struct
import sys
import tempfile
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import (  # noqa: E402
    FIXTURES, check_regeneration, dir_size, env_quiet, file_sha256, fixture_arguments, kaldi_fbank, le_array,
    load_kaldi, load_np_safetensors, max_abs, pad_normalize, randomise_pack_, read_safetensors_header,
    safetensors_header, save_np_safetensors, versions, write_json,
)

env_quiet()
warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import ipet_reference as ipet  # noqa: E402

OUT = FIXTURES / "packs"
AUDIO_REF = FIXTURES / "audio" / "reference.safetensors"
W2V2_INPUTS = FIXTURES / "wav2vec2" / "references" / "inputs.safetensors"

AST_CLIPS = ("chirp_6s_16k", "tone440_2s_16k", "short_0p5s_16k")
# input_values are large (max_length x 128 floats): stored only for PackSpec.input_clips
W2V2_CLIPS = ("one_second", "clip_3p7s")

FAKE_FINGERPRINT = "sha256:" + hashlib.sha256(b"ipet fixture: shape-only pack, no backbone").hexdigest()

ESC50_LABELS = [
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow", "rain", "sea_waves",
    "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind", "pouring_water", "toilet_flush",
    "thunderstorm", "crying_baby", "sneezing", "clapping", "breathing", "coughing", "footsteps", "laughing",
    "brushing_teeth", "snoring", "drinking_sipping", "door_wood_knock", "mouse_click", "keyboard_typing",
    "door_wood_creaks", "can_opening", "washing_machine", "vacuum_cleaner", "clock_alarm", "clock_tick",
    "glass_breaking", "helicopter", "chainsaw", "siren", "car_horn", "engine", "train", "church_bells", "airplane",
    "fireworks", "hand_saw"]

FINGERPRINT_DIRS = {
    "Fixtures/ast/tiny-a": ipet.AST_ARCH, "Fixtures/ast/tiny-a-5x": ipet.AST_ARCH,
    "Fixtures/ast/tiny-b": ipet.AST_ARCH, "Fixtures/ast/tiny-b-5x": ipet.AST_ARCH,
    "Fixtures/wav2vec2/gn-postln": ipet.W2V2_ARCH, "Fixtures/wav2vec2/gn-postln-param": ipet.W2V2_ARCH,
    "Fixtures/wav2vec2/ln-preln-seqcls": ipet.W2V2_ARCH, "Fixtures/wav2vec2/pretraining": ipet.W2V2_ARCH,
}

# the one value changed for ast-tiny-a-wrong-fingerprint.ipet
PERTURBED_TENSOR = "audio_spectrogram_transformer.encoder.layer.1.attention.attention.value.weight"
PERTURBED_INDEX = (5, 17)


@dataclass
class PackSpec:
    name: str
    backbone: str  # folder under the repo root
    k: int = 0
    b: int = 0
    head: str = "ast-pooled"
    labels: list[str] | None = None
    embedding_dim: int | None = None
    seed: int = 0
    params_from: str | None = None  # reuse another pack's prompts / adapters / head
    adapter_residual: bool = False
    dtype: str = "F32"
    preprocessing: dict = field(default_factory=dict)
    wrong_fingerprint: bool = False
    references: bool = True
    input_values: bool = True  # AST: store <clip>.input_values (else identical to `input_values_in`)
    input_values_in: str | None = None
    input_clips: tuple[str, ...] = ("chirp_6s_16k", "tone440_2s_16k")
    small_embedding: bool = False  # speaker: embedding ~0.03 so that the classifier LayerNorm's eps is visible
    description: str = ""


def ast_pre(max_length: int, **extra) -> dict:
    cfg = json.loads((FIXTURES / "ast" / "tiny-a" / "preprocessor_config.json").read_text())
    return {"sampling_rate": 16000, "num_mel_bins": 128, "max_length": max_length, "mean": cfg["mean"],
            "std": cfg["std"], "do_normalize": True, **extra}


def w2v2_pre(**extra) -> dict:
    return {"sampling_rate": 16000, "do_normalize": False, "crop_samples": None, **extra}


AST_LABELS = ["cat", "dog", "rain", "wind"]
SPEAKERS = ["spk1", "spk2", "spk3", "spk4", "spk5"]

SPECS = [
    PackSpec("ast-tiny-a", "Fixtures/ast/tiny-a", 3, 8, "ast-pooled", AST_LABELS, seed=1001,
             preprocessing=ast_pre(512), description="AST tiny-a, k 3, b 8, ast-pooled head, 4 labels, 512 frames"),
    PackSpec("ast-tiny-a-short", "Fixtures/ast/tiny-a", 3, 8, "ast-pooled", AST_LABELS, params_from="ast-tiny-a",
             preprocessing=ast_pre(256),
             description="ast-tiny-a's tensors, max_length 256: 25 time patches, position table centre-cropped "
                         "(columns 13..37 of 50)"),
    PackSpec("ast-tiny-a-long", "Fixtures/ast/tiny-a", 3, 8, "ast-pooled", AST_LABELS, params_from="ast-tiny-a",
             preprocessing=ast_pre(700), input_clips=("chirp_6s_16k",),
             description="ast-tiny-a's tensors, max_length 700: 69 time patches, position table bilinearly "
                         "interpolated 50 -> 69 columns"),
    PackSpec("ast-tiny-a-f16", "Fixtures/ast/tiny-a", 3, 8, "ast-pooled", AST_LABELS, params_from="ast-tiny-a",
             dtype="F16", preprocessing=ast_pre(512), input_values=False, input_values_in="ast-tiny-a",
             description="ast-tiny-a stored as F16 (references use the F16-rounded weights)"),
    PackSpec("ast-tiny-a-speaker", "Fixtures/ast/tiny-a", 3, 8, "speaker", SPEAKERS, embedding_dim=16, seed=1002,
             preprocessing=ast_pre(512, segments=5), input_values=False, input_values_in="ast-tiny-a",
             description="AST tiny-a, k 3, b 8, speaker head (pooling ast-pooled, E 16, classifier of 5 speakers)"),
    PackSpec("ast-tiny-a-wrong-fingerprint", "Fixtures/ast/tiny-a", 3, 8, "ast-pooled", AST_LABELS,
             params_from="ast-tiny-a", preprocessing=ast_pre(512), wrong_fingerprint=True, references=False,
             description="ast-tiny-a with the fingerprint of tiny-a after one weight changed by one ulp: must be "
                         "refused; with --allow-mismatch it gives ast-tiny-a's references"),
    PackSpec("w2v2-gn-postln", "Fixtures/wav2vec2/gn-postln", 3, 8, "mean-std", ["speech", "music", "noise"],
             seed=2001, preprocessing=w2v2_pre(),
             description="wav2vec 2.0 gn-postln (post-LN, group norm), k 3, b 8, mean-std head, 3 labels"),
    PackSpec("w2v2-gn-postln-residual", "Fixtures/wav2vec2/gn-postln", 3, 8, "mean-std", ["speech", "music", "noise"],
             params_from="w2v2-gn-postln", adapter_residual=True, preprocessing=w2v2_pre(),
             description="w2v2-gn-postln's tensors with adapter_residual true (official IPET wav2vec 2.0 quirk)"),
    PackSpec("w2v2-ln-preln", "Fixtures/wav2vec2/ln-preln-seqcls", 2, 6, "mean-std", ["left", "right", "stop"],
             seed=2002, preprocessing=w2v2_pre(),
             description="wav2vec 2.0 ln-preln-seqcls backbone (pre-LN, layer norm; its own head ignored), k 2, b 6, "
                         "mean-std head, 3 labels"),
    PackSpec("w2v2-gn-postln-speaker", "Fixtures/wav2vec2/gn-postln", 3, 8, "speaker", SPEAKERS, embedding_dim=16,
             seed=2003, preprocessing=w2v2_pre(segments=5), small_embedding=True,
             description="wav2vec 2.0 gn-postln, k 3, b 8, speaker head (pooling mean-std, E 16, 5 speakers); "
                         "small embedding (~0.03) so that the classifier LayerNorm eps 1e-5 is visible"),
]
SPEC_BY_NAME = {s.name: s for s in SPECS}


# ----------------------------------------------------------------------------------------------------------------------
# models


_BACKBONES: dict[str, object] = {}


def backbone(path: str):
    if path not in _BACKBONES:
        _BACKBONES[path] = ipet.load_backbone(ipet_root() / path)
    return _BACKBONES[path]


def ipet_root() -> Path:
    return FIXTURES.parent


def arch_of(path: str) -> str:
    return json.loads((ipet_root() / path / "config.json").read_text())["model_type"]


def build(spec: PackSpec) -> ipet._IPETBase:
    bb = backbone(spec.backbone)
    kw = dict(k=spec.k, bottleneck=spec.b, head=spec.head, labels=spec.labels, embedding_dim=spec.embedding_dim,
              adapter_residual=spec.adapter_residual, preprocessing=spec.preprocessing)
    if arch_of(spec.backbone) == ipet.AST_ARCH:
        return ipet.IPETAST(bb, **kw).eval()
    return ipet.IPETWav2Vec2(bb, **kw).eval()


# ----------------------------------------------------------------------------------------------------------------------
# inputs


def ast_waves() -> dict[str, np.ndarray]:
    t, _ = load_np_safetensors(AUDIO_REF)
    return {c: t[f"{c}.16k"].astype(np.float32) for c in AST_CLIPS}


def w2v2_waves() -> dict[str, np.ndarray]:
    t, _ = load_np_safetensors(W2V2_INPUTS)
    return {c: t[f"{c}.waveform"].astype(np.float32) for c in W2V2_CLIPS}


def run(model, x: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        o = model(torch.from_numpy(x)[None])
    out = {"pooled": o.pooled[0].numpy().copy(), "last_hidden_state": o.last_hidden_state[0].numpy().copy()}
    if o.logits is not None:
        out["logits"] = o.logits[0].numpy().copy()
    if o.embedding is not None:
        out["embedding"] = o.embedding[0].numpy().copy()
    return out


# ----------------------------------------------------------------------------------------------------------------------
# independent float64 implementation (raw tensors, torch functional ops; no transformers module, no ipet_reference)


def _ln(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def _gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def _lin(x, W, p):
    return x @ W[p + ".weight"].T + W[p + ".bias"]


def _attn(x, W, p, heads, names):
    q, k, v, o = names
    T, D = x.shape
    hd = D // heads
    Q = _lin(x, W, p + q).view(T, heads, hd).transpose(0, 1)
    K = _lin(x, W, p + k).view(T, heads, hd).transpose(0, 1)
    V = _lin(x, W, p + v).view(T, heads, hd).transpose(0, 1)
    s = Q @ K.transpose(1, 2) * hd ** -0.5
    s = torch.softmax(s, dim=-1)
    return _lin((s @ V).transpose(0, 1).reshape(T, D), W, p + o)


def _raw_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Parse a safetensors file by hand (header + little-endian data) into float64 tensors."""
    raw = path.read_bytes()
    n, header = safetensors_header(raw)
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        if v["dtype"] not in ("F32", "F16", "BF16"):
            raise ValueError(v["dtype"])
        a, b = v["data_offsets"]
        arr = le_array(v["dtype"], raw[8 + n + a:8 + n + b])
        out[k] = torch.from_numpy(arr.astype(np.float64).reshape(v["shape"]))
    return out


def independent_ast(backbone_dir: Path, pack_path: Path, iv: np.ndarray) -> dict[str, np.ndarray]:
    cfg = json.loads((backbone_dir / "config.json").read_text())
    B = {k[len("audio_spectrogram_transformer."):]: v for k, v in _raw_tensors(backbone_dir / "model.safetensors").items()
         if k.startswith("audio_spectrogram_transformer.")}
    P = _raw_tensors(pack_path)
    meta = read_safetensors_header(pack_path)["__metadata__"]
    pc, ph = json.loads(meta["ipet.config"]), json.loads(meta["ipet.head"])
    k, eps, heads = pc["prompt_tokens"], cfg["layer_norm_eps"], cfg["num_attention_heads"]
    ps, fs, ts = cfg["patch_size"], cfg["frequency_stride"], cfg["time_stride"]
    x = torch.from_numpy(iv.astype(np.float64)).T[None, None]  # [1, 1, mel, frames]
    pt = F.conv2d(x, B["embeddings.patch_embeddings.projection.weight"], B["embeddings.patch_embeddings.projection.bias"],
                  stride=(fs, ts))[0]  # [D, F', t]
    D, f_dim, t = pt.shape
    tokens = pt.reshape(D, f_dim * t).T  # frequency-major: token i * t + j
    pos = B["embeddings.position_embeddings"][0]
    t0 = (cfg["max_length"] - ps) // ts + 1
    grid = pos[2:].T.reshape(D, f_dim, t0)
    if t < t0:
        s = t0 // 2 - t // 2
        grid = grid[:, :, s:s + t]
    elif t > t0:  # bilinear, align_corners=False; the frequency axis keeps its size, so this is linear in time
        src = np.maximum((np.arange(t) + 0.5) * (t0 / t) - 0.5, 0.0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, t0 - 1)
        lam = torch.from_numpy(src - i0)
        grid = grid[:, :, i0] * (1 - lam) + grid[:, :, i1] * lam
    pos = torch.cat([pos[:2], grid.reshape(D, f_dim * t).T])
    h = torch.cat([B["embeddings.cls_token"][0], B["embeddings.distillation_token"][0], tokens]) + pos
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        if k:
            h = torch.cat([P[f"prompts.{l}"], h])
        h = h + _attn(_ln(h, B[p + "layernorm_before.weight"], B[p + "layernorm_before.bias"], eps), B, p,
                      heads, ("attention.attention.query", "attention.attention.key", "attention.attention.value",
                              "attention.output.dense"))
        a = 0.0
        if pc["adapter_bottleneck"]:
            a = _lin(torch.relu(_lin(h, P, f"adapters.{l}.down")), P, f"adapters.{l}.up") * pc["adapter_scale"]
            if pc["adapter_residual"]:
                a = a + h
        y = _ln(h, B[p + "layernorm_after.weight"], B[p + "layernorm_after.bias"], eps)
        h = h + _lin(_gelu(_lin(y, B, p + "intermediate.dense")), B, p + "output.dense") + a
        h = h[k:]
    h = _ln(h, B["layernorm.weight"], B["layernorm.bias"], eps)
    pooled = (h[0] + h[1]) / 2
    return {"pooled": pooled.numpy(), **_independent_head(ph, P, pooled)}


def _independent_head(ph, P, pooled):
    out = {}
    eps = ph["layer_norm_eps"]
    if ph["type"] == "speaker":
        emb = _lin(pooled, P, "head.embedding")
        out["embedding"] = emb.numpy()
        if ph.get("labels"):
            out["logits"] = _lin(_ln(emb, P["head.norm.weight"], P["head.norm.bias"], eps), P, "head.linear").numpy()
    else:
        out["logits"] = _lin(_ln(pooled, P["head.norm.weight"], P["head.norm.bias"], eps), P, "head.linear").numpy()
    return out


def independent_w2v2(backbone_dir: Path, pack_path: Path, wave: np.ndarray) -> dict[str, np.ndarray]:
    cfg = json.loads((backbone_dir / "config.json").read_text())
    raw = _raw_tensors(backbone_dir / "model.safetensors")
    bare = not any(k.startswith("wav2vec2.") for k in raw)
    B = {(k if bare else k[len("wav2vec2."):]): v for k, v in raw.items() if bare or k.startswith("wav2vec2.")}
    B = {k.replace("parametrizations.weight.original0", "weight_g")
          .replace("parametrizations.weight.original1", "weight_v"): v for k, v in B.items()}
    P = _raw_tensors(pack_path)
    meta = read_safetensors_header(pack_path)["__metadata__"]
    pc, ph = json.loads(meta["ipet.config"]), json.loads(meta["ipet.head"])
    k, eps, heads = pc["prompt_tokens"], cfg["layer_norm_eps"], cfg["num_attention_heads"]
    x = torch.from_numpy(wave.astype(np.float64))[None, None]  # [1, 1, N]
    for i, (ker, st) in enumerate(zip(cfg["conv_kernel"], cfg["conv_stride"])):
        p = f"feature_extractor.conv_layers.{i}."
        x = F.conv1d(x, B[p + "conv.weight"], B.get(p + "conv.bias"), stride=st)
        if cfg["feat_extract_norm"] == "group" and i == 0:  # per channel over time, eps 1e-5
            mu = x.mean(-1, keepdim=True)
            var = ((x - mu) ** 2).mean(-1, keepdim=True)
            x = (x - mu) / torch.sqrt(var + 1e-5) * B[p + "layer_norm.weight"][:, None] + B[p + "layer_norm.bias"][:, None]
        elif cfg["feat_extract_norm"] == "layer":  # over channels per frame, PyTorch default eps 1e-5
            x = _ln(x.transpose(1, 2), B[p + "layer_norm.weight"], B[p + "layer_norm.bias"], 1e-5).transpose(1, 2)
        x = _gelu(x)
    feats = x[0].T  # [T, C]
    h = _lin(_ln(feats, B["feature_projection.layer_norm.weight"], B["feature_projection.layer_norm.bias"], eps), B,
             "feature_projection.projection")
    g, v = B["encoder.pos_conv_embed.conv.weight_g"], B["encoder.pos_conv_embed.conv.weight_v"]
    wgt = g * v / torch.sqrt((v ** 2).sum(dim=(0, 1), keepdim=True))
    K = cfg["num_conv_pos_embeddings"]
    pc_out = F.conv1d(h.T[None], wgt, B["encoder.pos_conv_embed.conv.bias"], padding=K // 2,
                      groups=cfg["num_conv_pos_embedding_groups"])[0]
    if K % 2 == 0:
        pc_out = pc_out[:, :-1]
    h = h + _gelu(pc_out).T
    stable = cfg["do_stable_layer_norm"]
    if not stable:
        h = _ln(h, B["encoder.layer_norm.weight"], B["encoder.layer_norm.bias"], eps)
    names = ("attention.q_proj", "attention.k_proj", "attention.v_proj", "attention.out_proj")
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layers.{l}."

        def adapter(z):
            if not pc["adapter_bottleneck"]:
                return 0.0
            a = _lin(torch.relu(_lin(z, P, f"adapters.{l}.down")), P, f"adapters.{l}.up") * pc["adapter_scale"]
            return a + z if pc["adapter_residual"] else a

        def ff(z):
            return _lin(_gelu(_lin(z, B, p + "feed_forward.intermediate_dense")), B, p + "feed_forward.output_dense")

        if k:
            h = torch.cat([P[f"prompts.{l}"], h])
        if not stable:
            h = h + _attn(h, B, p, heads, names)
            a = adapter(h)
            y = _ln(h, B[p + "layer_norm.weight"], B[p + "layer_norm.bias"], eps)
            h = _ln(y + ff(y) + a, B[p + "final_layer_norm.weight"], B[p + "final_layer_norm.bias"], eps)
        else:
            h = h + _attn(_ln(h, B[p + "layer_norm.weight"], B[p + "layer_norm.bias"], eps), B, p, heads, names)
            a = adapter(h)
            h = h + ff(_ln(h, B[p + "final_layer_norm.weight"], B[p + "final_layer_norm.bias"], eps)) + a
        h = h[k:]
    if stable:
        h = _ln(h, B["encoder.layer_norm.weight"], B["encoder.layer_norm.bias"], eps)
    pooled = torch.cat([h.mean(0), h.std(0, unbiased=True)])
    return {"pooled": pooled.numpy(), "last_hidden_state": h.numpy(), **_independent_head(ph, P, pooled)}


# ----------------------------------------------------------------------------------------------------------------------
# fingerprints


def spec_literal_fingerprint(path: Path, architecture: str, perturb=None) -> str:
    """Formats/ipet-pack.md fingerprint v1 written out from the text, on raw safetensors bytes (independent of
    ipet_reference.fingerprint). perturb = (canonical name, index, fn(float32 value) -> float32 value)."""
    raw = path.read_bytes()
    n, header = safetensors_header(raw)
    header.pop("__metadata__", None)
    prefix = ipet.PREFIX[architecture]
    bare = not any(k.startswith(prefix) for k in header)
    canon = {}
    for k in header:
        c = prefix + k if bare else k
        if architecture == ipet.AST_ARCH:
            for a, b in ((".layers.", ".encoder.layer."), (".attention.q_proj.", ".attention.attention.query."),
                         (".attention.k_proj.", ".attention.attention.key."),
                         (".attention.v_proj.", ".attention.attention.value."),
                         (".attention.o_proj.", ".attention.output.dense."), (".mlp.fc1.", ".intermediate.dense."),
                         (".mlp.fc2.", ".output.dense.")):
                c = c.replace(a, b)
        c = c.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1",
                                                                                "weight_v")
        if c.startswith(prefix) and c != "wav2vec2.masked_spec_embed":
            canon[c] = k
    h = hashlib.sha256(b"ipet-fingerprint-v1\n")
    for c in sorted(canon, key=lambda s: s.encode()):
        e = header[canon[c]]
        a, b = e["data_offsets"]
        assert e["dtype"] == "F32"
        vals = np.frombuffer(raw[8 + n + a:8 + n + b], "<f4").copy()
        if perturb and perturb[0] == c:
            flat = np.ravel_multi_index(perturb[1], e["shape"])
            vals[flat] = perturb[2](vals[flat])
        nb = c.encode()
        h.update(struct.pack("<Q", len(nb)) + nb + struct.pack("<Q", len(e["shape"])))
        for d in e["shape"]:
            h.update(struct.pack("<Q", d))
        h.update(vals.astype("<f4").tobytes())
    return "sha256:" + h.hexdigest()


def compute_fingerprints() -> dict:
    root = ipet_root()
    out = {}
    for d, arch in FINGERPRINT_DIRS.items():
        fp_file, names = ipet.fingerprint(root / d, arch, return_names=True)
        fp_model = ipet.fingerprint(ipet.load_backbone(root / d), arch)
        fp_literal = spec_literal_fingerprint(root / d / "model.safetensors", arch)
        assert fp_file == fp_model == fp_literal, (d, fp_file, fp_model, fp_literal)
        out[d] = {"architecture": arch, "fingerprint": fp_file, "tensors": len(names), "first_tensor": names[0],
                  "last_tensor": names[-1]}
    f = {d: v["fingerprint"] for d, v in out.items()}
    assert f["Fixtures/ast/tiny-a"] == f["Fixtures/ast/tiny-a-5x"]
    assert f["Fixtures/ast/tiny-b"] == f["Fixtures/ast/tiny-b-5x"]
    assert f["Fixtures/wav2vec2/gn-postln"] == f["Fixtures/wav2vec2/gn-postln-param"]
    assert len({f[d] for d in f if not d.endswith(("-5x", "-param"))}) == 5

    # tiny-a with one value changed by one ulp (float32), and the F16-rounded tiny-a
    sd = {k: v.clone() for k, v in ipet._tensors_of(root / "Fixtures/ast/tiny-a").items()}
    t = sd[PERTURBED_TENSOR]
    old = float(t[PERTURBED_INDEX])
    new = float(np.nextafter(np.float32(old), np.float32(np.inf)))
    t[PERTURBED_INDEX] = new
    fp_perturbed = ipet.fingerprint(sd, ipet.AST_ARCH)
    assert fp_perturbed == spec_literal_fingerprint(
        root / "Fixtures/ast/tiny-a/model.safetensors", ipet.AST_ARCH,
        (PERTURBED_TENSOR, PERTURBED_INDEX, lambda v: np.nextafter(v, np.float32(np.inf))))
    assert fp_perturbed != f["Fixtures/ast/tiny-a"]
    sd16 = {k: v.half() for k, v in ipet._tensors_of(root / "Fixtures/ast/tiny-a").items()}
    return {"algorithm": "ipet-fingerprint-v1 (Formats/ipet-pack.md)",
            "fingerprints": out,
            "equal": [["Fixtures/ast/tiny-a", "Fixtures/ast/tiny-a-5x"],
                      ["Fixtures/ast/tiny-b", "Fixtures/ast/tiny-b-5x"],
                      ["Fixtures/wav2vec2/gn-postln", "Fixtures/wav2vec2/gn-postln-param"]],
            "notes": ["tiny-a-5x / tiny-b-5x: same values under transformers 5.x names; gn-postln-param: "
                      "parametrizations.weight.original0/1 instead of weight_g/weight_v; same fingerprints",
                      "pretraining vs gn-postln: same architecture, different values; pretraining's "
                      "wav2vec2.masked_spec_embed, quantizer.*, project_hid.*, project_q.* are not hashed",
                      "ln-preln-seqcls: only wav2vec2.* tensors are hashed (projector / classifier are the head)",
                      "checked three ways: the checkpoint file, the in-memory transformers 5.x model "
                      "(state_dict names), and a literal implementation parsing the raw safetensors bytes"],
            "tiny-a-one-value-changed": {
                "tensor": PERTURBED_TENSOR, "index": list(PERTURBED_INDEX), "old": old, "new": new,
                "change": "next float32 towards +inf (one ulp)", "fingerprint": fp_perturbed,
                "used_by": "ast-tiny-a-wrong-fingerprint.ipet"},
            "tiny-a-as-f16": {"fingerprint": ipet.fingerprint(sd16, ipet.AST_ARCH),
                              "note": "every tensor of tiny-a rounded to F16 (and widened back): a precision change "
                                      "changes the fingerprint"}}


# ----------------------------------------------------------------------------------------------------------------------
# self-checks


def check_backbone_parity() -> dict:
    """k = 0 with zero adapters (and with no adapters) reproduces transformers' last_hidden_state."""
    from transformers import ASTForAudioClassification

    res = {}
    gen = torch.Generator().manual_seed(7)
    for d in ("Fixtures/ast/tiny-a", "Fixtures/ast/tiny-b"):
        hf = ASTForAudioClassification.from_pretrained(ipet_root() / d, attn_implementation="eager").eval()
        x = torch.randn(2, hf.config.max_length, hf.config.num_mel_bins, generator=gen)
        with torch.no_grad():
            ref = hf.audio_spectrogram_transformer(x).last_hidden_state
            for b in (0, 8):
                m = ipet.IPETAST(hf, 0, b, head="ast-pooled", labels=["a", "b"]).eval()
                diff = (m(x).last_hidden_state - ref).abs().max().item()
                assert diff < 1e-6, (d, b, diff)
                res[f"{d} b={b}"] = diff
    for d in ("Fixtures/wav2vec2/gn-postln", "Fixtures/wav2vec2/ln-preln-seqcls"):
        hf = backbone(d)
        x = torch.randn(2, 16000, generator=gen) * 0.1
        mask = torch.ones(2, 16000, dtype=torch.long)
        mask[1, 9000:] = 0
        xm = x.clone()
        xm[1, 9000:] = 0
        with torch.no_grad():
            for b in (0, 8):
                for ar in (False,):
                    m = ipet.IPETWav2Vec2(hf, 0, b, adapter_residual=ar, head="mean-std", labels=["a", "b"]).eval()
                    diff = (m(x).last_hidden_state - hf(x).last_hidden_state).abs().max().item()
                    assert diff < 1e-6, (d, b, diff)
                    res[f"{d} b={b}"] = diff
                    if "ln-" in d:
                        diff = (m(xm, attention_mask=mask).last_hidden_state
                                - hf(xm, attention_mask=mask).last_hidden_state).abs().max().item()
                        assert diff < 1e-6, (d, b, diff)
                        res[f"{d} b={b} masked batch"] = diff
    return res


def check_position_examples() -> dict:
    """docs/ipet-method.md 4.1 examples on the AudioSet grid (12 x 101): 512 -> columns 25..74, 400 -> 31..69,
    128 -> 44..55."""
    f_dim, t0 = 12, 101
    cols = torch.arange(t0, dtype=torch.float64).repeat(f_dim)  # token i*101 + j holds j
    pos = torch.cat([torch.tensor([-1.0, -2.0], dtype=torch.float64), cols])[None, :, None].repeat(1, 1, 3)
    out = {}
    for frames, (lo, hi) in ((512, (25, 74)), (400, (31, 69)), (128, (44, 55))):
        t = (frames - 16) // 10 + 1
        a = ipet.adapt_ast_position_embeddings(pos, f_dim, t0, t)
        got = a[0, 2:2 + t, 0].long().tolist()
        assert got == list(range(lo, hi + 1)), (frames, got)
        assert a[0, 0, 0] == -1 and a[0, 1, 0] == -2 and a.shape[1] == 2 + f_dim * t
        out[frames] = f"t_dim {t}: columns {lo}..{hi}"
    # 1024 frames = the grid itself (identity), 1200 -> interpolation: monotone columns, ends clamped
    assert torch.equal(ipet.adapt_ast_position_embeddings(pos, f_dim, t0, 101), pos)
    a = ipet.adapt_ast_position_embeddings(pos, f_dim, t0, 119)[0, 2:2 + 119, 0]
    assert a[0] == 0 and a[-1] == 100 and bool((a[1:] >= a[:-1]).all())
    return out


def check_writer() -> None:
    """write_safetensors == safetensors' Python writer for the same tensors and single-key metadata."""
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(3)
    ts = {"prompts.10": torch.randn(2, 3, generator=gen), "prompts.2": torch.randn(2, 3, generator=gen),
          "head.linear.bias": torch.randn(5, generator=gen), "a": torch.randn(7, generator=gen)}
    with tempfile.TemporaryDirectory() as d:
        for dt, tdt in (("F32", torch.float32), ("F16", torch.float16), ("BF16", torch.bfloat16)):
            ipet.write_safetensors(Path(d) / "mine", ts, [("format", "pt")], dt, record_digest=False)
            save_file({k: v.to(tdt) for k, v in ts.items()}, str(Path(d) / "ref"), metadata={"format": "pt"})
            assert (Path(d) / "mine").read_bytes() == (Path(d) / "ref").read_bytes(), dt


# ----------------------------------------------------------------------------------------------------------------------
# sensitivity: how far do known IPET bugs move the references?


def _patched(model, **methods):
    m = copy.deepcopy(model)
    for name, fn in methods.items():
        setattr(m, name, types.MethodType(fn, m))
    return m


def ast_variants(model: ipet.IPETAST) -> dict:
    k = model.k
    out = {}

    def no_adapters(m):
        m = copy.deepcopy(m)
        m.adapters = None
        return m
    out["no_adapters"] = ("adapters dropped", no_adapters(model))
    m = copy.deepcopy(model)
    m.k = 0
    out["no_prompts"] = ("prompts dropped", m)

    def prep_after(self, h, l):
        p = self.prompts[l].unsqueeze(0).expand(h.shape[0], -1, -1)
        return torch.cat([h[:, :2], p, h[:, 2:]], dim=1)
    out["prompts_after_cls_dist_dropped_correctly"] = (
        "HONEST: prompts inserted after CLS/DIST and their own rows removed (attention is permutation-equivariant)",
        _patched(model, _prepend=prep_after, _drop=lambda self, h: torch.cat([h[:, :2], h[:, 2 + k:]], dim=1)))
    out["prompts_after_cls_dist_drop_first_k"] = (
        "prompts inserted after CLS/DIST but the first k rows dropped (CLS/DIST lost)", _patched(model, _prepend=prep_after))

    def shallow_forward(self, input_values, output_hidden_states=False):
        h = self.embed(input_values)
        h = self._prepend(h, 0)
        for l, layer in enumerate(ipet._ast_layers(self.backbone)):
            h = self.layer_forward(l, layer, h)
        h = self.backbone.layernorm(h[:, self.k:])
        pooled = (h[:, 0] + h[:, 1]) / 2
        logits, emb = self.head(pooled)
        return ipet.IPETOutput(logits, pooled, emb, h)
    out["prompts_shallow"] = ("layer-0 prompts carried through every layer (shallow) instead of fresh per layer",
                              _patched(model, forward=shallow_forward))

    def adapter_after_ln(self, l, layer, h):
        x = layer.attention(layer.layernorm_before(h), None)[0]
        h = x + h
        y = layer.layernorm_after(h)
        return layer.mlp(y) + h + self._adapter(l, y)
    out["adapter_input_after_layernorm_after"] = ("adapter fed layernorm_after(h) (PETL_AST style) instead of h",
                                                  _patched(model, layer_forward=adapter_after_ln))
    m = copy.deepcopy(model)
    for a in m.adapters:
        a.residual = not a.residual
    out["adapter_residual_flipped"] = ("adapter_residual flipped", m)
    m = copy.deepcopy(model)
    for a in m.adapters:
        a.scale = 1.0
    out["adapter_scale_1"] = ("adapter scale 1 instead of 0.1", m)
    m = copy.deepcopy(model)
    if m.head.norm is not None:
        m.head.norm.eps = 1e-12
    out["head_ln_eps_1e-12"] = ("head LayerNorm eps 1e-12 (backbone's) instead of 1e-5", m)

    c = model.backbone.config
    f_dim, t0 = model.grid(c.max_length)
    _, t = model.grid()
    base_pe = model.backbone.embeddings.position_embeddings

    def with_pos(fn):
        def position_embeddings(self, frames=None):
            grid = base_pe[:, 2:].transpose(1, 2).reshape(1, -1, f_dim, t0)
            g = fn(grid)
            return torch.cat([base_pe[:, :2], g.reshape(1, g.shape[1], -1).transpose(1, 2)], dim=1)
        return _patched(model, position_embeddings=position_embeddings)
    if t < t0:
        out["crop_left"] = ("position columns [0, t) instead of the centre crop", with_pos(lambda g: g[..., :t]))
        s = t0 // 2 - (t + 1) // 2
        out["crop_start_rounded_up"] = (f"crop start T'/2 - ceil(t/2) = {s} instead of {t0 // 2 - t // 2}",
                                        with_pos(lambda g: g[..., s:s + t]))
        out["interpolate_instead_of_crop"] = ("bilinear resize to t columns instead of cropping",
                                              with_pos(lambda g: F.interpolate(g, size=(f_dim, t), mode="bilinear",
                                                                               align_corners=False)))
    elif t > t0:
        out["align_corners_true"] = ("bilinear with align_corners=True", with_pos(
            lambda g: F.interpolate(g, size=(f_dim, t), mode="bilinear", align_corners=True)))
        out["nearest"] = ("nearest-neighbour resize", with_pos(lambda g: F.interpolate(g, size=(f_dim, t),
                                                                                          mode="nearest")))
        out["zero_extend"] = ("original columns kept, extra columns zero", with_pos(
            lambda g: torch.cat([g, torch.zeros(*g.shape[:3], t - t0)], dim=-1)))
    m64 = copy.deepcopy(model).double()
    out["honest_float64"] = ("HONEST: same model in float64", m64)
    return out


def w2v2_variants(model: ipet.IPETWav2Vec2) -> dict:
    out = {}
    m = copy.deepcopy(model)
    m.adapters = None
    out["no_adapters"] = ("adapters dropped", m)
    m = copy.deepcopy(model)
    m.k = 0
    out["no_prompts"] = ("prompts dropped", m)
    m = copy.deepcopy(model)
    for a in m.adapters:
        a.residual = not a.residual
    out["adapter_residual_flipped"] = ("adapter_residual flipped", m)

    def prep_end(self, h, l):
        return torch.cat([h, self.prompts[l].unsqueeze(0).expand(h.shape[0], -1, -1)], dim=1)
    out["prompts_appended_dropped_correctly"] = (
        "HONEST: prompts appended after the frames and removed from the end (permutation-equivariant)",
        _patched(model, _prepend=prep_end, _drop=lambda self, h: h[:, :h.shape[1] - self.k]))
    out["prompts_appended_drop_first_k"] = ("prompts appended after the frames but the first k rows dropped",
                                            _patched(model, _prepend=prep_end))
    if not model.stable_layer_norm:
        def adapter_after_ln(self, l, layer, h, mask):
            h = h + layer.attention(h, attention_mask=mask)[0]
            g = layer.layer_norm(h)
            a = self._adapter(l, g)
            return layer.final_layer_norm(g + layer.feed_forward(g) + a)
        out["adapter_input_after_layer_norm"] = ("adapter fed layer_norm(h) instead of h",
                                                 _patched(model, layer_forward=adapter_after_ln))

        def adapter_after_final(self, l, layer, h, mask):
            h = h + layer.attention(h, attention_mask=mask)[0]
            a = self._adapter(l, h)
            g = layer.layer_norm(h)
            return layer.final_layer_norm(g + layer.feed_forward(g)) + a
        out["adapter_added_after_final_layer_norm"] = ("adapter output added after final_layer_norm",
                                                       _patched(model, layer_forward=adapter_after_final))
    else:
        def adapter_after_fln(self, l, layer, h, mask):
            h = h + layer.attention(layer.layer_norm(h), attention_mask=mask)[0]
            y = layer.final_layer_norm(h)
            return h + layer.feed_forward(y) + self._adapter(l, y)
        out["adapter_input_after_final_layer_norm"] = ("adapter fed final_layer_norm(h) instead of h",
                                                       _patched(model, layer_forward=adapter_after_fln))

    def biased(h, fmask=None):
        return torch.cat([h.mean(dim=1), h.std(dim=1, unbiased=False)], dim=-1)
    m = copy.deepcopy(model)
    m.mean_std = biased
    out["std_biased"] = ("pooling std divides by T instead of T - 1", m)
    m = copy.deepcopy(model)
    if m.head.norm is not None:
        m.head.norm.eps = 1e-12
    out["head_ln_eps_1e-12"] = ("head LayerNorm eps 1e-12 instead of 1e-5", m)
    m64 = copy.deepcopy(model).double()
    out["honest_float64"] = ("HONEST: same model in float64", m64)
    return out


def sensitivity(model, inputs: dict[str, np.ndarray], refs: dict[str, dict], extra: dict | None = None) -> dict:
    variants = ast_variants(model) if isinstance(model, ipet.IPETAST) else w2v2_variants(model)
    variants.update(extra or {})
    res = {}
    for name, (desc, m) in variants.items():
        m.eval()
        per = {}
        for c, x in inputs.items():
            xx = torch.from_numpy(x)[None]
            with torch.no_grad():
                o = m(xx.double() if name == "honest_float64" else xx)
            key = "logits" if o.logits is not None else "embedding"
            got = (o.logits if o.logits is not None else o.embedding)[0].double().numpy()
            per[c] = max_abs(got, refs[c][key])
        res[name] = {"description": desc, "max_abs_d_logits_per_clip": per, "min_over_clips": min(per.values()),
                     "max_over_clips": max(per.values())}
    return res


# ----------------------------------------------------------------------------------------------------------------------
# ESC-50-shaped pack


def esc50_shape_pack(path: Path) -> dict:
    D, L, k, b, n = 768, 12, 4, 32, 50
    gen = torch.Generator().manual_seed(5050)
    t = {}
    bound = math.sqrt(6 / (D * (k + 1)))
    for l in range(L):
        t[f"prompts.{l}"] = (torch.rand(k, D, generator=gen) * 2 - 1) * bound
        t[f"adapters.{l}.down.weight"] = (torch.rand(b, D, generator=gen) * 2 - 1) / math.sqrt(D)
        t[f"adapters.{l}.down.bias"] = torch.randn(b, generator=gen) * 0.02
        t[f"adapters.{l}.up.weight"] = torch.randn(D, b, generator=gen) * 0.02
        t[f"adapters.{l}.up.bias"] = torch.randn(D, generator=gen) * 0.02
    t["head.norm.weight"] = 1 + torch.randn(D, generator=gen) * 0.1
    t["head.norm.bias"] = torch.randn(D, generator=gen) * 0.02
    t["head.linear.weight"] = torch.randn(n, D, generator=gen) * 0.02
    t["head.linear.bias"] = torch.randn(n, generator=gen) * 0.02
    count = sum(v.numel() for v in t.values())
    by_part = {"prompts": sum(v.numel() for kk, v in t.items() if kk.startswith("prompts.")),
               "adapters": sum(v.numel() for kk, v in t.items() if kk.startswith("adapters.")),
               "head": sum(v.numel() for kk, v in t.items() if kk.startswith("head."))}
    assert by_part == {"prompts": 36864, "adapters": 599424, "head": 39986} and count == 676274, by_part
    size = ipet.write_pack(
        path, t,
        {"architecture": ipet.AST_ARCH, "hidden_size": D, "num_hidden_layers": L, "num_attention_heads": 12,
         "fingerprint": FAKE_FINGERPRINT, "name": "MIT/ast-finetuned-audioset-10-10-0.4593 (shape only)"},
        {"prompt_tokens": k, "prompt_placement": "prepend-every-layer", "adapter_bottleneck": b,
         "adapter_activation": "relu", "adapter_scale": 0.1, "adapter_placement": "parallel-ffn",
         "adapter_residual": False},
        {"type": "ast-pooled", "labels": ESC50_LABELS, "multi_label": False, "layer_norm_eps": 1e-5},
        {"sampling_rate": 16000, "num_mel_bins": 128, "max_length": 512, "mean": -6.6268, "std": 5.3585,
         "do_normalize": True},
        {"generator": "tools/make_pack_fixtures.py", "purpose": "size / shape check only: random values, fake "
         "fingerprint (no backbone)", "seed": 5050, "trainable_parameters": count,
         # part of the committed pack's bytes, so the document is named as it was when the pack was made (its
         # section 3 is docs/ipet-method.md section 3)
         "ipet_table": "IPET.md section 3, AST ESC50: 36,864 + 599,424 + 39,986 = 676,274"},
        dtype="F16")
    assert size < 1.5e6
    return {"parameters": count, "by_part": by_part, "bytes": size}


# ----------------------------------------------------------------------------------------------------------------------
# main


def generate(out: Path, do_sensitivity: bool = True, verbose: bool = True) -> dict:
    log = print if verbose else (lambda *a, **k: None)
    out.mkdir(parents=True, exist_ok=True)
    (out / "references").mkdir(exist_ok=True)
    summary: dict = {}

    log("== self-checks")
    checks = {"backbone_parity_max_abs": check_backbone_parity(), "position_examples": check_position_examples()}
    check_writer()
    log("   parity, position examples, writer: ok")

    log("== fingerprints")
    fps = compute_fingerprints()
    write_json(out / "fingerprints.json", fps)
    for d, v in fps["fingerprints"].items():
        log(f"   {d:38s} {v['fingerprint']}")

    kaldi_src = load_kaldi()
    kaldi = kaldi_src.module
    awaves, wwaves = ast_waves(), w2v2_waves()
    params: dict[str, dict[str, torch.Tensor]] = {}
    rules_by_pack: dict[str, dict] = {}
    sens_all: dict = {}
    iv_written: dict[str, str] = {}

    for spec in SPECS:
        model = build(spec)
        if spec.params_from:
            model.load_state_dict(params[spec.params_from], strict=False)
            rules = {"from": spec.params_from}
        else:
            rules = randomise_pack_(model, spec.seed, spec.small_embedding)
        params[spec.name] = {k: v.clone() for k, v in model.pack_state_dict().items()}
        rules_by_pack[spec.name] = rules
        arch = arch_of(spec.backbone)
        fp = fps["fingerprints"][spec.backbone]["fingerprint"]
        if spec.wrong_fingerprint:
            fp = fps["tiny-a-one-value-changed"]["fingerprint"]
        provenance = {"generator": "tools/make_pack_fixtures.py", "purpose": "test fixture: random values, not trained",
                      "seed": SPEC_BY_NAME[spec.params_from].seed if spec.params_from else spec.seed,
                      "tensors_from": spec.params_from or spec.name, "backbone_dir": spec.backbone,
                      "description": spec.description}
        path = out / f"{spec.name}.ipet"
        size = ipet.export_pack(path, model, dtype=spec.dtype, provenance=provenance, fingerprint_value=fp,
                                backbone_name=spec.backbone)
        # read back through the verifying loader (the wrong-fingerprint pack must be refused)
        if spec.wrong_fingerprint:
            try:
                ipet.load_pack(path, backbone(spec.backbone))
                raise AssertionError("wrong fingerprint accepted")
            except ipet.PackError:
                pass
            loaded = ipet.load_pack(path, backbone(spec.backbone), allow_mismatch=True)
        else:
            loaded = ipet.load_pack(path, backbone(spec.backbone))
        for k, v in model.pack_state_dict().items():
            expect = v.to(ipet._ST_DTYPE[spec.dtype]).float()
            assert torch.equal(dict(loaded.named_parameters())[k].detach(), expect), k
        info = {"bytes": size, "sha256": file_sha256(path), "dtype": spec.dtype,
                "trainable_parameters": model.trainable_parameter_count(), "fingerprint": fp,
                "description": spec.description}
        log(f"== {spec.name}: {size} bytes, {info['trainable_parameters']} parameters")
        if not spec.references:
            summary[spec.name] = info
            continue

        tensors: dict[str, np.ndarray] = {}
        refs: dict[str, dict] = {}
        indep: dict[str, float] = {}
        inputs: dict[str, np.ndarray] = {}
        if arch == ipet.AST_ARCH:
            pre = loaded.preprocessing
            f_dim, t0 = loaded.grid(loaded.backbone.config.max_length)
            _, t = loaded.grid()
            for c in AST_CLIPS:
                iv = ipet.ast_input_values(awaves[c], pre, kaldi)
                manual = pad_normalize(kaldi_fbank(kaldi, awaves[c], 128), pre["max_length"], pre["mean"], pre["std"])
                assert max_abs(iv, manual) == 0.0, c
                inputs[c] = iv
                r = run(loaded, iv)
                refs[c] = r
                ind = independent_ast(ipet_root() / spec.backbone, path, iv)
                indep[c] = max(max_abs(ind[key], r[key]) for key in ind)
                if spec.input_values and c in spec.input_clips:
                    tensors[f"{c}.input_values"] = iv
                for key in ("logits", "pooled", "embedding"):
                    if key in r:
                        tensors[f"{c}.{key}"] = r[key]
            if spec.input_values:
                iv_written[json.dumps(pre, sort_keys=True)] = spec.name
            geometry = {"frames": pre["max_length"], "time_patches": t, "backbone_time_patches": t0,
                        "frequency_patches": f_dim, "tokens": 2 + f_dim * t,
                        "position_table": ("backbone's" if t == t0 else
                                           f"centre crop: columns {t0 // 2 - t // 2}..{t0 // 2 - t // 2 + t - 1} of "
                                           f"{t0}" if t < t0 else
                                           f"bilinear (align_corners=False) resize of the {f_dim} x {t0} grid to "
                                           f"{f_dim} x {t}")}
        else:
            pre = loaded.preprocessing
            for c in W2V2_CLIPS:
                x = ipet.w2v2_input_values(wwaves[c], pre)
                inputs[c] = x
                r = run(loaded, x)
                refs[c] = r
                ind = independent_w2v2(ipet_root() / spec.backbone, path, x)
                indep[c] = max(max_abs(ind[key], r[key]) for key in ind)
                for key in ("logits", "last_hidden_state", "pooled", "embedding"):
                    if key in r:
                        tensors[f"{c}.{key}"] = r[key]
            geometry = {c: {"samples": int(wwaves[c].shape[0]), "frames": int(refs[c]["last_hidden_state"].shape[0])}
                        for c in W2V2_CLIPS}
            if spec.name == "w2v2-ln-preln":
                # padded batch with an attention mask (layer-norm conv stack only): rows equal the unbatched ones
                n = max(wwaves[c].shape[0] for c in W2V2_CLIPS)
                xb = np.zeros((len(W2V2_CLIPS), n), np.float32)
                mb = np.zeros((len(W2V2_CLIPS), n), np.int64)
                for i, c in enumerate(W2V2_CLIPS):
                    xb[i, :inputs[c].shape[0]] = inputs[c]
                    mb[i, :inputs[c].shape[0]] = 1
                with torch.no_grad():
                    ob = loaded(torch.from_numpy(xb), attention_mask=torch.from_numpy(mb))
                for i, c in enumerate(W2V2_CLIPS):
                    d = max_abs(ob.logits[i].numpy(), refs[c]["logits"])
                    assert d < 1e-5, (c, d)
                    geometry[c]["batch_vs_unbatched_max_abs_d_logits"] = d
                tensors["batch.logits"] = ob.logits.numpy()
                geometry["batch"] = {"clips": list(W2V2_CLIPS), "samples": n,
                                     "input": "the raw waveforms zero-padded on the right to the longest, "
                                              "attention_mask 1 on the real samples (not stored: rebuild it)"}
        worst = max(indep.values())
        assert worst < 2e-5, (spec.name, indep)
        spread = max(max_abs(refs[a].get("logits", refs[a].get("embedding")),
                             refs[b].get("logits", refs[b].get("embedding")))
                     for a in refs for b in refs if a != b)
        assert spread > 1e-2, (spec.name, spread)
        info.update({"independent_float64_max_abs": indep, "clips_spread_logits": spread})

        meta = {
            "pack": f"{spec.name}.ipet", "pack_sha256": info["sha256"], "pack_dtype": spec.dtype,
            "backbone_dir": spec.backbone, "backbone_fingerprint": fp, "description": spec.description,
            "clips": list(inputs), "keys_per_clip": {c: sorted(k.split(".", 1)[1] for k in tensors
                                                             if k.startswith(c + ".")) for c in inputs},
            "geometry": geometry, "pack_parameters": rules,
            "inputs": ("Fixtures/audio/reference.safetensors <clip>.16k -> ASTFeatureExtractor(num_mel_bins, "
                       "max_length, mean, std of the pack) with torchaudio's kaldi.fbank "
                       f"({kaldi_src.describe()}); == (pad_or_truncate(fbank) - mean) / (2 std), asserted"
                       if arch == ipet.AST_ARCH else
                       "Fixtures/wav2vec2/references/inputs.safetensors <clip>.waveform, raw (do_normalize false)"),
            "input_values_in": (spec.name if spec.input_values else spec.input_values_in)
            if arch == ipet.AST_ARCH else "inputs.safetensors <clip>.waveform",
            "model": "tools/ipet_reference.py on transformers " + versions().get("transformers", "?") +
                     " (eager attention, float32), pack read back and widened to float32",
            "independent_float64_max_abs": indep,
            "versions": versions(),
        }
        save_np_safetensors(out / "references" / f"{spec.name}.safetensors", tensors, meta)
        info["references_bytes"] = (out / "references" / f"{spec.name}.safetensors").stat().st_size

        if do_sensitivity:
            extra = {}
            if spec.dtype == "F16":
                m32 = build(spec)
                m32.load_state_dict(params[spec.name], strict=False)
                extra["honest_f32_weights"] = ("HONEST: unrounded F32 weights instead of the pack's F16 values", m32)
            sens = sensitivity(loaded, inputs, refs, extra)
            sens_all[spec.name] = sens
            for name, v in sens.items():
                log(f"   {name:44s} {v['min_over_clips']:.3g} .. {v['max_over_clips']:.3g}")
        summary[spec.name] = info

    log("== ast-esc50-shape")
    summary["ast-esc50-shape"] = esc50_shape_pack(out / "ast-esc50-shape.ipet")
    summary["ast-esc50-shape"]["sha256"] = file_sha256(out / "ast-esc50-shape.ipet")
    log(f"   {summary['ast-esc50-shape']}")
    if do_sensitivity:
        write_json(out / "references" / "sensitivity.json", sens_all)
    write_json(out / "summary.json", {"checks": checks, "packs": summary, "versions": versions()})
    total = dir_size([out])
    log(f"== Fixtures/packs total {total} bytes")
    return summary


def main():
    ap = fixture_arguments(__doc__, OUT, " (or --out; only the files a regeneration writes)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-sensitivity", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)  # reproducible float sums
    if args.check:  # only the files a regeneration writes (no sensitivity.json with --no-sensitivity)
        sys.exit(check_regeneration(args.out, lambda d: generate(d, do_sensitivity=not args.no_sensitivity,
                                                                 verbose=False), fresh_only=True))
    generate(args.out, do_sensitivity=not args.no_sensitivity)


if __name__ == "__main__":
    main()
