#!/usr/bin/env python3
"""Service benchmark : the voice-agent load generator
(bench/loadgen.py) against servers this script starts itself, one per mode,
sweeping the number of concurrent sessions N, plus the engine-only latency of
the same first sentences (the floor for time to first audio).

Modes (each a `build/bin/supertonic-tts serve` on 127.0.0.1 with this env):
  ours      the server's defaults: TTS_SCHEDULER=fair (earliest deadline first), automatic
            TTS_MAX_BATCH / TTS_INFERENCE_WORKERS (2-core CPU: 1 and 1)  (--ours-env to change)
  fast      ours with TTS_BACKEND=openvino TTS_PRECISION=bf16 (--modes ours,fast,baseline to add it)
  baseline  TTS_SCHEDULER=fifo  TTS_MAX_BATCH=1  TTS_INFERENCE_WORKERS=1, all cores in
            the one model call (the seed's design)

Both servers run side by side (an idle one costs nothing) and the modes
alternate at each N, so drift of a shared machine hits both. A mode stops
sweeping once it is saturated (TTFA p95 from the first token > --stop-p95-ms).
After N=1, the engine floor is measured with build/bin/engine_bench (warm, in
process, --floor-reps repetitions per text) on the first segments the N=1 turns
produced. Writes --out (JSON: commands, date, machine, config, every level of
every mode, the floor and the issue's target checks) and --png.

    build/venv/bin/python bench/service_bench.py                 # the full sweep (faithful model)
    build/venv/bin/python bench/service_bench.py --quick     # smoke test, probe model, build/service_bench_quick.*
    build/venv/bin/python bench/service_bench.py --trim-study  # silence trimming before/after (see trim_study)
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import loadgen  # noqa: E402

BINARY = Path(os.environ.get("SUPERTONIC_TTS_BINARY") or REPO / "build" / "bin" / "supertonic-tts")
ENGINE_BENCH = REPO / "build" / "bin" / "engine_bench"
VENV_PYTHON = REPO / "build" / "venv" / "bin" / "python"

MODES = {
    "ours": {"TTS_SCHEDULER": "fair", "TTS_MAX_BATCH": "0", "TTS_INFERENCE_WORKERS": "0", "TTS_BATCH_WAIT_MS": "0"},
    "baseline": {"TTS_SCHEDULER": "fifo", "TTS_MAX_BATCH": "1", "TTS_INFERENCE_WORKERS": "1",
                 "TTS_BATCH_WAIT_MS": "0"},
    # ours on the fast CPU backend (docs/engine.md, Backends): --modes ours,fast[,baseline]
    "fast": {"TTS_SCHEDULER": "fair", "TTS_MAX_BATCH": "0", "TTS_INFERENCE_WORKERS": "0", "TTS_BATCH_WAIT_MS": "0",
             "TTS_BACKEND": "openvino", "TTS_PRECISION": "bf16"},
}
MODE_NOTES = {
    "ours": "the server's defaults: earliest-deadline-first scheduler (first segments due at once, later ones "
            "when their listener would run out of audio, round robin among equal deadlines); automatic batch size "
            "and inference workers (on a 2-core CPU: batches of 1, one model call at a time on both cores)",
    "baseline": "the seed's design: one FIFO queue, one segment per model call, one call at a time using every core",
    "fast": "ours with TTS_BACKEND=openvino TTS_PRECISION=bf16 (the vector estimator and vocoder in bf16); the "
            "engine floor stays the onnxruntime engine's",
}

TARGET_1SESSION_EXCESS_MS = 15.0
TARGET_N = 32
TARGET_CHARS_RATIO = 1.5
TARGET_P95_RATIO = 2.0


def rel(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


# ---------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def stage_seconds(port: int) -> dict[str, float]:
    """Model time so far by pipeline stage (tts_inference_seconds_sum, summed
    over models), plus model calls (its _count for the vocoder)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r'tts_inference_seconds_(sum|count)\{([^}]*)\} (\S+)', line)
        stage = re.search(r'stage="(\w+)"', m.group(2)) if m else None
        if not stage:
            continue
        if m.group(1) == "sum":
            out[stage.group(1)] = out.get(stage.group(1), 0.0) + float(m.group(3))
        elif stage.group(1) == "vocoder":
            out["model_calls"] = out.get("model_calls", 0.0) + float(m.group(3))
    return out


def level_profile(before: dict[str, float], after: dict[str, float], cpu_s: float, wall_s: float) -> dict:
    """Where the time of a level went: model seconds per stage (summed over
    concurrent model calls), their share of the level's wall time, and the
    server's CPU use in cores."""
    stages = {k: round(after.get(k, 0.0) - before.get(k, 0.0), 3) for k in after if k != "model_calls"}
    model_s = sum(stages.values())
    return {"model_s_by_stage": stages, "model_s": round(model_s, 3),
            "model_calls": int(after.get("model_calls", 0) - before.get("model_calls", 0)),
            "model_busy_share": round(model_s / wall_s, 3) if wall_s > 0 else None,
            "server_cpu_cores": round(cpu_s / wall_s, 2) if wall_s > 0 else None}


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_status(url: str, timeout: float = 2.0) -> int:
    try:
        with _OPENER.open(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


class Server:
    """One `supertonic-tts serve` on 127.0.0.1 with its own port, env and log."""

    def __init__(self, name: str, model_dir: Path, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {"TTS_HOST": "127.0.0.1", "TTS_PORT": str(self.port), "TTS_MODEL_DIR": rel(model_dir),
                    "TTS_DEVICE": "cpu", "LOG_LEVEL": "WARN", **env}
        self.log_path = log_dir / f"server-{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/tts"

    def command(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env.items() if k not in ("TTS_PORT",))
        return f"{env} {rel(BINARY)} serve"

    def start(self, timeout: float = 180.0) -> None:
        env = {k: v for k, v in os.environ.items() if not (k.startswith("TTS_") or k == "LOG_LEVEL")}
        env.update(self.env)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([str(BINARY), "serve"], env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited with {self.proc.returncode} before it was ready:\n"
                                   + self.log_tail())
            if http_status(f"http://127.0.0.1:{self.port}/health/startup") == 200:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server {self.name} not ready within {timeout:.0f} s:\n" + self.log_tail())

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-chars:].decode("utf-8", errors="replace")
        except OSError:
            return "(no log)"


# ---------------------------------------------------------------------------
# Engine-only floor


def engine_floor(texts: list[str], model_dir: Path, threads: int, steps: int, reps: int,
                 workdir: Path) -> tuple[dict[str, dict], list[str]]:
    """Engine-only latency of each text with the C++ engine (build/bin/engine_bench:
    model loaded once, one warm-up, then `reps` timed calls per text; batch 1,
    voice F1, speed 1.05, language tag `en`): the whole synthesis (median_ms),
    its part before the vocoder (pre_vocoder_median_ms, from the vocoder_share
    counter) and, when the engine streams the vocoder, the time to its first
    audio (first_audio_median_ms, engine_bench's first_audio benchmark).
    Returns {text: {...}} and the commands run."""
    if steps not in (2, 5):
        raise SystemExit(f"engine_bench measures steps 2 and 5 only; the servers use {steps}")
    results: dict[str, dict] = {}
    commands: list[str] = []
    keys = ("short", "mid", "long")
    for g in range(0, len(texts), 3):
        group = texts[g:g + 3]
        group = group + [group[-1]] * (3 - len(group))
        tfile = workdir / f"floor-texts-{g // 3}.json"
        ofile = workdir / f"floor-out-{g // 3}.json"
        tfile.write_text(json.dumps(dict(zip(keys, group)), ensure_ascii=False))
        cmd = [str(ENGINE_BENCH), "--model-dir", rel(model_dir), "--texts", str(tfile), "--threads", str(threads),
               "--repetitions", str(reps), "--", f"--benchmark_filter=(/steps:{steps}/batch:1/|^first_audio/)",
               f"--benchmark_out={ofile}", "--benchmark_out_format=json"]
        commands.append(" ".join(rel(Path(c)) if c.startswith(str(REPO)) else c for c in cmd))
        done = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"engine_bench failed ({done.returncode}):\n{done.stderr.decode(errors='replace')[-3000:]}")
        data = json.loads(ofile.read_text())
        times: dict[str, list[tuple[float, float]]] = {}
        first: dict[str, list[float]] = {}
        for b in data["benchmarks"]:
            if b.get("run_type") != "iteration":
                continue
            family, key = b["run_name"].split("/")[:2]
            if family == "first_audio":  # streaming vocoder, first piece of audio (engine_bench: steps 2)
                if steps == 2 and "chunked_first_audio_s" in b:
                    first.setdefault(key, []).append(float(b["chunked_first_audio_s"]) * 1000)
                continue
            total = float(b["real_time"])  # ms (kMillisecond)
            share = float(b.get("vocoder_share", 0.0))
            times.setdefault(key, []).append((total, total * (1.0 - share)))
        for key, text in zip(keys, group):
            if text in results or key not in times:
                continue
            full = [t for t, _ in times[key]]
            pre = [p for _, p in times[key]]
            results[text] = {"median_ms": round(statistics.median(full), 2), "min_ms": round(min(full), 2),
                             "pre_vocoder_median_ms": round(statistics.median(pre), 2), "reps": len(full)}
            if first.get(key):
                results[text]["first_audio_median_ms"] = round(statistics.median(first[key]), 2)
                results[text]["first_audio_min_ms"] = round(min(first[key]), 2)
    return results, commands


# ---------------------------------------------------------------------------
# Targets


def _p(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def _level(levels: list[dict], n: int) -> dict | None:
    return next((lv for lv in levels if lv["sessions"] == n), None)


def _largest_underrun_free(levels: list[dict]) -> dict:
    clean = [lv["sessions"] for lv in levels if lv["turns_with_audio"] > 0 and lv["underruns"]["events"] == 0]
    prefix = None
    for lv in sorted(levels, key=lambda x: x["sessions"]):
        if lv["turns_with_audio"] > 0 and lv["underruns"]["events"] == 0:
            prefix = lv["sessions"]
        else:
            break
    return {"largest_n": max(clean) if clean else None, "largest_n_all_below_clean": prefix}


def targets(modes: dict[str, dict], one_session: dict[str, list[dict]], floor: dict[str, dict]) -> dict:
    out: dict[str, Any] = {}
    ours = modes.get("ours", {}).get("levels", [])
    base = modes.get("baseline", {}).get("levels", [])

    # 1 session: TTFA after the first sentence vs the engine alone on that sentence.
    # With the chunked (streaming) vocoder the server sends a segment's first
    # audio before its vocoder has finished, so the floor is the engine's own
    # time to first audio; without it, the whole synthesis.
    ours_env = modes.get("ours", {}).get("env", {})
    chunked_env = ours_env.get("TTS_CHUNKED_VOCODER", "true").lower() in ("1", "true", "yes", "on")
    turns = [r for r in one_session.get("ours", [])
             if r.get("ttfa_sentence_ms") is not None and r.get("first_segment_text") in floor]
    streams = bool(turns) and all("first_audio_median_ms" in floor[r["first_segment_text"]] for r in turns)
    floor_key = "first_audio_median_ms" if (chunked_env and streams) else "median_ms"
    if turns:
        ttfa = [r["ttfa_sentence_ms"] for r in turns]
        entry: dict[str, Any] = {
            "definition": "ours, N=1: TTFA from the moment the first sentence was complete at the server (the "
                          "token bringing the whitespace after its terminator was sent) minus the engine-only "
                          "latency for that same text (build/bin/engine_bench median), per turn; met when the "
                          "median excess <= 15 ms",
            "turns": len(turns),
            "ttfa_sentence_p50_ms": _p(ttfa, 50),
            "ttfa_sentence_p95_ms": _p(ttfa, 95),
            "server_chunked_vocoder": chunked_env,
            "engine_streams_vocoder": streams,
            "floor_used": floor_key,
            "limit_ms": TARGET_1SESSION_EXCESS_MS,
        }
        for key, label in (("first_audio_median_ms", "vs_first_audio"), ("median_ms", "vs_whole_synthesis"),
                           ("pre_vocoder_median_ms", "vs_pre_vocoder")):
            if not all(key in floor[r["first_segment_text"]] for r in turns):
                continue
            fl = [floor[r["first_segment_text"]][key] for r in turns]
            excess = [a - b for a, b in zip(ttfa, fl)]
            entry[label] = {"floor_p50_ms": _p(fl, 50), "excess_p50_ms": _p(excess, 50),
                            "excess_p95_ms": _p(excess, 95)}
        fl = [floor[r["first_segment_text"]][floor_key] for r in turns]
        excess = [a - b for a, b in zip(ttfa, fl)]
        entry["floor_p50_ms"] = _p(fl, 50)
        entry["excess_p50_ms"] = _p(excess, 50)
        entry["met"] = entry["excess_p50_ms"] <= TARGET_1SESSION_EXCESS_MS
        out["one_session"] = entry
    else:
        out["one_session"] = {"met": None, "why": "no N=1 turn of mode ours with a measured floor"}

    # N=32: throughput vs the baseline, and tail latency vs 1 session.
    o32, b32, o1 = _level(ours, TARGET_N), _level(base, TARGET_N), _level(ours, 1)
    t32: dict[str, Any] = {"n": TARGET_N}
    if o32 and o1 and o32.get("ttfa_sentence_ms") and o1.get("ttfa_sentence_ms"):
        if b32 is not None:
            base_cps, base_at = b32["chars_per_s"], TARGET_N
        else:  # the baseline stopped early, saturated: its best level bounds what it could do at 32
            best = max((lv for lv in base if lv.get("chars_per_s")), key=lambda lv: lv["chars_per_s"], default=None)
            base_cps, base_at = (best["chars_per_s"], best["sessions"]) if best else (None, None)
        ratio = round(o32["chars_per_s"] / base_cps, 3) if base_cps else None
        p95_ratio = round(o32["ttfa_sentence_ms"]["p95"] / o1["ttfa_sentence_ms"]["p95"], 3)
        p95_ratio_first_token = round(o32["ttfa_ms"]["p95"] / o1["ttfa_ms"]["p95"], 3)
        t32.update({
            "ours_chars_per_s": o32["chars_per_s"], "baseline_chars_per_s": base_cps,
            "baseline_level_used": base_at, "chars_per_s_ratio": ratio, "chars_per_s_ratio_target": TARGET_CHARS_RATIO,
            "ttfa_sentence_p95_ratio_vs_1_session": p95_ratio,
            "ttfa_p95_ratio_vs_1_session_from_first_token": p95_ratio_first_token,
            "p95_ratio_target": TARGET_P95_RATIO,
            "ours_underrun_events": o32["underruns"]["events"],
            "met": bool(ratio is not None and ratio >= TARGET_CHARS_RATIO and p95_ratio <= TARGET_P95_RATIO),
        })
    else:
        t32.update({"met": None, "why": f"mode ours has no N={TARGET_N} level (stopped early or not swept)"})
    out["n32"] = t32

    # Fallback: the largest N each mode carries without an underrun.
    fo, fb = _largest_underrun_free(ours), _largest_underrun_free(base)
    out["underrun_free"] = {
        "ours": fo, "baseline": fb,
        "ours_larger": (None if fo["largest_n_all_below_clean"] is None or fb["largest_n_all_below_clean"] is None
                        else fo["largest_n_all_below_clean"] > fb["largest_n_all_below_clean"]),
        "note": "largest_n_all_below_clean: the largest N such that it and every smaller N had zero underrun events",
    }
    return out



# ---------------------------------------------------------------------------
# Silence trimming: what a listener hears before and between segments

TRIM_REPLIES = [
    ["Sure, I can help with that.", "Your order shipped this morning.", "It should arrive on Thursday."],
    ["Good question.", "The museum opens at nine and closes at six.", "Tickets are cheaper online."],
    ["Let me check.", "There are two flights tomorrow, at eight and at noon.", "Which one would you like?"],
    ["Thanks for waiting.", "Your appointment is confirmed.", "We will send a reminder the day before."],
]
SPEECH_LEVEL = 100  # PCM16 magnitude (-50 dBFS) above which a sample counts as speech


async def _trim_turn(url: str, session_id: str, sentences: list[str], timeout_s: float = 30.0) -> dict:
    """One turn: each sentence sent and flushed (one segment each), then
    end_session. Times are from the first send_text; `first_speech` is when a
    listener who starts playing at the first frame hears the first speech
    sample (arrival of the first frame + that sample's place in the stream)."""
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "start_session", "session_id": session_id,
                                  "config": {"voice": "F1", "lang_code": "en"}}))
        started = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
        if started.get("type") != "session_started":
            raise RuntimeError(f"session not started: {started}")
        rate = started["sample_rate"]
        t0 = time.monotonic()
        for sentence in sentences:
            await ws.send(json.dumps({"type": "send_text", "text": sentence + " "}))
            await ws.send(json.dumps({"type": "flush"}))
        await ws.send(json.dumps({"type": "end_session"}))
        first_frame_t = None
        segments: list[list[bytes]] = []
        done: list[dict] = []
        while True:
            msg = await asyncio.wait_for(ws.recv(), timeout_s)
            if isinstance(msg, bytes):
                if first_frame_t is None:
                    first_frame_t = time.monotonic()
                segments[-1].append(msg)
                continue
            m = json.loads(msg)
            if m["type"] == "segment_started":
                segments.append([])
            elif m["type"] == "segment_done":
                done.append(m)
            elif m["type"] == "error":
                raise RuntimeError(f"server error: {m}")
            elif m["type"] == "session_ended":
                break
    # As the listener gets them: whole frames, the last one's padding included.
    pcm = [np.frombuffer(b"".join(frames), "<i2") for frames in segments]
    loud = [np.flatnonzero(np.abs(p.astype(np.int32)) > SPEECH_LEVEL) for p in pcm]
    if first_frame_t is None or not all(len(x) for x in loud):
        raise RuntimeError("a segment without speech")
    before_speech = [int(x[0]) for x in loud]
    after_speech = [len(p) - int(x[-1]) - 1 for p, x in zip(pcm, loud)]
    return {
        "segments": len(pcm),
        "first_audio_ms": (first_frame_t - t0) * 1000,
        "first_speech_ms": (first_frame_t - t0) * 1000 + before_speech[0] * 1000 / rate,
        "leading_silence_ms": before_speech[0] * 1000 / rate,
        # What separates two segments' speech in the stream: the first's
        # silence after its speech and the next's before it.
        "pauses_between_segments_ms": [(after_speech[k] + before_speech[k + 1]) * 1000 / rate
                                       for k in range(len(pcm) - 1)],
        "audio_s": sum(d["duration_ms"] for d in done) / 1000,
    }


def trim_study(a: argparse.Namespace) -> int:
    """Two servers on the probe model padded with --lead-silence/--trail-silence
    of silence around every item (standing in for Supertonic 3's reported
    0.25-0.6 s / 0.6-0.9 s), TTS_TRIM_SILENCE=true (the default) and false,
    the same turns alternating between them in one run."""
    out = a.out or REPO / "bench" / "results" / "silence_trim.json"
    started = datetime.now(timezone.utc)
    load_before = loadgen.machine_info()
    t_start = time.monotonic()
    modes = {"trimmed": {"TTS_TRIM_SILENCE": "true"}, "untrimmed": {"TTS_TRIM_SILENCE": "false"}}
    records: dict[str, list[dict]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="trim-study-") as tmp:
        tmpdir = Path(tmp)
        model_dir = tmpdir / "probe-silence"
        python = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
        generate = [python, "-m", "tools.models.probe", "--out", str(model_dir),
                    "--lead-silence", str(a.lead_silence), "--trail-silence", str(a.trail_silence)]
        subprocess.run(generate, cwd=REPO, check=True, timeout=300, stdout=subprocess.DEVNULL)
        common = {"TTS_INTRA_OP_THREADS": str(a.threads), **_env_list(a.server_env)}
        servers = {m: Server(m, model_dir, {**common, **env}, tmpdir) for m, env in modes.items()}
        try:
            for m, srv in servers.items():
                print(f"starting {m}: {srv.command()}", file=sys.stderr, flush=True)
                srv.start()
            for turn in range(a.trim_turns):
                order = list(modes) if turn % 2 == 0 else list(reversed(modes))
                for m in order:
                    sentences = TRIM_REPLIES[turn % len(TRIM_REPLIES)]
                    records[m].append(asyncio.run(_trim_turn(servers[m].url, f"{m}-{turn}", sentences)))
        finally:
            for srv in servers.values():
                srv.stop()
        server_commands = {m: srv.command().replace(str(tmpdir), "$TMP") for m, srv in servers.items()}

    def summary(rs: list[dict]) -> dict:
        pauses = [p for r in rs for p in r["pauses_between_segments_ms"]]
        out_: dict[str, Any] = {"turns": len(rs), "segments": sum(r["segments"] for r in rs)}
        for key in ("first_audio_ms", "first_speech_ms", "leading_silence_ms", "audio_s"):
            vals = [r[key] for r in rs]
            out_[key] = {"p50": _p(vals, 50), "p95": _p(vals, 95)}
        out_["pause_between_segments_ms"] = {"p50": _p(pauses, 50), "p95": _p(pauses, 95), "n": len(pauses)}
        return out_

    results = {m: summary(rs) for m, rs in records.items()}
    t, u = results["trimmed"], results["untrimmed"]

    def ratio(key: str) -> float | None:
        num, den = t[key]["p50"], u[key]["p50"]
        return round(num / den, 3) if num is not None and den else None

    report = {
        "schema": "supertonic-silence-trim-bench/1",
        "date": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - t_start, 1),
        "command": "build/venv/bin/python bench/service_bench.py " + " ".join(sys.argv[1:]),
        "git": _git_describe(),
        "machine": {**load_before, "load_avg_after": loadgen.machine_info().get("load_avg")},
        "model": "probe model with silence: python -m tools.models.probe --lead-silence "
                 f"{a.lead_silence} --trail-silence {a.trail_silence} (seconds at speed 1; the servers speak at "
                 "TTS_SPEED 1.05)",
        "servers": server_commands,
        "workload": {"turns_per_mode": a.trim_turns, "replies": TRIM_REPLIES,
                     "how": "per turn: start_session, then each sentence as send_text + flush (one segment "
                            "each), end_session; the modes alternate turn by turn (one run)"},
        "definitions": {
            "first_audio_ms": "first send_text -> first audio frame received",
            "first_speech_ms": "first send_text -> the moment a listener who starts playing at the first frame "
                               f"hears the first sample above {SPEECH_LEVEL} (PCM16, -50 dBFS)",
            "leading_silence_ms": "audio before the first speech sample of a turn",
            "pause_between_segments_ms": "silence between one segment's last speech sample and the next one's "
                                         "first, in the stream as the client gets it (the last frame's padding "
                                         "included)",
            "audio_s": "audio of the turn (segment_done duration_ms summed)",
        },
        "modes": results,
        "ratios_trimmed_over_untrimmed_p50": {k: ratio(k) for k in ("first_audio_ms", "first_speech_ms",
                                                                    "pause_between_segments_ms", "audio_s")},
    }
    if a.raw:
        report["raw"] = records
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {rel(out)}", file=sys.stderr)
    print(json.dumps({"modes": results, "ratios": report["ratios_trimmed_over_untrimmed_p50"]}, indent=2),
          file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------
# Main


def _env_list(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        for part in item.split(","):
            if not part.strip():
                continue
            k, sep, v = part.partition("=")
            if not sep or not k.startswith(("TTS_", "LOG_")):
                raise SystemExit(f"expected TTS_NAME=VALUE, got {part!r}")
            out[k.strip()] = v.strip()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=None,
                   help="default models/faithful (models/probe with --quick); generated when missing")
    p.add_argument("--sessions", type=loadgen._int_list, default=[1, 2, 4, 8, 16, 32])
    p.add_argument("--modes", default="ours,baseline")
    p.add_argument("--ours-env", action="append", help="TTS_X=V[,TTS_Y=W] overrides for mode ours")
    p.add_argument("--baseline-env", action="append", help="overrides for mode baseline")
    p.add_argument("--server-env", action="append", help="overrides for every server (e.g. TTS_CHUNK_SIZE_MS=20)")
    p.add_argument("--threads", type=int, default=0,
                   help="TTS_INTRA_OP_THREADS of the servers and --threads of the engine floor (0: one per core)")
    p.add_argument("--turns-total", type=int, default=32,
                   help="turns per level: each agent runs max(--min-turns, ceil(turns_total/N)) turns...")
    p.add_argument("--min-turns", type=int, default=2)
    p.add_argument("--level-duration", type=float, default=90.0,
                   help="...or until this many seconds, whichever is first (no new turn after it)")
    p.add_argument("--stop-p95-ms", type=float, default=10000.0,
                   help="a mode stops sweeping once its TTFA p95 (from the first token) exceeds this")
    p.add_argument("--floor-reps", type=int, default=5, help="engine_bench repetitions per first sentence")
    p.add_argument("--pause", type=float, default=2.0, help="seconds of quiet between levels")
    p.add_argument("--out", type=Path, default=None,
                   help="default bench/results/service.json (build/service_bench_quick.json with --quick)")
    p.add_argument("--png", type=Path, default=None,
                   help="default bench/results/service.png (build/service_bench_quick.png with --quick)")
    p.add_argument("--raw", action="store_true", help="keep every turn's record in the JSON")
    p.add_argument("--quick", action="store_true",
                   help="smoke test (< 60 s on the probe model): N in {1,4}, 4 turns at N=1, short pauses, "
                        "no playback wait, 1-2 sentences")
    p.add_argument("--trim-study", action="store_true",
                   help="instead of the sweep: first audio, first speech and the pauses between segments with "
                        "TTS_TRIM_SILENCE on and off, on the probe model padded with silence "
                        "(default --out bench/results/silence_trim.json)")
    p.add_argument("--trim-turns", type=int, default=12, help="--trim-study: turns per mode")
    p.add_argument("--lead-silence", type=float, default=0.4, help="--trim-study: silence before each item, s")
    p.add_argument("--trail-silence", type=float, default=0.7, help="--trim-study: silence after each item, s")
    loadgen.add_load_args(p, turns=False)
    a = p.parse_args()
    if a.trim_study:
        return trim_study(a)

    results_dir = REPO / ("build" if a.quick else "bench/results")
    stem = "service_bench_quick" if a.quick else "service"
    a.out = a.out or results_dir / f"{stem}.json"
    a.png = a.png or results_dir / f"{stem}.png"
    a.model_dir = a.model_dir or REPO / "models" / ("probe" if a.quick else "faithful")
    if a.quick:
        a.sessions = [1, 4]
        a.turns_total, a.min_turns, a.level_duration = 4, 2, 20.0
        a.think, a.sentences, a.wait_playback, a.stagger = (0.1, 0.3), (1, 2), False, 0.3
        a.floor_reps, a.pause, a.turn_timeout = 3, 0.2, 20.0
    cfg = loadgen.config_from_args(a)
    mode_names = [m for m in a.modes.split(",") if m]
    for m in mode_names:
        if m not in MODES:
            raise SystemExit(f"unknown mode {m!r}; known: {list(MODES)}")
    model_dir = a.model_dir.resolve()
    if not (model_dir / "onnx" / "vocoder.onnx").exists():
        if model_dir.name in ("faithful", "probe") and model_dir.parent == REPO / "models":
            python = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
            print(f"generating {rel(model_dir)}", file=sys.stderr)
            subprocess.run([python, "-m", f"tools.models.{model_dir.name}", "--out", str(model_dir)], cwd=REPO,
                           check=True, timeout=600)
        else:
            raise SystemExit(f"no model in {model_dir}")
    for binary in (BINARY, ENGINE_BENCH):
        if not binary.exists():
            raise SystemExit(f"{rel(binary)} is missing; run `make build`")

    common = {"TTS_INTRA_OP_THREADS": str(a.threads), **_env_list(a.server_env)}
    envs = {"ours": {**MODES["ours"], **common, **_env_list(a.ours_env)},
            "baseline": {**MODES["baseline"], **common, **_env_list(a.baseline_env)},
            "fast": {**MODES["fast"], **common, **_env_list(a.ours_env)}}
    steps = a.steps or int(common.get("TTS_NUM_INFERENCE_STEPS", 2))

    started = datetime.now(timezone.utc)
    load_before = loadgen.machine_info()
    t_start = time.monotonic()
    results: dict[str, dict] = {m: {"env": envs[m], "note": MODE_NOTES[m], "levels": [], "stopped_early_after": None}
                                for m in mode_names}
    raw: dict[str, dict[str, list]] = {m: {} for m in mode_names}
    one_session: dict[str, list[dict]] = {}
    floor: dict[str, dict] = {}
    floor_info: dict[str, Any] = {}
    active = list(mode_names)
    with tempfile.TemporaryDirectory(prefix="service-bench-") as tmp:
        tmpdir = Path(tmp)
        servers = {m: Server(m, model_dir, envs[m], tmpdir) for m in mode_names}
        try:
            for m, s in servers.items():
                print(f"starting {m}: {s.command()}", file=sys.stderr, flush=True)
                s.start()
                results[m]["server_command"] = s.command()
            for n in a.sessions:
                for m in list(active):
                    level_cfg = dataclasses.replace(cfg, turns=max(a.min_turns, math.ceil(a.turns_total / n)),
                                                    duration_s=a.level_duration)
                    stages_before = stage_seconds(servers[m].port)
                    cpu_before, t_level = process_cpu_s(servers[m].proc.pid), time.monotonic()
                    summary, records = loadgen.run_level(servers[m].url, n, level_cfg)
                    summary["turns_per_agent"] = level_cfg.turns
                    summary["profile"] = level_profile(stages_before, stage_seconds(servers[m].port),
                                                       process_cpu_s(servers[m].proc.pid) - cpu_before,
                                                       time.monotonic() - t_level)
                    if servers[m].proc.poll() is not None:
                        raise RuntimeError(f"server {m} died during N={n}:\n{servers[m].log_tail()}")
                    print(f"[{m:8}] {loadgen.level_line(summary)}", file=sys.stderr, flush=True)
                    results[m]["levels"].append(summary)
                    exported = [r.export() for r in records]
                    if n == 1:
                        one_session[m] = exported
                    if a.raw:
                        raw[m][str(n)] = exported
                    if loadgen.saturated(summary, a.stop_p95_ms):
                        print(f"[{m:8}] saturated at N={n}: stopping this mode", file=sys.stderr, flush=True)
                        results[m]["stopped_early_after"] = n
                        active.remove(m)
                    time.sleep(a.pause)
                if n == 1 and one_session:
                    texts = sorted({r["first_segment_text"] for rs in one_session.values() for r in rs
                                    if r.get("first_segment_text")})
                    print(f"engine floor: {len(texts)} first sentences x {a.floor_reps} repetitions",
                          file=sys.stderr, flush=True)
                    floor, commands = engine_floor(texts, model_dir, a.threads, steps, a.floor_reps, tmpdir)
                    med = [v["median_ms"] for v in floor.values()]
                    pre = [v["pre_vocoder_median_ms"] for v in floor.values()]
                    fa = [v["first_audio_median_ms"] for v in floor.values() if "first_audio_median_ms" in v]
                    floor_info = {
                        "method": "build/bin/engine_bench (C++ engine in process, model loaded once, warm-up call, "
                                  "then --repetitions timed single-item calls; Google Benchmark real time): batch 1, "
                                  "voice F1, speed 1.05, language tag en (engine_bench fixes it; the tag length is "
                                  "the same for every language)",
                        "steps": steps, "threads": a.threads, "repetitions": a.floor_reps,
                        "commands": [c.replace(str(tmpdir), "$TMP") for c in commands],
                        "median_of_medians_ms": round(statistics.median(med), 2) if med else None,
                        "pre_vocoder_median_of_medians_ms": round(statistics.median(pre), 2) if pre else None,
                        "first_audio_median_of_medians_ms": round(statistics.median(fa), 2) if fa else None,
                        "note": "median_ms: a whole single-item synthesis (the floor for a server that sends a "
                                "segment once it is synthesized); first_audio_*: the engine's own time to the "
                                "first piece of audio with the streaming (chunked) vocoder, the floor when the "
                                "server streams (TTS_CHUNKED_VOCODER, default on), measured by engine_bench at "
                                "steps 2 only; pre_vocoder_*: the whole synthesis minus the vocoder's share "
                                "(engine_bench's vocoder_share counter), for reference",
                        "texts": [{"text": t, "chars": len(t), **v} for t, v in floor.items()],
                    }
                if not active:
                    break
        finally:
            for s in servers.values():
                s.stop()

    report: dict[str, Any] = {
        "schema": "supertonic-service-bench/1",
        "date": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - t_start, 1),
        "command": "build/venv/bin/python bench/service_bench.py " + " ".join(sys.argv[1:]),
        "git": _git_describe(),
        "machine": {**load_before, "load_avg_after": loadgen.machine_info().get("load_avg")},
        "model": rel(model_dir),
        "note": "One run. The load generator (one Python process) shares the machine with the servers. "
                "TTFA: time to first audio from the first token sent; ttfa_sentence: from the moment the first "
                "segment's text was complete at the server (the token bringing the whitespace after the first "
                "sentence's terminator); ttfa_terminator: from the token carrying the terminator. Underruns: a "
                "real-time playback simulated from the first frame's arrival; an event is a gap >= "
                f"{cfg.underrun_threshold_ms} ms. chars_per_s: characters of segments whose audio was fully "
                "received / wall time of the level.",
        "workload": {**{k: v for k, v in cfg.to_json().items() if k not in ("turns", "duration_s")},
                     "turns_per_agent": "max(min_turns, ceil(turns_total / N)), see each level", "turns_total": a.turns_total, "min_turns": a.min_turns,
                     "level_duration_s": a.level_duration, "sessions": a.sessions, "quick": a.quick},
        "modes": results,
        "engine_floor": floor_info,
        "targets": targets(results, one_session, floor),
    }
    if a.raw:
        report["raw"] = raw
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {rel(a.out)}", file=sys.stderr)
    if a.png:
        loadgen.plot({m: results[m]["levels"] for m in mode_names}, a.png,
                     floors={"engine only, whole synthesis": floor_info.get("median_of_medians_ms"),
                             "engine only, first audio (streaming vocoder)":
                                 floor_info.get("first_audio_median_of_medians_ms")},
                     title=f"{rel(model_dir)}, {report['machine']['cpus']} CPUs, {report['date']}")
        print(f"wrote {rel(a.png)}", file=sys.stderr)
    print(json.dumps(report["targets"], indent=2), file=sys.stderr)
    return 0


def _git_describe() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


if __name__ == "__main__":
    sys.exit(main())
