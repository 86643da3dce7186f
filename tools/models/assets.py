"""Non-weight files of a Supertonic 2 model directory: tts.json, the character
indexer and the voice styles.

The real files are taken from ``../shared/models/supertonic-2`` when that folder
exists (it is beside the checkout on the team's machines and in CI). A fresh
clone without it gets generated equivalents with the same shapes, so every
generated model directory has the published layout either way.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_MODEL = REPO_ROOT.parent / "shared" / "models" / "supertonic-2"

VOICES = ["F1", "F2", "F3", "F4", "F5", "M1", "M2", "M3", "M4", "M5"]
NUM_TEXT_IDS = 163          # embedding rows of the real model (ids 0..161 used)
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


def write_assets(model_dir: Path) -> None:
    """Writes onnx/tts.json, onnx/unicode_indexer.json and voice_styles/*.json."""
    model_dir = Path(model_dir)
    onnx_dir = model_dir / "onnx"
    styles_dir = model_dir / "voice_styles"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    styles_dir.mkdir(parents=True, exist_ok=True)
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
