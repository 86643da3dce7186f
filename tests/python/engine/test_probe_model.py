"""The probe model, the Python reference pipeline and the probe decoder,
checked against each other: text in, audio out, the same text decoded back."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import onnx
import pytest

from tools import probe_decode
from tools.models import probe
from tools.models.probe import CHAR_SECONDS, build_probe
from tools.probe_decode import decode_samples, decode_wav, load_indexer, read_wav
from tools.reference_pipeline import ReferencePipeline, preprocess

ort = pytest.importorskip("onnxruntime")

RATE = 44100
FRAME = 3072
FRAME_S = FRAME / RATE
OUTPUT_RATES = [8000, 16000, 22050, 24000, 48000]
REPO_ROOT = Path(__file__).resolve().parents[3]

from tools.models.interface import B, F, I64, L, SIGNATURES, T  # noqa: F401

HELLO = "Hello world."
PORTUGUESE = "Olá, tudo bem? Não há ação sem coração."
KOREAN = "안녕하세요, 반갑습니다."
LONG_TEXT = (
    "The quick brown fox jumps over the lazy dog, while five boxing wizards jump quickly; "
    "pack my box with five dozen liquor jugs, then sphinx of black quartz, judge my vow!"
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("probe")
    build_probe(path)
    return path


@pytest.fixture(scope="module")
def pipe(model_dir) -> ReferencePipeline:
    return ReferencePipeline(model_dir, intra_op_threads=1, allow_spinning=False)


@pytest.fixture(scope="module")
def indexer(model_dir) -> list[int]:
    return load_indexer(model_dir)


def tagged(text: str, lang: str) -> str:
    """What the decoder should read back: the preprocessed text, recomposed."""
    return unicodedata.normalize("NFC", preprocess(text, lang))


def resample(x: np.ndarray, sr_in: int, sr_out: int, zeros: int = 24, beta: float = 8.6) -> np.ndarray:
    """Band-limited polyphase resampling: Kaiser-windowed sinc, cut off at 94%
    of the lower Nyquist frequency (quality comparable to libsoxr's defaults)."""
    x = np.asarray(x, dtype=np.float64)
    g = math.gcd(sr_in, sr_out)
    up, down = sr_out // g, sr_in // g
    cutoff = 0.94 * min(1.0, up / down)
    half = int(np.ceil(zeros / cutoff))
    taps = np.arange(-half + 1, half + 1)
    # One filter per output phase p: output m sits at input position
    # (m*down)/up = base + p/up, and tap k reads input base + k.
    d = np.arange(up)[:, None] / up - taps[None, :]
    window = np.i0(beta * np.sqrt(np.clip(1.0 - (d / half) ** 2, 0.0, None))) / np.i0(beta)
    filters = cutoff * np.sinc(cutoff * d) * window
    padded = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    n_out = int(np.ceil(len(x) * up / down))
    y = np.empty(n_out)
    for s in range(0, n_out, 4096):
        m = np.arange(s, min(n_out, s + 4096))
        base, phase = np.divmod(m * down, up)
        windows = padded[(base + half)[:, None] + taps[None, :]]
        y[s : s + len(m)] = np.einsum("mk,mk->m", windows, filters[phase])
    return y


def pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x) * 32767.0), -32768, 32767).astype(np.int16)


def expected_samples(n_tokens: int, speed: float) -> int:
    """The engine's arithmetic: float32 duration / speed * 44100, truncated."""
    duration = np.float32(np.float32(n_tokens) * np.float32(CHAR_SECONDS)) / np.float32(speed)
    return int(np.float32(duration) * np.float32(RATE))


def last_tone_samples(n_tokens: int, speed: float) -> int:
    """Samples of sound left to the last character after the item is trimmed."""
    wav_len = expected_samples(n_tokens, speed)
    frames = math.ceil(wav_len / FRAME)
    first = math.ceil((n_tokens - 1) * frames / n_tokens)   # first frame of the last token
    return wav_len - first * FRAME - probe.GAP_SAMPLES


# -- the graphs ------------------------------------------------------------


@pytest.mark.parametrize("graph", list(SIGNATURES))
def test_graph_interface(model_dir, graph):
    model = onnx.load(str(model_dir / "onnx" / f"{graph}.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == 9
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17

    def signature(values):
        out = []
        for v in values:
            dims = [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            out.append((v.name, v.type.tensor_type.elem_type, dims))
        return out

    want_in, want_out = SIGNATURES[graph]
    assert signature(model.graph.input) == want_in
    got_out = signature(model.graph.output)
    assert [(n, t) for n, t, _ in got_out] == [(n, t) for n, t, _ in want_out]
    for (_, _, got), (_, _, want) in zip(got_out, want_out):
        assert len(got) == len(want)
        assert all(w is None or g == w for g, w in zip(got, want))
    session = ort.InferenceSession(str(model_dir / "onnx" / f"{graph}.onnx"))
    assert [i.name for i in session.get_inputs()] == [n for n, _, _ in want_in]


def test_layout(model_dir):
    names = {p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file()}
    for graph in SIGNATURES:
        assert f"onnx/{graph}.onnx" in names
    assert {"onnx/tts.json", "onnx/unicode_indexer.json", "voice_styles/F1.json", "voice_styles/M5.json"} <= names
    config = json.loads((model_dir / "onnx" / "tts.json").read_text())
    assert config["ae"]["sample_rate"] == RATE
    assert config["ae"]["base_chunk_size"] * config["ttl"]["chunk_compress_factor"] == FRAME


def test_decoder_constants_match_probe():
    assert probe_decode.LO_BINS == probe.LO_BINS
    assert probe_decode.HI_BINS == probe.HI_BINS
    assert probe_decode.GAP_SAMPLES == probe.GAP_SAMPLES
    assert probe_decode.FRAME_SAMPLES == probe.FRAME_SAMPLES == FRAME


def test_indexer_ids_fit_the_code(indexer):
    assert max(indexer) <= probe.MAX_ID


def test_vector_estimator_guards_empty_masks(model_dir):
    session = ort.InferenceSession(str(model_dir / "onnx" / "vector_estimator.onnx"))
    feeds = {
        "noisy_latent": np.full((2, 144, 4), np.nan, np.float32),
        "text_emb": np.ones((2, 256, 3), np.float32),
        "style_ttl": np.zeros((2, 50, 256), np.float32),
        "latent_mask": np.array([[[0, 0, 0, 0]], [[1, 1, 1, 0]]], np.float32),
        "text_mask": np.array([[[1, 1, 0]], [[0, 0, 0]]], np.float32),
        "current_step": np.zeros(2, np.float32),
        "total_step": np.full(2, 2, np.float32),
    }
    (out,) = session.run(None, feeds)
    assert out.shape == (2, 144, 4)
    assert np.isfinite(out).all()                 # noise (NaN here) is ignored
    assert not out[0].any()                       # no valid frames: all zero
    assert not out[:, 3:].any()
    assert (out[1, 2] == [1, 1, 1, 0]).all()


def test_vector_estimator_assigns_frames_to_tokens(model_dir):
    session = ort.InferenceSession(str(model_dir / "onnx" / "vector_estimator.onnx"))
    tv, lv, total = 3, 7, 9
    text_emb = np.zeros((1, 256, 4), np.float32)
    text_emb[0, 0, :3] = [10, 20, 30]
    feeds = {
        "noisy_latent": np.zeros((1, 144, total), np.float32),
        "text_emb": text_emb,
        "style_ttl": np.zeros((1, 50, 256), np.float32),
        "latent_mask": (np.arange(total) < lv).astype(np.float32)[None, None],
        "text_mask": (np.arange(4) < tv).astype(np.float32)[None, None],
        "current_step": np.zeros(1, np.float32),
        "total_step": np.ones(1, np.float32),
    }
    (out,) = session.run(None, feeds)
    idx = [min(l * tv // lv, tv - 1) for l in range(lv)]
    assert out[0, 0].tolist() == [float(10 * (i + 1)) for i in idx] + [0.0, 0.0]
    assert out[0, 1].tolist() == [1, 0, 0, 1, 0, 1, 0, 0, 0]


def test_vocoder_is_frame_causal(model_dir):
    session = ort.InferenceSession(str(model_dir / "onnx" / "vocoder.onnx"))
    rng = np.random.default_rng(3)
    latent = np.zeros((1, 144, 6), np.float32)
    latent[0, 0] = rng.integers(0, 162, 6)
    latent[0, 1] = [1, 0, 1, 1, 0, 0]
    latent[0, 2] = 1
    (full,) = session.run(None, {"latent": latent})
    for k in range(1, 6):
        (part,) = session.run(None, {"latent": latent[:, :, :k]})
        np.testing.assert_array_equal(part, full[:, : k * FRAME])
    assert not full[0, :512].any() and full[0, 512:FRAME].any()
    assert full[0, FRAME : FRAME + 512].any()     # a continuing frame has no gap


# -- reference pipeline ------------------------------------------------------


@pytest.mark.parametrize(
    "text, lang, want",
    [
        ("Hello world", "en", "<en>Hello world.</en>"),
        ("  Hi   there !  ", "en", "<en>Hi there!</en>"),
        ("Wait—what…", "en", "<en>Wait-what...</en>"),   # NFKD turns … into ...
        ("\u201cQuoted\u201d", "en", '<en>"Quoted"</en>'),
        ("a_b [c] d|e/f #g", "fr", "<fr>a b c d e f g.</fr>"),
        ("Mail me@home, e.g., now", "en", "<en>Mail me at home, for example, now.</en>"),
        ("I ♥ you 😀", "es", "<es>I you.</es>"),
        ("It''s", "en", "<en>It's.</en>"),
    ],
)
def test_preprocess(text, lang, want):
    assert preprocess(text, lang) == want


def test_preprocess_rejects_unknown_language():
    with pytest.raises(ValueError):
        preprocess("hi", "de")


def test_unknown_characters_are_dropped_and_counted(pipe):
    ids, unknown = pipe.text_to_ids_with_unknown("a\U0001D11Eb\u4E2Dc", "en")   # 𝄞 and 中
    assert unknown == 2
    assert (ids >= 0).all()
    assert len(ids) == len("<en>abc.</en>")


def test_noise_is_ignored_by_the_probe(pipe):
    a = pipe.synthesize([HELLO], ["en"], ["F1"], seed=1)[0]
    b = pipe.synthesize([HELLO], ["en"], ["F1"], seed=2)[0]
    np.testing.assert_array_equal(a, b)
    frames = math.ceil(expected_samples(len(pipe.text_to_ids(HELLO, "en")), 1.05) / FRAME)
    c = pipe.synthesize([HELLO], ["en"], ["F1"], noise=np.ones((1, 144, frames), np.float32))[0]
    np.testing.assert_array_equal(a, c)


# -- decoding --------------------------------------------------------------


@pytest.mark.parametrize(
    "text, lang, voice",
    [(HELLO, "en", "F1"), (PORTUGUESE, "pt", "M2"), (KOREAN, "ko", "F3"), ("¿Qué tal, señor?", "es", "M4")],
)
def test_decodes_text_with_tags(pipe, indexer, text, lang, voice):
    [wav] = pipe.synthesize([text], [lang], [voice])
    result = decode_samples(wav, RATE, indexer)
    assert result.text == tagged(text, lang)
    assert result.raw_text == preprocess(text, lang)
    assert all(c.fit > 0.99 for c in result.chars)


def test_hello_world_exactly(pipe, indexer):
    [wav] = pipe.synthesize([HELLO], ["en"], ["F1"])
    assert decode_samples(wav, RATE, indexer).text == "<en>Hello world.</en>"


def test_batch_items_do_not_interfere(pipe, indexer):
    texts = [HELLO, PORTUGUESE, KOREAN]
    langs = ["en", "pt", "ko"]
    voices = ["F1", "M2", "F5"]
    batch = pipe.synthesize(texts, langs, voices)
    for text, lang, voice, wav in zip(texts, langs, voices, batch):
        assert decode_samples(wav, RATE, indexer).text == tagged(text, lang)
        [alone] = pipe.synthesize([text], [lang], [voice])
        np.testing.assert_array_equal(wav, alone)


@pytest.mark.parametrize("speed", [0.8, 1.05, 1.5])
def test_durations(pipe, indexer, speed):
    text = "Timing test, one two three." if speed != 1.5 else "Timing test, one, two."
    n_tokens = len(pipe.text_to_ids(text, "en"))
    assert last_tone_samples(n_tokens, speed) > 0.005 * RATE   # see test_last_character_limit
    [wav] = pipe.synthesize([text], ["en"], ["M1"], speed=speed)
    assert len(wav) == expected_samples(n_tokens, speed)
    assert abs(len(wav) - n_tokens * CHAR_SECONDS / speed * RATE) <= 1
    result = decode_samples(wav, RATE, indexer)
    assert result.text == tagged(text, "en")
    per_char = CHAR_SECONDS / speed
    for c in result.chars[:-1]:
        assert abs(c.duration_s - per_char) < FRAME_S, c
        frames = c.duration_s / FRAME_S                          # whole frames, measured to < 1 ms
        assert abs(frames - round(frames)) * FRAME_S < 0.001, c
    starts = [c.start_s for c in result.chars]
    assert starts[0] < 0.001
    assert abs(sum(c.duration_s for c in result.chars) - len(wav) / RATE) < 0.002


@pytest.mark.parametrize("speed", [0.8, 1.5])
def test_long_text(pipe, indexer, speed):
    text = LONG_TEXT if speed != 1.5 else LONG_TEXT.replace("quickly", "quickly,")
    n_tokens = len(pipe.text_to_ids(text, "en"))
    assert n_tokens >= 150
    assert last_tone_samples(n_tokens, speed) > 0.005 * RATE
    [wav] = pipe.synthesize([text], ["en"], ["F2"], speed=speed)
    assert decode_samples(wav, RATE, indexer).text == tagged(text, "en")
    low = resample(wav, RATE, 8000)
    assert decode_samples(pcm16(low), 8000, indexer).text == tagged(text, "en")


def test_last_character_limit(pipe, indexer):
    """The item is cut at its exact length; at speeds where a character gets a
    single frame, what is left of the last one can fall inside its gap."""
    for speed, text in [(1.5, "abcd"), (1.5, "abcdefg"), (1.05, "abcd"), (1.05, "abcdefghijk")]:
        n_tokens = len(pipe.text_to_ids(text, "en"))
        [wav] = pipe.synthesize([text], ["en"], ["F1"], speed=speed)
        got = decode_samples(wav, RATE, indexer).text
        want = tagged(text, "en")
        if last_tone_samples(n_tokens, speed) <= 0:
            assert got == want[:-1], (speed, text)
        else:
            assert got == want, (speed, text)


@pytest.mark.parametrize("rate", OUTPUT_RATES)
def test_resampled_pcm16(pipe, indexer, rate):
    texts, langs = [HELLO, PORTUGUESE, KOREAN], ["en", "pt", "ko"]
    for text, lang, wav in zip(texts, langs, pipe.synthesize(texts, langs, ["F1", "M1", "F2"])):
        audio = pcm16(resample(wav, RATE, rate))
        result = decode_samples(audio, rate, indexer)
        assert result.text == tagged(text, lang), rate
        per_char = CHAR_SECONDS / 1.05
        for c in result.chars[:-1]:
            assert abs(c.duration_s - per_char) < FRAME_S, (rate, c)
            frames = c.duration_s / FRAME_S
            assert abs(frames - round(frames)) * FRAME_S < 0.001, (rate, c)
        assert abs(result.chars[-1].start_s + result.chars[-1].duration_s - len(wav) / RATE) < 0.001


@pytest.mark.parametrize("pad_ms", [0, 3, 19, 300])
@pytest.mark.parametrize("rate", [RATE, 16000, 8000])
def test_concatenated_segments(pipe, indexer, pad_ms, rate):
    texts, langs = ["First segment.", "Segundo segmento, olá!", "Third."], ["en", "pt", "en"]
    wavs = [pipe.synthesize([t], [lang], ["M3"])[0] for t, lang in zip(texts, langs)]
    pad = np.zeros(int(pad_ms / 1000 * RATE), np.float32)
    audio = np.concatenate([np.zeros(2000, np.float32)] + [np.concatenate([w, pad]) for w in wavs] + [pad])
    if rate != RATE:
        audio = resample(audio, RATE, rate)
    result = decode_samples(pcm16(audio), rate, indexer)
    assert result.text == "".join(tagged(t, lang) for t, lang in zip(texts, langs))
    if pad_ms >= 20:
        assert [s.text for s in result.segments] == [tagged(t, lang) for t, lang in zip(texts, langs)]
        first = result.segments[0]
        assert abs(first.start_s - 2000 / RATE) < 0.002
        assert abs(first.end_s - first.start_s - len(wavs[0]) / RATE) < 0.002


def test_silence_decodes_to_nothing(indexer):
    assert decode_samples(np.zeros(RATE, np.float32), RATE, indexer).text == ""
    assert decode_samples(np.zeros(0, np.float32), RATE, indexer).text == ""
    dither = np.random.default_rng(0).integers(-2, 3, 8000).astype(np.int16)
    result = decode_samples(dither, 8000, indexer)
    assert result.text == "" and result.chars == []


def test_leading_and_trailing_silence(pipe, indexer):
    [wav] = pipe.synthesize([HELLO], ["en"], ["F1"])
    audio = np.concatenate([np.zeros(5000, np.float32), wav, np.zeros(9000, np.float32)])
    result = decode_samples(audio, RATE, indexer)
    assert result.text == tagged(HELLO, "en")
    assert abs(result.chars[0].start_s - 5000 / RATE) < 0.002


# -- the command -------------------------------------------------------------


@pytest.mark.parametrize("subtype, rate", [("FLOAT", RATE), ("PCM_16", RATE), ("PCM_16", 16000), ("PCM_24", 24000)])
def test_command_line(pipe, model_dir, tmp_path, subtype, rate):
    sf = pytest.importorskip("soundfile")
    [wav] = pipe.synthesize([PORTUGUESE], ["pt"], ["F4"])
    audio = wav if rate == RATE else resample(wav, RATE, rate)
    path = tmp_path / "out.wav"
    sf.write(str(path), audio, rate, subtype=subtype)
    samples, got_rate = read_wav(path)
    assert got_rate == rate
    np.testing.assert_allclose(samples, sf.read(str(path))[0], atol=1e-7)
    assert decode_wav(path, model_dir).text == tagged(PORTUGUESE, "pt")

    script = REPO_ROOT / "tools" / "probe_decode.py"
    run = [sys.executable, str(script), str(path), "--model-dir", str(model_dir)]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert out.strip() == tagged(PORTUGUESE, "pt")
    raw = subprocess.run(run + ["--raw"], capture_output=True, text=True, check=True).stdout
    assert raw.strip() == preprocess(PORTUGUESE, "pt")
    data = json.loads(subprocess.run(run + ["--json"], capture_output=True, text=True, check=True).stdout)
    assert data["text"] == tagged(PORTUGUESE, "pt")
    assert data["sample_rate"] == rate
    assert "".join(c["char"] for c in data["chars"]) == preprocess(PORTUGUESE, "pt")
    assert {"char", "id", "start_s", "duration_s"} <= set(data["chars"][0])


@pytest.mark.parametrize("rate", OUTPUT_RATES)
def test_resampler_used_here_is_accurate(rate):
    """The test resampler itself: probe frequencies pass unchanged."""
    n = np.arange(RATE // 4)
    for freq in (301.5, 1593.7, 2799.5):
        out = resample(np.sin(2 * np.pi * freq * n / RATE), RATE, rate)
        m = np.arange(len(out))
        want = np.sin(2 * np.pi * freq * m / rate)
        core = slice(len(out) // 8, -len(out) // 8)
        assert np.abs(out[core] - want[core]).max() < 1e-3, (rate, freq)


# -- the Supertonic 3 probe (--version 3) ---------------------------------------

from tools.models import assets  # noqa: E402

V3_ROWS = 8322
# Latin-script text of Supertonic 3's languages (vi, ro, tr, lv, ... after NFKD):
# every character below the 176 ids the tones carry, so each reads back exactly.
LATIN_SAMPLES = {
    "de": "Grüße aus München, schön!", "fr": "Où est l'hôtel? Ça va, merci.", "es": "¿Dónde está? ¡Mañana!",
    "pt": "Não há ação sem coração.", "it": "Perché così tardi?", "vi": "Tiếng Việt có dấu, đẹp lắm.",
    "pl": "Zażółć gęślą jaźń.", "cs": "Příliš žluťoučký kůň.", "tr": "Şişli'de ılık, İyi günler, ağaç.",
    "ro": "Știință și țară.", "hu": "Árvíztűrő tükörfúrógép.", "lv": "Ķēķis, ģimene, ļoti.",
    "lt": "Ąžuolas, ėjo, ūkis.", "et": "Õun ja öö.", "fi": "Hyvää yötä.", "sv": "Hej på dig, åsna.",
    "da": "Rødgrød med fløde, æble.", "nl": "Een ĳsje, graag.", "hr": "Đak, čaša, ćup.", "sk": "Ďakujem, ľad.",
    "sl": "Čaša, šola, žaba.", "id": "Selamat pagi.", "en": "Hello <laugh> there.", "na": "Kia ora.",
}


class V3Pipeline(ReferencePipeline):
    """The reference loop on the v3 probe: the text frontend is NFKD and the
    language tags only (the samples already end in punctuation)."""

    def preprocess(self, text: str, lang: str) -> str:
        return f"<{lang}>{unicodedata.normalize('NFKD', text)}</{lang}>"


@pytest.fixture(scope="module")
def v3_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("probe-v3")
    build_probe(path, version=3)
    return path


@pytest.fixture(scope="module")
def v3_pipe(v3_dir) -> V3Pipeline:
    return V3Pipeline(v3_dir, intra_op_threads=1, allow_spinning=False)


@pytest.mark.parametrize("graph", list(SIGNATURES))
def test_v3_graph_interface_is_v2s(v3_dir, graph):
    model = onnx.load(str(v3_dir / "onnx" / f"{graph}.onnx"))
    onnx.checker.check_model(model, full_check=True)
    names = [(v.name, v.type.tensor_type.elem_type) for v in model.graph.input]
    assert names == [(n, t) for n, t, _ in SIGNATURES[graph][0]]
    assert [v.name for v in model.graph.output] == [n for n, _, _ in SIGNATURES[graph][1]]


def test_v3_text_encoder_embeds_ids_with_a_table_of_8322_rows(v3_dir):
    graph = onnx.load(str(v3_dir / "onnx" / "text_encoder.onnx")).graph
    tables = {t.name: list(t.dims) for t in graph.initializer}
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[1] == "text_ids"]
    assert len(gathers) == 1
    assert tables[gathers[0].input[0]][0] == V3_ROWS and len(tables[gathers[0].input[0]]) == 2
    session = ort.InferenceSession(str(v3_dir / "onnx" / "text_encoder.onnx"))
    ids = np.array([[0, 27, 175, 176, 200, 8321]], np.int64)
    (emb,) = session.run(None, {"text_ids": ids, "style_ttl": np.zeros((1, 50, 256), np.float32),
                                "text_mask": np.ones((1, 1, 6), np.float32)})
    assert emb.shape == (1, 256, 6)
    assert emb[0, 0].tolist() == (ids[0] % 176).astype(np.float32).tolist()
    assert not emb[0, 1:].any()


def test_v3_indexer_maps_the_scripts_of_its_languages_to_8322_ids(v3_dir):
    table = load_indexer(v3_dir)
    assert len(table) == 65536
    assert set(x for x in table if x >= 0) == set(range(V3_ROWS))
    for ch in "ßæøđłœ¿«»αωжЯبنनक\u1100\u1161\u11a8あんアン日本語中文、。":
        assert table[ord(ch)] >= 0, ch
    assert all(table[ord(c)] < probe.MAX_ID + 1 for c in assets.v3_common_chars())
    for lang, text in LATIN_SAMPLES.items():
        for ch in unicodedata.normalize("NFKD", f"<{lang}>{text}</{lang}>"):
            assert 0 <= table[ord(ch)] <= probe.MAX_ID, (lang, ch)


def test_v3_latin_script_reads_back_exactly_other_scripts_by_count(v3_pipe, v3_dir):
    indexer = load_indexer(v3_dir)
    langs = list(LATIN_SAMPLES)
    wavs = v3_pipe.synthesize([LATIN_SAMPLES[lang] for lang in langs], langs, ["F1"] * len(langs), speed=1.0)
    for lang, wav in zip(langs, wavs):
        want = unicodedata.normalize("NFC", v3_pipe.preprocess(LATIN_SAMPLES[lang], lang))   # ĳ stays "ij"
        assert decode_samples(wav, RATE, indexer).text == want, lang
    for lang, text in [("ru", "Привет, мир!"), ("ja", "こんにちは、世界。"), ("el", "Καλημέρα."), ("ar", "مرحبا.")]:
        [wav] = v3_pipe.synthesize([text], [lang], ["M2"], speed=1.0)
        result = decode_samples(wav, RATE, indexer)
        assert len(result.chars) == len(v3_pipe.text_to_ids(text, lang)), lang
        assert result.text.startswith(f"<{lang}>") and result.text.endswith(f"</{lang}>"), lang
        for c in result.chars[1:-1]:
            assert abs(c.duration_s - CHAR_SECONDS) < FRAME_S, (lang, c)


def test_v3_voices_say_which_model_they_are_for(v3_dir):
    voice = json.loads((v3_dir / "voice_styles" / "F1.json").read_text())
    assert voice["metadata"]["model"] == "supertonic-3"
    assert voice["style_ttl"]["dims"] == [1, 50, 256] and voice["style_dp"]["dims"] == [1, 8, 16]


def test_char_seconds_sets_the_predicted_duration(tmp_path):
    build_probe(tmp_path, char_seconds=1.5)
    session = ort.InferenceSession(str(tmp_path / "onnx" / "duration_predictor.onnx"))
    mask = np.array([[[1, 1, 1, 0]], [[1, 1, 1, 1]]], np.float32)
    (duration,) = session.run(None, {"text_ids": np.zeros((2, 4), np.int64),
                                     "style_dp": np.zeros((2, 8, 16), np.float32), "text_mask": mask})
    np.testing.assert_allclose(duration, [4.5, 6.0], rtol=1e-6)
    with pytest.raises(ValueError):
        build_probe(tmp_path / "bad", char_seconds=0)
