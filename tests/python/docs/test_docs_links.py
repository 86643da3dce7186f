"""Every relative link in the documentation resolves: the file (or folder) it
names exists, and its #anchor is a heading of that file, spelled as GitHub
makes heading anchors (lower case, punctuation dropped, spaces to '-', a
repeated heading gets -1, -2...). External links (http, https, mailto) are
not followed. Also runs by hand: python tests/python/docs/test_docs_links.py.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def doc_files() -> list[Path]:
    files = [REPO / "README.md", REPO / "clients" / "python" / "README.md", REPO / "tests" / "fuzz" / "README.md"]
    files += sorted((REPO / "docs").glob("*.md"))
    files += sorted((REPO / "deploy").glob("**/README.md"))
    return [f for f in files if f.is_file()]


_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1) == fence:
                fence = None
            continue
        if fence is None:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = _CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w keeps letters, digits and '_' of any script
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        m = _HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        for a in re.finditer(r"<a\s+(?:name|id)=\"([^\"]+)\"", line):
            found.add(a.group(1))
    return found


def links(path: Path):
    """(line number, target) of every link outside code."""
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        line = _CODE_SPAN.sub("", line)
        for m in _LINK.finditer(line):
            yield number, m.group(1)


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        where = f"{path.relative_to(REPO)}:{number}: {target}"
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{where}: {file_part} does not exist")
            continue
        try:
            dest.relative_to(REPO)
        except ValueError:
            problems.append(f"{where}: points outside the repository")
            continue
        if anchor:
            if dest.suffix != ".md":
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif anchor not in anchors(dest):
                problems.append(f"{where}: no heading '#{anchor}' in {dest.relative_to(REPO)}")
    return problems


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve(path: Path):
    problems = broken_links(path)
    assert not problems, "\n".join(problems)


def test_slugs_follow_github():
    assert slug("The model: `supertonic-tts download`") == "the-model-supertonic-tts-download"
    assert slug("Several replicas behind a load balancer (HAProxy)") == "several-replicas-behind-a-load-balancer-haproxy"
    assert slug("Browsers: other sites' pages are refused") == "browsers-other-sites-pages-are-refused"
    assert slug("The WebSocket protocol (`ws://HOST:8000/ws/tts`)") == "the-websocket-protocol-wshost8000wstts"
    assert slug("`make ci`") == "make-ci"
    assert slug("Text normalization: what the listener hears") == "text-normalization-what-the-listener-hears"


def test_the_docs_are_checked():
    names = {str(p.relative_to(REPO)) for p in doc_files()}
    assert {"README.md", "docs/README.md", "docs/architecture.md", "clients/python/README.md"} <= names


if __name__ == "__main__":
    all_problems = [p for f in doc_files() for p in broken_links(f)]
    print("\n".join(all_problems) or f"{len(doc_files())} files: every link resolves")
    sys.exit(1 if all_problems else 0)


def test_configuration_doc_is_the_servers_own_table():
    """docs/configuration.md's table is what `supertonic-tts serve
    --help-env-markdown` prints (the variable table of the code): a variable
    added, renamed or re-described there and not here fails (`make docs`
    rewrites it)."""
    from service_support import BINARY
    from tools.docs.configuration_table import DOC, generated, with_table

    if not BINARY.exists():
        pytest.skip("the server is not built")
    doc = DOC.read_text(encoding="utf-8")
    assert with_table(doc, generated(BINARY)) == doc, "docs/configuration.md is out of date: run `make docs`"


@pytest.mark.parametrize("doc", ["protocol.md", "http-api.md"])
def test_error_tables_are_the_servers_own(doc: str):
    """The error tables of docs/protocol.md and docs/http-api.md are what
    `supertonic-tts errors --markdown websocket|http` prints (the error table
    of the code): a code added, re-described or given another status there and
    not here fails (`make docs` rewrites them)."""
    from service_support import BINARY
    from tools.docs.error_tables import DOCS, generated, with_table

    if not BINARY.exists():
        pytest.skip("the server is not built")
    path = REPO / "docs" / doc
    text = path.read_text(encoding="utf-8")
    assert with_table(text, DOCS[path], generated(BINARY, DOCS[path])) == text, \
        f"docs/{doc} is out of date: run `make docs`"


def test_the_voice_routes_error_list_agrees_with_the_error_table():
    """docs/voices.md lists, for the voice routes only, when each error is
    sent: every status and code it names must be a pair the server's error
    table has (a code moved to another status there fails here)."""
    from service_support import BINARY
    from tools.docs.error_tables import table_json

    if not BINARY.exists():
        pytest.skip("the server is not built")
    statuses = {e["code"]: set(e["http_statuses"]) for e in table_json(BINARY)}
    text = (REPO / "docs" / "voices.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d{3}) \| ([^|]+) \|", text, flags=re.M)
    assert len(rows) >= 10, "docs/voices.md's error list was not found"
    for status, codes in rows:
        for code in re.findall(r"`([a-z_]+)`", codes):
            assert code in statuses, f"docs/voices.md names `{code}`, which the server never sends"
            assert int(status) in statuses[code], f"docs/voices.md: `{code}` with {status}, the table says {statuses[code]}"
