"""What an idle, greedy or foreign client can no longer do, on the probe
model, 127.0.0.1 only:

* hold every connection so that the probes fail and the orchestrator restarts
  the pod (probes and /metrics are answered at any connection count; a
  connection that sends no request line is dropped within seconds; one
  address gets at most its share of TTS_MAX_CONNECTIONS);
* use the server from another site's web page (Origin checked on WebSocket
  upgrades and on POST/DELETE; JSON routes take JSON only);
* make the server build and hold an unbounded voice list (paged, and unread
  replies counted and dropped);
* stall other sessions with long text (text work is done per segment as it
  is submitted, not per message on the network thread);
* miss, while the server drains, that it should reconnect elsewhere.

Each test says what the server did before.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import socket
import statistics
import time

import pytest
from websockets.exceptions import InvalidStatus

from service_support import (
    END, WsClient, assert_error, assert_session_speaks, http_get, poll, requires_server_binary, run,
    run_session, start_msg, text_msg,
)
from test_hostile_clients import RawHttp
from test_reliability import SANITIZER, gauge

pytestmark = requires_server_binary


def request_status(server, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                   source: str | None = None) -> tuple[int, dict]:
    """One request on a fresh connection (from `source`, a loopback address);
    the status and the JSON body (empty when none)."""
    client = RawHttp(server, timeout=10)
    if source:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect((server.host, server.port))
        client.sock = sock
        head = f"{method} {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nContent-Length: {len(body)}\r\n"
        for name, value in {"Connection": "close", **(headers or {})}.items():
            head += f"{name}: {value}\r\n"
        sock.sendall(head.encode() + b"\r\n" + body)
        client._t0 = time.monotonic()
    else:
        client.send(method, path, body, {"Connection": "close", **(headers or {})})
    response = client.response()
    try:
        return response.status, response.json()
    except ValueError:
        return response.status, {}


def idle_sockets(server, n: int) -> list[socket.socket]:
    return [socket.create_connection((server.host, server.port), timeout=5) for _ in range(n)]


def open_connections(server) -> float:
    return gauge(server, "tts_open_connections")


# ---------------------------------------------------------------------------
# 1. Probes that an idle client can starve


def test_probes_and_metrics_answer_while_idle_clients_hold_every_connection(start_server):
    """With every one of TTS_MAX_CONNECTIONS held by idle sockets, /health/*
    and /metrics still answer 200 (a liveness probe failing three times
    restarts the pod and drops every session), while an API request gets the
    503 `capacity`. Old: /health/live, /health/ready and /metrics were 503."""
    server = start_server(TTS_MAX_CONNECTIONS=6, TTS_MAX_CONNECTIONS_PER_ADDRESS=6)
    held = idle_sockets(server, 6)
    try:
        assert poll(lambda: open_connections(server) >= 6, 3)
        for path in ("/health/live", "/health/ready", "/health/startup", "/metrics"):
            status, _ = request_status(server, "GET", path)
            assert status == 200, (path, status)
        status, body = request_status(server, "GET", "/v1/models")
        assert status == 503 and body["error"]["code"] == "capacity", (status, body)
    finally:
        for s in held:
            s.close()


@pytest.mark.slow
def test_a_connection_that_sends_no_request_is_dropped_within_seconds(start_server):
    """A socket that sends nothing, or half a request line, is closed after
    about 5 s and its slot freed. Old: held 30 s, so 256 sockets renewed every
    ~26 s kept the server full."""
    server = start_server()
    silent = socket.create_connection((server.host, server.port), timeout=15)
    partial = socket.create_connection((server.host, server.port), timeout=15)
    partial.sendall(b"GET /health/li")
    t0 = time.monotonic()
    try:
        assert silent.recv(1) == b""
        assert partial.recv(1024) == b""
        elapsed = time.monotonic() - t0
        assert elapsed < (10 if SANITIZER else 7), f"closed after {elapsed:.1f} s"
    finally:
        silent.close()
        partial.close()
    assert poll(lambda: open_connections(server) == 1, 5), open_connections(server)


def test_one_address_cannot_take_every_connection(start_server):
    """One client address holds at most its share of TTS_MAX_CONNECTIONS
    (half by default): past it that address gets 429 `capacity`, while
    another address is served and the probes still answer. Old: one address
    could take every slot."""
    server = start_server(TTS_MAX_CONNECTIONS=8)
    held = idle_sockets(server, 4)
    try:
        assert poll(lambda: open_connections(server) >= 4, 3)
        status, body = request_status(server, "GET", "/v1/models")
        assert status == 429 and body["error"]["code"] == "capacity", (status, body)
        assert "TTS_MAX_CONNECTIONS_PER_ADDRESS" in body["error"]["message"]
        assert request_status(server, "GET", "/health/live")[0] == 200
        status, body = request_status(server, "GET", "/v1/models", source="127.0.0.2")
        assert status == 200, (status, body)
    finally:
        for s in held:
            s.close()


# ---------------------------------------------------------------------------
# 2. Another site's page


FOREIGN = "https://evil.example"


def ws_upgrade(server, origin: str | None) -> int:
    """The status of a WebSocket upgrade to /ws/tts with this Origin."""
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    if origin:
        headers["Origin"] = origin
    client = RawHttp(server, timeout=10).send("GET", "/ws/tts", headers=headers)
    status = int(client.status_line().split()[1])
    client.sock.close()
    return status


def test_websocket_from_another_origin_is_refused(start_server):
    """A page of another site could open /ws/tts in the user's browser and
    read every message: its upgrade gets 403 `origin_not_allowed`, while the
    server's own origin, a listed one and a client without Origin connect.
    Old: every origin was let in."""
    server = start_server(TTS_ALLOWED_ORIGINS="https://app.example.com, http://localhost:3000/")
    own = f"http://{server.host}:{server.port}"
    assert ws_upgrade(server, FOREIGN) == 403
    assert ws_upgrade(server, "null") == 403
    assert ws_upgrade(server, f"http://{server.host}:{server.port + 1}") == 403
    for origin in (None, own, "https://APP.example.com", "http://localhost:3000"):
        assert ws_upgrade(server, origin) == 101, origin

    async def foreign_client() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await WsClient.open(server.url, origin=FOREIGN)
        assert refused.value.response.status_code == 403
        assert b"TTS_ALLOWED_ORIGINS" in refused.value.response.body
        async with await WsClient.open(server.url, origin=own) as client:
            log = await run_session(client, "own-origin", ["Same site."], {"lang_code": "en"})
        assert_session_speaks(log, ["Same site."], "en")

    run(foreign_client())


def test_cross_origin_writes_are_refused_and_json_routes_take_json_only(start_server, tmp_path):
    """A page of another site could overwrite a voice with a "simple" text/plain
    POST (no preflight): POST and DELETE from another origin get 403, and a JSON
    route refuses another Content-Type with 415, whoever sends it. Reads are
    unaffected. Old: the voice was overwritten."""
    server = start_server(TTS_VOICES_DIR=str(tmp_path / "voices"), TTS_ALLOW_VOICE_UPLOAD="true")
    blend = json.dumps({"name": "narrator", "blend": "F1:0.5+M1:0.5"}).encode()
    as_json = {"Content-Type": "application/json"}
    foreign = {"Origin": FOREIGN}
    status, body = request_status(server, "POST", "/v1/voices", blend, {"Content-Type": "text/plain", **foreign})
    assert status == 403 and body["error"]["code"] == "origin_not_allowed", (status, body)
    status, body = request_status(server, "POST", "/v1/voices", blend, {**as_json, **foreign})
    assert status == 403, (status, body)
    status, body = request_status(server, "POST", "/v1/voices", blend, {"Content-Type": "text/plain"})
    assert status == 415 and body["error"]["code"] == "unsupported_media_type", (status, body)
    assert not list((tmp_path / "voices").rglob("narrator.json"))
    speech = json.dumps({"input": "Hello.", "response_format": "pcm"}).encode()
    assert request_status(server, "POST", "/v1/audio/speech", speech, {**as_json, **foreign})[0] == 403
    assert request_status(server, "POST", "/v1/audio/speech", speech, {"Content-Type": "text/plain"})[0] == 415
    # The server's own pages, and clients without Origin, go on working.
    own = {"Origin": f"http://{server.host}:{server.port}"}
    assert request_status(server, "POST", "/v1/voices", blend, {**as_json, **own})[0] == 201
    assert request_status(server, "DELETE", "/v1/voices/narrator", headers=foreign)[0] == 403
    assert list((tmp_path / "voices").rglob("narrator.json"))
    assert request_status(server, "GET", "/v1/voices", headers=foreign)[0] == 200
    assert request_status(server, "POST", "/v1/audio/speech", speech,
                          {"Content-Type": "application/json; charset=utf-8"})[0] == 200
    assert request_status(server, "DELETE", "/v1/voices/narrator")[0] == 200


# ---------------------------------------------------------------------------
# 3. The voice list


def voices_page(server, query: str = "") -> dict:
    status, body = http_get(server.http + "/v1/voices" + query, timeout=10)
    assert status == 200, (status, body[:300])
    return json.loads(body)


@pytest.fixture(scope="module")
def many_voices(start_server, tmp_path_factory):
    """A server with 120 uploaded voices, each with 15 KB of metadata (their
    files written beside one uploaded through the API)."""
    folder = tmp_path_factory.mktemp("many-voices")
    first = start_server(TTS_VOICES_DIR=str(folder), TTS_ALLOW_VOICE_UPLOAD="true")
    metadata = {"notes": "n" * 15000}
    body = json.dumps({"name": "v000", "blend": "F1:0.5+M1:0.5", "metadata": metadata}).encode()
    assert request_status(first, "POST", "/v1/voices", body, {"Content-Type": "application/json"})[0] == 201
    made = next(folder.rglob("v000.json"))
    for i in range(1, 120):
        shutil.copy(made, made.with_name(f"v{i:03d}.json"))
    first.stop()
    return start_server(TTS_VOICES_DIR=str(folder), TTS_SLOW_CONSUMER_TIMEOUT_S=2)


def test_voice_list_is_paged_and_each_page_bounded(many_voices):
    """GET /v1/voices answers pages (OpenAI's `limit`, `after`, `has_more`,
    `last_id`) of at most ~1 MiB, and walking them gives every voice once;
    the names under `voices` and `models` stay complete. Old: one 1.9 MB
    answer (8.2 MB with 500 voices), built on the network thread."""
    server = many_voices
    first = voices_page(server)
    assert first["has_more"] is True and len(first["voices"]) == 130  # the model's 10 and 120 uploads
    assert 0 < len(first["data"]) <= 100
    assert len(json.dumps(first)) < 1.3 * 2**20
    seen, after = [], None
    while True:
        page = voices_page(server, "?limit=7" + (f"&after={after}" if after else ""))
        assert len(page["data"]) <= 7
        seen += [v["name"] for v in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
        assert after == f"{page['data'][-1]['model']}:{page['data'][-1]['name']}"
    assert sorted(seen) == sorted(first["voices"]) and len(seen) == len(set(seen))
    # The Python client follows the pages.
    from supertonic_client.voices import list_voices
    listed = run(list_voices(server.url))
    assert [v.name for v in listed][:10] == first["voices"][:10]  # the model's own first
    assert sorted(v.name for v in listed) == sorted(first["voices"])
    status, body = http_get(server.http + "/v1/voices?limit=0")
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_request_error"


def test_unread_voice_lists_are_counted_and_dropped(many_voices):
    """Clients that ask for the list and read nothing: the bytes the server
    holds for them show in tts_buffered_output_bytes, and they are dropped
    after TTS_SLOW_CONSUMER_TIMEOUT_S. Old: +319 MiB held for 40 such clients
    while the gauge read 0, until they left."""
    server = many_voices
    readers = []
    for _ in range(6):
        client = RawHttp(server, mss=1460, rcvbuf=4096, timeout=15)
        client.send("GET", "/v1/voices")
        readers.append(client)
    try:
        assert poll(lambda: gauge(server, "tts_buffered_output_bytes") > 1_000_000, 5), \
            gauge(server, "tts_buffered_output_bytes")
        assert gauge(server, "tts_buffered_output_bytes") < 6 * 1.3 * 2**20
        assert poll(lambda: gauge(server, "tts_buffered_output_bytes") == 0, 8), \
            gauge(server, "tts_buffered_output_bytes")
        assert poll(lambda: open_connections(server) == 1, 5), open_connections(server)
    finally:
        for client in readers:
            client.sock.close()


# ---------------------------------------------------------------------------
# 4. Long text and another session's first audio


MONEY = " ".join(f"It costs ${i},{i % 1000:03d}.{i % 100:02d} or €{i}.5 million." for i in range(1, 2000))


async def first_audio_ms(server, sid: str) -> float:
    async with await WsClient.open(server.url) as client:
        await client.send(start_msg(sid, lang_code="en"))
        assert (await client.recv_json())["type"] == "session_started"
        t0 = time.monotonic()
        await client.send_all([text_msg("Are you there? "), END])
        while not (await client.recv(10)).binary:
            pass
        first = 1000 * (time.monotonic() - t0)
        # Read to the end: a close with frames unread waits for the library's close timeout.
        while (event := await client.recv(10)).binary or event.data["type"] != "session_ended":
            pass
        return first


async def flood(server, stop: asyncio.Event, n: int) -> None:
    """A client that sends 19,000 characters of money text in one message,
    again and again, each cancelled once the server has taken it (so the
    server always has the next one to work on, and never a backlog that
    would leave the client blocked in a send)."""
    text = MONEY[:19000]
    async with await WsClient.open(server.url) as client:
        await client.send(start_msg(f"flood-{n}", lang_code="en"))
        while not stop.is_set():
            await client.send_all([text_msg(text), {"type": "cancel"}])
            while (event := await client.recv(60)).binary or event.data["type"] != "cancelled":
                pass


@pytest.mark.slow
def test_long_text_does_not_hold_up_another_sessions_audio(start_server):
    """Four clients each sending 19,000 characters of money text per message
    while other sessions start: every bystander gets its first audio and every
    flood its `cancelled`. (How much the floods delay a bystander is a timing
    figure, printed here; on a shared 2-core machine a client-side bound on it
    fails by chance, so none is asserted. Before the fix each message was
    normalized at once on the network thread, ~54 ms, and a bystander's first
    audio went from 4 ms to 176 ms median.)"""
    server = start_server(TTS_MAX_TEXT_CHARS=100000, TTS_MAX_MESSAGE_BYTES=262144)

    # Under a sanitizer one flood is enough to run the paths (the server is
    # ~20x slower there).
    floods_n, bystanders = (1, 2) if SANITIZER else (4, 8)

    async def measure() -> tuple[list[float], list[float]]:
        quiet = [await first_audio_ms(server, f"quiet-{i}") for i in range(5)]
        stop = asyncio.Event()
        floods = [asyncio.create_task(flood(server, stop, n)) for n in range(floods_n)]
        await asyncio.sleep(1.0)
        loud = []
        for i in range(bystanders):
            loud.append(await first_audio_ms(server, f"bystander-{i}"))
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*floods)
        return quiet, loud

    quiet, loud = run(measure(), timeout=300 if SANITIZER else 120)
    assert len(loud) == bystanders
    print(f"first audio, quiet: {statistics.median(quiet):.1f} ms median; "
          f"beside {floods_n} floods: {statistics.median(loud):.1f} ms median, {max(loud):.1f} ms max")


# ---------------------------------------------------------------------------
# 5. Draining


def test_a_client_connecting_during_the_drain_is_told_to_go_elsewhere(start_server):
    """During a SIGTERM drain a new WebSocket (or an idle one) gets the
    retryable `shutting_down` error before the close, so a client reconnects
    to another replica instead of taking the close for the end of its
    conversation. Old: closed with code 1000 and nothing said."""
    server = start_server(TTS_SHUTDOWN_GRACE_S=20)

    async def body() -> None:
        busy = await WsClient.open(server.url)
        idle = await WsClient.open(server.url)
        await busy.send(start_msg("long", lang_code="en"))
        assert (await busy.recv_json())["type"] == "session_started"
        await busy.send(text_msg("One sentence after another, to keep the session open. " * 20))
        await busy.recv(10)
        server.proc.send_signal(15)
        assert_error(await idle.recv_json(timeout=5), "shutting_down")
        await idle.expect_closed()
        async with await WsClient.open(server.url) as late:
            assert_error(await late.recv_json(timeout=5), "shutting_down")
            await late.expect_closed()
        # The open session still finishes.
        await busy.send(END)
        while True:
            event = await busy.recv(30)
            if not event.binary and event.data["type"] == "session_ended":
                assert event.data["reason"] == "completed", event.data
                break
        await busy.close()

    run(body(), timeout=90)
