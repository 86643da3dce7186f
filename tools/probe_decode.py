#!/usr/bin/env python3
"""Decodes audio made with the probe model back into the text that was spoken.

The probe model (``tools/models/probe.py``, ``python -m tools.models.probe
--out models/probe``) has the exact Supertonic 2 interface, but its audio
encodes the token ids it was given:

* every token (character, after the engine's preprocessing: NFKD, language
  tags) lasts ``0.15/speed`` s, rounded to whole latent frames of
  3072 samples (69.66 ms at 44.1 kHz);
* it starts with 512 samples (11.6 ms) of silence, followed by a steady chord
  of two sines, amplitude 0.25 each: ``k_lo = 21 + 6*(id % 16)`` and
  ``k_hi = 125 + 7*(id // 16)`` cycles per 3072 samples, i.e. 16 low
  frequencies between 301 and 1594 Hz and 11 high ones between 1794 and
  2800 Hz; all of them survive resampling down to 8 kHz.

Decoding: a smoothed power envelope finds the tones (runs of sound separated
by the silent gaps); the central part of each tone is fitted by least squares
against every (low, high) frequency pair; the best pair gives
``id = 16*hi + lo``, and the inverse of the model's ``unicode_indexer.json``
(lowest code point for an id) gives the character. Silence (leading,
trailing, between segments) produces no characters. Since the engine wraps
each chunk as ``<lang>...</lang>``, the decoded text shows segment
boundaries and languages, e.g. ``<pt>Olá, tudo bem?</pt>``.

The Supertonic 3 probe (``--version 3``, ``models/probe-v3``) has 8322 ids;
its text encoder turns each into ``id % 176`` before the tones, and its indexer
gives the characters of Latin-script text the ids below 176. Decoded with its
own indexer (``--model-dir models/probe-v3``), Latin-script text (de, it, fr,
es, pt, vi, na, ...; NFKD marks included) reads back exactly; other scripts
read back as the right number of characters with the right timing, but as
other characters.

Usage::

    python3 tools/probe_decode.py out.wav [--model-dir models/probe] [--json] [--raw]

prints the decoded text, NFC-normalized (``--raw``: as decoded, i.e. NFKD as
the engine fed it), or with ``--json`` an object ``{"text", "chars":
[{"char", "id", "start_s", "duration_s"}], "segments", "sample_rate"}``.
A character's duration runs from the start of its gap to the start of the
next character's gap (to the end of its tone for the last character before
a longer silence). Reads 8/16/24/32-bit PCM and 32/64-bit float WAV at any
sample rate (multi-channel audio is averaged).

As a module: ``decode_samples(samples, sample_rate, indexer)`` and
``decode_wav(path, model_dir=None)`` return a ``DecodeResult``.

Limits: a tone needs about 5 ms of sound after its gap to be decoded
reliably (shorter than 3 ms: ignored; 3-5 ms: may decode wrong). Every
character but the last of an item has at least one frame (58 ms of tone)
while the speed keeps a character at one frame or more (speed <= ~2.1); the
last character of an item is cut where the item's audio ends, and at
speeds above ~1.07 (fewer than two frames per character) it can be cut
short enough, inside its gap, to vanish.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "probe"

try:
    import numpy as np
except ImportError:  # a bare system python: use the project's venv if there is one
    _venv_python = REPO_ROOT / "build" / "venv" / "bin" / "python"
    if __name__ == "__main__" and _venv_python.is_file() and Path(sys.executable) != _venv_python:
        os.execv(str(_venv_python), [str(_venv_python), *sys.argv])
    raise

# The probe's encoding (kept equal to tools/models/probe.py; a test checks it).
PROBE_RATE = 44100
FRAME_SAMPLES = 3072
GAP_SAMPLES = 512
LO_BINS = [21 + 6 * i for i in range(16)]
HI_BINS = [125 + 7 * i for i in range(11)]
GAP_S = GAP_SAMPLES / PROBE_RATE
FRAME_S = FRAME_SAMPLES / PROBE_RATE

ENVELOPE_S = 0.005          # power smoothing window (~ one period of the slowest beat, 201 Hz)
THRESHOLD = 0.3             # fraction of the loudest smoothed power that counts as sound
SILENCE_POWER = 1e-6        # below this everywhere, the audio is silence
MIN_TONE_S = 0.003          # shorter bursts are ignored
MERGE_GAP_S = 0.003         # dips shorter than this inside a tone are not gaps
EDGE_REFINE_S = 0.001      # largest correction of a tone edge by the sample-level search
EDGE_S = 0.0015             # trimmed from each end of a tone before analysis
MAX_ANALYSIS_S = 0.05       # longest stretch of a tone that is analysed
CONTIGUOUS_S = GAP_S + 0.004  # silence longer than this ends a run of characters


@dataclass
class DecodedChar:
    char: str
    id: int
    start_s: float          # start of the character's silent gap
    duration_s: float
    fit: float = 1.0        # share of the tone's energy the chord explains (1 = clean)


@dataclass
class Segment:
    """Characters without a silence longer than one gap between them."""
    start_s: float
    end_s: float
    text: str


@dataclass
class DecodeResult:
    text: str               # NFC-normalized
    raw_text: str           # as decoded (NFKD, as the engine saw it)
    chars: list[DecodedChar] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    sample_rate: int = 0

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "chars": [
                {
                    "char": c.char,
                    "id": c.id,
                    "start_s": round(c.start_s, 6),
                    "duration_s": round(c.duration_s, 6),
                    "fit": round(c.fit, 4),
                }
                for c in self.chars
            ],
            "segments": [asdict(s) for s in self.segments],
            "sample_rate": self.sample_rate,
        }


def load_indexer(model_dir: str | Path | None = None) -> list[int]:
    model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    return json.loads((model_dir / "onnx" / "unicode_indexer.json").read_text())


def inverse_indexer(indexer: Sequence[int] | Mapping[int, str]) -> dict[int, str]:
    """id -> character, taking the lowest code point when several share an id."""
    if isinstance(indexer, Mapping):
        return dict(indexer)
    inverse: dict[int, str] = {}
    for cp, idx in enumerate(indexer):
        if idx >= 0 and idx not in inverse and not 0xD800 <= cp <= 0xDFFF:
            inverse[idx] = chr(cp)
    return inverse


def _smoothed_power(x: np.ndarray, width: int) -> np.ndarray:
    """Centered moving average of x**2 over `width` samples."""
    csum = np.concatenate([[0.0], np.cumsum(x * x)])
    half = width // 2
    n = len(x)
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) - half + width, 0, n)
    return (csum[hi] - csum[lo]) / width


def _runs(active: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True stretches."""
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


class _ChordFitter:
    """Least-squares fit of a tone against every (low, high) frequency pair."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        bins = np.asarray(LO_BINS + HI_BINS, dtype=np.float64)
        self.freqs = bins * PROBE_RATE / FRAME_SAMPLES
        pairs = [(i, j) for j in range(len(HI_BINS)) for i in range(len(LO_BINS))]
        self.pair_ids = np.asarray([16 * j + i for i, j in pairs])
        cols = []
        for i, j in pairs:
            k = len(LO_BINS) + j
            cols.append([2 * i, 2 * i + 1, 2 * k, 2 * k + 1])
        self.cols = np.asarray(cols)
        self._bases: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _basis(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n not in self._bases:
            if len(self._bases) > 64:
                self._bases.clear()
            t = np.arange(n) / self.sample_rate
            phase = 2 * np.pi * t[:, None] * self.freqs[None, :]
            basis = np.empty((n, 2 * len(self.freqs)))
            basis[:, 0::2] = np.cos(phase)
            basis[:, 1::2] = np.sin(phase)
            gram = basis.T @ basis
            sub = gram[self.cols[:, :, None], self.cols[:, None, :]]
            sub += np.eye(4) * (1e-9 * n)
            self._bases[n] = (basis, np.linalg.inv(sub))
        return self._bases[n]

    def fit(self, x: np.ndarray) -> tuple[int, float]:
        """(id, share of the energy explained by the best pair)."""
        basis, inv = self._basis(len(x))
        proj = basis.T @ x
        b = proj[self.cols]                                   # [pairs, 4]
        explained = np.einsum("pi,pij,pj->p", b, inv, b)
        best = int(np.argmax(explained))
        energy = float(x @ x)
        return int(self.pair_ids[best]), float(explained[best] / energy) if energy > 0 else 0.0


def _refine_edges(
    x: np.ndarray, start: float, end: float, rms: float, width: int, sr: float
) -> tuple[float, float]:
    """Moves the envelope's estimate of a tone's edges to the first and last
    samples above a tenth of the tone's RMS, by at most EDGE_REFINE_S (so that
    noise in the gap cannot drag them far)."""
    level = 0.1 * rms
    limit = EDGE_REFINE_S * sr
    a = max(0, int(start) - width)
    above = np.flatnonzero(np.abs(x[a : int(start) + width]) > level)
    if above.size:
        start = float(np.clip(a + above[0], start - limit, start + limit))
    b = max(0, int(end) - width)
    above = np.flatnonzero(np.abs(x[b : int(end) + width]) > level)
    if above.size:
        end = float(np.clip(b + above[-1] + 1, end - limit, end + limit))
    return start, end


def decode_samples(
    samples: np.ndarray, sample_rate: int, indexer: Sequence[int] | Mapping[int, str]
) -> DecodeResult:
    """Decodes probe audio. `samples`: mono (or [n, channels]) float or int16
    array; `indexer`: the unicode_indexer.json table (or an id -> char map)."""
    x = np.asarray(samples)
    if x.dtype == np.int16:
        x = x.astype(np.float64) / 32768.0
    x = x.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    result = DecodeResult(text="", raw_text="", sample_rate=int(sample_rate))
    if x.size == 0:
        return result
    sr = float(sample_rate)

    width = max(3, int(round(ENVELOPE_S * sr)))
    power = _smoothed_power(x, width)
    peak = float(power.max())
    if peak < SILENCE_POWER:
        return result
    threshold = THRESHOLD * peak

    # Tones: stretches above the threshold; tiny dips are bridged, tiny bursts dropped.
    runs: list[list[int]] = []
    for start, end in _runs(power > threshold):
        if runs and start - runs[-1][1] < MERGE_GAP_S * sr:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    runs = [r for r in runs if r[1] - r[0] >= MIN_TONE_S * sr]

    inverse = inverse_indexer(indexer)
    fitter = _ChordFitter(int(sample_rate))
    tones = []  # (tone start s, tone end s, id, fit)
    for start, end in runs:
        # The envelope crosses the threshold before the tone really starts (and
        # after it ends): move the edges by the expected offset.
        level = float(np.median(power[start:end]))
        shift = width * (0.5 - min(threshold / level, 0.5))
        tone_start, tone_end = _refine_edges(x, start + shift, end - shift, np.sqrt(level), width, sr)
        edge = min(EDGE_S * sr, 0.2 * (tone_end - tone_start))
        a = int(round(tone_start + edge))
        b = int(round(tone_end - edge))
        limit = int(MAX_ANALYSIS_S * sr)
        if b - a > limit:
            middle = (a + b) // 2
            a, b = middle - limit // 2, middle - limit // 2 + limit
        token, fit = fitter.fit(x[a:b])
        tones.append((tone_start / sr, tone_end / sr, token, fit))

    for k, (tone_start, tone_end, token, fit) in enumerate(tones):
        start = max(tone_start - GAP_S, 0.0)
        if k + 1 < len(tones) and tones[k + 1][0] - tone_end <= CONTIGUOUS_S:
            end = tones[k + 1][0] - GAP_S
        else:
            end = tone_end
        char = inverse.get(token, "\ufffd")
        result.chars.append(DecodedChar(char, token, start, end - start, fit))
        if result.segments and start - result.segments[-1].end_s < 1e-9:
            seg = result.segments[-1]
            seg.end_s = end
            seg.text += char
        else:
            result.segments.append(Segment(start, end, char))

    result.raw_text = "".join(c.char for c in result.chars)
    result.text = unicodedata.normalize("NFC", result.raw_text)
    for seg in result.segments:
        seg.text = unicodedata.normalize("NFC", seg.text)
    return result


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(samples as float64 [n] or [n, channels], sample rate) from a WAV file."""
    data = Path(path).read_bytes()
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        size = struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"data":
            end = len(data) if size in (0, 0xFFFFFFFF) else min(len(data), body + size)
            payload = data[body:end]
            if fmt is not None:
                break
        elif chunk_id == b"fmt ":
            fmt = data[body : body + size]
        pos = body + size + (size & 1)
    if fmt is None or payload is None:
        raise ValueError(f"{path}: missing fmt or data chunk")
    tag, channels, rate = struct.unpack_from("<HHI", fmt, 0)
    bits = struct.unpack_from("<H", fmt, 14)[0]
    if tag == 0xFFFE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]
    width = bits // 8
    usable = len(payload) - len(payload) % (width * channels)
    raw = payload[:usable]
    if tag == 3 and bits in (32, 64):
        x = np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float64)
    elif tag == 1 and bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif tag == 1 and bits == 16:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    elif tag == 1 and bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float64) / float(1 << 23)
    elif tag == 1 and bits == 32:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0
    else:
        raise ValueError(f"{path}: unsupported WAV format (tag {tag}, {bits} bits)")
    if channels > 1:
        x = x.reshape(-1, channels)
    return x, int(rate)


def decode_wav(path: str | Path, model_dir: str | Path | None = None) -> DecodeResult:
    samples, rate = read_wav(path)
    return decode_samples(samples, rate, load_indexer(model_dir))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Decode probe-model audio back into text.")
    parser.add_argument("wav", type=Path)
    parser.add_argument("--model-dir", type=Path, default=None,
                        help=f"the probe model that spoke (its indexer maps ids back to characters); "
                             f"default: {DEFAULT_MODEL_DIR}")
    parser.add_argument("--json", action="store_true", help="print characters with timings as JSON")
    parser.add_argument("--raw", action="store_true", help="print the text as decoded, without NFC")
    args = parser.parse_args(argv)
    result = decode_wav(args.wav, args.model_dir)
    if args.json:
        out = result.to_json()
        if args.raw:
            out["text"] = result.raw_text
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(result.raw_text if args.raw else result.text)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        raise SystemExit(1)
