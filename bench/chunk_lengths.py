#!/usr/bin/env python3
"""How long the chunks of real answers are at a given chunk limit: the
measurement behind Supertonic 3's default (docs/engine.md, "Model profiles").

Supertonic 3 is reported to repeat or skip words more often above ~160
characters per chunk. The engine packs whole sentences into a chunk up to the
limit and cuts a sentence only when it alone is longer; each chunk boundary
adds a pause (0.3 s in `synth`, a segment boundary in the service). For each
limit this counts, over bench/chunking_texts.json, through `supertonic-tts
ids` on a Supertonic 3 model directory: the chunks, their mean and largest
length, how many exceed 160 characters, and how many sentences had to be cut
inside (a worse break than a sentence end).

    build/venv/bin/python bench/chunk_lengths.py [--model-dir models/probe-v3] [--out bench/results/chunk_lengths.json]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BINARY = REPO / "build" / "bin" / "supertonic-tts"
LIMITS = [120, 140, 150, 160, 200, 300]
REPORTED_LIMIT = 160
SENTENCE_ENDS = (".", "!", "?", "\u2026", "\u3002", "\uff01", "\uff1f")


def chunks_of(model_dir: Path, lang: str, text: str, limit: int) -> list[str]:
    result = subprocess.run([str(BINARY), "ids", "--model-dir", str(model_dir), "--lang", lang,
                             "--max-chunk-chars", str(limit), "--text", text],
                            capture_output=True, text=True, check=True)
    return [c["chunk"] for c in json.loads(result.stdout)]


def measure(model_dir: Path, texts: list[dict], limit: int) -> dict:
    lengths, cut_inside = [], 0
    for item in texts:
        chunks = chunks_of(model_dir, item["lang"], item["text"], limit)
        lengths += [len(c) for c in chunks]
        cut_inside += sum(1 for c in chunks[:-1] if not c.rstrip("\"')»").endswith(SENTENCE_ENDS))
    return {"limit": limit, "chunks": len(lengths), "mean_chars": round(sum(lengths) / len(lengths), 1),
            "max_chars": max(lengths), f"over_{REPORTED_LIMIT}": sum(1 for n in lengths if n > REPORTED_LIMIT),
            "sentences_cut_inside": cut_inside}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "models" / "probe-v3")
    parser.add_argument("--texts", type=Path, default=REPO / "bench" / "chunking_texts.json")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "chunk_lengths.json")
    args = parser.parse_args(argv)
    texts = json.loads(args.texts.read_text())["texts"]
    rows = [measure(args.model_dir, texts, limit) for limit in LIMITS]
    sentences = [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t["text"].strip())]
    longer = sum(1 for s in sentences if len(s) > REPORTED_LIMIT)
    print(f"{len(texts)} answers, {sum(len(t['text']) for t in texts)} characters, {len(sentences)} sentences "
          f"({longer} longer than {REPORTED_LIMIT} characters)")
    print(f"{'limit':>5} {'chunks':>6} {'mean':>6} {'max':>4} {'>160':>5} {'cut inside':>10}")
    for r in rows:
        print(f"{r['limit']:>5} {r['chunks']:>6} {r['mean_chars']:>6} {r['max_chars']:>4} "
              f"{r[f'over_{REPORTED_LIMIT}']:>5} {r['sentences_cut_inside']:>10}")
    report = {"command": " ".join(["build/venv/bin/python bench/chunk_lengths.py", *(sys.argv[1:] if argv is None else argv)]),
              "texts": str(args.texts.relative_to(REPO)) if args.texts.is_relative_to(REPO) else str(args.texts),
              "answers": len(texts), "sentences": len(sentences), f"sentences_over_{REPORTED_LIMIT}": longer,
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
