#!/usr/bin/env python3
"""Reference gradients, Adam steps and losses for `ipet train` (docs/ipet-method.md section 5), written to
Fixtures/training/ (format: its README). PyTorch autograd on tools/ipet_reference.py's models is the reference.

    .venv-tools/bin/python tools/make_training_fixtures.py           # write Fixtures/training
    .venv-tools/bin/python tools/make_training_fixtures.py --check   # regenerate into a temp dir, compare bytes

For each case (tiny backbones of Fixtures/ast and Fixtures/wav2vec2, every head type IPET trains, both adapter
residual settings, a padded pre-LN batch): an IPET model with NON-ZERO random prompts, adapters and head
(fixture_common.randomise_pack_; IPET's own init leaves the adapters' up projections at 0, which would hide their
gradients), adapter dropout off, a fixed batch of 4 inputs and labels, torch float32 on one thread:

- `<case>.ipet`: the parameters before training, as a pack (Formats/ipet-pack.md);
- `<case>.safetensors`: the inputs; `grad.<tensor>` = the gradient of the batch's mean cross-entropy
  (F.cross_entropy) for every pack tensor (loss.backward()); `adam.<tensor>` = every tensor after one
  torch.optim.Adam step from those gradients with the recipe's settings (lr 1e-3, betas (0.95, 0.999), eps 1e-8,
  weight decay 5e-7); `losses` = the losses of five Adam steps from the initial parameters over the fixed batch
  order STEPS (loss before each step); metadata: labels, steps, settings, and how far torch float32 gradients are
  from a float64 run of the same model (the scale of honest rounding).
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import (  # noqa: E402
    FIXTURES, env_quiet, fixture_main, load_kaldi, load_np_safetensors, randomise_pack_, safetensors_bytes, versions,
    write_file_atomically,
)

env_quiet()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import ipet_reference as ipet  # noqa: E402

OUT = FIXTURES / "training"
AUDIO_REF = FIXTURES / "audio" / "reference.safetensors"

LR, BETAS, EPS, WEIGHT_DECAY = 1e-3, (0.95, 0.999), 1e-8, 5e-7
LABELS = [0, 2, 1, 2]  # of the 4 inputs
STEPS = [[0, 1], [2, 3], [1, 2, 3], [0, 3], [0, 1, 2, 3]]  # the items of each of the five steps
AST_FRAMES = 128  # tiny-a's 512-frame table centre-cropped to 12 time patches: small inputs, a cropped table
AST_CLIPS = ["chirp_6s_16k", "tone440_2s_16k", "noise_3s_16k", "short_0p5s_16k"]
# wav2vec 2.0: 8000-sample slices (0.5 s, 25 frames) of these clips; (clip, start)
W2V2_SLICES = [("chirp_6s_16k", 16000), ("tone440_2s_16k", 0), ("noise_3s_16k", 8000), ("short_0p5s_16k", 0)]
W2V2_SAMPLES = 8000
MASKED_VALID = [8000, 6400, 8000, 5120]  # the padded batch: valid samples per item, zeros after


@dataclass
class Case:
    name: str
    backbone: str
    k: int
    b: int
    head: str
    labels: list[str]
    seed: int
    description: str
    embedding_dim: int | None = None
    adapter_residual: bool = False
    masked: bool = False

    @property
    def is_ast(self) -> bool:
        return "/ast/" in f"/{self.backbone}/"


AST_LABELS = ["cat", "dog", "rain", "wind"]
W2V2_LABELS = ["speech", "music", "noise"]
SPEAKERS = ["spk1", "spk2", "spk3", "spk4", "spk5"]

CASES = [
    Case("ast-pooled", "ast/tiny-a", 3, 8, "ast-pooled", AST_LABELS, 3001,
         "AST tiny-a, 128 frames, k 3, b 8, ast-pooled head, 4 classes"),
    Case("ast-speaker", "ast/tiny-a", 2, 6, "speaker", SPEAKERS, 3002,
         "AST tiny-a, 128 frames, k 2, b 6, speaker head (embedding 16, classifier of 5)", embedding_dim=16),
    Case("ast-head-only", "ast/tiny-a", 0, 0, "ast-pooled", AST_LABELS, 3003,
         "AST tiny-a, 128 frames, no prompts or adapters: the head alone on the frozen model"),
    Case("w2v2-postln", "wav2vec2/gn-postln", 3, 8, "mean-std", W2V2_LABELS, 3004,
         "wav2vec 2.0 gn-postln (post-LN, group norm), k 3, b 8, mean-std head, adapter_residual false"),
    Case("w2v2-postln-residual", "wav2vec2/gn-postln", 3, 8, "mean-std", W2V2_LABELS, 3005,
         "as w2v2-postln with adapter_residual true (the official code's quirk)", adapter_residual=True),
    Case("w2v2-postln-speaker", "wav2vec2/gn-postln", 2, 6, "speaker", SPEAKERS, 3006,
         "wav2vec 2.0 gn-postln, k 2, b 6, speaker head (pooling mean-std, embedding 16, classifier of 5), "
         "adapter_residual true", embedding_dim=16, adapter_residual=True),
    Case("w2v2-preln-masked", "wav2vec2/ln-preln-seqcls", 3, 8, "mean-std", W2V2_LABELS, 3007,
         "wav2vec 2.0 ln-preln-seqcls (pre-LN, layer norm), k 3, b 8, mean-std head; a padded batch (valid samples "
         f"{MASKED_VALID}) with an attention mask", masked=True),
]

_BACKBONES: dict[str, object] = {}


def backbone(path: str):
    if path not in _BACKBONES:
        _BACKBONES[path] = ipet.load_backbone(FIXTURES / path)
    return _BACKBONES[path]


def build_model(case: Case) -> ipet._IPETBase:
    kw = dict(k=case.k, bottleneck=case.b, head=case.head, labels=case.labels, embedding_dim=case.embedding_dim,
              adapter_residual=case.adapter_residual, adapter_dropout=0.0)
    if case.is_ast:
        pre = json.loads((FIXTURES / case.backbone / "preprocessor_config.json").read_text())
        model = ipet.IPETAST(backbone(case.backbone), max_length=AST_FRAMES, mean=pre["mean"], std=pre["std"], **kw)
    else:
        model = ipet.IPETWav2Vec2(backbone(case.backbone), **kw)
    randomise_pack_(model, case.seed)
    return model.eval()


def batch_inputs(case: Case, model, kaldi) -> tuple[torch.Tensor, torch.Tensor | None, list[int] | None]:
    """(inputs [4, ...], attention mask or None, valid samples or None)."""
    audio, _ = load_np_safetensors(AUDIO_REF)
    if case.is_ast:
        x = np.stack([ipet.ast_input_values(audio[f"{c}.16k"], model.preprocessing, kaldi) for c in AST_CLIPS])
        return torch.from_numpy(x), None, None
    x = np.stack([audio[f"{c}.16k"][s:s + W2V2_SAMPLES].astype(np.float32) for c, s in W2V2_SLICES])
    if not case.masked:
        return torch.from_numpy(x), None, None
    mask = np.zeros_like(x, dtype=np.int64)
    for i, n in enumerate(MASKED_VALID):
        x[i, n:] = 0
        mask[i, :n] = 1
    return torch.from_numpy(x), torch.from_numpy(mask), list(MASKED_VALID)


def batch_loss(model, x, mask, items) -> torch.Tensor:
    idx = torch.tensor(items)
    y = torch.tensor([LABELS[i] for i in items])
    if mask is None:
        out = model(x[idx])
    else:
        out = model(x[idx], attention_mask=mask[idx])
    return F.cross_entropy(out.logits, y)


def pack_parameters(model) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if not n.startswith("backbone.")}


def gradients(model, x, mask) -> dict[str, torch.Tensor]:
    params = pack_parameters(model)
    for p in params.values():
        p.grad = None
    batch_loss(model, x, mask, list(range(len(LABELS)))).backward()
    return {n: p.grad.detach().clone() for n, p in params.items()}


def float64_deviation(model, x, mask, grads32: dict[str, torch.Tensor]) -> dict[str, float]:
    """Largest |float32 − float64| of the gradients, absolute and relative to the tensor's largest float64 value."""
    m64 = copy.deepcopy(model).double()
    g64 = gradients(m64, x.double() if x.is_floating_point() else x, mask)
    worst_abs = max(float((grads32[n].double() - g).abs().max()) for n, g in g64.items())
    worst_rel = max(float((grads32[n].double() - g).abs().max() / g.abs().max().clamp_min(1e-30)) for n, g in g64.items())
    return {"max_abs": worst_abs, "max_relative_to_tensor_max": worst_rel}


def adam(params) -> torch.optim.Adam:
    return torch.optim.Adam(list(params), lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)


def build_case(case: Case, folder: Path, kaldi) -> dict:
    torch.manual_seed(case.seed)
    model = build_model(case)
    x, mask, valid = batch_inputs(case, model, kaldi)
    params = pack_parameters(model)
    initial = {n: p.detach().clone() for n, p in params.items()}
    provenance = {"generator": "tools/make_training_fixtures.py", "case": case.name, "description": case.description,
                  "seed": case.seed}
    ipet.export_pack(folder / f"{case.name}.ipet", model, provenance=provenance,
                     backbone_name=f"Fixtures/{case.backbone}")

    grads = gradients(model, x, mask)
    deviation = float64_deviation(model, x, mask, grads)
    adam(params.values()).step()
    after = {n: p.detach().clone() for n, p in params.items()}

    with torch.no_grad():
        for n, p in params.items():
            p.copy_(initial[n])
    opt = adam(params.values())
    losses = []
    for items in STEPS:
        opt.zero_grad()
        loss = batch_loss(model, x, mask, items)
        losses.append(float(loss.detach()))
        loss.backward()
        opt.step()

    tensors = {("input_values" if case.is_ast else "waveforms"): x.contiguous(),
               "losses": torch.tensor(losses, dtype=torch.float32)}
    tensors.update({f"grad.{n}": g.contiguous() for n, g in grads.items()})
    tensors.update({f"adam.{n}": t.contiguous() for n, t in after.items()})
    metadata = [("format", "pt"), ("generator", "tools/make_training_fixtures.py"), ("case", case.name),
                ("description", case.description), ("labels", json.dumps(LABELS)), ("steps", json.dumps(STEPS)),
                ("adam", json.dumps({"lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": WEIGHT_DECAY})),
                ("valid_samples", json.dumps(valid)), ("float32_vs_float64", json.dumps(deviation, sort_keys=True)),
                ("versions", json.dumps(versions(("torch", "transformers")), sort_keys=True))]
    write_file_atomically(folder / f"{case.name}.safetensors", safetensors_bytes(tensors, metadata))
    print(f"{case.name}: losses {[round(v, 5) for v in losses]}; float32 vs float64 gradients {deviation}")
    return deviation


def build(folder: Path) -> None:
    torch.set_num_threads(1)
    folder.mkdir(parents=True, exist_ok=True)
    kaldi = load_kaldi().module
    for case in CASES:
        build_case(case, folder, kaldi)


def main() -> None:
    fixture_main(__doc__, OUT, build)


if __name__ == "__main__":
    main()
