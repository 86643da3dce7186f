"""The error tables of docs/protocol.md and docs/http-api.md are the server's
own (`supertonic-tts errors --markdown websocket|http`, made from the table in
src/service/errors.cpp): this writes them between their markers, or with
--check fails when a file differs (tests/python/docs/test_docs_links.py runs the
check).

    build/venv/bin/python -m tools.docs.error_tables [--check] [--binary PATH]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
END = "<!-- end of generated table -->"
# Each doc, and the protocol whose codes its table lists.
DOCS = {REPO / "docs" / "protocol.md": "websocket", REPO / "docs" / "http-api.md": "http"}


def begin_marker(protocol: str) -> str:
    return f"<!-- generated: supertonic-tts errors --markdown {protocol} -->"


def generated(binary: Path, protocol: str) -> str:
    return subprocess.run([str(binary), "errors", "--markdown", protocol], check=True, capture_output=True,
                          text=True, timeout=30).stdout


def table_json(binary: Path) -> list[dict]:
    """Every error code as the server's table has it: code, retryable,
    http_status, http_statuses, websocket, http, meaning."""
    return json.loads(subprocess.run([str(binary), "errors"], check=True, capture_output=True, text=True,
                                     timeout=30).stdout)


def with_table(doc: str, protocol: str, table: str) -> str:
    begin = begin_marker(protocol)
    head, found, rest = doc.partition(begin)
    _, end, tail = rest.partition(END)
    if not found or not end:
        raise ValueError(f"the doc lacks the markers {begin!r} ... {END!r}")
    return head + begin + "\n" + table.rstrip("\n") + "\n" + end + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file differs instead of writing it")
    parser.add_argument("--binary", type=Path, default=REPO / "build" / "bin" / "supertonic-tts")
    args = parser.parse_args()
    stale = []
    for path, protocol in DOCS.items():
        doc = path.read_text(encoding="utf-8")
        want = with_table(doc, protocol, generated(args.binary, protocol))
        if want == doc:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(want, encoding="utf-8")
    for path in stale:
        print(f"{path} is out of date: run `make docs`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
