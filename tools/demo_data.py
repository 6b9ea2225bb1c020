"""Synthetic, seeded audio for the bundled demo (tools/make_demo.py): espeak-ng keywords and synthetic sound events.

Every clip is 1.0 s of 16 kHz mono float32 and is a pure function of (seed, task, split, index): each clip draws from
its own numpy Generator seeded with that tuple, so generation order and parallelism do not change the audio.

Tasks
- `keywords`: yes no up down left right on off stop go, spoken by espeak-ng (English accents x voice variants,
  speed, pitch, amplitude), a random vocal-tract-length change (resampling by 0.88-1.12), random level, random time
  shift inside the 1 s clip, and white / pink / brown background noise at 8-30 dB SNR.
- `sounds`: 8 synthetic event classes (steady tone, rising chirp, falling chirp, noise burst, click train, square
  wave, amplitude-modulated tone, hum) with random onset, duration, envelope, level and background noise.
- `pretrain`: the backbone's pretraining task, deliberately different from both: 80 other spoken words (digits,
  names, everyday words; none of the 10 keywords nor their homophones such as know / write) and 12 other synthetic sound families (vibrato, two-tone siren,
  tone pips, sawtooth, chord, plucked string, band-pass noise, brown noise, rain, up-down sweep, swell, drum hits).

Held-out material is unseen by construction:
- keywords: a fixed, seeded quarter of espeak-ng's voice variants is held out; training and pretraining never use
  them (in any accent);
- sounds: each class's main parameter (frequency, click rate, burst length, hum fundamental) is drawn from
  interleaved bands: even bands for training, odd bands for held-out clips (so held-out frequencies / rates never
  occur in training); noise seeds differ too.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

RATE = 16000
CLIP = 16000  # samples (1.0 s)

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
SOUNDS = ["tone", "rising-chirp", "falling-chirp", "noise-burst", "click-train", "square-wave", "am-tone", "hum"]
PRETRAIN_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                  "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
                  "learn", "follow", "forward", "backward", "visual", "apple", "water", "river", "music", "paper",
                  "green", "blue", "red", "yellow", "table", "window", "light", "morning", "purple", "seventy",
                  "cup", "top", "town", "less", "night", "open", "under", "after", "never", "laugh",
                  "soap", "shop", "lift", "dark", "road", "boat", "chair", "door", "horse", "mouse",
                  "fish", "milk", "bread", "cheese", "sugar", "pencil", "garden", "kitchen", "money", "doctor",
                  "button", "rocket", "jump", "walk", "sleep", "drink", "push", "hello", "please", "little"]
PRETRAIN_SOUNDS = ["vibrato", "two-tone-siren", "tone-pips", "sawtooth", "chord", "pluck", "band-noise",
                   "brown-noise", "rain", "up-down-sweep", "swell", "drum-hits"]

# espeak-ng 1.51 English accents (gmw voices; mbrola voices need extra packages) and voice variants (!v/ files)
ACCENTS = ["en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc"]
VARIANTS = ["adam", "Alex", "Alicia", "Andrea", "Andy", "Annie", "antonio", "aunty", "belinda", "benjamin", "boris",
            "caleb", "david", "Demonic", "Denis", "Diogo", "ed", "edward", "edward2", "Gene", "Gene2", "gustave",
            "announcer", "Henrique", "Hugo", "iven", "iven2", "iven3", "iven4", "Jacky", "john", "kaukovalta", "Lee",
            "linda", "marcelo", "Marco", "Mario", "max", "Michael", "michel", "miguel", "Mike", "Mr", "Nguyen",
            "pablo", "paul", "pedro", "quincy", "RicishayMax", "RicishayMax2", "RicishayMax3", "rob", "robert",
            "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8",
            "steph", "steph2", "steph3", "Storm", "Tweaky", "UniRobot", "zac", "anika", "anikaRobot", "AnxiousAndy",
            "fast", "f1", "f2", "f3", "f4", "f5", "whisperf", "grandpa", "klatt", "klatt2", "klatt3", "klatt4",
            "klatt5", "klatt6", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "whisper", "croak", "grandma",
            "norbert", "sandro", "shelby", "travis", "victor"]

TASK_CODE = {"keywords": 1, "sounds": 2, "pretrain": 3}
SPLIT_CODE = {"train": 1, "heldout": 2, "demo": 3}


def variant_split(seed: int, heldout_fraction: float = 0.25) -> tuple[list[str], list[str]]:
    """(training variants, held-out variants): a seeded permutation of VARIANTS."""
    rng = np.random.default_rng([seed, 77])
    order = rng.permutation(len(VARIANTS))
    n_held = int(round(len(VARIANTS) * heldout_fraction))
    held = sorted(VARIANTS[i] for i in order[:n_held])
    train = sorted(VARIANTS[i] for i in order[n_held:])
    return train, held


def clip_rng(seed: int, task: str, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, TASK_CODE[task], SPLIT_CODE[split], index])


# ----------------------------------------------------------------------------------------------------------------------
# espeak-ng


def espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is not installed. On Debian/Ubuntu: sudo apt-get install espeak-ng "
                         "(macOS: brew install espeak-ng)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+\.\d+(\.\d+)?)", out)
    return f"espeak-ng {m.group(1) if m else out.strip()}"


def espeak(word: str, voice: str, speed: int, pitch: int, amplitude: int) -> np.ndarray:
    """espeak-ng's 22.05 kHz output resampled to 16 kHz (soxr HQ), float32."""
    import soundfile as sf
    import soxr

    proc = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude),
                           "--stdout", word], capture_output=True, check=True)
    data = proc.stdout
    # espeak-ng streams its WAV with placeholder sizes; patch RIFF and data sizes so libsndfile reads every sample
    if data[:4] == b"RIFF" and data[36:40] == b"data":
        n = len(data) - 44
        data = data[:4] + (n + 36).to_bytes(4, "little") + data[8:40] + n.to_bytes(4, "little") + data[44:]
    x, sr = sf.read(io.BytesIO(data), dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    return soxr.resample(x, sr, RATE, quality="HQ").astype(np.float32)


def trim(x: np.ndarray, rel_db: float = -35.0) -> np.ndarray:
    """Cut leading / trailing silence (10 ms frames whose RMS is below peak frame RMS + rel_db)."""
    n = len(x) // 160
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[:n * 160].reshape(n, 160) ** 2, axis=1) + 1e-12)
    on = np.flatnonzero(rms > rms.max() * 10 ** (rel_db / 20))
    if on.size == 0:
        return x
    return x[on[0] * 160:(on[-1] + 1) * 160]


# ----------------------------------------------------------------------------------------------------------------------
# noise and levels


def colored_noise(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    w = rng.standard_normal(n)
    if kind == "white":
        y = w
    else:
        spec = np.fft.rfft(w)
        f = np.fft.rfftfreq(n, 1 / RATE)
        f[0] = f[1]
        spec /= np.sqrt(f) if kind == "pink" else f
        y = np.fft.irfft(spec, n)
    return (y / (np.std(y) + 1e-12)).astype(np.float64)


def add_noise(rng: np.random.Generator, x: np.ndarray, snr_db: float, active_rms: float) -> np.ndarray:
    kind = ["white", "pink", "brown"][int(rng.integers(0, 3))]
    noise = colored_noise(rng, len(x), kind)
    return x + noise * active_rms * 10 ** (-snr_db / 20)


def finish(rng: np.random.Generator, x: np.ndarray, snr_range=(8.0, 30.0), info: dict | None = None) -> np.ndarray:
    """Background noise at a random SNR (relative to the RMS of the active part), random peak level, float32."""
    active = np.abs(x) > 1e-4
    rms = float(np.sqrt(np.mean(x[active] ** 2))) if active.any() else 1e-3
    snr = float(rng.uniform(*snr_range))
    if info is not None:
        info["snr_db"] = round(snr, 1)
    x = add_noise(rng, x, snr, rms)
    peak = np.max(np.abs(x)) + 1e-12
    x = x / peak * 10 ** (rng.uniform(-24, -3) / 20)
    return np.clip(x, -1, 1).astype(np.float32)


def place(rng: np.random.Generator, event: np.ndarray) -> np.ndarray:
    """Put `event` at a random offset in a 1 s clip (cut to 1 s if longer)."""
    event = event[:CLIP]
    out = np.zeros(CLIP, np.float64)
    start = int(rng.integers(0, CLIP - len(event) + 1))
    out[start:start + len(event)] = event
    return out


def fade(x: np.ndarray, ms: float = 5.0) -> np.ndarray:
    n = min(len(x) // 2, int(RATE * ms / 1000))
    if n > 0:
        ramp = np.linspace(0, 1, n)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


# ----------------------------------------------------------------------------------------------------------------------
# keywords (and pretraining words)


@dataclass
class SpeechSpec:
    word: str
    voice: str
    speed: int
    pitch: int
    amplitude: int
    stretch: float


def speech_spec(rng: np.random.Generator, word: str, variants: Sequence[str]) -> SpeechSpec:
    accent = ACCENTS[int(rng.integers(0, len(ACCENTS)))]
    variant = variants[int(rng.integers(0, len(variants)))]
    return SpeechSpec(word, f"{accent}+{variant}", int(rng.integers(120, 241)), int(rng.integers(15, 91)),
                      int(rng.integers(60, 181)), float(rng.uniform(0.88, 1.12)))


def render_speech(rng: np.random.Generator, spec: SpeechSpec, info: dict | None = None) -> np.ndarray:
    import soxr

    x = trim(espeak(spec.word, spec.voice, spec.speed, spec.pitch, spec.amplitude)).astype(np.float64)
    # vocal-tract-length / speed change: play back at a different rate
    x = soxr.resample(x, RATE, RATE * spec.stretch, quality="HQ")
    if len(x) > int(0.96 * CLIP):  # very slow speech: speed it up to fit (rare)
        x = soxr.resample(x, len(x), int(0.96 * CLIP), quality="HQ")
    return finish(rng, place(rng, fade(x)), info=info)


# ----------------------------------------------------------------------------------------------------------------------
# sound events


def band_value(rng: np.random.Generator, lo: float, hi: float, split: str, bands: int = 8, log: bool = True) -> float:
    """A value in [lo, hi) from the split's interleaved bands (train: even bands, held-out/demo: odd bands)."""
    parity = 0 if split == "train" else 1
    b = 2 * int(rng.integers(0, bands // 2)) + parity
    u = (b + rng.uniform(0, 1)) / bands
    return float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))) if log else float(lo + u * (hi - lo))


def envelope(rng: np.random.Generator, n: int) -> np.ndarray:
    """Attack / release ramps of random length."""
    a = int(rng.uniform(0.002, 0.05) * RATE)
    r = int(rng.uniform(0.005, 0.1) * RATE)
    env = np.ones(n)
    a, r = min(a, n // 3), min(r, n // 3)
    if a:
        env[:a] = np.linspace(0, 1, a)
    if r:
        env[-r:] = np.linspace(1, 0, r)
    return env


def sweep(f0: float, f1: float, n: int, log: bool = True) -> np.ndarray:
    t = np.arange(n) / RATE
    if log:
        f = f0 * (f1 / f0) ** (t / t[-1])
    else:
        f = f0 + (f1 - f0) * t / t[-1]
    return np.sin(2 * np.pi * np.cumsum(f) / RATE)


def sound_event(rng: np.random.Generator, cls: str, split: str) -> np.ndarray:
    dur = rng.uniform(0.35, 0.95)
    n = int(dur * RATE)
    t = np.arange(n) / RATE
    ph = rng.uniform(0, 2 * np.pi)
    # tone, square wave and AM tone share one frequency range and band layout, so frequency says nothing about the
    # class (the held-out bands lie between the training bands of all three)
    if cls == "tone":
        f = band_value(rng, 200, 2400, split)
        x = np.sin(2 * np.pi * f * t + ph)
    elif cls in ("rising-chirp", "falling-chirp"):
        lo = band_value(rng, 150, 1200, split)
        ratio = rng.uniform(2.0, 5.0)
        f0, f1 = (lo, lo * ratio) if cls == "rising-chirp" else (lo * ratio, lo)
        x = sweep(f0, f1, n, log=bool(rng.integers(0, 2)))
    elif cls == "noise-burst":
        n = int(band_value(rng, 0.04, 0.35, split) * RATE)
        x = colored_noise(rng, n, ["white", "pink"][int(rng.integers(0, 2))])
        decay = np.exp(-np.arange(n) / (n * rng.uniform(0.2, 1.0)))
        x = x * decay * 0.5
    elif cls == "click-train":
        rate = band_value(rng, 4, 30, split)
        x = np.zeros(n)
        click_len = int(rng.uniform(0.0005, 0.003) * RATE) + 1
        click = np.hanning(click_len + 2)[1:-1] * rng.choice([-1, 1], click_len)
        for s in np.arange(rng.uniform(0, 1 / rate), dur, 1 / rate):
            i = int(s * RATE)
            x[i:i + click_len] += click[:max(0, min(click_len, n - i))]
        return place(rng, x)  # no envelope: clicks are the envelope
    elif cls == "square-wave":
        f = band_value(rng, 200, 2400, split)
        x = np.sign(np.sin(2 * np.pi * f * t + ph)) * 0.5
    elif cls == "am-tone":
        f = band_value(rng, 200, 2400, split)
        fm = rng.uniform(4, 12)
        depth = rng.uniform(0.8, 1.0)
        n = max(n, int(3 / fm * RATE))  # at least three modulation periods
        t = np.arange(n) / RATE
        x = np.sin(2 * np.pi * f * t + ph) * (1 - depth * 0.5 * (1 + np.sin(2 * np.pi * fm * t)))
    elif cls == "hum":
        f0 = band_value(rng, 45, 66, split, log=False)
        x = np.zeros(n)
        for h in range(1, int(rng.integers(4, 12)) + 1):
            x += rng.uniform(0.1, 1.0) / h ** rng.uniform(0.3, 1.2) * np.sin(2 * np.pi * f0 * h * t
                                                                                  + rng.uniform(0, 2 * np.pi))
        n = len(x)
    else:
        raise ValueError(cls)
    return place(rng, x * envelope(rng, len(x)))


def pretrain_sound(rng: np.random.Generator, cls: str) -> np.ndarray:
    dur = rng.uniform(0.4, 0.95)
    n = int(dur * RATE)
    t = np.arange(n) / RATE
    if cls == "vibrato":
        f = np.exp(rng.uniform(np.log(200), np.log(3000)))
        rate, depth = rng.uniform(4, 9), rng.uniform(0.02, 0.08)
        x = np.sin(2 * np.pi * np.cumsum(f * (1 + depth * np.sin(2 * np.pi * rate * t))) / RATE)
    elif cls == "two-tone-siren":
        f1 = np.exp(rng.uniform(np.log(300), np.log(2000)))
        f2 = f1 * rng.uniform(1.2, 1.6)
        period = rng.uniform(0.15, 0.4)
        f = np.where((t // (period / 2)) % 2 == 0, f1, f2)
        x = np.sin(2 * np.pi * np.cumsum(f) / RATE)
    elif cls == "tone-pips":
        f = np.exp(rng.uniform(np.log(400), np.log(4000)))
        on, off = rng.uniform(0.04, 0.12), rng.uniform(0.04, 0.15)
        gate = ((t % (on + off)) < on).astype(float)
        x = np.sin(2 * np.pi * f * t) * np.convolve(gate, np.ones(40) / 40, mode="same")
    elif cls == "sawtooth":
        f = np.exp(rng.uniform(np.log(80), np.log(1200)))
        x = 2 * ((f * t + rng.uniform()) % 1.0) - 1
        x *= 0.5
    elif cls == "chord":
        base = np.exp(rng.uniform(np.log(150), np.log(1000)))
        x = sum(np.sin(2 * np.pi * base * r * t + rng.uniform(0, 6)) for r in (1.0, rng.choice([1.25, 1.2]), 1.5))
        x /= 3
    elif cls == "pluck":
        f = np.exp(rng.uniform(np.log(80), np.log(800)))
        period = max(2, int(RATE / f))
        buf = rng.uniform(-1, 1, period)
        x = np.empty(n)
        for i in range(n):  # Karplus-Strong
            x[i] = buf[i % period]
            buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
    elif cls == "band-noise":
        from scipy.signal import butter, sosfilt

        fc = np.exp(rng.uniform(np.log(300), np.log(5000)))
        sos = butter(4, [fc / 1.25, min(fc * 1.25, 7900)], btype="band", fs=RATE, output="sos")
        x = sosfilt(sos, rng.standard_normal(n))
        x /= np.std(x) + 1e-9
        x *= 0.3
    elif cls == "brown-noise":
        x = colored_noise(rng, n, "brown") * 0.3
    elif cls == "rain":
        x = np.zeros(n)
        for _ in range(int(rng.integers(15, 60))):
            i = int(rng.integers(0, n))
            m = int(rng.uniform(0.005, 0.03) * RATE)
            drop = rng.standard_normal(m) * np.exp(-np.arange(m) / (m / 4))
            x[i:i + m] += drop[:n - i] * rng.uniform(0.2, 1)
    elif cls == "up-down-sweep":
        lo = np.exp(rng.uniform(np.log(200), np.log(1500)))
        hi = lo * rng.uniform(1.5, 4)
        half = n // 2
        x = np.concatenate([sweep(lo, hi, half), sweep(hi, lo, n - half)])
    elif cls == "swell":
        f = np.exp(rng.uniform(np.log(150), np.log(3000)))
        x = (np.sin(2 * np.pi * f * t) + 0.3 * rng.standard_normal(n)) * (t / t[-1]) ** 2
    elif cls == "drum-hits":
        x = np.zeros(n)
        f = rng.uniform(50, 150)
        hit = np.sin(2 * np.pi * f * np.arange(int(0.15 * RATE)) / RATE * np.linspace(1.5, 1, int(0.15 * RATE)))
        hit *= np.exp(-np.arange(len(hit)) / (0.04 * RATE))
        s = 0.0
        while s < dur:
            i = int(s * RATE)
            x[i:i + len(hit)] += hit[:n - i]
            s += rng.uniform(0.15, 0.35)
    else:
        raise ValueError(cls)
    return place(rng, x * envelope(rng, len(x)))


# ----------------------------------------------------------------------------------------------------------------------
# sets


@dataclass
class Item:
    label: str
    wave: np.ndarray
    info: dict


def _speech_items(seed, task, split, words, variants, per_word, offset, workers):
    jobs = []
    for w_i, word in enumerate(words):
        for j in range(per_word):
            idx = offset + w_i * per_word + j
            rng = clip_rng(seed, task, split, idx)
            jobs.append((word, rng, speech_spec(rng, word, variants)))

    def run(job):
        word, rng, spec = job
        info = {"voice": spec.voice, "speed": spec.speed, "pitch": spec.pitch, "stretch": round(spec.stretch, 3)}
        return Item(word, render_speech(rng, spec, info), info)

    with ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(run, jobs))


def keyword_items(seed: int, split: str, per_word: int, workers: int = 8) -> list[Item]:
    train_v, held_v = variant_split(seed)
    variants = train_v if split == "train" else held_v
    return _speech_items(seed, "keywords", split, KEYWORDS, variants, per_word, 0, workers)


def sound_items(seed: int, split: str, per_class: int) -> list[Item]:
    out = []
    for c_i, cls in enumerate(SOUNDS):
        for j in range(per_class):
            rng = clip_rng(seed, "sounds", split, c_i * per_class + j)
            out.append(Item(cls, finish(rng, sound_event(rng, cls, split), snr_range=(6.0, 30.0)), {}))
    return out


def pretrain_items(seed: int, per_word: int, per_sound: int, workers: int = 8) -> list[Item]:
    train_v, _ = variant_split(seed)
    out = _speech_items(seed, "pretrain", "train", PRETRAIN_WORDS, train_v, per_word, 0, workers)
    base = 100000
    for c_i, cls in enumerate(PRETRAIN_SOUNDS):
        for j in range(per_sound):
            rng = clip_rng(seed, "pretrain", "train", base + c_i * per_sound + j)
            out.append(Item(cls, finish(rng, pretrain_sound(rng, cls), snr_range=(6.0, 30.0)), {}))
    return out
