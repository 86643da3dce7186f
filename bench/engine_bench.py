#!/usr/bin/env python3
"""Engine benchmark: the C++ engine (build/bin/engine_bench, Google Benchmark)
on each backend and precision (onnxruntime fp32, openvino fp32, openvino bf16
where the CPU has it) and a straightforward Python onnxruntime implementation of
the published reference (tools/reference_pipeline.py) on the same texts, steps, batch
sizes, model and thread settings, in one run, alternating. Writes
bench/results/engine.json with chars/s, RTF, each engine's ratio to Python, the
achieved GFLOPS and their share of the backend's matmul peak, measured in the
same run (an n^3 MatMul through the same backend and precision).

    make bench          # or:
    build/venv/bin/python bench/engine_bench.py --model-dir models/faithful --out bench/results/engine.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tools.reference_pipeline import ReferencePipeline  # noqa: E402

VOICES = ["F1", "M1", "F2", "M2"]
TARGET_RATIO_BATCH1 = 1.10
TARGET_RATIO_LONG_FAST = 2.0  # the fastest backend on the long text, steps 2, batch 1
# The faithful model's compute by calculation: GFLOP per second
# of audio, the vocoder once and the vector estimator once per step. The text
# encoder and the duration predictor (a few percent) are left out.
VOCODER_GFLOP_PER_AUDIO_S = 4.36
VECTOR_ESTIMATOR_GFLOP_PER_STEP_AUDIO_S = 0.91
ENGINES = [("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16")]
STAGES = ("duration_predictor_s", "text_encoder_s", "vector_estimator_s", "vocoder_s")  # engine_bench counters
MATMUL_N = 2048


def engine_label(backend: str, precision: str) -> str:
    return f"{backend}-{precision}"


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def available_engines() -> tuple[list[tuple[str, str]], dict]:
    """The engines this build and CPU can run, and why the others are left out."""
    engines, skipped = [], {}
    for backend, precision in ENGINES:
        label = engine_label(backend, precision)
        if precision == "bf16" and not cpu_has_bf16():
            skipped[label] = "this CPU has no AVX512-BF16 or AMX-BF16"
            continue
        probe = subprocess.run([str(REPO / "build/bin/engine_bench"), "--matmul-peak", "64", "--backend", backend,
                                "--precision", precision, "--threads", "1"], capture_output=True, text=True)
        if probe.returncode != 0:
            skipped[label] = (probe.stderr.strip().splitlines() or ["engine_bench failed"])[-1]
            continue
        engines.append((backend, precision))
    return engines, skipped


def matmul_peak(backend: str, precision: str, threads: int) -> float:
    out = subprocess.run([str(REPO / "build/bin/engine_bench"), "--matmul-peak", str(MATMUL_N), "--backend", backend,
                          "--precision", precision, "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["gflops"]


def gflop_of(steps: int, audio_s: float) -> float:
    return audio_s * (VOCODER_GFLOP_PER_AUDIO_S + steps * VECTOR_ESTIMATOR_GFLOP_PER_STEP_AUDIO_S)


def run_cpp(model_dir: Path, texts_path: Path, threads: int, repetitions: int, backend: str = "onnxruntime",
            precision: str = "fp32", first_audio: bool = True) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cpp.json"
        subprocess.run([str(REPO / "build/bin/engine_bench"), "--model-dir", str(model_dir), "--texts",
                        str(texts_path), "--threads", str(threads), "--repetitions", str(repetitions),
                        "--backend", backend, "--precision", precision]
                       + ([] if first_audio else ["--no-first-audio"])
                       + ["--", f"--benchmark_out={out}", "--benchmark_out_format=json"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        data = json.loads(out.read_text())
    runs: dict[str, list[dict]] = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        runs.setdefault(b["run_name"], []).append(b)
    results, first_audio = {}, {}
    for name, reps in runs.items():
        parts = name.split("/")  # e.g. cpp/short/steps:2/batch:1/iterations:1/repeats:3/real_time
        if name.startswith("first_audio/"):
            first_audio[parts[1]] = {k: [r[k] for r in reps]
                                     for k in ("full_s", "chunked_first_audio_s", "chunked_total_s")}
            first_audio[parts[1]]["audio_s"] = reps[0]["audio_s"]
            continue
        text, steps, batch = parts[1], parts[2], parts[3]
        times = [r["real_time"] / 1000.0 for r in reps]  # ms -> s
        stages = {k: [r[k] for r in reps] for k in STAGES if k in reps[0]}
        results[(text, int(steps.split(":")[1]), int(batch.split(":")[1]))] = {
            "times_s": times, "audio_s": reps[0]["audio_s"], "chars": reps[0]["chars"], "stages": stages}
    return results, first_audio


def run_python(model_dir: Path, texts: dict, threads: int, repetitions: int) -> dict:
    ref = ReferencePipeline(model_dir, intra_op_threads=threads, allow_spinning=False)
    ref.synthesize(["Warm up."], ["en"], ["F1"], steps=2)
    results = {}
    for name in ("short", "mid", "long"):
        for steps in (2, 5):
            for batch in (1, 4):
                items = [texts[name]] * batch
                times, audio_s = [], 0.0
                for rep in range(repetitions):
                    t0 = time.perf_counter()
                    wavs = ref.synthesize(items, ["en"] * batch, VOICES[:batch] if batch > 1 else ["F1"],
                                          steps=steps, speed=1.05, seed=rep)
                    times.append(time.perf_counter() - t0)
                    audio_s = sum(len(w) for w in wavs) / ref.sample_rate
                results[(name, steps, batch)] = {"times_s": times, "audio_s": audio_s,
                                                 "chars": len(texts[name]) * batch}
    return results


def summarize(r: dict) -> dict:
    best, median = min(r["times_s"]), statistics.median(r["times_s"])
    return {"min_s": round(best, 4), "median_s": round(median, 4), "repetitions": len(r["times_s"]),
            "audio_s": round(r["audio_s"], 3), "chars_per_s_best": round(r["chars"] / best, 1),
            "chars_per_s_median": round(r["chars"] / median, 1), "rtf_best": round(best / r["audio_s"], 4),
            "rtf_median": round(median / r["audio_s"], 4)}


def write_first_audio_report(first_audio: dict, texts: dict, args, engine_report: dict) -> None:
    """bench/results/chunked_vocoder.json: time to first audio and total time,
    streaming vocoder against one full vocoder run, same process, same texts."""
    rows = []
    for name in ("short", "mid", "long"):
        m = first_audio[name]
        med = statistics.median
        # Paired: each repetition ran both ways back to back.
        overheads = [c / f - 1 for c, f in zip(m["chunked_total_s"], m["full_s"])]
        row = {"text": name, "chars": len(texts[name]), "audio_s": round(m["audio_s"], 3),
               "first_audio_s_full": round(med(m["full_s"]), 4),
               "first_audio_s_chunked": round(med(m["chunked_first_audio_s"]), 4),
               "total_s_full": round(med(m["full_s"]), 4),
               "total_s_chunked": round(med(m["chunked_total_s"]), 4),
               "repetitions": len(m["full_s"])}
        row["first_audio_ratio"] = round(row["first_audio_s_chunked"] / row["first_audio_s_full"], 3)
        row["total_overhead"] = round(med(overheads), 3)
        rows.append(row)
    long_row = rows[-1]
    report = {
        "command": engine_report["command"], "date": engine_report["date"], "machine": engine_report["machine"],
        "model": engine_report["model"], "intra_op_threads": args.threads, "steps": 2, "batch": 1,
        "note": "Medians. Every repetition synthesizes the text both ways back to back, in alternating order. "
                "first_audio_s_full = total time (a full vocoder run makes all audio at once); chunked = time "
                "until the first audio piece of the streaming vocoder. total_overhead = median of the paired "
                "(chunked total / full total - 1): extra time from recomputing the left context.",
        "results": rows,
        "targets": {"long_first_audio_ratio_max": 0.6, "total_overhead_max": 0.15,
                    "long_first_audio_ratio": long_row["first_audio_ratio"],
                    "long_total_overhead": long_row["total_overhead"],
                    "met": long_row["first_audio_ratio"] <= 0.6 and long_row["total_overhead"] <= 0.15},
    }
    out = args.out.parent / "chunked_vocoder.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    for r in rows:
        print(f"{r['text']:6} first audio {r['first_audio_s_full']:.3f} -> {r['first_audio_s_chunked']:.3f} s "
              f"(x{r['first_audio_ratio']}), total {r['total_s_full']:.3f} -> {r['total_s_chunked']:.3f} s "
              f"({r['total_overhead']:+.1%})")
    print(f"wrote {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=REPO / "models/faithful")
    parser.add_argument("--texts", type=Path, default=REPO / "bench/texts.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/engine.json")
    args = parser.parse_args()
    texts = json.loads(args.texts.read_text())
    load_before = os.getloadavg()
    engines, skipped = available_engines()
    for label, why in skipped.items():
        print(f"skipping {label}: {why}", flush=True)

    # Alternate the implementations so that drift on a shared machine hits all alike.
    cpp: dict[str, dict] = {engine_label(*e): {} for e in engines}
    peaks: dict[str, list[float]] = {engine_label(*e): [] for e in engines}
    py, first_audio = {}, {}
    for round_ in range(args.rounds):
        for backend, precision in engines:
            label = engine_label(backend, precision)
            print(f"round {round_ + 1}/{args.rounds}: C++ engine, {label}", flush=True)
            peaks[label].append(matmul_peak(backend, precision, args.threads))
            # The streaming-vocoder report stays the reference backend's.
            engine, streaming = run_cpp(args.model_dir, args.texts, args.threads, args.repetitions, backend, precision,
                                        first_audio=label == "onnxruntime-fp32")
            for k, v in streaming.items():
                entry = first_audio.setdefault(k, {"full_s": [], "chunked_first_audio_s": [], "chunked_total_s": [],
                                                   "audio_s": v["audio_s"]})
                for key in ("full_s", "chunked_first_audio_s", "chunked_total_s"):
                    entry[key] += v[key]
            for k, v in engine.items():
                entry = cpp[label].setdefault(k, {"times_s": [], "stages": {}, **{x: v[x] for x in ("audio_s", "chars")}})
                entry["times_s"] += v["times_s"]
                for stage, values in v["stages"].items():
                    entry["stages"].setdefault(stage, []).extend(values)
        print(f"round {round_ + 1}/{args.rounds}: Python reference", flush=True)
        for k, v in run_python(args.model_dir, texts, args.threads, args.repetitions).items():
            py.setdefault(k, {"times_s": [], **{x: v[x] for x in ("audio_s", "chars")}})["times_s"] += v["times_s"]

    peak = {label: round(max(v), 1) for label, v in peaks.items()}
    reference_peak = peak.get("onnxruntime-fp32")

    def with_compute(summary: dict, steps: int, peak_gflops: float | None) -> dict:
        gflop = gflop_of(steps, summary["audio_s"])
        summary["gflop"] = round(gflop, 2)
        summary["gflops_median"] = round(gflop / summary["median_s"], 1)
        summary["gflops_best"] = round(gflop / summary["min_s"], 1)
        if peak_gflops:
            summary["peak_share_median"] = round(summary["gflops_median"] / peak_gflops, 3)
            summary["peak_share_best"] = round(summary["gflops_best"] / peak_gflops, 3)
        return summary

    rows = []
    for key in sorted(py, key=lambda k: (k[2], k[1], ["short", "mid", "long"].index(k[0]))):
        text, steps, batch = key
        p = with_compute(summarize(py[key]), steps, reference_peak)
        row = {"text": text, "chars": len(texts[text]), "steps": steps, "batch": batch, "python": p, "engines": {}}
        for label in cpp:
            if key not in cpp[label]:
                continue
            c = with_compute(summarize(cpp[label][key]), steps, peak[label])
            stages = {k: statistics.median(v) for k, v in cpp[label][key]["stages"].items()}
            if stages.get("vocoder_s") and stages.get("vector_estimator_s"):
                voc = c["audio_s"] * VOCODER_GFLOP_PER_AUDIO_S / stages["vocoder_s"]
                ve = c["audio_s"] * steps * VECTOR_ESTIMATOR_GFLOP_PER_STEP_AUDIO_S / stages["vector_estimator_s"]
                c["stages_median_ms"] = {k.removesuffix("_s"): round(v * 1000, 1) for k, v in stages.items()}
                c["vocoder_gflops"] = round(voc, 1)
                c["vector_estimator_gflops"] = round(ve, 1)
                c["vocoder_peak_share"] = round(voc / peak[label], 3)
                c["vector_estimator_peak_share"] = round(ve / peak[label], 3)
            c["ratio_chars_per_s_median"] = round(c["chars_per_s_median"] / p["chars_per_s_median"], 3)
            c["ratio_chars_per_s_best"] = round(c["chars_per_s_best"] / p["chars_per_s_best"], 3)
            row["engines"][label] = c
        if "onnxruntime-fp32" in row["engines"]:  # the fields of earlier reports: the default engine
            c = row["engines"]["onnxruntime-fp32"]
            row["cpp"] = {k: v for k, v in c.items() if not k.startswith("ratio")}
            row["ratio_chars_per_s_best"] = c["ratio_chars_per_s_best"]
            row["ratio_chars_per_s_median"] = c["ratio_chars_per_s_median"]
        rows.append(row)

    def ratio(label: str, text: str, steps: int = 2, batch: int = 1) -> float | None:
        for r in rows:
            if (r["text"], r["steps"], r["batch"]) == (text, steps, batch) and label in r["engines"]:
                return r["engines"][label]["ratio_chars_per_s_median"]
        return None

    batch1 = [r["ratio_chars_per_s_median"] for r in rows if r["batch"] == 1 and "cpp" in r]
    fastest = max(cpp, key=lambda label: ratio(label, "long") or 0) if cpp else None
    long_fast = ratio(fastest, "long") if fastest else None
    report = {
        "command": "make bench  (build/venv/bin/python bench/engine_bench.py --model-dir models/faithful "
                   f"--threads {args.threads} --repetitions {args.repetitions} --rounds {args.rounds})",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                    "bf16": cpu_has_bf16(),
                    "load_avg_before": [round(x, 2) for x in load_before],
                    "load_avg_after": [round(x, 2) for x in os.getloadavg()]},
        "model": str(args.model_dir.relative_to(REPO) if args.model_dir.is_relative_to(REPO) else args.model_dir),
        "intra_op_threads": args.threads,
        "engines": [engine_label(*e) for e in engines],
        "engines_skipped": skipped,
        "matmul_peak_gflops": {"n": MATMUL_N, "note": "best of 8 runs of an n^3 fp32 MatMul graph through each "
                                                      "backend and precision, max over the rounds (the copy of the "
                                                      "16 MB output is included)", **peak},
        "note": "Architecture-faithful random-weight model (65.7M parameters). chars/s = input characters x batch "
                "/ wall time of one synthesis call; RTF = wall time / audio seconds produced. All engines and the "
                "Python reference run in this one process tree, alternating rounds; median and best of all "
                "repetitions. gflop = audio seconds x (4.36 vocoder + steps x 0.91 vector estimator), by "
                "calculation; gflops = gflop / time; peak_share = gflops / that backend's matmul peak (the "
                "Python reference against ONNX Runtime fp32's); vocoder_ and vector_estimator_gflops: each graph's "
                "GFLOP over its own median stage time (engine_bench's stage counters).",
        "results": rows,
        "summary": {"batch1_ratio_median_min": min(batch1) if batch1 else None,
                    "batch1_ratio_median_mean": round(statistics.mean(batch1), 3) if batch1 else None,
                    "target_batch1_ratio": TARGET_RATIO_BATCH1,
                    "target_met": bool(batch1) and min(batch1) >= TARGET_RATIO_BATCH1,
                    "ratio_steps2_batch1": {label: {t: ratio(label, t) for t in ("short", "mid", "long")}
                                            for label in cpp},
                    "fastest_engine_long": fastest,
                    "fastest_long_ratio": long_fast,
                    "target_fastest_long_ratio": TARGET_RATIO_LONG_FAST,
                    "target_fastest_long_met": long_fast is not None and long_fast >= TARGET_RATIO_LONG_FAST},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if first_audio:
        write_first_audio_report(first_audio, texts, args, report)
    labels = list(cpp)
    print(f"matmul peak (GFLOPS): {peak}")
    print(f"{'text':6} {'steps':>5} {'batch':>5} {'Py ms':>7} " + " ".join(f"{l + ' ms (x)':>24}" for l in labels))
    for r in rows:
        cells = []
        for label in labels:
            e = r["engines"].get(label)
            cells.append(f"{e['median_s'] * 1000:>13.0f} ({e['ratio_chars_per_s_median']:>5.2f}x)" if e else " " * 24)
        print(f"{r['text']:6} {r['steps']:>5} {r['batch']:>5} {r['python']['median_s'] * 1000:>7.0f} "
              + " ".join(f"{c:>24}" for c in cells))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
