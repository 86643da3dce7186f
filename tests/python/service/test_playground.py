"""The browser playground (GET /), in a real headless Chromium.

The server (probe model) serves the page; Selenium drives Debian's `chromium`
through `chromium-driver` (both in scripts/setup.sh's APT_PACKAGES), clicks
as a user would and reads what the page shows (the ids of its figures) and
``window.playgroundState`` (the same figures as numbers). Audio plays through
WebAudio (``--autoplay-policy=no-user-gesture-required``; headless Chromium
has a clock-driven audio output), so "played" and word highlighting advance
as they would for a listener.

Without chromium, chromium-driver or selenium these tests fail (with what to
install), they do not skip: `make test` installs all three.

Every wait is explicit and bounded (WAIT_S), and a timeout fails with the
page's state, its message log and the browser console. A screenshot of the
spoken turn goes to build/test-output/playground.png (and the test's tmp_path).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from service_support import REPO, requires_server_binary

pytestmark = requires_server_binary

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
SCREENSHOT = REPO / "build" / "test-output" / "playground.png"
WAIT_S = 30  # generous: the machine may be busy; a pass never depends on it
TOKEN = "playground-test-token"

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


# ---------------------------------------------------------------------------
# GET / over plain HTTP


def test_root_serves_the_self_contained_page(server) -> None:
    status, headers, body = fetch(server.http + "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    assert headers["x-content-type-options"] == "nosniff"
    page = body.decode("utf-8")
    assert page.startswith("<!doctype html>") and "Supertonic TTS playground" in page
    assert int(headers["content-length"]) == len(body)

    # No external assets: no absolute URL anywhere, no script/style/image
    # fetched from anywhere but the page itself (data: for the empty icon).
    assert "http://" not in page and "https://" not in page
    assert "//" not in "".join(re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)).replace("data:,", "")
    assert re.findall(r"<script\b[^>]*>", page) == ["<script>"], "one inline script, no src"
    assert re.findall(r"<style\b[^>]*>", page) == ["<style>"]
    assert not re.search(r"\son[a-z]+\s*=", page), "inline event handlers would be blocked by the policy"
    assert not re.search(r"<[a-z][^>]*\sstyle\s*=", page), "style attributes would be blocked by the policy"

    # The policy allows exactly this script and this style (by hash), and
    # connections to this host only.
    csp = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";") if d.strip())
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        text = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
        assert csp[directive] == f"'sha256-{digest}'", f"{directive} does not match the page's {tag}"
    assert csp["default-src"] == "'none'"
    assert csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in headers["content-security-policy"]


def test_root_answers_head_and_refuses_other_methods_like_every_route(server) -> None:
    status, headers, body = fetch(server.http + "/", method="HEAD")
    assert status == 200 and body == b""
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert int(headers["content-length"]) > 10000
    status, headers, body = fetch(server.http + "/", method="POST")
    assert status == 405 and b"GET only on /" in body
    assert fetch(server.http + "/index.html")[0] == 404
    assert fetch(server.http + "/playground")[0] == 404


@pytest.fixture(scope="module")
def secured(start_server):
    return start_server(TTS_AUTH_TOKEN=TOKEN)


def test_the_page_needs_no_token_but_the_api_behind_it_does(secured) -> None:
    assert fetch(secured.http + "/")[0] == 200
    assert fetch(secured.http + "/v1/models")[0] == 401


# ---------------------------------------------------------------------------
# Chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromium-driver", CHROMEDRIVER)) if not path]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not installed: the playground tests drive a real Chromium. "
                    "Run scripts/setup.sh (it installs APT_PACKAGES) or apt-get install chromium chromium-driver.",
                    pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: build/venv/bin/pip install -r tools/requirements.txt", pytrace=False)
    logs = tmp_path_factory.mktemp("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--no-default-browser-check",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1500",
                "--force-device-scale-factor=1", f"--user-data-dir={logs / 'profile'}"):
        options.add_argument(arg)
    # Its sandbox refuses to run as root, and needs user namespaces a container may not
    # have; the browser only loads the page under test.
    options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(logs / "chromedriver.log")), options=options)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    yield driver
    driver.quit()


class Page:
    """The playground in the browser, read through its element ids and window.playgroundState."""

    def __init__(self, driver, url: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver = driver
        self.by = By
        driver.get(url)

    def el(self, element_id: str):
        return self.driver.find_element(self.by.ID, element_id)

    def text(self, element_id: str) -> str:
        return self.el(element_id).text

    def state(self) -> dict:
        return self.driver.execute_script("return JSON.parse(JSON.stringify(window.playgroundState || null))")

    def options(self, element_id: str) -> list[str]:
        return self.driver.execute_script(
            "return Array.from(document.getElementById(arguments[0]).options, (o) => o.value)", element_id)

    def select(self, element_id: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.el(element_id)).select_by_value(value)

    def type(self, element_id: str, text: str) -> None:
        field = self.el(element_id)
        field.clear()
        if len(text) > 200:  # send_keys types one key at a time
            self.driver.execute_script(
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))", field, text)
        else:
            field.send_keys(text)

    def click(self, element_id: str) -> None:
        self.el(element_id).click()

    def wait(self, what: str, condition, timeout: float = WAIT_S):
        """Waits until condition(state) is truthy and returns that state; on
        timeout fails with the page's state."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        def reached(_):
            state = self.state() or {}
            return state if condition(state) else False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(reached)
        except TimeoutException:
            pytest.fail(f"the page did not get to '{what}' within {timeout} s\n{self.diagnostics()}", pytrace=False)

    def diagnostics(self) -> str:
        state = self.state() or {}
        state.pop("segments", None)
        console = "\n".join(f"  {e['level']}: {e['message']}" for e in self.driver.get_log("browser"))
        return (f"status: {self.text('status')!r}\nstate: {json.dumps(state)[:3000]}\n"
                f"messages:\n{self.text_of('log')[-3000:]}\nconsole:\n{console}")

    def text_of(self, element_id: str) -> str:
        return self.driver.execute_script("return document.getElementById(arguments[0]).textContent", element_id)

    def screenshot(self, *paths: Path) -> None:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            assert self.driver.save_screenshot(str(path)), f"no screenshot written to {path}"
            print(f"playground screenshot: {path}")

    def loaded(self) -> dict:
        return self.wait("models listed", lambda s: s.get("modelsLoaded"))

    def finished(self) -> dict:
        return self.wait("the turn finished", lambda s: s.get("status") in ("ended", "error"))


def open_page(browser, server) -> Page:
    page = Page(browser, server.http + "/")
    browser.execute_script("sessionStorage.clear()")
    return page


def severe_console_messages(page: Page) -> list[str]:
    return [e["message"] for e in page.driver.get_log("browser") if e["level"] == "SEVERE"]


def test_the_page_lists_models_and_voices_and_speaks_a_blend(browser, server, tmp_path) -> None:
    page = open_page(browser, server)
    page.loaded()
    assert page.el("status").get_attribute("data-state") == "ready"
    assert page.options("model") == ["supertonic-2"]
    assert {"F1", "F5", "M1", "M5"} <= set(page.options("voice"))
    assert page.options("lang") == ["en", "ko", "es", "pt", "fr"]
    assert page.el("steps").get_attribute("value") == "2"
    assert page.el("speed").get_attribute("value") == "1.05"

    page.select("lang", "en")
    page.type("blend", "F1:3+M2:1")
    page.type("steps", "3")
    page.type("text", "Hello there. This is the playground, speaking a blend of two voices.")
    page.click("speak")
    state = page.finished()
    assert state["status"] == "ended", page.diagnostics()
    assert state["errors"] == []
    assert state["ended"]["reason"] == "completed"

    session = state["session"]
    assert session["resolved_voice"] == "F1:0.75+M2:0.25"
    assert session["lang_code"] == "en" and session["num_inference_steps"] == 3
    assert state["framesReceived"] > 0
    assert state["audioMs"] == pytest.approx(state["framesReceived"] * session["frame_ms"])
    assert 0 < state["ttfaMs"] < 10_000
    assert page.text("ttfa") == f"{math.floor(state['ttfaMs'] + 0.5)} ms"  # JavaScript's Math.round
    assert page.text("frames") == str(state["framesReceived"])

    segments = state["segments"]
    assert [s["segment"] for s in segments] == list(range(len(segments))) and len(segments) >= 2
    assert " ".join(s["text"] for s in segments) == "Hello there. This is the playground, speaking a blend of two voices."
    assert all(s["done"] and s["duration_ms"] > 0 and s["synthesis_ms"] is not None for s in segments)
    assert sum(s["frames"] for s in segments) == state["framesReceived"]
    assert segments[0]["first_audio_ms"] == pytest.approx(state["ttfaMs"])
    rows = browser.execute_script("return Array.from(document.querySelectorAll('#segments tbody tr'),"
                                  " (r) => Array.from(r.cells, (c) => c.textContent))")
    assert [r[1] for r in rows] == [s["text"] for s in segments]
    assert rows[0][3] == "0.0"  # start_ms
    assert page.text("segment-count") == str(len(segments))

    # WebAudio plays it: the played position moves along the session's audio.
    page.wait("audio playing", lambda s: s["playback"]["playedMs"] > 100)
    state = page.state()
    assert state["playback"]["available"] and state["playback"]["error"] is None
    assert state["playback"]["scheduledMs"] == pytest.approx(state["audioMs"])
    # Word timings, asked for in start_session: one event per segment, every
    # word written, and the word being heard highlighted as it plays.
    assert session["word_timings"] is True
    assert state["wordTimingEvents"] == len(segments)
    assert state["words"] == len("Hello there. This is the playground, speaking a blend of two voices.".split())
    assert page.text("word-count") == str(state["words"])
    page.wait("a word highlighted", lambda s: s["highlightedWords"] > 0 and s["currentWord"] is not None)
    page.screenshot(tmp_path / "playground.png", SCREENSHOT)
    assert severe_console_messages(page) == []


def test_a_streamed_sample_reply_can_be_barged_in_on(browser, server) -> None:
    page = open_page(browser, server)
    page.loaded()
    page.select("lang", "en")
    page.click("sample")
    # Stop from inside the page the moment the first frame is there, while the
    # reply is still being streamed token by token (a WebDriver round trip
    # could come after the last token on a busy machine).
    stopped_at = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const deadline = performance.now() + arguments[0] * 1000;
        const poll = () => {
          const s = window.playgroundState;
          if (s.framesReceived > 0) {
            const sent = s.sendTextMessages;
            document.getElementById('stop').click();
            return done({sent, tokens: s.sampleTokens, status: s.status});
          }
          if (performance.now() > deadline) return done(null);
          setTimeout(poll, 2);
        };
        poll();
    """, WAIT_S - 5)
    assert stopped_at is not None, f"no audio within {WAIT_S - 5} s\n{page.diagnostics()}"
    assert 1 <= stopped_at["sent"] < stopped_at["tokens"], stopped_at  # tokens, not the whole text at once
    state = page.finished()
    assert state["status"] == "ended", page.diagnostics()
    assert isinstance(state["cancelled"]["segments_dropped"], int)  # the server confirmed the cancel
    assert state["ended"]["reason"] == "completed"  # cancel, then end_session: the session ends at once
    assert page.text("status").startswith("Stopped")
    assert state["errors"] == []
    assert state["sendTextMessages"] == stopped_at["sent"], "no token sent after the cancel"
    assert state["ttfaMs"] > 0
    page.wait("playback stopped", lambda s: s["playback"]["state"] != "playing")
    assert page.el("stop").get_attribute("disabled") is not None

    # The same page goes on: a full sample reply after the barge-in.
    page.click("sample")
    state = page.finished()
    assert state["status"] == "ended" and state["ended"]["reason"] == "completed", page.diagnostics()
    assert state["sendTextMessages"] == state["sampleTokens"] > 10
    assert len(state["segments"]) >= 2 and state["framesReceived"] > 0


def test_with_a_token_the_page_asks_for_it_and_works_once_given(browser, secured, tmp_path) -> None:
    page = open_page(browser, secured)
    page.wait("asking for the token", lambda s: s.get("status") == "auth_required")
    assert page.el("auth-message").is_displayed()
    assert "needs a token" in page.text("auth-message")
    assert page.el("speak").get_attribute("disabled") is not None
    assert page.state()["modelsLoaded"] is False

    page.type("token", "tökén")  # a header cannot carry it: said so, not sent
    page.click("token-apply")
    page.wait("the token refused by the page", lambda s: s.get("status") == "error")
    assert "printable ASCII" in page.text("auth-message")

    page.type("token", "wrong-token")
    page.click("token-apply")
    page.wait("the wrong token refused", lambda s: s.get("tokenRejected"))
    assert "refused" in page.text("auth-message")

    page.type("token", TOKEN)
    page.click("token-apply")
    page.loaded()
    assert not page.el("auth-message").is_displayed()
    assert page.options("model") == ["supertonic-2"]
    page.select("lang", "en")
    page.type("text", "The token works.")
    page.click("speak")
    state = page.finished()
    assert state["status"] == "ended" and state["framesReceived"] > 0 and state["ttfaMs"] > 0, page.diagnostics()
    page.screenshot(tmp_path / "playground-auth.png")

    # A token that stops working: the WebSocket is refused at the upgrade
    # (which a page cannot see), and the page finds out why and asks again.
    page.type("token", "revoked")
    page.click("speak")
    page.wait("asking for the token again", lambda s: s.get("status") == "auth_required")
    codes = [e["code"] for e in page.state()["errors"]]
    assert "unauthorized" in codes


@pytest.fixture(scope="module")
def limited_server(start_server):
    return start_server(TTS_MAX_TEXT_CHARS=400)


def test_bad_input_shows_an_error_and_never_hangs(browser, limited_server) -> None:
    page = open_page(browser, limited_server)
    page.loaded()
    page.select("lang", "en")
    page.type("text", "Hello.")

    page.type("blend", "F1:0.5+Nobody:0.5")
    page.click("speak")
    state = page.finished()
    assert state["status"] == "error"
    assert [e["code"] for e in state["errors"]] == ["invalid_voice"]
    assert "Nobody" in page.text("errors")
    assert state["framesReceived"] == 0

    page.type("blend", "")
    page.type("speed", "9")
    page.click("speak")
    state = page.finished()
    assert state["status"] == "error" and [e["code"] for e in state["errors"]] == ["invalid_config"]

    page.type("speed", "fast")  # a number field: the browser keeps it empty, the model's default is used
    page.type("steps", "2.5")
    page.click("speak")
    state = page.wait("the steps refused", lambda s: [e["code"] for e in s["errors"]] == ["invalid_input"])
    assert "num_inference_steps" in state["errors"][0]["message"] and state["status"] == "error"
    page.type("steps", "2")

    page.type("text", "")
    page.click("speak")
    state = page.wait("the empty text refused", lambda s: [e["code"] for e in s["errors"]] == ["invalid_input"])
    assert "Type some text" in state["errors"][0]["message"]

    # More text than TTS_MAX_TEXT_CHARS: the server refuses the excess, the page says so and finishes.
    sentence = "This sentence is one of many in a text far too long for this server. "
    page.type("text", sentence * 40)
    page.click("speak")
    state = page.finished()
    assert "text_too_long" in [e["code"] for e in state["errors"]], page.diagnostics()
    assert state["ended"] is not None
    assert "text_too_long" in page.text("errors")


# ---------------------------------------------------------------------------
# A scripted server: word timings (which the real one may not send yet) and a
# connection that drops in the middle of a session.


class ScriptedServer:
    """Serves the real page (and its headers) with /v1/models, /v1/voices and a
    /ws/tts that answers each session from a script: word timings after each
    segment_started, then either the whole session or a dropped connection.
    Everything is served at the root and under /prefix/ too (as behind a
    reverse proxy that maps a path to the server)."""

    RATE = 24000
    FRAME = 480

    def __init__(self, page: bytes, page_headers: dict[str, str], models: bytes, voices: bytes) -> None:
        self.page, self.page_headers, self.models, self.voices = page, page_headers, models, voices
        self.configs: list[dict] = []
        self.drop = False  # drop the connection in the middle of the next session's second segment
        self.no_models = False  # /v1/models lists none
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "the scripted server did not start"

    def _run(self) -> None:
        from websockets.asyncio.server import serve

        async def main() -> None:
            # open_timeout: Chromium preconnects sockets it may never use; closing waits for them.
            async with serve(self._session, "127.0.0.1", 0, process_request=self._http, open_timeout=2) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.stop = asyncio.Event()
                self.ready.set()
                await self.stop.wait()

        self.loop.run_until_complete(main())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)
        assert not self.thread.is_alive(), "the scripted server did not stop"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _http(self, connection, request):
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        path = request.path.split("?")[0]
        path = path.removeprefix("/prefix") if path.startswith("/prefix/") else path
        if path == "/ws/tts":
            return None
        bodies = {"/": (self.page, "text/html; charset=utf-8"), "/v1/models": (self.models, "application/json"),
                  "/v1/voices": (self.voices, "application/json")}
        if path not in bodies:
            return connection.respond(404, "not found\n")
        body, content_type = bodies[path]
        if path == "/v1/models" and self.no_models:
            body = b'{"object": "list", "data": []}'
        headers = Headers({"Content-Type": content_type, "Content-Length": str(len(body)), "Connection": "close"})
        if path == "/":
            headers["Content-Security-Policy"] = self.page_headers["content-security-policy"]
        return Response(200, "OK", headers, body)

    async def _session(self, ws) -> None:
        start = json.loads(await ws.recv())
        self.configs.append(start.get("config", {}))
        sid = start["session_id"]
        drop, self.drop = self.drop, False
        await ws.send(json.dumps({"type": "session_started", "session_id": sid, "sample_rate": self.RATE,
                                  "frame_ms": 20, "samples_per_frame": self.FRAME, "voice": "F1",
                                  "resolved_voice": "F1", "lang_code": "en", "model": "scripted",
                                  "num_inference_steps": 2, "speed": 1.0}))
        start_ms = 0.0
        for index, words in enumerate([["Hello", "there."], ["Words", "light", "up", "as", "they", "play."]]):
            duration_ms = 400.0 * len(words)
            text = " ".join(words)
            await ws.send(json.dumps({"type": "segment_started", "session_id": sid, "segment": index, "text": text,
                                      "spoken_text": text, "duration_ms": duration_ms, "start_ms": start_ms}))
            await ws.send(json.dumps({"type": "word_timings", "session_id": sid, "segment": index, "words": [
                {"word": w, "start_ms": start_ms + 400.0 * i, "end_ms": start_ms + 400.0 * i + 350.0}
                for i, w in enumerate(words)]}))
            frames = int(duration_ms / 20)
            tone = (np.sin(np.arange(frames * self.FRAME) * 2 * np.pi * 220 / self.RATE) * 8000).astype("<i2")
            for f in range(frames):
                await ws.send(tone[f * self.FRAME:(f + 1) * self.FRAME].tobytes())
                if drop and index == 1 and f == frames // 2:
                    ws.transport.abort()  # no close frame: the TCP connection just ends
                    return
            await ws.send(json.dumps({"type": "segment_done", "session_id": sid, "segment": index, "text": text,
                                      "spoken_text": text, "duration_ms": duration_ms, "frames": frames,
                                      "queue_ms": 0.1, "synthesis_ms": 1.0, "batch_size": 1}))
            start_ms += duration_ms
        async for message in ws:  # until end_session
            if json.loads(message).get("type") == "end_session":
                break
        await ws.send(json.dumps({"type": "session_ended", "session_id": sid, "segments": 2, "audio_ms": start_ms,
                                  "reason": "completed"}))


@pytest.fixture(scope="module")
def scripted(server):
    _, page_headers, page = fetch(server.http + "/")
    models = fetch(server.http + "/v1/models")[2]
    voices = fetch(server.http + "/v1/voices")[2]
    scripted = ScriptedServer(page, page_headers, models, voices)
    yield scripted
    scripted.close()


def test_word_timings_highlight_the_word_being_heard(browser, scripted, tmp_path) -> None:
    page = open_page(browser, scripted)
    page.loaded()
    page.click("speak")
    state = page.finished()
    assert state["status"] == "ended", page.diagnostics()
    assert scripted.configs[0]["word_timings"] is True
    assert state["wordTimingEvents"] == 2 and state["words"] == 8
    assert page.text("word-count") == "8"
    assert browser.execute_script("return document.querySelectorAll('#transcript .word').length") == 8
    # Played in real time (3.2 s): each word is highlighted in turn, the
    # segment's words after the first segment's.
    seen = []

    def follow(s):
        word = s.get("currentWord")
        if word and (not seen or seen[-1] != (word["segment"], word["index"])):
            seen.append((word["segment"], word["index"]))
        return s["highlightedWords"] >= 8

    page.wait("the fourth word highlighted", lambda s: follow(s) or s["highlightedWords"] >= 4)
    page.screenshot(tmp_path / "playground-words.png")
    page.wait("every word highlighted", follow)
    assert seen == sorted(seen), seen
    assert browser.execute_script("return document.querySelectorAll('#transcript .word.heard').length") >= 7
    assert page.wait("playback over", lambda s: s["playback"]["state"] == "done")


def test_a_connection_dropped_midway_is_an_error_not_a_hang(browser, scripted) -> None:
    page = Page(browser, scripted.http + "/prefix/")  # the page's URLs are relative to it
    page.loaded()
    scripted.drop = True
    page.click("speak")
    state = page.finished()
    assert state["status"] == "error", page.diagnostics()
    assert [e["code"] for e in state["errors"]] == ["connection_closed"]
    assert "closed the connection" in page.text("errors")
    assert state["framesReceived"] > 0 and state["ended"] is None
    assert page.el("speak").get_attribute("disabled") is None  # ready for the next turn
    assert scripted.configs[-1]["voice"] == "F1"


def test_no_models_or_no_server_is_said_not_waited_for(browser, scripted, start_server) -> None:
    scripted.no_models = True
    try:
        page = open_page(browser, scripted)
        state = page.wait("no models reported", lambda s: s.get("status") == "error")
    finally:
        scripted.no_models = False
    assert "lists no models" in page.text("status")
    assert page.el("speak").get_attribute("disabled") is not None

    doomed = start_server()
    page = open_page(browser, doomed)
    page.loaded()
    doomed.stop()
    page.click("speak")
    state = page.finished()
    assert state["status"] == "error", page.diagnostics()
    assert "unreachable" in [e["code"] for e in state["errors"]], page.diagnostics()
    assert "does not answer" in page.text("status")
