"""docs/configuration.md's variable table is the server's own
(`supertonic-tts serve --help-env-markdown`, made from the table in
src/service/service_config.cpp): this writes it between the markers, or with
--check fails when the file differs (tests/python/docs/test_docs_links.py runs
the check).

    build/venv/bin/python -m tools.docs.configuration_table [--check] [--binary PATH]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "configuration.md"
BEGIN = "<!-- generated: supertonic-tts serve --help-env-markdown -->"
END = "<!-- end of generated table -->"


def generated(binary: Path) -> str:
    return subprocess.run([str(binary), "serve", "--help-env-markdown"], check=True, capture_output=True,
                          text=True, timeout=30).stdout


def with_table(doc: str, table: str) -> str:
    head, begin, rest = doc.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"{DOC} lacks the markers {BEGIN!r} ... {END!r}")
    return head + begin + "\n" + table.rstrip("\n") + "\n" + end + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file differs instead of writing it")
    parser.add_argument("--binary", type=Path, default=REPO / "build" / "bin" / "supertonic-tts")
    args = parser.parse_args()
    doc = DOC.read_text(encoding="utf-8")
    want = with_table(doc, generated(args.binary))
    if args.check:
        if want != doc:
            print(f"{DOC} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(want, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
