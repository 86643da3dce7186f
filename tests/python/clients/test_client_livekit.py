"""The LiveKit Agents plugin (``livekit.plugins.supertonic``) through the real
``livekit-agents`` 1.x classes (TTS, SynthesizeStream, ChunkedStream,
AudioEmitter, ConnectionPool, metrics), against a real server on the probe
model, whose audio decodes back to the text it speaks. Nothing is mocked."""
from __future__ import annotations

import asyncio
import json
import re
import signal
import time

import pytest

from client_support import client_ports, heard
from service_support import (
    ServerProcess, apoll, decode_pcm16, heard_word_times, norm_text, requires_server_binary, run,
)

agents = pytest.importorskip("livekit.agents", reason="pip install -r tools/requirements.txt")
supertonic = pytest.importorskip("livekit.plugins.supertonic",
                                 reason="pip install -e ./clients/python/livekit-plugins-supertonic")

from livekit.agents import APIConnectionError, APIConnectOptions, APIStatusError  # noqa: E402
from livekit.agents.metrics import TTSMetrics  # noqa: E402
from livekit.agents.types import USERDATA_TIMED_TRANSCRIPT  # noqa: E402

from tools.probe_decode import FRAME_S  # noqa: E402

pytestmark = requires_server_binary

TURN_TIMEOUT = 20.0
NO_RETRY = APIConnectOptions(max_retry=0, timeout=5.0)
LONG_ANSWER = " ".join(f"Sentence number {i} is here." for i in range(12))


class Turn:
    """What one SynthesizeStream produced."""

    def __init__(self) -> None:
        self.pcm = b""
        self.frames = []
        self.transcript = []
        self.finals = 0

    def add(self, ev) -> None:
        self.frames.append(ev.frame)
        self.pcm += ev.frame.data.tobytes()
        self.transcript.extend(ev.frame.userdata.get(USERDATA_TIMED_TRANSCRIPT) or [])
        self.finals += ev.is_final


async def speak(tts, text: str, conn_options: APIConnectOptions | None = None) -> Turn:
    """One agent turn as AgentSession drives it: a stream, text pushed word by
    word, end_input, every frame read."""
    stream = tts.stream(conn_options=conn_options) if conn_options else tts.stream()
    turn = Turn()
    try:
        for word in text.split(" "):
            stream.push_text(word + " ")
        stream.end_input()

        async def consume():
            async for ev in stream:
                turn.add(ev)

        await asyncio.wait_for(consume(), TURN_TIMEOUT)
    finally:
        await stream.aclose()
    return turn


async def test_stream_fed_word_by_word_speaks_the_text_in_order(server):
    text = "Hello there. How are you today? I am fine, thank you."

    tts = supertonic.TTS(url=server.url, voice="F3", language="en-US")
    try:
        assert tts.capabilities.streaming and tts.capabilities.aligned_transcript
        turn = await speak(tts, text)
    finally:
        await tts.aclose()

    assert heard(turn.pcm, 24000) == text
    assert {(f.sample_rate, f.num_channels) for f in turn.frames} == {(24000, 1)}
    assert turn.finals == 1, "one stream must be exactly one emitter segment"
    # Word-timed transcript from the server's word_timings: the words in order,
    # each when the audio says it (within one latent frame of the probe).
    assert norm_text("".join(turn.transcript)) == text
    said = heard_word_times(decode_pcm16(turn.pcm, 24000))
    assert [w.strip() for w in turn.transcript] == [w for w, _, _ in said]
    for timed, (word, start, end) in zip(turn.transcript, said):
        assert abs(timed.start_time - start) <= FRAME_S, (word, timed.start_time, start)
        assert abs(timed.end_time - end) <= FRAME_S, (word, timed.end_time, end)


async def test_an_interrupted_turn_transcript_ends_at_the_last_word_heard(server):
    """What the framework keeps of an interrupted turn is the timed words
    that started before playback stopped: they must be the words the listener
    heard up to that moment, even where normalization rewrote them."""
    text = "I paid $12.50 for 3 apples at 10:30 and then walked home slowly."

    tts = supertonic.TTS(url=server.url, language="en")
    try:
        turn = await speak(tts, text)
    finally:
        await tts.aclose()

    said = heard_word_times(decode_pcm16(turn.pcm, 24000))
    audio_s = len(turn.pcm) / 2 / 24000
    written = text.split()
    for fraction in (0.2, 0.45, 0.7):
        cut = fraction * audio_s
        kept = [w.strip() for w in turn.transcript if w.start_time < cut]
        assert kept == written[:len(kept)], "the transcript keeps the words as written, in order"
        # The last word kept is being heard at the cut, or the cut is in the pause after it.
        last = [w for w in turn.transcript if w.start_time < cut][-1]
        next_start = min((w.start_time for w in turn.transcript if w.start_time >= cut), default=audio_s)
        assert last.start_time - FRAME_S <= cut <= next_start + FRAME_S
        # ...and it covers the spoken word the listener was hearing then.
        heard_start = [start for _, start, _ in said if start < cut][-1]
        assert last.start_time - FRAME_S <= heard_start <= last.end_time + FRAME_S, (last, heard_start, cut)


def test_the_transcript_shows_the_text_as_written_while_the_audio_says_it_in_words(server):
    text = "It costs $5.50 today. Call 555-123-4567."

    async def body(**options):
        tts = supertonic.TTS(url=server.url, language="en", **options)
        try:
            return await speak(tts, text)
        finally:
            await tts.aclose()

    turn = run(body())
    assert heard(turn.pcm, 24000) == ("It costs five dollars and fifty cents today. "
                                      "Call five five five, one two three, four five six seven.")
    assert norm_text("".join(turn.transcript)) == text
    as_written = run(body(normalize=False))
    assert norm_text("".join(as_written.transcript)) == text
    assert "five dollars" not in heard(as_written.pcm, 24000)


async def test_synthesize_is_one_session(server):
    tts = supertonic.TTS(url=server.url, language="en", sample_rate=16000)
    try:
        frames = []
        async with tts.synthesize("A whole text at once. Two sentences.") as chunked:
            async for ev in chunked:
                frames.append(ev.frame)
    finally:
        await tts.aclose()

    pcm = b"".join(f.data.tobytes() for f in frames)
    assert {f.sample_rate for f in frames} == {16000}
    assert heard(pcm, 16000) == "A whole text at once. Two sentences."


async def test_two_turns_in_a_row_use_one_prewarmed_pooled_connection(server):
    tts = supertonic.TTS(url=server.url, language="en")
    metrics: list[TTSMetrics] = []
    tts.on("metrics_collected", metrics.append)
    try:
        tts.prewarm()
        assert await apoll(lambda: len(client_ports(server)) == 1, 5), "prewarm opened no socket"
        ports = client_ports(server)
        first = await speak(tts, "First turn here.")
        after_first = client_ports(server)
        second = await speak(tts, "And the second one.")
        ports, after_first, after_second, first, second, metrics = ports, after_first, client_ports(server), first, second, metrics
    finally:
        await tts.aclose()

    assert ports == after_first == after_second, "the turns did not share the prewarmed socket"
    assert heard(first.pcm, 24000) == "First turn here."
    assert heard(second.pcm, 24000) == "And the second one."
    assert [m.connection_reused for m in metrics] == [True, True]


async def test_metrics_are_emitted_for_each_turn(server):
    text = "Metrics please. Thank you."

    tts = supertonic.TTS(url=server.url, language="en")
    metrics: list[TTSMetrics] = []
    tts.on("metrics_collected", metrics.append)
    try:
        turn = await speak(tts, text)
    finally:
        await tts.aclose()

    assert len(metrics) == 1, metrics
    m = metrics[0]
    assert isinstance(m, TTSMetrics) and m.streamed and not m.cancelled
    assert 0 < m.ttfb < 5 and m.duration >= m.ttfb
    assert m.characters_count == len("".join(w + " " for w in text.split(" ")))
    assert abs(m.audio_duration - len(turn.pcm) / 2 / 24000) < 0.05
    assert m.label.endswith("supertonic.tts.TTS")
    assert m.metadata is None or m.metadata.model_provider == "Supertonic"


async def test_barge_in_returns_at_once_and_no_interrupted_audio_reaches_later_turns(server):
    tts = supertonic.TTS(url=server.url, language="en")
    try:
        tts.prewarm()
        assert await apoll(lambda: len(client_ports(server)) == 1, 5)
        pooled = client_ports(server)
        cancels_before = server.metrics().get("tts_cancellations_total")

        stream = tts.stream()
        for word in LONG_ANSWER.split(" "):
            stream.push_text(word + " ")
        frames = 0

        async def first_frames():
            nonlocal frames
            async for _ in stream:
                frames += 1
                if frames == 3:
                    return

        await asyncio.wait_for(first_frames(), TURN_TIMEOUT)
        t0 = time.perf_counter()
        await stream.aclose()                      # the user barged in
        aclose_s = time.perf_counter() - t0

        # The next turn starts at once. It gets the interrupted socket only
        # if the server has confirmed the cancel (cancelled + session_ended)
        # by then, otherwise a socket of its own; either way it must hear
        # nothing of the interrupted answer.
        right_after = await speak(tts, "Right after the interruption.")
        assert await apoll(lambda: server.metrics().get("tts_cancellations_total")
                           == cancels_before + 1, 5), "no cancel reached the server"
        assert await apoll(lambda: server.metrics().get("tts_active_sessions") == 0, 5)
        await asyncio.sleep(0.2)
        later = [await speak(tts, "Later turn number one."),
                 await speak(tts, "Later turn number two.")]
        aclose_s, pooled, ports_after, right_after, later = aclose_s, pooled, client_ports(server), right_after, later
    finally:
        await tts.aclose()

    assert aclose_s < 0.1, f"aclose() of a speaking stream took {aclose_s * 1000:.0f} ms"
    assert heard(right_after.pcm, 24000) == "Right after the interruption."
    assert heard(later[0].pcm, 24000) == "Later turn number one."
    assert heard(later[1].pcm, 24000) == "Later turn number two."
    # The interrupted socket was confirmed and kept, not dropped: still connected.
    assert set(pooled) <= set(ports_after), (pooled, ports_after)


async def test_four_concurrent_streams_each_speak_their_own_text(server):
    texts = ["The first stream speaks.", "Stream two is here.",
             "A third one talks now.", "Number four ends it."]

    tts = supertonic.TTS(url=server.url, language="en")
    try:
        turns = await asyncio.gather(*(speak(tts, t) for t in texts))
    finally:
        await tts.aclose()

    assert [heard(t.pcm, 24000) for t in turns] == texts


async def test_capacity_refusal_is_a_retryable_429(start_server):
    server = start_server(TTS_MAX_SESSIONS=1)

    import supertonic_client as stc
    holder = await stc.connect(server.url)
    tts = supertonic.TTS(url=server.url, language="en")
    errors = []
    tts.on("error", errors.append)
    try:
        session = holder.session(lang_code="en")
        await session.start()
        assert isinstance(await session.next_event(5), stc.SessionStarted)
        with pytest.raises(APIStatusError) as refused:
            await speak(tts, "No room for me.", NO_RETRY)
        await session.aclose()
        await asyncio.sleep(0.2)
        # With the slot free, the same TTS speaks (its socket was kept).
        ok = await speak(tts, "Now there is room.", NO_RETRY)
        error, errors, ok = refused.value, errors, ok
    finally:
        await tts.aclose()
        await holder.close()

    assert error.status_code == 429 and error.retryable is True, repr(error)
    assert "capacity" in str(error)
    assert errors and errors[0].error is error and errors[0].recoverable is False
    assert heard(ok.pcm, 24000) == "Now there is room."


async def test_bad_voice_is_a_non_retryable_400_without_retries(server):
    tts = supertonic.TTS(url=server.url, voice="Z9", language="en")
    try:
        t0 = time.perf_counter()
        with pytest.raises(APIStatusError) as refused:
            # default connect options: 3 retries, 2 s apart, if it were retryable
            await speak(tts, "Who am I?")
        error, elapsed = refused.value, time.perf_counter() - t0
    finally:
        await tts.aclose()

    assert error.status_code == 400 and error.retryable is False, repr(error)
    assert "invalid_voice" in str(error)
    assert elapsed < 1.5, f"a non-retryable error took {elapsed:.1f} s (was it retried?)"


async def test_server_killed_mid_turn_is_a_connection_error_and_the_next_turn_reconnects(start_server):
    server = start_server()

    tts = supertonic.TTS(url=server.url, language="en")
    try:
        stream = tts.stream(conn_options=NO_RETRY)
        for word in LONG_ANSWER.split(" "):
            stream.push_text(word + " ")
        got = 0

        async def consume():
            nonlocal got
            async for _ in stream:
                got += 1
                if got == 2:
                    server.proc.send_signal(signal.SIGKILL)

        with pytest.raises(APIConnectionError) as lost:
            await asyncio.wait_for(consume(), TURN_TIMEOUT)
        await stream.aclose()
        assert await asyncio.to_thread(server.wait, 5) is not None

        # The same address comes back; the next turn connects to it.
        restarted = ServerProcess(server.log_path.parent)
        restarted.port = server.port
        restarted.log_path = server.log_path.with_name(f"restarted-{server.port}.log")
        await asyncio.to_thread(restarted.start)
        try:
            again = await speak(tts, "Back again.")
        finally:
            await asyncio.to_thread(restarted.stop)   # the loop must answer its close
        error, got, again = lost.value, got, again
    finally:
        await tts.aclose()

    assert got >= 2
    assert "lost" in str(error).lower() or "connection" in str(error).lower(), str(error)
    assert heard(again.pcm, 24000) == "Back again."


async def test_options_are_sent_per_session_and_update_options_applies_to_new_streams(server):
    tts = supertonic.TTS(url=server.url, language="fr", sample_rate=8000, speed=1.0,
                         num_inference_steps=3)
    try:
        first = await speak(tts, "Bonjour.")
        tts.update_options(language="en", voice="M1")
        second = await speak(tts, "Hello.")
    finally:
        await tts.aclose()

    assert {f.sample_rate for f in first.frames} == {8000}
    assert heard(first.pcm, 8000, lang="fr") == "Bonjour."
    assert heard(second.pcm, 8000, lang="en") == "Hello."


async def test_the_original_import_works_from_the_repository_root(server):
    from clients.livekit_plugin import SupertonicTTS
    from livekit.agents import Agent

    tts = SupertonicTTS(service_url=server.url, voice="F1", lang_code="pt")
    agent = Agent(instructions="You are a helpful assistant.", tts=tts)
    try:
        assert agent.tts is tts
        assert isinstance(tts, supertonic.TTS) and tts.url == server.url
        turn = await speak(tts, "Ola, como vai?")
    finally:
        await tts.aclose()

    assert heard(turn.pcm, 24000, lang="pt") == "Ola, como vai?"


async def test_agent_session_speaks_through_the_plugin_and_barge_in_is_clean(server):
    """The framework's own pipeline (AgentSession.say -> tts_node -> stream)
    with an audio sink that plays instantly: a reply, an interrupted one, and
    a reply after the interruption that hears nothing of it."""
    from livekit.agents import Agent, AgentSession
    from livekit.agents.voice import io

    class InstantSink(io.AudioOutput):
        def __init__(self) -> None:
            super().__init__(label="instant", capabilities=io.AudioOutputCapabilities(pause=False))
            self.pcm = b""
            self.pending = 0.0

        async def capture_frame(self, frame) -> None:
            await super().capture_frame(frame)
            if self.pending == 0.0:
                self.on_playback_started(created_at=time.time())
            self.pcm += frame.data.tobytes()
            self.pending += frame.duration

        def _finish(self, interrupted: bool) -> None:
            if self._pending_playback_count > 0:
                self.on_playback_finished(playback_position=self.pending, interrupted=interrupted)
            self.pending = 0.0

        def flush(self) -> None:
            super().flush()
            asyncio.get_running_loop().call_soon(self._finish, False)

        def clear_buffer(self) -> None:
            self._finish(True)

    tts = supertonic.TTS(url=server.url, language="en")
    session = AgentSession(tts=tts)
    sink = InstantSink()
    session.output.audio = sink
    heard_texts = []
    try:
        await session.start(agent=Agent(instructions="Say what you are told."))
        await asyncio.wait_for(session.say("Hello there. How are you today?"), TURN_TIMEOUT)
        heard_texts.append(heard(sink.pcm, 24000))

        sink.pcm = b""
        handle = session.say(LONG_ANSWER)
        deadline = time.monotonic() + TURN_TIMEOUT
        while len(sink.pcm) < 24000 * 2 * 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        handle.interrupt()
        await asyncio.wait_for(handle, 5)
        interrupted_audio_s = len(sink.pcm) / 2 / 24000

        sink.pcm = b""
        await asyncio.wait_for(session.say("After the interruption."), TURN_TIMEOUT)
        heard_texts.append(heard(sink.pcm, 24000))
        messages = [(m.text_content, m.interrupted) for m in session.history.items
                    if m.type == "message"]
    finally:
        await session.aclose()
        await tts.aclose()

    assert heard_texts == ["Hello there. How are you today?", "After the interruption."]
    assert interrupted_audio_s > 1.0
    assert [interrupted for _, interrupted in messages] == [False, True, False], messages
    assert messages[2][0] == "After the interruption."


# --- Expressive markup: Supertonic 3's tags, dropped for other models -------------------------------------------

from livekit.plugins.supertonic import markup  # noqa: E402

V3_TAGS = markup.tags_for("supertonic-3")
LAUGH = '<expr type="sound" label="laugh"/>'

MARKUP_CASES = [
    # (what the LLM wrote, what Supertonic 3 gets, what other models get)
    (f"That is great! {LAUGH} Thanks.", "That is great! <laugh> Thanks.", "That is great! Thanks."),
    ('<expr type="sound" label="clear throat"/> Well, then.', "<throatclear> Well, then.", " Well, then."),
    ('Hmm <expr type="sound" label="breathe"/> okay.', "Hmm <breath> okay.", "Hmm okay."),
    ('<expr type="expression" label="a little sad, tired"/> I am sorry.', "<sad> I am sorry.", " I am sorry."),
    ('<expr type="expression" label="really bright"/> Hi.', " Hi.", " Hi."),       # no tag for it
    ('Oh <expr type="sound" label="tsk"/> no.', "Oh no.", "Oh no."),                 # unknown label
    ('Wait <expr type="break" label="500ms"/> here.', "Wait here.", "Wait here."),    # no pause tag
    ('A <expr type="prosody" label="whisper">secret</expr> word.', "A secret word.", "A secret word."),
    ('<sound value="sigh"/> Fine <emotion value="furious"/> now.', "<sigh> Fine <angry> now.", " Fine now."),
    ("Ha <laugh> and <COUGH/> then</laugh> done.", "Ha <laugh> and <cough> then done.", "Ha and then done."),
    ("3 < 5 and <b>bold</b> stay.", "3 < 5 and <b>bold</b> stay.", "3 < 5 and <b>bold</b> stay."),
]


@pytest.mark.parametrize("written,for_v3,for_others", MARKUP_CASES)
def test_markup_becomes_supertonic_3_tags_and_is_dropped_for_other_models(written, for_v3, for_others):
    assert markup.lower_markup(written, V3_TAGS) == for_v3
    assert markup.lower_markup(written, markup.tags_for("supertonic-2")) == for_others
    assert markup.lower_markup(written, None) == for_others  # a model not known to read tags


def test_the_ten_tags_and_the_labels_livekit_providers_use():
    assert set(V3_TAGS) == {"laugh", "breath", "surprise", "sigh", "scream", "throatclear", "sad", "angry",
                            "cough", "yawn"}
    for label, tag in [("laugh", "laugh"), ("chuckle", "laugh"), ("giggling", "laugh"), ("breathe", "breath"),
                       ("inhale", "breath"), ("sighing", "sigh"), ("clear throat", "throatclear"),
                       ("throat-clear", "throatclear"), ("cough", "cough"), ("yawning", "yawn"),
                       ("gasp", "surprise"), ("sobbing", "sad"), ("scream", "scream")]:
        assert markup.sound_tag(label) == tag, label
    assert markup.sound_tag("lip-smack") is None
    assert markup.tags_of_session({"model": "supertonic-3"}, None) == V3_TAGS
    # The server lists them as they are written in the text.
    assert markup.tags_for("my-v3", ["<laugh>", "<SIGH>", "<unknown>"]) == {"laugh", "sigh"}
    assert markup.tags_of_session({"model": "supertonic-2"}, None) == frozenset()
    assert markup.tags_of_session({"model": "my-v3", "expression_tags": ["laugh", "sigh"]}, None) == \
        {"laugh", "sigh"}
    assert markup.tags_of_session({}, None) is None  # a server from before several models: unknown


@pytest.mark.parametrize("text", [f"Hello {LAUGH} there.", "Oh <sigh> well, 3 < 4.", "plain text"])
def test_markup_split_across_stream_tokens_is_rewritten_whole(text):
    for size in (1, 2, 5):
        stream = markup.MarkupStream()
        pieces = [stream.push(text[i:i + size]) for i in range(0, len(text), size)] + [stream.flush()]
        assert all("<expr" not in p or p.count("<") == p.count(">") for p in pieces), pieces
        assert markup.lower_markup("".join(pieces), V3_TAGS) == markup.lower_markup(text, V3_TAGS)
        lowered = "".join(markup.lower_markup(p, V3_TAGS) for p in pieces)
        assert lowered == markup.lower_markup(text, V3_TAGS), (size, pieces)


def test_the_framework_markup_api_speaks_supertonic_3_tags_only_for_supertonic_3():
    v3 = supertonic.TTS(model="supertonic-3")
    unknown = supertonic.TTS()
    v2 = supertonic.TTS(model="supertonic-2")
    guide = v3.markup.llm_instructions()
    assert guide is not None and 'type="sound"' in guide
    assert all(tag in guide for tag in ("laugh", "sigh", "cough", "yawn", "throatclear", "sad", "angry"))
    assert v3.markup.convert(f"Ha! {LAUGH}") == "Ha! <laugh>"
    assert v3.markup._provider_key() == "supertonic"
    assert set(v3.markup.info.nonverbals) == {"laughing", "breathing", "sighing", "vocalizing", "reflex_sounds"}
    # Speech steering that turns the sounds off leaves only the emotions.
    quiet = v3.markup.llm_instructions(speech_steering={"nonverbal_sounds": False})
    assert quiet is not None and 'type="sound"' not in quiet and "sad" in quiet
    no_laughs = v3.markup.llm_instructions(speech_steering={"nonverbal_sounds": {"laughing": False}})
    assert '"laugh"' not in no_laughs and "sigh" in no_laughs
    for other in (unknown, v2):
        assert other.markup.llm_instructions() is None and other.markup._provider_key() == ""
        assert other.markup.convert(f"Ha! {LAUGH}").rstrip() == "Ha!"
    assert v3.model == "supertonic-3" and v2.model == "supertonic-2"


async def test_markup_is_dropped_for_supertonic_2_and_never_spoken(server):
    """The probe server names no model (as a Supertonic 2 server from before
    several models): markup must not reach its text, in a stream split word by
    word and in synthesize()."""
    text = f"Hello {LAUGH} there. <sigh> How are you?"

    tts = supertonic.TTS(url=server.url, language="en")
    try:
        streamed = await speak(tts, text)
        frames = []
        async with tts.synthesize('<expr type="sound" label="cough"/> Once more.') as chunked:
            async for ev in chunked:
                frames.append(ev.frame)
        streamed, once_more, model = streamed, b"".join(f.data.tobytes() for f in frames), tts.model
    finally:
        await tts.aclose()

    assert heard(streamed.pcm, 24000) == "Hello there. How are you?"
    assert norm_text("".join(streamed.transcript)) == "Hello there. How are you?"
    assert heard(once_more, 24000) == "Once more."
    assert model == "supertonic-2"


class ModelEchoRelay:
    """A WebSocket relay in front of the real server that answers as a
    Supertonic 3 server would: session_started names `model`, and the ten tags
    are taken out of the text before it reaches the probe model (which would
    read them as letters). It records what the plugin sent."""

    TAG = re.compile(r"<(?:" + "|".join(markup.EXPRESSION_TAGS) + r")>\s?")

    def __init__(self, upstream: str, model: str = "supertonic-3") -> None:
        self.upstream = upstream
        self.model = model
        self.sent: list[dict] = []
        self._server = None

    async def __aenter__(self) -> "ModelEchoRelay":
        import websockets

        async def handle(client):
            async with websockets.connect(self.upstream, max_size=None) as up:
                async def to_server():
                    async for message in client:
                        if isinstance(message, str):
                            self.sent.append(json.loads(message))
                            m = json.loads(message)
                            if m.get("type") == "start_session":
                                m.get("config", {}).pop("model", None)
                            if m.get("type") == "send_text":
                                m["text"] = self.TAG.sub("", m["text"])
                            message = json.dumps(m)
                        await up.send(message)

                async def to_client():
                    async for message in up:
                        if isinstance(message, str):
                            m = json.loads(message)
                            if m.get("type") == "session_started":
                                # What a server serving that model says of it.
                                m["model"] = self.model
                                m["expression_tags"] = [f"<{t}>" for t in sorted(markup.tags_for(self.model))]
                            message = json.dumps(m)
                        await client.send(message)

                tasks = [asyncio.create_task(to_server()), asyncio.create_task(to_client())]
                done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for t in pending:
                    t.cancel()

        self._server = await websockets.serve(handle, "127.0.0.1", 0, max_size=None)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws/tts"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    def texts(self) -> str:
        return "".join(m["text"] for m in self.sent if m.get("type") == "send_text")

    def types(self) -> list[str]:
        return [m["type"] for m in self.sent]


async def test_a_supertonic_3_session_gets_its_tags_from_livekit_markup(server):
    """No model chosen: the server's session_started names supertonic-3, and
    the markup, split over the words the LLM streams, arrives as <laugh>."""
    text = f"Hello {LAUGH} there. How are you?"

    async with ModelEchoRelay(server.url) as relay:
        tts = supertonic.TTS(url=relay.url, language="en")
        try:
            turn = await speak(tts, text)
            turn, sent, texts, model, guide = turn, relay.sent, relay.texts(), tts.model, tts.markup.llm_instructions()
        finally:
            await tts.aclose()

    assert "<laugh>" in texts and "<expr" not in texts and "label=" not in texts, texts
    assert norm_text(texts.replace("<laugh>", "")) == "Hello there. How are you?"
    assert heard(turn.pcm, 24000) == "Hello there. How are you?"
    assert "model" not in sent[0].get("config", {}), "no model was chosen"
    assert model == "supertonic-3" and guide is not None, "the TTS learnt the server's model"


async def test_the_model_option_is_sent_and_synthesize_waits_for_nothing(server):
    async with ModelEchoRelay(server.url) as relay:
        tts = supertonic.TTS(url=relay.url, language="en", model="supertonic-3")
        try:
            frames = []
            async with tts.synthesize('<expr type="sound" label="sigh"/> Fine, let us go.') as chunked:
                async for ev in chunked:
                    frames.append(ev.frame)
            pcm, sent = b"".join(f.data.tobytes() for f in frames), relay.sent
        finally:
            await tts.aclose()

    assert sent[0]["type"] == "start_session" and sent[0]["config"]["model"] == "supertonic-3"
    assert [m["type"] for m in sent] == ["start_session", "send_text", "end_session"]
    assert sent[1]["text"] == "<sigh> Fine, let us go."
    assert heard(pcm, 24000) == "Fine, let us go."


async def test_synthesize_with_markup_asks_the_server_which_model_first(server):
    """No model chosen and markup in the text: start_session goes alone, and
    the text follows once session_started named the model."""
    async with ModelEchoRelay(server.url) as relay:
        tts = supertonic.TTS(url=relay.url, language="en")
        try:
            frames = []
            async with tts.synthesize('<expr type="expression" label="surprised"/> Really? Wow.') as chunked:
                async for ev in chunked:
                    frames.append(ev.frame)
            pcm, sent = b"".join(f.data.tobytes() for f in frames), relay.sent
        finally:
            await tts.aclose()

    assert [m["type"] for m in sent] == ["start_session", "send_text", "end_session"]
    assert sent[1]["text"] == "<surprise> Really? Wow."
    assert heard(pcm, 24000) == "Really? Wow."


async def test_the_asyncio_client_sends_the_model_and_reads_it_back(server):
    import supertonic_client as stc

    async with ModelEchoRelay(server.url) as relay:
        async with await stc.connect(relay.url) as conn:
            result = await conn.synthesize("Which model?", model="supertonic-3", lang_code="en")
        sent = relay.sent

    assert sent[0]["config"]["model"] == "supertonic-3"
    assert result.started is not None and result.started.model == "supertonic-3"
    assert heard(result.pcm, result.sample_rate) == "Which model?"
