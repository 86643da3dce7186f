"""The Pipecat TTS service (``supertonic_client.pipecat.SupertonicTTSService``)
in a real ``pipecat-ai`` 1.x pipeline (``Pipeline``, ``PipelineWorker``,
``WorkerRunner``), against a real server on the probe model, whose audio
decodes back to the text it speaks. Frames go in as an LLM service and the
pipeline push them (``LLMFullResponseStartFrame``, ``LLMTextFrame`` tokens,
``LLMFullResponseEndFrame``, ``TTSSpeakFrame``, ``InterruptionFrame``); a sink
after the service records what comes out, an observer when the service pushed
it. Nothing is mocked, and every wait is on an event with a timeout."""
from __future__ import annotations

import asyncio
import signal
import time
from typing import Any, Callable

import pytest

from client_support import client_ports, heard
from service_support import (
    ServerProcess, apoll, decode_pcm16, heard_word_times, norm_text, requires_server_binary, run,
)

pipecat = pytest.importorskip("pipecat", reason="pip install -r tools/requirements.txt (pipecat-ai)")

from pipecat.frames.frames import (  # noqa: E402
    EndFrame, ErrorFrame, Frame, InterruptionFrame, LLMFullResponseEndFrame, LLMFullResponseStartFrame,
    LLMTextFrame, MetricsFrame, TTSAudioRawFrame, TTSSpeakFrame, TTSStartedFrame, TTSStoppedFrame,
    TTSTextFrame, TTSUpdateSettingsFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData, TTSUsageMetricsData  # noqa: E402
from pipecat.observers.base_observer import BaseObserver, FramePushed  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.transcriptions.language import Language  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from supertonic_client.pipecat import SupertonicTTSService  # noqa: E402
from tools.probe_decode import FRAME_S  # noqa: E402

pytestmark = requires_server_binary

WAIT = 20.0            # the longest any single wait may take
LONG_ANSWER = " ".join(f"Sentence number {i} is here." for i in range(12))


def tokens(text: str) -> list[str]:
    """LLM-like tokens: words with their leading space, punctuation apart."""
    out = []
    for i, word in enumerate(text.split(" ")):
        lead = "" if i == 0 else " "
        if word[-1:] in ".,?!":
            out += [lead + word[:-1], word[-1]]
        else:
            out.append(lead + word)
    return out


class Sink(FrameProcessor):
    """The end of the pipeline: every downstream frame, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            self.frames.append(frame)
            self.changed.set()
        await self.push_frame(frame, direction)


class Source(FrameProcessor):
    """The start of the pipeline: every upstream frame (errors)."""

    def __init__(self) -> None:
        super().__init__()
        self.upstream: list[Frame] = []
        self.changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if direction == FrameDirection.UPSTREAM:
            self.upstream.append(frame)
            self.changed.set()
        await self.push_frame(frame, direction)


class Pushes(BaseObserver):
    """When the service pushed each frame (pipeline clock, ns)."""

    def __init__(self, tts: FrameProcessor) -> None:
        super().__init__()
        self.tts = tts
        self.pushed: list[tuple[int, Frame]] = []

    async def on_push_frame(self, data: FramePushed):
        if data.source is self.tts and data.direction == FrameDirection.DOWNSTREAM:
            self.pushed.append((data.timestamp, data.frame))


class Bot:
    """A running pipeline [source, tts, sink] and ways to wait on it."""

    def __init__(self, tts: SupertonicTTSService, sample_rate: int = 24000) -> None:
        self.tts = tts
        self.source, self.sink = Source(), Sink()
        self.pushes = Pushes(tts)
        self.worker = PipelineWorker(
            Pipeline([self.source, tts, self.sink]),
            params=PipelineParams(audio_out_sample_rate=sample_rate, enable_metrics=True,
                                  enable_usage_metrics=True),
            cancel_on_idle_timeout=False, observers=[self.pushes])
        self.runner = WorkerRunner(handle_sigint=False)
        self._run: asyncio.Task | None = None

    async def __aenter__(self) -> "Bot":
        started = asyncio.Event()

        @self.worker.event_handler("on_pipeline_started")
        async def _started(worker, frame):
            started.set()

        await self.runner.add_workers(self.worker)
        self._run = asyncio.create_task(self.runner.run())
        await asyncio.wait_for(started.wait(), WAIT)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._run is not None
        if not self._run.done():
            await self.worker.queue_frame(EndFrame())
            try:
                await asyncio.wait_for(asyncio.shield(self._run), WAIT)
            except asyncio.TimeoutError:
                await self.worker.cancel()
                await asyncio.wait_for(self._run, WAIT)
                raise AssertionError("the pipeline did not end within the timeout after EndFrame")

    async def send(self, *frames: Frame) -> None:
        for frame in frames:
            await self.worker.queue_frame(frame)

    async def say_streamed(self, text: str) -> None:
        """One LLM reply, token by token, as an LLM service pushes it."""
        await self.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens(text)],
                        LLMFullResponseEndFrame())

    async def until(self, predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        """Waits until predicate() is true (re-checked on every frame)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; frames: "
                                     f"{summary(self.sink.frames)}; upstream: {self.source.upstream}")
            self.sink.changed.clear()
            self.source.changed.clear()
            waits = [asyncio.ensure_future(self.sink.changed.wait()),
                     asyncio.ensure_future(self.source.changed.wait())]
            await asyncio.wait(waits, timeout=min(remaining, 0.5), return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    def of_type(self, kind: type) -> list[Frame]:
        return [f for f in self.sink.frames if isinstance(f, kind)]

    def stopped(self, n: int) -> bool:
        """n contexts have ended (their TTSStoppedFrame came out)."""
        return len(self.of_type(TTSStoppedFrame)) >= n

    def errors(self) -> list[ErrorFrame]:
        return [f for f in self.source.upstream if isinstance(f, ErrorFrame)]

    def contexts(self) -> list[str]:
        """Context ids in the order their audio started."""
        out: list[str] = []
        for f in self.of_type(TTSAudioRawFrame):
            if f.context_id not in out:
                out.append(f.context_id)
        return out

    def audio(self, context_id: str | None = None) -> bytes:
        return b"".join(f.audio for f in self.of_type(TTSAudioRawFrame)
                        if context_id is None or f.context_id == context_id)


def summary(frames: list[Frame]) -> str:
    out, last = [], None
    for f in frames:
        name = type(f).__name__
        if name == last:
            continue
        out.append(name)
        last = name
    return ", ".join(out[-40:])


def new_tts(server: ServerProcess, **kwargs: Any) -> SupertonicTTSService:
    settings = kwargs.pop("settings", None) or SupertonicTTSService.Settings(language=Language.EN)
    kwargs.setdefault("reconnect_backoff_min_wait", 0.2)
    kwargs.setdefault("reconnect_backoff_max_wait", 0.5)
    return SupertonicTTSService(url=server.url, settings=settings, **kwargs)


# ---------------------------------------------------------------------------


def test_a_streamed_turn_speaks_its_text_in_order_at_the_pipeline_rate(server):
    text = "Hello there. How are you today? I am fine, thank you."

    async def body():
        async with Bot(new_tts(server), sample_rate=16000) as bot:
            await bot.say_streamed(text)
            await bot.until(lambda: bot.stopped(1), "the turn's TTSStoppedFrame")
            return bot

    bot = run(body(), timeout=60)
    audio = bot.of_type(TTSAudioRawFrame)
    assert {(f.sample_rate, f.num_channels) for f in audio} == {(16000, 1)}
    assert len(bot.contexts()) == 1, "one turn is one audio context"
    assert heard(bot.audio(), 16000) == text
    assert not bot.errors(), bot.errors()
