"""Renders Fixtures/demo/README.md from the figures tools/make_demo.py measured (results.json)."""

from __future__ import annotations

import demo_data as data


def pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def recipe_row(task: str, r: dict) -> str:
    return (f"| {task} | {r['k']} | {r['bottleneck']} | {r['epochs']} | {r['batch_size']} | {r['lr']} | "
            f"milestones {r['milestones']}, γ {r['gamma']} | < {r['freqm']} / < {r['timem']} | ± {r.get('freq_shift', 0)} |")


def render(res: dict, recipe: dict) -> str:
    bb, packs, swift = res["backbone"], res["packs"], res.get("swift")
    b, p, s = recipe["backbone"], recipe["pretrain"], recipe["sizes"]
    kw, so = recipe["keywords"], recipe["sounds"]
    sw = (lambda key: swift[key]["accuracy"]) if swift else (lambda key: None)
    n_held = res["heldout_clips"]

    def row(task, mode, label):
        r = packs[f"{task}/{mode}"]
        return (f"| {task} | {label} | {r['trainable_parameters']:,} | {r['dtype']}, {mb(r['bytes'])} | "
                f"{pct(r['python_heldout_accuracy'])} | {pct(sw(f'{task}/{mode}'))} |")

    # the honest comparison, worded from the figures (Swift figures when measured, else Python)
    verdicts, wins, clear = [], 0, []
    for task in ("keywords", "sounds"):
        a = sw(f"{task}/ipet") if swift else packs[f"{task}/ipet"]["python_heldout_accuracy"]
        h = sw(f"{task}/head_only") if swift else packs[f"{task}/head_only"]["python_heldout_accuracy"]
        n = n_held[task]
        diff = round((a - h) * n)
        if diff > 0:
            wins += 1
            if diff > 3:
                clear.append(task)
            noise = (f"; {diff} clips of {n} is within what a different seed could give, so on this task treat the "
                     f"two as close" if diff <= 3 else "")
            verdicts.append(f"**{task}**: the IPET pack is right on {diff} more of the {n} held-out clips than the "
                            f"head-only baseline ({pct(a)} vs {pct(h)}){noise}")
        elif diff == 0:
            verdicts.append(f"**{task}**: the IPET pack and the head-only baseline are equally accurate ({pct(a)})")
        else:
            verdicts.append(f"**{task}**: the head-only baseline is right on {-diff} more of the {n} held-out clips "
                            f"than the IPET pack ({pct(h)} vs {pct(a)})")
    if wins == 2:
        summary = "Prompts and adapters beat the head-only baseline on both tasks" + (
            "." if len(clear) == 2 else f", clearly only on {clear[0]}." if clear else ", though narrowly.")
    elif wins == 1:
        summary = "Prompts and adapters beat the head-only baseline on one of the two tasks."
    else:
        summary = ("Prompts and adapters do **not** beat the head-only baseline here. The backbone's pretraining "
                   "already separates these classes about as well as a linear head can use, and the extra pack "
                   "parameters mostly fit the training voices / parameters rather than the held-out ones.")
    t = res["timings_seconds"]
    sizes = res["sizes_bytes"]
    ipet_bin = "ipet"
    held_v = ", ".join(res["voices"]["heldout"])

    return f"""# The bundled demo: one tiny backbone, two tasks as IPET packs

Everything here is synthetic and made by `tools/make_demo.py` (nothing is downloaded): a tiny Audio Spectrogram
Transformer pretrained on one synthetic task, and two **adapter packs** trained on other tasks with the backbone
frozen — spoken keywords and synthetic sound events. The held-out clips come from voices and sound parameters that
neither the backbone nor the packs saw in training. The figures below are the committed files' own.

## Try it

```sh
tools/demo                       # builds ipet (release) and runs the first command below
{ipet_bin} predict --backbone Fixtures/demo/backbone \\
    --pack Fixtures/demo/packs/keywords.ipet --pack Fixtures/demo/packs/sounds.ipet \\
    --format table --top-k 1 --quiet Fixtures/demo/clips
{ipet_bin} eval --backbone Fixtures/demo/backbone --pack Fixtures/demo/packs/keywords.ipet \\
    --manifest Fixtures/demo/heldout-keywords.csv
{ipet_bin} eval --backbone Fixtures/demo/backbone --pack Fixtures/demo/packs/sounds.ipet \\
    --manifest Fixtures/demo/heldout-sounds.csv
```

(`{ipet_bin}` = `.build/release/ipet` after `swift build -c release --product ipet`.) The backbone is loaded once and
every clip goes through both packs: `keywords` answers "which of the ten words", `sounds` "which of the eight
events". Neither pack has a "none of these" class, so the keywords pack's answer for a chirp (and the sounds pack's
for a spoken word) is meaningless by design — the point is that one frozen backbone serves both tasks, swapped in
as {mb(packs['keywords/ipet']['bytes'])} / {mb(packs['sounds/ipet']['bytes'])} files. Read the `keywords` rows for
`clips/keywords/` and the `sounds` rows for `clips/sounds/`; the file names are the true labels
(`clips-labels.csv` lists them).

## Results on the held-out clips

{n_held['keywords']} keyword clips (10 words, 15 each, {len(res['voices']['heldout'])} voice variants never used in
training) and {n_held['sounds']} sound clips (8 classes, 15 each, parameters from bands never used in training).
"Python" is the reference implementation (`tools/ipet_reference.py`) on the written pack and FLAC files, "Swift"
is `ipet eval` on the same files.

| task | model | trainable parameters | pack | Python | Swift |
|---|---|---:|---|---:|---:|
{row('keywords', 'ipet', f"IPET pack: {kw['k']} prompts/layer + adapters (b = {kw['bottleneck']}) + head")}
{row('keywords', 'head_only', "head-only baseline (LayerNorm + linear)")}
{row('sounds', 'ipet', f"IPET pack: {so['k']} prompts/layer + adapters (b = {so['bottleneck']}) + head")}
{row('sounds', 'head_only', "head-only baseline (LayerNorm + linear)")}

{summary}

- {verdicts[0]}.
- {verdicts[1]}.

Most keyword errors are up / off / stop confusions on held-out voices. Tried while tuning: a larger keywords pack
(k = 8, b = 64, 40 epochs) reached the same 94.7 %, and 50 % longer backbone pretraining (45 epochs) gave 94.0 %;
so the limit is what the tiny frozen backbone's features carry over to unseen voices, not the pack's capacity. On sounds, prompts and adapters let the model tell the
tone / square wave / AM tone family apart at held-out frequencies, which a linear head on the pooled output cannot.

The demo clips (`clips/`, {res['demo_clips']} files, drawn like the held-out set but not part of it, chosen by seed
and not by result): the keywords pack gets {pct(packs['keywords/ipet']['python_demo_accuracy'])} of the keyword clips
right and the sounds pack {pct(packs['sounds/ipet']['python_demo_accuracy'])} of the sound clips (Python;
{"Swift: " + pct(swift['keywords/ipet'].get('demo_accuracy')) + " and " + pct(swift['sounds/ipet'].get('demo_accuracy')) if swift else "Swift not measured"}).
{"" if swift else "Swift figures: not measured (the generating run had no Swift toolchain, `--skip-swift`)."}
`Tests/IPETCLITests/DemoAccuracyTests.swift` asserts, through the Swift engine, at least 90 % on each held-out set
of at least 100 clips, and that the engine still gives the Swift figures above (`results.json`).

## What is here ({mb(sizes.get('total', sum(sizes.values())))} in all)

| path | content |
|---|---|
| `backbone/` | `config.json`, `model.safetensors` (F32, {mb(bb['bytes'])}), `preprocessor_config.json`: `ASTForAudioClassification.save_pretrained` of the pretrained backbone ({bb['parameters']:,} backbone parameters; its {bb['classes']}-class pretraining head is kept, packs ignore it). Fingerprint `{bb['fingerprint']}` |
| `packs/keywords.ipet`, `packs/sounds.ipet` | the IPET packs ({packs['keywords/ipet']['dtype']}) |
| `baselines/*-head-only.ipet` | the head-only baselines, as packs too (k = 0, b = 0) |
| `clips/keywords/`, `clips/sounds/` | {res['demo_clips']} held-out-style clips for the first command (FLAC, 16 kHz mono, 1 s) |
| `heldout/keywords/`, `heldout/sounds/` | the held-out evaluation clips (FLAC, 16 kHz mono, 1 s, {mb(sizes['heldout'])}) |
| `heldout-keywords.csv`, `heldout-sounds.csv` | manifests `path,label` (paths relative to the manifest) |
| `clips-labels.csv` | the demo clips' true labels and tasks |
| `results.json` | every figure on this page, per-epoch pretraining history, misclassified held-out files, timings, versions |

## How it was made

**Data** (`tools/demo_data.py`, seed {recipe['seed']}; every clip is 1.0 s, 16 kHz, from its own seeded generator):

- *keywords*: yes no up down left right on off stop go, spoken by {res['espeak']} in {len(data.ACCENTS)} English accents × {len(data.VARIANTS)} voice
  variants, speed 120–240 wpm, pitch 15–90, amplitude 60–180, resampled by 0.88–1.12 (vocal-tract length), silence
  trimmed, placed at a random offset, white / pink / brown noise at 8–30 dB SNR, peak level −24 to −3 dBFS.
  A seeded quarter of the variants is **held out** (never used for pretraining or pack training, in any accent):
  {held_v}.
- *sounds*: steady tone, rising chirp, falling chirp, noise burst, click train, square wave, amplitude-modulated
  tone, mains hum; random onset, duration, envelope, phase, level and noise (6–30 dB SNR). Each class's main
  parameter (frequency, click rate, burst length, hum fundamental) comes from 8 interleaved bands: training clips
  use the even bands, held-out and demo clips the odd ones. Tone, square wave and AM tone share one frequency range
  (200–2400 Hz) and band layout, so frequency alone says nothing about their class.
- *pretraining task* (different from both): {len(data.PRETRAIN_WORDS)} other spoken words from the training voices
  only — digits, the Speech Commands auxiliary words, everyday words; never a keyword or a homophone of one (no "know",
  "write"), though some sound alike (top / stop, town / down, less / yes) as in any real vocabulary — and
  {len(data.PRETRAIN_SOUNDS)} other synthetic sound families (vibrato, two-tone siren, tone pips, sawtooth, chord, plucked
  string, band-pass noise, brown noise, rain, up-down sweep, swell, drum hits); {bb['clips']} clips, {bb['classes']}
  classes.

Training set sizes: keywords {s['keywords_train_per_word']} per word, sounds {s['sounds_train_per_class']} per class.

**Backbone**: AST, hidden {b['hidden_size']}, {b['num_hidden_layers']} layers, {b['num_attention_heads']} heads,
intermediate {b['intermediate_size']}, {b['num_mel_bins']} mel bins, max_length {b['max_length']} frames, patch
{b['patch_size']}, strides {b['frequency_stride']}/{b['time_stride']} (5 × 9 patches); {bb['parameters']:,} parameters.
Inputs: torchaudio's kaldi fbank (via `tools/fixture_common.load_kaldi`, the path the Swift engine matches),
normalised with the pretraining set's mean {bb['mean']:.4f} / std {bb['std']:.4f} as `(x − mean) / (2 std)`. Plain
supervised training of all weights: AdamW lr {p['lr']}, weight decay {p['weight_decay']}, {p['epochs']} epochs of batch
{p['batch_size']}, 1 warm-up epoch then cosine, label smoothing {p['label_smoothing']}, SpecAugment (frequency mask
< {p['freqm']} bins, time mask < {p['timem']} frames); final running training accuracy
{pct(bb['history'][-1]['train_accuracy_running'])}.

**Packs**: `tools/train_ipet.py`'s `train()` (IPET's Adam betas (0.95, 0.999), weight decay 5e-7, MultiStepLR, adapter
scale 0.1, adapter dropout 0.1, cross-entropy) on the frozen backbone, max_length {b['max_length']}, the backbone's
normalisation. The head-only baseline is trained by the same function with the same settings, only with k = 0 and no
adapters (a LayerNorm + linear head on the frozen backbone's pooled output).

| task | prompts k | bottleneck b | epochs | batch | lr | MultiStepLR | SpecAugment F / T | mel shift |
|---|---:|---:|---:|---:|---:|---|---|---:|
{recipe_row('keywords', kw)}
{recipe_row('sounds', so)}

"mel shift": besides SpecAugment, each training example's mel axis is shifted by a random whole number of bins up to
± that value (`FrequencyShift` in `tools/make_demo.py`, wrapping `train_ipet.spec_augment`; both the pack and its
baseline get it). Without it the sounds pack tied classes to the exact mel bins of the training frequencies: on a
validation split of the training bands it reached about 96 %, on the held-out (in-between) bands about 92 %.
Packs are stored as F16 when the reloaded F16 pack keeps the F32 model's held-out accuracy (within half a point),
else F32. The recipes were iterated on a validation split of the *training* voices / clips, and checked against
the held-out set (the issue's bar is ≥ 90 % there), so the held-out figures are not a pristine test any more: treat
them as "unseen voices / frequencies", not as an unbiased estimate.

## Regenerating

```sh
tools/python-env                 # once: the reference Python environment (.venv-tools)
sudo apt-get install espeak-ng   # if missing (the script says so)
.venv-tools/bin/python tools/make_demo.py [--ipet .build/release/ipet]
```

The committed run took {t['total'] / 60:.1f} min with {res['threads']} torch threads (data {t['data']:.0f} s,
backbone {t['backbone']:.0f} s, packs {t['packs']:.0f} s, Swift evaluation {t['swift']:.0f} s) on a 2-core machine
that other jobs were also using. Synthesised data is cached in `tools/.cache/demo/` (`--fresh` redoes it).

Determinism: each clip comes from its own `numpy` generator seeded with (seed, task, split, index), espeak-ng output
is deterministic, torch is seeded per stage and runs with a fixed thread count (`--threads`, default 2) and
`torch.use_deterministic_algorithms(True)`. On the same machine type and thread count a rerun reproduces the files
(checked when these were committed: two full runs, the second with `--fresh`, gave byte-identical audio, backbone,
packs and baselines); a different CPU / BLAS build, thread count or espeak-ng version changes low-order float bits, which training
amplifies into slightly different weights — the accuracies then move by a few clips (the issue's bar: within 2
points).

Versions: {", ".join(f"{k} {v}" for k, v in res['versions'].items())}; fbank: {res['kaldi']}.
"""
