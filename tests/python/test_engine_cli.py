"""The C++ engine, driven through its command line, against the independent
Python reference implementation (tools/reference_pipeline.py)."""
from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tools.reference_pipeline import ReferencePipeline

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "build" / "bin" / "supertonic-tts"
FAITHFUL = REPO / "models" / "faithful"
PROBE = REPO / "models" / "probe"

pytestmark = pytest.mark.skipif(not BINARY.exists(), reason="build/bin/supertonic-tts not built (make build)")


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BINARY), *args], input=stdin, capture_output=True, text=True, timeout=300)


TEXTS = [
    ("en", "Hello, world"),
    ("en", "He said \u201cyes\u201d \u2014 then left\u2026 e.g., at 5 p.m. #tag [note] a/b @home"),
    ("ko", "안녕하세요, 반갑습니다"),
    ("es", "¿Dónde está la estación?"),
    ("pt", "Olá , como você está ?"),
    ("fr", "Ça va très bien, merci ! L\u2019été."),
    ("en", "emoji \U0001F600\U0001F680 and \u2603 gone, unknown \u4e2d\u6587 dropped"),
    ("en", "tabs\tand\nnewlines   collapse"),
    ("en", "''quoted'' \"\"twice\"\" ``ticks``"),
]


@pytest.mark.parametrize("lang,text", TEXTS)
def test_text_ids_match_reference(lang: str, text: str) -> None:
    reference = ReferencePipeline(PROBE, intra_op_threads=1)
    result = run_cli("ids", "--model-dir", str(PROBE), "--lang", lang, "--text", text)
    assert result.returncode == 0, result.stderr
    chunks = json.loads(result.stdout)
    assert len(chunks) == 1
    assert chunks[0]["preprocessed"] == reference.preprocess(text, lang)
    ids, unknown = reference.text_to_ids_with_unknown(text, lang)
    assert chunks[0]["ids"] == ids.tolist()
    assert chunks[0]["unknown_chars"] == unknown


@pytest.mark.parametrize("voice,lang,text,steps,speed", [
    ("F1", "en", "The quick brown fox jumps over the lazy dog near the river.", 2, 1.05),
    ("M3", "pt", "Olá, tudo bem com você hoje?", 5, 1.2),
])
def test_engine_matches_reference_with_same_noise(tmp_path: Path, voice, lang, text, steps, speed) -> None:
    reference = ReferencePipeline(FAITHFUL, intra_op_threads=2, allow_spinning=False)
    # First learn the latent length, then feed both implementations the same noise.
    probe_run = reference.synthesize([text], [lang], [voice], steps=1, speed=speed)[0]
    latent_len = math.ceil(len(probe_run) / 3072)
    noise = np.random.default_rng(7).standard_normal((1, 144, latent_len), dtype=np.float32)
    expected = reference.synthesize([text], [lang], [voice], steps=steps, speed=speed, noise=noise)[0]

    np.save(tmp_path / "noise.npy", noise)
    out = tmp_path / "cpp.wav"
    result = run_cli("synth", "--model-dir", str(FAITHFUL), "--voice", voice, "--lang", lang,
                     "--steps", str(steps), "--speed", str(speed), "--noise", str(tmp_path / "noise.npy"),
                     "--format", "float", "--threads", "2", "-o", str(out), stdin=text)
    assert result.returncode == 0, result.stderr
    got, rate = sf.read(out, dtype="float32")
    assert rate == 44100
    assert len(got) == len(expected)
    assert np.max(np.abs(got - expected)) < 1e-4
    assert np.sqrt(np.mean(expected**2)) > 1e-3  # real audio, not silence


def test_synth_on_probe_speaks_the_text(tmp_path: Path) -> None:
    from tools.probe_decode import decode_wav

    out = tmp_path / "probe.wav"
    result = run_cli("synth", "--model-dir", str(PROBE), "--voice", "F2", "--lang", "fr",
                     "--text", "Bonjour, ça va?", "--sample-rate", "16000", "-o", str(out))
    assert result.returncode == 0, result.stderr
    info = sf.info(out)
    assert info.samplerate == 16000 and info.subtype == "PCM_16"
    assert decode_wav(out, PROBE).text == "<fr>Bonjour, ça va?</fr>"


def test_missing_model_directory_says_how_to_get_one(tmp_path: Path) -> None:
    result = run_cli("synth", "--model-dir", str(tmp_path / "nowhere"), "--text", "hi", "-o", str(tmp_path / "x.wav"))
    assert result.returncode == 2
    assert "nowhere" in result.stderr
    assert "make models" in result.stderr
