"""Exceptions of the Supertonic TTS client.

Every failure the client reports is a :class:`SupertonicError`. Errors the
server sends (``{"type": "error", "code": ..., "retryable": ...}``) become a
:class:`ServerError` subclass chosen by their ``code`` (see
:data:`ERROR_CLASSES`); the rest are transport failures (could not connect,
connection lost, nothing received in time) or protocol surprises.

Each exception has ``retryable``: whether trying again (on a new session, or
another replica) can help. For server errors it is the server's own flag.
"""
from __future__ import annotations

from typing import Any, Mapping


class SupertonicError(Exception):
    """Base class of every error raised by this package."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable


# --- transport -----------------------------------------------------------------


class TransportError(SupertonicError):
    """The WebSocket could not be opened or stopped working."""

    retryable = True


class ConnectError(TransportError):
    """Opening the WebSocket failed (refused, DNS, TLS, or an HTTP answer other
    than 101 to the upgrade; ``status`` is that HTTP status when there was one)."""

    def __init__(self, message: str, *, status: int | None = None,
                 retryable: bool | None = None) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status


class ConnectTimeoutError(ConnectError):
    """The WebSocket handshake did not complete in time."""


class ConnectionLostError(TransportError):
    """The connection closed while a session was using it."""


class ReceiveTimeoutError(TransportError):
    """Nothing arrived from the server within the receive timeout."""


# --- client-side misuse and protocol surprises -----------------------------------


class SessionStateError(SupertonicError):
    """The call does not fit the session's state (e.g. send_text after end)."""


class ProtocolError(SupertonicError):
    """The server answered something this client cannot accept, e.g. a
    ``session_started`` whose sample rate is not the one requested."""


# --- errors sent by the server -----------------------------------------------------


class ServerError(SupertonicError):
    """An ``error`` message from the server."""

    code: str = "unknown"

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None,
                 session_id: str | None = None, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, retryable=retryable)
        if code is not None:
            self.code = code
        self.session_id = session_id
        self.body = dict(body) if body is not None else None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidRequestError(ServerError):
    """The request itself is wrong; sending it again will fail again (the
    base of the more specific request errors; the HTTP API sends it as
    ``invalid_request_error``)."""

    code = "invalid_request_error"
    retryable = False


class InvalidMessageError(InvalidRequestError):
    code = "invalid_message"


class UnknownMessageTypeError(InvalidRequestError):
    code = "unknown_message_type"


class NoSessionError(InvalidRequestError):
    code = "no_session"


class SessionActiveError(InvalidRequestError):
    code = "session_active"


class TextTooLongError(InvalidRequestError):
    code = "text_too_long"


class MessageTooLargeError(InvalidRequestError):
    code = "message_too_large"


class BinaryNotSupportedError(InvalidRequestError):
    code = "binary_not_supported"


class InvalidConfigError(InvalidRequestError):
    """A ``start_session`` config value is out of range (base of the more
    specific voice, language and sample-rate errors)."""

    code = "invalid_config"


class InvalidVoiceError(InvalidConfigError):
    code = "invalid_voice"


class InvalidLanguageError(InvalidConfigError):
    code = "invalid_language"


class InvalidSampleRateError(InvalidConfigError):
    code = "invalid_sample_rate"


class InvalidModelError(InvalidConfigError):
    """The model is not one the server serves."""

    code = "invalid_model"


# --- the voice API (/v1/voices) ----------------------------------------------------


class InvalidVoiceNameError(InvalidRequestError):
    """A voice name must be 1..64 letters, digits, ``_`` or ``-``."""

    code = "invalid_voice_name"


class VoiceNotFoundError(InvalidRequestError):
    code = "voice_not_found"


class VoiceProtectedError(InvalidRequestError):
    """A model's own voice (or the server's default voice) cannot be replaced or deleted."""

    code = "voice_protected"


class TooManyVoicesError(InvalidRequestError):
    """The model has ``TTS_MAX_VOICES`` voices from files and uploads; delete one first."""

    code = "too_many_voices"


class VoiceTooLargeError(InvalidRequestError):
    """The voice's file would exceed the server's ``TTS_MAX_VOICE_BYTES``."""

    code = "voice_too_large"


class UploadsDisabledError(InvalidRequestError):
    """The server takes no voice uploads: it needs ``TTS_AUTH_TOKEN`` or
    ``TTS_ALLOW_VOICE_UPLOAD=true``, and ``TTS_VOICES_DIR``."""

    code = "uploads_disabled"


class VoiceStorageError(ServerError):
    """The server could not write or remove the voice's file."""

    code = "voice_storage_failed"
    retryable = True


# --- HTTP refusals (docs/http-api.md, "Error codes") ---------------------------------


class BadRequestError(InvalidRequestError):
    """Not an HTTP request the server can parse."""

    code = "bad_request"


class NotFoundError(InvalidRequestError):
    code = "not_found"


class MethodNotAllowedError(InvalidRequestError):
    code = "method_not_allowed"


class UpgradeRequiredError(InvalidRequestError):
    """``/ws/tts`` asked for without a WebSocket upgrade."""

    code = "upgrade_required"


class OriginNotAllowedError(InvalidRequestError):
    """A browser page of an origin the server does not allow (``TTS_ALLOWED_ORIGINS``)."""

    code = "origin_not_allowed"


class UnsupportedMediaTypeError(InvalidRequestError):
    code = "unsupported_media_type"


class RequestTooLargeError(InvalidRequestError):
    code = "request_too_large"


class HeadersTooLargeError(InvalidRequestError):
    code = "headers_too_large"


class UnauthorizedError(ServerError):
    """Missing or wrong token (HTTP 401 on the upgrade)."""

    code = "unauthorized"
    retryable = False


class CapacityError(ServerError):
    """The server runs ``TTS_MAX_SESSIONS`` sessions already; retry later or elsewhere."""

    code = "capacity"
    retryable = True


class ShuttingDownError(ServerError):
    """The server is draining (SIGTERM); retry on another replica."""

    code = "shutting_down"
    retryable = True


class SlowConsumerError(ServerError):
    code = "slow_consumer"
    retryable = True


class InternalServerError(ServerError):
    """A server-side failure, e.g. inference failed for a segment."""

    code = "internal"
    retryable = True


ERROR_CLASSES: dict[str, type[ServerError]] = {
    cls.code: cls
    for cls in (
        InvalidMessageError, UnknownMessageTypeError, NoSessionError, SessionActiveError,
        TextTooLongError, MessageTooLargeError, BinaryNotSupportedError, InvalidConfigError,
        InvalidVoiceError, InvalidLanguageError, InvalidSampleRateError, InvalidModelError, UnauthorizedError,
        CapacityError, ShuttingDownError, SlowConsumerError, InternalServerError,
        InvalidVoiceNameError, VoiceNotFoundError, VoiceProtectedError, TooManyVoicesError,
        VoiceTooLargeError, UploadsDisabledError, VoiceStorageError,
        InvalidRequestError, BadRequestError, NotFoundError, MethodNotAllowedError, UpgradeRequiredError,
        OriginNotAllowedError, UnsupportedMediaTypeError, RequestTooLargeError, HeadersTooLargeError,
    )
}
"""The server's error codes (docs/protocol.md and docs/http-api.md, "Error
codes") and their exception classes; tests/python/clients/test_error_table.py holds
it to the server's own table."""


def http_retryable(status: int) -> bool:
    """Whether an HTTP error with this status may succeed when retried: HTTP
    error bodies carry no ``retryable`` flag, and the server's table makes it
    true exactly for 429 and 5xx."""
    return status >= 500 or status == 429


def server_error(code: str, message: str, *, retryable: bool | None = None,
                 session_id: str | None = None,
                 body: Mapping[str, Any] | None = None) -> ServerError:
    """The exception for an error code; unknown codes give a plain ServerError
    that keeps the server's ``retryable`` flag (False when absent)."""
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        return ServerError(message, code=code, retryable=bool(retryable), session_id=session_id,
                           body=body)
    return cls(message, code=code, retryable=retryable, session_id=session_id, body=body)
