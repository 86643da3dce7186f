"""The original usage, from the repository root::

    from clients.livekit_plugin import SupertonicTTS
    tts = SupertonicTTS(service_url="ws://supertonic-tts:8000/ws/tts", voice="F1", lang_code="pt")
    agent = Agent(instructions="...", tts=tts)

``SupertonicTTS`` is ``livekit.plugins.supertonic.TTS`` (``service_url`` and
``url``, ``lang_code`` and ``language`` are accepted alike). When the package
is not installed (``pip install ./clients/python``), it is loaded from
``clients/python/src`` of this checkout.
"""
from __future__ import annotations

import sys
from pathlib import Path

try:
    from livekit.plugins.supertonic import TTS as SupertonicTTS
except ImportError as missing:  # not installed: use the sources next to this file
    src = Path(__file__).resolve().parent / "python" / "src"
    if not (src / "supertonic_client").is_dir():
        raise
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    try:
        import livekit.plugins  # noqa: F401  (a namespace package: picks up src/ now)
        from livekit.plugins.supertonic import TTS as SupertonicTTS
    except ImportError:
        raise missing from None

__all__ = ["SupertonicTTS"]
