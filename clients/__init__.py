"""Clients of the Supertonic TTS service.

The Python distributions live in ``clients/python``: ``supertonic-client``
(``supertonic_client``, ``supertonic-say``; websockets only),
``livekit-plugins-supertonic`` (``livekit.plugins.supertonic``) and
``pipecat-supertonic`` (``pipecat_supertonic``). ``clients.livekit_plugin``
keeps the original ``SupertonicTTS`` import working from a checkout of this
repository.
"""
