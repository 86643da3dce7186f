"""Word timings (`config.word_timings: true`) on the probe model, whose audio
encodes every character at a known time: the server's word times must match
the decoded characters' times within one latent frame, name the words as the
client wrote them (normalized or not), and come right after segment_started,
before the segment's audio, on the session's audio timeline."""
from __future__ import annotations

import pytest

from service_support import (
    CANCEL, END, SessionLog, WsClient, assert_error, collect, collect_session, heard_word_times, is_type,
    requires_server_binary, run,
    run_session, start_msg, text_msg,
)

from tools.probe_decode import FRAME_S  # noqa: E402 (service_support puts the repo on the path)

pytestmark = requires_server_binary

FRAME_MS = 1000.0 * FRAME_S  # one latent frame of the probe: 69.66 ms
# What the issue asks is one frame. The server places an id at the first latent
# frame of its share, as the probe does, so the times come out exact up to the
# decoder's resolution (measured: under 0.1 ms); 5 ms still catches an error of
# a fraction of a frame (a missed trim shift, the tags left out of the count).
TOLERANCE_MS = 5.0


def heard_words(segment, sample_rate: int) -> list[tuple[str, float, float]]:
    """(word, start_ms, end_ms) of the words the segment's audio says, from the
    start of the segment's audio."""
    return [(w, 1000 * a, 1000 * b) for w, a, b in heard_word_times(segment.decode(sample_rate))]


def speak(server, texts: list[str], **config) -> SessionLog:
    async def body():
        c = await WsClient.open(server.url)
        try:
            return await run_session(c, "words", texts, {"word_timings": True, **config}, flush_each=True)
        finally:
            await c.close()
    log = run(body(), timeout=60)
    log.check()
    return log


def segment_starts_ms(log: SessionLog) -> list[float]:
    starts, at = [], 0.0
    for seg in log.segments:
        starts.append(at)
        at += len(seg.frames) * log.frame_ms
    return starts


def assert_close(got: float, want: float, what: str) -> None:
    assert abs(got - want) <= TOLERANCE_MS, f"{what}: {got:.1f} ms, the audio says {want:.1f} ms"
    assert TOLERANCE_MS < FRAME_MS


@pytest.mark.parametrize("speed", [0.9, 1.0])
def test_word_times_match_the_audio_within_one_frame(server, speed):
    texts = ["Hello there, brave new world.", "The quick brown fox jumps over the lazy dog!"]
    log = speak(server, texts, lang_code="en", speed=speed)
    assert log.started["word_timings"] is True
    assert [s.text for s in log.completed()] == texts
    for seg, start in zip(log.completed(), segment_starts_ms(log)):
        words = seg.word_timings
        assert words is not None, f"no word_timings for segment {seg.index}"
        assert [w["word"] for w in words] == seg.text.split()
        heard = heard_words(seg, log.sample_rate)
        assert [h[0] for h in heard] == seg.text.split()
        for w, (text, h_start, h_end) in zip(words, heard):
            assert_close(w["start_ms"] - start, h_start, f"start of {text!r}")
            assert_close(w["end_ms"] - start, h_end, f"end of {text!r}")
        times = [t for w in words for t in (w["start_ms"], w["end_ms"])]
        assert times == sorted(times), "word times must not go back"


# (as written, the written words rewritten, the spoken words they became)
REWRITTEN = [
    ("It costs $5.50 today.", ["$5.50"], "five dollars and fifty cents"),
    ("Call 555-123-4567 now.", ["555-123-4567"], "five five five, one two three, four five six seven"),
    ("It was 2024-03-15 then.", ["2024-03-15"], "March fifteenth, twenty twenty-four"),
    ("Dr. Smith came today.", ["Dr."], "Doctor"),
]


@pytest.mark.parametrize("written,rewritten,said", REWRITTEN, ids=[c[0] for c in REWRITTEN])
def test_normalized_words_are_named_as_written_and_timed_as_said(server, written, rewritten, said):
    log = speak(server, [written], lang_code="en")
    [seg] = log.completed()
    assert said in seg.spoken_text
    words = seg.word_timings
    assert [w["word"] for w in words] == written.split(), "the words as the client wrote them"
    heard = heard_words(seg, log.sample_rate)
    spoken_words = seg.spoken_text.split()
    assert [h[0] for h in heard] == spoken_words
    # Where the rewritten run sits among the spoken words.
    said_words = said.split()
    begin = next(i for i in range(len(spoken_words)) if spoken_words[i:i + len(said_words)] == said_words)
    end = begin + len(said_words) - 1
    run_ = [w for w in words if w["word"] in rewritten]
    assert_close(run_[0]["start_ms"], heard[begin][1], f"start of {rewritten[0]!r} (said {said!r})")
    assert_close(run_[-1]["end_ms"], heard[end][2], f"end of {rewritten[-1]!r} (said {said!r})")
    # The words around it keep their own times.
    for w in words:
        if w["word"] not in rewritten:
            [(_, h_start, h_end)] = [h for h in heard if h[0] == w["word"]]
            assert_close(w["start_ms"], h_start, f"start of {w['word']!r}")
            assert_close(w["end_ms"], h_end, f"end of {w['word']!r}")


def test_markdown_marks_are_words_of_no_time(server):
    log = speak(server, ["This is **really** important - honestly."], lang_code="en")
    [seg] = log.completed()
    words = {w["word"]: w for w in seg.word_timings}
    assert list(words) == ["This", "is", "**really**", "important", "-", "honestly."]
    heard = dict((h[0], h[1:]) for h in heard_words(seg, log.sample_rate))
    assert_close(words["**really**"]["start_ms"], heard["really"][0], "start of **really**")
    assert_close(words["**really**"]["end_ms"], heard["really"][1], "end of **really**")
    times = [t for w in seg.word_timings for t in (w["start_ms"], w["end_ms"])]
    assert times == sorted(times)


async def test_without_the_option_no_word_timings_are_sent(server):
    c = await WsClient.open(server.url)
    try:
        log = await run_session(c, "plain", ["Hello there."], {"lang_code": "en"})
    finally:
        await c.close()
    assert log.started["word_timings"] is False
    assert all(s.word_timings is None for s in log.segments)
    assert not [e for e in log.events if not e.binary and e.type == "word_timings"]


async def test_a_wrong_word_timings_type_is_a_clear_error(server):
    c = await WsClient.open(server.url)
    try:
        await c.send(start_msg("bad", word_timings="yes"))
        message = await c.recv_json()
    finally:
        await c.close()
    assert_error(message, "invalid_message")
    assert "word_timings" in message["message"]


async def test_after_a_cancel_word_times_continue_on_the_session_timeline(server):
    """The timeline counts the audio sent, so after a cancel the next turn's
    words start where its audio does."""
    c = await WsClient.open(server.url)
    try:
        log = SessionLog("cancel")
        await c.send_all([start_msg("cancel", word_timings=True, lang_code="en"),
                          text_msg("One two three four five six seven eight nine ten. " * 3)])
        await collect(c, log, lambda e: e.binary)
        await c.send(CANCEL)
        await collect(c, log, is_type("cancelled"))
        await c.send_all([text_msg("Back again."), END])
        log = await collect_session(c, log)
    finally:
        await c.close()
    last = log.completed()[-1]
    assert last.text == "Back again."
    sent_before_ms = sum(len(s.frames) for s in log.segments[:-1]) * log.frame_ms
    heard = heard_words(last, log.sample_rate)
    for w, (_, h_start, h_end) in zip(last.word_timings, heard):
        assert_close(w["start_ms"] - sent_before_ms, h_start, f"start of {w['word']!r}")
        assert_close(w["end_ms"] - sent_before_ms, h_end, f"end of {w['word']!r}")
