"""Dynamic batching across sessions changes nothing a session hears,
on real server processes and real graphs.

* Probe model: a server that batches (TTS_MAX_BATCH=8, TTS_BATCH_WAIT_MS,
  one inference worker) and one that does not (TTS_MAX_BATCH=1) get the same
  concurrent sessions (mixed lengths, voices, languages, speeds, rates). The
  first must really put segments of different sessions in one model call
  (`tts_batch_size`, and `batch_size` in `segment_done`), every session's
  audio must decode to its text, and each session's PCM must be the same,
  byte for byte, on both servers.
* Faithful model (pads like the published graphs; the engine rewrites the pads
  at load and measures batched against alone): the same comparison; its audio
  is not bit-exact across batch shapes (float sums in another order), so the
  same sample counts and every sample within 1 LSB, few of them off at all.
* Fallback: the faithful model with one text-encoder edge Pad the rewrite no
  longer recognizes (an Identity between `x * mask` and the Pad). The load-time
  probe must turn mixed-length batches off and say why, the server must then
  run one segment per model call whatever TTS_MAX_BATCH says, and sessions
  must sound as they do on an unbatched server.

Whether segments share a model call depends on when they reach the server:
every session is opened first, then all their text is sent at once, and a
round in which nothing was batched (a slow machine) is run again, a bounded
number of times, before the test fails.
"""
from __future__ import annotations

import asyncio
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from service_support import (
    END, FLUSH, REPO, Metrics, ServerProcess, ServerStartError, SessionLog, WsClient, assert_session_speaks,
    collect, collect_session, is_type, requires_server_binary, run, start_msg, text_msg,
)

pytestmark = requires_server_binary

FAITHFUL = REPO / "models" / "faithful"
requires_faithful = pytest.mark.skipif(not (FAITHFUL / "onnx" / "vocoder.onnx").exists(),
                                       reason="models/faithful is missing (run `make models`)")

SANITIZER = os.environ.get("SUPERTONIC_SANITIZER", "")
SLOW = 10 if SANITIZER else 1          # sanitizer builds run the model many times slower
ROUNDS = 4                             # attempts at a round in which the server batches
BATCH_WAIT_MS = 100

BATCHED = dict(TTS_MAX_BATCH=8, TTS_BATCH_WAIT_MS=BATCH_WAIT_MS, TTS_INFERENCE_WORKERS=1)
UNBATCHED = dict(TTS_MAX_BATCH=1, TTS_INFERENCE_WORKERS=1)


@dataclass(frozen=True)
class Spec:
    """One session: its settings and its text, one segment per entry (each is
    followed by a flush, so the cuts do not depend on timing)."""
    name: str
    lang: str
    voice: str
    speed: float
    rate: int
    texts: tuple[str, ...]

    def config(self) -> dict:
        return {"lang_code": self.lang, "voice": self.voice, "speed": self.speed, "sample_rate": self.rate}


PROBE_SESSIONS = [
    Spec("en", "en", "F1", 1.0, 24000, ("Hi.", "How are you doing today, my good old friend?")),
    Spec("pt", "pt", "M3", 1.3, 16000, ("Olá, tudo bem com você por aí?", "Sim.")),
    Spec("es", "es", "F5", 0.8, 48000, ("Buenas noches, amigo mío.", "Hasta mañana por la tarde.")),
    Spec("fr", "fr", "M5", 1.05, 22050, ("Bonne nuit.", "À demain, mes amis!")),
    Spec("ko", "ko", "F2", 1.6, 24000, ("안녕하세요.", "반갑습니다, 친구.")),
]

# Short texts: the faithful model's cost grows with the audio.
FAITHFUL_SESSIONS = [
    Spec("en", "en", "F1", 1.0, 24000, ("Hi.", "How are you doing today?")),
    Spec("pt", "pt", "M2", 1.3, 16000, ("Olá, tudo bem?", "Sim.")),
    Spec("es", "es", "F4", 0.9, 48000, ("Buenas noches, amigo.", "Hasta luego.")),
    Spec("fr", "fr", "M5", 1.1, 22050, ("Bonne nuit.", "À demain!")),
]


# ---------------------------------------------------------------------------
# Servers and rounds


@contextmanager
def serving(log_dir: Path, timeout: float = 60.0, **env) -> Iterator[ServerProcess]:
    """A started server, stopped when the block ends."""
    server = ServerProcess(log_dir, **env)
    try:
        server.start(timeout=timeout * SLOW)
    except ServerStartError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def log_text(server: ServerProcess) -> str:
    return server.log_path.read_text(encoding="utf-8", errors="replace")


def batch_histogram(server: ServerProcess) -> tuple[dict[float, float], float]:
    """tts_batch_size: cumulative bucket counts by upper bound, and the count."""
    m: Metrics = server.metrics()
    buckets = {float(labels["le"].replace("+Inf", "inf")): v
               for name, labels, v in m.samples if name == "tts_batch_size_bucket"}
    assert 1.0 in buckets, f"no tts_batch_size bucket le=1 in /metrics: {sorted(buckets)}"
    return buckets, m.get("tts_batch_size_count")


@dataclass
class BatchFigures:
    calls: int            # model calls in the round
    above_one: int        # of them, with more than one segment
    by_bucket: dict       # calls per bucket ("<=1", "<=2", ...) in the round

    def __str__(self) -> str:
        return f"{self.calls} model calls, {self.above_one} of more than one segment, per bucket {self.by_bucket}"


def batch_delta(before, after) -> BatchFigures:
    (b0, c0), (b1, c1) = before, after
    bounds = sorted(b1)
    cumulative = {le: b1[le] - b0.get(le, 0.0) for le in bounds}
    by_bucket, previous = {}, 0.0
    for le in bounds:
        if cumulative[le] - previous:
            by_bucket[f"<={le:g}"] = int(cumulative[le] - previous)
        previous = cumulative[le]
    calls = int(c1 - c0)
    return BatchFigures(calls, calls - int(cumulative[1.0]), by_bucket)


async def one_round(server: ServerProcess, specs: list[Spec], tag: str, timeout: float) -> list[SessionLog]:
    """All sessions open at once, then all their text at once: each session's
    segments reach the scheduler together with the others'."""
    clients: list[WsClient] = []
    try:
        for _ in specs:
            clients.append(await WsClient.open(server.url))
        logs = [SessionLog(f"{tag}-{spec.name}") for spec in specs]
        for client, log, spec in zip(clients, logs, specs):
            await client.send(start_msg(log.session_id, **spec.config()))
        for client, log in zip(clients, logs):
            await collect(client, log, is_type("session_started"), timeout=10 * SLOW)
        for client, spec in zip(clients, specs):
            messages: list[dict] = []
            for text in spec.texts:
                messages += [text_msg(text), FLUSH]
            messages.append(END)
            await client.send_all(messages)
        return list(await asyncio.gather(*(collect_session(c, log, timeout) for c, log in zip(clients, logs))))
    finally:
        for client in clients:
            await client.close()


def run_round(server: ServerProcess, specs: list[Spec], tag: str,
              timeout: float) -> tuple[list[SessionLog], BatchFigures]:
    before = batch_histogram(server)
    logs = run(one_round(server, specs, tag, timeout * SLOW), timeout=2 * timeout * SLOW + 30)
    return logs, batch_delta(before, settled_batch_histogram(server))


def settled_batch_histogram(server: ServerProcess) -> tuple[dict[float, float], float]:
    """The histogram once the round's last call is in it: the worker records a
    call just after handing its last audio over, so a client can see its
    session end a moment before /metrics counts the call. Two scrapes 0.3 s
    apart that agree (within 10 s)."""
    last = batch_histogram(server)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = batch_histogram(server)
        if now[1] == last[1]:
            return now
        last = now
    return last


def batch_sizes(log: SessionLog) -> list[int]:
    return [int(s.done["batch_size"]) for s in log.completed()]


def check_segments(log: SessionLog, spec: Spec) -> None:
    assert [s.text.strip() for s in log.completed()] == list(spec.texts), (
        f"session {log.session_id}: segments {[s.text for s in log.segments]}, expected one per text {spec.texts}")
    assert log.started["sample_rate"] == spec.rate and log.started["voice"] == spec.voice


def run_batched_until_it_batches(server: ServerProcess, specs: list[Spec], timeout: float):
    """Rounds on the batching server until one puts several segments in one
    model call (at most ROUNDS); every round is returned, the last batched."""
    rounds = []
    for attempt in range(ROUNDS):
        logs, figures = run_round(server, specs, f"batched-{attempt}", timeout)
        rounds.append((logs, figures))
        if figures.above_one > 0:
            return rounds
    pytest.fail(f"the server with TTS_MAX_BATCH=8, TTS_BATCH_WAIT_MS={BATCH_WAIT_MS} never put two segments in one "
                f"model call in {ROUNDS} rounds of {len(specs)} concurrent sessions: "
                + "; ".join(str(f) for _, f in rounds), pytrace=False)


def samples(log: SessionLog) -> np.ndarray:
    return np.frombuffer(log.pcm(), dtype="<i2").astype(np.int32)


def compare_within_one_lsb(a: SessionLog, b: SessionLog, what: str, max_share: float = 0.01) -> dict:
    """Same sample count and every sample within 1 LSB; at most `max_share` of them differ."""
    sa, sb = samples(a), samples(b)
    assert sa.size == sb.size, f"{what}: {sa.size} samples batched, {sb.size} unbatched"
    diff = np.abs(sa - sb)
    figures = {"samples": int(sa.size), "differing": int(np.count_nonzero(diff)),
               "max_lsb": int(diff.max()) if diff.size else 0}
    assert figures["max_lsb"] <= 1, f"{what}: samples differ by up to {figures['max_lsb']} LSB ({figures})"
    assert figures["differing"] <= max_share * sa.size, (
        f"{what}: {figures['differing']} of {sa.size} samples differ (more than {max_share:.0%})")
    return figures


def assert_not_silent(log: SessionLog, what: str) -> None:
    for seg in log.completed():
        s = np.frombuffer(seg.pcm(), dtype="<i2").astype(np.float64)
        rms = float(np.sqrt(np.mean(s * s))) if s.size else 0.0
        assert s.size and rms > 100, f"{what}: segment {seg.index} ({seg.text!r}) is silent (RMS {rms:.1f})"


# ---------------------------------------------------------------------------
# 1. Probe model: batched audio equals unbatched audio byte for byte


def test_probe_batched_sessions_sound_exactly_as_unbatched(tmp_path):
    with serving(tmp_path / "unbatched", **UNBATCHED) as b:
        reference, figures_b = run_round(b, PROBE_SESSIONS, "unbatched", timeout=30)
        assert figures_b.above_one == 0, f"TTS_MAX_BATCH=1 batched: {figures_b}"
        assert "batches of up to: supertonic-2 1" in log_text(b)
    with serving(tmp_path / "batched", **BATCHED) as a:
        assert "batching: mixed-length batches exact" in log_text(a), log_text(a)[-3000:]
        rounds = run_batched_until_it_batches(a, PROBE_SESSIONS, timeout=30)

    for attempt, (logs, figures) in enumerate(rounds):
        for spec, log, ref in zip(PROBE_SESSIONS, logs, reference):
            what = f"round {attempt} ({figures}), session {spec.name}"
            check_segments(log, spec)
            check_segments(ref, spec)
            assert_session_speaks(log, list(spec.texts), spec.lang)
            assert [s.text for s in log.segments] == [s.text for s in ref.segments]
            assert len(log.pcm()) == len(ref.pcm()), (
                f"{what}: {len(log.pcm()) // 2} samples batched, {len(ref.pcm()) // 2} unbatched")
            assert log.pcm() == ref.pcm(), (
                f"{what}: batched PCM differs from unbatched in {int(np.count_nonzero(samples(log) - samples(ref)))} "
                f"samples (batch sizes {batch_sizes(log)})")
    logs, figures = rounds[-1]
    # The segments' own view agrees with the metric: some were synthesized with other sessions' segments.
    assert any(size > 1 for log in logs for size in batch_sizes(log)), (
        f"tts_batch_size says {figures}, yet every segment_done says batch_size 1")
    print(f"\nprobe: {len(rounds)} round(s); last: {figures}; batch sizes per session "
          f"{ {spec.name: batch_sizes(log) for spec, log in zip(PROBE_SESSIONS, logs)} }")


# ---------------------------------------------------------------------------
# 2. Faithful model: batched audio within 1 LSB of unbatched

FAITHFUL_ENV = dict(TTS_MODEL_DIR=FAITHFUL, TTS_NUM_INFERENCE_STEPS=2, TTS_INTRA_OP_THREADS=2)


@pytest.mark.slow
@requires_faithful
def test_faithful_batched_sessions_sound_as_unbatched_within_one_lsb(tmp_path):
    with serving(tmp_path / "unbatched", **FAITHFUL_ENV, **UNBATCHED) as b:
        reference, figures_b = run_round(b, FAITHFUL_SESSIONS, "unbatched", timeout=120)
        assert figures_b.above_one == 0, f"TTS_MAX_BATCH=1 batched: {figures_b}"
    with serving(tmp_path / "batched", **FAITHFUL_ENV, **BATCHED) as a:
        log_a = log_text(a)
        assert "batching: mixed-length batches exact" in log_a, log_a[-3000:]
        assert "batches of up to: supertonic-2 8" in log_a, log_a[-3000:]
        rounds = run_batched_until_it_batches(a, FAITHFUL_SESSIONS, timeout=120)

    report = {}
    for attempt, (logs, figures) in enumerate(rounds):
        for spec, log, ref in zip(FAITHFUL_SESSIONS, logs, reference):
            what = f"round {attempt} ({figures}), session {spec.name} (batch sizes {batch_sizes(log)})"
            check_segments(log, spec)
            check_segments(ref, spec)
            assert_not_silent(log, what)
            assert_not_silent(ref, f"unbatched session {spec.name}")
            report[spec.name] = {**compare_within_one_lsb(log, ref, what), "batch_sizes": batch_sizes(log)}
    logs, figures = rounds[-1]
    assert any(size > 1 for log in logs for size in batch_sizes(log)), (
        f"tts_batch_size says {figures}, yet every segment_done says batch_size 1")
    print(f"\nfaithful: {len(rounds)} round(s); last: {figures}; per session {report}")


# ---------------------------------------------------------------------------
# 3. Fallback: a pad the rewrite cannot handle turns batching off


def model_with_an_unrewritable_pad(model_dir: Path) -> tuple[str, int]:
    """models/faithful with text_encoder.onnx edited so that its first edge
    Pad reads `Identity(x * mask)` instead of the Mul itself; the other graphs
    and assets are symlinks. Returns the Pad's name and the graph's number of
    edge Pads."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(FAITHFUL / "onnx" / "text_encoder.onnx"))
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}

    def edge_pad(node) -> bool:
        mode = next((a.s for a in node.attribute if a.name == "mode"), b"constant")
        return node.op_type == "Pad" and mode == b"edge"

    def of_a_mul(node) -> bool:
        producer = producers.get(node.input[0]) if node.input else None
        return producer is not None and producer.op_type == "Mul"

    edge_pads = sum(1 for node in graph.node if edge_pad(node))
    index = next((i for i, node in enumerate(graph.node) if edge_pad(node) and of_a_mul(node)), None)
    assert index is not None, "the faithful text encoder has no edge Pad of a Mul (x * mask)"
    pad = graph.node[index]
    masked = pad.input[0]
    hidden = masked + "_through_identity"
    pad.input[0] = hidden
    graph.node.insert(index, onnx.helper.make_node("Identity", [masked], [hidden], name="HidesTheMask"))
    onnx.checker.check_model(model)

    (model_dir / "onnx").mkdir(parents=True)
    onnx.save(model, str(model_dir / "onnx" / "text_encoder.onnx"))
    for entry in (FAITHFUL / "onnx").iterdir():
        if entry.name != "text_encoder.onnx":
            (model_dir / "onnx" / entry.name).symlink_to(entry.resolve())
    (model_dir / "voice_styles").symlink_to((FAITHFUL / "voice_styles").resolve())
    return pad.name, edge_pads


@pytest.mark.slow
@requires_faithful
def test_a_pad_the_rewrite_cannot_handle_turns_batching_off_and_sessions_still_speak(tmp_path):
    model_dir = tmp_path / "model"
    pad_name, pads = model_with_an_unrewritable_pad(model_dir)
    env = dict(FAITHFUL_ENV, TTS_MODEL_DIR=model_dir)

    with serving(tmp_path / "unbatched", **env, **UNBATCHED) as b:
        reference, _ = run_round(b, FAITHFUL_SESSIONS, "unbatched", timeout=120)
    with serving(tmp_path / "batched", **env, **BATCHED) as a:
        log_a = log_text(a)
        off = [line for line in log_a.splitlines() if "batching: mixed-length batches off" in line]
        assert off, f"no 'batching: mixed-length batches off' in the log:\n{log_a[-3000:]}"
        # The probe measured the edited graph (the reason), and the rewrite says which pad it left.
        reason = off[0].split("mixed-length batches off: ", 1)[1].split(";", 1)[0]
        assert reason.startswith("text_encoder gives a short item"), f"the reason does not name text_encoder: {off[0]}"
        left = (f"text_encoder: {pads - 1} of {pads} edge pads rewritten, "
                f"1 not batch-exact ({pad_name}: its input is not x * mask)")
        assert left in off[0], off[0]
        assert "mixed-length batches exact" not in log_a
        one = [line for line in log_a.splitlines() if "batches of one segment, not 8 (TTS_MAX_BATCH)" in line]
        assert one, f"no 'batches of one segment, not 8 (TTS_MAX_BATCH)' in the log:\n{log_a[-3000:]}"
        assert "text_encoder" in one[0], one[0]
        assert "batches of up to: supertonic-2 1" in log_a, log_a[-3000:]
        # Concurrent sessions, sent as in the batched tests: still one segment per model call.
        logs, figures = run_round(a, FAITHFUL_SESSIONS, "fallback", timeout=120)

    segments = sum(len(spec.texts) for spec in FAITHFUL_SESSIONS)
    assert figures.above_one == 0, f"batching is off, yet: {figures}"
    assert figures.calls == segments, f"{segments} segments, {figures}"
    report = {}
    for spec, log, ref in zip(FAITHFUL_SESSIONS, logs, reference):
        what = f"session {spec.name}"
        check_segments(log, spec)
        check_segments(ref, spec)
        assert batch_sizes(log) == [1] * len(spec.texts), f"{what}: batch sizes {batch_sizes(log)}"
        assert log.pcm(), f"{what}: no audio"
        assert_not_silent(log, what)
        report[spec.name] = compare_within_one_lsb(log, ref, what)
    print(f"\nfallback ({pad_name} not rewritten): {figures}; per session {report}")
