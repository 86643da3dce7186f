"""Speaks text through a Supertonic TTS service in a Pipecat pipeline, and
writes what the pipeline's output would play to a WAV file, with the words
and when each is heard: a Pipecat pipeline you can run with nothing but the
server (no transport, no LLM, no keys).

    make run                                     # the server on :8000
    build/venv/bin/python examples/pipecat_say.py "It costs $5.50 today. See you soon!" -o out.wav

Options: --url, --voice, --language (a Pipecat language code: en, pt-BR...),
--speed, --sample-rate, --token. In a voice agent the same service goes
between the LLM and the transport's output (see docs/clients.md, "Pipecat").
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import wave
from pathlib import Path

# The checkout's sources, for a run without `pip install ./clients/python/pipecat-supertonic`.
_CLIENTS = Path(__file__).resolve().parents[1] / "clients" / "python"
sys.path[:0] = [str(_CLIENTS / "pipecat-supertonic" / "src"), str(_CLIENTS / "supertonic-client" / "src")]

from pipecat.frames.frames import EndFrame, ErrorFrame, Frame, TTSAudioRawFrame, TTSSpeakFrame, TTSTextFrame  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.transcriptions.language import Language  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from pipecat_supertonic import SupertonicTTSService  # noqa: E402


class Recorder(FrameProcessor):
    """Where a transport's output would be: keeps the audio and the timed words."""

    def __init__(self) -> None:
        super().__init__()
        self.pcm = bytearray()
        self.words: list[tuple[float, str]] = []
        self.errors: list[str] = []
        self.first_pts: int | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            self.pcm += frame.audio
        elif isinstance(frame, TTSTextFrame) and frame.pts is not None:
            if self.first_pts is None:
                self.first_pts = frame.pts
            self.words.append((frame.pts, frame.text))
        elif isinstance(frame, ErrorFrame):
            self.errors.append(frame.error)
        await self.push_frame(frame, direction)


async def say(args: argparse.Namespace) -> int:
    tts = SupertonicTTSService(
        url=args.url, token=args.token,
        settings=SupertonicTTSService.Settings(voice=args.voice, language=Language(args.language),
                                               speed=args.speed))
    recorder = Recorder()
    worker = PipelineWorker(Pipeline([tts, recorder]),
                            params=PipelineParams(audio_out_sample_rate=args.sample_rate))
    await worker.queue_frames([TTSSpeakFrame(args.text), EndFrame()])
    runner = WorkerRunner(handle_sigint=True)
    await runner.add_workers(worker)
    await runner.run()      # until the EndFrame went through: all audio is in
    for error in recorder.errors:
        print(f"error: {error}", file=sys.stderr)
    if not recorder.pcm:
        print("no audio came back", file=sys.stderr)
        return 1
    with wave.open(str(args.output), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(args.sample_rate)
        out.writeframes(bytes(recorder.pcm))
    seconds = len(recorder.pcm) / 2 / args.sample_rate
    print(f"{args.output}: {seconds:.2f} s at {args.sample_rate} Hz")
    # Word presentation times are on the pipeline clock; the first word is heard at the audio's start.
    start = recorder.words[0][0] if recorder.words else 0
    for pts, word in recorder.words:
        print(f"{(pts - start) / 1e9:7.3f} s  {word}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("text")
    p.add_argument("-o", "--output", type=Path, default=Path("pipecat_say.wav"))
    p.add_argument("--url", default="ws://localhost:8000/ws/tts")
    p.add_argument("--token", default=None)
    p.add_argument("--voice", default="F1")
    p.add_argument("--language", default="en")
    p.add_argument("--speed", type=float, default=None)
    p.add_argument("--sample-rate", type=int, default=24000)
    return asyncio.run(say(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
