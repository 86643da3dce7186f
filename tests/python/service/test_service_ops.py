"""Operating the service (docs/http-api.md, docs/configuration.md): health endpoints, Prometheus
metrics that move with the traffic, graceful drain on SIGTERM, and sessions
freed when a client goes away mid-synthesis."""
from __future__ import annotations

import asyncio
import re
import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from service_support import (
    CANCEL, END, FLUSH, REPO, RETRYABLE, ServerProcess, SessionLog, WsClient, make_failing_probe_model, apoll, assert_error,
    assert_start_fails, assert_session_speaks, collect,
    collect_session, http_get, is_type, requires_server_binary, run, run_session, start_msg, text_msg,
)

pytestmark = requires_server_binary

SEED_METRICS = [
    "tts_time_to_first_audio_seconds",
    "tts_realtime_factor",
    "tts_queue_depth",
    "tts_active_sessions",
    "tts_gpu_utilization_percent",
]

ANSWER = [
    "This is a long answer that keeps the server busy. ",
    "It has several sentences, each of them a segment. ",
    "The client will go away before it hears them all. ",
    "Nobody is going to listen to this part anyway. ",
    "Or to this one, which is the last of the answer. ",
]


# ---------------------------------------------------------------------------
# Health


@pytest.mark.parametrize("path", ["/health/live", "/health/startup", "/health/ready"])
def test_health_endpoints_answer_200(server, path):
    status, body = http_get(server.http + path)
    assert status == 200, f"GET {path}: {status} {body[:200]}"


FAITHFUL = REPO / "models" / "faithful"


@pytest.mark.slow
@pytest.mark.skipif(not (FAITHFUL / "onnx" / "vocoder.onnx").exists(), reason="run `make models`")
def test_startup_and_readiness_wait_for_the_warm_up(tmp_path):
    # The faithful model at 32 steps, slow speech and one thread: a warm-up of
    # a second or more, long enough to watch the probes during it.
    srv = ServerProcess(tmp_path, TTS_MODEL_DIR=FAITHFUL, TTS_NUM_INFERENCE_STEPS=32, TTS_SPEED=0.5).launch()
    try:
        deadline = time.monotonic() + 60
        while http_get(srv.http + "/health/live", timeout=1)[0] != 200:
            assert srv.running() and time.monotonic() < deadline, srv.log_tail()
            time.sleep(0.01)
        during = {path: http_get(srv.http + path, timeout=1) for path in ("/health/startup", "/health/ready")}
        assert "warm-up done" not in srv.log_tail(), "the warm-up ended before the probes were read"
        assert during["/health/startup"][0] == 503, during
        assert during["/health/ready"][0] == 503 and "loading" in during["/health/ready"][1], during
        while http_get(srv.http + "/health/startup", timeout=1)[0] != 200:
            assert srv.running() and time.monotonic() < deadline, srv.log_tail()
            time.sleep(0.05)
        assert http_get(srv.http + "/health/ready", timeout=1)[0] == 200
    finally:
        srv.stop()


def test_a_model_that_cannot_synthesize_stops_the_start(tmp_path):
    # Inference fails for more than 3 tokens, so the warm-up fails: a replica
    # that could never serve exits instead of staying live and never ready.
    model = make_failing_probe_model(tmp_path / "model", fail_above_tokens=3)
    assert_start_fails(tmp_path, 1, "warm-up synthesis failed", TTS_MODEL_DIR=model)


def test_unknown_path_is_404(server):
    status, _ = http_get(server.http + "/no/such/path")
    assert status == 404


def test_metrics_expose_the_seed_metrics(server):
    metrics = server.metrics()
    missing = [name for name in SEED_METRICS if not metrics.has(name)]
    assert not missing, f"/metrics lacks {missing}:\n{metrics.text[:2000]}"
    for histogram in ("tts_time_to_first_audio_seconds", "tts_realtime_factor"):
        assert metrics.types.get(histogram) == "histogram", f"{histogram} is not declared a histogram"
        assert metrics.value(histogram + "_count") is not None, f"{histogram}_count missing"
        assert any(n == histogram + "_bucket" and lab.get("le") == "+Inf" for n, lab, _ in metrics.samples)
    for gauge in ("tts_queue_depth", "tts_active_sessions"):
        assert metrics.value(gauge) is not None, f"{gauge} has no sample"


def test_error_and_stage_series_exist_at_zero_from_the_start(start_server):
    # rate() and increase() cannot see the first event of a series that
    # appears with it: every labelled series is exported at 0 from the start.
    metrics = start_server().metrics()
    for code in RETRYABLE:
        assert metrics.value("tts_errors_total", code=code) == 0, f"tts_errors_total{{code={code!r}}} is not 0"
    for stage in ("duration_predictor", "text_encoder", "vector_estimator", "vocoder"):
        assert metrics.value("tts_inference_seconds_count", stage=stage) == 0, stage


async def test_each_session_leaves_one_summary_line_in_the_log(start_server):
    srv = start_server()
    texts = ["First sentence here. ", "And a second one."]

    async with await WsClient.open(srv.url) as client:
        await client.send_all([start_msg("summarized", lang_code="en"), text_msg("Cut short, this one. "),
                               CANCEL])
        log = SessionLog("summarized")
        await collect(client, log, is_type("cancelled"))
        await client.send_all([*[text_msg(t) for t in texts], END])
        log = await collect_session(client, log)

    lines = [line for line in srv.log_tail(20000).splitlines() if "session summarized ended" in line]
    assert len(lines) == 1, lines
    line = lines[0]
    chars = len("Cut short, this one. ") + sum(len(t) for t in texts)
    assert "(completed)" in line and f"{chars} characters in" in line, line
    assert f"{len(log.completed())} segments" in line and "1 cancel(s)" in line, line
    assert re.search(r"first audio \d+ ms", line), line
    assert "First sentence" not in line, "the summary must not quote the text"


async def test_counters_move_with_a_session(server):
    texts = ["Counting words here. ", "And counting more."]
    before = server.metrics()

    async with await WsClient.open(server.url) as client:
        log = await run_session(client, "count", texts, {"lang_code": "en"}, flush_each=True)

    assert_session_speaks(log, texts, "en")
    after = server.metrics()
    n_segments = len(log.completed())
    assert after.get("tts_segments_total") - before.get("tts_segments_total") >= n_segments, (
        "tts_segments_total did not count the session's segments")
    chars = after.get("tts_characters_total") - before.get("tts_characters_total")
    assert chars >= len("".join(texts).replace(" ", "")), f"tts_characters_total moved by {chars}"
    audio_s = after.get("tts_audio_seconds_total") - before.get("tts_audio_seconds_total")
    sent_s = sum(s.done["duration_ms"] for s in log.completed()) / 1000
    assert audio_s == pytest.approx(sent_s, rel=0.2), f"tts_audio_seconds_total moved by {audio_s}, sent {sent_s}"
    ttfa = "tts_time_to_first_audio_seconds_count"
    assert after.get(ttfa) - before.get(ttfa) >= 1, "time to first audio was not observed"
    rtf = "tts_realtime_factor_count"
    assert after.get(rtf) - before.get(rtf) >= 1, "real-time factor was not observed"


async def test_cancellations_and_errors_are_counted(server):
    before = server.metrics()

    async with await WsClient.open(server.url) as client:
        await client.send_all([start_msg("metric-cancel", lang_code="en"), text_msg(ANSWER[0]), FLUSH])
        log = SessionLog("metric-cancel")
        await collect(client, log, lambda e: e.binary, timeout=10)
        await client.send(CANCEL)
        await collect(client, log, is_type("cancelled"), timeout=5)
        await client.send({"type": "no_such_type"})
        await client.expect_error("unknown_message_type")
        await client.send(END)
        await collect_session(client, log, allow_errors=True)

    after = server.metrics()
    assert after.get("tts_cancellations_total") - before.get("tts_cancellations_total") >= 1
    by_code = after.value("tts_errors_total", code="unknown_message_type")
    if by_code is not None:
        assert by_code - before.get("tts_errors_total", code="unknown_message_type") >= 1
    else:
        assert after.get("tts_errors_total") - before.get("tts_errors_total") >= 1


async def test_active_sessions_gauge_follows_sessions(server):
    def active() -> float:
        return server.metrics().get("tts_active_sessions")

    assert await apoll(lambda: active() == 0, 5), f"tts_active_sessions is {active()} with no session"
    async with await WsClient.open(server.url) as client:
        await client.send(start_msg("gauge", lang_code="en"))
        log = SessionLog("gauge")
        await collect(client, log, is_type("session_started"))
        during = await asyncio.to_thread(active)
        await client.send_all([text_msg("Bye."), END])
        await collect_session(client, log)

    assert during >= 1, "tts_active_sessions did not count an open session"
    assert poll_active_zero(server), "tts_active_sessions did not return to 0 after the session ended"


def poll_active_zero(server, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.metrics().get("tts_active_sessions") == 0:
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------
# A client that goes away


@pytest.mark.parametrize("how", ["close", "abort"])
def test_closing_the_socket_mid_synthesis_frees_the_session(server, how):
    async def body():
        client = await WsClient.open(server.url)
        messages = [start_msg(f"gone-{how}", lang_code="en", sample_rate=48000)]
        for s in ANSWER:
            messages += [text_msg(s), FLUSH]
        await client.send_all(messages)
        log = SessionLog(f"gone-{how}")
        await collect(client, log, lambda e: e.binary, timeout=10)
        if how == "close":
            await client.close()
        else:
            client.ws.transport.abort()

    run(body())
    assert poll_active_zero(server), "the session of a closed connection was not freed"
    assert server.running()

    async def again():
        async with await WsClient.open(server.url) as client:
            return await run_session(client, "after-gone", ["Hello again."], {"lang_code": "en"})

    assert_session_speaks(run(again()), ["Hello again."], "en")


# ---------------------------------------------------------------------------
# Shutdown

GRACE_S = 15


def test_sigterm_on_an_idle_server_exits_0_promptly(start_server):
    srv = start_server(TTS_SHUTDOWN_GRACE_S=GRACE_S)
    srv.signal(signal.SIGTERM)
    code = srv.wait(5)
    assert code == 0, f"exit code {code} (None: still running 5 s after SIGTERM)"


@pytest.mark.async_timeout(GRACE_S + 30)
async def test_sigterm_drains_sessions_then_exits_0(start_server):
    srv = start_server(TTS_SHUTDOWN_GRACE_S=GRACE_S, TTS_MAX_OUTPUT_BUFFER_MS=3600000)
    texts = ANSWER + ANSWER

    client = await WsClient.open_small_window(srv)
    try:
        await client.send_all([start_msg("draining", lang_code="en", sample_rate=48000),
                               *[text_msg(t) for t in texts], END])
        log = SessionLog("draining")
        await collect(client, log, lambda e: e.binary, timeout=10)

        # Mid-answer (the client is not reading): SIGTERM.
        t_term = time.monotonic()
        srv.signal(signal.SIGTERM)
        # Promptly; the bound is loose for sanitizer builds on a loaded machine.
        ready = await apoll(lambda: http_get(srv.http + "/health/ready", timeout=1)[0] == 503, 10,
                            interval=0.02)
        ready_status = http_get(srv.http + "/health/ready", timeout=1)[0]
        assert ready, f"/health/ready did not turn 503 after SIGTERM (now {ready_status})"

        # A new session is refused: error shutting_down, or no connection at all.
        refusal = await try_new_session(srv.url)
        assert refusal in ("refused", "shutting_down"), refusal

        # The session in flight still gets all its audio and session_ended.
        await collect_session(client, log, timeout=GRACE_S)
    finally:
        await client.close()

    assert_session_speaks(log, texts, "en")
    assert log.ended["reason"] == "completed", log.ended
    remaining = GRACE_S + 5 - (time.monotonic() - t_term)
    code = srv.wait(max(remaining, 0.1))
    assert code == 0, f"exit code {code} (None: still running {GRACE_S + 5} s after SIGTERM)"


async def try_new_session(url: str) -> str:
    try:
        client = await WsClient.open(url, open_timeout=3)
    except (OSError, InvalidHandshake, asyncio.TimeoutError, ConnectionClosed):
        return "refused"
    try:
        try:
            await client.send(start_msg("too-late", lang_code="en"))
            message = await client.recv_json(timeout=5)
        except ConnectionClosed:
            return "refused"
        assert_error(message, "shutting_down")
        return "shutting_down"
    finally:
        await client.close()


# ---------------------------------------------------------------------------
# Access and keepalive

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def auth_server(start_server):
    return start_server(TTS_AUTH_TOKEN=TOKEN)


@pytest.mark.parametrize("headers", [None, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_websocket_without_the_right_token_is_unauthorized(auth_server, headers):
    async def body():
        try:
            client = await WsClient.open(auth_server.url, additional_headers=headers)
        except InvalidStatus as e:
            return e.response.status_code
        # Refused after the upgrade instead: an `unauthorized` error, then the close.
        try:
            await client.send(start_msg("intruder", lang_code="en"))
            await client.expect_error("unauthorized")
            await client.expect_closed()
        finally:
            await client.close()
        return "error"

    outcome = run(body())
    assert outcome in (401, 403, "error"), outcome


async def test_websocket_with_the_token_works_and_health_stays_open(auth_server):
    async with await WsClient.open(auth_server.url,
                                   additional_headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        log = await run_session(client, "authorized", ["Welcome."], {"lang_code": "en"})

    assert_session_speaks(log, ["Welcome."], "en")
    # Probes and (by default) metrics need no token: kubelets and scrapers have none.
    for path in ("/health/live", "/health/startup", "/health/ready", "/metrics"):
        status, _ = http_get(auth_server.http + path)
        assert status == 200, f"GET {path} with auth enabled: {status}"


@pytest.fixture(scope="module")
def idle_server(start_server):
    return start_server(TTS_IDLE_TIMEOUT_S=1)


async def test_idle_connection_without_a_session_is_closed(idle_server):
    async with await WsClient.open(idle_server.url) as client:
        t0 = time.monotonic()
        await client.expect_closed(timeout=5)
        elapsed = time.monotonic() - t0

    assert 0.8 <= elapsed <= 4, f"idle connection closed after {elapsed:.2f} s (TTS_IDLE_TIMEOUT_S=1)"


async def test_connection_with_an_open_session_is_not_closed_as_idle(idle_server):
    async with await WsClient.open(idle_server.url) as client:
        await client.send(start_msg("lingering", lang_code="en"))
        log = SessionLog("lingering")
        await collect(client, log, is_type("session_started"))
        await asyncio.sleep(2.0)
        assert await client.is_open(), "a connection with an open session was closed as idle"
        await client.send_all([text_msg("Still here."), END])
        await collect_session(client, log)

    assert_session_speaks(log, ["Still here."], "en")


async def test_optimized_model_cache_is_written_once_and_reused(start_server, tmp_path):
    cache = tmp_path / "ort-cache"
    first = start_server(TTS_OPTIMIZED_MODEL_CACHE=str(cache))
    written = sorted(p.name for p in cache.iterdir())
    assert len(written) == 4, f"expected the four optimized graphs in {cache}, found {written}"
    mtimes = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    first.stop()
    second = start_server(TTS_OPTIMIZED_MODEL_CACHE=str(cache))
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == mtimes, "the cache was rewritten, not reused"

    async with await WsClient.open(second.url) as client:
        log = await run_session(client, "from-cache", ["Loaded from the cache."], {"lang_code": "en"})

    assert_session_speaks(log, ["Loaded from the cache."], "en")
