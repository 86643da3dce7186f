"""LiveKit Agents TTS for a Supertonic TTS service (WebSocket ``/ws/tts``).

How the framework's pieces map onto the protocol:

* one :class:`SynthesizeStream` (one agent turn) is one protocol session and
  one emitter segment: ``start_session`` leaves with the first text, every
  pushed text is sent at once as ``send_text`` (the server bundles it into
  sentences), ``end_input()`` sends ``end_session`` and the stream ends at
  ``session_ended``;
* :meth:`TTS.synthesize` is one session with one ``send_text`` and
  ``end_session``;
* WebSockets come from the framework's ``utils.ConnectionPool`` (opened ahead
  in :meth:`TTS.prewarm`); a socket goes back to the pool only once its
  session has ended. When a stream is closed while the server is still
  speaking (barge-in), ``aclose()`` returns at once and a background task
  sends ``cancel`` + ``end_session`` and reads until ``session_ended``; only
  then is the socket reused, so no audio of an interrupted turn reaches the
  next one. A socket that does not confirm within a few seconds is closed;
* the server's ``word_timings`` (asked for with ``config.word_timings``: each
  word as the agent wrote it and when it is heard) become word-level
  ``TimedString`` transcripts, hence ``aligned_transcript=True``: after a
  barge-in the agent's transcript ends at the last word heard. A server
  without word timings (its ``session_started`` does not say
  ``word_timings: true``) gets them estimated from ``segment_started``: word
  times spread in proportion to word length inside exact segment bounds;
* expressive markup (livekit-agents' ``<expr type="sound" label="laugh"/>``
  and the like, see ``markup.py``) becomes Supertonic 3's tags (``<laugh>``)
  when the session's model reads them (``session_started`` names the model;
  ``model=`` chooses it) and is dropped otherwise, never spoken. Text without
  markup is sent at once; text with markup waits, in the first moments of a
  turn, for ``session_started`` to say which model it is for;
* voices: ``voice=`` is any voice the server offers (its model's own, a
  voice file of its ``TTS_VOICES_DIR``, an uploaded one) or a blend such as
  ``"F1:0.7+M2:0.3"`` (``blend()`` writes one); :meth:`TTS.list_voices`,
  :meth:`TTS.upload_voice`, :meth:`TTS.save_blend` and :meth:`TTS.delete_voice`
  use the server's ``/v1/voices`` with the plugin's URL and token.
"""
from __future__ import annotations

import asyncio
import os
import re
import uuid
import weakref
from dataclasses import dataclass, replace
from typing import Any, Callable

import supertonic_client as stc
from livekit.agents import (
    APIConnectionError,
    APIConnectOptions,
    APIError,
    APIStatusError,
    APITimeoutError,
    tts,
    utils,
)
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.utils import is_given

from . import markup
from .log import logger

try:  # livekit-agents >= 1.2
    from livekit.agents.voice.io import TimedString
except ImportError:  # pragma: no cover - older framework: no aligned transcripts
    TimedString = None  # type: ignore[assignment,misc]

DEFAULT_URL = "ws://localhost:8000/ws/tts"
SUPPORTED_LANGUAGES = ("en", "ko", "es", "pt", "fr")
# What each release reads (the server refuses others with its model's list).
SUPPORTED_LANGUAGES_BY_MODEL = {
    "supertonic-2": SUPPORTED_LANGUAGES,
    "supertonic-3": ("en", "ko", "ja", "ar", "bg", "cs", "da", "de", "el", "es", "et", "fi", "fr", "hi",
                     "hr", "hu", "id", "it", "lt", "lv", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv",
                     "tr", "uk", "vi", "na"),
}
VOICES = ("F1", "F2", "F3", "F4", "F5", "M1", "M2", "M3", "M4", "M5")

# How long a barged-in socket may take to confirm its session ended before it
# is closed instead of being reused.
DRAIN_TIMEOUT_S = 5.0
# Pooled sockets idle longer than this are replaced (the server closes sockets
# without a session after TTS_IDLE_TIMEOUT_S, 300 s by default).
MAX_IDLE_S = 240.0


def _lang(code: str | None) -> str | None:
    """'pt-BR', 'en_US', 'EN' -> 'pt', 'en', 'en' (the service takes ISO 639-1)."""
    if code is None:
        return None
    code = str(code).strip()
    return re.split(r"[-_]", code, maxsplit=1)[0].lower() if code else None


@dataclass
class _TTSOptions:
    url: str
    token: str | None
    model: str | None
    voice: str | None
    lang_code: str | None
    speed: float | None
    num_inference_steps: int | None
    sample_rate: int
    aligned_transcript: bool
    normalize: bool | None = None

    def session_config(self) -> dict[str, Any]:
        """``start_session.config``: always the sample rate, the rest when set
        (unset fields take the server's defaults)."""
        config: dict[str, Any] = {"sample_rate": self.sample_rate}
        if self.model is not None:
            config["model"] = self.model
        if self.voice is not None:
            config["voice"] = self.voice
        if self.lang_code is not None:
            config["lang_code"] = self.lang_code
        if self.speed is not None:
            config["speed"] = self.speed
        if self.num_inference_steps is not None:
            config["num_inference_steps"] = self.num_inference_steps
        if self.normalize is not None:
            config["normalize"] = self.normalize
        if self.aligned_transcript:
            config["word_timings"] = True
        return config


_MarkupBase: Any = getattr(tts.TTS, "Markup", None)  # livekit-agents >= 1.5: expressive markup


class TTS(tts.TTS):
    if _MarkupBase is not None:
        class Markup(_MarkupBase):  # type: ignore[misc,valid-type]
            """The expressive markup the framework may teach the LLM and lower
            before synthesis (it does so for a TTS wrapped in a StreamAdapter):
            Supertonic 3's tags, once the model is known to read them. The
            plugin's own streams lower markup whatever the framework does."""

            def _provider_key(self) -> str:
                return "supertonic" if self._tts._expression_tags() else ""

            @property
            def info(self) -> Any:
                try:
                    from livekit.agents.tts.tts import MarkupInfo
                except ImportError:  # a framework with markup but without its capability matrix
                    return super().info
                return MarkupInfo(nonverbals=markup.nonverbals(self._tts._expression_tags()))

            def llm_instructions(self, *, speech_steering: Any = None) -> str | None:
                return markup.llm_instructions(self._tts._expression_tags(), speech_steering)

            def normalize(self, text: str) -> str:
                return text

            def convert(self, text: str) -> str:
                return markup.lower_markup(text, self._tts._expression_tags())

    def __init__(
        self,
        *,
        url: str | None = None,
        service_url: str | None = None,
        model: str | None = None,
        voice: str | None = None,
        language: str | None = None,
        lang_code: str | None = None,
        speed: float | None = None,
        num_inference_steps: int | None = None,
        sample_rate: int = 24000,
        token: str | None = None,
        aligned_transcript: bool = True,
        normalize: bool | None = None,
    ) -> None:
        """Supertonic TTS over the service's WebSocket protocol.

        Args:
            url: the service's WebSocket URL, e.g. ``ws://supertonic-tts:8000/ws/tts``
                (default: ``$SUPERTONIC_TTS_URL``, else ``ws://localhost:8000/ws/tts``).
            service_url: the same as ``url`` (the name the original usage uses).
            model: which of the server's models (``TTS_MODELS``), e.g.
                ``"supertonic-3"``, sent as ``config.model`` (default: the
                server's first). ``session_started`` names the model either way;
                when it reads expression tags (Supertonic 3), expressive
                markup becomes them, otherwise it is dropped.
            voice: F1-F5, M1-M5, a voice the server has from ``TTS_VOICES_DIR``
                or an upload, or a blend such as ``"F1:0.7+M2:0.3"`` (weights
                normalized, at most 4 voices; see ``blend()``). Default: the
                server's ``TTS_DEFAULT_VOICE``.
            language: en, ko, es, pt or fr, and for Supertonic 3 the others of
                ``SUPPORTED_LANGUAGES_BY_MODEL`` (``na`` for text of an unknown
                language); a region suffix is dropped (``pt-BR`` -> ``pt``).
                Default: the server's ``TTS_LANG_CODE``.
            lang_code: the same as ``language``.
            speed: speaking rate, 0.5-2.0 (default: the server's ``TTS_SPEED``).
            num_inference_steps: flow-matching steps, 1-32 (2 fastest, 5 quality;
                default: the server's ``TTS_NUM_INFERENCE_STEPS``).
            sample_rate: output rate in Hz: 8000, 16000, 22050, 24000, 44100, 48000.
                Always sent, and checked against what the server confirms.
            token: bearer token for servers with ``TTS_AUTH_TOKEN``
                (default: ``$SUPERTONIC_TTS_TOKEN``).
            aligned_transcript: emit word-timed transcripts from the server's
                segment timing (lets the agent's transcript follow the audio).
            normalize: False to have the server read the text as written (no
                numbers, money, dates... in words; for agents that normalize
                themselves). Default: the server's ``TTS_TEXT_NORMALIZATION``.
                Transcripts always show the text as the agent wrote it.
        """
        if url and service_url and url != service_url:
            raise ValueError("give either url or service_url, not two different URLs")
        if language and lang_code and _lang(language) != _lang(lang_code):
            raise ValueError("give either language or lang_code, not two different languages")
        if sample_rate not in stc.SUPPORTED_SAMPLE_RATES:
            raise ValueError(f"sample_rate must be one of {stc.SUPPORTED_SAMPLE_RATES}, "
                             f"not {sample_rate}")
        aligned = bool(aligned_transcript and TimedString is not None)
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=aligned),
            sample_rate=sample_rate,
            num_channels=1,
        )
        self._opts = _TTSOptions(
            url=url or service_url or os.environ.get("SUPERTONIC_TTS_URL") or DEFAULT_URL,
            token=token if token is not None else os.environ.get("SUPERTONIC_TTS_TOKEN"),
            model=model or None,
            voice=voice,
            lang_code=_lang(language or lang_code),
            speed=speed,
            num_inference_steps=num_inference_steps,
            sample_rate=sample_rate,
            aligned_transcript=aligned,
            normalize=normalize,
        )
        self._pool = utils.ConnectionPool[stc.Connection](
            connect_cb=self._connect_ws,
            close_cb=self._close_ws,
            max_session_duration=MAX_IDLE_S,
            mark_refreshed_on_get=True,
        )
        self._streams = weakref.WeakSet[SynthesizeStream]()
        self._drains: set[asyncio.Task[None]] = set()
        self._closed = False
        # What the latest session_started said (the server's default model when none is chosen).
        self._server_model: str | None = None
        self._server_tags: frozenset[str] | None = None

    # -- identity ------------------------------------------------------------------------

    @property
    def model(self) -> str:
        """The chosen model, else the one the server last named, else Supertonic 2
        (what a server from before several models serves)."""
        return self._opts.model or self._server_model or "supertonic-2"

    def _expression_tags(self) -> frozenset[str]:
        """The tags the model reads, as far as known now (none while unknown)."""
        chosen = self._opts.model
        if self._server_tags is not None and (chosen is None or chosen == self._server_model):
            return self._server_tags
        return markup.tags_for(self._opts.model)

    def _initial_tags(self, opts: _TTSOptions) -> frozenset[str] | None:
        """For a new session: known when the model is chosen, else unknown until
        its session_started (the server's default may have changed)."""
        return markup.tags_for(opts.model) if opts.model else None

    def _session_started(self, event: stc.SessionStarted, tags: frozenset[str] | None) -> None:
        if event.model:
            self._server_model = event.model
        if tags is not None:
            self._server_tags = tags

    @property
    def provider(self) -> str:
        return "Supertonic"

    @property
    def url(self) -> str:
        return self._opts.url

    # -- connections ---------------------------------------------------------------------

    async def _connect_ws(self, timeout: float) -> stc.Connection:
        try:
            conn = await stc.connect(self._opts.url, token=self._opts.token, open_timeout=timeout)
        except stc.SupertonicError as e:
            raise _api_error(e, audio_pushed=False) from None
        logger.debug("connected to %s", self._opts.url)
        return conn

    async def _close_ws(self, conn: stc.Connection) -> None:
        await conn.close()

    async def _acquire(self, timeout: float) -> stc.Connection:
        """A pooled connection that is open and has no session running."""
        while True:
            conn = await self._pool.get(timeout=timeout)
            if not conn.closed and not conn.busy:
                return conn
            self._pool.remove(conn)

    def _release(self, conn: stc.Connection, session: stc.Session | None) -> None:
        """Returns the connection to the pool once nothing of `session` can
        arrive any more. Never waits: an unfinished session is aborted and
        drained in the background."""
        if conn.closed or self._closed:
            self._pool.remove(conn)
            return
        if session is None or session.settled:
            self._pool.put(conn)
            return
        task = asyncio.create_task(self._drain(conn, session), name="supertonic.drain")
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def _drain(self, conn: stc.Connection, session: stc.Session) -> None:
        try:
            await session.abort()
            ok = await session.settle(DRAIN_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - any failure means: do not reuse
            ok = False
        if ok and not conn.closed and not self._closed:
            self._pool.put(conn)
            return
        if not ok:
            logger.warning("session %s did not confirm the cancel in time; closing its connection",
                           session.session_id)
        self._pool.remove(conn)
        await conn.close()

    def prewarm(self) -> None:
        """Opens a pooled connection ahead of the first turn."""
        self._pool.prewarm()

    # -- options ---------------------------------------------------------------------------

    def update_options(
        self,
        *,
        model: NotGivenOr[str | None] = NOT_GIVEN,
        voice: NotGivenOr[str | None] = NOT_GIVEN,
        language: NotGivenOr[str | None] = NOT_GIVEN,
        lang_code: NotGivenOr[str | None] = NOT_GIVEN,
        speed: NotGivenOr[float | None] = NOT_GIVEN,
        num_inference_steps: NotGivenOr[int | None] = NOT_GIVEN,
    ) -> None:
        """Changes options for the streams created from now on (each session
        carries its own config, so pooled connections stay usable)."""
        if is_given(model):
            self._opts.model = model or None
        if is_given(voice):
            self._opts.voice = voice
        if is_given(language):
            self._opts.lang_code = _lang(language)
        if is_given(lang_code):
            self._opts.lang_code = _lang(lang_code)
        if is_given(speed):
            self._opts.speed = speed
        if is_given(num_inference_steps):
            self._opts.num_inference_steps = num_inference_steps

    # -- voices ------------------------------------------------------------------------------

    async def list_voices(self, *, model: str | None = None) -> list[stc.Voice]:
        """The server's voices (``model``: only that model's; by default all)."""
        return await stc.list_voices(self._opts.url, token=self._opts.token, model=model)

    async def upload_voice(self, name: str, style: Any, *, model: str | None = None,
                           metadata: dict[str, Any] | None = None) -> stc.Voice:
        """Stores a voice-style file (its parsed JSON or its path) on the server
        as ``name``, for ``model`` (default: the plugin's, else the server's first)."""
        return await stc.upload_voice(name, style, url=self._opts.url, token=self._opts.token,
                                      model=model or self._opts.model, metadata=metadata)

    async def save_blend(self, name: str, mix: str, *, model: str | None = None) -> stc.Voice:
        """Stores the blend ``mix`` (``"F1:0.7+M2:0.3"``) on the server as ``name``."""
        return await stc.save_blend(name, mix, url=self._opts.url, token=self._opts.token,
                                    model=model or self._opts.model)

    async def delete_voice(self, name: str, *, model: str | None = None) -> None:
        """Deletes an uploaded or file voice on the server."""
        await stc.delete_voice(name, url=self._opts.url, token=self._opts.token,
                               model=model or self._opts.model)

    # -- synthesis -----------------------------------------------------------------------------

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        stream = SynthesizeStream(tts=self, conn_options=conn_options)
        self._streams.add(stream)
        return stream

    async def aclose(self) -> None:
        for stream in list(self._streams):
            await stream.aclose()
        self._streams.clear()
        if self._drains:
            await asyncio.wait(set(self._drains), timeout=DRAIN_TIMEOUT_S + 1)
        self._closed = True
        await self._pool.aclose()


class _Turn:
    """Feeds one session's events into an AudioEmitter, and knows which
    expression tags the session's model reads once session_started said."""

    def __init__(self, session: stc.Session, emitter: tts.AudioEmitter, opts: _TTSOptions,
                 owner: TTS) -> None:
        self.session = session
        self.emitter = emitter
        self.opts = opts
        self.owner = owner
        self.audio_bytes = 0
        self.tags = owner._initial_tags(opts)  # None: not known yet
        self.server_word_timings = False       # session_started confirmed word_timings
        self._answered = asyncio.Event()      # session_started came, or the reading ended

    @property
    def audio_pushed(self) -> bool:
        return self.audio_bytes > 0

    async def lowered(self, text: str, timeout: float) -> str:
        """`text` for the session's model; waits for session_started when the
        text carries markup and the model is not known yet."""
        if self.tags is None and markup.has_markup(text):
            try:
                await asyncio.wait_for(self._answered.wait(), timeout)
            except asyncio.TimeoutError:
                raise stc.ReceiveTimeoutError(
                    f"no session_started within {timeout:.0f} s, so the model the markup is for is "
                    "unknown") from None
        return markup.lower_markup(text, self.tags)

    async def run(self, timeout: float, input_open: Callable[[], bool]) -> None:
        """Until session_ended. A receive timeout only counts once the input
        is over: while the LLM is still writing, the server has nothing to say."""
        try:
            await self._read(timeout, input_open)
        finally:
            self._answered.set()

    async def _read(self, timeout: float, input_open: Callable[[], bool]) -> None:
        while True:
            try:
                event = await self.session.next_event(timeout)
            except stc.ReceiveTimeoutError:
                if input_open():
                    continue
                raise
            if event is None:
                return
            if isinstance(event, stc.AudioFrame):
                self.emitter.push(event.data)
                self.audio_bytes += len(event.data)
            elif isinstance(event, stc.WordTimings):
                if self.opts.aligned_transcript:
                    self.emitter.push_timed_transcript(self._server_words(event))
            elif isinstance(event, stc.SegmentStarted):
                if self.opts.aligned_transcript and not self.server_word_timings:
                    self.emitter.push_timed_transcript(self._timed_words(event))
            elif isinstance(event, stc.SessionStarted):
                if event.sample_rate != self.opts.sample_rate:
                    raise stc.ProtocolError(
                        f"asked for {self.opts.sample_rate} Hz audio, the server confirmed "
                        f"{event.sample_rate} Hz")
                self.tags = markup.tags_of_session(event.raw, self.tags)
                self.server_word_timings = event.raw.get("word_timings") is True
                self.owner._session_started(event, self.tags)
                self._answered.set()
            elif isinstance(event, stc.Error):
                raise event.exception()
            elif isinstance(event, stc.SessionEnded):
                if event.reason == "shutting_down":
                    raise stc.ShuttingDownError("the server is shutting down and ended the "
                                                "session before all text was spoken")
                if event.reason not in ("completed", ""):
                    raise stc.InternalServerError(f"the server ended the session: {event.reason}")
                return

    def _server_words(self, event: stc.WordTimings) -> list[Any]:
        out = []
        for w in event.words:
            text = markup.strip_markup(w.word).strip()
            if text:  # a tag alone (<laugh>) is heard, not read
                out.append(TimedString(text=text + " ", start_time=w.start_ms / 1000.0,
                                       end_time=w.end_ms / 1000.0))
        return out

    def _timed_words(self, event: stc.SegmentStarted) -> list[Any]:
        words = re.findall(r"\S+\s*", markup.strip_markup(event.text))
        if not words:
            return []
        if not words[-1][-1].isspace():
            words[-1] += " "                 # separates this segment from the next one
        start = (event.start_ms if event.start_ms is not None
                 else 1000.0 * self.audio_bytes / 2 / self.opts.sample_rate) / 1000.0
        duration = max(0.0, event.duration_ms) / 1000.0
        weights = [len(w.strip()) for w in words]
        total = sum(weights) or 1
        out = []
        t = start
        for word, weight in zip(words, weights):
            end = t + duration * weight / total
            out.append(TimedString(text=word, start_time=t, end_time=end))
            t = end
        return out


class ChunkedStream(tts.ChunkedStream):
    """``synthesize(text)``: one session, ``send_text`` + ``end_session``."""

    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._tts: TTS = tts
        self._opts = replace(tts._opts)

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=self._opts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        if not self._input_text.strip():
            return
        conn = await self._tts._acquire(self._conn_options.timeout)
        self._acquire_time = getattr(self._tts._pool, "last_acquire_time", 0.0)
        self._connection_reused = getattr(self._tts._pool, "last_connection_reused", False)
        session = conn.session(config=self._opts.session_config())
        turn = _Turn(session, output_emitter, self._opts, self._tts)
        timeout = self._conn_options.timeout
        reading: asyncio.Task[None] | None = None
        try:
            if turn.tags is None and markup.has_markup(self._input_text):
                # start_session alone first: its answer says which model the markup is for
                await session.start()
                reading = asyncio.create_task(turn.run(timeout, input_open=lambda: not session.end_sent),
                                              name="supertonic.recv")
                text = await turn.lowered(self._input_text, timeout)
                if reading.done():
                    await reading                   # refused: its error
            else:
                text = markup.lower_markup(self._input_text, turn.tags)
            if text.strip():
                await session.send_text(text)
            await session.end()
            if reading is None:
                await turn.run(timeout, input_open=lambda: False)
            else:
                await reading
            output_emitter.flush()
        except stc.SupertonicError as e:
            raise _api_error(e, audio_pushed=turn.audio_pushed,
                             request_id=session.session_id) from e
        finally:
            if reading is not None:
                await utils.aio.gracefully_cancel(reading)
            self._tts._release(conn, session)


class SynthesizeStream(tts.SynthesizeStream):
    """One agent turn = one protocol session = one emitter segment."""

    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._tts: TTS = tts
        self._opts = replace(tts._opts)

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=self._opts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        conn = await self._tts._acquire(self._conn_options.timeout)
        self._acquire_time = getattr(self._tts._pool, "last_acquire_time", 0.0)
        self._connection_reused = getattr(self._tts._pool, "last_connection_reused", False)
        session = conn.session(session_id=str(uuid.uuid4()), config=self._opts.session_config())
        turn = _Turn(session, output_emitter, self._opts, self._tts)
        input_ch = self._input_ch          # a retry replaces the framework's channel
        first_text_sent = asyncio.Event()
        pending_markup = markup.MarkupStream()
        timeout = self._conn_options.timeout
        unflushed = False

        async def _start() -> None:
            output_emitter.start_segment(segment_id=session.session_id)
            self._mark_started()
            await session.start()
            first_text_sent.set()

        async def _send(text: str) -> None:
            nonlocal unflushed
            if not text:
                return
            if turn.tags is None and markup.has_markup(text) and not session.start_sent:
                await _start()              # its session_started says which model the markup is for
            text = await turn.lowered(text, timeout)
            if not text:
                return
            if not session.start_sent:
                await _start()              # start_session and the first text leave together
            await session.send_text(text)
            unflushed = True

        async def _input_task() -> None:
            nonlocal unflushed
            async for data in input_ch:
                if isinstance(data, self._FlushSentinel):
                    # end_input() sends a flush right before closing the input:
                    # that one is covered by end_session. A flush on its own
                    # asks for the pending text to be spoken now.
                    if not input_ch.closed:
                        await _send(pending_markup.flush())
                        if unflushed:
                            await session.flush()
                            unflushed = False
                    continue
                if data:
                    await _send(pending_markup.push(data))
            await _send(pending_markup.flush())
            if session.start_sent:
                await session.end()
            first_text_sent.set()

        async def _recv_task() -> None:
            await first_text_sent.wait()
            if not session.start_sent:
                return                      # the turn had no text
            await turn.run(self._conn_options.timeout, input_open=lambda: not session.end_sent)

        tasks = [
            asyncio.create_task(_input_task(), name="supertonic.input"),
            asyncio.create_task(_recv_task(), name="supertonic.recv"),
        ]
        try:
            await asyncio.gather(*tasks)
        except stc.SupertonicError as e:
            raise _api_error(e, audio_pushed=turn.audio_pushed,
                             request_id=session.session_id) from e
        finally:
            await utils.aio.gracefully_cancel(*tasks)
            self._tts._release(conn, session)


def _api_error(e: stc.SupertonicError, *, audio_pushed: bool,
               request_id: str | None = None) -> APIError:
    """The framework's exception for a client error (retryable as the
    framework expects: capacity yes, bad config no, a lost connection only
    before any audio was played)."""
    body = getattr(e, "body", None)
    if isinstance(e, stc.ServerError):
        if isinstance(e, stc.CapacityError):
            status = 429
        elif isinstance(e, (stc.ShuttingDownError, stc.SlowConsumerError)):
            status = 503
        elif isinstance(e, stc.UnauthorizedError):
            status = 401
        elif isinstance(e, stc.InvalidRequestError):
            status = 400
        else:
            status = 500 if e.retryable else 400
        return APIStatusError(f"Supertonic TTS error {e.code}: {e.message}", status_code=status,
                              request_id=request_id, body=body, retryable=e.retryable)
    if isinstance(e, stc.ConnectError) and e.status is not None:
        return APIStatusError(str(e), status_code=e.status, request_id=request_id,
                              retryable=e.retryable)
    if isinstance(e, (stc.ConnectTimeoutError, stc.ReceiveTimeoutError)):
        return APITimeoutError(f"Supertonic TTS: {e}", retryable=not audio_pushed)
    if isinstance(e, stc.TransportError):
        return APIConnectionError(f"Supertonic TTS: {e}",
                                  retryable=e.retryable and not audio_pushed)
    return APIError(f"Supertonic TTS: {e}", body=body, retryable=False)
