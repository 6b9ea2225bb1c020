#!/usr/bin/env python3
"""Checkpoints in the original AST code's layout and in the official IPET code's layout, made from the tiny
fixtures, for the importers (`ipet inspect`, `ipet convert`, `ipet convert --ipet-checkpoint`).

    .venv-tools/bin/python tools/make_original_checkpoint_fixtures.py
    .venv-tools/bin/python tools/make_original_checkpoint_fixtures.py --check    # regenerate into a temp dir, compare

Writes Fixtures/original/:
- ast-tiny-a-timm.pth: Fixtures/ast/tiny-a as the original AST repository saves it (YuanGongND/ast: a timm DeiT under
  `module.v.`, fused `attn.qkv`, `norm1`/`norm2`, `mlp.fc1`/`fc2`, `patch_embed.proj`, `pos_embed`, `cls_token`,
  `dist_token`, `mlp_head.0/1` for the classifier LayerNorm/Linear) with timm's unused `v.head`/`v.head_dist`.
- ipet-ast-tiny-a-short.pth: a whole tuned model as the official IPET AST code holds it (wngh1187/IPET
  ESC50/AST/models/AST.py, vision_transformer.py, head.py): `{"model": Model.state_dict() (DDP "module." prefix),
  "classification_head": head.state_dict(), "args": {...}}`, where the model holds `v.*` with the position table
  already adapted to the task's 256 frames, `embedding_prompt{i}` [1, k, D], `v.blocks.{i}.adaptmlp.{down,up}_proj`,
  and the head `mlp_head.0` (LayerNorm) / `mlp_head.1` (Linear). The IPET tensors are those of
  Fixtures/packs/ast-tiny-a-short.ipet, so the converted pack must give that pack's references.
- ipet-w2v2-gn-postln.pth: the official IPET wav2vec 2.0 layout (W2V2.py): `wav2vec2.*` (transformers names),
  `wav2vec2.encoder.layers.{i}.embed_prompt` [1, k, D], `wav2vec2.encoder.layers.{i}.adapter.{down,up}_proj`, head
  `mlp_head.0/1` on mean‖std; tensors of Fixtures/packs/w2v2-gn-postln-residual.ipet (the official code adds the
  residual copy in its adapter).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import ROOT, env_quiet, fixture_main  # noqa: E402

env_quiet()
from safetensors.torch import load_file  # noqa: E402

from ipet_reference import read_pack  # noqa: E402

OUT = ROOT / "Fixtures" / "original"


def timm_names(sd: dict, layers: int, prefix: str = "audio_spectrogram_transformer.") -> dict:
    out = {}
    p = prefix
    out["v.cls_token"] = sd[p + "embeddings.cls_token"]
    out["v.dist_token"] = sd[p + "embeddings.distillation_token"]
    out["v.pos_embed"] = sd[p + "embeddings.position_embeddings"]
    out["v.patch_embed.proj.weight"] = sd[p + "embeddings.patch_embeddings.projection.weight"]
    out["v.patch_embed.proj.bias"] = sd[p + "embeddings.patch_embeddings.projection.bias"]
    for l in range(layers):
        q = f"{p}encoder.layer.{l}."
        b = f"v.blocks.{l}."
        for leaf in ("weight", "bias"):
            out[b + f"norm1.{leaf}"] = sd[q + f"layernorm_before.{leaf}"]
            out[b + f"norm2.{leaf}"] = sd[q + f"layernorm_after.{leaf}"]
            out[b + f"attn.qkv.{leaf}"] = torch.cat([sd[q + f"attention.attention.{n}.{leaf}"] for n in ("query", "key", "value")])
            out[b + f"attn.proj.{leaf}"] = sd[q + f"attention.output.dense.{leaf}"]
            out[b + f"mlp.fc1.{leaf}"] = sd[q + f"intermediate.dense.{leaf}"]
            out[b + f"mlp.fc2.{leaf}"] = sd[q + f"output.dense.{leaf}"]
    out["v.norm.weight"] = sd[p + "layernorm.weight"]
    out["v.norm.bias"] = sd[p + "layernorm.bias"]
    return out


def official_ipet_tensors(pack, layers: int, k: int, d: int, prompt: Callable[[int], str],
                          adapter: Callable[[int, str, str], str]) -> dict:
    """A pack's prompts ([1, k, D] per layer) and adapters under the official IPET code's names."""
    out = {}
    for l in range(layers):
        out[prompt(l)] = pack.tensors[f"prompts.{l}"].reshape(1, k, d)
        for part in ("down", "up"):
            for leaf in ("weight", "bias"):
                out[adapter(l, part, leaf)] = pack.tensors[f"adapters.{l}.{part}.{leaf}"]
    return out


def official_head(pack) -> dict:
    """A pack's LayerNorm + linear head as the official code's `mlp_head.0` / `mlp_head.1`."""
    return {"mlp_head.0.weight": pack.tensors["head.norm.weight"], "mlp_head.0.bias": pack.tensors["head.norm.bias"],
            "mlp_head.1.weight": pack.tensors["head.linear.weight"], "mlp_head.1.bias": pack.tensors["head.linear.bias"]}


def main() -> None:
    fixture_main(__doc__, OUT, build)


def build(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(7)
    sd = load_file(str(ROOT / "Fixtures/ast/tiny-a/model.safetensors"))
    d = sd["audio_spectrogram_transformer.embeddings.cls_token"].shape[-1]
    timm = timm_names(sd, 2)
    timm["v.head.weight"] = torch.randn(1000, d) * 0.02  # unused by AST
    timm["v.head.bias"] = torch.zeros(1000)
    timm["v.head_dist.weight"] = torch.randn(1000, d) * 0.02
    timm["v.head_dist.bias"] = torch.zeros(1000)
    timm["mlp_head.0.weight"] = sd["classifier.layernorm.weight"]
    timm["mlp_head.0.bias"] = sd["classifier.layernorm.bias"]
    timm["mlp_head.1.weight"] = sd["classifier.dense.weight"]
    timm["mlp_head.1.bias"] = sd["classifier.dense.bias"]
    torch.save({"module." + k: v.clone() for k, v in timm.items()}, out / "ast-tiny-a-timm.pth")

    # Official IPET AST: backbone with the task's adapted position table, prompts, adapters, head.
    pack = read_pack(ROOT / "Fixtures/packs/ast-tiny-a-short.ipet")
    from ipet_reference import IPETAST, load_backbone
    backbone = load_backbone(ROOT / "Fixtures/ast/tiny-a")
    ipet = IPETAST(backbone, k=3, bottleneck=8, labels=["a", "b", "c", "d"], max_length=256,
                   mean=-4.2677393, std=4.5689974)
    adapted = ipet.position_embeddings(256)
    model = timm_names(sd, 2)
    model["v.pos_embed"] = adapted.detach().reshape(1, -1, d).clone()
    k = 3
    model.update(official_ipet_tensors(pack, 2, k, d, lambda l: f"embedding_prompt{l}",
                                       lambda l, part, leaf: f"v.blocks.{l}.adaptmlp.{part}_proj.{leaf}"))
    head = official_head(pack)
    torch.save({"model": {"module." + k2: v.clone().contiguous() for k2, v in model.items()},
                "classification_head": {"module." + k2: v.clone().contiguous() for k2, v in head.items()},
                "args": {"frame_length": 256, "embedding_prompt_num": k, "adapter_hidden_dim": 8, "adapter_scalar": "0.1",
                         "nfilts": 128, "dataset_mean": -4.2677393, "dataset_std": 4.5689974},
                "epoch": 12}, out / "ipet-ast-tiny-a-short.pth")

    # Official IPET wav2vec 2.0.
    pack = read_pack(ROOT / "Fixtures/packs/w2v2-gn-postln-residual.ipet")
    w = load_file(str(ROOT / "Fixtures/wav2vec2/gn-postln/model.safetensors"))
    model = {("wav2vec2." + n if not n.startswith("wav2vec2.") else n): t for n, t in w.items()}
    d = model["wav2vec2.encoder.layer_norm.weight"].shape[0]
    k = 3
    model.update(official_ipet_tensors(pack, 2, k, d, lambda l: f"wav2vec2.encoder.layers.{l}.embed_prompt",
                                       lambda l, part, leaf: f"wav2vec2.encoder.layers.{l}.adapter.{part}_proj.{leaf}"))
    model.update(official_head(pack))
    torch.save({k2: v.clone().contiguous() for k2, v in model.items()}, out / "ipet-w2v2-gn-postln.pth")
    print("wrote", sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
    main()
