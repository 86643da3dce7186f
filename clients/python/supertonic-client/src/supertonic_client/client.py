"""An asyncio client for the Supertonic TTS WebSocket protocol (``/ws/tts``).

One :class:`Connection` is one WebSocket. It runs one :class:`Session` at a
time and can run many one after another (connection reuse). A session sends
``start_session`` lazily with its first text, so ``start_session`` and the
first ``send_text`` leave together (pipelining), and yields the server's
messages and the audio as :mod:`supertonic_client.events` objects::

    async with await connect("ws://localhost:8000/ws/tts") as conn:
        session = conn.session(voice="F1", lang_code="en")
        for token in ["Hello", " there", ".", " How are you?"]:
            await session.send_text(token)
        await session.end()
        async for event in session:
            if isinstance(event, AudioFrame):
                play(event.data)

Reading is driven by the caller (nothing reads in the background), so the
server's backpressure reaches a consumer that stops reading. One task at a
time may read a connection.

Stale replies: a session ignores messages that carry another session's id,
and before its ``session_started`` it skips ``no_session`` errors (answers to
messages of an earlier session sent after that one had ended); no other
message can precede ``session_started``. So a connection can be reused as soon
as its previous session has ended or was refused, whatever replies to that
session are still on the wire.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, BinaryIO

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.protocol import State

from .errors import (
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    ProtocolError,
    ReceiveTimeoutError,
    ServerError,
    SessionStateError,
    UnauthorizedError,
)
from .events import (
    AudioFrame,
    Error,
    Event,
    SegmentDone,
    SessionEnded,
    SessionStarted,
    parse_cancelled,
    parse_error,
    parse_segment_done,
    parse_segment_started,
    parse_word_timings,
    parse_session_ended,
    parse_session_started,
)

_asyncio_timeout = getattr(asyncio, "timeout", None)     # Python >= 3.11

DEFAULT_URL = "ws://localhost:8000/ws/tts"
SUPPORTED_SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)


async def connect(
    url: str = DEFAULT_URL,
    *,
    token: str | None = None,
    open_timeout: float | None = 10.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    max_size: int | None = 2**24,
    **ws_options: Any,
) -> "Connection":
    """Opens a WebSocket to the service.

    ``token`` is sent as ``Authorization: Bearer <token>`` (servers started
    with ``TTS_AUTH_TOKEN``). ``ping_interval``/``ping_timeout`` are the
    client's keepalive, which also detects a server that vanished without
    closing the TCP connection. Other keyword arguments go to
    ``websockets.asyncio.client.connect`` (e.g. ``proxy``, ``ssl``).

    Raises :class:`ConnectTimeoutError`, :class:`UnauthorizedError` (HTTP 401),
    or :class:`ConnectError` (anything else; ``status`` holds an HTTP status).
    """
    headers = dict(ws_options.pop("additional_headers", None) or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    options: dict[str, Any] = dict(compression=None, open_timeout=open_timeout,
                                   ping_interval=ping_interval, ping_timeout=ping_timeout,
                                   max_size=max_size, close_timeout=2)
    options.update(ws_options)
    try:
        ws = await ws_connect(url, additional_headers=headers or None, **options)
    except InvalidStatus as e:
        status = e.response.status_code
        if status == 401:
            raise UnauthorizedError(f"{url}: the server refused the token (HTTP 401)") from None
        raise ConnectError(f"{url}: WebSocket upgrade answered HTTP {status}", status=status,
                           retryable=status >= 500 or status in (408, 429)) from None
    except InvalidURI as e:
        raise ConnectError(f"invalid URL {url!r}: {e}", retryable=False) from None
    except (asyncio.TimeoutError, TimeoutError):
        raise ConnectTimeoutError(f"{url}: no WebSocket handshake within {open_timeout} s") from None
    except (OSError, WebSocketException) as e:
        raise ConnectError(f"{url}: cannot connect ({type(e).__name__}: {e})") from e
    return Connection(ws, url)


class Connection:
    """One WebSocket to the service; sessions run on it one at a time."""

    def __init__(self, ws: ClientConnection, url: str) -> None:
        self._ws = ws
        self.url = url
        self._session: Session | None = None
        self.sessions_run = 0          # sessions started on this connection

    # -- lifecycle -----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the WebSocket is closing or closed (for any reason)."""
        return self._ws.state is not State.OPEN

    @property
    def local_address(self) -> Any:
        return self._ws.local_address

    @property
    def busy(self) -> bool:
        """A session has started on it and has not ended (or been refused) yet."""
        return self._session is not None and not self._session.settled

    async def close(self) -> None:
        try:
            await self._ws.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    async def __aenter__(self) -> "Connection":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- sessions --------------------------------------------------------------------

    def session(
        self,
        *,
        voice: str | None = None,
        lang_code: str | None = None,
        sample_rate: int | None = None,
        speed: float | None = None,
        num_inference_steps: int | None = None,
        model: str | None = None,
        session_id: str | None = None,
        config: dict[str, Any] | None = None,
        normalize: bool | None = None,
        word_timings: bool | None = None,
    ) -> "Session":
        """A new session (nothing is sent until its first text, ``start()`` or
        ``end()``). Options left None take the server's defaults (``model``:
        which of the server's models, by the name it lists; default its
        first); ``normalize=False`` has the server read the text as written
        (no numbers, dates... in words); ``word_timings=True`` adds a
        :class:`WordTimings` event after each segment's ``SegmentStarted``;
        ``config`` adds raw fields. Fails if
        the previous session has not ended yet."""
        if self.busy:
            raise SessionStateError(
                f"session {self._session.session_id!r} is still running on this connection")
        cfg: dict[str, Any] = dict(config or {})
        for key, value in (("model", model), ("voice", voice), ("lang_code", lang_code),
                           ("sample_rate", sample_rate), ("speed", speed),
                           ("num_inference_steps", num_inference_steps), ("normalize", normalize),
                           ("word_timings", word_timings)):
            if value is not None:
                cfg[key] = value
        session = Session(self, session_id or str(uuid.uuid4()), cfg)
        self._session = session
        return session

    async def synthesize(self, text: str, *, timeout: float | None = 30.0,
                         **options: Any) -> "Synthesis":
        """Speaks ``text`` in one session (``send_text`` + ``end_session``) and
        returns all of its audio. ``options`` are those of :meth:`session`;
        ``timeout`` bounds each wait for the next message. Raises the
        :class:`ServerError` of the first error the server sends."""
        session = self.session(**options)
        t0 = time.monotonic()
        try:
            await session.send_text(text)
            await session.end()
            result = Synthesis(pcm=b"", sample_rate=0)
            chunks: list[bytes] = []
            async for event in session.events(timeout=timeout):
                if isinstance(event, AudioFrame):
                    if result.time_to_first_audio is None:
                        result.time_to_first_audio = time.monotonic() - t0
                    chunks.append(event.data)
                elif isinstance(event, SessionStarted):
                    wanted = session.config.get("sample_rate")
                    if wanted is not None and event.sample_rate != int(wanted):
                        raise ProtocolError(f"asked for {wanted} Hz, the server answered "
                                            f"{event.sample_rate} Hz")
                    result.started = event
                    result.sample_rate = event.sample_rate
                elif isinstance(event, SegmentDone):
                    result.segments.append(event)
                elif isinstance(event, Error):
                    raise event.exception()
                elif isinstance(event, SessionEnded):
                    result.ended = event
            result.pcm = b"".join(chunks)
            return result
        finally:
            await session.aclose()

    # -- wire ----------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        try:
            await self._ws.send(json.dumps(message, ensure_ascii=False))
        except ConnectionClosed as e:
            raise ConnectionLostError(f"connection to {self.url} lost: {e}") from e

    async def _recv(self, timeout: float | None) -> str | bytes:
        try:
            if timeout is None:
                return await self._ws.recv()
            if _asyncio_timeout is not None:
                # Not asyncio.wait_for: up to Python 3.11 it can swallow a
                # cancellation that arrives as the message does, and the
                # cancelled reader would then wait on.
                async with _asyncio_timeout(timeout):
                    return await self._ws.recv()
            receiving = asyncio.ensure_future(self._ws.recv())
            try:
                done, _ = await asyncio.wait({receiving}, timeout=timeout)
            except asyncio.CancelledError:
                receiving.cancel()
                raise
            if not done:
                receiving.cancel()
                raise asyncio.TimeoutError
            return receiving.result()
        except (asyncio.TimeoutError, TimeoutError):
            raise ReceiveTimeoutError(f"nothing received from {self.url} within {timeout} s") from None
        except ConnectionClosed as e:
            raise ConnectionLostError(f"connection to {self.url} lost: {e}") from e


class Session:
    """One protocol session: text in, events and audio out.

    Sending: :meth:`send_text` (any number of times), :meth:`flush`,
    :meth:`end`, :meth:`cancel`; :meth:`abort` is barge-in (``cancel`` +
    ``end_session``, without waiting). Receiving: iterate the session (or
    :meth:`events` with a per-message timeout, or :meth:`next_event`); the
    iteration ends after ``session_ended``, or after the :class:`Error` that
    refused the session. A lost connection raises :class:`ConnectionLostError`.
    """

    def __init__(self, connection: Connection, session_id: str, config: dict[str, Any]) -> None:
        self.connection = connection
        self.session_id = session_id
        self.config = config
        self.started: SessionStarted | None = None
        self.ended: SessionEnded | None = None
        self.refused: Error | None = None
        self.start_sent = False
        self.end_sent = False
        self.cancels_sent = 0
        self._segment: int | None = None
        self._lost: BaseException | None = None

    # -- state -------------------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """Nothing of this session can arrive any more: it never started, it
        ended, it was refused, or its connection is gone."""
        return (not self.start_sent or self.ended is not None or self.refused is not None
                or self._lost is not None)

    @property
    def sample_rate(self) -> int | None:
        return self.started.sample_rate if self.started else None

    # -- sending ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Sends ``start_session`` (once); does not wait for ``session_started``."""
        if self.start_sent:
            return
        self._check_usable()
        message: dict[str, Any] = {"type": "start_session", "session_id": self.session_id}
        if self.config:
            message["config"] = self.config
        self.start_sent = True
        self.connection.sessions_run += 1
        await self.connection._send(message)

    async def send_text(self, text: str) -> None:
        """Queues text for synthesis (the server bundles it into segments)."""
        self._check_open("send_text")
        if not self.start_sent:
            await self.start()
        await self.connection._send({"type": "send_text", "text": text})

    async def flush(self) -> None:
        """Asks the server to synthesize the pending text now."""
        self._check_open("flush")
        if not self.start_sent:
            return
        await self.connection._send({"type": "flush"})

    async def end(self) -> None:
        """``end_session``: the pending text is spoken, then ``session_ended``."""
        if self.end_sent or self.ended is not None or self.refused is not None:
            return
        self._check_usable()
        if not self.start_sent:
            await self.start()
        self.end_sent = True
        await self.connection._send({"type": "end_session"})

    async def cancel(self) -> None:
        """``cancel``: drops pending text and unsent audio; the server answers
        ``cancelled`` and the session stays open for new text."""
        if not self.start_sent or self.ended is not None or self.refused is not None:
            return
        self._check_usable()
        self.cancels_sent += 1
        await self.connection._send({"type": "cancel"})

    async def abort(self) -> None:
        """Barge-in: ``cancel`` then ``end_session``, without waiting for the
        answers. Afterwards nothing of this session's audio is worth playing;
        :meth:`settle` reads until the session has ended.

        ``end_session`` is sent even after an earlier :meth:`end`, because the
        server re-opens a session that is cancelled after ``end_session``."""
        if not self.start_sent or self.ended is not None or self.refused is not None:
            return
        self._check_usable()
        self.cancels_sent += 1
        self.end_sent = True
        await self.connection._send({"type": "cancel"})
        await self.connection._send({"type": "end_session"})

    def _check_usable(self) -> None:
        if self._lost is not None:
            raise ConnectionLostError(f"connection to {self.connection.url} lost") from self._lost
        if self.connection._session is not self:
            raise SessionStateError("another session has been started on this connection")

    def _check_open(self, what: str) -> None:
        self._check_usable()
        if self.refused is not None:
            raise self.refused.exception()
        if self.end_sent or self.ended is not None:
            raise SessionStateError(f"{what} after end_session")

    # -- receiving ---------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    async def events(self, timeout: float | None = None) -> AsyncIterator[Event]:
        """The session's events; ``timeout`` bounds each wait (ReceiveTimeoutError)."""
        while True:
            event = await self.next_event(timeout)
            if event is None:
                return
            yield event

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event of this session, or None once it has ended (or was
        refused, or was never started)."""
        if not self.start_sent or self.ended is not None or self.refused is not None:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                raw = await self.connection._recv(remaining)
            except ConnectionLostError as e:
                self._lost = e
                raise
            event = self._parse(raw)
            if event is not None:
                return event

    def _parse(self, raw: str | bytes) -> Event | None:
        if isinstance(raw, (bytes, bytearray, memoryview)):
            if self.started is None or self.ended is not None:
                # Cannot happen with a server that keeps the protocol: every frame
                # of an earlier session comes before its session_ended.
                raise ProtocolError(f"binary frame outside session {self.session_id!r}")
            return AudioFrame(bytes(raw), self.started.sample_rate, self._segment)
        try:
            message = json.loads(raw)
        except json.JSONDecodeError:
            raise ProtocolError(f"server sent a text frame that is not JSON: {raw[:200]!r}") from None
        if not isinstance(message, dict):
            raise ProtocolError(f"server sent JSON that is not an object: {raw[:200]!r}")
        kind = message.get("type")
        sid = message.get("session_id")
        if kind == "error":
            code = message.get("code")
            if self.started is None:
                if code == "session_active":
                    self.refused = parse_error(message, fatal=True)
                    return self.refused
                if code == "no_session" or (sid is not None and sid != self.session_id):
                    return None          # a late answer to an earlier session's message
                self.refused = parse_error(message, fatal=True)
                return self.refused
            if sid is not None and sid != self.session_id:
                return None
            return parse_error(message, fatal=False)
        if sid != self.session_id:
            return None                  # an earlier session's late message, or not ours
        if kind == "session_started":
            self.started = parse_session_started(message)
            return self.started
        if kind == "segment_started":
            event = parse_segment_started(message)
            self._segment = event.segment
            return event
        if kind == "word_timings":
            return parse_word_timings(message)
        if kind == "segment_done":
            self._segment = None
            return parse_segment_done(message)
        if kind == "cancelled":
            self._segment = None
            return parse_cancelled(message)
        if kind == "session_ended":
            self._segment = None
            self.ended = parse_session_ended(message)
            return self.ended
        return None                      # a message type this client does not know

    async def settle(self, timeout: float = 5.0) -> bool:
        """Reads and discards events until the session has ended or was refused.
        True when it did within ``timeout``; False on a timeout or a lost
        connection (then the connection should not be reused)."""
        deadline = time.monotonic() + timeout
        try:
            while not self.settled:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                await self.next_event(remaining)
        except (ReceiveTimeoutError, ConnectionLostError, ProtocolError):
            return False
        return self._lost is None

    async def aclose(self, timeout: float = 5.0) -> None:
        """Leaves the connection reusable: if the session is still running it
        is aborted and drained (``settle``); if that fails, the connection is
        closed."""
        if self.settled:
            return
        try:
            await self.abort()
            ok = await self.settle(timeout)
        except Exception:  # noqa: BLE001 - any failure here means: do not reuse
            ok = False
        if not ok:
            await self.connection.close()

    async def __aenter__(self) -> "Session":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


@dataclass
class Synthesis:
    """All of a session's audio, as :meth:`Connection.synthesize` returns it."""

    pcm: bytes                                   # mono PCM16 little-endian
    sample_rate: int
    started: SessionStarted | None = None
    ended: SessionEnded | None = None
    segments: list[SegmentDone] = field(default_factory=list)
    time_to_first_audio: float | None = None     # seconds from the first send to the first frame

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate if self.sample_rate else 0.0

    def write_wav(self, path_or_file: str | Path | BinaryIO) -> None:
        write_wav(path_or_file, self.pcm, self.sample_rate)


def write_wav(path_or_file: str | Path | BinaryIO, pcm: bytes, sample_rate: int) -> None:
    """Writes mono PCM16 as a WAV file."""
    import wave

    target = str(path_or_file) if isinstance(path_or_file, Path) else path_or_file
    with wave.open(target, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.setnframes(len(pcm) // 2)   # header written once: works on pipes too
        w.writeframes(pcm)


async def synthesize(text: str, *, url: str = DEFAULT_URL, token: str | None = None,
                     timeout: float | None = 30.0, open_timeout: float | None = 10.0,
                     **options: Any) -> Synthesis:
    """Connects, speaks ``text`` in one session, closes; returns the audio.
    ``options``: model, voice, lang_code, sample_rate, speed, num_inference_steps."""
    async with await connect(url, token=token, open_timeout=open_timeout) as conn:
        return await conn.synthesize(text, timeout=timeout, **options)


__all__ = [
    "DEFAULT_URL", "SUPPORTED_SAMPLE_RATES", "Connection", "Session", "Synthesis", "connect",
    "synthesize", "write_wav", "ServerError",
]
