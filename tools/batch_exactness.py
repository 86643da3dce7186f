#!/usr/bin/env python3
"""Batched vs alone: how far an item synthesized in a batch is from the same
item synthesized by itself, measured through the command line.

Every item of a fixed set (mixed lengths, voices, languages and speeds, each
with a fixed seed) runs alone (a one-line ``synth --batch`` file) and then all
of them together in one ``synth --batch`` (one batched model call per stage).
Seeds rather than noise files: an item's noise depends only on its seed and
its length, so the comparison still runs when batching changes an item's
duration (a noise file of the alone length would then be refused).

Per item: samples and duration alone and batched, whether the lengths are
equal, the largest absolute difference over the common length, and the SNR
of the batched audio against the alone audio over the common length,
``10*log10(sum(alone^2) / sum((alone - batched)^2))`` dB ("inf" when
identical); then the worst over the items. Prints a table and writes JSON
(default bench/results/batch_exactness.json).

    build/venv/bin/python -m tools.batch_exactness --model-dir models/faithful --steps 2 \\
        [--no-pad-rewrite] [--threads N] [--out FILE]

``--no-pad-rewrite`` passes the engine flag of that name: the graphs' padding
as published, to measure what the rewrite removes.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BINARY = REPO / "build" / "bin" / "supertonic-tts"
DEFAULT_OUT = REPO / "bench" / "results" / "batch_exactness.json"

# 12 to 250 characters; Korean within its 120-character chunk limit.
ITEMS = [
    {"text": "Good morning", "voice": "F1", "lang": "en", "speed": 0.9, "seed": 101},
    {"text": "안녕하세요. 오늘 회의는 오후 세 시에 시작합니다.", "voice": "M1", "lang": "ko", "speed": 1.0,
     "seed": 102},
    {"text": "El tren de las ocho sale del andén número cuatro; llegue con diez minutos de antelación.",
     "voice": "F2", "lang": "es", "speed": 1.1, "seed": 103},
    {"text": "Olá! Você já experimentou o pão de queijo daquela padaria da esquina? É delicioso e sai "
             "quentinho às sete.", "voice": "M3", "lang": "pt", "speed": 1.2, "seed": 104},
    {"text": "Merci d'avoir appelé. Tous nos conseillers sont occupés ; veuillez patienter, votre appel est "
             "important pour nous.", "voice": "F4", "lang": "fr", "speed": 1.3, "seed": 105},
    {"text": "When the storm finally passed, the villagers walked down to the harbor to count the boats, "
             "mend the nets that the wind had torn, and share whatever bread and soup they had left, because "
             "nobody knew how long it would be before the supply ship came back.",
     "voice": "M5", "lang": "en", "speed": 1.05, "seed": 106},
]


class CliError(RuntimeError):
    pass


def run_batch(binary: Path, model_dir: Path, steps: int, items: list[dict], workdir: Path,
              engine_args: list[str]) -> list[tuple[dict, np.ndarray]]:
    """One `synth --batch` of `items` in `workdir`: (stdout row, float samples) per item."""
    workdir.mkdir(parents=True, exist_ok=True)
    batch = workdir / "items.jsonl"
    batch.write_text("".join(json.dumps(dict(item, output=f"item_{i}.wav"), ensure_ascii=False) + "\n"
                             for i, item in enumerate(items)), encoding="utf-8")
    command = [str(binary), "synth", "--batch", str(batch), "--model-dir", str(model_dir), "--steps", str(steps),
               "--format", "float", *engine_args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise CliError(f"{shlex.join(command)} failed ({result.returncode}):\n{result.stderr}")
    rows = json.loads(result.stdout)
    return [(row, sf.read(row["output"], dtype="float32")[0]) for row in rows]


def compare(alone: np.ndarray, batched: np.ndarray) -> tuple[float, float]:
    """(max abs difference, SNR in dB) over the common length."""
    common = min(len(alone), len(batched))
    a = alone[:common].astype(np.float64)
    diff = a - batched[:common].astype(np.float64)
    max_abs = float(np.max(np.abs(diff))) if common else 0.0
    error = float(np.sum(diff * diff))
    signal = float(np.sum(a * a))
    if error == 0.0:
        return max_abs, math.inf
    return max_abs, 10.0 * math.log10(signal / error) if signal > 0 else -math.inf


def json_number(x: float) -> float | str:
    """JSON has no infinity: write it as "inf" / "-inf"."""
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def measure(binary: Path, model_dir: Path, steps: int, engine_args: list[str], workdir: Path) -> tuple[list, dict]:
    alone = [run_batch(binary, model_dir, steps, [item], workdir / f"alone_{i}", engine_args)[0]
             for i, item in enumerate(ITEMS)]
    batched = run_batch(binary, model_dir, steps, ITEMS, workdir / "batched", engine_args)
    rows = []
    for i, (item, (alone_row, alone_wav), (batched_row, batched_wav)) in enumerate(zip(ITEMS, alone, batched)):
        max_abs, snr = compare(alone_wav, batched_wav)
        rows.append({
            "item": i, "lang": item["lang"], "voice": item["voice"], "speed": item["speed"], "seed": item["seed"],
            "chars": len(item["text"]), "text": item["text"],
            "samples_alone": len(alone_wav), "samples_batched": len(batched_wav),
            "duration_alone_s": alone_row["duration_s"], "duration_batched_s": batched_row["duration_s"],
            "latent_frames_alone": alone_row["latent_frames"], "latent_frames_batched": batched_row["latent_frames"],
            "equal_length": len(alone_wav) == len(batched_wav),
            "max_abs_diff": max_abs, "snr_db": snr,
        })
    worst_snr = min(rows, key=lambda r: r["snr_db"])
    worst = {
        "all_lengths_equal": all(r["equal_length"] for r in rows),
        "max_sample_count_difference": max(abs(r["samples_alone"] - r["samples_batched"]) for r in rows),
        "max_abs_diff": max(r["max_abs_diff"] for r in rows),
        "min_snr_db": worst_snr["snr_db"],
        "min_snr_item": worst_snr["item"],
    }
    return rows, worst


def print_table(rows: list[dict], worst: dict, header: str) -> None:
    print(header)
    print(f"{'item':>4} {'lang':4} {'voice':5} {'speed':>5} {'chars':>5}  {'samples alone/batched':>23}  "
          f"{'duration s alone/batched':>24}  {'equal':5}  {'max|diff|':>9}  {'SNR dB':>7}")
    for r in rows:
        print(f"{r['item']:>4} {r['lang']:4} {r['voice']:5} {r['speed']:>5.2f} {r['chars']:>5}  "
              f"{r['samples_alone']:>11}/{r['samples_batched']:<11}  "
              f"{r['duration_alone_s']:>11.4f}/{r['duration_batched_s']:<12.4f}  "
              f"{'yes' if r['equal_length'] else 'NO':5}  {r['max_abs_diff']:>9.2e}  {r['snr_db']:>7.1f}")
    print(f"worst: lengths {'all equal' if worst['all_lengths_equal'] else 'DIFFER'} "
          f"(up to {worst['max_sample_count_difference']} samples), max|diff| {worst['max_abs_diff']:.3e}, "
          f"min SNR {worst['min_snr_db']:.1f} dB (item {worst['min_snr_item']})")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="Batched vs alone, per item, through supertonic-tts synth --batch.")
    parser.add_argument("--model-dir", type=Path, default=REPO / "models" / "faithful")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--no-pad-rewrite", action="store_true",
                        help="the graphs' padding as published (the engine flag of that name)")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: one per core)")
    parser.add_argument("--binary", type=Path, default=DEFAULT_BINARY)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)

    engine_args = ["--threads", str(args.threads)] + (["--no-pad-rewrite"] if args.no_pad_rewrite else [])
    with tempfile.TemporaryDirectory(prefix="batch_exactness_") as tmp:
        try:
            rows, worst = measure(args.binary, args.model_dir, args.steps, engine_args, Path(tmp))
        except CliError as e:
            print(e, file=sys.stderr)
            return 1

    pad_rewrite = not args.no_pad_rewrite
    print_table(rows, worst, f"{args.model_dir}, {args.steps} steps, pad rewrite {'on' if pad_rewrite else 'off'}: "
                             f"{len(rows)} items alone vs in one batch")
    results = {
        "command": shlex.join(["python", "-m", "tools.batch_exactness", *argv]),
        "model_dir": str(args.model_dir),
        "steps": args.steps,
        "pad_rewrite": pad_rewrite,
        "threads": args.threads,
        "items": [dict(r, snr_db=json_number(r["snr_db"])) for r in rows],
        "worst": dict(worst, min_snr_db=json_number(worst["min_snr_db"])),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
