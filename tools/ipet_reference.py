"""Reference implementation of IPET (deep embedding prompts + parallel adapters + heads) on top of Hugging Face
transformers' AST and wav2vec 2.0, the backbone fingerprint and the adapter-pack format (Formats/ipet-pack.md).

Method: docs/ipet-method.md. Backbone numerics: docs/model-numerics.md. Pack format: Formats/ipet-pack.md.

The backbone stays a frozen transformers module; the layer loop is written out here and calls the transformers
submodules (layernorm_before / attention / layernorm_after / mlp for AST; attention / layer_norm / feed_forward /
final_layer_norm for wav2vec 2.0), so that with k = 0 and no adapters it reproduces transformers exactly.

API (everything works on batches; references use batch 1):

    backbone = load_backbone("Fixtures/ast/tiny-a")                 # transformers base model, eval, eager attention
    m = IPETAST(backbone, k=3, bottleneck=8, head="ast-pooled", labels=["a", "b"], max_length=256,
                mean=-4.27, std=4.57)                                # prompts/adapters/head freshly initialised
    out = m(input_values)                                            # IPETOutput: logits, pooled, embedding, ...
    w = IPETWav2Vec2(load_backbone("Fixtures/wav2vec2/gn-postln"), k=3, bottleneck=8, adapter_residual=False,
                     head="mean-std", labels=[...])
    fingerprint("Fixtures/ast/tiny-a", "audio-spectrogram-transformer")   # "sha256:..."
    export_pack("x.ipet", m, dtype="F16", provenance={...})
    m2 = load_pack("x.ipet", backbone)                               # verified, weights widened to float32
    ast_input_values(wave, m.preprocessing, kaldi)                   # [max_length, mel] like ASTFeatureExtractor
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fixture_common (kaldi fbank backend)
from fixture_common import (  # noqa: E402
    CONTENT_DIGEST_KEY, file_content_digest, load_safetensors, read_safetensors_header, safetensors_bytes,
    write_file_atomically,
)

AST_ARCH = "audio-spectrogram-transformer"
W2V2_ARCH = "wav2vec2"
PREFIX = {AST_ARCH: "audio_spectrogram_transformer.", W2V2_ARCH: "wav2vec2."}
PACK_FORMAT = "ipet-pack"
PACK_VERSION = "1.1"  # 1.1: packs record their content digest (ipet.content_sha256)
FINGERPRINT_DOMAIN = b"ipet-fingerprint-v1\n"
HEAD_TYPES = ("ast-pooled", "mean-std", "speaker")  # the IPET heads this reference implements


# ----------------------------------------------------------------------------------------------------------------------
# building blocks


class Adapter(nn.Module):
    """IPET / AdaptFormer parallel adapter: a = scale * up(dropout(relu(down(x)))), plus x when `residual`
    (the official wav2vec 2.0 code's add_residual=True quirk, docs/ipet-method.md section 2). Init as IPET's "lora"
    option: down kaiming_uniform(a=sqrt 5), biases and up weight 0, so a fresh adapter outputs 0."""

    def __init__(self, dim: int, bottleneck: int, scale: float = 0.1, residual: bool = False, dropout: float = 0.1):
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        self.scale = float(scale)
        self.residual = bool(residual)
        self.dropout = nn.Dropout(dropout)
        with torch.no_grad():
            nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
            nn.init.zeros_(self.down.bias)
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.up(self.dropout(F.relu(self.down(x)))) * self.scale
        return x + a if self.residual else a


@dataclass
class HeadConfig:
    """The `ipet.head` object. `labels` None/empty for a speaker head without classifier."""

    type: str
    labels: list[str] | None = None
    multi_label: bool = False
    layer_norm_eps: float = 1e-5
    embedding_dim: int | None = None  # speaker only
    pooling: str | None = None  # speaker only: "ast-pooled" | "mean-std"

    def to_json(self) -> dict:
        d: dict = {"type": self.type}
        if self.type == "speaker":
            d["pooling"] = self.pooling
            d["embedding_dim"] = self.embedding_dim
        if self.labels:
            d["labels"] = list(self.labels)
        d["multi_label"] = bool(self.multi_label)
        d["layer_norm_eps"] = float(self.layer_norm_eps)
        return d

    @staticmethod
    def from_json(d: Mapping) -> "HeadConfig":
        return HeadConfig(type=d["type"], labels=list(d["labels"]) if d.get("labels") else None,
                          multi_label=bool(d.get("multi_label", False)),
                          layer_norm_eps=float(d.get("layer_norm_eps", 1e-5)),
                          embedding_dim=d.get("embedding_dim"), pooling=d.get("pooling"))


class Head(nn.Module):
    """IPET task heads (docs/ipet-method.md 4.4). Parameter names are the pack's tensor names without the `head.`
    prefix.

    ast-pooled / mean-std: logits = linear(LayerNorm(pooled)).  speaker: embedding = embedding(pooled);
    logits = linear(LayerNorm(embedding)) when there are labels."""

    def __init__(self, cfg: HeadConfig, in_dim: int):
        super().__init__()
        self.cfg = cfg
        self.in_dim = in_dim
        n = len(cfg.labels or [])
        if cfg.type in ("ast-pooled", "mean-std"):
            if n == 0:
                raise ValueError(f"head {cfg.type} needs labels")
            self.norm = nn.LayerNorm(in_dim, eps=cfg.layer_norm_eps)
            self.linear = nn.Linear(in_dim, n)
            self.embedding = None
        elif cfg.type == "speaker":
            if not cfg.embedding_dim:
                raise ValueError("speaker head needs embedding_dim")
            e = int(cfg.embedding_dim)
            self.embedding = nn.Linear(in_dim, e)
            if n:
                self.norm = nn.LayerNorm(e, eps=cfg.layer_norm_eps)
                self.linear = nn.Linear(e, n)
            else:
                self.norm = self.linear = None
        else:
            raise ValueError(f"head type {cfg.type!r} is not implemented by this reference (only {HEAD_TYPES})")

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """-> (logits, embedding)."""
        if self.embedding is None:
            return self.linear(self.norm(pooled)), None
        emb = self.embedding(pooled)
        logits = self.linear(self.norm(emb)) if self.linear is not None else None
        return logits, emb

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        return {f"head.{k}": tuple(v.shape) for k, v in self.named_parameters()}


@dataclass
class IPETOutput:
    logits: torch.Tensor | None
    pooled: torch.Tensor  # head input: AST (CLS+DIST)/2 after the final LN, wav2vec 2.0 mean||std
    embedding: torch.Tensor | None  # speaker head only
    last_hidden_state: torch.Tensor  # prompts removed; AST after the final layernorm
    hidden_states: list[torch.Tensor] | None = None  # per layer output (prompts removed) when requested


def _head_config(head, labels, multi_label, layer_norm_eps, embedding_dim, pooling) -> HeadConfig:
    if isinstance(head, HeadConfig):
        return head
    if isinstance(head, Mapping):
        return HeadConfig.from_json(head)
    return HeadConfig(type=str(head), labels=list(labels) if labels else None, multi_label=multi_label,
                      layer_norm_eps=layer_norm_eps, embedding_dim=embedding_dim, pooling=pooling)


class _IPETBase(nn.Module):
    architecture: str

    def _init_ipet(self, hf_model, base_attribute: str, what: str, k: int, bottleneck: int, adapter_scale: float,
                   adapter_residual: bool, adapter_dropout: float):
        """nn.Module set-up shared by the architectures: the frozen backbone (the base model inside a task model, or
        `hf_model` itself), fresh prompts and adapters. Returns the backbone's config."""
        nn.Module.__init__(self)
        self.backbone = getattr(hf_model, base_attribute, hf_model)
        c = self.backbone.config
        if c.model_type != self.architecture:
            raise ValueError(f"not {what} backbone: model_type {c.model_type}")
        dim, layers = c.hidden_size, c.num_hidden_layers
        self.k = int(k)
        self.bottleneck = int(bottleneck)
        self.adapter_scale = float(adapter_scale)
        self.adapter_residual = bool(adapter_residual)
        if self.k > 0:
            ps = []
            for _ in range(layers):
                # IPET: xavier_uniform_ on a (1, k, D) tensor -> U(+-sqrt(6 / (D (k + 1))))
                p = torch.empty(1, self.k, dim)
                nn.init.xavier_uniform_(p)
                ps.append(nn.Parameter(p[0].clone()))
            self.prompts = nn.ParameterList(ps)
        else:
            self.prompts = None
        if self.bottleneck > 0:
            self.adapters = nn.ModuleList(
                Adapter(dim, self.bottleneck, adapter_scale, adapter_residual, adapter_dropout) for _ in range(layers))
        else:
            self.adapters = None
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.backbone.eval()
        return c

    def train(self, mode: bool = True):
        """The frozen backbone always runs in eval mode (no dropout, layerdrop or SpecAugment); only the adapters'
        dropout follows `mode`."""
        super().train(mode)
        self.backbone.eval()
        return self

    def _prepend(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        if not self.k:
            return h
        p = self.prompts[layer].to(h.dtype)
        return torch.cat([p.unsqueeze(0).expand(h.shape[0], -1, -1), h], dim=1)

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        return h[:, self.k:] if self.k else h

    def _adapter(self, layer: int, x: torch.Tensor) -> torch.Tensor | None:
        return self.adapters[layer](x) if self.adapters is not None else None

    def pack_state_dict(self) -> dict[str, torch.Tensor]:
        """Pack tensors (Formats/ipet-pack.md "Tensors"): prompts.{l}, adapters.{l}.{down,up}.{weight,bias}, head.*"""
        return {n: p.detach() for n, p in self.named_parameters() if not n.startswith("backbone.")}

    def trainable_parameter_count(self) -> int:
        return sum(p.numel() for p in self.pack_state_dict().values())

    def ipet_config(self) -> dict:
        return {"prompt_tokens": self.k, "prompt_placement": "prepend-every-layer",
                "adapter_bottleneck": self.bottleneck, "adapter_activation": "relu",
                "adapter_scale": self.adapter_scale, "adapter_placement": "parallel-ffn",
                "adapter_residual": self.adapter_residual}

    def backbone_json(self, fingerprint_value: str | None = None, name: str | None = None) -> dict:
        c = self.backbone.config
        d = {"architecture": self.architecture, "hidden_size": c.hidden_size,
             "num_hidden_layers": c.num_hidden_layers, "num_attention_heads": c.num_attention_heads,
             "fingerprint": fingerprint_value or fingerprint(self.backbone, self.architecture)}
        if name:
            d["name"] = name
        return d


# ----------------------------------------------------------------------------------------------------------------------
# AST


def ast_grid(num_mel_bins: int, frames: int, patch: int, f_stride: int, t_stride: int) -> tuple[int, int]:
    return (num_mel_bins - patch) // f_stride + 1, (frames - patch) // t_stride + 1


def adapt_ast_position_embeddings(pos: torch.Tensor, f_dim: int, t_orig: int, t_new: int) -> torch.Tensor:
    """AST position table [1, 2 + F'T', D] -> [1, 2 + F't, D] as the original AST code (docs/ipet-method.md 4.1):
    patch vectors viewed as a [D, F', T'] grid (token i*T' + j); t < T' keeps time columns [T'//2 - t//2, ... + t);
    t > T' resizes the grid to [F', t] with bilinear interpolation (align_corners=False); CLS and distillation rows
    kept."""
    if t_new == t_orig:
        return pos
    d = pos.shape[-1]
    assert pos.shape[1] == 2 + f_dim * t_orig, (pos.shape, f_dim, t_orig)
    grid = pos[:, 2:, :].transpose(1, 2).reshape(1, d, f_dim, t_orig)
    if t_new < t_orig:
        start = t_orig // 2 - t_new // 2
        grid = grid[:, :, :, start:start + t_new]
    else:
        grid = F.interpolate(grid, size=(f_dim, t_new), mode="bilinear", align_corners=False)
    patches = grid.reshape(1, d, f_dim * t_new).transpose(1, 2)
    return torch.cat([pos[:, :2, :], patches], dim=1)


def _ast_layers(ast) -> nn.ModuleList:
    return ast.layers if hasattr(ast, "layers") else ast.encoder.layer  # transformers 5.x / 4.x module trees


class IPETAST(_IPETBase):
    """IPET on a frozen transformers AST (`ASTModel` or `ASTForAudioClassification`; its classifier is ignored).

    Per layer l: x = [prompts[l] (k rows, no position embedding), CLS, DIST, patches]
        h = x + Attn(LN_before(x)); a = Adapter_l(h); out = h + MLP(LN_after(h)) + a; drop the first k rows.
    Then the final layernorm; pooled = (CLS + DIST) / 2; head (ast-pooled or speaker with pooling ast-pooled).
    `max_length` (frames) other than the backbone's adapts the position embeddings (docs/ipet-method.md 4.1)."""

    architecture = AST_ARCH

    def __init__(self, hf_ast_model, k: int, bottleneck: int, head="ast-pooled", labels: Sequence[str] | None = None,
                 adapter_scale: float = 0.1, adapter_residual: bool = False, max_length: int | None = None,
                 mean: float | None = None, std: float | None = None, multi_label: bool = False,
                 head_layer_norm_eps: float = 1e-5, embedding_dim: int | None = None, adapter_dropout: float = 0.1,
                 preprocessing: Mapping | None = None):
        c = self._init_ipet(hf_ast_model, "audio_spectrogram_transformer", "an AST", k, bottleneck, adapter_scale,
                            adapter_residual, adapter_dropout)
        pre = dict(preprocessing or {})
        fe_mean = -4.2677393 if mean is None else mean
        fe_std = 4.5689974 if std is None else std
        self.preprocessing = {"sampling_rate": int(pre.get("sampling_rate", 16000)),
                              "num_mel_bins": int(pre.get("num_mel_bins", c.num_mel_bins)),
                              "max_length": int(pre.get("max_length", max_length or c.max_length)),
                              "mean": float(pre.get("mean", fe_mean)), "std": float(pre.get("std", fe_std)),
                              "do_normalize": bool(pre.get("do_normalize", True))}
        for key in pre:  # keep optional keys (e.g. segments) in the pack
            self.preprocessing.setdefault(key, pre[key])
        if self.preprocessing["num_mel_bins"] != c.num_mel_bins:
            raise ValueError("num_mel_bins of the task must equal the backbone's (the format adapts time only)")
        hc = _head_config(head, labels, multi_label, head_layer_norm_eps, embedding_dim,
                          "ast-pooled" if str(getattr(head, "type", head)) == "speaker" else None)
        if hc.type not in ("ast-pooled", "speaker") or (hc.type == "speaker" and hc.pooling != "ast-pooled"):
            raise ValueError(f"head {hc} does not fit an AST backbone")
        self.head = Head(hc, c.hidden_size)

    @property
    def max_length(self) -> int:
        return self.preprocessing["max_length"]

    def grid(self, frames: int | None = None) -> tuple[int, int]:
        c = self.backbone.config
        return ast_grid(c.num_mel_bins, frames or self.max_length, c.patch_size, c.frequency_stride, c.time_stride)

    def position_embeddings(self, frames: int | None = None) -> torch.Tensor:
        c = self.backbone.config
        f_dim, t_orig = self.grid(c.max_length)
        _, t_new = self.grid(frames)
        return adapt_ast_position_embeddings(self.backbone.embeddings.position_embeddings, f_dim, t_orig, t_new)

    def embed(self, input_values: torch.Tensor) -> torch.Tensor:
        """[B, T, F] -> [B, 2 + F' t, D]: patches (transformers' patch embedding), CLS, DIST, position table adapted
        to T frames."""
        e = self.backbone.embeddings
        x = e.patch_embeddings(input_values)
        b = x.shape[0]
        x = torch.cat([e.cls_token.expand(b, -1, -1), e.distillation_token.expand(b, -1, -1), x], dim=1)
        x = x + self.position_embeddings(input_values.shape[1])
        return e.dropout(x)

    def layer_forward(self, l: int, layer, h: torch.Tensor) -> torch.Tensor:
        x = layer.layernorm_before(h)
        x = layer.attention(x, None)[0]
        if hasattr(layer, "dropout"):
            x = layer.dropout(x)
        h = x + h
        a = self._adapter(l, h)  # residual stream entering the feed-forward block (before layernorm_after)
        if hasattr(layer, "mlp"):  # transformers 5.x
            y = layer.mlp(layer.layernorm_after(h))
            if hasattr(layer, "dropout"):
                y = layer.dropout(y)
            out = y + h
        else:  # transformers 4.x: ASTOutput adds the residual itself
            out = layer.output(layer.intermediate(layer.layernorm_after(h)), h)
        return out + a if a is not None else out

    def forward(self, input_values: torch.Tensor, output_hidden_states: bool = False) -> IPETOutput:
        if input_values.dim() == 2:
            input_values = input_values[None]
        h = self.embed(input_values)
        hidden = []
        for l, layer in enumerate(_ast_layers(self.backbone)):
            h = self._drop(self.layer_forward(l, layer, self._prepend(h, l)))
            if output_hidden_states:
                hidden.append(h)
        h = self.backbone.layernorm(h)
        pooled = (h[:, 0] + h[:, 1]) / 2
        logits, emb = self.head(pooled)
        return IPETOutput(logits=logits, pooled=pooled, embedding=emb, last_hidden_state=h,
                          hidden_states=hidden if output_hidden_states else None)


# ----------------------------------------------------------------------------------------------------------------------
# wav2vec 2.0


class IPETWav2Vec2(_IPETBase):
    """IPET on a frozen transformers wav2vec 2.0 (`Wav2Vec2Model` or any `Wav2Vec2For*`; its head is ignored).

    Encoder input as transformers (pos-conv, + encoder LN for post-LN); per layer prompts [k, D] are prepended (no
    position information, always attended: a key mask grows by k ones) and dropped after the layer
    (post-LN: after final_layer_norm).
      post-LN: h = h + Attn(h); a = Adapter(h) (+ h if adapter_residual); g = LN(h); out = final_LN(g + FFN(g) + a)
      pre-LN:  h = h + Attn(LN(h)); a = Adapter(h) (+ h); out = h + FFN(final_LN(h)) + a; encoder LN after the last
    Heads: mean-std (concat(mean_t, unbiased std_t) of the last layer output -> LN -> Linear) or speaker with
    pooling mean-std."""

    architecture = W2V2_ARCH

    def __init__(self, hf_w2v2_model, k: int, bottleneck: int, adapter_residual: bool = False, head="mean-std",
                 labels: Sequence[str] | None = None, adapter_scale: float = 0.1, multi_label: bool = False,
                 head_layer_norm_eps: float = 1e-5, embedding_dim: int | None = None, adapter_dropout: float = 0.1,
                 do_normalize: bool = False, crop_samples: int | None = None, segments: int | None = None,
                 preprocessing: Mapping | None = None):
        c = self._init_ipet(hf_w2v2_model, "wav2vec2", "a wav2vec 2.0", k, bottleneck, adapter_scale,
                            adapter_residual, adapter_dropout)
        pre = dict(preprocessing or {})
        self.preprocessing = {"sampling_rate": int(pre.get("sampling_rate", 16000)),
                              "do_normalize": bool(pre.get("do_normalize", do_normalize)),
                              "crop_samples": pre.get("crop_samples", crop_samples)}
        seg = pre.get("segments", segments)
        if seg is not None:
            self.preprocessing["segments"] = int(seg)
        for key in pre:
            self.preprocessing.setdefault(key, pre[key])
        hc = _head_config(head, labels, multi_label, head_layer_norm_eps, embedding_dim,
                          "mean-std" if str(getattr(head, "type", head)) == "speaker" else None)
        if hc.type not in ("mean-std", "speaker") or (hc.type == "speaker" and hc.pooling != "mean-std"):
            raise ValueError(f"head {hc} does not fit a wav2vec 2.0 backbone")
        self.head = Head(hc, 2 * c.hidden_size)

    @property
    def stable_layer_norm(self) -> bool:
        return bool(self.backbone.config.do_stable_layer_norm)

    def layer_forward(self, l: int, layer, h: torch.Tensor, mask) -> torch.Tensor:
        if not self.stable_layer_norm:
            x = layer.attention(h, attention_mask=mask)[0]
            h = h + layer.dropout(x)
            a = self._adapter(l, h)  # after the attention residual, before layer_norm
            g = layer.layer_norm(h)
            g = g + layer.feed_forward(g)
            if a is not None:
                g = g + a
            return layer.final_layer_norm(g)
        x = layer.attention(layer.layer_norm(h), attention_mask=mask)[0]
        h = h + layer.dropout(x)
        a = self._adapter(l, h)  # residual stream before final_layer_norm
        out = h + layer.feed_forward(layer.final_layer_norm(h))
        if a is not None:
            out = out + a
        if getattr(layer, "adapter_layer", None) is not None:  # transformers' own attention adapter (MMS), if any
            out = out + layer.adapter_layer(out)
        return out

    def frame_mask(self, attention_mask: torch.Tensor | None, frames: int) -> torch.Tensor | None:
        if attention_mask is None:
            return None
        return self.backbone._get_feature_vector_attention_mask(frames, attention_mask, add_adapter=False)

    def encode(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
               output_hidden_states: bool = False):
        from transformers.masking_utils import create_bidirectional_mask

        w = self.backbone
        feats = w.feature_extractor(input_values).transpose(1, 2)
        fmask = self.frame_mask(attention_mask, feats.shape[1])
        h, _ = w.feature_projection(feats)
        enc = w.encoder
        if fmask is not None:
            h = h.masked_fill(~fmask[..., None], 0.0)  # padded frames are zero before the positional conv
        h = h + enc.pos_conv_embed(h)
        if not self.stable_layer_norm:
            h = enc.layer_norm(h)
        h = enc.dropout(h)
        mask = None
        if fmask is not None:
            ext = torch.cat([torch.ones(fmask.shape[0], self.k, dtype=fmask.dtype), fmask], dim=1)
            shape_probe = h.new_zeros(h.shape[0], h.shape[1] + self.k, h.shape[2])
            mask = create_bidirectional_mask(config=w.config, inputs_embeds=shape_probe, attention_mask=ext)
        hidden = []
        for l, layer in enumerate(enc.layers):
            h = self._drop(self.layer_forward(l, layer, self._prepend(h, l), mask))
            if output_hidden_states:
                hidden.append(h)
        if self.stable_layer_norm:
            h = enc.layer_norm(h)
        if getattr(w, "adapter", None) is not None:
            h = w.adapter(h)
        return h, fmask, hidden

    @staticmethod
    def mean_std(h: torch.Tensor, fmask: torch.Tensor | None = None) -> torch.Tensor:
        """concat(mean over frames, unbiased std over frames); with a frame mask only valid frames count."""
        if fmask is None:
            return torch.cat([h.mean(dim=1), h.std(dim=1, unbiased=True)], dim=-1)
        m = fmask[..., None].to(h.dtype)
        n = m.sum(dim=1)
        mean = (h * m).sum(dim=1) / n
        var = (((h - mean[:, None]) ** 2) * m).sum(dim=1) / (n - 1)
        return torch.cat([mean, var.sqrt()], dim=-1)

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_hidden_states: bool = False) -> IPETOutput:
        if input_values.dim() == 1:
            input_values = input_values[None]
        h, fmask, hidden = self.encode(input_values, attention_mask, output_hidden_states)
        pooled = self.mean_std(h, fmask)
        logits, emb = self.head(pooled)
        return IPETOutput(logits=logits, pooled=pooled, embedding=emb, last_hidden_state=h,
                          hidden_states=hidden if output_hidden_states else None)


# ----------------------------------------------------------------------------------------------------------------------
# preprocessing


def ast_input_values(wave: np.ndarray, preprocessing: Mapping, kaldi=None) -> np.ndarray:
    """[max_length, num_mel_bins] float32: transformers' ASTFeatureExtractor with the pack's preprocessing, fbank by
    torchaudio's kaldi.py (fixture_common.load_kaldi().module) or, with kaldi=None, transformers' numpy path."""
    import warnings as _w

    from transformers import ASTFeatureExtractor

    from fixture_common import ast_fbank_backend

    with _w.catch_warnings():
        _w.filterwarnings("ignore", message="At least one mel filter has all zero values")
        with ast_fbank_backend(kaldi):
            fe = ASTFeatureExtractor(num_mel_bins=int(preprocessing["num_mel_bins"]),
                                     max_length=int(preprocessing["max_length"]),
                                     mean=float(preprocessing["mean"]), std=float(preprocessing["std"]),
                                     do_normalize=bool(preprocessing.get("do_normalize", True)),
                                     sampling_rate=int(preprocessing.get("sampling_rate", 16000)))
            out = fe(np.asarray(wave, dtype=np.float32), sampling_rate=fe.sampling_rate, return_tensors="np")
    return out["input_values"][0].astype(np.float32)


def w2v2_input_values(wave: np.ndarray, preprocessing: Mapping) -> np.ndarray:
    """[N] float32: the raw waveform, or Wav2Vec2FeatureExtractor's (x - mean) / sqrt(var + 1e-7) when
    do_normalize (IPET itself feeds raw waveforms)."""
    x = np.asarray(wave, dtype=np.float32)
    if preprocessing.get("do_normalize", False):
        x = ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)
    return x


# ----------------------------------------------------------------------------------------------------------------------
# backbones


def load_backbone(path: str | os.PathLike, dtype=torch.float32):
    """transformers base model (ASTModel / Wav2Vec2Model) from a folder, eval mode, eager attention."""
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    cfg = AutoConfig.from_pretrained(str(path))
    old = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # a head checkpoint loaded as a base model reports its head as UNEXPECTED
    try:
        model = AutoModel.from_pretrained(str(path), attn_implementation="eager", dtype=dtype)
    finally:
        hf_logging.set_verbosity(old)
    assert cfg.model_type in PREFIX, cfg.model_type
    return model.eval()


# ----------------------------------------------------------------------------------------------------------------------
# backbone fingerprint (Formats/ipet-pack.md "Backbone fingerprint (version 1)")

_AST_5X_TO_4X = (
    (re.compile(r"(^|\.)layers\.(\d+)\.attention\.q_proj\."), r"\1encoder.layer.\2.attention.attention.query."),
    (re.compile(r"(^|\.)layers\.(\d+)\.attention\.k_proj\."), r"\1encoder.layer.\2.attention.attention.key."),
    (re.compile(r"(^|\.)layers\.(\d+)\.attention\.v_proj\."), r"\1encoder.layer.\2.attention.attention.value."),
    (re.compile(r"(^|\.)layers\.(\d+)\.attention\.o_proj\."), r"\1encoder.layer.\2.attention.output.dense."),
    (re.compile(r"(^|\.)layers\.(\d+)\.mlp\.fc1\."), r"\1encoder.layer.\2.intermediate.dense."),
    (re.compile(r"(^|\.)layers\.(\d+)\.mlp\.fc2\."), r"\1encoder.layer.\2.output.dense."),
    (re.compile(r"(^|\.)layers\.(\d+)\."), r"\1encoder.layer.\2."),  # layernorm_before / layernorm_after
)


def canonical_name(name: str, architecture: str, bare: bool) -> str:
    """Step 1: canonical (transformers 4.x hub) name with the base-model prefix."""
    prefix = PREFIX[architecture]
    if bare:
        name = prefix + name
    if architecture == AST_ARCH and name.startswith(prefix):
        rest = name[len(prefix):]
        for pat, rep in _AST_5X_TO_4X:
            new = pat.sub(rep, rest, count=1)
            if new != rest:
                rest = new
                break
        name = prefix + rest
    if architecture == W2V2_ARCH:
        name = name.replace("parametrizations.weight.original0", "weight_g")
        name = name.replace("parametrizations.weight.original1", "weight_v")
    return name


def is_bare(names: Iterable[str], architecture: str) -> bool:
    """A checkpoint is "bare" (no base-model prefix) when none of its names starts with the prefix - the rule
    transformers uses when loading a base model from a checkpoint. (Formats/ipet-pack.md does not spell it out.)"""
    prefix = PREFIX[architecture]
    return not any(n.startswith(prefix) for n in names)


def canonical_backbone_tensors(tensors: Mapping[str, object], architecture: str) -> dict[str, str]:
    """{canonical name: original name} of the backbone tensors (steps 1-2)."""
    if architecture not in PREFIX:
        raise ValueError(f"unknown architecture {architecture!r}")
    prefix = PREFIX[architecture]
    bare = is_bare(tensors, architecture)
    out: dict[str, str] = {}
    for name in tensors:
        cn = canonical_name(name, architecture, bare)
        if not cn.startswith(prefix) or cn == "wav2vec2.masked_spec_embed":
            continue
        if cn in out:
            raise ValueError(f"two tensors map to the canonical name {cn}: {out[cn]} and {name}")
        out[cn] = name
    return out


def _tensors_of(source) -> dict[str, torch.Tensor]:
    """state dict / nn.Module / safetensors file / model folder -> {name: tensor} (original dtypes)."""
    if isinstance(source, nn.Module):
        return {k: v.detach() for k, v in source.state_dict().items()}
    if isinstance(source, Mapping):
        return {k: (v if isinstance(v, torch.Tensor) else torch.from_numpy(np.asarray(v))) for k, v in source.items()}
    p = Path(source)
    files = [p]
    if p.is_dir():
        if (p / "model.safetensors").exists():
            files = [p / "model.safetensors"]
        elif (p / "model.safetensors.index.json").exists():
            index = json.loads((p / "model.safetensors.index.json").read_text())
            files = [p / f for f in sorted(set(index["weight_map"].values()))]
        else:
            raise FileNotFoundError(f"no model.safetensors in {p}")
    out = {}
    for f in files:
        out.update(load_safetensors(f, "pt")[0])
    return out


def _f32_le_bytes(t: torch.Tensor, name: str) -> bytes:
    if not t.is_floating_point():
        raise ValueError(f"fingerprint v1 is defined for float tensors only; {name} is {t.dtype}")
    # F16/BF16 -> F32 is exact; F64 -> F32 rounds to nearest (even), as torch's cast does.
    return t.detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4", copy=False).tobytes()


def fingerprint(source, architecture: str, return_names: bool = False):
    """Backbone fingerprint v1: "sha256:" + hex over the canonical, sorted backbone tensors.
    `source`: a state dict, an nn.Module (e.g. a transformers model), a .safetensors path or a model folder."""
    tensors = _tensors_of(source)
    canon = canonical_backbone_tensors(tensors, architecture)
    names = sorted(canon, key=lambda s: s.encode("utf-8"))
    h = hashlib.sha256()
    h.update(FINGERPRINT_DOMAIN)
    for cn in names:
        t = tensors[canon[cn]]
        nb = cn.encode("utf-8")
        h.update(struct.pack("<Q", len(nb)))
        h.update(nb)
        h.update(struct.pack("<Q", t.dim()))
        for d in t.shape:
            h.update(struct.pack("<Q", int(d)))
        h.update(_f32_le_bytes(t, cn))
    fp = "sha256:" + h.hexdigest()
    return (fp, names) if return_names else fp


# ----------------------------------------------------------------------------------------------------------------------
# safetensors writer with a deterministic header


_ST_DTYPE = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def write_safetensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: Sequence[tuple[str, str]],
                      dtype: str, record_digest: bool = True) -> int:
    """safetensors file laid out like the reference Python writer (tensors by dtype then name, compact header with
    __metadata__ first, header space-padded to 8 bytes) but with `metadata` written in the given order (the Python
    writer's __metadata__ order is a Rust HashMap's, i.e. random). Every tensor is cast to `dtype`."""
    if dtype not in _ST_DTYPE:
        raise ValueError(f"dtype {dtype} not supported")
    cast = {n: t.detach().to(_ST_DTYPE[dtype]) for n, t in tensors.items()}
    return write_file_atomically(path, safetensors_bytes(cast, metadata, record_digest=record_digest))


# ----------------------------------------------------------------------------------------------------------------------
# packs


def _compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def pack_metadata(backbone: Mapping, config: Mapping, head: Mapping, preprocessing: Mapping,
                  provenance: Mapping | None = None) -> list[tuple[str, str]]:
    """`__metadata__` entries in the order of the format's table; JSON objects compact, keys in insertion order."""
    meta = [("format", "pt"), ("ipet.format", PACK_FORMAT), ("ipet.version", PACK_VERSION),
            ("ipet.backbone", _compact(dict(backbone))), ("ipet.config", _compact(dict(config))),
            ("ipet.head", _compact(dict(head))), ("ipet.preprocessing", _compact(dict(preprocessing)))]
    if provenance is not None:
        meta.append(("ipet.provenance", _compact(dict(provenance))))
    return meta


def write_pack(path, tensors: Mapping[str, torch.Tensor], backbone: Mapping, config: Mapping, head: Mapping,
               preprocessing: Mapping, provenance: Mapping | None = None, dtype: str = "F32") -> int:
    """Low-level pack writer (no model needed, e.g. for shape-only packs). Checks the implied tensor set."""
    expected = implied_tensor_shapes(backbone, config, head)
    got = {k: tuple(v.shape) for k, v in tensors.items() if not k.startswith("override.")}
    if got != expected:
        raise ValueError(f"pack tensors do not match the configuration: missing {sorted(set(expected) - set(got))}, "
                         f"extra {sorted(set(got) - set(expected))}, shapes "
                         f"{[(k, got[k], expected[k]) for k in set(got) & set(expected) if got[k] != expected[k]]}")
    return write_safetensors(path, tensors, pack_metadata(backbone, config, head, preprocessing, provenance), dtype)


def export_pack(path, model: _IPETBase, labels: Sequence[str] | None = None, preprocessing: Mapping | None = None,
                dtype: str = "F32", provenance: Mapping | None = None, fingerprint_value: str | None = None,
                backbone_name: str | None = None, overrides: Mapping[str, torch.Tensor] | None = None) -> int:
    """Write `model`'s prompts, adapters and head as an IPET pack (Formats/ipet-pack.md v1). `labels` /
    `preprocessing` override the model's own; `overrides` = {canonical backbone name: tensor} (stored as
    `override.<name>`). Returns the file size."""
    head = model.head.cfg.to_json()
    if labels is not None:
        if len(labels) != len(model.head.cfg.labels or []):
            raise ValueError("labels must match the head's number of outputs")
        head["labels"] = list(labels)
    tensors = dict(model.pack_state_dict())
    if overrides:
        canon = canonical_backbone_tensors(_tensors_of(model.backbone), model.architecture)
        sd = model.backbone.state_dict()
        for name, t in overrides.items():
            if name not in canon:
                raise KeyError(f"override of an unknown backbone tensor {name}")
            if tuple(t.shape) != tuple(sd[canon[name]].shape):
                raise ValueError(f"override {name}: shape {tuple(t.shape)} != {tuple(sd[canon[name]].shape)}")
            tensors["override." + name] = t
    return write_pack(path, tensors, model.backbone_json(fingerprint_value, backbone_name), model.ipet_config(),
                      head, dict(preprocessing or model.preprocessing), provenance, dtype)


def implied_tensor_shapes(backbone: Mapping, config: Mapping, head: Mapping) -> dict[str, tuple[int, ...]]:
    """Every tensor the configuration implies (overrides excluded), with its shape."""
    d, layers = int(backbone["hidden_size"]), int(backbone["num_hidden_layers"])
    k, b = int(config["prompt_tokens"]), int(config["adapter_bottleneck"])
    out: dict[str, tuple[int, ...]] = {}
    for l in range(layers):
        if k:
            out[f"prompts.{l}"] = (k, d)
        if b:
            out[f"adapters.{l}.down.weight"] = (b, d)
            out[f"adapters.{l}.down.bias"] = (b,)
            out[f"adapters.{l}.up.weight"] = (d, b)
            out[f"adapters.{l}.up.bias"] = (d,)
    t = head["type"]
    n = len(head.get("labels") or [])
    if t in ("ast-pooled", "mean-std"):
        i = d if t == "ast-pooled" else 2 * d
        out.update({"head.norm.weight": (i,), "head.norm.bias": (i,), "head.linear.weight": (n, i),
                    "head.linear.bias": (n,)})
    elif t == "speaker":
        i = d if head.get("pooling") == "ast-pooled" else 2 * d
        e = int(head["embedding_dim"])
        out.update({"head.embedding.weight": (e, i), "head.embedding.bias": (e,)})
        if n:
            out.update({"head.norm.weight": (e,), "head.norm.bias": (e,), "head.linear.weight": (n, e),
                        "head.linear.bias": (n,)})
    else:
        raise ValueError(f"head type {t!r} not implemented by this reference")
    return out


@dataclass
class Pack:
    path: str
    metadata: dict[str, str]
    backbone: dict
    config: dict
    head: dict
    preprocessing: dict
    provenance: dict | None
    tensors: dict[str, torch.Tensor]  # widened to float32
    dtypes: dict[str, str]


class PackError(ValueError):
    pass


def read_pack(path) -> Pack:
    """Parse and structurally verify a pack (steps 1 and the tensor part of 2 of "Verification")."""
    header = read_safetensors_header(path)
    meta = header.get("__metadata__") or {}
    for key in ("format", "ipet.format", "ipet.version", "ipet.backbone", "ipet.config", "ipet.head",
                "ipet.preprocessing"):
        if key not in meta:
            raise PackError(f"{path}: metadata key {key} missing")
    if meta["ipet.format"] != PACK_FORMAT:
        raise PackError(f"{path}: ipet.format {meta['ipet.format']!r}")
    major = meta["ipet.version"].split(".")[0]
    if major != PACK_VERSION.split(".")[0]:
        raise PackError(f"{path}: unsupported ipet.version {meta['ipet.version']}")
    recorded = meta.get(CONTENT_DIGEST_KEY)
    if recorded is None and meta["ipet.version"] != "1.0":
        raise PackError(f"{path}: pack format {meta['ipet.version']} requires {CONTENT_DIGEST_KEY}")
    if recorded is not None and recorded != file_content_digest(path):
        raise PackError(f"{path}: content digest mismatch (the file is damaged or was changed)")
    try:
        objs = {k: json.loads(meta[k]) for k in ("ipet.backbone", "ipet.config", "ipet.head", "ipet.preprocessing")}
        prov = json.loads(meta["ipet.provenance"]) if "ipet.provenance" in meta else None
    except json.JSONDecodeError as exc:
        raise PackError(f"{path}: metadata JSON does not parse: {exc}") from exc
    cfg = objs["ipet.config"]
    for key, allowed in (("prompt_placement", "prepend-every-layer"), ("adapter_activation", "relu"),
                         ("adapter_placement", "parallel-ffn")):
        if cfg.get(key, allowed) != allowed:
            raise PackError(f"{path}: {key} {cfg.get(key)!r} not supported")
    tensors, _ = load_safetensors(path, "pt")
    dtypes = {k: v["dtype"] for k, v in header.items() if k != "__metadata__"}
    for k, dt in dtypes.items():
        if dt not in ("F32", "F16", "BF16"):
            raise PackError(f"{path}: tensor {k} has dtype {dt}")
    expected = implied_tensor_shapes(objs["ipet.backbone"], cfg, objs["ipet.head"])
    got = {k: tuple(v.shape) for k, v in tensors.items() if not k.startswith("override.")}
    if got != expected:
        raise PackError(f"{path}: tensors differ from what the configuration implies: missing "
                        f"{sorted(set(expected) - set(got))}, extra {sorted(set(got) - set(expected))}, shapes "
                        f"{sorted((k, got[k], expected[k]) for k in set(got) & set(expected) if got[k] != expected[k])}")
    return Pack(str(path), dict(meta), objs["ipet.backbone"], cfg, objs["ipet.head"], objs["ipet.preprocessing"],
                prov, {k: v.to(torch.float32) for k, v in tensors.items()}, dtypes)


def load_pack(path, hf_backbone, allow_mismatch: bool = False, backbone_fingerprint: str | None = None):
    """Pack + frozen transformers backbone -> IPETAST / IPETWav2Vec2 with the pack's tensors (float32).
    Verifies architecture, sizes and fingerprint (a mismatch raises PackError unless allow_mismatch)."""
    pack = read_pack(path)
    base = getattr(hf_backbone, "audio_spectrogram_transformer", None) or getattr(hf_backbone, "wav2vec2", None) \
        or hf_backbone
    c = base.config
    bb = pack.backbone
    arch = bb["architecture"]
    sizes = {k: getattr(c, k) for k in ("hidden_size", "num_hidden_layers", "num_attention_heads")}
    if arch != c.model_type or any(int(bb[k]) != v for k, v in sizes.items()):
        raise PackError(f"{path}: pack is for {arch} {[bb[k] for k in sizes]}, backbone is {c.model_type} "
                        f"{list(sizes.values())}")
    fp = backbone_fingerprint or fingerprint(base, arch)
    if fp != bb["fingerprint"]:
        msg = f"{path}: backbone fingerprint {fp} != pack's {bb['fingerprint']} (values differ; shapes fit)"
        if not allow_mismatch:
            raise PackError(msg)
        warnings.warn(msg)
    overrides = {k[len("override."):]: v for k, v in pack.tensors.items() if k.startswith("override.")}
    if overrides:
        base = copy.deepcopy(base)
        canon = canonical_backbone_tensors(_tensors_of(base), arch)
        sd = base.state_dict()
        for name, t in overrides.items():
            if name not in canon or tuple(sd[canon[name]].shape) != tuple(t.shape):
                raise PackError(f"{path}: override.{name} does not name a backbone tensor of that shape")
            sd[canon[name]] = t
        base.load_state_dict(sd)
    cfg = pack.config
    head = HeadConfig.from_json(pack.head)
    common = dict(k=cfg["prompt_tokens"], bottleneck=cfg["adapter_bottleneck"], head=head,
                  adapter_scale=cfg["adapter_scale"], adapter_residual=bool(cfg.get("adapter_residual", False)),
                  preprocessing=pack.preprocessing)
    model = IPETAST(base, **common) if arch == AST_ARCH else IPETWav2Vec2(base, **common)
    sd = {k: v for k, v in pack.tensors.items() if not k.startswith("override.")}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not m.startswith("backbone.")]
    if missing or unexpected:
        raise PackError(f"{path}: missing {missing}, unexpected {unexpected}")
    model.eval()
    model.pack = pack
    return model


# ----------------------------------------------------------------------------------------------------------------------
# convenience


def predict(model: _IPETBase, wave: np.ndarray, kaldi=None) -> IPETOutput:
    """One clip (16 kHz float32 waveform) through the pack's preprocessing and the model."""
    with torch.no_grad():
        if isinstance(model, IPETAST):
            iv = ast_input_values(wave, model.preprocessing, kaldi)
            return model(torch.from_numpy(iv)[None])
        return model(torch.from_numpy(w2v2_input_values(wave, model.preprocessing))[None])


__all__ = ["Adapter", "HeadConfig", "Head", "IPETOutput", "IPETAST", "IPETWav2Vec2", "adapt_ast_position_embeddings",
           "ast_input_values", "w2v2_input_values", "load_backbone", "canonical_name", "canonical_backbone_tensors",
           "fingerprint", "write_safetensors", "write_pack", "export_pack", "implied_tensor_shapes", "read_pack",
           "load_pack", "Pack", "PackError", "predict", "AST_ARCH", "W2V2_ARCH"]
