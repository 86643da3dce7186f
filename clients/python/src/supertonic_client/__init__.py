"""Asyncio client for the Supertonic TTS service (WebSocket ``/ws/tts``).

No LiveKit dependency: only ``websockets``. See :mod:`supertonic_client.client`
for the connection and session API, :mod:`supertonic_client.events` for what a
session yields and :mod:`supertonic_client.errors` for the exceptions.
"""
from .client import (
    DEFAULT_URL,
    SUPPORTED_SAMPLE_RATES,
    Connection,
    Session,
    Synthesis,
    connect,
    synthesize,
    write_wav,
)
from .errors import (
    ERROR_CLASSES,
    BinaryNotSupportedError,
    CapacityError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    InternalServerError,
    InvalidConfigError,
    InvalidLanguageError,
    InvalidMessageError,
    InvalidRequestError,
    InvalidSampleRateError,
    InvalidVoiceError,
    MessageTooLargeError,
    NoSessionError,
    ProtocolError,
    ReceiveTimeoutError,
    ServerError,
    SessionActiveError,
    SessionStateError,
    ShuttingDownError,
    SlowConsumerError,
    SupertonicError,
    TextTooLongError,
    TransportError,
    UnauthorizedError,
    UnknownMessageTypeError,
    server_error,
)
from .events import (
    AudioFrame,
    Cancelled,
    Error,
    Event,
    SegmentDone,
    SegmentStarted,
    SessionEnded,
    SessionStarted,
)
from .version import __version__

__all__ = [
    "DEFAULT_URL", "SUPPORTED_SAMPLE_RATES", "Connection", "Session", "Synthesis", "connect",
    "synthesize", "write_wav",
    "AudioFrame", "Cancelled", "Error", "Event", "SegmentDone", "SegmentStarted", "SessionEnded",
    "SessionStarted",
    "ERROR_CLASSES", "server_error", "SupertonicError", "TransportError", "ConnectError",
    "ConnectTimeoutError", "ConnectionLostError", "ReceiveTimeoutError", "ProtocolError",
    "SessionStateError", "ServerError", "InvalidRequestError", "InvalidMessageError",
    "UnknownMessageTypeError", "NoSessionError", "SessionActiveError", "TextTooLongError",
    "MessageTooLargeError", "BinaryNotSupportedError", "InvalidConfigError", "InvalidVoiceError",
    "InvalidLanguageError", "InvalidSampleRateError", "UnauthorizedError", "CapacityError",
    "ShuttingDownError", "SlowConsumerError", "InternalServerError", "__version__",
]
