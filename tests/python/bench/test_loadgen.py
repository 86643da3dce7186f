"""Smoke tests of the voice-agent load generator (bench/loadgen.py) and the
service benchmark runner (bench/service_bench.py) on the probe model: the quick
mode runs end to end (both servers, N in {1,4}, the engine floor, JSON and
PNG) with sane figures; a barge-in run against a test server sends cancels
cleanly; the tokenizer and the first-sentence timing rule hold."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from service_support import REPO, ensure_probe_model, requires_server_binary

sys.path.insert(0, str(REPO / "bench"))
import loadgen  # noqa: E402

ENGINE_BENCH = REPO / "build" / "bin" / "engine_bench"


def test_tokens_rebuild_every_corpus_sentence():
    for lang, sentences in loadgen.CORPUS.items():
        assert lang in loadgen.LANGS and len(sentences) >= 10
        for s in sentences:
            tokens = loadgen.tokenize(s)
            assert "".join(tokens) == s
            assert len(tokens) >= 2, s
            assert all(t.strip() for t in tokens), tokens


def test_replies_are_deterministic():
    import random
    cfg = loadgen.LoadConfig()
    a = [loadgen.plan_turn(random.Random("1/0"), cfg, 0, t).text for t in range(5)]
    b = [loadgen.plan_turn(random.Random("1/0"), cfg, 0, t).text for t in range(5)]
    assert a == b


def test_first_segment_completion_token():
    text = "Sure, I can help with that. Would you like me to book it?"
    tokens = loadgen.tokenize(text)
    # The sentence is complete when the whitespace after its "." arrives: the token " Would".
    cut, last = loadgen._first_segment_complete_index(text, tokens, "Sure, I can help with that.")
    assert tokens[last] == "." and tokens[cut] == " Would"
    # A single-sentence reply is cut by end_session.
    cut, last = loadgen._first_segment_complete_index("Great choice!", loadgen.tokenize("Great choice!"),
                                                      "Great choice!")
    assert cut is None and last is not None


def _check_level(level: dict, n: int) -> None:
    assert level["sessions"] == n
    assert level["turns"] >= n and level["turns_ok"] == level["turns"], level
    assert level["errors"] == {}, level["errors"]
    for key in ("ttfa_ms", "ttfa_sentence_ms", "ttla_ms"):
        stats = level[key]
        assert stats is not None and stats["n"] > 0, (key, level)
        assert 0 < stats["p50"] <= stats["p95"] <= stats["p99"] < 30000, (key, stats)
    assert level["ttfa_ms"]["p50"] >= level["ttfa_sentence_ms"]["p50"]
    assert level["ttla_ms"]["p50"] >= level["ttfa_ms"]["p50"]
    u = level["underruns"]
    assert set(u) >= {"events", "ms", "turns_with_underrun", "events_per_turn", "ms_per_turn"}
    assert u["events"] >= 0 and u["ms"] >= 0
    assert level["chars_per_s"] > 0 and level["chars_completed"] > 0 and level["audio_s"] > 0
    assert level["rtf"] is not None and level["rtf"]["p50"] > 0


@pytest.mark.slow
@requires_server_binary
@pytest.mark.skipif(not ENGINE_BENCH.exists(), reason="build/bin/engine_bench is not built")
def test_service_bench_quick_mode(tmp_path):
    pytest.importorskip("matplotlib")
    probe = ensure_probe_model()
    out, png = tmp_path / "service.json", tmp_path / "service.png"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "service_bench.py"), "--quick", "--model-dir",
                           str(probe), "--out", str(out), "--png", str(png)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["workload"]["quick"] is True
    assert set(report["modes"]) == {"ours", "baseline"}
    for mode in report["modes"].values():
        assert "serve" in mode["server_command"]
        assert [lv["sessions"] for lv in mode["levels"]] == [1, 4]
        for lv in mode["levels"]:
            _check_level(lv, lv["sessions"])
            # Where the time went: every stage ran, and the model calls match the segments done.
            profile = lv["profile"]
            assert set(profile["model_s_by_stage"]) == {"duration_predictor", "text_encoder", "vector_estimator",
                                                        "vocoder"}, profile
            assert profile["model_s"] > 0 and 0 < profile["model_busy_share"], profile
            assert profile["server_cpu_cores"] > 0, profile
            assert profile["model_calls"] >= 1
    assert report["modes"]["ours"]["env"]["TTS_SCHEDULER"] == "fair"
    assert report["modes"]["baseline"]["env"]["TTS_MAX_BATCH"] == "1"
    floor = report["engine_floor"]
    assert floor["texts"] and all(t["median_ms"] > 0 for t in floor["texts"])
    assert floor["median_of_medians_ms"] > 0
    targets = report["targets"]
    assert set(targets) == {"one_session", "n32", "underrun_free"}
    assert targets["one_session"]["turns"] > 0 and targets["one_session"]["met"] in (True, False)
    assert targets["n32"]["met"] is None  # no N=32 in the quick mode
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@requires_server_binary
def test_loadgen_barge_in(start_server, tmp_path):
    server = start_server()
    out = tmp_path / "load.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "loadgen.py"), "--url", server.url,
                           "--sessions", "2", "--turns", "2", "--think", "0.05,0.1", "--no-wait-playback",
                           "--barge-in", "1", "--barge-delay", "0,0.05", "--sentences", "3,4", "--raw",
                           "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["schema"] == loadgen.SCHEMA
    (level,) = report["levels"]
    assert level["errors"] == {}, level
    assert level["turns"] == 4 and level["barge_ins"] == 4
    records = report["raw"]["2"]
    assert len(records) == 4
    for r in records:
        assert r["barge_in"] and r["ttfa_ms"] > 0 and r["ended_reason"] == "completed", r
        assert r["chars_completed"] <= r["chars_sent"]
    # Some cancels reach an open session (3-4 sentences are still being streamed
    # right after the first audio); each is confirmed by `cancelled`.
    sent = [r for r in records if r["cancel_sent"] and not r["barge_late"]]
    assert sent and all(r["cancelled_segments"] is not None for r in sent), records
