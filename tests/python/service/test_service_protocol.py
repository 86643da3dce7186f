"""The /ws/tts protocol (docs/protocol.md) against a real server on the
probe model: message sequence and fields, frame sizes at every output rate,
connection reuse, and every client-caused error code."""
from __future__ import annotations

import asyncio
import time

import pytest

from service_support import (
    CANCEL, DEFAULT_FRAME_MS, DEFAULT_RATE, END, FAIL_ABOVE_TOKENS, FLUSH, KNOWN_SERVER_TYPES, SUPPORTED_RATES,
    SessionLog, WsClient,
    apoll, assert_error, assert_session_speaks, collect, collect_session, http_get, is_type, requires_server_binary,
    run_session, start_msg, text_msg,
)

pytestmark = requires_server_binary


def known_events(log: SessionLog):
    return [e for e in log.events if e.binary or e.type in KNOWN_SERVER_TYPES]


# ---------------------------------------------------------------------------
# A whole session


async def test_pipelined_session_speaks_each_segment_in_order(server):
    texts = ["Olá, tudo bem? ", "Eu estou ótimo, obrigado. ", "E você, como vai?"]
    config = {"voice": "F2", "lang_code": "pt", "sample_rate": 24000, "speed": 1.05, "num_inference_steps": 2}

    async with await WsClient.open(server.url) as client:
        log = await run_session(client, "pipelined-1", texts, config)

    started = log.started
    assert started["session_id"] == "pipelined-1"
    assert started["voice"] == "F2" and started["lang_code"] == "pt"
    assert started["sample_rate"] == 24000 and started["frame_ms"] == DEFAULT_FRAME_MS
    assert started["num_inference_steps"] == 2
    assert started["speed"] == pytest.approx(1.05)

    events = known_events(log)
    assert events[0].type == "session_started", f"first message: {events[0]}"
    assert events[-1].type == "session_ended"
    assert log.ended["session_id"] == "pipelined-1"
    # segment_started comes right before the segment's first binary frame.
    for i, e in enumerate(events):
        if e.type == "segment_started":
            assert events[i + 1].binary, f"{e} is followed by {events[i + 1]}, not by audio"
    assert all(len(e.data) == 960 for e in events if e.binary), "20 ms at 24 kHz is 480 samples"

    assert_session_speaks(log, texts, "pt")
    for seg in log.completed():
        real_ms = seg.done["duration_ms"]
        assert seg.predicted_ms == pytest.approx(real_ms, rel=0.25, abs=100), (
            f"segment {seg.index}: predicted {seg.predicted_ms} ms, sent {real_ms} ms")


async def test_defaults_are_echoed_when_config_is_omitted(server):
    async with await WsClient.open(server.url) as client:
        await client.send_all([{"type": "start_session", "session_id": "defaults"},
                               text_msg("Bom dia."), END])
        log = await collect_session(client, SessionLog("defaults"))

    s = log.started
    assert (s["voice"], s["lang_code"], s["sample_rate"], s["frame_ms"], s["num_inference_steps"]) == (
        "F1", "pt", DEFAULT_RATE, DEFAULT_FRAME_MS, 2), s
    assert s["speed"] == pytest.approx(1.05)
    assert_session_speaks(log, ["Bom dia."], "pt")


LONG_EN = ("Long answers are cut into segments the model can speak well. Each one ends at a sentence "
           "boundary when it can, and never inside a word. This paragraph is long enough to need "
           "several segments, so the cuts can be checked one by one. The first ones come quickly, "
           "because the first segment decides how soon the listener hears anything at all. Later "
           "ones may be longer, since the audio already playing buys time for the next synthesis. "
           "A sentence with many clauses, commas, and pauses, which goes on for quite a while before "
           "it finally ends, tests the cut at clause boundaries when a sentence alone is too long "
           "for one segment of at most three hundred characters, as the specification requires.")
LONG_KO = ("안녕하세요, 오늘은 날씨가 정말 좋습니다. 우리는 공원에 가서 산책을 하고 점심을 먹을 거예요. "
           "그 다음에는 도서관에 가서 책을 읽고 친구들과 이야기를 나눌 계획입니다. "
           "저녁에는 가족과 함께 맛있는 음식을 먹고 영화를 볼 거예요. 정말 즐거운 하루가 될 것 같습니다.")


@pytest.mark.parametrize("lang,text,limit", [("en", LONG_EN, 300), ("ko", LONG_KO, 120)])
async def test_long_text_is_cut_at_boundaries_within_the_chunk_limit(server, lang, text, limit):
    async with await WsClient.open(server.url) as client:
        log = await run_session(client, f"long-{lang}", [text], {"lang_code": lang, "sample_rate": 16000})

    assert len(log.segments) >= 2
    assert all(len(s.text) <= limit for s in log.segments), [len(s.text) for s in log.segments]
    assert_session_speaks(log, [text], lang)   # texts add up: no word was split or lost


async def test_speed_and_steps_are_applied(server):
    async with await WsClient.open(server.url) as client:
        slow = await run_session(client, "slow", ["Slowly now."],
                                 {"lang_code": "en", "speed": 0.8, "num_inference_steps": 5})
        normal = await run_session(client, "normal", ["Slowly now."], {"lang_code": "en"})

    assert slow.started["speed"] == pytest.approx(0.8) and slow.started["num_inference_steps"] == 5
    assert_session_speaks(slow, ["Slowly now."], "en")
    assert_session_speaks(normal, ["Slowly now."], "en")
    ratio = slow.completed()[0].done["duration_ms"] / normal.completed()[0].done["duration_ms"]
    assert ratio == pytest.approx(1.05 / 0.8, rel=0.08), f"speed 0.8 vs 1.05 gives a duration ratio of {ratio:.3f}"


async def test_unknown_fields_in_client_messages_are_ignored(server):
    async with await WsClient.open(server.url) as client:
        await client.send_all([
            {"type": "start_session", "session_id": "extra", "future_field": {"a": [1]},
             "config": {"lang_code": "en", "voice": "M1", "something_new": True}},
            {"type": "send_text", "text": "Fine.", "client_ts": 123},
            {"type": "end_session", "reason": "done"},
        ])
        log = await collect_session(client, SessionLog("extra"))

    assert log.started["voice"] == "M1" and log.started["lang_code"] == "en"
    assert_session_speaks(log, ["Fine."], "en")


@pytest.mark.parametrize("rate", SUPPORTED_RATES)
async def test_frame_size_and_content_at_every_output_rate(server, rate):
    async with await WsClient.open(server.url) as client:
        log = await run_session(client, f"rate-{rate}", ["Hi there."],
                                 {"lang_code": "en", "sample_rate": rate})

    assert log.started["sample_rate"] == rate and log.started["frame_ms"] == 20
    assert log.frame_bytes == 2 * rate * 20 // 1000
    assert all(len(f) == log.frame_bytes for s in log.segments for f in s.frames)
    assert_session_speaks(log, ["Hi there."], "en")


@pytest.fixture(scope="module")
def server_40ms(start_server):
    return start_server(TTS_CHUNK_SIZE_MS=40, TTS_SAMPLE_RATE=16000)


async def test_server_wide_frame_length_and_default_rate(server_40ms):
    async with await WsClient.open(server_40ms.url) as client:
        log = await run_session(client, "env-defaults", ["Olá."])

    assert log.started["sample_rate"] == 16000 and log.started["frame_ms"] == 40
    assert log.frame_bytes == 2 * 640
    assert_session_speaks(log, ["Olá."], "pt")


@pytest.mark.parametrize("rate", SUPPORTED_RATES)
async def test_40ms_frames_at_every_output_rate(server_40ms, rate):
    async with await WsClient.open(server_40ms.url) as client:
        log = await run_session(client, f"rate40-{rate}", ["Oui, merci."],
                                 {"lang_code": "fr", "sample_rate": rate})

    assert log.started["sample_rate"] == rate and log.started["frame_ms"] == 40
    assert log.frame_bytes == 2 * rate * 40 // 1000
    assert_session_speaks(log, ["Oui, merci."], "fr")


async def test_connection_reuse_runs_sessions_one_after_another(server):
    async with await WsClient.open(server.url) as client:
        first = await run_session(client, "reuse-1", ["Good morning. ", "How are you?"],
                                  {"lang_code": "en", "voice": "M2"})
        second = await run_session(client, "reuse-2", ["¿Qué tal?"], {"lang_code": "es", "voice": "F4"})
        third = await run_session(client, "reuse-3", ["Ça va."], {"lang_code": "fr", "sample_rate": 16000})

    assert_session_speaks(first, ["Good morning. ", "How are you?"], "en")
    assert_session_speaks(second, ["¿Qué tal?"], "es")
    assert second.started["voice"] == "F4" and second.started["session_id"] == "reuse-2"
    assert_session_speaks(third, ["Ça va."], "fr")


async def test_empty_send_text_and_flush_without_text_are_harmless(server):
    async with await WsClient.open(server.url) as client:
        await client.send_all([start_msg("empty", lang_code="en"), text_msg(""), FLUSH,
                               text_msg("Okay."), FLUSH, FLUSH, text_msg(""), END])
        log = await collect_session(client, SessionLog("empty"))

    assert_session_speaks(log, ["Okay."], "en")


async def test_end_session_without_text_ends_at_once(server):
    async with await WsClient.open(server.url) as client:
        await client.send_all([start_msg("silent"), END])
        t0 = time.monotonic()
        log = await collect_session(client, SessionLog("silent"), timeout=5)
        elapsed = time.monotonic() - t0

    assert log.segments == [] and log.frame_count() == 0
    assert elapsed < 2.0


# ---------------------------------------------------------------------------
# Errors. Each: the code, the documented retryable flag, a message, and whether
# the connection (and the session) still work afterwards.


async def speak_and_end(client: WsClient, log: SessionLog, text: str, lang: str) -> SessionLog:
    """Sends text + end_session on the session in `log` and checks it speaks exactly `text`."""
    await client.send_all([text_msg(text), END])
    await collect_session(client, log, allow_errors=True)
    assert_session_speaks(log, [text], lang)
    return log


async def fresh_session_works(client: WsClient, session_id: str) -> None:
    log = await run_session(client, session_id, ["Sim."], {"lang_code": "pt"})
    assert_session_speaks(log, ["Sim."], "pt")


@pytest.mark.parametrize("frame", ["{not json", "", "{\"type\": \"send_text\", \"text\": ", "\xff\x00garbage"])
async def test_invalid_json_is_invalid_message_and_connection_survives(server, frame):
    async with await WsClient.open(server.url) as client:
        await client.send(frame)
        await client.expect_error("invalid_message")
        await fresh_session_works(client, "after-bad-json")


@pytest.mark.parametrize("frame", ["[1, 2]", "\"start_session\"", "42", "null", "true"])
async def test_json_that_is_not_an_object_is_invalid_message(server, frame):
    async with await WsClient.open(server.url) as client:
        await client.send(frame)
        await client.expect_error("invalid_message")
        await fresh_session_works(client, "after-non-object")


@pytest.mark.parametrize("message", [
    {"text": "no type"},
    {"type": 5},
    {"type": "send_text"},
    {"type": "send_text", "text": 12},
    {"type": "start_session", "session_id": "x", "config": "F1"},
])
async def test_missing_or_mistyped_fields_are_invalid_message(server, message):
    async with await WsClient.open(server.url) as client:
        if message.get("type") == "send_text":
            await client.send(start_msg("typed"))
            log = SessionLog("typed")
            await collect(client, log, is_type("session_started"))
            await client.send(message)
            await client.expect_error("invalid_message")
            await speak_and_end(client, log, "Ok.", "pt")
        else:
            await client.send(message)
            await client.expect_error("invalid_message")
            await fresh_session_works(client, "after-mistyped")


async def test_unknown_message_type_keeps_the_session(server):
    async with await WsClient.open(server.url) as client:
        await client.send(start_msg("unknown-type", lang_code="en"))
        log = SessionLog("unknown-type")
        await collect(client, log, is_type("session_started"))
        await client.send({"type": "dance", "moves": 3})
        err = await client.expect_error("unknown_message_type")
        assert err.get("session_id") in (None, "unknown-type")
        await speak_and_end(client, log, "Still here.", "en")


@pytest.mark.parametrize("message", [text_msg("Olá."), FLUSH, END, CANCEL])
async def test_session_messages_without_a_session_are_no_session(server, message):
    async with await WsClient.open(server.url) as client:
        await client.send(message)
        await client.expect_error("no_session")
        await fresh_session_works(client, "after-no-session")


async def test_no_session_after_session_ended(server):
    async with await WsClient.open(server.url) as client:
        await run_session(client, "ended", ["Um."])
        await client.send(text_msg("Dois."))
        await client.expect_error("no_session")
        await fresh_session_works(client, "after-ended")


async def test_second_start_session_is_session_active_and_keeps_the_first(server):
    async with await WsClient.open(server.url) as client:
        await client.send(start_msg("first", lang_code="en"))
        log = SessionLog("first")
        await collect(client, log, is_type("session_started"))
        await client.send(start_msg("second", lang_code="fr"))
        await client.expect_error("session_active")
        await speak_and_end(client, log, "First one.", "en")
        assert log.ended["session_id"] == "first"


@pytest.mark.parametrize("config,code", [
    ({"voice": "Z9"}, "invalid_voice"),
    ({"voice": ""}, "invalid_voice"),
    ({"lang_code": "xx"}, "invalid_language"),
    ({"lang_code": "de"}, "invalid_language"),
    ({"sample_rate": 12345}, "invalid_sample_rate"),
    ({"sample_rate": 96000}, "invalid_sample_rate"),
    ({"num_inference_steps": 0}, "invalid_config"),
    ({"speed": 10.0}, "invalid_config"),
    ({"speed": 0.0}, "invalid_config"),
    ({"speed": -1.0}, "invalid_config"),
])
async def test_bad_session_config_is_refused_and_connection_survives(server, config, code):
    async with await WsClient.open(server.url) as client:
        await client.send_all([start_msg("bad-config", **config), text_msg("Não."), END])
        await client.expect_error(code)
        # The refused session does not exist: its pipelined send_text and
        # end_session each get no_session, and no audio is produced.
        await client.expect_error("no_session")
        await client.expect_error("no_session")
        await fresh_session_works(client, "after-bad-config")


async def test_speed_of_the_wrong_type_is_refused(server):
    # The error table says a field of the wrong type is invalid_message and an
    # out-of-range value invalid_config; either is a correct answer to "fast".
    async with await WsClient.open(server.url) as client:
        await client.send(start_msg("fast", speed="fast"))
        message = await client.recv_json()
        assert message.get("code") in ("invalid_config", "invalid_message"), message
        assert_error(message, message["code"])
        await fresh_session_works(client, "after-fast")


async def test_binary_frame_from_client_is_refused_and_session_kept(server):
    async with await WsClient.open(server.url) as client:
        await client.send(b"\x00\x01" * 100)
        await client.expect_error("binary_not_supported")
        await client.send(start_msg("binary", lang_code="en"))
        log = SessionLog("binary")
        await collect(client, log, is_type("session_started"))
        await client.send(b"RIFF....WAVE")
        await client.expect_error("binary_not_supported")
        await speak_and_end(client, log, "Text only.", "en")


# ---------------------------------------------------------------------------
# Limits, on a server configured with small ones.

MAX_MESSAGE_BYTES = 4096
MAX_TEXT_CHARS = 200


@pytest.fixture(scope="module")
def limits_server(start_server):
    return start_server(TTS_MAX_SESSIONS=2, TTS_MAX_MESSAGE_BYTES=MAX_MESSAGE_BYTES,
                        TTS_MAX_TEXT_CHARS=MAX_TEXT_CHARS)


async def test_message_over_the_size_limit_is_message_too_large(limits_server):
    async with await WsClient.open(limits_server.url) as client:
        await client.send(start_msg("big", lang_code="en"))
        log = SessionLog("big")
        await collect(client, log, is_type("session_started"))
        await client.send(text_msg("word " * (MAX_MESSAGE_BYTES // 4)))
        await client.expect_error("message_too_large")
        # The server may close a connection that sent an oversized frame; if
        # it keeps it, the session must still work and never speak the big text.
        if await client.is_open():
            await speak_and_end(client, log, "Small.", "en")


async def test_text_over_the_limit_is_text_too_long_and_session_kept(limits_server):
    long_text = "This sentence is long. " * (MAX_TEXT_CHARS // 20)
    assert MAX_TEXT_CHARS < len(long_text) < MAX_MESSAGE_BYTES // 2

    async with await WsClient.open(limits_server.url) as client:
        await client.send(start_msg("too-long", lang_code="en"))
        log = SessionLog("too-long")
        await collect(client, log, is_type("session_started"))
        await client.send(text_msg(long_text))
        err = await client.expect_error("text_too_long")
        assert err.get("session_id") in (None, "too-long")
        # None of the refused text is spoken; the session goes on.
        await speak_and_end(client, log, "Short one.", "en")


async def test_sessions_beyond_the_maximum_get_capacity(limits_server):
    # Sessions of earlier tests must be gone first.
    def idle():
        return limits_server.metrics().get("tts_active_sessions") == 0
    assert await apoll(idle, 5), "tts_active_sessions did not return to 0"

    a = await WsClient.open(limits_server.url)
    b = await WsClient.open(limits_server.url)
    c = await WsClient.open(limits_server.url)
    try:
        logs = {}
        for client, sid in ((a, "cap-a"), (b, "cap-b")):
            await client.send(start_msg(sid, lang_code="en"))
            logs[sid] = SessionLog(sid)
            await collect(client, logs[sid], is_type("session_started"))
        await c.send(start_msg("cap-c", lang_code="en"))
        await c.expect_error("capacity")
        assert await c.is_open(), "a capacity refusal must not close the connection"
        # At capacity the replica is not ready (TTS_READY_AT_CAPACITY defaults to false).
        status, _ = await asyncio.to_thread(http_get, limits_server.http + "/health/ready")
        assert status == 503, f"/health/ready is {status} with TTS_MAX_SESSIONS sessions open"

        # One session ends; then a new one is accepted (the slot may take a
        # moment to be released after session_ended: retry for 2 s).
        await a.send_all([text_msg("Done."), END])
        await collect_session(a, logs["cap-a"])
        deadline = time.monotonic() + 2.0
        while True:
            await c.send(start_msg("cap-c", lang_code="en"))
            message = await c.recv_json()
            if message.get("type") == "session_started":
                break
            assert_error(message, "capacity")
            assert time.monotonic() < deadline, "no session slot came free after a session ended"
            await asyncio.sleep(0.1)
        log_c = SessionLog("cap-c")
        log_c.feed(c.events[-1])
        await speak_and_end(c, log_c, "Third.", "en")
        await b.send(END)
        await collect_session(b, logs["cap-b"])
        status, _ = await asyncio.to_thread(http_get, limits_server.http + "/health/ready")
        assert status == 200, f"/health/ready is {status} after the sessions ended"
    finally:
        for client in (a, b, c):
            await client.close()


# ---------------------------------------------------------------------------
# A failure inside the model


async def test_inference_failure_is_a_retryable_internal_error_and_the_session_goes_on(failing_model_server):
    before = failing_model_server.metrics().value("tts_errors_total", code="internal") or 0
    fails = "This sentence is far too long for the failing model to speak."
    assert len(fails) > FAIL_ABOVE_TOKENS

    async with await WsClient.open(failing_model_server.url) as client:
        await client.send(start_msg("fails", lang_code="en"))
        log = SessionLog("fails")
        await collect(client, log, is_type("session_started"))
        for text in ("First one.", fails):
            await client.send_all([text_msg(text), FLUSH])
        error = await collect(client, log, is_type("error"))
        await client.send_all([text_msg("Last one."), END])
        await collect_session(client, log, allow_errors=True)
        error = error.data

    assert error["code"] == "internal" and error["retryable"] is True, error
    assert error["session_id"] == "fails" and error["segment"] == 1, error
    assert "Gather" in error["message"] or "failed" in error["message"], error
    assert log.errors == [error], f"one error, for the failed segment only: {log.errors}"
    # The segments before and after the failure are spoken whole; the failed
    # one sends no audio and its index is skipped.
    assert [s.index for s in log.completed()] == [0, 2]
    assert [s.text for s in log.completed()] == ["First one.", "Last one."]
    log.assert_audio_speaks_segments("en")
    assert log.ended["reason"] == "completed", log.ended
    after = failing_model_server.metrics().get("tts_errors_total", code="internal")
    assert after == before + 1
