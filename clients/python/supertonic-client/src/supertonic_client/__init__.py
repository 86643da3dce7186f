"""Asyncio client for the Supertonic TTS service (WebSocket ``/ws/tts``).

No LiveKit dependency: only ``websockets``. See :mod:`supertonic_client.client`
for the connection and session API, :mod:`supertonic_client.events` for what a
session yields, :mod:`supertonic_client.voices` for the voice API (list,
upload, blend, delete) and :mod:`supertonic_client.errors` for the exceptions.
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
    InvalidModelError,
    InvalidRequestError,
    InvalidSampleRateError,
    InvalidVoiceError,
    InvalidVoiceNameError,
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
    TooManyVoicesError,
    TransportError,
    UnauthorizedError,
    UnknownMessageTypeError,
    UploadsDisabledError,
    VoiceNotFoundError,
    VoiceProtectedError,
    VoiceStorageError,
    VoiceTooLargeError,
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
    WordTiming,
    WordTimings,
)
from .version import __version__
from .voices import Voice, blend, delete_voice, list_voices, save_blend, upload_voice

__all__ = [
    "DEFAULT_URL", "SUPPORTED_SAMPLE_RATES", "Connection", "Session", "Synthesis", "connect",
    "synthesize", "write_wav",
    "AudioFrame", "Cancelled", "Error", "Event", "SegmentDone", "SegmentStarted", "SessionEnded",
    "SessionStarted", "WordTiming", "WordTimings",
    "ERROR_CLASSES", "server_error", "SupertonicError", "TransportError", "ConnectError",
    "ConnectTimeoutError", "ConnectionLostError", "ReceiveTimeoutError", "ProtocolError",
    "SessionStateError", "ServerError", "InvalidRequestError", "InvalidMessageError",
    "UnknownMessageTypeError", "NoSessionError", "SessionActiveError", "TextTooLongError",
    "MessageTooLargeError", "BinaryNotSupportedError", "InvalidConfigError", "InvalidVoiceError",
    "InvalidLanguageError", "InvalidSampleRateError", "UnauthorizedError", "CapacityError",
    "ShuttingDownError", "SlowConsumerError", "InternalServerError", "InvalidModelError",
    "InvalidVoiceNameError", "VoiceNotFoundError", "VoiceProtectedError", "TooManyVoicesError",
    "UploadsDisabledError", "VoiceStorageError", "VoiceTooLargeError", "__version__",
    "Voice", "blend", "list_voices", "upload_voice", "save_blend", "delete_voice",
]
