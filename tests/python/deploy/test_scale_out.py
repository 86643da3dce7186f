"""Scale-out as deployed: three `supertonic-tts serve` replicas on the probe
model behind one HAProxy (Debian's `haproxy`) running the example
configuration deploy/haproxy/haproxy.cfg itself, its placeholders pointed at
loopback ports through the environment.

* sessions opened through the balancer spread over the replicas;
* a SIGTERMed replica drains: its open session finishes its audio, while new
  sessions go to the other replicas (the balancer's health check takes it out
  of rotation; a client that still reaches it is refused with the retryable
  `shutting_down`, or its connection is closed, and retries);
* a SIGKILLed replica costs only its own sessions: the asyncio client, the
  LiveKit plugin and the Pipecat service get an error and speak their next
  turn through the balancer on another replica, while a session on another
  replica goes on untouched;
* a voice uploaded through one replica is offered by all of them (one shared
  TTS_VOICES_DIR, re-scanned every TTS_VOICES_RESCAN_S).

The replicas and the balancer are started once for the module; a test that
ends a replica leaves it to the next test's `lb` fixture, which starts it
again on its port and waits until the balancer has it back in rotation.
Which replica served what comes from each replica's /metrics, and whether the
balancer has a replica in rotation from its own status page (/stats;csv).
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from client_support import heard
from service_support import (
    END,
    FLUSH,
    REPO,
    SessionLog,
    ServerProcess,
    WsClient,
    apoll,
    assert_session_speaks,
    collect,
    collect_session,
    free_port,
    http_get,
    is_type,
    number_words,
    poll,
    requires_server_binary,
    run,
    start_msg,
    text_msg,
)

pytestmark = requires_server_binary

CONFIG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
REPLICAS = 3                 # the config's TTS_REPLICA_1..3
# Every replica shares one voices folder; uploads are allowed without a token
# (loopback only), and each replica re-scans the folder every second.
REPLICA_ENV = {
    "TTS_ALLOW_VOICE_UPLOAD": "true",
    "TTS_VOICES_RESCAN_S": "1",
    "TTS_SHUTDOWN_GRACE_S": "20",
}
# The config's checks (inter 1s, fastinter 250ms, fall 2) take a draining
# replica out of rotation within about 1.5 s; this allows for a loaded machine.
LEAVES_ROTATION_S = 3.0
WAIT = 15.0                  # the longest any single wait may take
LONG_TEXT = " ".join(f"Sentence number {number_words(i)} is here." for i in range(12))


# ---------------------------------------------------------------------------
# The balancer


class Balancer:
    """`haproxy` on deploy/haproxy/haproxy.cfg in the foreground, its log in `folder`."""

    def __init__(self, folder: Path, replicas: list[ServerProcess]) -> None:
        binary = shutil.which("haproxy") or next(
            (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None)
        if binary is None:
            pytest.fail("the haproxy command is not installed: `make test` installs it "
                        "(scripts/apt_install.sh test haproxy); else `apt-get install haproxy`", pytrace=False)
        self.port, self.stats_port = free_port(), free_port()
        # A copy, so that what runs is beside its log; the file is the example as it is.
        self.config = folder / "haproxy.cfg"
        shutil.copyfile(CONFIG, self.config)
        self.log_path = folder / "haproxy.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TTS_")}
        env["TTS_LB_BIND"] = f"127.0.0.1:{self.port}"
        env["TTS_LB_STATS_BIND"] = f"127.0.0.1:{self.stats_port}"
        for i, replica in enumerate(replicas, start=1):
            env[f"TTS_REPLICA_{i}"] = f"127.0.0.1:{replica.port}"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([binary, "-db", "-f", str(self.config)], env=env, cwd=folder,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/tts"

    def servers(self) -> dict[str, dict[str, str]]:
        """The balancer's rows for the replicas (svname -> the /stats;csv columns); {} when it does not answer."""
        status, body = http_get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=2.0)
        if status != 200:
            return {}
        rows = csv.DictReader(io.StringIO(body.lstrip("# ")))
        return {r["svname"]: r for r in rows if r["pxname"] == "tts" and r["svname"] not in ("FRONTEND", "BACKEND")}

    def status(self, index: int) -> str:
        """UP, DOWN, or a transition such as "UP 1/2" (still in rotation), of replica `index` (0-based)."""
        return self.servers().get(f"tts-{index + 1}", {}).get("status", "")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            text = self.log_path.read_bytes()[-chars:].decode("utf-8", errors="replace")
        except OSError:
            text = "(no log)"
        return f"--- haproxy log ({self.log_path}) ---\n{text}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Cluster:
    """The replicas and the balancer in front of them."""

    def __init__(self, folder: Path, voices: Path) -> None:
        self.folder = folder
        self.env = {**REPLICA_ENV, "TTS_VOICES_DIR": str(voices)}
        self.replicas = [ServerProcess(folder / f"replica-{i}", **self.env) for i in range(REPLICAS)]
        self.restarts = 0
        self.balancer: Balancer | None = None

    def start(self) -> None:
        self._start(self.replicas)
        self.balancer = Balancer(self.folder, self.replicas)

    @property
    def url(self) -> str:
        return self.balancer.url

    def _start(self, replicas: list[ServerProcess]) -> None:
        with ThreadPoolExecutor(len(replicas)) as pool:
            for future in [pool.submit(r.start) for r in replicas]:
                future.result()

    def heal(self) -> None:
        """Starts every replica that is not running again, on its port; waits
        until the balancer has all of them in rotation."""
        dead = [i for i, r in enumerate(self.replicas) if not r.running()]
        for i in dead:
            old = self.replicas[i]
            old.stop()
            self.restarts += 1
            new = ServerProcess(old.log_path.parent, **self.env)
            new.port = old.port
            new.log_path = old.log_path.with_name(f"restart-{self.restarts}-{old.port}.log")
            self.replicas[i] = new
        if dead:
            self._start([self.replicas[i] for i in dead])
        in_rotation = poll(lambda: self.balancer.proc.poll() is not None
                           or all(self.balancer.status(i) == "UP" for i in range(REPLICAS)), WAIT)
        assert self.balancer.proc.poll() is None, (f"haproxy exited with code {self.balancer.proc.returncode}\n"
                                                   f"{self.balancer.log_tail()}")
        assert in_rotation, (f"the balancer does not have every replica UP within {WAIT:.0f} s: "
                             f"{[self.balancer.status(i) for i in range(REPLICAS)]}\n{self.balancer.log_tail()}")

    def sessions_served(self) -> list[float]:
        return [r.metrics().get("tts_sessions_total") for r in self.replicas]

    def busy(self) -> list[int]:
        """The replicas that have a session open now."""
        return [i for i, r in enumerate(self.replicas) if r.running() and r.metrics().get("tts_active_sessions") > 0]

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()
        for r in self.replicas:
            r.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("scale-out"), tmp_path_factory.mktemp("shared-voices"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture()
def lb(cluster):
    """The cluster with every replica running and in rotation."""
    cluster.heal()
    return cluster


def post_json(url: str, body: dict) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# Sessions through the balancer


async def session_with_retries(url: str, session_id: str, texts: list[str], deadline_s: float = 10.0,
                               **config: Any) -> tuple[SessionLog, list[str]]:
    """Runs one session (start, texts, end) on a new connection. A refusal the
    protocol marks retryable, or a connection closed before the session
    started (a draining replica closes one that has no session), is retried on
    a new connection, where the balancer picks a replica again, until
    `deadline_s`. Returns the checked log and what was retried."""
    retried: list[str] = []
    deadline = time.monotonic() + deadline_s
    messages = [start_msg(session_id, lang_code="en", **config), *[text_msg(t) for t in texts], END]
    while True:
        log = SessionLog(session_id)
        try:
            async with await WsClient.open(url) as client:
                await client.send_all(messages)
                first = await collect(client, log, is_type("session_started", "error"), WAIT)
                if first.type == "session_started":
                    return await collect_session(client, log, WAIT), retried
                assert first.data.get("retryable") is True, f"a refusal that is not retryable: {first.data}"
                retried.append(first.data["code"])
        except ConnectionClosed as e:
            assert log.started is None, f"session {session_id} lost after it started: {e!r}"
            retried.append(f"closed before the session started ({e.rcvd.code if e.rcvd else 'no close frame'})")
        assert time.monotonic() < deadline, f"session {session_id} not served within {deadline_s} s: {retried}"
        await asyncio.sleep(0.05)


async def open_session(url: str, session_id: str, text: str) -> tuple[WsClient, SessionLog]:
    """A session through the balancer that stays open after `text` has been
    spoken (no end_session yet): the caller sends more and ends it."""
    client = await WsClient.open(url)
    log = SessionLog(session_id)
    await client.send_all([start_msg(session_id, lang_code="en"), text_msg(text), FLUSH])
    await collect(client, log, is_type("segment_done"), WAIT)
    return client, log


async def finish(client: WsClient, log: SessionLog, text: str) -> SessionLog:
    try:
        await client.send_all([text_msg(text), END])
        return await collect_session(client, log, WAIT)
    finally:
        await client.close()


async def the_new_busy_replica(cluster: Cluster, known: set[int]) -> int:
    """The one replica with an open session besides those in `known`."""
    busy = await apoll(lambda: [i for i in cluster.busy() if i not in known], 5)
    assert busy and len(busy) == 1, f"replicas with a new open session: {busy} (known: {known})"
    return busy[0]


# ---------------------------------------------------------------------------


def test_sessions_spread_over_the_replicas(lb):
    texts = [f"Session {number_words(i)} through the balancer." for i in range(6)]
    before = lb.sessions_served()

    async def body():
        # All six connections are open before any session starts: the balancer
        # counts them when it picks a replica for the next one.
        clients: list[WsClient] = []
        try:
            for _ in texts:
                clients.append(await WsClient.open(lb.url))
            logs = [SessionLog(f"spread-{i}") for i in range(len(texts))]
            for client, log, text in zip(clients, logs, texts):
                await client.send_all([start_msg(log.session_id, lang_code="en"), text_msg(text), END])
            return await asyncio.gather(*(collect_session(c, log, WAIT) for c, log in zip(clients, logs)))
        finally:
            for c in clients:
                await c.close()

    logs = run(body())
    for log, text in zip(logs, texts):
        assert_session_speaks(log, [text], "en")
    served = [after - b for after, b in zip(lb.sessions_served(), before)]
    assert sum(served) == len(texts) and all(n >= 1 for n in served), f"sessions per replica: {served}"


def test_a_terminated_replica_drains_while_new_sessions_go_elsewhere(lb):
    held_texts = ["Spoken before the signal.", "Sent after the signal, spoken while draining."]
    new_texts = [f"New session {number_words(i)} after the signal." for i in range(4)]

    async def body():
        client, log = await open_session(lb.url, "draining", held_texts[0])
        try:
            victim = await the_new_busy_replica(lb, set())
            served_before = lb.sessions_served()
            lb.replicas[victim].signal(signal.SIGTERM)
            t_signal = time.monotonic()
            # Once it answers 503 it refuses new sessions: none of those below can be its.
            ready = await apoll(lambda: http_get(lb.replicas[victim].http + "/health/ready")[0] == 503, 5)
            assert ready, "a draining replica must answer /health/ready with 503"
            news = await asyncio.gather(*(session_with_retries(lb.url, f"new-{i}", [t])
                                          for i, t in enumerate(new_texts)))
            out = await apoll(lambda: lb.balancer.status(victim) == "DOWN",
                              max(0.0, t_signal + LEAVES_ROTATION_S - time.monotonic()))
            assert out, (f"the balancer still has the draining replica in rotation "
                         f"({lb.balancer.status(victim)!r}) {time.monotonic() - t_signal:.1f} s after SIGTERM")
            # Still running (the held session is open): it served none of the new sessions.
            served = [after - b for after, b in zip(lb.sessions_served(), served_before)]
            assert served[victim] == 0 and sum(served) == len(new_texts), f"new sessions per replica: {served}"
        except BaseException:
            await client.close()
            raise
        return victim, await finish(client, log, held_texts[1]), news

    victim, held, news = run(body(), timeout=60)
    assert held.ended["reason"] == "completed", held.ended
    assert_session_speaks(held, held_texts, "en")
    for (log, retried), text in zip(news, new_texts):
        assert_session_speaks(log, [text], "en")
        assert all(r == "shutting_down" or r.startswith("closed") for r in retried), retried
    assert lb.replicas[victim].wait(10) == 0, "the drained replica exits 0 once its session ended"


# --- A replica killed mid-session: each client gets an error and speaks its next turn elsewhere ---
# Each client is driven as its own tests drive it (test_client_*.py: the LiveKit
# turn helper, the Pipecat pipeline harness), imported from there when needed.


async def asyncio_client_loses_a_turn_then_speaks(url: str, on_audio) -> str:
    stc = pytest.importorskip("supertonic_client")
    async with await stc.connect(url) as conn:
        session = conn.session(lang_code="en")
        await session.send_text(LONG_TEXT)          # no end: the session is open when the replica dies
        with pytest.raises(stc.ConnectionLostError):
            async for event in session.events(timeout=WAIT):
                if isinstance(event, stc.AudioFrame) and on_audio is not None:
                    await on_audio()
                    on_audio = None
    result = await stc.synthesize("The next turn.", url=url, lang_code="en", timeout=WAIT)
    return heard(result.pcm, result.sample_rate)


async def livekit_plugin_loses_a_turn_then_speaks(url: str, on_audio) -> str:
    pytest.importorskip("livekit.agents")
    supertonic = pytest.importorskip("livekit.plugins.supertonic")
    from livekit.agents import APIConnectionError
    from test_client_livekit import NO_RETRY, speak

    tts = supertonic.TTS(url=url, language="en")
    try:
        stream = tts.stream(conn_options=NO_RETRY)  # the error reaches the agent instead of a silent retry
        for word in LONG_TEXT.split(" "):
            stream.push_text(word + " ")            # no end_input: the turn is open when the replica dies
        with pytest.raises(APIConnectionError):
            async def consume():
                nonlocal on_audio
                async for _ in stream:
                    if on_audio is not None:
                        await on_audio()
                        on_audio = None
            await asyncio.wait_for(consume(), WAIT)
        await stream.aclose()
        turn = await speak(tts, "The next turn.")
        return heard(turn.pcm, 24000)
    finally:
        await tts.aclose()


async def pipecat_service_loses_a_turn_then_speaks(url: str, on_audio) -> str:
    pytest.importorskip("pipecat")
    from pipecat.frames.frames import (LLMFullResponseEndFrame, LLMFullResponseStartFrame, LLMTextFrame,
                                       TTSAudioRawFrame, TTSSpeakFrame)
    from pipecat.transcriptions.language import Language
    from pipecat_supertonic import SupertonicTTSService
    from test_client_pipecat import Bot, tokens

    tts = SupertonicTTSService(url=url, settings=SupertonicTTSService.Settings(language=Language.EN),
                               reconnect_backoff_min_wait=0.2, reconnect_backoff_max_wait=0.5)
    async with Bot(tts) as bot:
        # No LLMFullResponseEndFrame yet: the turn is open when the replica dies.
        await bot.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens(LONG_TEXT)])
        await bot.until(lambda: bot.of_type(TTSAudioRawFrame), "the first audio")
        await on_audio()
        await bot.until(lambda: any("during a turn" in e.error for e in bot.errors()), "the lost-turn error")
        await bot.send(LLMFullResponseEndFrame())
        await bot.send(TTSSpeakFrame("The next turn."))
        await bot.until(lambda: len(bot.contexts()) == 2 and bot.stopped(2), "the next turn")
        assert bot.tts.is_usable, "a lost replica must not write the service off"
        assert all(not e.category.is_permanent for e in bot.errors()), bot.errors()
        return heard(bot.audio(bot.contexts()[1]), 24000)


CLIENTS = {
    "asyncio": asyncio_client_loses_a_turn_then_speaks,
    "livekit": livekit_plugin_loses_a_turn_then_speaks,
    "pipecat": pipecat_service_loses_a_turn_then_speaks,
}


@pytest.mark.parametrize("client", list(CLIENTS))
async def test_a_killed_replica_costs_only_its_own_sessions(lb, client):
    """A session on another replica is open throughout; the client's turn is
    on a third one, killed with SIGKILL after its first audio."""
    bystander_texts = ["Another replica speaks this.", "And this, after the kill."]
    killed: list[int] = []

    client_ws, bystander = await open_session(lb.url, "bystander", bystander_texts[0])
    try:
        bystander_at = await the_new_busy_replica(lb, set())

        async def kill_the_clients_replica():
            victim = await the_new_busy_replica(lb, {bystander_at})
            lb.replicas[victim].signal(signal.SIGKILL)
            killed.append(victim)
            assert await asyncio.to_thread(lb.replicas[victim].wait, 5) is not None

        next_turn = await CLIENTS[client](lb.url, kill_the_clients_replica)
    except BaseException:
        await client_ws.close()
        raise
    bystander = await finish(client_ws, bystander, bystander_texts[1])

    assert killed, "the client's replica was not killed"
    assert next_turn == "The next turn."
    assert bystander.ended["reason"] == "completed", bystander.ended
    assert_session_speaks(bystander, bystander_texts, "en")


# ---------------------------------------------------------------------------


async def test_a_voice_uploaded_through_one_replica_is_offered_by_all(lb):
    """The replicas share TTS_VOICES_DIR: an upload through one is written
    there, and the others find it when they re-scan the folder
    (TTS_VOICES_RESCAN_S=1)."""
    name = "Shared"
    status, saved = post_json(lb.replicas[0].http + "/v1/voices", {"name": name, "blend": "F1+M2"})
    assert status == 201, saved
    uploaded = time.monotonic()

    async def served_by(index: int) -> SessionLog:
        replica = lb.replicas[index]
        text = f"The shared voice on replica {number_words(index)}."
        while True:
            async with await WsClient.open(replica.url) as client:
                await client.send_all([start_msg(f"voice-{index}", voice=name, lang_code="en"), text_msg(text), END])
                log = SessionLog(f"voice-{index}")
                first = await collect(client, log, is_type("session_started", "error"), WAIT)
                if first.type == "session_started":
                    await collect_session(client, log, WAIT)
                    assert_session_speaks(log, [text], "en")
                    return log
                assert first.data.get("code") == "invalid_voice", first.data
            waited = time.monotonic() - uploaded
            assert waited < 5.0, (f"replica {index} (port {replica.port}) does not offer the voice {name!r} "
                                  f"{waited:.1f} s after it was uploaded through replica 0; it re-scans the "
                                  f"shared TTS_VOICES_DIR every TTS_VOICES_RESCAN_S=1 s")
            await asyncio.sleep(0.2)

    logs = await asyncio.gather(*(served_by(i) for i in range(REPLICAS)))
    through_the_balancer, _ = await session_with_retries(lb.url, "voice-lb", ["Through the balancer."],
                                                         voice=name)
    through = through_the_balancer

    assert [log.started["voice"] for log in logs] == [name] * REPLICAS
    assert through.started["voice"] == name
