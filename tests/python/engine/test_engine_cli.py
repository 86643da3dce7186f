"""The C++ engine, driven through its command line, against the independent
Python reference implementation (tools/reference_pipeline.py)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tools.reference_pipeline import ReferencePipeline

REPO = Path(__file__).resolve().parents[3]
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
    result = run_cli("ids", "--model-dir", str(PROBE), "--lang", lang, "--text", text, "--no-normalize")
    assert result.returncode == 0, result.stderr
    chunks = json.loads(result.stdout)
    assert len(chunks) == 1
    assert chunks[0]["normalized"] == text
    assert chunks[0]["preprocessed"] == reference.preprocess(text, lang)
    ids, unknown = reference.text_to_ids_with_unknown(text, lang)
    assert chunks[0]["ids"] == ids.tolist()
    assert chunks[0]["unknown_chars"] == unknown


@pytest.mark.slow
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


# --- synth --batch: one batched model call per stage, each item to its own WAV --


def write_batch(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


def run_batch(model_dir: Path, batch_file: Path, *extra: str) -> list[dict]:
    """Runs `synth --batch` (float WAVs, 2 steps); returns its stdout JSON."""
    result = run_cli("synth", "--batch", str(batch_file), "--model-dir", str(model_dir), "--steps", "2",
                     "--format", "float", *extra)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [Path(r["output"]).name for r in report] == [
        Path(json.loads(line)["output"]).name for line in batch_file.read_text().splitlines() if line.strip()]
    return report


def read_float_wav(path: Path) -> np.ndarray:
    samples, rate = sf.read(path, dtype="float32")
    assert rate == 44100
    return samples


# Mixed lengths (10..119 characters), voices, languages and speeds. At speed 1.3
# the last character keeps 11 ms of tone after the item is cut at its length,
# enough to decode (tools/probe_decode.py: "Limits").
PROBE_BATCH = [
    {"text": "Hello, Ann", "voice": "F1", "lang": "en", "speed": 0.9, "seed": 11},
    {"text": "오늘 날씨가 정말 좋네요. 산책하러 갈까요?", "voice": "M2", "lang": "ko", "speed": 1.1, "seed": 12},
    {"text": "¿Podrías decirme dónde queda la estación de tren más cercana?", "voice": "F3", "lang": "es",
     "speed": 1.2, "seed": 13},
    {"text": "Le petit déjeuner est servi de sept heures à dix heures ; ensuite, la salle ferme jusqu'au "
             "déjeuner, vers midi et demi.", "voice": "M4", "lang": "fr", "speed": 1.3, "seed": 14},
]


def test_batch_on_probe_speaks_each_text_and_equals_each_item_alone(tmp_path: Path) -> None:
    import unicodedata

    from tools.probe_decode import decode_wav
    from tools.reference_pipeline import preprocess

    items = [dict(item, output=f"batched_{i}.wav") for i, item in enumerate(PROBE_BATCH)]
    report = run_batch(PROBE, write_batch(tmp_path / "items.jsonl", items))
    assert len(report) == len(items)
    for i, item in enumerate(items):
        alone_dir = tmp_path / f"alone_{i}"
        alone_dir.mkdir()
        [alone_report] = run_batch(PROBE, write_batch(alone_dir / "item.jsonl", [dict(item, output="alone.wav")]))
        batched = read_float_wav(tmp_path / item["output"])
        alone = read_float_wav(alone_dir / "alone.wav")
        assert report[i]["output"] == str(tmp_path / item["output"])
        assert report[i]["samples"] == len(batched)
        assert report[i]["samples"] == alone_report["samples"], item["text"]
        assert report[i]["latent_frames"] == alone_report["latent_frames"]
        assert report[i]["duration_s"] == pytest.approx(len(batched) / 44100)
        assert len(batched) == len(alone)
        assert np.max(np.abs(batched - alone)) <= 1e-5, item["text"]
        want = unicodedata.normalize("NFC", preprocess(item["text"], item["lang"]))
        assert decode_wav(tmp_path / item["output"], PROBE).text == want


def test_batch_defaults_come_from_the_options_and_paths_from_the_file(tmp_path: Path) -> None:
    from tools.probe_decode import decode_wav

    (tmp_path / "sub" / "out").mkdir(parents=True)
    batch = write_batch(tmp_path / "sub" / "items.jsonl", [{"text": "Bonjour, ça va?", "output": "out/a.wav"}])
    result = run_cli("synth", "--batch", str(batch), "--model-dir", str(PROBE), "--lang", "fr", "--voice", "F2",
                     "--sample-rate", "16000")
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    out = tmp_path / "sub" / "out" / "a.wav"
    assert row["output"] == str(out)
    info = sf.info(out)
    assert info.samplerate == 16000 and info.subtype == "PCM_16"
    assert row["samples"] == info.frames  # what the file holds, at --sample-rate
    assert decode_wav(out, PROBE).text == "<fr>Bonjour, ça va?</fr>"
    assert "wrote 1 WAV files" in result.stderr


# Mixed lengths, voices, languages and speeds on the faithful model.
FAITHFUL_BATCH = [
    {"text": "Good morning.", "voice": "F1", "lang": "en", "speed": 1.0, "seed": 21},
    {"text": "¿Podrías decirme dónde queda la estación de tren más cercana, por favor?", "voice": "M2",
     "lang": "es", "speed": 1.15, "seed": 22},
    {"text": "The committee will meet again on Thursday afternoon to review the budget, the hiring plan and "
             "the schedule for the new building, before the board votes next month.", "voice": "F3",
     "lang": "en", "speed": 0.95, "seed": 23},
]


@pytest.mark.slow
def test_batch_with_noise_files_equals_synth_with_noise_per_item(tmp_path: Path) -> None:
    noise_items = []
    for i, item in enumerate(FAITHFUL_BATCH):
        # The item's latent length alone, for a noise array of exactly that length.
        probe_dir = tmp_path / f"length_{i}"
        probe_dir.mkdir()
        [alone] = run_batch(FAITHFUL, write_batch(probe_dir / "item.jsonl", [dict(item, output="a.wav")]),
                            "--threads", "2")
        noise = np.random.default_rng(100 + i).standard_normal((1, 144, alone["latent_frames"]), dtype=np.float32)
        np.save(tmp_path / f"noise_{i}.npy", noise)
        noise_items.append({k: v for k, v in item.items() if k != "seed"} | {
            "noise": f"noise_{i}.npy", "output": f"batched_{i}.wav"})

    alone_wavs = []
    for i, item in enumerate(FAITHFUL_BATCH):
        out = tmp_path / f"alone_{i}.wav"
        result = run_cli("synth", "--model-dir", str(FAITHFUL), "--voice", item["voice"], "--lang", item["lang"],
                         "--steps", "2", "--speed", str(item["speed"]), "--noise", str(tmp_path / f"noise_{i}.npy"),
                         "--format", "float", "--threads", "2", "-o", str(out), "--text", item["text"])
        assert result.returncode == 0, result.stderr
        alone_wavs.append(read_float_wav(out))

    run_batch(FAITHFUL, write_batch(tmp_path / "items.jsonl", noise_items), "--threads", "2")
    deviations = []
    for i, alone in enumerate(alone_wavs):
        batched = read_float_wav(tmp_path / f"batched_{i}.wav")
        common = min(len(alone), len(batched))
        deviations.append((len(alone), len(batched), float(np.max(np.abs(alone[:common] - batched[:common])))))
    figures = "per item (samples alone, samples batched, max abs difference): " + repr(deviations)
    for (alone_len, batched_len, max_diff), alone in zip(deviations, alone_wavs):
        assert np.sqrt(np.mean(alone**2)) > 1e-3  # real audio, not silence
        assert alone_len == batched_len, figures
        assert max_diff < 1e-4, figures


def batch_error(tmp_path: Path, lines: list[str], *extra: str) -> subprocess.CompletedProcess:
    batch = tmp_path / "items.jsonl"
    batch.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    result = run_cli("synth", "--batch", str(batch), "--model-dir", str(PROBE), *extra)
    assert result.returncode != 0
    assert not list(tmp_path.glob("*.wav")), "nothing may be written when the batch is refused"
    return result


def test_batch_refuses_an_unknown_key(tmp_path: Path) -> None:
    result = batch_error(tmp_path, ['{"text": "Hello.", "output": "a.wav", "speeed": 1.2}'])
    assert "line 1" in result.stderr and '"speeed"' in result.stderr


def test_batch_refuses_an_item_without_output(tmp_path: Path) -> None:
    result = batch_error(tmp_path, ['{"text": "Hello.", "output": "a.wav"}', '{"text": "Bye."}'])
    assert "line 2" in result.stderr and 'missing "output"' in result.stderr


def test_batch_names_the_line_with_bad_json(tmp_path: Path) -> None:
    result = batch_error(tmp_path, ['{"text": "Hello.", "output": "a.wav"}', '{"text": "Bye.", "output": b.wav}'])
    assert "line 2" in result.stderr and "bad JSON" in result.stderr


def test_batch_refuses_wrong_types(tmp_path: Path) -> None:
    result = batch_error(tmp_path, ['{"text": "Hello.", "output": "a.wav"}', "",
                                    '{"text": "Bye.", "output": "b.wav", "seed": -3}'])
    assert "line 3" in result.stderr and '"seed" must be an unsigned integer' in result.stderr
    result = batch_error(tmp_path, ['{"text": 5, "output": "a.wav"}'])
    assert "line 1" in result.stderr and '"text" must be a string' in result.stderr


def test_batch_refuses_more_than_256_items(tmp_path: Path) -> None:
    lines = [json.dumps({"text": "Hi.", "output": f"{i}.wav"}) for i in range(257)]
    result = batch_error(tmp_path, lines)
    assert "line 257" in result.stderr and "more than 256" in result.stderr


def test_batch_refuses_a_noise_file_of_the_wrong_shape(tmp_path: Path) -> None:
    np.save(tmp_path / "flat.npy", np.zeros((144, 20), dtype=np.float32))
    result = batch_error(tmp_path, ['{"text": "Hello.", "output": "a.wav"}',
                                    '{"text": "Bye.", "output": "b.wav", "noise": "flat.npy"}'])
    assert "line 2" in result.stderr and "shape [144, 20]" in result.stderr
    # The right rank, the wrong length: the engine knows the length, the hint says how to learn it.
    np.save(tmp_path / "short.npy", np.zeros((1, 144, 1), dtype=np.float32))
    result = batch_error(tmp_path, ['{"text": "Hello there, how are you?", "output": "a.wav", "noise": "short.npy"}'])
    assert "latent_frames" in result.stderr


def test_batch_excludes_text_and_noise(tmp_path: Path) -> None:
    result = batch_error(tmp_path, ['{"text": "Hello.", "output": "a.wav"}'], "--text", "Hello.")
    assert "--batch" in result.stderr and "--text" in result.stderr
    np.save(tmp_path / "noise.npy", np.zeros((1, 144, 20), dtype=np.float32))
    result = batch_error(tmp_path, ['{"text": "Hello.", "output": "a.wav"}'], "--noise", str(tmp_path / "noise.npy"))
    assert "--batch" in result.stderr and "--noise" in result.stderr


def test_no_pad_rewrite_is_an_engine_flag() -> None:
    result = run_cli("synth", "--help")
    assert result.returncode == 0
    assert "--no-pad-rewrite" in result.stdout


def test_batch_exactness_tool_on_probe(tmp_path: Path) -> None:
    out = tmp_path / "batch_exactness.json"
    result = subprocess.run([sys.executable, "-m", "tools.batch_exactness", "--model-dir", str(PROBE), "--steps", "2",
                             "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "worst:" in result.stdout
    data = json.loads(out.read_text())
    assert data["model_dir"] == str(PROBE) and data["steps"] == 2 and data["pad_rewrite"] is True
    assert "tools.batch_exactness" in data["command"]
    assert len(data["items"]) >= 6
    assert {row["lang"] for row in data["items"]} == {"en", "ko", "es", "pt", "fr"}
    for row in data["items"]:
        assert row["equal_length"] and row["samples_alone"] == row["samples_batched"] > 0, row
        assert row["max_abs_diff"] < 1e-5, row
    assert data["worst"]["all_lengths_equal"] and data["worst"]["max_abs_diff"] < 1e-5


# --- Model profiles: detected from the files; Supertonic 3 on models/probe-v3 ---

PROBE_V3 = REPO / "models" / "probe-v3"
V3_LANGUAGES = ["en", "ko", "ja", "ar", "bg", "cs", "da", "de", "el", "es", "et", "fi", "fr", "hi", "hr", "hu", "id",
                "it", "lt", "lv", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "tr", "uk", "vi", "na"]


def profile_of(model_dir: Path) -> tuple[dict, str]:
    result = run_cli("ids", "--model-dir", str(model_dir), "--profile")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_ids_profile_of_supertonic_2_is_todays_behaviour() -> None:
    profile, log = profile_of(PROBE)
    assert profile["name"] == "supertonic-2" and profile["version"] == 2
    assert profile["languages"] == ["en", "ko", "es", "pt", "fr"]
    assert profile["chunk_chars"] == 300 and profile["chunk_chars_by_lang"] == {"ko": 120}
    assert profile["steps"] == {"default": 2, "min": 1, "max": 64}
    assert profile["speed"] == {"default": 1.05, "min": 0.0, "max": 10.0, "range": "(0, 10]"}
    assert profile["expression_tags"] == []
    assert "largest id" in profile["detected_by"]      # the probe has no embedding table
    assert "model: supertonic-2 (" in log              # the decision, with its evidence, on stderr
    faithful, _ = profile_of(FAITHFUL)
    assert faithful["name"] == "supertonic-2" and faithful["detected_by"] == "text encoder embedding: 163 rows"


def test_ids_profile_of_supertonic_3() -> None:
    profile, log = profile_of(PROBE_V3)
    assert profile["name"] == "supertonic-3" and profile["version"] == 3
    assert profile["languages"] == V3_LANGUAGES
    assert profile["chunk_chars"] == 150 and profile["chunk_chars_by_lang"] == {"ja": 120, "ko": 120}
    assert profile["steps"]["default"] == 8
    assert profile["speed"] == {"default": 1.05, "min": 0.7, "max": 2.0, "range": "[0.7, 2]"}
    assert profile["expression_tags"] == ["<laugh>", "<breath>", "<surprise>", "<sigh>", "<scream>", "<throatclear>",
                                          "<sad>", "<angry>", "<cough>", "<yawn>"]
    assert profile["detected_by"] == "text encoder embedding: 8322 rows"
    assert "model: supertonic-3 (text encoder embedding: 8322 rows)" in log


def ids_of(model_dir: Path, lang: str, text: str, *extra: str) -> list[dict]:
    result = run_cli("ids", "--model-dir", str(model_dir), "--lang", lang, "--text", text, *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ids_keeps_tags_for_supertonic_3_and_removes_them_for_supertonic_2() -> None:
    text = "That was hilarious <LAUGH> really <breath>"
    [v3] = ids_of(PROBE_V3, "en", text)
    assert v3["preprocessed"] == "<en>That was hilarious <laugh> really. <breath></en>"
    assert v3["unknown_chars"] == 0
    [v2] = ids_of(PROBE, "en", text)
    assert v2["chunk"] == text
    assert v2["preprocessed"] == "<en>That was hilarious really.</en>"
    [plain] = ids_of(PROBE, "en", "That was hilarious really")
    assert v2["ids"] == plain["ids"]


def test_ids_chunks_at_the_profiles_limits() -> None:
    text = " ".join(f"Satz Nummer {i} ist hier." for i in range(12))   # 289 characters
    v3 = ids_of(PROBE_V3, "de", text)
    assert [len(c["chunk"]) for c in v3] == [143, 145]
    assert len(ids_of(PROBE, "en", text)) == 1                         # Supertonic 2: up to 300
    assert len(ids_of(PROBE_V3, "de", text, "--max-chunk-chars", "300")) == 1
    japanese = "今日はいい天気ですね。" * 12                                  # 132 characters, limit 120
    assert [len(c["chunk"]) for c in ids_of(PROBE_V3, "ja", japanese)] == [110, 22]


def test_ids_refuses_a_language_the_model_does_not_speak() -> None:
    result = run_cli("ids", "--model-dir", str(PROBE), "--lang", "de", "--text", "Hallo")
    assert result.returncode == 1
    assert "unsupported language 'de'; this model (supertonic-2) speaks: en ko es pt fr" in result.stderr
    result = run_cli("ids", "--model-dir", str(PROBE_V3), "--lang", "xx", "--text", "hi")
    assert result.returncode == 1
    assert "this model (supertonic-3) speaks: " + " ".join(V3_LANGUAGES) in result.stderr


@pytest.mark.parametrize("lang,text", [
    ("de", "Grüße aus München, wie geht's?"),
    ("it", "Perché così tardi?"),
    ("vi", "Tiếng Việt có dấu."),
    ("na", "Kia ora, e hoa."),
])
def test_synth_on_probe_v3_speaks_its_languages(tmp_path: Path, lang: str, text: str) -> None:
    from tools.probe_decode import decode_wav

    out = tmp_path / f"{lang}.wav"
    result = run_cli("synth", "--model-dir", str(PROBE_V3), "--voice", "M1", "--lang", lang, "--speed", "1.0",
                     "--text", text, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "supertonic-3, 8 steps" in result.stderr     # the profile's default steps
    assert decode_wav(out, PROBE_V3).text == f"<{lang}>{text}</{lang}>"


def test_synth_steps_and_speed_default_to_the_profile_and_can_be_given(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    result = run_cli("synth", "--model-dir", str(PROBE), "--text", "Hi.", "-o", str(out))
    assert result.returncode == 0 and "supertonic-2, 2 steps" in result.stderr, result.stderr
    result = run_cli("synth", "--model-dir", str(PROBE_V3), "--text", "Hi.", "--steps", "3", "-o", str(out))
    assert result.returncode == 0 and "supertonic-3, 3 steps" in result.stderr, result.stderr
    result = run_cli("synth", "--model-dir", str(PROBE_V3), "--text", "Hi.", "--speed", "0.5", "-o", str(out))
    assert result.returncode == 1
    assert "speed must be in [0.7, 2] for supertonic-3, got 0.5" in result.stderr


def test_synth_batch_checks_lines_against_the_profile(tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "items.jsonl", [{"text": "Hallo.", "lang": "de", "output": "a.wav"},
                                                   {"text": "Hello.", "output": "b.wav", "speed": 3.0}])
    result = run_cli("synth", "--batch", str(batch), "--model-dir", str(PROBE_V3))
    assert result.returncode != 0
    assert "line 2" in result.stderr and "[0.7, 2]" in result.stderr
    assert not list(tmp_path.glob("*.wav"))
    result = run_cli("synth", "--batch", str(batch), "--model-dir", str(PROBE))
    assert "line 1" in result.stderr and "this model (supertonic-2) speaks: en ko es pt fr" in result.stderr


def test_runaway_durations_are_clamped_and_logged(tmp_path: Path) -> None:
    from tools.models.probe import build_probe
    from tools.probe_decode import decode_wav

    model = tmp_path / "runaway"
    build_probe(model, char_seconds=1.5)
    out = tmp_path / "a.wav"
    result = run_cli("synth", "--model-dir", str(model), "--text", "Hello", "--speed", "1.0", "--format", "float",
                     "-o", str(out))
    assert result.returncode == 0, result.stderr
    n_ids = len("<en>Hello.</en>")
    assert f"runaway duration clamped: item 0 (5 characters of text, {n_ids} ids) predicted 22.50 s" in result.stderr
    assert sf.info(out).frames == int(0.4 * n_ids * 44100)       # 0.4 s per id, not 1.5
    assert decode_wav(out, model).text == "<en>Hello.</en>"
