"""A LiveKit voice agent that speaks through a Supertonic TTS service.

Run it from the repository root (the TTS import below is the original usage):

    pip install -r tools/requirements.txt \
        "livekit-plugins-deepgram>=1.2,<2" "livekit-plugins-openai>=1.2,<2" "livekit-plugins-silero>=1.2,<2"
    export LIVEKIT_URL=wss://... LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=...
    export DEEPGRAM_API_KEY=... OPENAI_API_KEY=...
    export SUPERTONIC_TTS_URL=ws://localhost:8000/ws/tts      # `make run` serves it there
    python examples/livekit_agent.py dev

Speech-to-text, the LLM and voice activity detection can be any LiveKit
plugins; Deepgram, OpenAI and Silero are the usual ones. With the package
installed, ``from livekit.plugins import supertonic`` and ``supertonic.TTS(url=...,
voice=..., language=...)`` is the same TTS under its LiveKit-style name.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

# `python examples/livekit_agent.py` puts examples/ first on sys.path; the
# repository root must be there for `clients.livekit_plugin`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livekit import agents  # noqa: E402
from livekit.agents import Agent, AgentSession, metrics  # noqa: E402
from livekit.plugins import deepgram, openai, silero  # noqa: E402

from clients.livekit_plugin import SupertonicTTS  # noqa: E402

logger = logging.getLogger("supertonic-agent")


class Assistant(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions=(
                "Você é um assistente de voz simpático. Responda em português, com frases "
                "curtas e naturais, sem listas nem emojis."
            ),
        )


def prewarm(proc: agents.JobProcess) -> None:
    proc.userdata["vad"] = silero.VAD.load()


async def entrypoint(ctx: agents.JobContext) -> None:
    tts = SupertonicTTS(
        service_url=os.environ.get("SUPERTONIC_TTS_URL", "ws://supertonic-tts:8000/ws/tts"),
        voice="F1",
        lang_code="pt",
    )
    session = AgentSession(
        stt=deepgram.STT(model="nova-3", language="pt-BR"),
        llm=openai.LLM(model="gpt-4o-mini"),
        tts=tts,                            # one stream per turn, pooled sockets, clean barge-in
        vad=ctx.proc.userdata["vad"],
        use_tts_aligned_transcript=True,    # transcripts follow the audio (segment_started)
    )

    @tts.on("metrics_collected")
    def _on_tts_metrics(m: metrics.TTSMetrics) -> None:
        logger.info("tts turn: first audio after %.0f ms, %.1f s of audio, socket reused: %s",
                    m.ttfb * 1000, m.audio_duration, m.connection_reused)

    await session.start(room=ctx.room, agent=Assistant())
    await session.generate_reply(instructions="Cumprimente o usuário e ofereça ajuda.")


if __name__ == "__main__":
    agents.cli.run_app(agents.WorkerOptions(entrypoint_fnc=entrypoint, prewarm_fnc=prewarm))
