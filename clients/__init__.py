"""Clients of the Supertonic TTS service.

The Python package lives in ``clients/python`` (``pip install ./clients/python``:
``supertonic_client``, ``supertonic-say`` and ``livekit.plugins.supertonic``);
``clients.livekit_plugin`` keeps the original ``SupertonicTTS`` import working
from a checkout of this repository.
"""
