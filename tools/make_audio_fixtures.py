#!/usr/bin/env python3
"""Writes the deterministic test clips under Fixtures/audio/ and their decoded reference waveforms.

    tools/python-env && .venv-tools/bin/python tools/make_audio_fixtures.py
    .venv-tools/bin/python tools/make_audio_fixtures.py --check    # regenerate into a temp dir, compare bytes

Outputs (see Fixtures/ast/README.md for the full description):
- good clips: silence_1s_16k.wav, tone440_2s_16k.wav, noise_3s_16k.flac, chirp_6s_16k.wav, short_0p5s_16k.wav,
  stereo_44k1.wav, mono_8k.wav, tiny_300samples_16k.wav
- bad files: bad_empty.wav, bad_truncated.wav, bad_text.wav
- reference.safetensors: `<clip>.decoded` (mono float32 at the native rate, as libsndfile decodes it) and `<clip>.16k`
  (soxr HQ resample to 16 kHz when the native rate differs, else identical to `.decoded`).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import chirp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import (  # noqa: E402
    FIXTURES, fixture_main, load_np_safetensors, rel, save_np_safetensors, seed_everything, versions,
)

OUT = FIXTURES / "audio"
SEED = 20240611


def t_axis(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / sr


def make_clips(rng: np.random.Generator) -> dict[str, dict]:
    """name -> {data (float64, [n] or [n, ch]), sr, format, subtype, description}. Samples stay inside [-1, 1)."""
    clips = {}

    clips["silence_1s_16k.wav"] = dict(data=np.zeros(16000), sr=16000, format="WAV", subtype="PCM_16",
                                       description="1 s of digital silence (all-zero PCM16)")

    n = 32000
    clips["tone440_2s_16k.wav"] = dict(data=0.5 * np.sin(2 * np.pi * 440.0 * t_axis(n, 16000)), sr=16000,
                                       format="WAV", subtype="PCM_16", description="2 s sine 440 Hz, amplitude 0.5")

    n = 48000
    noise = 0.1 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 1000.0 * t_axis(n, 16000))
    clips["noise_3s_16k.flac"] = dict(data=noise, sr=16000, format="FLAC", subtype="PCM_16",
                                      description="3 s white Gaussian noise (std 0.1) + 1 kHz sine (amplitude 0.3), "
                                                  "FLAC 16-bit")

    n = 96000
    t = t_axis(n, 16000)
    sweep = 0.4 * chirp(t, f0=60.0, t1=6.0, f1=7600.0, method="logarithmic") + 0.02 * rng.standard_normal(n)
    envelope = np.minimum(1.0, np.minimum(t / 0.05, (6.0 - t) / 0.05))  # 50 ms fades
    clips["chirp_6s_16k.wav"] = dict(data=sweep * envelope, sr=16000, format="WAV", subtype="PCM_16",
                                     description="6 s logarithmic chirp 60 Hz -> 7.6 kHz (amplitude 0.4, 50 ms fades) "
                                                 "+ noise std 0.02; longer than 5.12 s (AST max_length 512 truncates)")

    n = 8000
    t = t_axis(n, 16000)
    burst = 0.6 * np.exp(-t / 0.12) * np.sin(2 * np.pi * 2000.0 * t) + 0.05 * rng.standard_normal(n)
    clips["short_0p5s_16k.wav"] = dict(data=burst, sr=16000, format="WAV", subtype="PCM_16",
                                       description="0.5 s decaying 2 kHz burst + noise std 0.05")

    sr = 44100
    n = int(1.5 * sr)
    t = t_axis(n, sr)
    left = 0.3 * np.sin(2 * np.pi * 330.0 * t) + 0.05 * rng.standard_normal(n)
    right = 0.25 * np.sin(2 * np.pi * 1250.0 * t + 0.7) + 0.2 * np.sin(2 * np.pi * 9000.0 * t) \
        + 0.05 * rng.standard_normal(n)
    clips["stereo_44k1.wav"] = dict(data=np.stack([left, right], axis=1), sr=sr, format="WAV", subtype="FLOAT",
                                    description="1.5 s stereo 44.1 kHz 32-bit float; L = 330 Hz sine 0.3 + noise, "
                                                "R = 1250 Hz sine 0.25 + 9 kHz sine 0.2 (above 8 kHz: removed by the "
                                                "16 kHz resampler) + independent noise")

    sr = 8000
    n = int(1.2 * sr)
    t = t_axis(n, sr)
    mono8 = 0.35 * np.sin(2 * np.pi * 300.0 * t) + 0.25 * np.sin(2 * np.pi * 1500.0 * t) \
        + 0.2 * np.sin(2 * np.pi * 3900.0 * t) + 0.03 * rng.standard_normal(n)
    clips["mono_8k.wav"] = dict(data=mono8, sr=sr, format="WAV", subtype="PCM_16",
                                description="1.2 s mono 8 kHz PCM16: sines 300 Hz / 1.5 kHz / 3.9 kHz + noise")

    clips["tiny_300samples_16k.wav"] = dict(data=0.2 * rng.standard_normal(300), sr=16000, format="WAV",
                                            subtype="PCM_16",
                                            description="300 samples of noise: shorter than one 400-sample kaldi "
                                                        "window (torchaudio asserts; no frames)")
    for c in clips.values():
        c["data"] = np.clip(c["data"], -1.0, 32767 / 32768)
    return clips


def write_bad_files(out: Path, ok_tone: np.ndarray) -> dict[str, str]:
    descriptions = {}
    (out / "bad_empty.wav").write_bytes(b"")
    descriptions["bad_empty.wav"] = "0 bytes"

    buf = io.BytesIO()
    sf.write(buf, ok_tone, 16000, format="WAV", subtype="PCM_16")
    whole = buf.getvalue()
    assert whole[:4] == b"RIFF" and whole[8:16] == b"WAVEfmt "
    data_pos = whole.find(b"data")
    data_start = data_pos + 8
    declared = int.from_bytes(whole[data_pos + 4:data_pos + 8], "little")
    cut = data_start + 1001  # odd byte count: ends in the middle of a 16-bit sample
    (out / "bad_truncated.wav").write_bytes(whole[:cut])
    descriptions["bad_truncated.wav"] = (
        f"valid PCM16 mono 16 kHz WAV header (RIFF size and data chunk claim {declared} data bytes = "
        f"{declared // 2} samples) cut after {cut} bytes: 1001 data bytes, i.e. 500 whole samples + half a sample")

    (out / "bad_text.wav").write_text(
        "This is not audio.\nIt is a plain UTF-8 text file whose name ends in .wav.\n", encoding="utf-8")
    descriptions["bad_text.wav"] = "plain text renamed .wav (no RIFF header)"
    return descriptions


def probe_bad(path: Path) -> str:
    """What libsndfile (via soundfile) does with a bad file: recorded in metadata for the Swift tests' expectations.
    Its error messages quote the path; they are recorded as for the file's place in Fixtures/audio."""
    try:
        info = sf.info(str(path))
        data, sr = sf.read(str(path), dtype="float32")
        return f"libsndfile opens it: frames={info.frames} sr={sr}; read returned {len(data)} samples"
    except Exception as exc:  # noqa: BLE001  (any decoder error is the expected outcome)
        text = str(exc).strip().replace(str(path), f"Fixtures/audio/{path.name}")
        return f"libsndfile error: {type(exc).__name__}: {text}"


def write_audio(path: Path, data: np.ndarray, sr: int, fmt: str, subtype: str) -> None:
    """soundfile.write, except that libsndfile's PEAK chunk (float WAV files) is turned off: it carries a time stamp,
    which would make reruns differ. libsndfile then writes a zeroed PAD chunk of the same size instead."""
    from soundfile import _ffi, _snd

    channels = 1 if data.ndim == 1 else data.shape[1]
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=channels, format=fmt, subtype=subtype) as f:
        if subtype in ("FLOAT", "DOUBLE"):
            sfc_set_add_peak_chunk = 0x1050  # sndfile.h
            _snd.sf_command(f._file, sfc_set_add_peak_chunk, _ffi.NULL, _snd.SF_FALSE)
        f.write(data)


def decode(path: Path) -> tuple[np.ndarray, int, int, str]:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    channels = data.shape[1]
    mono = data[:, 0].copy() if channels == 1 else data.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(mono, dtype=np.float32), sr, channels, sf.info(str(path)).subtype


def main() -> None:
    fixture_main(__doc__, OUT, build)


def build(out: Path) -> None:
    rng = seed_everything(SEED)
    out.mkdir(parents=True, exist_ok=True)
    clips = make_clips(rng)
    for name, c in clips.items():
        write_audio(out / name, c["data"], c["sr"], c["format"], c["subtype"])
    bad = write_bad_files(out, clips["tone440_2s_16k.wav"]["data"])

    tensors = {}
    per_clip = {}
    for name, c in clips.items():
        key = Path(name).stem
        mono, sr, channels, subtype = decode(out / name)
        assert sr == c["sr"]
        if sr == 16000:
            x16 = mono.copy()
            how16 = "identical to .decoded (native 16 kHz)"
        else:
            x16 = soxr.resample(mono, sr, 16000, quality="HQ").astype(np.float32, copy=False)
            how16 = f"soxr.resample(decoded, {sr}, 16000, quality='HQ') on float32 (soxr {soxr.__version__})"
        tensors[f"{key}.decoded"] = mono
        tensors[f"{key}.16k"] = x16
        per_clip[key] = {"file": name, "sample_rate": sr, "channels": channels, "subtype": subtype,
                         "frames": int(mono.shape[0]), "frames_16k": int(x16.shape[0]), "to_16k": how16,
                         "description": c["description"]}
        print(f"{name:26s} sr={sr:5d} ch={channels} {subtype:7s} n={mono.shape[0]:6d} -> 16k n={x16.shape[0]}")

    bad_probe = {name: f"{desc}; {probe_bad(out / name)}" for name, desc in bad.items()}
    for k, v in bad_probe.items():
        print(f"{k}: {v}")
    metadata = {
        "generator": "tools/make_audio_fixtures.py",
        "seed": str(SEED),
        "decoded": "soundfile.read(path, dtype='float32', always_2d=True) (libsndfile: PCM16 -> x/32768, FLOAT as "
                   "stored); channels averaged with numpy mean(axis=1, dtype=float32) = (L+R)/2 in float32; mono at the "
                   "file's native sample rate",
        "16k": "native 16 kHz: copy of .decoded; otherwise soxr.resample(decoded, sr, 16000, quality='HQ') (float32 in "
               "and out)",
        "clips": per_clip,
        "bad_files": bad_probe,
        "versions": versions(),
    }
    size = save_np_safetensors(out / "reference.safetensors", tensors, metadata)
    back, _ = load_np_safetensors(out / "reference.safetensors")
    assert all(np.array_equal(back[k], tensors[k]) for k in tensors)
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote {rel(out / 'reference.safetensors')} ({size} bytes, {len(tensors)} tensors); "
          f"Fixtures/audio total {total} bytes")
    print(json.dumps(versions()))


if __name__ == "__main__":
    main()
