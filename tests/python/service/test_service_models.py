"""Several models in one server (TTS_MODELS): each session speaks with the
model it chose, the first one is the default, settings are checked against
the chosen model, the OpenAI API routes by `model`, /v1/models and /v1/voices
list every model, metrics carry a `model` label, and the models share the one
inference queue.

The two models are probe models (tools/models/probe.py) told apart by their
timing alone: `probe` speaks every character for 0.15 s, `probe-slow`
(generated with --char-seconds 0.3) for 0.3 s, so a segment's audio shows
which model made it, and the decoder still reads its text. `probe-slow` also
has its own voices: S1 (a copy of F1) and no M5, so a voice exists only where
it was loaded.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess

import openai
import pytest

from service_support import (
    END, REPO, VENV_PYTHON, SessionLog, WsClient, assert_session_speaks, assert_start_fails,
    collect_session, decode_pcm16, ensure_probe_model, http_get, requires_server_binary, run, run_session, spoken,
    start_msg,
)

pytestmark = requires_server_binary

FAST_CHAR_S = 0.15  # tools/models/probe.py's default
SLOW_CHAR_S = 0.30


def make_slow_probe(model_dir):
    python = str(VENV_PYTHON) if VENV_PYTHON.exists() else "python3"
    subprocess.run([python, "-m", "tools.models.probe", "--out", str(model_dir), "--char-seconds", str(SLOW_CHAR_S)],
                   cwd=REPO, check=True, timeout=300, capture_output=True)
    voices = model_dir / "voice_styles"
    shutil.copy(voices / "F1.json", voices / "S1.json")
    (voices / "M5.json").unlink()
    return model_dir


@pytest.fixture(scope="module")
def slow_probe(tmp_path_factory):
    return make_slow_probe(tmp_path_factory.mktemp("models") / "probe-slow")


@pytest.fixture(scope="module")
def two_models(start_server, slow_probe):
    """`probe` (the default) and `probe-slow` in one process; batches of up to
    4 so that concurrent sessions of both models could share a model call if
    the scheduler let them."""
    return start_server(TTS_MODELS=f"probe={ensure_probe_model()},probe-slow={slow_probe}", TTS_MODEL_DIR="",
                        TTS_MAX_BATCH=4, TTS_INFERENCE_WORKERS=1, TTS_LANG_CODE="en")


def char_seconds(log: SessionLog) -> float:
    """The median duration of a spoken character at speed 1 (the last
    character of each segment excluded: the decoder cuts it at the end)."""
    durations = []
    speed = log.started["speed"]
    for seg in log.completed():
        chars = seg.decode(log.sample_rate).chars
        durations += [c.duration_s * speed for c in chars[:-1]]
    assert durations, "no characters decoded"
    return statistics.median(durations)


def speak(server, session_id: str, texts: list[str], **config) -> SessionLog:
    async def body():
        async with await WsClient.open(server.url) as client:
            return await run_session(client, session_id, texts, {"lang_code": "en", **config})
    return run(body())


def test_each_session_speaks_with_the_model_it_chose(two_models):
    text = "Which model is this?"
    default = speak(two_models, "default-model", [text])
    slow = speak(two_models, "slow-model", [text], model="probe-slow")
    fast = speak(two_models, "fast-model", [text], model="probe")
    assert default.started["model"] == "probe", "the first of TTS_MODELS is the default"
    assert slow.started["model"] == "probe-slow" and fast.started["model"] == "probe"
    for log in (default, slow, fast):
        assert_session_speaks(log, [text], "en")
    assert char_seconds(default) == pytest.approx(FAST_CHAR_S, rel=0.25)
    assert char_seconds(fast) == pytest.approx(FAST_CHAR_S, rel=0.25)
    assert char_seconds(slow) == pytest.approx(SLOW_CHAR_S, rel=0.25)
    ratio = slow.completed()[0].done["duration_ms"] / fast.completed()[0].done["duration_ms"]
    assert ratio == pytest.approx(SLOW_CHAR_S / FAST_CHAR_S, rel=0.1), ratio


async def test_an_unknown_model_is_refused_naming_the_served_ones(two_models):
    async with await WsClient.open(two_models.url) as client:
        await client.send(start_msg("nope", model="supertonic-9", lang_code="en"))
        error = await client.expect_error("invalid_model")
        # The connection is kept: a session on a served model works on it.
        log = await run_session(client, "after-nope", ["Still here."], {"model": "probe-slow", "lang_code": "en"})

    assert "supertonic-9" in error["message"] and "probe, probe-slow" in error["message"], error
    assert_session_speaks(log, ["Still here."], "en")


def test_voices_belong_to_the_model_they_were_loaded_with(two_models):
    async def refused(model: str, voice: str) -> dict:
        async with await WsClient.open(two_models.url) as client:
            await client.send(start_msg(f"{model}-{voice}", model=model, voice=voice))
            return await client.expect_error("invalid_voice")

    async def body():
        return await refused("probe", "S1"), await refused("probe-slow", "M5")

    only_slow, only_fast = run(body())
    assert "M5" in only_slow["message"] and "S1" not in only_slow["message"].split("available:")[1], only_slow
    assert "S1" in only_fast["message"] and "M5" not in only_fast["message"].split("available:")[1], only_fast
    log = speak(two_models, "s1-on-slow", ["My own voice."], model="probe-slow", voice="S1")
    assert log.started["voice"] == "S1"
    assert_session_speaks(log, ["My own voice."], "en")

    status, body = http_get(two_models.http + "/v1/voices")
    assert status == 200, body
    voices = json.loads(body)
    assert voices["model"] == "probe" and "M5" in voices["voices"] and "S1" not in voices["voices"], (
        "the top level is the default model's, as with one model")
    by_model = {m["model"]: m for m in voices["models"]}
    assert list(by_model) == ["probe", "probe-slow"]
    assert "S1" in by_model["probe-slow"]["voices"] and "M5" not in by_model["probe-slow"]["voices"]
    assert set(by_model["probe"]["languages"]) >= {"en", "ko", "es", "pt", "fr"}


def test_models_are_listed_in_order_with_what_a_client_needs(two_models):
    models = openai.OpenAI(base_url=f"{two_models.http}/v1", api_key="unused", max_retries=0,
                           timeout=30).models.list()
    assert [m.id for m in models.data] == ["probe", "probe-slow"]
    status, body = http_get(two_models.http + "/v1/models")
    data = json.loads(body)["data"]
    assert [m["default"] for m in data] == [True, False]
    for m in data:
        assert m["object"] == "model" and m["owned_by"] and isinstance(m["created"], int), m
        assert m["profile"] == "supertonic-2", "both probes have the Supertonic 2 interface"
        assert "en" in m["languages"] and m["voices"], m
        assert m["num_inference_steps"]["default"] == 2, m
        assert m["speed"]["min"] <= m["speed"]["default"] <= m["speed"]["max"], m
    assert "S1" in data[1]["voices"] and "S1" not in data[0]["voices"]


def openai_pcm(server, voice: str = "F1", **kwargs) -> bytes:
    client = openai.OpenAI(base_url=f"{server.http}/v1", api_key="unused", max_retries=0, timeout=30)
    return client.audio.speech.create(voice=voice, response_format="pcm", extra_body={"language": "en"},
                                      **kwargs).content


def test_the_openai_model_field_picks_the_model(two_models):
    text = "Routed by name."
    slow = decode_pcm16(openai_pcm(two_models, model="probe-slow", input=text), 24000)
    fast = decode_pcm16(openai_pcm(two_models, model="probe", input=text), 24000)
    default = decode_pcm16(openai_pcm(two_models, model="tts-1", input=text), 24000)
    for decoded in (slow, fast, default):
        assert decoded.raw_text == spoken(text, "en")

    def per_char(decoded) -> float:
        return statistics.median(c.duration_s for c in decoded.chars[:-1]) * 1.05  # the default speed

    assert per_char(slow) == pytest.approx(SLOW_CHAR_S, rel=0.25)
    assert per_char(fast) == pytest.approx(FAST_CHAR_S, rel=0.25)
    assert per_char(default) == pytest.approx(FAST_CHAR_S, rel=0.25), "OpenAI's tts-1 means the default model"
    for snapshot in ("tts-1-1106", "tts-1-hd-1106", "gpt-4o-mini-tts-2025-03-20"):  # OpenAI's dated ids
        dated = decode_pcm16(openai_pcm(two_models, model=snapshot, input=text), 24000)
        assert per_char(dated) == pytest.approx(FAST_CHAR_S, rel=0.25), snapshot

    with pytest.raises(openai.BadRequestError) as refused:
        openai_pcm(two_models, model="whisper-1", input=text)
    error = json.loads(refused.value.response.text)["error"]
    assert error["code"] == "invalid_model" and "probe, probe-slow" in error["message"], error
    with pytest.raises(openai.BadRequestError) as long_name:
        openai_pcm(two_models, model="m" * 5000, input=text)
    assert len(json.loads(long_name.value.response.text)["error"]["message"]) < 300, "the echo is bounded"
    with pytest.raises(openai.BadRequestError) as wrong_voice:
        openai_pcm(two_models, model="probe", input=text, voice="S1")
    assert json.loads(wrong_voice.value.response.text)["error"]["code"] == "invalid_voice"


@pytest.mark.async_timeout(120)
async def test_sessions_of_both_models_share_the_queue_and_all_progress(two_models):
    """Eight sessions at once, half on each model, every one pipelining three
    segments: every session completes, speaks its text with its own model's
    timing, and no batch mixed the models (a slow-model segment synthesized by
    the fast model would decode at the fast model's pace)."""
    texts = ["One sentence here. ", "Another one follows. ", "And a third."]

    async def one(i: int) -> SessionLog:
        model = "probe-slow" if i % 2 else "probe"
        async with await WsClient.open(two_models.url) as client:
            return await run_session(client, f"shared-{i}", texts, {"model": model, "lang_code": "en", "speed": 1.0},
                                     flush_each=True, timeout=60)

    logs = await asyncio.gather(*(one(i) for i in range(8)))

    for i, log in enumerate(logs):
        assert_session_speaks(log, texts, "en")
        want = SLOW_CHAR_S if i % 2 else FAST_CHAR_S
        for seg in log.completed():
            chars = seg.decode(log.sample_rate).chars[:-1]
            got = statistics.median(c.duration_s for c in chars)
            assert got == pytest.approx(want, rel=0.25), (
                f"session {i} ({log.started['model']}) segment {seg.index}: {got:.3f} s per character")


def test_metrics_carry_the_model(two_models):
    speak(two_models, "metrics-slow", ["Counted by model."], model="probe-slow")
    metrics = two_models.metrics()
    for model in ("probe", "probe-slow"):
        for name in ("tts_sessions_total", "tts_segments_total", "tts_characters_total", "tts_audio_seconds_total",
                     "tts_active_sessions", "tts_batch_size_count", "tts_time_to_first_audio_seconds_count"):
            assert metrics.value(name, model=model) is not None, f"{name}{{model={model!r}}} is missing"
        for stage in ("duration_predictor", "text_encoder", "vector_estimator", "vocoder"):
            assert metrics.value("tts_inference_seconds_count", model=model, stage=stage) is not None
    assert metrics.get("tts_sessions_total", model="probe-slow") >= 1
    assert metrics.get("tts_segments_total", model="probe-slow") >= 1
    assert metrics.get("tts_inference_seconds_count", model="probe-slow", stage="vocoder") >= 1
    assert metrics.get("tts_batch_size_count", model="probe-slow") >= 1
    # Every session here has ended: none is open on either model, and the
    # unlabelled sum is what a one-model server reported.
    assert metrics.get("tts_active_sessions", model="probe") == 0
    assert metrics.get("tts_active_sessions", model="probe-slow") == 0
    assert metrics.get("tts_sessions_total") == (metrics.get("tts_sessions_total", model="probe")
                                                 + metrics.get("tts_sessions_total", model="probe-slow"))


async def test_open_sessions_are_counted_by_model(two_models):
    async with await WsClient.open(two_models.url) as client:
        await client.send(start_msg("held-open", model="probe-slow"))
        assert (await client.recv_json())["type"] == "session_started"
        during = two_models.metrics()
        await client.send(END)
        await collect_session(client, SessionLog("held-open"))

    assert during.get("tts_active_sessions", model="probe-slow") == 1
    assert during.get("tts_active_sessions", model="probe") == 0


def test_defaults_come_from_each_models_profile_and_settings_override_them(start_server, slow_probe):
    srv = start_server(TTS_MODELS=f"a={ensure_probe_model()},b={slow_probe}", TTS_MODEL_DIR="",
                       TTS_NUM_INFERENCE_STEPS=3, TTS_SPEED=1.2)
    for model in ("a", "b"):
        log = speak(srv, f"overridden-{model}", ["Set by the operator."], model=model)
        assert log.started["num_inference_steps"] == 3 and log.started["speed"] == pytest.approx(1.2), log.started


# ---------------------------------------------------------------------------
# One model, as before


def test_one_model_directory_is_served_under_its_profiles_name(server):
    """TTS_MODEL_DIR alone: the model is named after its detected profile,
    and everything reads as it did before several models existed."""
    log = speak(server, "one-model", ["Just one."])
    assert log.started["model"] == "supertonic-2"
    assert log.started["num_inference_steps"] == 2 and log.started["speed"] == pytest.approx(1.05)
    also = speak(server, "one-model-named", ["Just one."], model="supertonic-2")
    assert_session_speaks(also, ["Just one."], "en")
    status, body = http_get(server.http + "/v1/models")
    data = json.loads(body)["data"]
    assert [(m["id"], m["object"], m["owned_by"]) for m in data] == [("supertonic-2", "model", "supertone")]
    voices = json.loads(http_get(server.http + "/v1/voices")[1])
    assert voices["model"] == "supertonic-2" and [m["model"] for m in voices["models"]] == ["supertonic-2"]


async def test_an_unsupported_language_lists_the_models_languages(server):
    async with await WsClient.open(server.url) as client:
        await client.send(start_msg("german", lang_code="de"))
        error = await client.expect_error("invalid_language")

    assert "'de'" in error["message"] and "en, ko, es, pt, fr" in error["message"], error


# ---------------------------------------------------------------------------
# Start-up errors


@pytest.mark.parametrize("models,message", [
    ("probe={probe},probe={probe}", "TTS_MODELS names model 'probe' twice"),
    ("probe={probe},v 3={probe}", "TTS_MODELS must be model names of letters"),
    ("probe={probe},v3=/no/such/model", "TTS_MODELS names model 'v3' in '/no/such/model', which is not a directory"),
    ("{probe}", "TTS_MODELS must be name=directory pairs"),
])
def test_a_bad_model_list_stops_the_start_with_a_clear_message(tmp_path, models, message):
    assert_start_fails(tmp_path, 2, message, TTS_MODELS=models.format(probe=ensure_probe_model()))


def test_a_default_no_model_supports_stops_the_start(tmp_path, slow_probe):
    assert_start_fails(tmp_path, 2, "TTS_DEFAULT_VOICE=M5 is not a voice of model probe-slow",
                       TTS_MODELS=f"probe={ensure_probe_model()},probe-slow={slow_probe}", TTS_DEFAULT_VOICE="M5")
    assert_start_fails(tmp_path, 2, "TTS_LANG_CODE=de is not a language of model supertonic-2", TTS_LANG_CODE="de")


def test_a_model_that_does_not_load_is_named(tmp_path, slow_probe):
    broken = tmp_path / "broken"
    shutil.copytree(slow_probe, broken)
    (broken / "onnx" / "vocoder.onnx").unlink()
    assert_start_fails(tmp_path, 2, "model 'broken' (", TTS_MODELS=f"probe={ensure_probe_model()},broken={broken}")
