"""Pipecat TTS service for a Supertonic TTS server (WebSocket ``/ws/tts``).

:class:`SupertonicTTSService` is a Pipecat 1.x ``WebsocketTTSService``, built
as Pipecat's own WebSocket services are (Cartesia's in particular): one
persistent WebSocket with a receive task, ``run_tts`` that sends and yields
``None``, audio contexts that carry each turn's audio, word timestamps through
``add_word_timestamps``, the base class's reconnection with backoff. How
Pipecat's pieces map onto the protocol:

* one Pipecat audio context (one agent turn, or one ``TTSSpeakFrame``) is one
  protocol session: ``start_session`` leaves with the context's first text
  (pipelined), with the pipeline's output sample rate and
  ``word_timings: true`` in its config; the echo in ``session_started`` is
  checked;
* text is streamed token by token (``TextAggregationMode.TOKEN``): every piece
  is one ``send_text`` at once, the server bundles it into sentences. The end
  of the turn (``on_turn_context_completed``: ``LLMFullResponseEndFrame``, the
  end of a ``TTSSpeakFrame``) sends ``end_session``; ``session_ended`` closes
  the audio context;
* the protocol runs one session at a time per socket: a context that starts
  while the previous one is still on the wire (a ``TTSSpeakFrame`` while the
  last turn's audio is still coming) is queued and its ``start_session``
  leaves once the previous ``session_ended`` has arrived. Pipecat plays audio
  contexts in the order they were created anyway, so nothing is heard later
  than it would have been;
* an interruption sends ``cancel`` (and ``end_session`` if not sent yet) at
  once, without waiting; the audio of the interrupted context still on the
  wire is dropped. The socket is reused for the next session once the server
  has confirmed (``cancelled`` and ``session_ended``); a socket that does not
  confirm within ``drain_timeout`` seconds is closed and replaced, and the next
  session goes out on the new one;
* the server's ``word_timings`` (words as the client wrote them, times on the
  session's audio timeline) become ``add_word_timestamps`` in seconds from the
  start of the context's audio, so Pipecat's ``TTSTextFrame``\\ s carry the
  time each word is heard (the assistant context after an interruption holds
  what was actually spoken). A server without word timings gets them spread
  over each segment's duration;
* errors are ``ErrorFrame``\\ s: a session the server refuses for good (bad
  voice, language, model, sample rate, speed; a wrong token) is a permanent
  error, so Pipecat stops giving the service work until a settings update
  (which is what fixes it); retryable ones (``capacity``, ``shutting_down``,
  ``internal``) and errors about one text are transient. A lost connection is
  reported for the turn it cut, the base class reconnects with backoff, and
  the next turn connects on demand if that did not work; a lost connection
  never writes the service off;
* keepalive: the ``websockets`` client pings every ``ping_interval`` seconds
  (20) and gives up on a server that does not answer within ``ping_timeout``
  (the server answers pings and pings idle clients itself). The server closes
  a connection that has had no session and no message for
  ``TTS_IDLE_TIMEOUT_S`` (300 s; pings do not count), so a socket idle for
  ``max_idle`` seconds (240) is replaced before that, quietly; one the server
  closed anyway is reopened by the reconnection logic.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

try:
    from loguru import logger
    from pipecat.frames.frames import ErrorFrame, Frame, InterruptionFrame, TTSAudioRawFrame, TTSStoppedFrame
    from pipecat.metrics.metrics import MetricsData
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessorSetup
    from pipecat.services.settings import TTSSettings
    from pipecat.services.tts_service import TextAggregationMode, TTSService, WebsocketTTSService
    from pipecat.transcriptions.language import Language
    from pipecat.utils.errors import ErrorCategory
    from pipecat.utils.tracing.service_decorators import traced_tts
    from pipecat.utils.types import NOT_GIVEN, NotGiven
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "pipecat_supertonic needs Pipecat 1.x: pip install 'pipecat-ai>=1.14,<2' "
        "(a dependency of pipecat-supertonic: pip install pipecat-supertonic)") from _e

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State

from supertonic_client.client import DEFAULT_URL, SUPPORTED_SAMPLE_RATES
from supertonic_client.errors import server_error
from supertonic_client.events import (
    Error,
    SegmentStarted,
    parse_error,
    parse_segment_done,
    parse_segment_started,
    parse_session_ended,
    parse_session_started,
    parse_word_timings,
)

# Session-refusing error codes that no retry can fix: the configuration is
# wrong. Reported as permanent, so Pipecat stops giving the service work until
# its settings change (a settings update makes it usable again).
_CONFIG_ERRORS = frozenset({
    "invalid_voice", "invalid_language", "invalid_sample_rate", "invalid_config", "invalid_model",
})
# Fields of the settings that go into start_session's config: changing one
# mid-turn ends the turn's session and continues the turn in a new one.
_SESSION_FIELDS = frozenset({"model", "voice", "language", "speed", "num_inference_steps", "normalize"})

# One send_text carries at most this many characters (TTS_MAX_MESSAGE_BYTES
# is 64 KiB by default; a character is at most 4 bytes of UTF-8, 6 as a JSON
# escape).
_MAX_PIECE_CHARS = 2000
# How often the session watch runs (audio context keepalive, timeouts, idle).
_TICK_S = 0.25


def _lang(code: Any) -> str | None:
    """'pt-BR', 'en_US', Language.EN_GB -> 'pt', 'en', 'en' (the server takes ISO 639-1)."""
    if code is None:
        return None
    code = str(getattr(code, "value", code)).strip()
    return re.split(r"[-_]", code, maxsplit=1)[0].lower() if code else None


def _pieces(text: str, limit: int = _MAX_PIECE_CHARS) -> list[str]:
    """Splits a long text at whitespace into pieces of at most ``limit``
    characters (a word longer than that is cut); the pieces join back to
    ``text`` exactly."""
    if len(text) <= limit:
        return [text]
    out: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit))
        cut = cut + 1 if cut > 0 else limit
        out.append(text[:cut])
        text = text[cut:]
    if text:
        out.append(text)
    return out


def _visible(text: str) -> int:
    """Characters that are not whitespace: what the server's segments keep of
    the text as written (cuts may drop whitespace)."""
    return sum(1 for c in text if not c.isspace())


@dataclass
class SupertonicTTSSettings(TTSSettings):
    """Runtime-updatable settings of :class:`SupertonicTTSService`.

    ``None`` leaves a field to the server (its ``TTS_*`` defaults or the
    model's profile). Changes apply from the next session (the next turn); a
    change in the middle of a turn ends the turn's session and speaks the rest
    of the turn in a new one with the new settings.

    Parameters:
        model: which of the server's models (``TTS_MODELS``), e.g. ``"supertonic-3"``.
        voice: F1-F5, M1-M5, a voice the server has (``TTS_VOICES_DIR``, an upload)
            or a blend such as ``"F1:0.7+M2:0.3"``.
        language: a Pipecat ``Language`` or a code; sent as its ISO 639-1 part
            (``Language.PT_BR`` -> ``pt``): en ko es pt fr for Supertonic 2, more
            for Supertonic 3.
        speed: speaking rate, 0.5-2.0.
        num_inference_steps: flow-matching steps, 1-32 (2 fastest, 5 quality).
            ``steps`` is accepted as its name in a settings dict.
        normalize: False to have the server read the text as written (no
            numbers, dates, money... in words).
    """

    speed: float | None | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    num_inference_steps: int | None | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    normalize: bool | None | NotGiven = field(default_factory=lambda: NOT_GIVEN)

    _aliases = {"voice_id": "voice", "steps": "num_inference_steps", "lang_code": "language"}


@dataclass(eq=False)
class _Session:
    """One protocol session: the audio context it speaks for, what is still
    to be sent, and where its replies are."""

    context_id: str
    session_id: str
    config: dict[str, Any]
    outbox: deque = field(default_factory=deque)    # messages not sent yet, in order
    ws: Any = None                                  # the socket its start_session went out on
    start_sent: bool = False
    started: Any = None                             # SessionStarted
    end_requested: bool = False
    end_sent: bool = False
    aborted_at: float | None = None                 # interrupted (monotonic time)
    settled: bool = False                           # nothing of it can arrive any more
    failed: bool = False                            # an error explains its silence
    sent_visible: int = 0                           # non-whitespace characters sent
    done_visible: int = 0                           # ... and spoken (segment_done)
    text_sent: bool = False
    audio_bytes: int = 0
    origin_ms: float = 0.0                          # session time where its audio context's audio starts
    rebase: bool = False                            # its audio context was opened again: origin moves
    segment: int | None = None
    segment_has_audio: bool = False
    pending_words: list = field(default_factory=list)   # this segment's words, until its first audio
    server_words: bool = False                      # session_started confirmed word_timings
    waiting_since: float | None = None              # the server owes a reply since (end/abort sent)
    heard_at: float = 0.0                           # last message of this session (monotonic)

    @property
    def aborted(self) -> bool:
        return self.aborted_at is not None

    @property
    def unspoken(self) -> int:
        return self.sent_visible - self.done_visible


class SupertonicTTSService(WebsocketTTSService):
    """Pipecat TTS over a Supertonic TTS server's WebSocket protocol.

    Example::

        tts = SupertonicTTSService(
            url="ws://supertonic-tts:8000/ws/tts",
            settings=SupertonicTTSService.Settings(voice="F1", language=Language.EN),
        )
        pipeline = Pipeline([transport.input(), stt, user_agg, llm, tts,
                             transport.output(), assistant_agg])
    """

    Settings = SupertonicTTSSettings
    _settings: SupertonicTTSSettings

    def __init__(
        self,
        *,
        url: str = DEFAULT_URL,
        token: str | None = None,
        sample_rate: int | None = None,
        settings: SupertonicTTSSettings | None = None,
        text_aggregation_mode: TextAggregationMode | None = None,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        receive_timeout: float = 10.0,
        drain_timeout: float = 3.0,
        max_idle: float | None = 240.0,
        max_unspoken_chars: int = 4000,
        **kwargs: Any,
    ) -> None:
        """Supertonic TTS over ``ws://HOST:8000/ws/tts``.

        Args:
            url: the server's WebSocket URL.
            token: bearer token for servers with ``TTS_AUTH_TOKEN``
                (``Authorization: Bearer <token>`` on the upgrade).
            sample_rate: output rate (8000, 16000, 22050, 24000, 44100, 48000);
                default: the pipeline's ``audio_out_sample_rate``. Sent in every
                ``start_session`` and checked against the server's answer.
            settings: :class:`SupertonicTTSSettings` (voice, language, speed,
                num_inference_steps, model, normalize), updatable at run time
                with ``TTSUpdateSettingsFrame``.
            text_aggregation_mode: ``TOKEN`` (default): tokens go to the server
                as they come and it bundles them into sentences itself.
                ``SENTENCE`` aggregates on the client first (adds latency).
            open_timeout: seconds for the WebSocket handshake.
            ping_interval: seconds between WebSocket pings (None: no pings).
            ping_timeout: seconds to wait for a pong before the connection is
                considered lost.
            receive_timeout: seconds the server may stay silent while it owes
                the end of a session (after ``end_session``) before the session
                is reported failed and the socket replaced.
            drain_timeout: seconds an interrupted session has to be confirmed
                (``session_ended``) before its socket is closed and replaced.
            max_idle: a socket without a session for this long is replaced, so
                that the server's idle timeout (``TTS_IDLE_TIMEOUT_S``, 300 s)
                never closes it under a starting turn. None: never.
            max_unspoken_chars: text sent ahead of what has been spoken is held
                beyond this many (non-space) characters, and sent as the
                audio catches up, so that a very long text stays within the
                server's ``TTS_MAX_TEXT_CHARS`` (20000 by default).
            **kwargs: for ``WebsocketTTSService`` / ``TTSService`` (e.g.
                ``reconnect_backoff_min_wait``, ``stop_frame_timeout_s``).
        """
        if sample_rate is not None and sample_rate not in SUPPORTED_SAMPLE_RATES:
            raise ValueError(f"sample_rate must be one of {SUPPORTED_SAMPLE_RATES}, not {sample_rate}")
        default_settings = self.Settings(model=None, voice=None, language=None, speed=None,
                                         num_inference_steps=None, normalize=None)
        if settings is not None:
            default_settings.apply_update(settings)
        super().__init__(
            text_aggregation_mode=text_aggregation_mode or TextAggregationMode.TOKEN,
            push_text_frames=False,        # TTSTextFrames come from the word timestamps
            push_stop_frames=False,        # TTSStoppedFrame is appended at session_ended
            push_start_frame=True,         # the base opens each context with TTSStartedFrame
            pause_frame_processing=False,  # every frame is labelled with its context
            sample_rate=sample_rate,
            settings=default_settings,
            **kwargs,
        )
        self._url = url
        self._token = token
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._receive_timeout = receive_timeout
        self._drain_timeout = drain_timeout
        self._max_idle = max_idle
        self._max_unspoken_chars = max(1, int(max_unspoken_chars))

        self._receive_task: asyncio.Task | None = None
        self._watch_task: asyncio.Task | None = None
        self._connect_lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self._replacing: Any = None             # a socket being replaced on purpose
        self._closing = False                   # stopping: sessions end without errors
        self._last_activity = time.monotonic()  # last message sent or received

        self._queue: deque[_Session] = deque()  # sessions not settled yet, in order; the first is on the wire
        self._sessions: dict[str, _Session] = {}  # by context id (settled ones until their turn ends)
        self._explained: deque[str] = deque(maxlen=64)  # contexts whose silence an error explains
        self._server_model: str | None = None

    # -- identity ----------------------------------------------------------------------

    def can_generate_metrics(self) -> bool:
        return True

    def language_to_service_language(self, language: Language) -> str | None:
        return _lang(language)

    @property
    def url(self) -> str:
        return self._url

    # -- lifecycle -------------------------------------------------------------------------

    async def setup(self, setup: FrameProcessorSetup):
        await super().setup(setup)
        if self.sample_rate not in SUPPORTED_SAMPLE_RATES:
            await self.push_error(
                error_msg=(f"{self}: the pipeline's output rate {self.sample_rate} Hz is not one the "
                           f"Supertonic server produces {SUPPORTED_SAMPLE_RATES}; give "
                           "SupertonicTTSService(sample_rate=...) one of them"),
                category=ErrorCategory.INVALID_REQUEST)
            return
        await self._connect()

    async def _connect(self):
        self._closing = False
        await super()._connect()
        await self._connect_websocket()
        if self._websocket and (self._receive_task is None or self._receive_task.done()
                                or self._reconnect_in_progress):
            # A reconnection loop asleep in its backoff would not read the socket
            # opened here on demand: a fresh receive task reads it now.
            if self._receive_task is not None and not self._receive_task.done():
                await self.cancel_task(self._receive_task)
            self._receive_task = self.create_task(self._receive_task_handler(self._report_connection_error),
                                                  name="supertonic.receive")
        if self._watch_task is None or self._watch_task.done():
            self._watch_task = self.create_task(self._watch(), name="supertonic.watch")
        await self._pump()

    async def _disconnect(self):
        self._closing = True
        await super()._disconnect()
        for task in (self._receive_task, self._watch_task):
            if task is not None:
                await self.cancel_task(task)
        self._receive_task = None
        self._watch_task = None
        await self._disconnect_websocket()

    async def _connect_websocket(self):
        async with self._connect_lock:
            if self._websocket is not None and self._websocket.state is State.OPEN:
                return
            headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
            try:
                logger.debug(f"{self}: connecting to {self._url}")
                self._websocket = await self._websocket_connect(
                    self._url, additional_headers=headers or None, open_timeout=self._open_timeout,
                    ping_interval=self._ping_interval, ping_timeout=self._ping_timeout,
                    max_size=2**24, compression=None)
                self._last_activity = time.monotonic()
            except Exception as e:  # noqa: BLE001 - every failure is reported the same way
                self._websocket = None
                await self._connect_failed(e)
                return
        await self._call_event_handler("on_connected")
        await self._pump()

    async def _connect_failed(self, e: Exception) -> None:
        status = e.response.status_code if isinstance(e, InvalidStatus) else None
        if status == 401:
            message = f"{self}: {self._url} refused the token (HTTP 401)"
            category = ErrorCategory.AUTHENTICATION
        else:
            what = f"HTTP {status}" if status else f"{type(e).__name__}: {e}"
            message = f"{self}: cannot connect to {self._url} ({what})"
            category = ErrorCategory.CONNECTIVITY
        await self._call_event_handler("on_connection_error", message)
        # During the base class's reconnection loop the attempt's failure is
        # reported by the loop itself.
        if not self._reconnect_in_progress:
            await self.push_error(error_msg=message, exception=e, category=category)
        else:
            logger.warning(message)

    async def _disconnect_websocket(self):
        ws = self._websocket
        self._websocket = None
        if ws is None:
            return
        await self._socket_gone(ws)
        try:
            logger.debug(f"{self}: disconnecting from {self._url}")
            await ws.close()
        except Exception as e:  # noqa: BLE001 - closing is best effort
            logger.debug(f"{self}: error closing the socket: {e}")
        finally:
            await self._call_event_handler("on_disconnected")

    async def _reconnect_websocket(self, attempt_number: int) -> bool:
        # A turn may have connected on demand while the loop waited: keep that socket.
        if self._websocket is not None and self._websocket.state is State.OPEN:
            return True
        # Unlike the base class, the audio contexts are not all closed here: the
        # sessions of the lost socket were ended (and reported) when it went,
        # and the others, queued, go out on the new socket. Closing every
        # context would also cut a turn that started meanwhile.
        logger.warning(f"{self} reconnecting (attempt: {attempt_number})")
        await self._disconnect_websocket()
        await self._connect_websocket()
        if not await self._verify_connection():
            raise ConnectionError(f"{self} websocket reconnection failed verification")
        return True

    async def _close_connection_contexts(self):
        # On _disconnect (the pipeline stops) the base class ends every audio
        # context: their sessions go with them.
        for session in list(self._queue):
            await self._lose(session, "the connection to the server was lost")
        # Each context opened with a TTSStartedFrame: it ends with a TTSStoppedFrame.
        for context_id in self.get_audio_contexts():
            await self.append_to_audio_context(context_id, TTSStoppedFrame(context_id=context_id))
        await super()._close_connection_contexts()

    async def _report_connection_error(self, error: ErrorFrame, force_treat_as_permanent: bool = False):
        # A lost connection is never permanent here: when the base class's
        # attempts are spent, the next turn connects on demand.
        if error.category is None:
            error.category = ErrorCategory.CONNECTIVITY
        await self._call_event_handler("on_connection_error", error.error)
        await self.push_error_frame(error)

    async def _replace_socket(self, reason: str) -> None:
        """Closes the current socket on purpose; the receive loop opens the
        next one (sessions queued behind it go out on that one)."""
        ws = self._websocket
        if ws is None:
            return
        logger.info(f"{self}: replacing the connection to {self._url}: {reason}")
        self._replacing = ws
        self._websocket = None
        await self._socket_gone(ws)
        try:
            await ws.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        await self._call_event_handler("on_disconnected")
        if self._receive_task is None or self._receive_task.done():
            await self._connect_websocket()

    def _get_websocket(self):
        if self._websocket is not None:
            return self._websocket
        raise ConnectionError(f"{self}: not connected to {self._url}")

    # -- receiving ---------------------------------------------------------------------------

    async def _receive_messages(self):
        while True:
            ws = self._get_websocket()
            try:
                async for message in ws:
                    await self._on_message(ws, message)
            except ConnectionClosed:
                if self._replacing is not ws:
                    await self._socket_gone(ws, "the connection to the server was lost")
                    raise
            await self._socket_gone(ws, "the server closed the connection")
            if self._replacing is ws:
                self._replacing = None
                await self._connect_websocket()
                continue
            return          # closed by the server: the base class reconnects

    async def _socket_gone(self, ws: Any, why: str = "the connection was closed") -> None:
        """Sessions on a socket that is gone can hear nothing more."""
        for session in list(self._queue):
            if session.ws is ws and not session.settled:
                await self._lose(session, why)

    async def _on_message(self, ws: Any, message: str | bytes) -> None:
        self._last_activity = time.monotonic()
        session = self._wire()
        if session is not None and session.ws is not ws:
            session = None
        if isinstance(message, (bytes, bytearray, memoryview)):
            if session is None or session.started is None:
                logger.warning(f"{self}: an audio frame outside any session ({len(message)} bytes), dropped")
                return
            await self._on_audio(session, bytes(message))
            return
        try:
            msg = json.loads(message)
        except json.JSONDecodeError:
            logger.warning(f"{self}: the server sent a text frame that is not JSON: {message[:200]!r}")
            return
        if not isinstance(msg, dict):
            return
        kind, sid = msg.get("type"), msg.get("session_id")
        if kind == "error":
            await self._on_error(session, parse_error(msg, fatal=False))
            return
        if session is None or sid != session.session_id:
            logger.trace(f"{self}: {kind} of an earlier session, ignored")
            return
        session.heard_at = time.monotonic()
        self._refresh_audio_context(session.context_id)
        if kind == "session_started":
            await self._on_started(session, parse_session_started(msg))
        elif kind == "segment_started":
            event = parse_segment_started(msg)
            session.segment = event.segment
            session.segment_has_audio = False
            session.pending_words = [] if session.server_words else self._estimated_words(session, event)
        elif kind == "word_timings":
            event = parse_word_timings(msg)
            if event.segment == session.segment and not session.aborted:
                words = [(w.word, w.start_ms) for w in event.words if w.word.strip()]
                if session.segment_has_audio:
                    await self._add_words(session, words)
                else:
                    session.pending_words = words
        elif kind == "segment_done":
            event = parse_segment_done(msg)
            session.done_visible += _visible(event.text)
            session.pending_words = []
            session.segment = None
            await self._pump()
        elif kind == "cancelled":
            session.pending_words = []
        elif kind == "session_ended":
            await self._on_ended(session, parse_session_ended(msg))
        # other types: a newer server's additions, ignored

    async def _on_started(self, session: _Session, event: Any) -> None:
        session.started = event
        session.server_words = event.raw.get("word_timings") is True
        if event.model and event.model != self._server_model:
            self._server_model = event.model
            if not self._settings.model:
                self.set_core_metrics_data(MetricsData(processor=self.name, model=event.model))
        wanted = session.config.get("sample_rate")
        if event.sample_rate != wanted and not session.aborted:
            await self._fail(session, f"{self}: asked for {wanted} Hz audio, the server confirmed "
                                      f"{event.sample_rate} Hz; the turn is not spoken",
                             category=ErrorCategory.SERVER)
            await self._abort(session)

    async def _on_audio(self, session: _Session, data: bytes) -> None:
        before_ms = 1000.0 * session.audio_bytes / 2 / session.started.sample_rate
        first = session.audio_bytes == 0
        session.audio_bytes += len(data)
        session.heard_at = time.monotonic()
        if session.aborted or session.failed:
            return                      # an interrupted turn's audio still on the wire
        if first:
            await self.stop_ttfb_metrics()
        ctx = session.context_id
        await self.append_to_audio_context(
            ctx, TTSAudioRawFrame(data, self.sample_rate, 1, context_id=ctx))
        if session.rebase:
            # The base class ended the context after a pause and opened it
            # again: the new context's word times start with this frame.
            session.rebase = False
            session.origin_ms = before_ms
        if not session.segment_has_audio:
            session.segment_has_audio = True
            if session.pending_words:
                words, session.pending_words = session.pending_words, []
                await self._add_words(session, words)

    async def _add_words(self, session: _Session, words: list[tuple[str, float]]) -> None:
        ctx = session.context_id
        if words and self.audio_context_available(ctx):
            await self.add_word_timestamps(
                [(w, max(0.0, (ms - session.origin_ms) / 1000.0)) for w, ms in words], ctx)

    def _estimated_words(self, session: _Session, event: SegmentStarted) -> list[tuple[str, float]]:
        """Word start times spread over the segment by word length (a server
        without word timings)."""
        words = event.text.split()
        if not words:
            return []
        start = (event.start_ms if event.start_ms is not None
                 else 1000.0 * session.audio_bytes / 2 / session.started.sample_rate)
        total = sum(len(w) for w in words)
        out, at = [], start
        for w in words:
            out.append((w, at))
            at += max(0.0, event.duration_ms) * len(w) / total
        return out

    async def _on_ended(self, session: _Session, event: Any) -> None:
        if not session.aborted and not session.failed:
            if event.reason == "shutting_down":
                await self._fail(session, f"{self}: the server is shutting down and ended the session "
                                          "before all of its text was spoken", category=ErrorCategory.SERVER)
            elif event.reason == "error":
                session.failed = True   # its error came before
                self._explained.append(session.context_id)
            elif event.segments == 0 and session.audio_bytes == 0:
                self._explained.append(session.context_id)   # nothing in it to say
        # (an interrupted context is gone already)
        await self._end_context(session.context_id)
        self._settle(session)
        await self._pump()

    async def _on_error(self, session: _Session | None, error: Error) -> None:
        if error.code == "no_session":
            logger.debug(f"{self}: a late answer to an ended session: {error.message}")
            return
        if error.session_id is not None and (session is None or error.session_id != session.session_id):
            logger.debug(f"{self}: an error of an earlier session: {error.code} {error.message}")
            return
        refusal = session is not None and session.started is None
        if session is not None and session.aborted:
            logger.debug(f"{self}: error for an interrupted session: {error.code} {error.message}")
            if refusal:
                self._settle(session)
                await self._pump()
            return
        text = f"{self}: Supertonic TTS error {error.code}: {error.message}"
        exception = server_error(error.code, error.message, retryable=error.retryable,
                                 session_id=error.session_id, body=error.raw)
        if refusal:
            # The session does not exist: its turn is not spoken.
            if error.code == "unauthorized":
                category = ErrorCategory.AUTHENTICATION
            elif error.retryable:
                category = ErrorCategory.RATE_LIMIT if error.code == "capacity" else ErrorCategory.SERVER
            else:
                category = ErrorCategory.INVALID_REQUEST    # permanent until the settings change
            await self._fail(session, text, exception=exception, category=category)
            await self._end_context(session.context_id)
            self._settle(session)
            if error.code == "session_active":   # the socket's state is not what it should be
                await self._replace_socket("the server had another session open on it")
            await self._pump()
            return
        # About one message or one segment: the session goes on.
        if session is not None and error.segment is not None and error.segment == session.segment:
            session.pending_words = []
        category = ErrorCategory.SERVER if error.retryable else ErrorCategory.APPLICATION
        await self.push_error(error_msg=text, exception=exception, category=category)

    # -- sessions --------------------------------------------------------------------------

    def _wire(self) -> _Session | None:
        """The session whose replies the socket carries now."""
        for session in self._queue:
            if not session.settled:
                return session if session.start_sent else None
        return None

    def _session_config(self) -> dict[str, Any]:
        s = self._settings
        config: dict[str, Any] = {"sample_rate": self.sample_rate, "word_timings": True}
        if s.model:
            config["model"] = s.model
        if s.voice:
            config["voice"] = s.voice
        lang = _lang(s.language)
        if lang:
            config["lang_code"] = lang
        if s.speed is not None:
            config["speed"] = s.speed
        if s.num_inference_steps is not None:
            config["num_inference_steps"] = s.num_inference_steps
        if s.normalize is not None:
            config["normalize"] = bool(s.normalize)
        return config

    def _new_session(self, context_id: str) -> _Session:
        session = _Session(context_id=context_id, session_id=str(uuid.uuid4()), config=self._session_config())
        self._sessions[context_id] = session
        self._queue.append(session)
        return session

    def _settle(self, session: _Session) -> None:
        """Nothing more of this session can arrive."""
        if session.settled:
            return
        session.settled = True
        session.outbox.clear()
        if session in self._queue:
            self._queue.remove(session)
        if session.context_id != self._turn_context_id:
            self._sessions.pop(session.context_id, None)

    async def _lose(self, session: _Session, why: str) -> None:
        """The session's socket went away (or is being replaced): an error
        is reported if that cut a turn that was to be spoken."""
        if session.settled:
            return
        cut = (not session.aborted and not session.failed and not self._closing
               and (session.text_sent or any(m.get("text") for m in session.outbox)))
        self._settle(session)
        if not cut:
            return
        session.failed = True
        self._explained.append(session.context_id)
        heard = session.audio_bytes / 2 / (session.started.sample_rate if session.started else self.sample_rate)
        await self.push_error(
            error_msg=f"{self}: {why} during a turn ({heard:.1f} s of its audio received); "
                      "the rest of the turn is not spoken",
            exception=ConnectionError(why), category=ErrorCategory.CONNECTIVITY)
        await self._end_context(session.context_id)

    async def _fail(self, session: _Session, message: str, *, exception: Exception | None = None,
                    category: ErrorCategory) -> None:
        session.failed = True
        self._explained.append(session.context_id)
        await self.push_error(error_msg=message, exception=exception, category=category)

    async def _end_context(self, context_id: str) -> None:
        """Closes an audio context after what it has (its stop frame last). The
        turn's own context stays open until the turn ends (the base class would
        open it again for the turn's next text)."""
        if context_id == self._turn_context_id or not self.audio_context_available(context_id):
            return
        await self.append_to_audio_context(context_id, TTSStoppedFrame(context_id=context_id))
        await self.remove_audio_context(context_id)

    async def _request_end(self, session: _Session) -> None:
        if session.settled or session.aborted or session.end_requested:
            return
        session.end_requested = True
        session.outbox.append({"type": "end_session"})
        await self._pump()

    async def _abort(self, session: _Session) -> None:
        """Barge-in: ``cancel`` (and ``end_session``) now, the answers later."""
        if session.settled or session.aborted:
            return
        session.aborted_at = time.monotonic()
        session.pending_words = []
        if session.audio_bytes == 0:
            await self.cancel_ttfb_metrics()
        if not session.start_sent:
            self._settle(session)             # never reached the server
        else:
            session.outbox.clear()
            session.outbox.append({"type": "cancel"})
            if not session.end_sent:
                session.outbox.append({"type": "end_session"})
            session.end_requested = True
        if self._send_lock.locked():
            # A send is under way (a slow peer): the interruption does not wait for it.
            self.create_task(self._pump(), name="supertonic.cancel")
        else:
            await self._pump()

    async def _pump(self) -> None:
        """Sends what the session on the wire has to send, and starts the
        next session once the one before it has ended."""
        async with self._send_lock:
            while self._queue:
                session = self._queue[0]
                ws = self._websocket
                if ws is None or ws.state is not State.OPEN:
                    return
                if session.start_sent and session.ws is not ws:
                    # Its socket is gone (the receive loop reports that): it cannot go on.
                    self._settle(session)
                    continue
                if not session.start_sent:
                    if not session.outbox:
                        return                # nothing to say yet: start_session leaves with the first text
                    message = {"type": "start_session", "session_id": session.session_id,
                               "config": session.config}
                    session.ws = ws
                    session.start_sent = True
                    session.heard_at = time.monotonic()
                    if not await self._send(ws, message):
                        return
                while session.outbox:
                    message = session.outbox[0]
                    text = message.get("text")
                    if (text is not None and session.unspoken > 0
                            and session.unspoken + _visible(text) > self._max_unspoken_chars):
                        break                 # sent once more of it has been spoken
                    session.outbox.popleft()
                    if not await self._send(ws, message):
                        return
                    kind = message["type"]
                    if text is not None:
                        session.sent_visible += _visible(text)
                        session.text_sent = True
                    elif kind == "end_session":
                        session.end_sent = True
                        session.waiting_since = session.waiting_since or time.monotonic()
                    elif kind == "cancel":
                        session.waiting_since = time.monotonic()
                return

    async def _send(self, ws: Any, message: dict[str, Any]) -> bool:
        try:
            await ws.send(json.dumps(message, ensure_ascii=False))
        except Exception as e:  # noqa: BLE001 - the receive loop handles a lost connection
            logger.warning(f"{self}: sending {message.get('type')} failed: {e}")
            return False
        self._last_activity = time.monotonic()
        return True

    async def _watch(self) -> None:
        """Keeps audio contexts open while the server owes them audio, times out
        a server that stopped answering or an interrupted session that is not
        confirmed, and replaces an idle socket before the server closes it."""
        while True:
            await asyncio.sleep(_TICK_S)
            try:
                await self._watch_once()
            except Exception as e:  # noqa: BLE001 - the watch must go on
                logger.warning(f"{self}: session watch: {e}")

    async def _watch_once(self) -> None:
        now = time.monotonic()
        for session in list(self._queue):
            if session.settled:
                continue
            if session.end_requested and not session.aborted:
                self._refresh_audio_context(session.context_id)
        session = self._wire()
        if session is not None:
            if session.aborted and now - session.aborted_at > self._drain_timeout:
                logger.warning(f"{self}: session {session.session_id} was not confirmed "
                               f"{self._drain_timeout:.1f} s after the cancel")
                await self._replace_socket("an interrupted session was not confirmed in time")
            elif (session.waiting_since is not None and not session.aborted
                  and now - max(session.heard_at, session.waiting_since) > self._receive_timeout):
                await self._fail(session, f"{self}: the server sent nothing for {self._receive_timeout:g} s "
                                          "while a turn was still to be spoken; the rest of the turn is not "
                                          "spoken", exception=TimeoutError("no answer"),
                                 category=ErrorCategory.SERVER)
                await self._end_context(session.context_id)
                await self._replace_socket("the server stopped answering")
            return
        if any(not s.settled for s in self._queue):
            return
        ws = self._websocket
        if (self._max_idle is not None and ws is not None and ws.state is State.OPEN
                and now - self._last_activity > self._max_idle):
            await self._replace_socket(f"idle for {self._max_idle:.0f} s")

    # -- the base class's hooks --------------------------------------------------------------

    @traced_tts
    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        """Sends ``text`` for the context's session (started with its first
        text); the audio arrives on the receive task."""
        session = self._sessions.get(context_id)
        if session is None:
            session = self._new_session(context_id)
        if session.settled or session.aborted or session.end_requested:
            logger.debug(f"{self}: text for a session that is over, dropped: {text!r}")
            yield None
            return
        if self._websocket is None or self._websocket.state is not State.OPEN:
            await self._connect()
            if self._websocket is None:
                # The turn is not spoken. Its connection error is reported,
                # by the reconnection loop if one is running.
                if self._reconnect_in_progress:
                    await self.push_error(
                        error_msg=f"{self}: not connected to {self._url} (reconnecting); the turn is not spoken",
                        category=ErrorCategory.CONNECTIVITY)
                session.failed = True
                self._explained.append(context_id)
                self._settle(session)
                yield None
                return
        for piece in _pieces(text, min(_MAX_PIECE_CHARS, self._max_unspoken_chars)):
            session.outbox.append({"type": "send_text", "text": piece})
        await self._pump()
        await self.start_tts_usage_metrics(text)
        yield None

    async def create_audio_context(self, context_id: str):
        await super().create_audio_context(context_id)
        session = self._sessions.get(context_id)
        if session is not None and not session.settled and session.audio_bytes:
            session.rebase = True       # opened again after a pause: see _on_audio

    async def flush_audio(self, context_id: str | None = None):
        """The turn's text is complete: ``end_session`` for its session."""
        ctx = context_id or self.get_active_audio_context_id()
        session = self._sessions.get(ctx) if ctx else None
        if session is not None:
            await self._request_end(session)

    async def on_turn_context_completed(self):
        ctx = self._turn_context_id
        await super().on_turn_context_completed()
        session = self._sessions.get(ctx) if ctx else None
        if session is None:
            return
        if session.settled:
            self._sessions.pop(ctx, None)
            if session.failed:
                await self._end_context(ctx)
        else:
            await self._request_end(session)     # also when its audio context had paused out

    async def on_audio_context_interrupted(self, context_id: str):
        session = self._sessions.get(context_id)
        if session is not None:
            await self._abort(session)
        await super().on_audio_context_interrupted(context_id)

    async def _handle_interruption(self, frame: InterruptionFrame, direction: FrameDirection):
        kept = {cid for cid, c in self._tts_contexts.items() if not c.interruptible}
        streamed = self._streamed_text
        await super()._handle_interruption(frame, direction)
        # Sessions whose audio context had already ended (paused out) still
        # belong to the interrupted turn.
        for session in list(self._queue):
            if session.context_id not in kept:
                await self._abort(session)
        for ctx, session in list(self._sessions.items()):
            if session.settled or session.aborted:
                self._sessions.pop(ctx, None)
        if streamed:
            # The interrupted turn's text reached the server: count it (the
            # base class reports a streamed turn's characters at its end only).
            await super(TTSService, self).start_tts_usage_metrics(streamed)

    async def _record_context_audio_outcome(self, context_id: str, received_audio: bool):
        # A context whose failure was reported is not one more silent context.
        if not received_audio and context_id in self._explained:
            return
        await super()._record_context_audio_outcome(context_id, received_audio)

    async def _update_settings(self, delta: SupertonicTTSSettings) -> dict[str, Any]:
        changed = await super()._update_settings(delta)
        unknown = set(changed) - _SESSION_FIELDS
        if unknown:
            self._warn_unhandled_updated_settings(unknown)
        if changed.keys() & _SESSION_FIELDS and self._turn_context_id:
            # The session of the turn keeps its settings: end it, and speak the
            # rest of the turn in a new context (a new session).
            old = self._turn_context_id
            await self._push_sequencer_frames(
                await self._aggregated_frame_sequencer.finalize(old), old)
            session = self._sessions.get(old)
            if session is not None:
                await self._request_end(session)
            self._turn_context_id = None
            self._turn_context_id = self.create_context_id()
        return changed


__all__ = ["SupertonicTTSService", "SupertonicTTSSettings"]
