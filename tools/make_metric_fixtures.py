#!/usr/bin/env python3
"""Builds the speaker-verification fixtures under Fixtures/verification/ (issue 9): score sets with their EER and
minDCF, and a small embeddings + trial list + cohort set with IPET-rule, cosine, s-norm and AS-norm scores.

    .venv-tools/bin/python tools/make_metric_fixtures.py                 # write Fixtures/verification
    .venv-tools/bin/python tools/make_metric_fixtures.py --check         # regenerate into a temp dir, compare bytes
    .venv-tools/bin/python tools/make_metric_fixtures.py --timing DIR    # also write a Vox1-O-sized embedding set
                                                                         # (4,874 utterances, 37,720 trials) to DIR

Score files are `label score` lines (label 1 = same speaker). Every reference value is computed from the file as
written (read back with np.loadtxt), so Swift and Python see the same decimal numbers.

Definitions (the Swift side implements exactly these; Sources/IPETEngine/SpeakerVerificationMetrics.swift):
- ROC: a trial is accepted when score >= threshold; thresholds are +inf (reject all) and every distinct score,
  so tied scores always move together. P_fa = accepted non-targets / non-targets, P_miss = 1 - accepted targets
  / targets.
- EER: the ROC (P_fa, 1 - P_miss) joined by straight lines; EER is the P_fa where P_fa = P_miss on that polyline.
- minDCF(p): min over the ROC points (which include reject-all and accept-all) of
  (C_miss * P_miss * p + C_fa * P_fa * (1 - p)) / min(C_miss * p, C_fa * (1 - p)), C_miss = C_fa = 1.

Three implementations must agree before anything is written (1e-9 on EER, 1e-12 on minDCF):
  A. sklearn.metrics.roc_curve + brentq(1 - x - interp1d(fpr, tpr)(x)) for the EER (the recipe used by many
     speaker toolkits), minDCF as the minimum over roc_curve's points;
  B. roc_curve + the closed-form crossing on the segment where fnr - fpr changes sign;
  C. brute force: for each threshold, count target scores < t and non-target scores >= t with numpy comparisons
     (no sorting, no sklearn), closed-form crossing, minDCF over all thresholds.
The stored values are A's.

Embedding scores (float64 numpy, from the float32/float16 values in the safetensors files):
- IPET rule (docs/ipet-method.md 4.4): L2-normalise every segment (x / max(||x||, 1e-12), as torch F.normalize), score =
  -mean over all enrol x test segment pairs of the Euclidean distance; checked against scipy cdist.
- cosine: the cosine of the means of the L2-normalised segments; checked against sklearn cosine_similarity.
- s-norm: 0.5 * ((s - mu_e) / sd_e + (s - mu_t) / sd_t), mu and sd (population, ddof 0, as wespeaker's
  score_norm.py) of the scores of enrol (test) against every cohort utterance under the same rule; AS-norm: the
  same over the top-N highest cohort scores of each side.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import scipy
import sklearn
from safetensors.numpy import save_file
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from scipy.spatial.distance import cdist
from sklearn.metrics import roc_curve
from sklearn.metrics.pairwise import cosine_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import (  # noqa: E402
    FIXTURES, check_regeneration, fixture_arguments, load_np_safetensors, write_json,
)

OUT = FIXTURES / "verification"
P_TARGETS = (0.01, 0.05)
AS_NORM_TOP_N = 3


# ----------------------------------------------------------------------------------------------------------------------
# metrics: three implementations


def eer_brentq(labels: np.ndarray, scores: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(labels, scores, pos_label=1)
    return float(brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0, xtol=1e-14))


def crossing(fpr: np.ndarray, fnr: np.ndarray) -> float:
    """P_fa where the polyline through (fpr, fnr) meets fpr = fnr; fnr - fpr runs from 1 down to -1."""
    d = fnr - fpr
    i = int(np.argmax(d <= 0))  # first point on or past the crossing (d[0] = 1 > 0)
    assert i > 0 and d[i - 1] > 0 >= d[i]
    alpha = d[i - 1] / (d[i - 1] - d[i])
    return float(fpr[i - 1] + alpha * (fpr[i] - fpr[i - 1]))


def min_dcf(fpr: np.ndarray, fnr: np.ndarray, p: float, c_miss: float = 1.0, c_fa: float = 1.0) -> float:
    dcf = c_miss * fnr * p + c_fa * fpr * (1.0 - p)
    return float(dcf.min() / min(c_miss * p, c_fa * (1.0 - p)))


def metrics_sklearn(labels, scores) -> dict:
    fpr, tpr, _ = roc_curve(labels, scores, pos_label=1)
    fnr = 1.0 - tpr
    out = {"eer": eer_brentq(labels, scores), "eer_closed_form": crossing(fpr, fnr)}
    for p in P_TARGETS:
        out[f"min_dcf_{p}"] = min_dcf(fpr, fnr, p)
    return out


def metrics_brute_force(labels, scores) -> dict:
    target = scores[labels == 1]
    nontarget = scores[labels == 0]
    thresholds = np.concatenate([[np.inf], np.unique(scores)[::-1]])
    fpr = np.empty(len(thresholds))
    fnr = np.empty(len(thresholds))
    for start in range(0, len(thresholds), 2048):  # chunks keep the comparison matrices small
        t = thresholds[start:start + 2048, None]
        fpr[start:start + 2048] = (nontarget[None, :] >= t).sum(axis=1) / len(nontarget)
        fnr[start:start + 2048] = (target[None, :] < t).sum(axis=1) / len(target)
    out = {"eer": crossing(fpr, fnr)}
    for p in P_TARGETS:
        out[f"min_dcf_{p}"] = min_dcf(fpr, fnr, p)
    return out


def reference_metrics(name: str, path: Path) -> dict:
    data = np.loadtxt(path, ndmin=2, comments="#")
    labels = data[:, 0].astype(int)
    scores = data[:, 1]
    n_target, n_nontarget = int((labels == 1).sum()), int((labels == 0).sum())
    entry = {"file": path.name, "trials": len(labels), "targets": n_target, "nontargets": n_nontarget}
    if n_target == 0 or n_nontarget == 0:
        entry["error"] = "needs both target and non-target trials"
        return entry
    a = metrics_sklearn(labels, scores)
    c = metrics_brute_force(labels, scores)
    for key, tol in (("eer", 1e-9), ("min_dcf_0.01", 1e-12), ("min_dcf_0.05", 1e-12)):
        assert abs(a[key] - c[key]) <= tol, (name, key, a[key], c[key])
    assert abs(a["eer"] - a["eer_closed_form"]) <= 1e-9, (name, a)
    entry.update({"eer": a["eer"], "min_dcf_p01": a["min_dcf_0.01"], "min_dcf_p05": a["min_dcf_0.05"],
                  "distinct_scores": int(len(np.unique(scores)))})
    return entry


# ----------------------------------------------------------------------------------------------------------------------
# score sets


def write_scores(path: Path, labels, scores, fmt: str = "{:.6g}", header: str | None = None) -> None:
    lines = [f"# {header}"] if header else []
    lines += [f"{int(l)} {fmt.format(float(s))}" for l, s in zip(labels, scores)]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def gaussian_set(rng, n: int, target_fraction: float, separation: float):
    n_target = int(round(n * target_fraction))
    labels = np.array([1] * n_target + [0] * (n - n_target))
    scores = np.where(labels == 1, rng.normal(separation / 2, 1.0, n), rng.normal(-separation / 2, 1.0, n))
    order = rng.permutation(n)
    return labels[order], scores[order]


def write_score_sets(out: Path) -> dict:
    rng = np.random.default_rng(20240609)
    sets = {}

    labels, scores = gaussian_set(rng, 10_000, 0.3, 3.0)
    sets["gaussian_10k"] = (labels, scores, "{:.6g}", "10,000 trials, 3,000 target N(1.5,1), 7,000 non-target N(-1.5,1)")

    labels, scores = gaussian_set(rng, 10_000, 0.5, 2.0)
    sets["ties_10k"] = (labels, np.round(scores, 1), "{:.1f}",
                        "10,000 trials, scores rounded to 0.1: many ties across classes")

    labels = np.array([1, 0] * 50)
    sets["all_equal"] = (labels, np.full(100, 0.5), "{}", "100 trials, every score 0.5")

    labels = np.array([1] * 300 + [0] * 700)
    scores = np.where(labels == 1, rng.uniform(0.5, 1.0, 1000), rng.uniform(-1.0, 0.25, 1000))
    order = rng.permutation(1000)
    sets["separated"] = (labels[order], scores[order], "{:.6g}", "1,000 trials, every target above every non-target")

    # Hand-checkable: 3 targets, 3 non-targets. Points (P_fa, P_miss): (0, 1) reject all; (0, 2/3) at 0.9;
    # (2/3, 1/3) at 0.6 (one target and two non-targets tied); (1, 1/3) at 0.2; (1, 0) at 0.1.
    # EER on the segment (0, 2/3)-(2/3, 1/3): P_fa = P_miss = 4/9. minDCF (p = 0.01 and 0.05) = 2/3 at (0, 2/3).
    sets["tiny"] = (np.array([1, 1, 0, 0, 0, 1]), np.array([0.9, 0.6, 0.6, 0.6, 0.2, 0.1]), "{}",
                    "hand-checkable: EER 4/9, minDCF 2/3 at p 0.01 and 0.05")

    # Every target below every non-target: the curve reaches P_fa = P_miss = 1, so EER = 1; minDCF = 1 (reject all).
    sets["inverted"] = (np.array([1, 0]), np.array([0.3, 0.7]), "{}", "target scored below non-target: EER 1")

    sets["single_class"] = (np.array([1]), np.array([0.5]), "{}", "one target trial, no non-target: an error")

    labels, scores = gaussian_set(rng, 37_720, 0.5, 3.3)
    scores = -1.0 + 0.1 * scores  # the range of IPET scores (minus a mean distance of unit vectors)
    sets["vox1o_size"] = (labels, scores, "{:.6g}", "37,720 trials (Vox1-O size), 18,860 target")

    expected = {}
    for name, (labels, scores, fmt, header) in sets.items():
        path = out / f"{name}.txt"
        write_scores(path, labels, scores, fmt, header)
        expected[name] = reference_metrics(name, path)
        expected[name]["description"] = header
    assert abs(expected["tiny"]["eer"] - 4 / 9) < 1e-12 and abs(expected["tiny"]["min_dcf_p01"] - 2 / 3) < 1e-12
    assert expected["all_equal"]["eer"] == 0.5 and expected["all_equal"]["min_dcf_p01"] == 1.0
    assert expected["separated"]["eer"] == 0.0 and expected["separated"]["min_dcf_p05"] == 0.0
    assert abs(expected["inverted"]["eer"] - 1.0) < 1e-12 and expected["inverted"]["min_dcf_p01"] == 1.0
    return expected


# ----------------------------------------------------------------------------------------------------------------------
# embeddings, trial scoring, score normalisation


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ipet_score(a, b) -> float:
    a, b = normalise(a), normalise(b)
    return float(-np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).mean())


def ipet_score_check(a, b) -> float:
    return float(-cdist(normalise(a), normalise(b), metric="euclidean").mean())


def cosine_score(a, b) -> float:
    u, v = normalise(a).mean(axis=0), normalise(b).mean(axis=0)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def cosine_score_check(a, b) -> float:
    return float(cosine_similarity(normalise(a).mean(axis=0, keepdims=True), normalise(b).mean(axis=0, keepdims=True))[0, 0])


RULES = {"ipet": (ipet_score, ipet_score_check), "cosine": (cosine_score, cosine_score_check)}


def cohort_stats(x, cohort: list, rule, top_n: int | None) -> tuple[float, float]:
    scores = np.array([rule(x, c) for c in cohort])
    if top_n is not None:
        scores = np.sort(scores)[::-1][:top_n]
    return float(scores.mean()), float(scores.std())


def read_back(path: Path) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float64) for k, v in load_np_safetensors(path)[0].items()}


def write_embedding_set(out: Path) -> dict:
    """8 utterances of 3 speakers (shapes [5, 16], one [16], one [3, 16] in F16), 14 trials, a 6-utterance cohort."""
    rng = np.random.default_rng(90210)
    dim = 16
    speakers = {s: rng.normal(0, 1, dim) for s in ("id001", "id002", "id003", "cohortA", "cohortB", "cohortC")}

    def utterance(speaker: str, segments: int | None, spread: float = 0.8) -> np.ndarray:
        base = speakers[speaker] + rng.normal(0, 0.5, dim)
        if segments is None:
            return (base + rng.normal(0, spread, dim)).astype(np.float32)
        return (base[None, :] + rng.normal(0, spread, (segments, dim))).astype(np.float32)

    utts = {
        "id001/a/00001.wav": utterance("id001", 5),
        "id001/b/00002.wav": utterance("id001", 5),
        "id001/c/00003.wav": utterance("id001", None),  # one vector: shape [dim]
        "id002/a/00001.wav": utterance("id002", 5),
        "id002/b/00002.wav": utterance("id002", 5),
        "id002/c/00003.wav": utterance("id002", 3).astype(np.float16),  # F16, 3 segments
        "id003/a/00001.wav": utterance("id003", 5),
        "id003/b/00002.wav": utterance("id003", 5),
    }
    cohort = {f"{s}/{i}.wav": utterance(s, 5) for s in ("cohortA", "cohortB", "cohortC") for i in (1, 2)}
    save_file(utts, str(out / "embeddings.safetensors"), metadata={"format": "pt"})
    save_file(cohort, str(out / "cohort.safetensors"), metadata={"format": "pt"})
    utts = read_back(out / "embeddings.safetensors")
    cohort_list = list(read_back(out / "cohort.safetensors").values())

    keys = sorted(utts)
    pairs = [("id001/a/00001.wav", "id001/b/00002.wav"), ("id001/a/00001.wav", "id001/c/00003.wav"),
             ("id001/b/00002.wav", "id001/c/00003.wav"), ("id002/a/00001.wav", "id002/b/00002.wav"),
             ("id002/a/00001.wav", "id002/c/00003.wav"), ("id002/b/00002.wav", "id002/c/00003.wav"),
             ("id003/a/00001.wav", "id003/b/00002.wav"), ("id001/a/00001.wav", "id002/a/00001.wav"),
             ("id001/b/00002.wav", "id003/b/00002.wav"), ("id001/c/00003.wav", "id002/c/00003.wav"),
             ("id002/b/00002.wav", "id003/a/00001.wav"), ("id003/a/00001.wav", "id001/c/00003.wav"),
             ("id002/c/00003.wav", "id003/b/00002.wav"), ("id003/b/00002.wav", "id001/a/00001.wav")]
    lines = ["# VoxCeleb1-O format: label enrol test (1 = same speaker)", ""]
    trials = []
    for i, (e, t) in enumerate(pairs):
        label = int(e.split("/")[0] == t.split("/")[0])
        trials.append((label, e, t))
        lines.append(f"{label} {e}{'  ' if i % 3 == 0 else ' '}{t}" if i % 4 else f"{label}\t{e}\t{t}")
        if i == 6:
            lines += ["", "# different speakers"]
    (out / "trials.txt").write_text("\n".join(lines) + "\n", encoding="ascii")

    expected = {"keys": keys, "cohort_size": len(cohort_list), "as_norm_top_n": AS_NORM_TOP_N, "trials": []}
    for label, e, t in trials:
        entry = {"label": label, "enrol": e, "test": t}
        for name, (rule, check) in RULES.items():
            s = rule(utts[e], utts[t])
            assert abs(s - check(utts[e], utts[t])) < 1e-12, (name, e, t)
            assert abs(s - rule(utts[t], utts[e])) < 1e-12, "rules are symmetric"
            entry[name] = s
            for norm, top_n in (("snorm", None), ("asnorm", AS_NORM_TOP_N)):
                me, se = cohort_stats(utts[e], cohort_list, rule, top_n)
                mt, st = cohort_stats(utts[t], cohort_list, rule, top_n)
                entry[f"{name}_{norm}"] = 0.5 * ((s - me) / se + (s - mt) / st)
        expected["trials"].append(entry)
    # The fixture must separate the speakers a little, or the numbers say nothing.
    tgt = [x["ipet"] for x in expected["trials"] if x["label"] == 1]
    non = [x["ipet"] for x in expected["trials"] if x["label"] == 0]
    assert np.mean(tgt) > np.mean(non)
    return expected


def write_timing_set(out: Path) -> None:
    """Vox1-O-sized: 4,874 utterances of 40 speakers, [5, 128] each; 18,860 target + 18,860 non-target trials;
    a 600-utterance cohort. Not committed (12 MB); for `time ipet verify --embeddings ... --trials ...`."""
    rng = np.random.default_rng(4874)
    out.mkdir(parents=True, exist_ok=True)
    # Speaker offsets of 0.3 per dimension under unit segment noise: an EER of a few percent, like a real system.
    speakers = rng.normal(0, 0.3, (40, 128))
    spk = np.arange(4874) % 40
    emb = (speakers[spk][:, None, :] + rng.normal(0, 1.0, (4874, 5, 128))).astype(np.float32)
    keys = [f"id{10270 + s}/utt{i:05d}.wav" for i, s in enumerate(spk)]
    save_file({k: emb[i] for i, k in enumerate(keys)}, str(out / "embeddings.safetensors"), metadata={"format": "pt"})
    cohort = (rng.normal(0, 0.3, (60, 128))[np.arange(600) % 60][:, None, :]
              + rng.normal(0, 1.0, (600, 5, 128))).astype(np.float32)
    save_file({f"cohort/{i:04d}.wav": cohort[i] for i in range(600)}, str(out / "cohort.safetensors"),
              metadata={"format": "pt"})
    by_speaker = [np.flatnonzero(spk == s) for s in range(40)]
    lines = []
    for n in range(37_720):
        if n % 2 == 0:
            s = rng.integers(40)
            e, t = rng.choice(by_speaker[s], 2, replace=False)
        else:
            s, r = rng.choice(40, 2, replace=False)
            e, t = rng.choice(by_speaker[s]), rng.choice(by_speaker[r])
        lines.append(f"{1 - n % 2} {keys[e]} {keys[t]}")
    (out / "trials.txt").write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"timing set in {out}")


def build(out: Path) -> None:
    """Writes every fixture into `out`, replacing what the script wrote before (README.md is kept)."""
    out.mkdir(parents=True, exist_ok=True)
    for entry in out.iterdir():
        if entry.name != "README.md":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    score_sets = write_score_sets(out)
    emb_dir = out / "embeddings"
    emb_dir.mkdir()
    embedding_set = write_embedding_set(emb_dir)
    write_json(out / "expected.json", {
        "generator": "tools/make_metric_fixtures.py",
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__, "scipy": scipy.__version__},
        "definitions": {
            "roc": "accept when score >= threshold; thresholds +inf and every distinct score (ties move together)",
            "eer": "P_fa where P_fa = P_miss on the ROC polyline (linear interpolation between the two points "
                   "around the crossing); sklearn roc_curve + brentq on interp1d",
            "min_dcf": "min over ROC points incl. reject-all/accept-all of (P_miss p + P_fa (1-p)) / min(p, 1-p)",
        },
        "score_sets": score_sets,
    })
    write_json(emb_dir / "expected.json", embedding_set)


def main() -> None:
    parser = fixture_arguments(__doc__, OUT)
    parser.add_argument("--timing", type=Path, help="also write the Vox1-O-sized embedding timing set here")
    args = parser.parse_args()
    if args.check:
        status = check_regeneration(OUT, build)
        if status:
            sys.exit(status)
    else:
        build(OUT)
        print(json.dumps({k: {m: v.get(m) for m in ("eer", "min_dcf_p01", "min_dcf_p05", "error")}
                          for k, v in json.loads((OUT / "expected.json").read_text())["score_sets"].items()}, indent=1))
    if args.timing:
        write_timing_set(args.timing)


if __name__ == "__main__":
    main()
