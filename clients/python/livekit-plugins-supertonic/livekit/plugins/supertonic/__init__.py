"""Supertonic TTS plugin for LiveKit Agents.

    from livekit.plugins import supertonic
    tts = supertonic.TTS(url="ws://supertonic-tts:8000/ws/tts", voice="F1", language="pt")
    agent = Agent(instructions="...", tts=tts)
    # a blend of voices: supertonic.TTS(voice=supertonic.blend(F1=0.7, M2=0.3))

Talks to a Supertonic TTS service (this repository's ``supertonic-tts serve``)
over its WebSocket protocol; see ``tts.py`` for how turns, barge-in, pooling,
errors and transcripts map onto it, and ``markup.py`` for expressive markup
(Supertonic 3's ``<laugh>``, ``<sigh>``... tags).
"""
import threading

from livekit.agents import Plugin

from . import markup
from .log import logger
from .markup import EXPRESSION_TAGS
from supertonic_client import Voice, blend
from .tts import (DEFAULT_URL, SUPPORTED_LANGUAGES, SUPPORTED_LANGUAGES_BY_MODEL, VOICES, ChunkedStream,
                  SynthesizeStream, TTS)
from .version import __version__

__all__ = ["TTS", "ChunkedStream", "SynthesizeStream", "DEFAULT_URL", "SUPPORTED_LANGUAGES",
           "SUPPORTED_LANGUAGES_BY_MODEL", "VOICES", "EXPRESSION_TAGS", "Voice", "blend", "markup",
           "__version__"]


class SupertonicPlugin(Plugin):
    def __init__(self) -> None:
        super().__init__(__name__, __version__, __package__, logger)


# The framework only accepts registrations from the main thread (where an
# agent's imports run); an import from elsewhere still gets a working TTS.
if threading.current_thread() is threading.main_thread():
    Plugin.register_plugin(SupertonicPlugin())
