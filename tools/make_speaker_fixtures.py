#!/usr/bin/env python3
"""Reference embeddings and trial scores for IPET's speaker-verification protocol (docs/ipet-method.md section 4.4).

    .venv-tools/bin/python tools/make_speaker_fixtures.py
    .venv-tools/bin/python tools/make_speaker_fixtures.py --check    # regenerate into a temp dir, compare bytes
                                                                    # (.safetensors: up to the metadata order)

For each tiny speaker pack in Fixtures/packs (AST and wav2vec 2.0), every utterance (the good clips of
Fixtures/audio, at 16 kHz as `<clip>.16k` of Fixtures/audio/reference.safetensors) is
  - wrap-padded to one segment if shorter (numpy.pad(mode="wrap"), as IPET's evaluation loader),
  - cut into 5 segments starting at int(numpy.linspace(0, len - segment, 5)),
  - each segment embedded by the pack's speaker head (tools/ipet_reference.py) and L2-normalised.
Segment length: AST = the pack's max_length frames, i.e. (max_length - 1) * 160 + 400 samples; wav2vec 2.0 = the
pack's crop_samples, else 3 s (IPET's 300-frame VoxCeleb setting).
Trials: every pair of distinct utterances, labelled 1 when both come from the same "speaker" group below.
Scores: IPET's rule -mean_{i,j} ||e_i - f_j||_2 over the 5x5 segment pairs, and cosine = cosine of the means of
the normalised segments. Written to Fixtures/speaker/<pack>.safetensors, <pack>-trials.txt and
<pack>-scores.json.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import (  # noqa: E402
    ROOT, env_quiet, fixture_main, load_kaldi, load_np_safetensors, same_safetensors_content, write_json,
)
from ipet_reference import IPETAST, load_backbone, load_pack, ast_input_values, w2v2_input_values  # noqa: E402

env_quiet()
from safetensors.numpy import save_file  # noqa: E402

OUT = ROOT / "Fixtures" / "speaker"
CLIPS = ["chirp_6s_16k", "tone440_2s_16k", "noise_3s_16k", "short_0p5s_16k", "stereo_44k1", "mono_8k", "silence_1s_16k"]
SPEAKER = {"chirp_6s_16k": "a", "tone440_2s_16k": "a", "noise_3s_16k": "b", "short_0p5s_16k": "b",
           "stereo_44k1": "c", "mono_8k": "c", "silence_1s_16k": "a"}
FILES = {"chirp_6s_16k": "chirp_6s_16k.wav", "tone440_2s_16k": "tone440_2s_16k.wav", "noise_3s_16k": "noise_3s_16k.flac",
         "short_0p5s_16k": "short_0p5s_16k.wav", "stereo_44k1": "stereo_44k1.wav", "mono_8k": "mono_8k.wav",
         "silence_1s_16k": "silence_1s_16k.wav"}
PACKS = [("ast-tiny-a-speaker", "Fixtures/ast/tiny-a"), ("w2v2-gn-postln-speaker", "Fixtures/wav2vec2/gn-postln")]


def segments(wave: np.ndarray, length: int, count: int = 5) -> list[np.ndarray]:
    if wave.shape[0] <= length:
        wave = np.pad(wave, (0, length - wave.shape[0]), "wrap")
    starts = np.linspace(0, wave.shape[0] - length, num=count)
    return [wave[int(s):int(s) + length] for s in starts]


def main() -> None:
    # safetensors' writer orders several metadata keys at random: compare those files as JSON header + data
    fixture_main(__doc__, OUT, build, " (the .safetensors up to their metadata order)",
                 same={f"{name}.safetensors": same_safetensors_content for name, _ in PACKS})


def build(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    audio, _ = load_np_safetensors(ROOT / "Fixtures/audio/reference.safetensors")
    kaldi = load_kaldi().module
    for pack_name, backbone_dir in PACKS:
        model = load_pack(ROOT / "Fixtures/packs" / f"{pack_name}.ipet", load_backbone(ROOT / backbone_dir))
        pre = model.preprocessing
        if isinstance(model, IPETAST):
            seg_len = (int(pre["max_length"]) - 1) * 160 + 400
        else:
            seg_len = int(pre.get("crop_samples") or 48000)
        table = {}
        for clip in CLIPS:
            wave = audio[f"{clip}.16k"].astype(np.float32)
            embs = []
            for seg in segments(wave, seg_len):
                with torch.no_grad():
                    if isinstance(model, IPETAST):
                        out = model(torch.from_numpy(ast_input_values(seg, pre, kaldi))[None])
                    else:
                        out = model(torch.from_numpy(w2v2_input_values(seg, pre))[None])
                e = out.embedding[0].double().numpy()
                embs.append(e / max(np.linalg.norm(e), 1e-12))
            table[clip] = np.stack(embs)
        trials, ipet, cosine = [], [], []
        for i, a in enumerate(CLIPS):
            for b in CLIPS[i + 1:]:
                trials.append(f"{int(SPEAKER[a] == SPEAKER[b])} {FILES[a]} {FILES[b]}")
                ea, eb = table[a], table[b]
                ipet.append(-float(np.mean([np.linalg.norm(x - y) for x in ea for y in eb])))
                ma, mb = ea.mean(0), eb.mean(0)
                cosine.append(float(ma @ mb / (np.linalg.norm(ma) * np.linalg.norm(mb))))
        save_file({f"{FILES[c]}": table[c].astype(np.float32) for c in CLIPS}, str(folder / f"{pack_name}.safetensors"),
                  metadata={"format": "pt", "segment_samples": str(seg_len), "segments": "5",
                            "generator": "tools/make_speaker_fixtures.py", "keys": "audio file names under Fixtures/audio"})
        (folder / f"{pack_name}-trials.txt").write_text("\n".join(trials) + "\n")
        write_json(folder / f"{pack_name}-scores.json",
                   {"trials": trials, "ipet": ipet, "cosine": cosine, "segment_samples": seg_len},
                   indent=1, sort_keys=False, ensure_ascii=True)
        print(pack_name, "segment", seg_len, "trials", len(trials))


if __name__ == "__main__":
    main()
