"""Non-weight files of a Supertonic model directory: tts.json, the character
indexer and the voice styles.

Supertonic 2: the real files are taken from ``../shared/models/supertonic-2``
when that folder exists (it is beside the checkout on the team's machines and
in CI). A fresh clone without it gets generated equivalents with the same
shapes, so every generated model directory has the published layout either way.

Supertonic 3 (``version=3``): always generated. The indexer maps the scripts of
v3's languages to its 8322 ids (see ``v3_indexer``); the voices have v2's shapes
and say in their metadata which model they were made for.
"""
from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_MODEL = REPO_ROOT.parent / "shared" / "models" / "supertonic-2"

VOICES = ["F1", "F2", "F3", "F4", "F5", "M1", "M2", "M3", "M4", "M5"]
NUM_TEXT_IDS = 163          # embedding rows of the real model (ids 0..161 used)
V3_NUM_TEXT_IDS = 8322      # Supertonic 3's embedding rows
V3_COMMON_IDS = 176         # ids the probe's tones can tell apart (tools/models/probe.py)
STYLE_TTL_DIMS = [1, 50, 256]
STYLE_DP_DIMS = [1, 8, 16]

# Characters the generated indexer knows when the real one is absent: the
# printable ASCII range, the combining marks NFKD produces for the supported
# Latin languages, and the Hangul jamo NFKD produces for Korean.
_FALLBACK_CHARS = (
    # ('/' must be there: the closing language tag </en> uses it.)
    [chr(c) for c in range(0x20, 0x7F) if chr(c) not in "#=@[\\]^_`{|}"]
    + [chr(c) for c in (0x0300, 0x0301, 0x0302, 0x0303, 0x0308, 0x0327, 0x00A1, 0x00BF, 0x00AB, 0x00BB)]
    + [chr(c) for c in range(0x1100, 0x1113)]
    + [chr(c) for c in range(0x1161, 0x1176)]
    + [chr(c) for c in range(0x11A8, 0x11C3)]
)

_FALLBACK_TTS_JSON = {
    "tts_version": "generated",
    "ae": {"sample_rate": 44100, "base_chunk_size": 512},
    "ttl": {"latent_dim": 24, "chunk_compress_factor": 6},
    "dp": {"latent_dim": 24, "chunk_compress_factor": 6},
}


def shared_available() -> bool:
    return (SHARED_MODEL / "onnx" / "unicode_indexer.json").is_file()


def _fallback_indexer() -> list[int]:
    table = [-1] * 65536
    for i, ch in enumerate(_FALLBACK_CHARS[: NUM_TEXT_IDS - 1]):
        table[ord(ch)] = i
    return table


def _fallback_style(name: str) -> dict:
    rng = np.random.default_rng(sum(map(ord, name)) * 7919)
    ttl = rng.standard_normal(STYLE_TTL_DIMS).astype(np.float32) * 0.5
    dp = rng.standard_normal(STYLE_DP_DIMS).astype(np.float32) * 0.5
    return {
        "style_ttl": {"data": ttl.tolist(), "dims": STYLE_TTL_DIMS, "type": "float32"},
        "style_dp": {"data": dp.tolist(), "dims": STYLE_DP_DIMS, "type": "float32"},
        "metadata": {"source_file": "generated", "name": name},
    }


def _nfkd_marks_of_letters() -> list[str]:
    """The combining marks NFKD gives the letters of Latin, Greek and Cyrillic
    script (é -> e + U+0301, ơ -> o + U+031B, й -> и + U+0306, ...)."""
    marks = set()
    for lo, hi in ((0x00C0, 0x0250), (0x1E00, 0x1F00), (0x0370, 0x0400), (0x0400, 0x0500)):
        for cp in range(lo, hi):
            marks.update(c for c in unicodedata.normalize("NFKD", chr(cp)) if 0x0300 <= ord(c) < 0x0370)
    return sorted(marks)


def _unchanged_by_nfkd(lo: int, hi: int) -> list[str]:
    return [chr(cp) for cp in range(lo, hi)
            if unicodedata.normalize("NFKD", chr(cp)) == chr(cp) and unicodedata.category(chr(cp)) != "Cc"]


def v3_common_chars() -> list[str]:
    """What Latin-script text is made of once the engine has preprocessed it
    (NFKD): printable ASCII (language and expression tags included), the
    combining marks of accented letters, the Latin-1 and Extended-A characters
    NFKD keeps (ß æ ø đ ł œ « » ¿ ...), a few common symbols. These get the ids
    below V3_COMMON_IDS, so that the probe speaks such text exactly."""
    chars = [chr(c) for c in range(0x20, 0x7F)]
    chars += _nfkd_marks_of_letters()
    chars += _unchanged_by_nfkd(0x00A1, 0x0100) + _unchanged_by_nfkd(0x0100, 0x0180)
    chars += ["\u2010", "\u2022", "\u2030", "\u2032", "\u2033", "\u20ac"]  # ‐ • ‰ ′ ″ €
    assert len(chars) == len(set(chars)) and len(chars) <= V3_COMMON_IDS, len(chars)
    return chars


# The rest of the scripts of Supertonic 3's languages, in id order after the
# common characters; CJK ideographs fill the ids that are left, then share them.
_V3_BLOCKS = [
    (0x00A0, 0x0250),   # Latin-1 Supplement, Latin Extended-A and -B
    (0x0300, 0x0370),   # combining diacritical marks
    (0x0370, 0x0400),   # Greek
    (0x0400, 0x0530),   # Cyrillic and its supplement
    (0x0600, 0x0700),   # Arabic
    (0x0900, 0x0980),   # Devanagari
    (0x1100, 0x1200),   # Hangul Jamo (what NFKD makes of Hangul syllables)
    (0x1E00, 0x1F00),   # Latin Extended Additional (Vietnamese, before NFKD)
    (0x2010, 0x205F),   # general punctuation
    (0x20A0, 0x20C1),   # currency symbols
    (0x3000, 0x3040),   # CJK symbols and punctuation (、。「」)
    (0x3040, 0x30A0),   # Hiragana
    (0x30A0, 0x3100),   # Katakana
    (0xFF01, 0xFF5F),   # full-width forms
]
_CJK_IDEOGRAPHS = (0x4E00, 0xA000)


def v3_indexer() -> list[int]:
    """65,536 entries -> ids 0..8321, every id used."""
    table = [-1] * 65536
    next_id = 0
    for ch in v3_common_chars():
        table[ord(ch)] = next_id
        next_id += 1
    for lo, hi in _V3_BLOCKS:
        for cp in range(lo, hi):
            if table[cp] < 0 and not 0xD800 <= cp <= 0xDFFF:
                table[cp] = next_id
                next_id += 1
    first_shared = next_id
    for k, cp in enumerate(range(*_CJK_IDEOGRAPHS)):
        table[cp] = first_shared + k % (V3_NUM_TEXT_IDS - first_shared)
    assert max(table) == V3_NUM_TEXT_IDS - 1
    return table


def _v3_style(name: str) -> dict:
    style = _fallback_style(name + "/supertonic-3")
    style["metadata"] = {"source_file": "generated", "name": name, "model": "supertonic-3"}
    return style


def write_assets(model_dir: Path, version: int = 2) -> None:
    """Writes onnx/tts.json, onnx/unicode_indexer.json and voice_styles/*.json
    for a Supertonic 2 (version 2) or 3 (version 3) model directory."""
    model_dir = Path(model_dir)
    onnx_dir = model_dir / "onnx"
    styles_dir = model_dir / "voice_styles"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    styles_dir.mkdir(parents=True, exist_ok=True)
    if version == 3:
        (onnx_dir / "tts.json").write_text(json.dumps(dict(_FALLBACK_TTS_JSON, tts_version="generated-v3"), indent=2))
        (onnx_dir / "unicode_indexer.json").write_text(json.dumps(v3_indexer()))
        for voice in VOICES:
            (styles_dir / f"{voice}.json").write_text(json.dumps(_v3_style(voice)))
        return
    if version != 2:
        raise ValueError(f"no Supertonic {version}: the versions are 2 and 3")
    if shared_available():
        for name in ("tts.json", "unicode_indexer.json"):
            shutil.copyfile(SHARED_MODEL / "onnx" / name, onnx_dir / name)
        for voice in VOICES:
            shutil.copyfile(SHARED_MODEL / "voice_styles" / f"{voice}.json", styles_dir / f"{voice}.json")
        return
    (onnx_dir / "tts.json").write_text(json.dumps(_FALLBACK_TTS_JSON, indent=2))
    (onnx_dir / "unicode_indexer.json").write_text(json.dumps(_fallback_indexer()))
    for voice in VOICES:
        (styles_dir / f"{voice}.json").write_text(json.dumps(_fallback_style(voice)))


def load_indexer(model_dir: Path) -> list[int]:
    return json.loads((Path(model_dir) / "onnx" / "unicode_indexer.json").read_text())
