"""Pipecat TTS service for a Supertonic TTS server (WebSocket ``/ws/tts``).

    from pipecat_supertonic import SupertonicTTSService
    tts = SupertonicTTSService(url="ws://supertonic-tts:8000/ws/tts",
                               settings=SupertonicTTSService.Settings(voice="F1"))

The service is in :mod:`pipecat_supertonic.tts` (how Pipecat's frames map onto
the protocol); it speaks the protocol through the framework-free
``supertonic_client`` (the ``supertonic-client`` distribution). This package
never imports LiveKit. ``supertonic_client.pipecat`` is an alias of this
package, kept for code written before the split.
"""
from .tts import SupertonicTTSService, SupertonicTTSSettings
from .version import __version__

__all__ = ["SupertonicTTSService", "SupertonicTTSSettings", "__version__"]
