"""What a session yields: the server's messages as dataclasses, and audio.

``raw`` keeps the message as received, so fields this client does not know
(the protocol allows servers to add some) stay reachable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from .errors import ServerError, server_error


@dataclass(frozen=True)
class SessionStarted:
    """The server accepted ``start_session``; its effective configuration."""

    session_id: str
    voice: str
    lang_code: str
    sample_rate: int
    frame_ms: float
    samples_per_frame: int
    num_inference_steps: int
    speed: float
    model: str = ""         # the server's name of the model serving the session ("" from older servers)
    # The voice as the server resolved it: the name, or a blend with its
    # weights normalized ("F1:0.7+M2:0.3"); "" from older servers.
    resolved_voice: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class SegmentStarted:
    """A segment's audio follows: its text, predicted duration and its offset
    in the session's audio (``start_ms``)."""

    session_id: str
    segment: int
    text: str
    duration_ms: float
    start_ms: float | None
    spoken_text: str = ""   # what the model was given (the text normalized); "" from older servers
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class WordTiming:
    """One word as the client wrote it (punctuation attached) and when it is
    heard, in ms on the session's audio timeline (the origin of
    ``SegmentStarted.start_ms``)."""

    word: str
    start_ms: float
    end_ms: float


@dataclass(frozen=True)
class WordTimings:
    """The words of a segment with their times (sessions started with
    ``word_timings=True``); comes right after the segment's ``SegmentStarted``,
    before its audio."""

    session_id: str
    segment: int
    words: tuple[WordTiming, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class AudioFrame:
    """One binary frame: mono PCM 16-bit little-endian."""

    data: bytes
    sample_rate: int
    segment: int | None     # index of the segment it belongs to

    @property
    def samples(self) -> int:
        return len(self.data) // 2

    @property
    def duration_ms(self) -> float:
        return 1000.0 * self.samples / self.sample_rate if self.sample_rate else 0.0

    def __repr__(self) -> str:
        return f"AudioFrame({len(self.data)} bytes, {self.sample_rate} Hz, segment={self.segment})"


@dataclass(frozen=True)
class SegmentDone:
    """All frames of a segment were sent."""

    session_id: str
    segment: int
    text: str
    duration_ms: float
    frames: int
    spoken_text: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Cancelled:
    """The server confirmed a ``cancel``: no audio of the cancelled work follows."""

    session_id: str
    segments_dropped: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class SessionEnded:
    """The session is over (``reason``: completed, shutting_down or error)."""

    session_id: str
    segments: int
    audio_ms: float
    reason: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Error:
    """An ``error`` message. ``fatal`` is True when it refused the session
    (it came instead of ``session_started``): the session does not exist and
    the iteration ends after it. Other errors leave the session open; one
    with ``segment`` set says that segment failed (``internal``) and will not
    be spoken, and the session goes on with the next one."""

    code: str
    message: str
    retryable: bool
    session_id: str | None
    fatal: bool = False
    segment: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def exception(self) -> ServerError:
        """The matching exception (see ``errors.ERROR_CLASSES``)."""
        return server_error(self.code, self.message, retryable=self.retryable,
                            session_id=self.session_id, body=self.raw)


Event = Union[SessionStarted, SegmentStarted, WordTimings, AudioFrame, SegmentDone, Cancelled, SessionEnded, Error]


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_session_started(m: dict[str, Any]) -> SessionStarted:
    rate = _int(m.get("sample_rate"))
    frame_ms = _num(m.get("frame_ms"))
    spf = _int(m.get("samples_per_frame"), int(round(rate * frame_ms / 1000)))
    return SessionStarted(
        session_id=str(m.get("session_id")), voice=str(m.get("voice", "")),
        lang_code=str(m.get("lang_code", "")), sample_rate=rate, frame_ms=frame_ms,
        samples_per_frame=spf, num_inference_steps=_int(m.get("num_inference_steps")),
        speed=_num(m.get("speed")), model=str(m.get("model") or ""),
        resolved_voice=str(m.get("resolved_voice") or ""), raw=m)


def parse_segment_started(m: dict[str, Any]) -> SegmentStarted:
    start = m.get("start_ms")
    return SegmentStarted(
        session_id=str(m.get("session_id")), segment=_int(m.get("segment"), -1),
        text=str(m.get("text", "")), duration_ms=_num(m.get("duration_ms")),
        start_ms=None if start is None else _num(start), spoken_text=str(m.get("spoken_text") or ""), raw=m)


def parse_word_timings(m: dict[str, Any]) -> WordTimings:
    words = []
    for w in m.get("words") or ():
        if isinstance(w, dict):
            words.append(WordTiming(word=str(w.get("word", "")), start_ms=_num(w.get("start_ms")),
                                    end_ms=_num(w.get("end_ms"))))
    return WordTimings(session_id=str(m.get("session_id")), segment=_int(m.get("segment"), -1),
                       words=tuple(words), raw=m)


def parse_segment_done(m: dict[str, Any]) -> SegmentDone:
    return SegmentDone(
        session_id=str(m.get("session_id")), segment=_int(m.get("segment"), -1),
        text=str(m.get("text", "")), duration_ms=_num(m.get("duration_ms")),
        frames=_int(m.get("frames")), spoken_text=str(m.get("spoken_text") or ""), raw=m)


def parse_cancelled(m: dict[str, Any]) -> Cancelled:
    return Cancelled(session_id=str(m.get("session_id")),
                     segments_dropped=_int(m.get("segments_dropped")), raw=m)


def parse_session_ended(m: dict[str, Any]) -> SessionEnded:
    return SessionEnded(
        session_id=str(m.get("session_id")), segments=_int(m.get("segments")),
        audio_ms=_num(m.get("audio_ms")), reason=str(m.get("reason", "completed")), raw=m)


def parse_error(m: dict[str, Any], *, fatal: bool) -> Error:
    sid = m.get("session_id")
    return Error(code=str(m.get("code", "unknown")), message=str(m.get("message", "")),
                 retryable=bool(m.get("retryable", False)),
                 session_id=None if sid is None else str(sid), fatal=fatal,
                 segment=m["segment"] if isinstance(m.get("segment"), int) else None, raw=m)
