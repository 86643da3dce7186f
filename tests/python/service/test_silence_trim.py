"""Silence trimming (TTS_TRIM_SILENCE) end to end, on the probe model made to
pad every item with silence as Supertonic 3 is reported to (0.25-0.6 s before
its speech, 0.6-0.9 s after): the probe generator's flags, then a real server
through both client paths, WebSocket and the OpenAI speech API."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import openai
import pytest

from service_support import (REPO, WsClient, assert_start_fails, decode_pcm16, ensure_probe_model, indexer,
                             make_silent_probe_model, requires_server_binary, run, run_session, spoken)
from tools.models.probe import FRAME_SAMPLES, GAP_SAMPLES, SAMPLE_RATE
from tools.probe_decode import decode_samples
from tools.reference_pipeline import ReferencePipeline

LEAD_S, TRAIL_S = 0.4, 0.7
GAP_S = GAP_SAMPLES / SAMPLE_RATE
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
KEEP_LEADING_S, KEEP_TRAILING_S = 0.015, 0.200   # the server's defaults
TEXTS = ["Hello world.", "How are you today?"]


@pytest.fixture(scope="module")
def silent_model(tmp_path_factory):
    return make_silent_probe_model(tmp_path_factory.mktemp("silent-probe"), LEAD_S, TRAIL_S)


def speech_bounds(result) -> tuple[float, float]:
    """(start of the first chord, end of the last chord) in seconds."""
    first, last = result.chars[0], result.chars[-1]
    return first.start_s + GAP_S, last.start_s + last.duration_s


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pcm.astype(np.float64) / 32768.0) ** 2))) if len(pcm) else 0.0


# -- the generator ------------------------------------------------------------


@pytest.mark.parametrize("speed", [1.0, 1.25])
def test_the_probe_pads_each_item_with_silence_and_speaks_the_same(silent_model, speed):
    plain = ReferencePipeline(ensure_probe_model(), intra_op_threads=1, allow_spinning=False)
    padded = ReferencePipeline(silent_model, intra_op_threads=1, allow_spinning=False)
    texts = ["Hi.", *TEXTS, "A longer sentence, with a clause or two, for the batch."]
    langs, voices = ["en"] * len(texts), ["F1", "M2", "F3", "M4"]
    batch = padded.synthesize(texts, langs, voices, speed=speed)
    for text, voice, wav in zip(texts, voices, batch):
        result = decode_samples(wav, SAMPLE_RATE, indexer())
        assert result.raw_text == spoken(text, "en")
        start, end = speech_bounds(result)
        # Whole latent frames of silence, the share of the duration the silence
        # has; the item's audio ends inside its last frame.
        assert abs((start - GAP_S) - LEAD_S / speed) <= FRAME_S / 2, text
        assert abs((len(wav) / SAMPLE_RATE - end) - TRAIL_S / speed) <= 1.5 * FRAME_S, text
        [alone] = padded.synthesize([text], ["en"], [voice], speed=speed)
        np.testing.assert_array_equal(wav, alone)     # batching changes nothing
        [reference] = plain.synthesize([text], ["en"], [voice], speed=speed)
        plain_start, plain_end = speech_bounds(decode_samples(reference, SAMPLE_RATE, indexer()))
        assert abs((end - start) - (plain_end - plain_start)) < FRAME_S, text


def test_the_generator_refuses_negative_silence(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tools.models.probe", "--out", str(tmp_path / "m"),
                           "--lead-silence", "-0.1"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--lead-silence must be 0..10 seconds" in done.stderr
    assert not (tmp_path / "m").exists()


# -- the server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trimmed(start_server, silent_model):
    return start_server(TTS_MODEL_DIR=silent_model)


@pytest.fixture(scope="module")
def untrimmed(start_server, silent_model):
    return start_server(TTS_MODEL_DIR=silent_model, TTS_TRIM_SILENCE="false")


def speak_ws(server, session_id: str):
    async def go():
        async with await WsClient.open(server.url) as client:
            return await run_session(client, session_id, [TEXTS[0] + " ", TEXTS[1]],
                                     config={"voice": "F1", "lang_code": "en", "speed": 1.0, "sample_rate": 16000})
    return run(go())


@requires_server_binary
def test_websocket_segments_start_with_speech_and_end_on_a_short_pause(trimmed, untrimmed):
    cut_before = trimmed.metrics().get("tts_trimmed_silence_seconds_total")
    before, after = speak_ws(untrimmed, "untrimmed"), speak_ws(trimmed, "trimmed")
    assert [s.text for s in after.completed()] == [s.text for s in before.completed()] == TEXTS
    cut_s = 0.0
    for b, a in zip(before.completed(), after.completed()):
        decoded_b, decoded_a = b.decode(16000), a.decode(16000)
        assert decoded_a.raw_text == decoded_b.raw_text == spoken(a.text, "en")
        start_b, end_b = speech_bounds(decoded_b)
        start_a, end_a = speech_bounds(decoded_a)
        duration_b, duration_a = b.done["duration_ms"] / 1000, a.done["duration_ms"] / 1000
        assert start_b > 0.35 and duration_b - end_b > 0.55          # the model's silence, untrimmed
        assert rms(np.frombuffer(b.frames[0], "<i2")) == 0.0
        assert abs(start_a - KEEP_LEADING_S) < 0.002                  # 15 ms before the first chord...
        assert rms(np.frombuffer(a.frames[0], "<i2")) > 0.05          # ...so the first frame carries it
        assert abs((duration_a - end_a) - KEEP_TRAILING_S) < 0.004
        expected_cut = (start_b - KEEP_LEADING_S) + (duration_b - end_b - KEEP_TRAILING_S)
        assert abs((duration_b - duration_a) - expected_cut) < 0.005
        assert a.done["frames"] == len(a.frames) < b.done["frames"]
        cut_s += duration_b - duration_a
    assert abs(after.ended["audio_ms"] / 1000 - (before.ended["audio_ms"] / 1000 - cut_s)) < 0.001
    assert abs(trimmed.metrics().get("tts_trimmed_silence_seconds_total") - cut_before - cut_s) < 0.002
    assert untrimmed.metrics().get("tts_trimmed_silence_seconds_total") == 0.0


def speak_openai(server) -> bytes:
    client = openai.OpenAI(base_url=f"{server.http}/v1", api_key="unused", max_retries=0, timeout=30)
    with client.audio.speech.with_streaming_response.create(
            model="supertonic-2", voice="F1", input=" ".join(TEXTS), response_format="pcm", speed=1.0,
            extra_body={"language": "en"}) as response:
        return b"".join(response.iter_bytes())


@requires_server_binary
def test_openai_speech_is_trimmed_too_and_the_pause_between_segments_is_natural(trimmed, untrimmed):
    before, after = decode_pcm16(speak_openai(untrimmed), 24000), decode_pcm16(speak_openai(trimmed), 24000)
    want = "".join(spoken(t, "en") for t in TEXTS)
    assert after.raw_text == before.raw_text == want
    assert len(after.segments) == len(before.segments) == 2
    # The first chord: 0.4 s in untrimmed, 15 ms in trimmed.
    assert before.segments[0].start_s + GAP_S > 0.35
    assert abs(after.segments[0].start_s + GAP_S - KEEP_LEADING_S) < 0.002
    # Between the segments the listener hears the kept pauses, not 1.1 s of model silence.
    pause_before = before.segments[1].start_s + GAP_S - before.segments[0].end_s
    pause_after = after.segments[1].start_s + GAP_S - after.segments[0].end_s
    assert pause_before > 0.9
    assert abs(pause_after - (KEEP_TRAILING_S + KEEP_LEADING_S)) < 0.025   # + the last frame's padding


@requires_server_binary
def test_the_settings_are_listed_and_checked(tmp_path):
    from service_support import BINARY
    listed = subprocess.run([str(BINARY), "serve", "--help-env"], capture_output=True, text=True, timeout=30).stdout
    for name in ("TTS_TRIM_SILENCE", "TTS_TRIM_SILENCE_THRESHOLD_DB", "TTS_TRIM_KEEP_LEADING_MS",
                 "TTS_TRIM_KEEP_TRAILING_MS"):
        assert name in listed
    assert_start_fails(tmp_path, 2, "TTS_TRIM_SILENCE_THRESHOLD_DB must be a number in -100..-20 (dBFS), got '-5'",
                       TTS_TRIM_SILENCE_THRESHOLD_DB="-5")
