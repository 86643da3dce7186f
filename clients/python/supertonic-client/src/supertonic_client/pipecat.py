"""The Pipecat TTS service's former location, kept so that existing code runs.

The service is distributed as ``pipecat-supertonic`` (``pip install
pipecat-supertonic``, which brings ``pipecat-ai``) and imported as
``pipecat_supertonic``::

    from pipecat_supertonic import SupertonicTTSService

With that distribution installed, ``from supertonic_client.pipecat import
SupertonicTTSService`` gives the same class. ``supertonic-client`` itself never
depends on Pipecat: this module imports it only when imported itself.
"""
from __future__ import annotations

try:
    from pipecat_supertonic.tts import SupertonicTTSService, SupertonicTTSSettings
except ModuleNotFoundError as missing:
    if missing.name != "pipecat_supertonic":
        raise
    raise ModuleNotFoundError(
        "the Pipecat TTS service is the pipecat-supertonic distribution now: "
        "pip install pipecat-supertonic, then `from pipecat_supertonic import SupertonicTTSService` "
        "(supertonic_client.pipecat re-exports it)", name="pipecat_supertonic") from None

__all__ = ["SupertonicTTSService", "SupertonicTTSSettings"]
