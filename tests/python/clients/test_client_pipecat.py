"""The Pipecat TTS service (``pipecat_supertonic.SupertonicTTSService``)
in a real ``pipecat-ai`` 1.x pipeline (``Pipeline``, ``PipelineWorker``,
``WorkerRunner``), against a real server on the probe model, whose audio
decodes back to the text it speaks. Frames go in as an LLM service and the
pipeline push them (``LLMFullResponseStartFrame``, ``LLMTextFrame`` tokens,
``LLMFullResponseEndFrame``, ``TTSSpeakFrame``, ``InterruptionFrame``); a sink
after the service records what comes out, an observer when the service pushed
it. Nothing is mocked, and every wait is on an event with a timeout."""
from __future__ import annotations

import asyncio
import re
import signal
import time
from typing import Any, Callable

import pytest

from client_support import client_ports, heard
from service_support import (
    ServerProcess, apoll, decode_pcm16, free_port, heard_word_times, number_words, requires_server_binary, run,
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

from pipecat_supertonic import SupertonicTTSService  # noqa: E402
from tools.probe_decode import FRAME_S  # noqa: E402

pytestmark = requires_server_binary

WAIT = 20.0            # the longest any single wait may take
LONG_ANSWER = " ".join(f"Sentence number {number_words(i)} is here." for i in range(12))


def tokens(text: str) -> list[str]:
    """LLM-like tokens: words with their leading space, punctuation apart."""
    out = []
    for word in re.findall(r"\s*\S+", text):
        if len(word.strip()) > 1 and word[-1] in ".,?!":
            out += [word[:-1], word[-1]]
        else:
            out.append(word)
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


async def test_a_streamed_turn_speaks_its_text_in_order_at_the_pipeline_rate(server):
    text = "Hello there. How are you today? I am fine, thank you."

    async with Bot(new_tts(server), sample_rate=16000) as bot:
        await bot.say_streamed(text)
        await bot.until(lambda: bot.stopped(1), "the turn's TTSStoppedFrame")

    audio = bot.of_type(TTSAudioRawFrame)
    assert {(f.sample_rate, f.num_channels) for f in audio} == {(16000, 1)}
    assert len(bot.contexts()) == 1, "one turn is one audio context"
    assert heard(bot.audio(), 16000) == text
    assert not bot.errors(), bot.errors()


async def test_word_timestamps_come_in_order_and_say_when_each_word_is_heard(server):
    text = "Hello there, brave new world. The quick brown fox jumps over the lazy dog!"

    async with Bot(new_tts(server)) as bot:
        await bot.say_streamed(text)
        await bot.until(lambda: bot.stopped(1), "the turn's TTSStoppedFrame")

    words = bot.of_type(TTSTextFrame)
    assert [w.text for w in words] == text.split()
    assert all(w.pts is not None for w in words)
    pts = [w.pts for w in words]
    assert pts == sorted(pts), "word timestamps must not go back"
    # The base class times words from when the context's first audio frame was
    # pushed: their pts minus that instant is when the audio says them.
    first_audio = next(t for t, f in bot.pushes.pushed if isinstance(f, TTSAudioRawFrame))
    said = heard_word_times(decode_pcm16(bot.audio(), 24000))
    assert [w for w, _, _ in said] == text.split()
    for frame, (word, start, _) in zip(words, said):
        at = (frame.pts - first_audio) / 1e9
        assert abs(at - start) <= FRAME_S, f"{word!r}: pts says {at:.3f} s, the audio {start:.3f} s"


async def test_an_interruption_cancels_at_once_and_the_next_turn_speaks_only_its_own_text(server):
    async with Bot(new_tts(server)) as bot:
        await bot.until(lambda: len(client_ports(server)) == 1, "the service's socket")
        ports = client_ports(server)
        cancels = server.metrics().get("tts_cancellations_total")
        # The LLM is still writing (no LLMFullResponseEndFrame yet) when the user barges in.
        await bot.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens(LONG_ANSWER)])
        await bot.until(lambda: bot.of_type(TTSAudioRawFrame), "the first audio")
        interrupted = bot.contexts()[0]
        t0 = time.monotonic()
        await bot.send(InterruptionFrame(), LLMFullResponseEndFrame())
        await bot.until(lambda: bot.of_type(InterruptionFrame), "the InterruptionFrame downstream")
        passed_s = time.monotonic() - t0
        cut_at = bot.sink.frames.index(bot.of_type(InterruptionFrame)[0])
        # The server confirms the cancel and the session ends.
        assert await apoll(lambda: server.metrics().get("tts_cancellations_total") == cancels + 1, 5)
        assert await apoll(lambda: server.metrics().get("tts_active_sessions") == 0, 5)
        await bot.send(TTSSpeakFrame("Right after the interruption."))
        await bot.until(lambda: bot.stopped(1) and len(bot.contexts()) == 2, "the next turn")
        await bot.say_streamed("And one more turn.")
        await bot.until(lambda: bot.stopped(2), "the third turn")
        bot, ports, ports_after, interrupted, cut_at, passed_s = bot, ports, client_ports(server), interrupted, cut_at, passed_s

    assert passed_s < 0.5, f"the interruption took {passed_s * 1000:.0f} ms to pass the service"
    late = [f for f in bot.sink.frames[cut_at:] if isinstance(f, TTSAudioRawFrame) and f.context_id == interrupted]
    assert not late, f"{len(late)} audio frames of the interrupted turn after the interruption"
    full = len(LONG_ANSWER) * 0.06 * 24000 * 2     # far less than the whole answer was heard
    assert len(bot.audio(interrupted)) < full / 2
    _, second, third = bot.contexts()
    assert heard(bot.audio(second), 24000) == "Right after the interruption."
    assert heard(bot.audio(third), 24000) == "And one more turn."
    assert ports == ports_after, "the socket was confirmed and reused, not replaced"
    assert not bot.errors(), bot.errors()


async def test_interruptions_before_any_audio_and_twice_in_a_row_leave_nothing_behind(server):
    async with Bot(new_tts(server)) as bot:
        await bot.until(lambda: len(client_ports(server)) == 1, "the service's socket")
        ports = client_ports(server)
        # Cut before any audio: the text has reached the server, which holds
        # it (no sentence end yet) until more comes.
        await bot.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens("Never heard at all")])
        await bot.until(lambda: bot.of_type(TTSStartedFrame), "the first turn's TTSStartedFrame")
        assert not bot.of_type(TTSAudioRawFrame)
        # (an InterruptionFrame is a system frame: queued with the text, it would overtake it)
        await bot.send(InterruptionFrame(), LLMFullResponseEndFrame())
        await bot.until(lambda: bot.of_type(InterruptionFrame), "the first interruption")
        # A turn, interrupted twice.
        await bot.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens(LONG_ANSWER)])
        await bot.until(lambda: bot.of_type(TTSAudioRawFrame), "audio of the second turn")
        await bot.send(InterruptionFrame(), InterruptionFrame(), LLMFullResponseEndFrame())
        await bot.until(lambda: len(bot.of_type(InterruptionFrame)) == 3, "the interruptions downstream")
        assert await apoll(lambda: server.metrics().get("tts_active_sessions") == 0, 5)
        await bot.say_streamed("Only this is heard.")
        await bot.until(lambda: bot.stopped(1), "the last turn")
        bot, ports, ports_after = bot, ports, client_ports(server)

    assert len(bot.contexts()) == 2, "the first turn had no audio"
    last = bot.contexts()[-1]
    assert heard(bot.audio(last), 24000) == "Only this is heard."
    assert not any("Never" in f.text for f in bot.of_type(TTSTextFrame))
    assert ports == ports_after
    assert not bot.errors(), bot.errors()


async def test_a_speak_frame_while_a_turn_is_on_the_wire_is_queued_and_spoken_after_it(server):
    async with Bot(new_tts(server)) as bot:
        await bot.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens("The first reply.")],
                       TTSSpeakFrame("A speak frame in between."),
                       *[LLMTextFrame(t) for t in tokens(" Still the first reply.")],
                       LLMFullResponseEndFrame(), TTSSpeakFrame("And a last one."))
        await bot.until(lambda: bot.stopped(3), "three contexts")

    texts = [heard(bot.audio(c), 24000) for c in bot.contexts()]
    assert texts == ["The first reply. Still the first reply.", "A speak frame in between.", "And a last one."]
    assert not bot.errors(), bot.errors()


async def test_metrics_report_ttfb_and_the_characters_of_each_turn(server):
    first, second = "Metrics please. Thank you.", "A second turn."

    async with Bot(new_tts(server)) as bot:
        await bot.say_streamed(first)
        await bot.until(lambda: bot.stopped(1), "the first turn")
        await bot.send(TTSSpeakFrame(second))
        await bot.until(lambda: bot.stopped(2), "the second turn")

    data = [d for f in bot.of_type(MetricsFrame) for d in f.data if d.processor == bot.tts.name]
    ttfb = [d.value for d in data if isinstance(d, TTFBMetricsData) and d.value]  # not the initial zeros
    usage = [d.value for d in data if isinstance(d, TTSUsageMetricsData)]
    assert len(ttfb) >= 2 and all(0 < v < 5 for v in ttfb), ttfb
    # Streamed text is counted when its turn ends; the speak frame's with the next turn end
    # (here EndFrame): Pipecat's own accounting for token-streaming services.
    assert usage[0] == len(first), usage
    assert sum(usage) == len(first) + len(second), usage


async def test_a_bad_voice_is_a_permanent_error_until_the_settings_fix_it(server):
    tts = new_tts(server, settings=SupertonicTTSService.Settings(voice="Z9", language="en"))
    async with Bot(tts) as bot:
        await bot.say_streamed("Who am I?")
        await bot.until(lambda: bot.errors(), "the error")
        await bot.until(lambda: bot.stopped(1), "the refused turn's end")
        usable_after_error = tts.is_usable
        await bot.send(TTSUpdateSettingsFrame(delta=SupertonicTTSService.Settings(voice="F2")))
        await bot.say_streamed("Now with a real voice.")
        await bot.until(lambda: bot.stopped(2) and bot.of_type(TTSAudioRawFrame), "the next turn")

    errors = bot.errors()
    assert len(errors) == 1, errors
    assert "invalid_voice" in errors[0].error
    assert errors[0].category.is_permanent
    assert usable_after_error is False, "a refused configuration must stop the service from being given work"
    assert bot.tts.is_usable
    assert heard(bot.audio(), 24000) == "Now with a real voice."


async def test_capacity_is_a_transient_error_and_the_next_turn_speaks(start_server):
    server = start_server(TTS_MAX_SESSIONS=1)

    import supertonic_client as stc
    holder = await stc.connect(server.url)
    try:
        taken = holder.session(lang_code="en")
        await taken.start()
        assert isinstance(await taken.next_event(5), stc.SessionStarted)
        async with Bot(new_tts(server)) as bot:
            await bot.send(TTSSpeakFrame("No room for me."))
            await bot.until(lambda: bot.errors() and bot.stopped(1), "the refusal")
            await taken.aclose()
            await bot.send(TTSSpeakFrame("Now there is room."))
            await bot.until(lambda: bot.of_type(TTSAudioRawFrame) and bot.stopped(2), "the next turn")
    finally:
        await holder.close()

    (error,) = bot.errors()
    assert "capacity" in error.error and not error.category.is_permanent
    assert bot.tts.is_usable
    assert heard(bot.audio(), 24000) == "Now there is room."


@pytest.mark.parametrize("how, backoff", [(signal.SIGKILL, 0.2), (signal.SIGTERM, 0.2), (signal.SIGKILL, 30)],
                         ids=["killed", "terminated", "killed-while-the-reconnect-loop-sleeps"])
def test_a_server_gone_mid_turn_is_reported_and_the_next_turn_reconnects(start_server, how, backoff):
    """The base class reconnects with backoff; with a long one, the next turn
    connects on demand while that loop still sleeps."""
    server = start_server(TTS_SHUTDOWN_GRACE_S=0)
    reported = "during a turn" if how == signal.SIGKILL else "shutting down"

    async def body():
        tts = new_tts(server, reconnect_backoff_min_wait=backoff, reconnect_backoff_max_wait=max(backoff, 0.5))
        async with Bot(tts) as bot:
            await bot.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens(LONG_ANSWER)])
            await bot.until(lambda: bot.of_type(TTSAudioRawFrame), "the first audio")
            server.proc.send_signal(how)
            await bot.until(lambda: any(reported in e.error for e in bot.errors()), "the lost-turn error")
            await bot.send(LLMFullResponseEndFrame())
            assert await asyncio.to_thread(server.wait, 5) is not None
            # The same address comes back; the next turn connects to it.
            nonlocal restarted
            restarted = ServerProcess(server.log_path.parent)
            restarted.port = server.port
            restarted.log_path = server.log_path.with_name(f"restarted-{server.port}.log")
            await asyncio.to_thread(restarted.start)
            await bot.send(TTSSpeakFrame("Back again."))
            await bot.until(lambda: len(bot.contexts()) == 2 and bot.stopped(2), "the turn after the restart")
            return bot

    restarted = None
    try:
        bot = run(body(), timeout=90)
    finally:
        if restarted is not None:
            restarted.stop()
    assert heard(bot.audio(bot.contexts()[1]), 24000) == "Back again."
    assert bot.tts.is_usable, "a lost connection must not write the service off"
    assert all(not e.category.is_permanent for e in bot.errors()), bot.errors()


def test_a_server_down_at_start_is_an_error_and_the_first_turn_after_it_is_up_speaks(tmp_path):
    server = ServerProcess(tmp_path, port=free_port())   # a known port, nothing listens on it yet

    async def body():
        async with Bot(new_tts(server)) as bot:
            await bot.until(lambda: bot.errors(), "the connection error")
            await bot.send(TTSSpeakFrame("Nobody is listening."))
            await bot.until(lambda: len(bot.errors()) >= 2, "the turn's connection error")
            await asyncio.to_thread(server.start)
            await bot.send(TTSSpeakFrame("Now somebody is."))
            await bot.until(lambda: bot.of_type(TTSAudioRawFrame) and bot.stopped(1), "the turn")
            return bot

    try:
        bot = run(body(), timeout=60)
    finally:
        server.stop()
    assert all("cannot connect" in e.error and not e.category.is_permanent for e in bot.errors()), bot.errors()
    assert bot.tts.is_usable
    assert heard(bot.audio(), 24000) == "Now somebody is."


def test_an_idle_socket_is_replaced_before_the_server_closes_it_and_reopened_if_it_did(start_server):
    # The server's idle timeout is 3 s and the service replaces a socket idle
    # for 0.3 s: the margin is for a loaded machine, not for the code.
    server = start_server(TTS_IDLE_TIMEOUT_S=3)

    async def body(max_idle):
        async with Bot(new_tts(server, max_idle=max_idle)) as bot:
            connects = []
            bot.tts.add_event_handler("on_connected", lambda tts: connects.append(time.monotonic()))
            await bot.until(lambda: len(client_ports(server)) == 1, "the service's socket")
            t0 = time.monotonic()
            first = client_ports(server)
            await bot.until(lambda: len(connects) >= 1 and client_ports(server) not in ([], first),
                            "a new socket")
            replaced_after = time.monotonic() - t0
            await bot.send(TTSSpeakFrame("Still here."))
            await bot.until(lambda: bot.of_type(TTSAudioRawFrame) and bot.stopped(1), "the turn")
            return bot, replaced_after

    for max_idle in (0.3, None):   # replaced by the service / closed by the server and reopened
        bot, replaced_after = run(body(max_idle), timeout=60)
        assert heard(bot.audio(), 24000) == "Still here."
        assert not bot.errors(), (max_idle, bot.errors())
        if max_idle is not None:
            # before the server's idle timeout (3 s) could have closed it
            assert replaced_after < 2.9, replaced_after


async def test_settings_updates_apply_to_the_next_session_and_mid_turn(server):
    async with Bot(new_tts(server)) as bot:
        await bot.say_streamed("In English.")
        await bot.until(lambda: bot.stopped(1), "the first turn")
        await bot.send(TTSUpdateSettingsFrame(delta=SupertonicTTSService.Settings(language=Language.FR_FR)))
        await bot.say_streamed("En français.")
        await bot.until(lambda: bot.stopped(2), "the second turn")
        # Mid-turn: the turn goes on in a new session with the new language.
        await bot.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens("Encore un peu.")],
                       TTSUpdateSettingsFrame(delta=SupertonicTTSService.Settings(language="es")),
                       *[LLMTextFrame(t) for t in tokens(" Y en español.")], LLMFullResponseEndFrame())
        await bot.until(lambda: bot.stopped(4), "the turn in two sessions")

    first, second, third, fourth = bot.contexts()
    assert heard(bot.audio(first), 24000, "en") == "In English."
    assert heard(bot.audio(second), 24000, "fr") == "En français."
    assert heard(bot.audio(third), 24000, "fr") == "Encore un peu."
    assert heard(bot.audio(fourth), 24000, "es") == "Y en español."
    assert not bot.errors(), bot.errors()


async def test_empty_text_speaks_nothing_and_reports_nothing(server):
    async with Bot(new_tts(server)) as bot:
        await bot.send(TTSSpeakFrame(""), TTSSpeakFrame("   "),
                       LLMFullResponseStartFrame(), LLMTextFrame(" "), LLMTextFrame("\n"),
                       LLMFullResponseEndFrame())
        await bot.send(TTSSpeakFrame("Something at last."))
        await bot.until(lambda: bot.of_type(TTSAudioRawFrame) and bot.stopped(1),
                        "the last turn")

    assert heard(bot.audio(), 24000) == "Something at last."
    assert not bot.errors(), bot.errors()


@pytest.mark.slow
def test_a_text_longer_than_the_server_holds_is_sent_as_the_audio_catches_up(start_server):
    server = start_server(TTS_MAX_TEXT_CHARS=300)
    text = " ".join(f"Part {number_words(n)} of a long text." for n in range(40))   # ~1000 characters

    async def body(max_unspoken):
        async with Bot(new_tts(server, max_unspoken_chars=max_unspoken), sample_rate=8000) as bot:
            await bot.send(TTSSpeakFrame(text))
            await bot.until(lambda: bot.stopped(1), "the long turn")
            await bot.send(TTSSpeakFrame("Short one."))
            await bot.until(lambda: bot.stopped(2), "the next turn")
            return bot

    paced = run(body(200), timeout=60)
    long_ctx, short_ctx = paced.contexts()
    assert heard(paced.audio(long_ctx), 8000) == text
    assert heard(paced.audio(short_ctx), 8000) == "Short one."
    assert not paced.errors(), paced.errors()
    # Unpaced, the server refuses what is beyond its limit: a clear error, no hang.
    unpaced = run(body(100000), timeout=60)
    assert any("text_too_long" in e.error for e in unpaced.errors()), unpaced.errors()
    assert all(not e.category.is_permanent for e in unpaced.errors())
    assert heard(unpaced.audio(unpaced.contexts()[-1]), 8000) == "Short one."


def test_the_token_is_sent_and_a_wrong_one_is_an_authentication_error(start_server):
    server = start_server(TTS_AUTH_TOKEN="s3cret")

    async def body(token):
        async with Bot(new_tts(server, token=token)) as bot:
            if token == "s3cret":
                await bot.send(TTSSpeakFrame("With the right token."))
                await bot.until(lambda: bot.stopped(1), "the turn")
            else:
                await bot.until(lambda: bot.errors(), "the error")
            return bot

    ok = run(body("s3cret"))
    assert heard(ok.audio(), 24000) == "With the right token." and not ok.errors()
    refused = run(body("wrong"))
    (error,) = refused.errors()
    assert "401" in error.error and error.category.is_permanent


async def test_a_pipeline_rate_the_server_cannot_produce_is_a_clear_error(server):
    async with Bot(new_tts(server), sample_rate=32000) as bot:
        await bot.until(lambda: bot.errors(), "the error")

    (error,) = bot.errors()
    assert "32000" in error.error and "sample_rate" in error.error
    with pytest.raises(ValueError):
        SupertonicTTSService(url=server.url, sample_rate=11025)


def test_importing_the_client_does_not_import_pipecat():
    import subprocess
    import sys
    code = ("import sys, supertonic_client, supertonic_client.client; "
            "assert 'pipecat' not in sys.modules, 'supertonic_client imported pipecat'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_server_that_stops_answering_gets_its_socket_replaced(start_server):
    """SIGSTOP freezes the server: an interrupted session is never confirmed
    (drain timeout), a finished turn never ends (receive timeout). Either way
    the socket is replaced, and once the server runs again the next turn
    speaks on the new socket."""
    server = start_server(TTS_DEBOUNCE_MS=5000)   # a turn's later text waits for end_session

    async def phase(bot, interrupt: bool, n: int, stops: int) -> None:
        disconnects = []
        bot.tts.add_event_handler("on_disconnected", lambda tts: disconnects.append(1))
        await bot.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens(LONG_ANSWER)])
        await bot.until(lambda: len(bot.contexts()) == n, "the turn's first audio")
        server.signal(signal.SIGSTOP)
        try:
            if interrupt:
                await bot.send(InterruptionFrame(), LLMFullResponseEndFrame())
            else:
                await bot.send(LLMFullResponseEndFrame())
            await bot.until(lambda: disconnects, "the socket's replacement")
        finally:
            server.signal(signal.SIGCONT)
        await bot.send(TTSSpeakFrame(f"Phase {number_words(n)} is over."))
        await bot.until(lambda: len(bot.contexts()) == n + 1 and bot.stopped(stops), "the next turn")

    async def body():
        tts = new_tts(server, drain_timeout=0.3, receive_timeout=0.5, ws_close_timeout=0.2)
        async with Bot(tts) as bot:
            await phase(bot, True, 1, stops=1)     # the interrupted context has no stop frame
            await phase(bot, False, 3, stops=3)
            return bot

    bot = run(body(), timeout=60)
    contexts = bot.contexts()
    assert heard(bot.audio(contexts[1]), 24000) == "Phase one is over."
    assert heard(bot.audio(contexts[3]), 24000) == "Phase three is over."
    # The interrupted turn is silent about it; the turn that never ended is reported.
    errors = bot.errors()
    assert len(errors) == 1 and "sent nothing for" in errors[0].error, errors
    assert not errors[0].category.is_permanent


async def test_an_uninterruptible_speak_frame_is_spoken_whole_through_an_interruption(server):
    async with Bot(new_tts(server)) as bot:
        cancels = server.metrics().get("tts_cancellations_total")
        keep = TTSSpeakFrame(LONG_ANSWER)
        keep.interruptible = False
        await bot.send(keep)
        await bot.until(lambda: bot.of_type(TTSAudioRawFrame), "the first audio")
        await bot.send(InterruptionFrame())
        await bot.until(lambda: bot.stopped(1), "the end of the uninterruptible speech")
        cancels = server.metrics().get("tts_cancellations_total") - cancels

    assert heard(bot.audio(), 24000) == LONG_ANSWER
    assert cancels == 0
    assert not bot.errors(), bot.errors()


async def test_a_segment_that_fails_in_the_server_is_a_transient_error_and_the_turn_goes_on(failing_model_server):
    server = failing_model_server            # inference fails for texts of more than 40 tokens
    long_sentence = "This sentence is far too long for the failing model to ever get through it."

    async with Bot(new_tts(server)) as bot:
        await bot.send(LLMFullResponseStartFrame(), *[LLMTextFrame(t) for t in tokens("Short one. ")])
        await bot.until(lambda: bot.of_type(TTSAudioRawFrame), "the first segment's audio")
        await bot.send(*[LLMTextFrame(t) for t in tokens(long_sentence)], LLMFullResponseEndFrame())
        await bot.until(lambda: bot.errors() and bot.stopped(1), "the failed segment and the turn's end")
        await bot.send(TTSSpeakFrame("Next turn."))
        await bot.until(lambda: bot.stopped(2), "the next turn")

    (error,) = bot.errors()
    assert "internal" in error.error and not error.category.is_permanent
    first, second = bot.contexts()
    assert heard(bot.audio(first), 24000) == "Short one."
    assert heard(bot.audio(second), 24000) == "Next turn."
    assert bot.tts.is_usable


def test_the_example_pipeline_writes_the_speech_and_its_timed_words(server, tmp_path):
    """examples/pipecat_say.py, as a newcomer runs it against `make run`."""
    import subprocess
    import sys
    from pathlib import Path
    import wave

    repo = Path(__file__).resolve().parents[3]
    out = tmp_path / "say.wav"
    done = subprocess.run(
        [sys.executable, str(repo / "examples" / "pipecat_say.py"), "It costs $5.50 today. See you soon!",
         "-o", str(out), "--url", server.url, "--sample-rate", "16000"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels()) == (16000, 1)
        pcm = w.readframes(w.getnframes())
    assert heard(pcm, 16000) == "It costs five dollars and fifty cents today. See you soon!"
    words = [line.split()[-1] for line in done.stdout.splitlines() if re.match(r"\s*\d+\.\d+ s\s", line)]
    assert words == ["It", "costs", "$5.50", "today.", "See", "you", "soon!"]
