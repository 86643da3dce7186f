"""Shared machinery for the service integration tests (test_service_*.py).

They run a real ``supertonic-tts serve`` process on the probe model
(``tools/models/probe.py``), whose audio encodes the text it speaks, and talk
to it over WebSocket and HTTP exactly as a client would (docs/protocol.md, docs/http-api.md):

* ``ServerProcess``: one server with its own port, environment and log file;
  ``start()`` waits for ``/health/startup``, ``stop()`` sends SIGTERM (then
  SIGKILL after 10 s).
* ``WsClient``: a WebSocket connection whose every receive is bounded in time.
* ``SessionLog``: the server messages of one session, checked against the
  protocol's invariants as they arrive (frame sizes, segment framing, order,
  no interleaving, nothing after ``cancelled`` or ``session_ended``);
  ``Segment.decode()`` turns a segment's PCM back into text.
* ``http_get`` and ``Metrics`` for the HTTP endpoints.

Nothing here waits without a bound: a broken server makes a test fail with a
message (and the server's log, see conftest.py), never hang.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import time
import unicodedata
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tools.probe_decode import DecodeResult, decode_samples, load_indexer
from tools.reference_pipeline import preprocess

REPO = Path(__file__).resolve().parents[2]
# SUPERTONIC_TTS_BINARY runs the suite against another build of the server.
BINARY = Path(os.environ.get("SUPERTONIC_TTS_BINARY") or REPO / "build" / "bin" / "supertonic-tts")
PROBE_DIR = REPO / "models" / "probe"
VENV_PYTHON = REPO / "build" / "venv" / "bin" / "python"

requires_server_binary = pytest.mark.skipif(
    not BINARY.exists(),
    reason="build/bin/supertonic-tts is not built (run `make build`); the service tests need it",
)

# The environment every test server gets unless a test overrides it.
BASE_ENV = {
    "TTS_HOST": "127.0.0.1",
    "TTS_DEVICE": "cpu",
    "TTS_INTRA_OP_THREADS": "1",
    "LOG_LEVEL": "INFO",
}

DEFAULT_RATE = 24000
DEFAULT_FRAME_MS = 20
SUPPORTED_RATES = (8000, 16000, 22050, 24000, 44100, 48000)

# Error codes and whether a client may retry them (docs/protocol.md, "Error codes").
RETRYABLE = {
    "invalid_message": False,
    "unknown_message_type": False,
    "no_session": False,
    "session_active": False,
    "invalid_voice": False,
    "invalid_language": False,
    "invalid_sample_rate": False,
    "invalid_config": False,
    "text_too_long": False,
    "message_too_large": False,
    "binary_not_supported": False,
    "capacity": True,
    "shutting_down": True,
    "slow_consumer": True,
    "unauthorized": False,
    "internal": True,
    "invalid_model": False,
}

KNOWN_SERVER_TYPES = {
    "session_started", "segment_started", "word_timings", "segment_done", "session_ended", "cancelled", "error",
}


# ---------------------------------------------------------------------------
# The probe model


def ensure_probe_model() -> Path:
    """Generates models/probe when it is missing (as `make models` does)."""
    if not (PROBE_DIR / "onnx" / "vocoder.onnx").exists():
        python = str(VENV_PYTHON) if VENV_PYTHON.exists() else "python3"
        subprocess.run([python, "-m", "tools.models.probe", "--out", str(PROBE_DIR)],
                       cwd=REPO, check=True, timeout=300)
    return PROBE_DIR


# The failing probe model's text encoder fails inside ONNX Runtime for texts
# of more tokens than this (see tools/models/probe.py --fail-above-tokens).
FAIL_ABOVE_TOKENS = 40


def make_failing_probe_model(model_dir: Path, fail_above_tokens: int = FAIL_ABOVE_TOKENS) -> Path:
    python = str(VENV_PYTHON) if VENV_PYTHON.exists() else "python3"
    subprocess.run([python, "-m", "tools.models.probe", "--out", str(model_dir),
                    "--fail-above-tokens", str(fail_above_tokens)], cwd=REPO, check=True, timeout=300,
                   capture_output=True)
    return model_dir


def make_silent_probe_model(model_dir: Path, lead_s: float, trail_s: float) -> Path:
    """The probe model with `lead_s` / `trail_s` of silence around every item's
    speech (tools/models/probe.py --lead-silence / --trail-silence)."""
    python = str(VENV_PYTHON) if VENV_PYTHON.exists() else "python3"
    subprocess.run([python, "-m", "tools.models.probe", "--out", str(model_dir), "--lead-silence", str(lead_s),
                    "--trail-silence", str(trail_s)], cwd=REPO, check=True, timeout=300, capture_output=True)
    return model_dir


def make_tempo_probe_model(model_dir: Path) -> Path:
    """The probe model whose durations are times 1 + style_dp[b,0,0]
    (tools/models/probe.py --style-tempo): the voice shows in the timing."""
    python = str(VENV_PYTHON) if VENV_PYTHON.exists() else "python3"
    subprocess.run([python, "-m", "tools.models.probe", "--out", str(model_dir), "--style-tempo"], cwd=REPO,
                   check=True, timeout=300, capture_output=True)
    return model_dir


_INDEXER: list[int] | None = None


def indexer() -> list[int]:
    global _INDEXER
    if _INDEXER is None:
        _INDEXER = load_indexer(ensure_probe_model())
    return _INDEXER


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """0..99 in English words: test texts that count without digits, which text
    normalization leaves as they are (so the probe speaks them as written)."""
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens - 2] + ("" if ones == 0 else "-" + _ONES[ones])


def spoken(text: str, lang: str) -> str:
    """What the probe speaks for one segment's text: the engine's preprocessing
    (NFKD, symbol mapping, final period, language tags), as the decoder's
    raw_text shows it."""
    return preprocess(text, lang)


def norm_text(text: str) -> str:
    """Whitespace-collapsed, NFC: for comparing text across segment cuts."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def decode_pcm16(pcm: bytes, sample_rate: int) -> DecodeResult:
    samples = np.frombuffer(pcm, dtype="<i2")
    return decode_samples(samples, sample_rate, indexer())


def heard_word_times(decoded: DecodeResult) -> list[tuple[str, float, float]]:
    """(word, start_s, end_s) of every word the probe's audio says, from the
    start of the audio: the words between each segment's <lang> tags (NFC),
    from the start of their first character's gap to the end of their last
    character."""
    words: list[tuple[str, float, float]] = []
    run_: list = []
    depth_tag = False   # inside a <...> tag

    def close() -> None:
        if run_:
            text = unicodedata.normalize("NFC", "".join(c.char for c in run_))
            words.append((text, run_[0].start_s, run_[-1].start_s + run_[-1].duration_s))
            run_.clear()

    for c in decoded.chars:
        if c.char == "<":
            close()
            depth_tag = True
        elif c.char == ">" and depth_tag:
            depth_tag = False
        elif depth_tag:
            continue
        elif c.char == " ":
            close()
        else:
            run_.append(c)
    close()
    return words


# ---------------------------------------------------------------------------
# Server processes

# Servers started and not yet stopped; conftest.py attaches their logs to failures.
LIVE_SERVERS: list["ServerProcess"] = []


def free_port() -> int:
    """A port free now. Another process may take it before it is used: only
    for what cannot bind port 0 itself (a server that must come back on a
    known address); ServerProcess lets the server pick its own."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The line `supertonic-tts serve` logs once it has bound its port (src/app/serve.cpp).
_LISTENING = re.compile(r"listening on \S+:(\d+) \(")
_LOG_NUMBERS = itertools.count(1)


def _unique_log_path(log_dir: Path) -> Path:
    """server-N.log, N the first number this process has not used in log_dir."""
    while True:
        path = log_dir / f"server-{next(_LOG_NUMBERS)}.log"
        if not path.exists():
            return path


class ServerStartError(RuntimeError):
    pass


class ServerProcess:
    """One `supertonic-tts serve` process on the probe model.

    Its port is the one the server binds itself (TTS_PORT=0), read from its
    log line ``listening on 127.0.0.1:PORT (...)`` once it is up, so servers
    started side by side (pytest -n 2) never race for a port. Pass `port`, or
    set ``.port`` before starting, for a server that must be on a known port
    (one that comes back on the address of another, one a client is pointed
    at before it runs)."""

    def __init__(self, log_dir: Path, port: int | None = None, **env: Any) -> None:
        self._port = port
        self.host = "127.0.0.1"
        self.env_overrides = {k: str(v) for k, v in env.items()}
        self.log_path = _unique_log_path(Path(log_dir))
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    @property
    def port(self) -> int:
        """The server's port; for one started on port 0, waits (60 s at most)
        for the log line that says which port it bound."""
        if self._port is None:
            self._port = self._wait_for_port(60.0)
        return self._port

    @port.setter
    def port(self, value: int) -> None:
        self._port = value

    def _wait_for_port(self, timeout: float) -> int:
        if self.proc is None:
            raise ServerStartError("the server's port is not known before it is launched (pass port= to fix one)")
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = _LISTENING.search(self.log_path.read_bytes().decode("utf-8", errors="replace"))
            except OSError:
                found = None
            if found:
                return int(found.group(1))
            if self.proc.poll() is not None:
                self._forget()
                raise ServerStartError(
                    f"`supertonic-tts serve` exited with code {self.proc.returncode} before it said which port "
                    f"it listens on (env {self.env_overrides}).\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                raise ServerStartError(
                    f"`supertonic-tts serve` did not log 'listening on' within {timeout:.0f} s "
                    f"(env {self.env_overrides}).\n{self.log_tail()}")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws/tts"

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        """Launches the server and waits for /health/startup to answer 200."""
        self.launch()
        deadline = time.monotonic() + timeout
        if self._port is None:
            try:
                self._port = self._wait_for_port(timeout)
            except ServerStartError:
                self.stop()
                raise
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._forget()
                raise ServerStartError(
                    f"`supertonic-tts serve` exited with code {self.proc.returncode} before "
                    f"/health/startup answered 200 (env {self.env_overrides}).\n{self.log_tail()}")
            status, body = http_get(self.http + "/health/startup", timeout=1.0)
            if status == 200:
                return self
            last = f"{status} {body[:200]}"
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(
            f"`supertonic-tts serve` did not report /health/startup 200 within {timeout:.0f} s "
            f"(last answer: {last}; env {self.env_overrides}).\n{self.log_tail()}")

    def launch(self) -> "ServerProcess":
        """Starts the process without waiting for it to be up."""
        ensure_probe_model()
        env = {k: v for k, v in os.environ.items() if not (k.startswith("TTS_") or k == "LOG_LEVEL")}
        env.update(BASE_ENV)
        env["TTS_MODEL_DIR"] = str(PROBE_DIR)
        env["TTS_PORT"] = str(self._port or 0)
        env.update(self.env_overrides)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(BINARY), "serve"], env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
            )
        LIVE_SERVERS.append(self)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if the process is still running after `timeout`."""
        assert self.proc is not None
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._forget()
        return self.returncode

    def stop(self, grace: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode
        self._forget()
        return self.returncode

    def _forget(self) -> None:
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no server log)"
        text = data[-chars:].decode("utf-8", errors="replace")
        return f"--- server log ({self.log_path}, last {len(text)} chars) ---\n{text}"

    def metrics(self) -> "Metrics":
        status, body = http_get(self.http + "/metrics")
        assert status == 200, f"GET /metrics answered {status}: {body[:300]}"
        return Metrics(body)


# ---------------------------------------------------------------------------
# HTTP

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def assert_start_fails(tmp_path: Path, exit_code: int, message: str, within_s: float = 30, **env: Any) -> None:
    """A server with this environment refuses to run: it exits with
    `exit_code` within `within_s` and its log says `message`."""
    srv = ServerProcess(tmp_path, **env).launch()
    try:
        code = srv.wait(within_s)
        assert code == exit_code, f"exit code {code} (None: still running)\n{srv.log_tail()}"
        assert message in srv.log_tail()
    finally:
        srv.stop()


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """(status, body); status 0 when nothing answered (refused, reset, timed out)."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as e:
        try:
            body = e.read().decode("utf-8", errors="replace")
        except Exception:  # noqa: BLE001 - the status is what matters
            body = ""
        return e.code, body
    except (urllib.error.URLError, OSError, ConnectionError) as e:
        return 0, repr(e)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


class Metrics:
    """A parsed Prometheus text exposition."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split()
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3]
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise AssertionError(f"not a Prometheus sample line: {line!r}")
            labels = dict(_LABEL.findall(m.group(2) or ""))
            value = m.group(3)
            self.samples.append((m.group(1), labels, float(value.replace("+Inf", "inf"))))

    def has(self, name: str) -> bool:
        if name in self.types:
            return True
        suffixes = ("", "_bucket", "_sum", "_count", "_total")
        return any(s == name + suf for s, _, _ in self.samples for suf in suffixes)

    def value(self, name: str, **labels: str) -> float | None:
        """Sum of the samples called `name` whose labels include `labels`; None if none."""
        found = [v for n, lab, v in self.samples
                 if n == name and all(lab.get(k) == val for k, val in labels.items())]
        return sum(found) if found else None

    def get(self, name: str, **labels: str) -> float:
        v = self.value(name, **labels)
        return 0.0 if v is None else v


# ---------------------------------------------------------------------------
# WebSocket client


@dataclass
class Event:
    t: float                        # time.monotonic() when it was received
    data: Any                       # dict for a JSON frame, bytes for a binary frame

    @property
    def binary(self) -> bool:
        return isinstance(self.data, (bytes, bytearray))

    @property
    def type(self) -> str | None:
        return None if self.binary else self.data.get("type")

    def __repr__(self) -> str:
        if self.binary:
            return f"<binary {len(self.data)} bytes>"
        return json.dumps(self.data, ensure_ascii=False)[:300]


class WsClient:
    """A connection to /ws/tts; every receive has a timeout."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[Event] = []

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> "WsClient":
        options = dict(compression=None, proxy=None, open_timeout=5, close_timeout=2,
                       ping_interval=None, max_size=2**24)
        options.update(kwargs)
        ws = await connect(url, **options)
        return cls(ws)

    @classmethod
    async def open_small_window(cls, server: "ServerProcess", **kwargs: Any) -> "WsClient":
        """A client with a small receive buffer, so the server cannot push a
        whole answer into the socket while the client is not reading."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.setblocking(False)
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (server.host, server.port)), 5)
        return await cls.open(server.url, sock=sock, max_queue=4, **kwargs)

    async def __aenter__(self) -> "WsClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    async def send(self, message: dict | str | bytes) -> None:
        if isinstance(message, dict):
            message = json.dumps(message, ensure_ascii=False)
        await self.ws.send(message)

    async def send_all(self, messages: Iterable[dict | str | bytes]) -> None:
        for m in messages:
            await self.send(m)

    async def recv(self, timeout: float = 10.0) -> Event:
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"no message from the server within {timeout:.1f} s; last received: "
                f"{self.events[-3:]}") from None
        t = time.monotonic()
        if isinstance(raw, str):
            try:
                data = json.loads(raw)
            except json.JSONDecodeError:
                raise AssertionError(f"server sent a text frame that is not JSON: {raw[:300]!r}") from None
            assert isinstance(data, dict), f"server sent a JSON text frame that is not an object: {raw[:300]}"
            assert isinstance(data.get("type"), str), f"server message without a string type: {raw[:300]}"
        else:
            data = bytes(raw)
        event = Event(t, data)
        self.events.append(event)
        return event

    async def recv_json(self, timeout: float = 10.0, skip_binary: bool = False) -> dict:
        """The next JSON message (binary frames are an error unless skip_binary)."""
        deadline = time.monotonic() + timeout
        while True:
            event = await self.recv(max(0.01, deadline - time.monotonic()))
            if not event.binary:
                return event.data
            assert skip_binary, f"expected a JSON message, got a binary frame ({len(event.data)} bytes)"

    async def expect_error(self, code: str, timeout: float = 10.0) -> dict:
        """The next JSON message must be an error with `code` and the table's retryable flag."""
        message = await self.recv_json(timeout)
        assert_error(message, code)
        return message

    async def expect_closed(self, timeout: float = 5.0) -> None:
        try:
            event = await self.recv(timeout)
        except ConnectionClosed:
            return
        raise AssertionError(f"expected the server to close the connection, got {event}")

    async def is_open(self) -> bool:
        """Whether the server still answers on this connection (a WebSocket ping)."""
        try:
            pong = await self.ws.ping()
            await asyncio.wait_for(pong, 5)
            return True
        except (ConnectionClosed, asyncio.TimeoutError):
            return False


def assert_error(message: dict, code: str) -> None:
    assert message.get("type") == "error", f"expected error {code!r}, got {message}"
    assert message.get("code") == code, f"expected error code {code!r}, got {message}"
    assert message.get("retryable") is RETRYABLE[code], (
        f"error {code!r} must have retryable={RETRYABLE[code]}: {message}")
    assert isinstance(message.get("message"), str) and message["message"].strip(), (
        f"error {code!r} without a human-readable message: {message}")
    assert "session_id" in message, f"error without a session_id field (null allowed): {message}"


# ---------------------------------------------------------------------------
# Sessions


def start_msg(session_id: str, **config: Any) -> dict:
    message: dict[str, Any] = {"type": "start_session", "session_id": session_id}
    if config:
        message["config"] = config
    return message


def text_msg(text: str) -> dict:
    return {"type": "send_text", "text": text}


FLUSH = {"type": "flush"}
END = {"type": "end_session"}
CANCEL = {"type": "cancel"}


@dataclass
class Segment:
    index: int
    text: str
    predicted_ms: float
    t_started: float
    spoken_text: str = ""  # what the model was given: the text normalized (numbers in words...)
    frames: list[bytes] = field(default_factory=list)
    done: dict | None = None
    cancelled: bool = False
    t_first_audio: float | None = None
    t_done: float | None = None
    word_timings: list[dict] | None = None  # the words of its word_timings message

    def pcm(self) -> bytes:
        return b"".join(self.frames)

    def decode(self, sample_rate: int) -> DecodeResult:
        return decode_pcm16(self.pcm(), sample_rate)


class SessionLog:
    """One session's server messages, checked against the protocol as they arrive.

    Invariants (docs/protocol.md): every binary frame has exactly
    sample_rate*frame_ms/1000 samples and falls between a segment_started and
    its segment_done; segments never interleave and their indices increase
    (by one, unless a cancel dropped some); segment_done repeats the index and
    text and counts the frames; no binary frame follows `cancelled` or
    `session_ended` until a new segment starts; JSON messages carry the
    session's id. Violations are collected; `check()` asserts there are none.
    Unknown message types and fields are ignored, as a client must.
    """

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.events: list[Event] = []
        self.started: dict | None = None
        self.segments: list[Segment] = []
        self.ended: dict | None = None
        self.errors: list[dict] = []
        self.failed_segments: set[int] = set()  # from errors that name a segment
        self.cancelled: list[dict] = []
        self.violations: list[str] = []
        self.frame_bytes: int | None = None
        self.sample_rate: int | None = None
        self.frame_ms: float | None = None
        self.binary_after_cancel = 0
        self._open: Segment | None = None
        self._cancel_since_last_segment = False
        self.t_first_audio: float | None = None

    def _violation(self, text: str) -> None:
        self.violations.append(f"{text} (after {len(self.events) - 1} messages)")

    def feed(self, event: Event) -> None:
        self.events.append(event)
        if event.binary:
            self._feed_binary(event)
            return
        m = event.data
        kind = m.get("type")
        if kind in KNOWN_SERVER_TYPES - {"error"} and m.get("session_id") != self.session_id:
            self._violation(f"{kind} with session_id {m.get('session_id')!r}, expected {self.session_id!r}")
        if self.ended is not None and kind in KNOWN_SERVER_TYPES - {"error"}:
            self._violation(f"{kind} after session_ended: {m}")
        if kind == "session_started":
            self._on_started(m)
        elif kind == "segment_started":
            self._on_segment_started(event)
        elif kind == "word_timings":
            self._on_word_timings(m)
        elif kind == "segment_done":
            self._on_segment_done(event)
        elif kind == "session_ended":
            if self._open is not None:
                self._violation(f"session_ended while segment {self._open.index} is still open")
            self.ended = m
        elif kind == "cancelled":
            if self._open is not None:
                self._open.cancelled = True
                self._open = None
            self.cancelled.append(m)
            self._cancel_since_last_segment = True
            if not isinstance(m.get("segments_dropped"), int) or m["segments_dropped"] < 0:
                self._violation(f"cancelled without a non-negative integer segments_dropped: {m}")
        elif kind == "error":
            self.errors.append(m)
            if isinstance(m.get("segment"), int):
                self.failed_segments.add(m["segment"])
        # anything else: a message type this client does not know; ignored

    def _on_started(self, m: dict) -> None:
        if self.started is not None:
            self._violation("second session_started")
        self.started = m
        for key in ("voice", "lang_code", "sample_rate", "frame_ms", "num_inference_steps", "speed"):
            if key not in m:
                self._violation(f"session_started without {key!r}: {m}")
        try:
            self.sample_rate = int(m["sample_rate"])
            self.frame_ms = float(m["frame_ms"])
        except (KeyError, TypeError, ValueError):
            return
        samples = self.sample_rate * self.frame_ms / 1000
        if samples != int(samples):
            self._violation(f"frame of {samples} samples is not whole")
        self.frame_bytes = 2 * int(round(samples))
        if "samples_per_frame" in m and m["samples_per_frame"] * 2 != self.frame_bytes:
            self._violation(f"samples_per_frame {m['samples_per_frame']} != rate*frame_ms/1000 = {samples}")

    def _feed_binary(self, event: Event) -> None:
        if self.started is None:
            self._violation("binary frame before session_started")
        if self.ended is not None:
            self._violation("binary frame after session_ended")
        if self.frame_bytes is not None and len(event.data) != self.frame_bytes:
            self._violation(f"binary frame of {len(event.data)} bytes, expected {self.frame_bytes}")
        if self._open is None:
            if self._cancel_since_last_segment:
                self.binary_after_cancel += 1
                self._violation("binary frame after `cancelled` (before any new segment_started)")
            else:
                self._violation("binary frame outside a segment (no segment_started before it)")
            return
        if self._open.t_first_audio is None:
            self._open.t_first_audio = event.t
        if self.t_first_audio is None:
            self.t_first_audio = event.t
        self._open.frames.append(event.data)

    def _on_segment_started(self, event: Event) -> None:
        m = event.data
        if self.started is None:
            self._violation("segment_started before session_started")
        if self._open is not None:
            self._violation(f"segment_started {m.get('segment')} while segment {self._open.index} is open")
        index = m.get("segment")
        if not isinstance(index, int):
            self._violation(f"segment_started without an integer segment index: {m}")
            index = -1
        # Indices go up by one, skipping only segments a cancel dropped or an
        # error named as failed.
        last = self.segments[-1].index if self.segments else -1
        skipped_failed = all(i in self.failed_segments for i in range(last + 1, index))
        ok = index > last if self._cancel_since_last_segment else index > last and skipped_failed
        if not ok:
            self._violation(f"segment index {index} after {last}" if self.segments
                            else f"first segment has index {index}, expected 0")
        if not isinstance(m.get("text"), str):
            self._violation(f"segment_started without text: {m}")
        if not isinstance(m.get("duration_ms"), (int, float)):
            self._violation(f"segment_started without a numeric duration_ms: {m}")
        if not isinstance(m.get("spoken_text"), str):
            self._violation(f"segment_started without spoken_text: {m}")
        seg = Segment(index, m.get("text") or "", float(m.get("duration_ms") or 0), event.t,
                      spoken_text=m.get("spoken_text") or "")
        self.segments.append(seg)
        self._open = seg
        self._cancel_since_last_segment = False

    def _on_word_timings(self, m: dict) -> None:
        seg = self._open
        if seg is None or m.get("segment") != seg.index:
            self._violation(f"word_timings for segment {m.get('segment')} outside it: {m}")
            return
        if seg.frames or seg.word_timings is not None:
            self._violation(f"word_timings for segment {seg.index} after its audio or a second time")
        words = m.get("words")
        if not isinstance(words, list) or not all(
                isinstance(w, dict) and isinstance(w.get("word"), str)
                and isinstance(w.get("start_ms"), (int, float)) and isinstance(w.get("end_ms"), (int, float))
                for w in words):
            self._violation(f"word_timings without a list of {{word, start_ms, end_ms}}: {m}")
            return
        seg.word_timings = words

    def _on_segment_done(self, event: Event) -> None:
        m = event.data
        seg = self._open
        if seg is None:
            # A segment_done for a segment a cancel just dropped is tolerated only
            # if it has no frames after the cancel (checked in _feed_binary).
            if not self._cancel_since_last_segment:
                self._violation(f"segment_done without an open segment: {m}")
            return
        if m.get("segment") != seg.index:
            self._violation(f"segment_done {m.get('segment')} for open segment {seg.index}")
        if m.get("text") != seg.text:
            self._violation(f"segment_done text {m.get('text')!r} != segment_started text {seg.text!r}")
        if m.get("spoken_text") != seg.spoken_text:
            self._violation(f"segment_done spoken_text {m.get('spoken_text')!r} != segment_started's "
                            f"{seg.spoken_text!r}")
        if m.get("frames") != len(seg.frames):
            self._violation(f"segment_done says {m.get('frames')} frames, {len(seg.frames)} were sent")
        if not seg.frames:
            self._violation(f"segment {seg.index} had no audio frames")
        if not isinstance(m.get("duration_ms"), (int, float)):
            self._violation(f"segment_done without a numeric duration_ms: {m}")
        elif self.frame_ms:
            audio_ms = len(seg.frames) * self.frame_ms
            if not (audio_ms - self.frame_ms - 1 <= m["duration_ms"] <= audio_ms + 1):
                self._violation(f"segment_done duration_ms {m['duration_ms']} does not match "
                                f"{len(seg.frames)} frames of {self.frame_ms} ms")
        seg.done = m
        seg.t_done = event.t
        self._open = None

    # -- results -------------------------------------------------------------

    def check(self) -> None:
        assert not self.violations, "protocol violations:\n  " + "\n  ".join(self.violations[:20])

    def completed(self) -> list[Segment]:
        return [s for s in self.segments if s.done is not None]

    def text(self) -> str:
        """The texts of the completed segments, joined (whitespace-normalized)."""
        return norm_text(" ".join(s.text for s in self.completed()))

    def pcm(self) -> bytes:
        return b"".join(s.pcm() for s in self.segments)

    def frame_count(self) -> int:
        return sum(len(s.frames) for s in self.segments)

    def assert_audio_speaks_segments(self, lang: str) -> None:
        """Each completed segment's audio decodes to exactly `<lang>its spoken text</lang>`: what
        the server says it gave the model (the text, normalized unless the session turned it off)."""
        assert self.sample_rate, "no session_started"
        for seg in self.completed():
            got = seg.decode(self.sample_rate).raw_text
            want = spoken(seg.spoken_text, lang)
            assert unicodedata.normalize("NFC", got) == unicodedata.normalize("NFC", want), (
                f"segment {seg.index} ({seg.text!r}) at {self.sample_rate} Hz decodes to {got!r}, "
                f"expected {want!r}")


async def collect(client: WsClient, log: SessionLog, until: Callable[[Event], bool],
                  timeout: float = 20.0) -> Event:
    """Feeds `log` until an event satisfies `until` (returned); fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"condition not reached within {timeout:.1f} s; last messages: "
                                 f"{log.events[-5:]}")
        event = await client.recv(remaining)
        log.feed(event)
        if until(event):
            return event


def is_type(*types: str) -> Callable[[Event], bool]:
    return lambda e: (not e.binary) and e.type in types


async def collect_session(client: WsClient, log: SessionLog, timeout: float = 30.0,
                          allow_errors: bool = False) -> SessionLog:
    """Reads until session_ended; checks the invariants and that no error came."""
    await collect(client, log, is_type("session_ended"), timeout)
    log.check()
    if not allow_errors:
        assert not log.errors, f"unexpected errors: {log.errors}"
    return log


async def run_session(client: WsClient, session_id: str, texts: list[str], config: dict | None = None,
                      flush_each: bool = False, timeout: float = 30.0) -> SessionLog:
    """Pipelines start_session, send_text..., end_session; returns the checked log."""
    messages: list[dict] = [start_msg(session_id, **(config or {}))]
    for t in texts:
        messages.append(text_msg(t))
        if flush_each:
            messages.append(FLUSH)
    messages.append(END)
    await client.send_all(messages)
    log = SessionLog(session_id)
    return await collect_session(client, log, timeout)


def assert_session_speaks(log: SessionLog, texts: list[str], lang: str) -> None:
    """Segment texts add up to the input, and every segment's audio speaks its text."""
    assert log.started is not None and log.ended is not None
    assert log.completed(), "the session produced no segments"
    assert log.text() == norm_text(" ".join(texts)), (
        f"segment texts {[s.text for s in log.segments]} do not add up to the input {texts}")
    log.assert_audio_speaks_segments(lang)


def run(coro: Any, timeout: float = 60.0) -> Any:
    """Runs a test's coroutine with an overall bound."""
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def poll(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Calls `predicate` until it returns a truthy value (returned) or `timeout` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


async def apoll(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """`poll` for predicates that block (HTTP): runs them in a thread."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(interval)
