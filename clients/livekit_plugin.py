"""The original usage, from the repository root::

    from clients.livekit_plugin import SupertonicTTS
    tts = SupertonicTTS(service_url="ws://supertonic-tts:8000/ws/tts", voice="F1", lang_code="pt")
    agent = Agent(instructions="...", tts=tts)

``SupertonicTTS`` is ``livekit.plugins.supertonic.TTS`` (``service_url`` and
``url``, ``lang_code`` and ``language`` are accepted alike). When the plugin is
not installed (``pip install ./clients/python/supertonic-client
./clients/python/livekit-plugins-supertonic``), it is loaded from the sources
of this checkout: ``clients/python/livekit-plugins-supertonic`` and
``clients/python/supertonic-client/src``.
"""
from __future__ import annotations

import sys
from pathlib import Path

try:
    from livekit.plugins.supertonic import TTS as SupertonicTTS
except ImportError as missing:  # not installed: use the sources next to this file
    here = Path(__file__).resolve().parent / "python"
    sources = [here / "livekit-plugins-supertonic", here / "supertonic-client" / "src"]
    if not (sources[0] / "livekit" / "plugins" / "supertonic").is_dir():
        raise
    for src in reversed(sources):
        if str(src) not in sys.path:
            sys.path.insert(0, str(src))
    try:
        import livekit.plugins  # noqa: F401  (a namespace package: picks up the sources now)
        from livekit.plugins.supertonic import TTS as SupertonicTTS
    except ImportError:
        raise missing from None

__all__ = ["SupertonicTTS"]
