"""`supertonic-tts download` against a local HTTP(S) server on 127.0.0.1 (never
the internet): redirects like Hugging Face's, Range requests, truncated
responses, corrupt files, 404s, an unreachable host, credentials and signed
query strings that must never be printed, and a redirect from https to plain
http that must be refused (https with a self-signed certificate made at test
time by the openssl command, passed with --ca-bundle).

The server lays the files out like the Hugging Face repository
(/Supertone/supertonic-2/resolve/<pinned revision>/<path>, answered with a 302
to /cdn/<path>, as Hugging Face redirects to its CDN; HEAD gets the same 302).
With `lfs`, that 302 carries what Hugging Face sends for a file stored in Git
LFS: its sha256 as X-Linked-Etag (and ETag), its size as X-Linked-Size and the
commit as X-Repo-Commit; Supertonic 3, which has no checksums compiled in, is
verified against those, served over https as they count only from an
authenticated host (over plain http they are refused unless
--allow-unverified). Endless, over-long and trickling bodies test the size
and time bounds. The compiled-in Supertonic 2 checksums belong to the
real files, whose weights are not served here, so most tests pass --manifest
with the checksums of the generated files; the file list itself is the
compiled-in one (from --print-manifest). The tests of the pinned JSON checksums
run without --manifest.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[3]
BINARY = REPO / "build" / "bin" / "supertonic-tts"
SHARED_MODEL = REPO.parent / "shared" / "models" / "supertonic-2"
PROVENANCE = SHARED_MODEL / "PROVENANCE.md"
V2_REVISION = "75e6727618a02f323c720cba9478152d4bc16ca4"
V3_REVISION = "724fb5abbf5502583fb520898d45929e62f02c0b"
REPO_PREFIX = f"/Supertone/supertonic-2/resolve/{V2_REVISION}/"
V3_PREFIX = f"/Supertone/supertonic-3/resolve/{V3_REVISION}/"
ARCHIVE_V3_PREFIX = f"/supertone-archive/supertonic-3/resolve/{V3_REVISION}/"

pytestmark = pytest.mark.skipif(not BINARY.exists(), reason="build/bin/supertonic-tts not built (make build)")


def run_download(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("HF_ENDPOINT", "SUPERTONIC_MODEL_BASE_URLS", "http_proxy", "https_proxy", "HTTP_PROXY",
                          "HTTPS_PROXY", "ALL_PROXY", "all_proxy")}
    return subprocess.run([str(BINARY), "download", *args], capture_output=True, text=True, timeout=timeout,
                          env={**clean, **(env or {})})


def published_manifest(model: str = "supertonic-2") -> dict:
    result = run_download("--model", model, "--print-manifest")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def generated_files() -> dict[str, bytes]:
    """Content for every path of the compiled-in manifest: random bytes for the
    graphs (large enough to be cut mid-transfer), small valid JSON otherwise
    (a voice style's with the two tensors the downloader checks for)."""
    rng = random.Random(1234)
    files = {}
    for i, path in enumerate(published_manifest()):
        if path.endswith(".onnx"):
            files[path] = rng.randbytes(200_000 + 50_000 * i)
        elif path.startswith("voice_styles/"):
            files[path] = json.dumps({key: {"dims": [1, 1, 25], "data": [[[rng.random() for _ in range(25)]]],
                                            "type": "float32"} for key in ("style_ttl", "style_dp")}).encode()
        else:
            files[path] = json.dumps({"file": path, "values": [rng.random() for _ in range(50)]}).encode()
    return files


class ModelServer:
    """A threaded HTTP/1.1 server (HTTPS with `tls`) with redirects, byte ranges and fault injection,
    serving `files` under the repository path `prefix` (HEAD and GET)."""

    def __init__(self, files: dict[str, bytes], tls: ssl.SSLContext | None = None, prefix: str = REPO_PREFIX):
        self.files = dict(files)
        self.prefix = prefix
        self.missing: set[str] = set()          # 404 at the repository path
        self.truncate_once: set[str] = set()    # next full-body response of this path stops halfway
        self.truncate_always: set[str] = set()  # every response of this path stops halfway
        self.ignore_range = False               # answer 200 with the whole file even to a Range request
        self.cdn_status: dict[str, int] = {}    # answer this status (and a short body) at the CDN path
        self.redirect_base: str | None = None   # where the 302 points (default: this server's /cdn)
        self.redirect_query = ""                # appended to the 302's Location, like a signed CDN URL
        self.lfs = False                        # the 302 of a .onnx file carries Hugging Face's LFS headers
        self.linked_etag: dict[str, str] = {}   # X-Linked-Etag to send instead of the file's sha256
        self.linked_size: dict[str, int] = {}   # X-Linked-Size to send instead of the file's size
        self.repo_commit: str | None = None     # X-Repo-Commit to send instead of the prefix's revision
        self.endless: set[str] = set()          # the CDN sends this path as an endless chunked body
        self.trickle: set[str] = set()          # ... as an endless chunked body, 1 KB every 0.1 s
        self.extra: dict[str, bytes] = {}       # ... as the file then these bytes, chunked (no Content-Length)
        self.repository_answer: tuple[int, dict[str, str]] | None = None  # every repository request gets this
        self.moved: dict[str, str] = {}         # old repository path -> new: a relative 307, like a renamed repo
        self.silent_head = False                # HEAD is read and never answered; the connection stays open
        self.requests: list[tuple[str, str | None]] = []  # GET: (path without the query, Range header)
        self.heads: list[str] = []              # HEAD: path without the query
        self.queries: list[str] = []            # the query strings of the GET requests
        self.lock = threading.Lock()
        self.closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_HEAD(self):
                url = urlsplit(self.path)
                with server.lock:
                    server.heads.append(url.path)
                if server.silent_head:
                    return self.hold_silently()
                if self.answer_moved(url.path):
                    return None
                if url.path.startswith(server.prefix):
                    return self.answer_repository(url.path[len(server.prefix):], head=True)
                if url.path.startswith("/cdn/") and url.path[len("/cdn/"):] in server.files:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(server.files[url.path[len("/cdn/"):]])))
                    self.end_headers()
                    return None
                return self.send_plain(404, b"", head=True)

            def do_GET(self):
                url = urlsplit(self.path)
                path = url.path
                with server.lock:
                    server.requests.append((path, self.headers.get("Range")))
                    if url.query:
                        server.queries.append(url.query)
                if self.answer_moved(path):
                    return None
                if path.startswith(server.prefix):
                    return self.answer_repository(path[len(server.prefix):], head=False)
                if path.startswith("/cdn/"):
                    rel = path[len("/cdn/"):]
                    if rel in server.cdn_status:
                        return self.send_plain(server.cdn_status[rel], b"<Error>denied</Error>")
                    if rel not in server.files:
                        return self.send_plain(404, b"no such object")
                    return self.send_file(rel, server.files[rel])
                return self.send_plain(404, b"not found")

            def hold_silently(self):
                """Answers nothing until the client hangs up (or the server closes)."""
                self.close_connection = True
                self.connection.settimeout(0.1)
                while not server.closing.is_set():
                    try:
                        if not self.connection.recv(1024):
                            return
                    except socket.timeout:
                        continue
                    except OSError:
                        return

            def answer_moved(self, path: str) -> bool:
                for old, new in server.moved.items():
                    if path.startswith(old):
                        self.send_response(307)
                        self.send_header("Location", new + path[len(old):])  # relative, as Hugging Face does
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return True
                return False

            def answer_repository(self, rel: str, head: bool):
                if server.repository_answer is not None:
                    status, headers = server.repository_answer
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if rel in server.missing or rel not in server.files:
                    return self.send_plain(404, b"Entry not found", head=head)
                base = server.redirect_base or server.origin
                query = "?" + server.redirect_query if server.redirect_query else ""
                self.send_response(302)
                self.send_header("Location", f"{base}/cdn/{rel}{query}")
                if server.lfs and rel.endswith(".onnx"):
                    sha = server.linked_etag.get(rel, hashlib.sha256(server.files[rel]).hexdigest())
                    self.send_header("X-Linked-Etag", f'"{sha}"')
                    self.send_header("ETag", f'W/"{sha}"')
                    self.send_header("X-Linked-Size", str(server.linked_size.get(rel, len(server.files[rel]))))
                if server.lfs:  # the hub names the commit it resolved for every file
                    self.send_header("X-Repo-Commit",
                                     server.repo_commit or server.prefix.rstrip("/").rsplit("/", 1)[-1])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None

            def send_plain(self, status: int, body: bytes, head: bool = False):
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def send_chunked(self, rel: str, data: bytes):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    if rel in server.extra:
                        for piece in (data, server.extra[rel]):
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    piece = b"[" * 1000 if rel in server.trickle else b"[" * 65536
                    while True:  # until the client hangs up
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        if rel in server.trickle:
                            self.wfile.flush()
                            time.sleep(0.1)
                except OSError:
                    self.close_connection = True

            def send_file(self, rel: str, data: bytes):
                if rel in server.endless or rel in server.trickle or rel in server.extra:
                    return self.send_chunked(rel, data)
                start = 0
                header = self.headers.get("Range")
                if header and not server.ignore_range:
                    m = re.fullmatch(r"bytes=(\d+)-(\d*)", header.strip())
                    assert m, header
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                with server.lock:
                    cut = rel in server.truncate_always or rel in server.truncate_once
                    server.truncate_once.discard(rel)
                if cut:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.base_url = self.origin + self.prefix.rstrip("/")
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def requests_for(self, rel: str) -> list[tuple[str, str | None]]:
        with self.lock:
            return [r for r in self.requests if r[0].endswith("/" + rel)]

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()
            self.heads.clear()

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return generated_files()


@pytest.fixture()
def server(files):
    s = ModelServer(files)
    yield s
    s.close()


@pytest.fixture()
def manifest(tmp_path: Path, files) -> Path:
    """The compiled-in file list with the generated graphs' checksums and sizes."""
    entries = {}
    for path in published_manifest():
        entries[path] = ({"sha256": hashlib.sha256(files[path]).hexdigest(), "size": len(files[path])}
                         if path.endswith(".onnx") else {})
    out = tmp_path / "manifest.json"
    out.write_text(json.dumps(entries))
    return out


def download(server: ModelServer, manifest: Path, dest: Path, *extra: str, base_url: str | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
    return run_download("--dest", str(dest), "--base-url", base_url or server.base_url, "--manifest", str(manifest),
                        *extra, timeout=timeout)


def with_userinfo(url: str, userinfo: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{userinfo}@{rest}"


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command (no network)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed: no local https server")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                           "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                           "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        pytest.skip(f"openssl req failed: {made.stderr[-500:]}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.fixture()
def tls_server(files, tls_cert):
    s = ModelServer(files, tls=tls_cert[1])
    yield s
    s.close()


def assert_complete(dest: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        assert (dest / rel).read_bytes() == data, rel
    assert not list(dest.rglob("*.part")), "no partial file may remain"


def test_published_manifest_lists_the_model_and_the_published_checksums() -> None:
    manifest = published_manifest()
    voices = [f"voice_styles/{g}{i}.json" for g in "FM" for i in range(1, 6)]
    graphs = [f"onnx/{n}.onnx" for n in ("duration_predictor", "text_encoder", "vector_estimator", "vocoder")]
    assert set(manifest) == {"onnx/tts.json", "onnx/unicode_indexer.json", *voices, *graphs}
    assert list(manifest)[-1] == "onnx/vocoder.onnx", "the vocoder comes last: its presence marks a complete model"
    for g in graphs:
        assert re.fullmatch(r"[0-9a-f]{64}", manifest[g]["sha256"]) and manifest[g]["size"] > 1_000_000
    for path, entry in manifest.items():  # the JSON files are pinned too, not just parsed
        assert re.fullmatch(r"[0-9a-f]{64}", entry.get("sha256", "")) and entry.get("size", 0) > 0, path
    if not PROVENANCE.exists():
        pytest.skip("../shared/models/supertonic-2/PROVENANCE.md not present")
    table = dict((m.group(1), (m.group(2), int(m.group(3)))) for m in re.finditer(
        r"\|\s*`([^`]+\.onnx)`\s*\|\s*([0-9a-f]{64})\s*\|\s*(\d+)\s*\|", PROVENANCE.read_text()))
    assert {g: (manifest[g]["sha256"], manifest[g]["size"]) for g in graphs} == table


def test_downloads_every_file_through_redirects_then_keeps_them(server, manifest, files, tmp_path) -> None:
    dest = tmp_path / "model"
    result = download(server, manifest, dest)
    assert result.returncode == 0, result.stderr
    assert_complete(dest, files)
    paths = [p for p, _ in server.requests]
    assert any(p.startswith(REPO_PREFIX) for p in paths) and any(p.startswith("/cdn/") for p in paths)
    assert "sha256 verified" in result.stderr

    # A second run verifies what is there and fetches nothing.
    server.clear_log()
    again = download(server, manifest, dest)
    assert again.returncode == 0, again.stderr
    assert server.requests == []
    assert "present, sha256 verified" in again.stderr

    # --force fetches everything again.
    forced = download(server, manifest, dest, "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(server.requests_for("onnx/vocoder.onnx")) == 2  # the redirect and the CDN
    assert_complete(dest, files)


def test_a_modified_file_in_place_is_downloaded_again(server, manifest, files, tmp_path) -> None:
    dest = tmp_path / "model"
    assert download(server, manifest, dest).returncode == 0
    target = dest / "onnx/text_encoder.onnx"
    target.write_bytes(b"x" + target.read_bytes()[1:])
    server.clear_log()
    result = download(server, manifest, dest)
    assert result.returncode == 0, result.stderr
    assert "onnx/text_encoder.onnx: present but does not verify" in result.stderr
    assert [p for p, _ in server.requests if p.startswith("/cdn/")] == ["/cdn/onnx/text_encoder.onnx"]
    assert_complete(dest, files)


def test_checksum_mismatch_names_the_file_and_removes_it(server, manifest, files, tmp_path) -> None:
    good = files["onnx/vocoder.onnx"]
    bad = bytes([good[0] ^ 0xFF]) + good[1:]  # same size, one byte off
    server.files["onnx/vocoder.onnx"] = bad
    dest = tmp_path / "model"
    result = download(server, manifest, dest)
    assert result.returncode == 1
    err = result.stderr
    assert "checksum mismatch for onnx/vocoder.onnx" in err
    assert hashlib.sha256(good).hexdigest() in err and hashlib.sha256(bad).hexdigest() in err
    assert "deleted" in err
    assert not (dest / "onnx/vocoder.onnx").exists()
    assert not (dest / "onnx/vocoder.onnx.part").exists()


def test_force_keeps_the_present_file_until_its_replacement_verifies(server, manifest, files, tmp_path) -> None:
    dest = tmp_path / "model"
    assert download(server, manifest, dest).returncode == 0
    server.files["onnx/vocoder.onnx"] = b"y" * len(files["onnx/vocoder.onnx"])
    result = download(server, manifest, dest, "--force")
    assert result.returncode == 1
    assert "checksum mismatch for onnx/vocoder.onnx" in result.stderr
    assert_complete(dest, files)


def test_size_mismatch_is_reported(server, manifest, files, tmp_path) -> None:
    server.files["onnx/duration_predictor.onnx"] = files["onnx/duration_predictor.onnx"][:-10]
    dest = tmp_path / "model"
    result = download(server, manifest, dest)
    assert result.returncode == 1
    assert "mismatch for onnx/duration_predictor.onnx" in result.stderr
    n = len(files["onnx/duration_predictor.onnx"])
    assert f"{n} bytes" in result.stderr and f"{n - 10} bytes" in result.stderr
    assert not (dest / "onnx/duration_predictor.onnx").exists()


def test_truncated_transfer_is_resumed_with_a_range_request(server, manifest, files, tmp_path) -> None:
    rel = "onnx/vector_estimator.onnx"
    server.truncate_once.add(rel)
    dest = tmp_path / "model"
    result = download(server, manifest, dest)
    assert result.returncode == 0, result.stderr
    assert_complete(dest, files)
    half = len(files[rel]) // 2
    cdn = [r for p, r in server.requests_for(rel) if p.startswith("/cdn/")]
    assert cdn == [None, f"bytes={half}-"], cdn
    # The Range header also went to the repository URL, before its redirect.
    assert (REPO_PREFIX + rel, f"bytes={half}-") in server.requests
    assert f"truncated download of {rel}" in result.stderr
    assert "resuming at" in result.stderr


def test_truncated_download_keeps_the_part_and_the_next_run_resumes(server, manifest, files, tmp_path) -> None:
    rel = "onnx/text_encoder.onnx"
    server.truncate_always.add(rel)
    dest = tmp_path / "model"
    result = download(server, manifest, dest, "--retries", "0")
    assert result.returncode == 1
    assert f"truncated download of {rel}" in result.stderr
    assert "run the command again to resume" in result.stderr
    part = dest / (rel + ".part")
    half = len(files[rel]) // 2
    assert part.stat().st_size == half
    assert not (dest / rel).exists()

    server.truncate_always.clear()
    server.clear_log()
    again = download(server, manifest, dest)
    assert again.returncode == 0, again.stderr
    assert_complete(dest, files)
    assert [r for p, r in server.requests_for(rel) if p.startswith("/cdn/")] == [f"bytes={half}-"]


def test_server_that_ignores_ranges_gets_a_fresh_download(server, manifest, files, tmp_path) -> None:
    rel = "onnx/vocoder.onnx"
    dest = tmp_path / "model"
    (dest / "onnx").mkdir(parents=True)
    (dest / (rel + ".part")).write_bytes(b"\0" * 1000)  # stale bytes the 200 answer must replace
    server.ignore_range = True
    result = download(server, manifest, dest)
    assert result.returncode == 0, result.stderr
    assert_complete(dest, files)


def test_partial_file_from_another_version_is_restarted_once(server, manifest, files, tmp_path) -> None:
    rel = "onnx/vocoder.onnx"
    dest = tmp_path / "model"
    (dest / "onnx").mkdir(parents=True)
    (dest / (rel + ".part")).write_bytes(b"\x01" * 1000)  # resumable, but not a prefix of the file
    result = download(server, manifest, dest)
    assert result.returncode == 0, result.stderr
    assert "did not verify after resuming" in result.stderr
    assert_complete(dest, files)


def test_complete_part_is_verified_without_a_request(server, manifest, files, tmp_path) -> None:
    rel = "onnx/duration_predictor.onnx"
    dest = tmp_path / "model"
    (dest / "onnx").mkdir(parents=True)
    (dest / (rel + ".part")).write_bytes(files[rel])
    result = download(server, manifest, dest)
    assert result.returncode == 0, result.stderr
    assert server.requests_for(rel) == []
    assert_complete(dest, files)


def test_http_404_names_the_url(server, manifest, tmp_path) -> None:
    server.missing.add("voice_styles/M5.json")
    result = download(server, manifest, tmp_path / "model")
    assert result.returncode == 1
    assert f"HTTP 404 Not Found for {server.base_url}/voice_styles/M5.json" in result.stderr
    assert "--base-url" in result.stderr


def test_error_page_instead_of_json_is_rejected(server, manifest, tmp_path) -> None:
    server.files["onnx/tts.json"] = b"<html>captive portal</html>"
    dest = tmp_path / "model"
    result = download(server, manifest, dest)
    assert result.returncode == 1
    assert "onnx/tts.json" in result.stderr and "not valid JSON" in result.stderr
    assert not (dest / "onnx/tts.json").exists()


def test_unreachable_host_is_a_clear_error(manifest, tmp_path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_download("--dest", str(tmp_path / "model"), "--manifest", str(manifest),
                          "--base-url", f"http://127.0.0.1:{port}/Supertone/supertonic-2/resolve/main",
                          timeout=60)
    assert result.returncode == 1
    assert f"cannot connect to 127.0.0.1:{port}" in result.stderr
    assert "mount" in result.stderr
    assert not (tmp_path / "model").exists(), "a download that fetched nothing leaves no directory behind"


@pytest.mark.parametrize("content,message", [
    ('{"../outside.onnx": {}}', "'..' component"),
    ('{"/etc/passwd": {}}', "must be relative"),
    ('{"onnx/a.onnx": {"sha256": "abc"}}', "not 64 hex digits"),
    ('{"onnx/a.onnx": {"md5": "abc"}}', "unexpected 'md5'"),
    ('[]', "non-empty object"),
])
def test_bad_manifest_is_refused(tmp_path, content, message) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = run_download("--dest", str(tmp_path / "model"), "--manifest", str(bad),
                          "--base-url", "http://127.0.0.1:9/x")
    assert result.returncode == 1
    assert message in result.stderr


def test_pinned_json_checksums_are_those_of_the_published_files() -> None:
    if not SHARED_MODEL.is_dir():
        pytest.skip("../shared/models/supertonic-2 not present")
    manifest = published_manifest()
    for path, entry in manifest.items():
        if path.endswith(".json"):
            data = (SHARED_MODEL / path).read_bytes()
            assert (entry["sha256"], entry["size"]) == (hashlib.sha256(data).hexdigest(), len(data)), path


def modified_tts_json(files: dict[str, bytes]) -> bytes:
    """Valid JSON that is not the published tts.json: the real one with one value changed when available."""
    real = SHARED_MODEL / "onnx" / "tts.json"
    if real.exists():
        config = json.loads(real.read_text())
        config["tampered"] = True
        return json.dumps(config, indent=2).encode()
    return files["onnx/tts.json"]


def test_a_mirror_serving_a_modified_json_file_is_rejected_by_its_pinned_checksum(server, manifest, files,
                                                                                 tmp_path) -> None:
    server.files["onnx/tts.json"] = modified_tts_json(files)
    json.loads(server.files["onnx/tts.json"])  # valid JSON: only the checksum can catch it
    dest = tmp_path / "model"
    result = run_download("--dest", str(dest), "--base-url", server.base_url)  # the compiled-in table
    assert result.returncode == 1, result.stderr
    assert "checksum mismatch for onnx/tts.json" in result.stderr
    assert hashlib.sha256(server.files["onnx/tts.json"]).hexdigest() in result.stderr
    assert not (dest / "onnx/tts.json").exists()
    assert not server.requests_for("onnx/unicode_indexer.json"), "the first bad file stops the download"

    # --manifest still overrides the compiled-in table ({} for tts.json: any valid JSON).
    overridden = download(server, manifest, dest)
    assert overridden.returncode == 0, overridden.stderr
    assert (dest / "onnx/tts.json").read_bytes() == server.files["onnx/tts.json"]


def test_the_published_json_files_verify_against_the_compiled_in_table(server, tmp_path) -> None:
    if not SHARED_MODEL.is_dir():
        pytest.skip("../shared/models/supertonic-2 not present")
    server.files = {p: (SHARED_MODEL / p).read_bytes() for p in published_manifest() if p.endswith(".json")}
    dest = tmp_path / "model"
    result = run_download("--dest", str(dest), "--base-url", server.base_url)
    assert result.returncode == 1  # the graphs are not served
    for path in server.files:
        assert f"{path}: " in result.stderr and (dest / path).read_bytes() == server.files[path], path
    assert result.stderr.count("downloaded, sha256 verified") == len(server.files)
    assert "HTTP 404 Not Found" in result.stderr and "onnx/duration_predictor.onnx" in result.stderr


# --- URLs in the output: no credentials, no query strings --------------------------------------------------------

@pytest.mark.parametrize("failure", ["http_404", "truncated_then_retried", "checksum_mismatch"])
def test_credentials_in_the_base_url_are_never_printed(server, manifest, files, tmp_path, failure) -> None:
    if failure == "http_404":
        server.missing.add("voice_styles/M5.json")
    elif failure == "truncated_then_retried":
        server.truncate_always.add("onnx/text_encoder.onnx")
    else:
        server.files["onnx/vocoder.onnx"] = b"z" * len(files["onnx/vocoder.onnx"])
    base = with_userinfo(server.base_url, "user:secret")
    result = download(server, manifest, tmp_path / "model", "--retries", "1", base_url=base)
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "secret" not in out, out
    assert f"files from http://user:***@127.0.0.1:{server.port}/Supertone/" in result.stderr  # the banner
    if failure == "http_404":
        assert f"HTTP 404 Not Found for http://user:***@127.0.0.1:{server.port}/Supertone/" in result.stderr
    elif failure == "truncated_then_retried":
        assert "truncated download of onnx/text_encoder.onnx from 127.0.0.1" in result.stderr
        assert "retrying in" in result.stderr
    else:
        assert (f"checksum mismatch for onnx/vocoder.onnx (from http://user:***@127.0.0.1:{server.port}/"
                in result.stderr)


def test_a_bare_user_name_in_the_base_url_is_hidden_too(server, manifest, tmp_path) -> None:
    server.missing.add("onnx/tts.json")
    result = download(server, manifest, tmp_path / "model", base_url=with_userinfo(server.base_url, "hf_tokensecret"))
    assert result.returncode == 1
    assert "tokensecret" not in result.stdout + result.stderr
    assert f"http://***@127.0.0.1:{server.port}/" in result.stderr


def test_help_does_not_print_credentials_from_hf_endpoint() -> None:
    result = run_download("--help", env={"HF_ENDPOINT": "https://user:secret@mirror.example"})
    assert result.returncode == 0, result.stderr
    assert "secret" not in result.stdout + result.stderr
    assert "https://user:***@mirror.example/Supertone/{model}/resolve/{revision}" in result.stdout
    assert "https://user:***@mirror.example/supertone-archive/{model}/resolve/{revision}" in result.stdout


@pytest.mark.parametrize("status", [404, 403, 503, 400])
def test_a_signed_redirect_query_string_is_never_printed(server, manifest, tmp_path, status) -> None:
    rel = "voice_styles/F3.json"
    server.redirect_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA&X-Amz-Signature=topsecret"
    server.cdn_status[rel] = status
    result = download(server, manifest, tmp_path / "model", "--retries", "0")
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "topsecret" not in out and "X-Amz" not in out, out
    assert f"http://127.0.0.1:{server.port}/cdn/{rel}?\u2026" in result.stderr  # where it went, without the query
    assert any("X-Amz-Signature=topsecret" in q for q in server.queries), "the signed URL itself was fetched"


def test_a_query_string_in_the_base_url_is_sent_but_never_printed(server, manifest, files, tmp_path) -> None:
    dest = tmp_path / "model"
    result = download(server, manifest, dest, base_url=server.base_url + "?token=topsecret")
    assert result.returncode == 0, result.stderr
    assert_complete(dest, files)
    assert "topsecret" not in result.stdout + result.stderr
    assert f"files from {server.base_url}?\u2026 into" in result.stderr
    assert server.queries.count("token=topsecret") == len(files)  # every repository request carried it


# --- Redirects: https never continues over plain http -------------------------------------------------------------

def test_https_download_with_a_ca_bundle_follows_https_redirects(tls_server, tls_cert, manifest, files,
                                                                 tmp_path) -> None:
    dest = tmp_path / "model"
    result = download(tls_server, manifest, dest, "--ca-bundle", str(tls_cert[0]))
    assert result.returncode == 0, result.stderr
    assert_complete(dest, files)
    assert any(p.startswith("/cdn/") for p, _ in tls_server.requests)


def test_https_with_an_untrusted_certificate_is_a_tls_error(tls_server, manifest, tmp_path) -> None:
    result = download(tls_server, manifest, tmp_path / "model", "--retries", "0")
    assert result.returncode == 1
    assert f"TLS verification failed for 127.0.0.1:{tls_server.port}" in result.stderr
    assert "--ca-bundle" in result.stderr


def test_a_redirect_from_https_to_plain_http_is_refused(tls_server, server, tls_cert, manifest, tmp_path) -> None:
    tls_server.redirect_base = server.origin  # the "CDN" answers over plain http
    dest = tmp_path / "model"
    result = download(tls_server, manifest, dest, "--ca-bundle", str(tls_cert[0]),
                      base_url=with_userinfo(tls_server.base_url, "user:secret"))
    assert result.returncode == 1
    assert "refused a redirect from https to plain http" in result.stderr
    assert f"redirected to http://127.0.0.1:{server.port}/cdn/onnx/tts.json" in result.stderr
    assert "secret" not in result.stdout + result.stderr
    assert server.requests == [], "nothing may be requested over plain http"
    assert not (dest / "onnx/tts.json").exists()


def test_a_plain_http_base_url_may_be_redirected_to_https(server, tls_server, tls_cert, manifest, files,
                                                          tmp_path) -> None:
    server.redirect_base = tls_server.origin
    dest = tmp_path / "model"
    result = download(server, manifest, dest, "--ca-bundle", str(tls_cert[0]))
    assert result.returncode == 0, result.stderr
    assert_complete(dest, files)
    assert not any(p.startswith("/cdn/") for p, _ in server.requests)
    assert any(p.startswith("/cdn/") for p, _ in tls_server.requests)


# --- Supertonic 3, pinned revisions, checksums from the hub ------------------------------------------------------

def template(server: ModelServer, org: str = "Supertone") -> str:
    return f"{server.origin}/{org}/{{model}}/resolve/{{revision}}"


def hub(files: dict[str, bytes], tls_cert, prefix: str = V3_PREFIX) -> ModelServer:
    """A stand-in for the hub: https (a hub's sha256 verifies only over TLS), with its LFS headers."""
    s = ModelServer(files, tls=tls_cert[1], prefix=prefix)
    s.lfs = True
    return s


@pytest.fixture()
def v3_server(files, tls_cert):
    s = hub(files, tls_cert)
    yield s
    s.close()


@pytest.fixture()
def hub_ca(tls_cert) -> tuple[str, str]:
    """The flag that makes the downloader trust the test hub's certificate."""
    return "--ca-bundle", str(tls_cert[0])


def download_v3(*extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_download("--model", "supertonic-3", *extra, env=env)


def graphs_of(files: dict[str, bytes]) -> list[str]:
    return [p for p in files if p.endswith(".onnx")]


def test_supertonic_3_lists_the_same_files_without_checksums() -> None:
    v2, v3 = published_manifest("supertonic-2"), published_manifest("supertonic-3")
    assert list(v3) == list(v2), "the official loader reads the same paths from both releases"
    assert all(entry == {} for entry in v3.values())


def test_supertonic_3_is_verified_against_the_hubs_sha256_at_its_pinned_revision(v3_server, hub_ca, files,
                                                                                tmp_path) -> None:
    dest = tmp_path / "model"
    result = download_v3("--dest", str(dest), "--base-url", template(v3_server), *hub_ca)
    assert result.returncode == 0, result.stderr
    assert_complete(dest, files)
    err = result.stderr
    assert f"supertonic-3 at revision {V3_REVISION}" in err
    for g in graphs_of(files):
        assert f"{g}: " in err and f"verified against the hub's sha256 for revision {V3_REVISION}" in err, g
    assert err.count("verified against the hub's sha256 for revision") == len(graphs_of(files))
    assert err.count("checked as JSON") == len(files) - len(graphs_of(files))
    # Every request named the pinned revision, never a branch.
    repository = [p for p, _ in v3_server.requests if not p.startswith("/cdn/")] + v3_server.heads
    assert repository and all(p.startswith(V3_PREFIX) for p in repository), repository
    assert f"downloaded from {v3_server.base_url} ({len(files)})" in err

    # A present file is checked against the hub's sha256 again: a modified one is fetched anew.
    target = dest / "onnx/vocoder.onnx"
    target.write_bytes(b"x" + target.read_bytes()[1:])
    v3_server.clear_log()
    again = download_v3("--dest", str(dest), "--base-url", template(v3_server), *hub_ca)
    assert again.returncode == 0, again.stderr
    assert "onnx/vocoder.onnx: present but does not verify" in again.stderr
    assert f"onnx/text_encoder.onnx: present, verified against the hub's sha256 for revision {V3_REVISION}" \
        in again.stderr
    assert [p for p, _ in v3_server.requests if p.startswith("/cdn/")] == ["/cdn/onnx/vocoder.onnx"]
    assert_complete(dest, files)


def test_a_wrong_hub_sha256_fails_closed(v3_server, hub_ca, files, tmp_path) -> None:
    rel = "onnx/vector_estimator.onnx"
    wrong = hashlib.sha256(b"another file").hexdigest()
    v3_server.linked_etag[rel] = wrong
    dest = tmp_path / "model"
    result = download_v3("--dest", str(dest), "--base-url", template(v3_server), *hub_ca)
    assert result.returncode == 1
    err = result.stderr
    assert f"checksum mismatch for {rel}" in err
    assert wrong in err and hashlib.sha256(files[rel]).hexdigest() in err
    assert f"the hub's sha256 for revision {V3_REVISION}" in err and "deleted" in err
    assert not (dest / rel).exists() and not (dest / (rel + ".part")).exists()
    assert not (dest / "onnx/vocoder.onnx").exists(), "the first bad file stops the download"


def test_no_checksum_at_all_fails_closed_before_fetching_the_file(v3_server, hub_ca, files, tmp_path) -> None:
    v3_server.lfs = False  # a mirror that does not send the hub's headers
    rel = "onnx/duration_predictor.onnx"  # the first graph
    dest = tmp_path / "model"
    (dest / "onnx").mkdir(parents=True)
    (dest / (rel + ".part")).write_bytes(files[rel][:1000])  # left by an earlier run
    result = download_v3("--dest", str(dest), "--base-url", template(v3_server), *hub_ca)
    assert result.returncode == 1
    err = result.stderr
    assert f"no checksum to verify {rel} against" in err
    assert "none is compiled in for supertonic-3" in err and "X-Linked-Etag" in err and "--manifest" in err
    assert "partial download" in err and not (dest / (rel + ".part")).exists()
    assert not (dest / rel).exists()
    assert not any(p.startswith("/cdn/onnx/") and p.endswith(".onnx") for p, _ in v3_server.requests), \
        "no byte of an unverifiable file is fetched"
    # JSON files have a check of their own and were installed.
    assert (dest / "onnx/tts.json").read_bytes() == files["onnx/tts.json"]

    # A manifest with the checksums closes the gap.
    manifest = tmp_path / "v3.json"
    manifest.write_text(json.dumps({p: ({"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                                         if p.endswith(".onnx") else {}) for p, d in files.items()}))
    fixed = download_v3("--dest", str(dest), "--base-url", template(v3_server), "--manifest", str(manifest),
                        *hub_ca)
    assert fixed.returncode == 0, fixed.stderr
    assert_complete(dest, files)


FIRST_BASE_REFUSALS = {
    "404": (None, "HTTP 404 Not Found for"),
    "401": ((401, {}), "HTTP 401 (access denied)"),
    "login": ((302, {"Location": "/login?next=/Supertone/supertonic-3"}), "redirected to a login page"),
    "html": ((200, {"Content-Type": "text/html; charset=utf-8"}), "an HTML page instead of onnx/tts.json"),
}


@pytest.mark.parametrize("refusal", list(FIRST_BASE_REFUSALS))
def test_a_base_that_does_not_serve_the_files_moves_on_to_the_next(tls_cert, hub_ca, files, tmp_path,
                                                                  refusal) -> None:
    answer, message = FIRST_BASE_REFUSALS[refusal]
    gone = ModelServer({} if refusal == "404" else files, prefix=V3_PREFIX)
    gone.repository_answer = answer
    archive = hub(files, tls_cert, ARCHIVE_V3_PREFIX)
    try:
        dest = tmp_path / "model"
        result = download_v3("--dest", str(dest), "--base-url", template(gone),
                             "--base-url", template(archive, "supertone-archive"), *hub_ca)
        assert result.returncode == 0, result.stderr
        assert_complete(dest, files)
        err = result.stderr
        assert f"files from {gone.base_url}, then {archive.base_url} into" in err
        assert f"onnx/tts.json: not served by {gone.base_url} ({message}" in err
        assert f"trying {archive.base_url}" in err
        assert f"downloaded from {archive.base_url} ({len(files)})" in err
        # The first base was asked once; the files after the first came straight from the second.
        assert gone.heads == [V3_PREFIX + "onnx/tts.json"] and gone.requests == []
        assert err.count("verified against the hub's sha256") == len(graphs_of(files))
    finally:
        gone.close()
        archive.close()


def test_a_base_that_keeps_failing_is_retried_then_left_for_the_next(tls_cert, hub_ca, files, tmp_path) -> None:
    failing = ModelServer(files, prefix=V3_PREFIX)
    failing.repository_answer = (503, {})
    archive = hub(files, tls_cert, ARCHIVE_V3_PREFIX)
    try:
        dest = tmp_path / "model"
        result = download_v3("--dest", str(dest), "--retries", "1", "--base-url", template(failing),
                             "--base-url", template(archive, "supertone-archive"), *hub_ca)
        assert result.returncode == 0, result.stderr
        assert_complete(dest, files)
        assert f"HTTP 503 from {failing.base_url}/onnx/tts.json; retrying in 1 s" in result.stderr
        assert f"not served by {failing.base_url} (HTTP 503 from" in result.stderr
        assert failing.heads == [V3_PREFIX + "onnx/tts.json"] * 2
    finally:
        failing.close()
        archive.close()


def test_every_base_refusing_names_each_and_what_to_check(tmp_path) -> None:
    first, second = ModelServer({}, prefix=V3_PREFIX), ModelServer({}, prefix=ARCHIVE_V3_PREFIX)
    try:
        result = download_v3("--dest", str(tmp_path / "model"), "--base-url", template(first),
                             "--base-url", template(second, "supertone-archive"))
        assert result.returncode == 1
        err = result.stderr
        assert "no base URL serves onnx/tts.json:" in err
        assert f"{first.base_url}: HTTP 404 Not Found for {first.base_url}/onnx/tts.json" in err
        assert f"{second.base_url}: HTTP 404 Not Found for {second.base_url}/onnx/tts.json" in err
        assert "--base-url" in err and "SUPERTONIC_MODEL_BASE_URLS" in err
        assert not (tmp_path / "model").exists()
    finally:
        first.close()
        second.close()


def test_default_bases_are_the_supertone_then_the_archive_organization(tls_cert, hub_ca, files, tmp_path) -> None:
    """Only the archive organization has the files (the repository moved): the
    defaults, from HF_ENDPOINT, still find them, at the pinned revision."""
    archive = hub(files, tls_cert, ARCHIVE_V3_PREFIX)
    try:
        dest = tmp_path / "model"
        result = download_v3("--dest", str(dest), *hub_ca, env={"HF_ENDPOINT": archive.origin})
        assert result.returncode == 0, result.stderr
        assert_complete(dest, files)
        assert archive.heads[:2] == [V3_PREFIX + "onnx/tts.json", ARCHIVE_V3_PREFIX + "onnx/tts.json"]
        assert f"downloaded from {archive.origin}{ARCHIVE_V3_PREFIX.rstrip('/')} ({len(files)})" in result.stderr
        assert dest.name == "model"
    finally:
        archive.close()


def test_the_base_url_list_may_come_from_the_environment(v3_server, hub_ca, files, tmp_path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bases = f"http://127.0.0.1:{port}/Supertone/{{model}}/resolve/{{revision}}  {template(v3_server)}"
    dest = tmp_path / "model"
    result = download_v3("--dest", str(dest), *hub_ca, env={"SUPERTONIC_MODEL_BASE_URLS": bases})
    assert result.returncode == 0, result.stderr
    assert f"cannot connect to 127.0.0.1:{port}" in result.stderr and f"trying {v3_server.base_url}" in result.stderr
    assert_complete(dest, files)


def test_a_renamed_repository_redirect_is_followed_to_the_hubs_answer(tls_cert, hub_ca, files, tmp_path) -> None:
    """Hugging Face answers a renamed repository's URLs with a relative 307 to
    the new name; the sha256 comes with the answer there."""
    server = hub(files, tls_cert, ARCHIVE_V3_PREFIX)
    server.moved = {V3_PREFIX: ARCHIVE_V3_PREFIX}
    try:
        dest = tmp_path / "model"
        result = download_v3("--dest", str(dest), "--base-url", template(server), *hub_ca)
        assert result.returncode == 0, result.stderr
        assert_complete(dest, files)
        assert result.stderr.count("verified against the hub's sha256") == len(graphs_of(files))
        assert V3_PREFIX + "onnx/vocoder.onnx" in server.heads
        assert ARCHIVE_V3_PREFIX + "onnx/vocoder.onnx" in server.heads
    finally:
        server.close()


def test_supertonic_2_is_fetched_at_its_pinned_revision_by_default(server, manifest, files, tmp_path) -> None:
    dest = tmp_path / "model"
    result = run_download("--dest", str(dest), "--manifest", str(manifest), env={"HF_ENDPOINT": server.origin})
    assert result.returncode == 0, result.stderr
    assert_complete(dest, files)
    repository = [p for p, _ in server.requests if not p.startswith("/cdn/")] + server.heads
    assert repository and all(p.startswith(REPO_PREFIX) for p in repository), repository
    assert f"supertonic-2 at revision {V2_REVISION}" in result.stderr
    assert "verified against the hub's" not in result.stderr  # the manifest's checksums, not the hub's
    assert result.stderr.count("downloaded, sha256 verified") == len(graphs_of(files))


def test_dest_defaults_to_the_models_folder_of_the_model(v3_server, hub_ca, files, tmp_path) -> None:
    result = subprocess.run([str(BINARY), "download", "--model", "supertonic-3", "--base-url", template(v3_server),
                             *hub_ca],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={k: v for k, v in os.environ.items() if k != "SUPERTONIC_MODEL_BASE_URLS"})
    assert result.returncode == 0, result.stderr
    assert_complete(tmp_path / "models" / "supertonic-3", files)


@pytest.mark.parametrize("args,message", [
    (["--model", "supertonic-9"], "supertonic-3"),
    (["--base-url", "http://127.0.0.1:9/{repo}/x"], "placeholder other than {model} and {revision}"),
])
def test_bad_model_or_base_url_is_refused(tmp_path, args, message) -> None:
    result = run_download("--dest", str(tmp_path / "model"), *args)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "model").exists()


# --- Bounds: no body may be longer than the file, no file may take forever ---------------------------------------

@pytest.mark.parametrize("rel,message", [
    ("onnx/tts.json", "more than 16777216 bytes (the cap for a JSON file of unknown size)"),
    ("onnx/vocoder.onnx", "more than 950000 bytes (the size the manifest states)"),
])
def test_an_endless_body_is_stopped_and_deleted(server, manifest, files, tmp_path, rel, message) -> None:
    server.endless.add(rel)
    dest = tmp_path / "model"
    started = time.monotonic()
    result = download(server, manifest, dest)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 20, f"took {elapsed:.1f} s"
    err = result.stderr
    assert f"{rel}: the server sent {message}" in err, err
    if rel.endswith(".onnx"):
        assert len(files[rel]) == 950_000  # the size in the message is the manifest's
    assert "deleted and nothing installed" in err
    assert not (dest / rel).exists() and not (dest / (rel + ".part")).exists()
    assert not (dest / "onnx/vocoder.onnx").exists()


def test_an_endless_body_is_bounded_by_the_hubs_size(v3_server, hub_ca, files, tmp_path) -> None:
    rel = "onnx/text_encoder.onnx"
    v3_server.endless.add(rel)
    dest = tmp_path / "model"
    result = download_v3("--dest", str(dest), "--base-url", template(v3_server), *hub_ca)
    assert result.returncode == 1, result.stderr
    assert f"{rel}: the server sent more than {len(files[rel])} bytes (the size the hub states)" in result.stderr
    assert not (dest / rel).exists() and not (dest / (rel + ".part")).exists()


def test_a_body_longer_than_its_announced_size_is_refused(server, manifest, files, tmp_path) -> None:
    # Announced: a Content-Length longer than the manifest's size is refused before a byte is written.
    rel = "onnx/duration_predictor.onnx"
    server.files[rel] = files[rel] + b"\0" * 1000
    dest = tmp_path / "model"
    result = download(server, manifest, dest)
    assert result.returncode == 1
    assert f"{rel}: the server announced more than {len(files[rel])} bytes (the size the manifest states)" \
        in result.stderr, result.stderr
    assert not (dest / rel).exists() and not (dest / (rel + ".part")).exists()


def test_a_body_longer_than_the_hubs_announced_size_is_refused(v3_server, hub_ca, files, tmp_path) -> None:
    # Not announced: a chunked body that goes on past the X-Linked-Size the hub stated.
    rel = "onnx/duration_predictor.onnx"
    v3_server.extra[rel] = b"\0" * 1000
    dest = tmp_path / "model"
    result = download_v3("--dest", str(dest), "--base-url", template(v3_server), *hub_ca)
    assert result.returncode == 1
    assert f"{rel}: the server sent more than {len(files[rel])} bytes (the size the hub states)" in result.stderr
    assert not (dest / rel).exists() and not (dest / (rel + ".part")).exists()


def test_a_trickling_server_meets_the_file_timeout(server, manifest, tmp_path) -> None:
    rel = "onnx/unicode_indexer.json"  # no size known: only the deadline stops a slow endless body
    server.trickle.add(rel)
    dest = tmp_path / "model"
    started = time.monotonic()
    result = download(server, manifest, dest, "--file-timeout", "2")
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 15, f"took {elapsed:.1f} s"
    assert f"download of {rel} from 127.0.0.1:{server.port} did not complete within 2 s (--file-timeout)" \
        in result.stderr, result.stderr
    assert not (dest / rel).exists()
    part = dest / (rel + ".part")
    assert not part.exists() or part.stat().st_size < 100_000  # bounded, kept for a resume
    assert (dest / "onnx/tts.json").exists(), "the files before it were installed"


def test_a_mirror_that_never_answers_head_meets_the_file_timeout(server, manifest, tmp_path) -> None:
    """The HEAD that asks where a file is counts against --file-timeout like its
    download: a mirror that accepts the connection and never answers holds a
    file no longer than that, retries included."""
    server.silent_head = True
    first = next(iter(published_manifest()))
    started = time.monotonic()
    result = download(server, manifest, tmp_path / "model", "--file-timeout", "2", "--retries", "1", timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 2 * 2 + 3, f"took {elapsed:.1f} s"  # at most --file-timeout per attempt, and some slack
    assert f"no answer from 127.0.0.1:{server.port} for {first} within 2 s (--file-timeout)" in result.stderr, \
        result.stderr
    assert server.heads == [REPO_PREFIX + first] and server.requests == []
    assert not (tmp_path / "model").exists(), "a download that fetched nothing leaves no directory behind"


def test_a_mirror_that_never_answers_head_is_left_for_the_next_base(server, manifest, files, tmp_path) -> None:
    silent = ModelServer(files)
    silent.silent_head = True
    try:
        dest = tmp_path / "model"
        started = time.monotonic()
        result = run_download("--dest", str(dest), "--manifest", str(manifest), "--file-timeout", "2",
                              "--retries", "1", "--base-url", silent.base_url, "--base-url", server.base_url,
                              timeout=30)
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert_complete(dest, files)
        first = next(iter(published_manifest()))
        assert (f"{first}: not served by {silent.base_url} (no answer from 127.0.0.1:{silent.port} for {first} "
                f"within 2 s (--file-timeout)); trying {server.base_url}") in result.stderr, result.stderr
        # Only the first file waited: the files after it came straight from the second base.
        assert silent.heads == [REPO_PREFIX + first] and silent.requests == []
        assert elapsed < 2 * 2 + 6, f"took {elapsed:.1f} s"
    finally:
        silent.close()


# --- What counts as verified ---------------------------------------------------------------------------------------

def test_a_hubs_sha256_over_plain_http_verifies_nothing(files, tmp_path) -> None:
    plain = ModelServer(files, prefix=V3_PREFIX)
    plain.lfs = True  # the hub's headers, over plain http
    try:
        dest = tmp_path / "model"
        result = download_v3("--dest", str(dest), "--base-url", template(plain))
        assert result.returncode == 1
        err = result.stderr
        rel = "onnx/duration_predictor.onnx"  # the first graph
        assert f"cannot verify {rel}" in err and "came over plain http" in err, err
        assert "--allow-unverified" in err and "https" in err and "--manifest" in err
        assert not any(p.startswith("/cdn/") and p.endswith(".onnx") for p, _ in plain.requests), \
            "no byte of a file that cannot be verified is fetched"
        assert not (dest / rel).exists()

        # --allow-unverified installs them, saying so for each and at the end.
        allowed = download_v3("--dest", str(dest), "--base-url", template(plain), "--allow-unverified")
        assert allowed.returncode == 0, allowed.stderr
        assert_complete(dest, files)
        err = allowed.stderr
        assert err.count("NOT verified: it only matches the sha256 the server itself sent over plain http") == \
            len(graphs_of(files))
        assert f"WARNING: {len(graphs_of(files))} of these files are NOT verified" in err
        assert "verified against the hub's sha256" not in err

        # Even unverified, the server's sha256 still catches a file that does not match it.
        (dest / rel).unlink()
        plain.linked_etag[rel] = hashlib.sha256(b"another file").hexdigest()
        mismatch = download_v3("--dest", str(dest), "--base-url", template(plain), "--allow-unverified")
        assert mismatch.returncode == 1 and f"checksum mismatch for {rel}" in mismatch.stderr
        assert not (dest / rel).exists()
    finally:
        plain.close()


def test_compiled_in_checksums_still_verify_over_plain_http(server, manifest, files, tmp_path) -> None:
    server.lfs = True  # headers or not, the manifest's checksums are checked here
    dest = tmp_path / "model"
    result = download(server, manifest, dest)
    assert result.returncode == 0, result.stderr
    assert_complete(dest, files)
    assert "NOT verified" not in result.stderr
    assert result.stderr.count("downloaded, sha256 verified") == len(graphs_of(files))


def test_a_file_served_at_another_revision_is_refused(v3_server, hub_ca, files, tmp_path) -> None:
    other = "0123456789abcdef0123456789abcdef01234567"
    v3_server.repo_commit = other  # a mirror whose {revision} resolves to something else
    dest = tmp_path / "model"
    result = download_v3("--dest", str(dest), "--base-url", template(v3_server), *hub_ca)
    assert result.returncode == 1
    err = result.stderr
    assert f"refusing onnx/tts.json: {v3_server.base_url}/onnx/tts.json serves revision {other}" in err, err
    assert f"not the pinned revision {V3_REVISION}" in err
    assert not any(p.startswith("/cdn/") for p, _ in v3_server.requests), "nothing is fetched from it"
    assert not dest.exists() or not [p for p in dest.rglob("*") if p.is_file() and p.name != ".download.lock"]


@pytest.mark.parametrize("rel,content,message", [
    ("onnx/tts.json", b"<html>not json</html>", "is not valid JSON"),
    ("voice_styles/F2.json", json.dumps({"style_ttl": {"dims": [1], "data": [0]}}).encode(),
     'is not a voice style: no "style_dp" object'),
])
def test_json_files_are_checked_whatever_their_checksum(server, manifest, tmp_path, rel, content, message) -> None:
    server.files[rel] = content
    pinned = json.loads(manifest.read_text())
    pinned[rel] = {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}  # the checksum matches
    manifest.write_text(json.dumps(pinned))
    dest = tmp_path / "model"
    result = download(server, manifest, dest)
    assert result.returncode == 1
    assert f"{rel} from " in result.stderr and message in result.stderr, result.stderr
    assert not (dest / rel).exists() and not (dest / (rel + ".part")).exists()
