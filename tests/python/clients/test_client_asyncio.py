"""The asyncio client (clients/python/supertonic-client, ``supertonic_client``) and the
``supertonic-say`` command, against a real server on the probe model, whose
audio decodes back to the text it speaks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from client_support import heard
from service_support import FAIL_ABOVE_TOKENS, REPO, VENV_PYTHON, norm_text, requires_server_binary, run
from tools.probe_decode import decode_wav

stc = pytest.importorskip("supertonic_client", reason="pip install -e ./clients/python/supertonic-client")

pytestmark = requires_server_binary

T = 10.0    # bound on every wait for the next message


async def test_session_streams_events_in_protocol_order_and_audio_speaks_the_text(server):
    tokens = ["Hello", " there", ".", " How", " are", " you", "?"]

    async with await stc.connect(server.url) as conn:
        session = conn.session(voice="M2", lang_code="en", sample_rate=16000)
        for token in tokens:
            await session.send_text(token)
        await session.end()
        events = [event async for event in session.events(timeout=T)]

    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "SessionStarted" and kinds[-1] == "SessionEnded", kinds
    started = events[0]
    assert (started.voice, started.lang_code, started.sample_rate) == ("M2", "en", 16000)
    assert started.session_id == session.session_id and session.ended is events[-1]
    # Every frame lies inside its segment: segment_started, frames, segment_done.
    open_segment = None
    for e in events[1:-1]:
        if isinstance(e, stc.SegmentStarted):
            assert open_segment is None
            open_segment = e.segment
        elif isinstance(e, stc.AudioFrame):
            assert e.segment == open_segment is not None and e.sample_rate == 16000
            assert e.samples == started.samples_per_frame
        elif isinstance(e, stc.SegmentDone):
            assert e.segment == open_segment
            open_segment = None
    pcm = b"".join(e.data for e in events if isinstance(e, stc.AudioFrame))
    assert heard(pcm, 16000) == norm_text("".join(tokens))


def test_synthesize_returns_the_audio_of_the_text(server):
    text = "One more thing. It works."
    result = run(stc.synthesize(text, url=server.url, lang_code="en", sample_rate=22050,
                                timeout=T))
    assert result.sample_rate == 22050 and result.ended.reason == "completed"
    assert [s.text for s in result.segments] and result.time_to_first_audio is not None
    assert heard(result.pcm, 22050) == text


def test_segments_carry_the_text_as_written_and_as_spoken(server):
    async def body(**options):
        async with await stc.connect(server.url) as conn:
            session = conn.session(lang_code="en", **options)
            await session.send_text("It costs $5.")
            await session.end()
            return [event async for event in session.events(timeout=T)]

    events = run(body())
    [started] = [e for e in events if isinstance(e, stc.SegmentStarted)]
    [done] = [e for e in events if isinstance(e, stc.SegmentDone)]
    assert (started.text, started.spoken_text) == ("It costs $5.", "It costs five dollars.")
    assert (done.text, done.spoken_text) == ("It costs $5.", "It costs five dollars.")
    assert heard(b"".join(e.data for e in events if isinstance(e, stc.AudioFrame)), 24000) == "It costs five dollars."
    as_written = run(body(normalize=False))
    [started] = [e for e in as_written if isinstance(e, stc.SegmentStarted)]
    assert started.spoken_text == "It costs $5." and as_written[0].raw["normalize"] is False


async def test_failed_segment_is_an_error_event_and_the_session_goes_on(failing_model_server):
    fails = "This sentence is far too long for the failing model to speak."
    assert len(fails) > FAIL_ABOVE_TOKENS

    async with await stc.connect(failing_model_server.url) as conn:
        session = conn.session(lang_code="en")
        for text in ("First one.", fails):
            await session.send_text(text)
            await session.flush()
        await session.send_text("Last one.")
        await session.end()
        events = [event async for event in session.events(timeout=T)]

    errors = [e for e in events if isinstance(e, stc.Error)]
    assert len(errors) == 1, errors
    assert (errors[0].code, errors[0].retryable, errors[0].segment, errors[0].fatal) == ("internal", True, 1, False)
    assert isinstance(errors[0].exception(), stc.InternalServerError)
    assert [e.segment for e in events if isinstance(e, stc.SegmentDone)] == [0, 2]
    assert events[-1].reason == "completed"
    pcm = b"".join(e.data for e in events if isinstance(e, stc.AudioFrame))
    assert heard(pcm, events[0].sample_rate) == "First one. Last one."


async def test_refused_session_raises_by_code_and_the_connection_stays_usable(server):
    async with await stc.connect(server.url) as conn:
        with pytest.raises(stc.InvalidVoiceError) as refused:
            await conn.synthesize("Bad voice.", voice="Z9", lang_code="en", timeout=T)
        with pytest.raises(stc.InvalidLanguageError):
            await conn.synthesize("Bad language.", lang_code="xx", timeout=T)
        # The refused sessions' pipelined messages were answered with
        # no_session; the next session skips those answers.
        ok = await conn.synthesize("Still fine.", lang_code="en", timeout=T)
        error = refused.value

    assert error.code == "invalid_voice" and error.retryable is False
    assert isinstance(error, stc.InvalidConfigError) and isinstance(error, stc.ServerError)
    assert heard(ok.pcm, ok.sample_rate) == "Still fine."


def test_error_classes_follow_the_server_table():
    assert stc.server_error("capacity", "full").retryable is True
    assert isinstance(stc.server_error("capacity", "full"), stc.CapacityError)
    assert stc.server_error("internal", "x").retryable is True
    assert stc.server_error("invalid_sample_rate", "x").retryable is False
    unknown = stc.server_error("brand_new_code", "x", retryable=True)
    assert type(unknown) is stc.ServerError and unknown.retryable and unknown.code == "brand_new_code"


async def test_cancel_stops_a_session_and_the_next_one_hears_only_its_own_text(server):
    long_text = " ".join(f"Sentence number {i} is here." for i in range(10))

    async with await stc.connect(server.url) as conn:
        session = conn.session(lang_code="en")
        await session.send_text(long_text)
        frames = 0
        async for event in session.events(timeout=T):
            if isinstance(event, stc.AudioFrame):
                frames += 1
                if frames == 5:
                    break
        await session.cancel()
        cancelled = None
        async for event in session.events(timeout=T):
            if isinstance(event, stc.Cancelled):
                cancelled = event
                break
        # The session stays open after a cancel; end it.
        await session.end()
        rest = [e async for e in session.events(timeout=T)]
        # Barge-in helper: abort (cancel + end_session, no waiting), then
        # aclose() drains it so the connection can take a new session.
        second = conn.session(lang_code="en")
        await second.send_text(long_text)
        await second.abort()
        await second.aclose()
        assert second.ended is not None and not conn.closed
        after = await conn.synthesize("Only this.", lang_code="en", timeout=T)

    assert cancelled is not None and cancelled.segments_dropped >= 0
    assert not any(isinstance(e, stc.AudioFrame) for e in rest), "audio after cancelled"
    assert isinstance(rest[-1], stc.SessionEnded)
    assert heard(after.pcm, after.sample_rate) == "Only this."


async def test_session_state_is_checked_locally(server):
    async with await stc.connect(server.url) as conn:
        session = conn.session(lang_code="en")
        await session.send_text("Hi.")
        with pytest.raises(stc.SessionStateError):
            conn.session()                      # one session at a time
        await session.end()
        with pytest.raises(stc.SessionStateError):
            await session.send_text("more")     # nothing after end_session
        assert [e async for e in session.events(timeout=T)]
        assert await session.next_event() is None
        conn.session()                          # free again


async def test_connect_failures_are_transport_errors():
    from service_support import free_port
    with pytest.raises(stc.ConnectError) as refused:
        await stc.connect(f"ws://127.0.0.1:{free_port()}/ws/tts", open_timeout=5)
    error = refused.value

    assert error.retryable and isinstance(error, stc.TransportError)


# ---------------------------------------------------------------------------
# supertonic-say


def _say_command() -> list[str]:
    script = Path(sys.executable).parent / "supertonic-say"
    if script.exists():
        return [str(script)]
    return [str(VENV_PYTHON if VENV_PYTHON.exists() else sys.executable), "-m", "supertonic_client"]


def test_supertonic_say_writes_a_wav_that_speaks_the_text(server, tmp_path):
    text = "Hello from the command line. It writes a file."
    out = tmp_path / "say.wav"
    proc = subprocess.run(
        [*_say_command(), "--url", server.url, "--voice", "F2", "--lang", "en",
         "--sample-rate", "16000", text, "-o", str(out)],
        capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    result = decode_wav(out, REPO / "models" / "probe")
    assert result.sample_rate == 16000
    assert norm_text(result.text.replace("<en>", " ").replace("</en>", " ")) == text

    # Text from standard input; a refusal exits 1 with the server's code.
    piped = tmp_path / "stdin.wav"
    proc = subprocess.run([*_say_command(), "--url", server.url, "--lang", "en", "-o", str(piped)],
                          input="From standard input.", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "From standard input." in decode_wav(piped, REPO / "models" / "probe").text
    proc = subprocess.run([*_say_command(), "--url", server.url, "--voice", "Z9", "x", "-o",
                           str(tmp_path / "bad.wav")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "invalid_voice" in proc.stderr, proc.stderr
    assert not (tmp_path / "bad.wav").exists()
