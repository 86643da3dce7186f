"""Voices (docs/voices.md): voice-style files from TTS_VOICES_DIR, blends written
"F1:0.7+M2:0.3", and GET/POST/DELETE /v1/voices, against a real server.

Which voice spoke is heard through the probe model built with --style-tempo
(tools/models/probe.py): its durations are times 1 + style_dp[b,0,0], so a
voice whose first duration-style value is d speaks every character (1 + d)
times as long, and a blend's value is the weighted mean of its parts'. The
text still decodes from the audio, so every check here is also a check that
the words came out right.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import urllib.error
import urllib.request
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service_support import (
    BINARY,
    END,
    PROBE_DIR,
    REPO,
    SessionLog,
    ServerProcess,
    WsClient,
    assert_error,
    assert_session_speaks,
    collect_session,
    decode_pcm16,
    make_tempo_probe_model,
    norm_text,
    poll,
    requires_server_binary,
    run,
    run_session,
    spoken,
    start_msg,
    text_msg,
)

pytestmark = requires_server_binary

CHAR_SECONDS = 0.15          # the probe's seconds per text id at speed 1
PROBE_V3_DIR = REPO / "models" / "probe-v3"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------------------
# Helpers


def api(server: ServerProcess, method: str, path: str, body: Any = None, *, token: str | None = None,
        raw: bytes | None = None, timeout: float = 20.0) -> tuple[int, Any]:
    """(status, parsed JSON body, or the text when it is not JSON)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(server.http + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode("utf-8", "replace")


def error_code(answer: Any) -> str | None:
    return answer.get("error", {}).get("code") if isinstance(answer, dict) else None


def probe_voice(name: str = "F1", model_dir: Path = PROBE_DIR) -> dict:
    return json.loads((model_dir / "voice_styles" / f"{name}.json").read_text())


def compact(style: dict, digits: int = 6) -> dict:
    """The style with its values rounded: a smaller upload."""
    out = json.loads(json.dumps(style))
    for key in ("style_ttl", "style_dp"):
        out[key]["data"] = np.round(np.asarray(out[key]["data"], dtype=np.float64), digits).tolist()
    return out


def tempo_voice(d: float, note: str = "test voice") -> dict:
    """A voice whose every value is 0 but style_dp[0,0,0] = d: on the tempo
    probe each character lasts (1 + d) times as long."""
    dp = np.zeros((1, 8, 16))
    dp[0, 0, 0] = d
    return {"style_ttl": {"dims": [1, 50, 256], "data": np.zeros((1, 50, 256)).tolist()},
            "style_dp": {"dims": [1, 8, 16], "data": dp.tolist()},
            "metadata": {"note": note}}


def dp000(style: dict) -> float:
    return float(style["style_dp"]["data"][0][0][0])


def expected_ms(text: str, lang: str, factor: float, speed: float = 1.0) -> float:
    """The tempo probe's predicted duration of one segment (its ids are the
    characters of the preprocessed text, language tags included)."""
    return len(spoken(text, lang)) * CHAR_SECONDS * factor / speed * 1000.0


def assert_tempo(log: SessionLog, lang: str, factor: float) -> None:
    """Every segment lasts what a voice of tempo `factor` gives it."""
    assert log.completed(), "no segment"
    for seg in log.completed():
        want = expected_ms(seg.spoken_text, lang, factor)
        assert abs(seg.predicted_ms - want) < 0.5, (
            f"segment {seg.text!r}: {seg.predicted_ms:.2f} ms, a voice of tempo {factor:.5f} gives {want:.2f} ms")


def write_voice(path: Path, style: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(style))
    return path


async def speak(server: ServerProcess, voice: str, texts: list[str], lang: str = "en", **config: Any) -> SessionLog:
    async with await WsClient.open(server.url) as client:
        log = await run_session(client, f"s-{abs(hash((voice, tuple(texts))))}", texts,
                                {"voice": voice, "lang_code": lang, "speed": 1.0, **config})
    return log


async def refused(server: ServerProcess, voice: str, **config: Any) -> dict:
    """The error start_session gets for `voice`; the connection stays usable."""
    async with await WsClient.open(server.url) as client:
        await client.send(start_msg("refused", voice=voice, lang_code="en", **config))
        error = await client.recv_json()
        assert_error(error, error["code"] if error.get("type") == "error" else "invalid_voice")
        log = await run_session(client, "after", ["Still here."], {"lang_code": "en"})
        assert_session_speaks(log, ["Still here."], "en")
    return error


@pytest.fixture(scope="module")
def tempo_model(tmp_path_factory) -> Path:
    return make_tempo_probe_model(tmp_path_factory.mktemp("tempo-probe"))


@pytest.fixture(scope="module")
def tempo_f1(tempo_model) -> float:
    return dp000(probe_voice("F1", tempo_model))


@pytest.fixture(scope="module")
def bad_uploads_server(start_server, tmp_path_factory) -> ServerProcess:
    """Uploads allowed, TTS_MAX_VOICE_BYTES at its minimum (a body of at most 320 KiB)."""
    voices = tmp_path_factory.mktemp("bad-uploads")
    (voices / "supertonic-2").mkdir()
    server = start_server(TTS_VOICES_DIR=voices, TTS_ALLOW_VOICE_UPLOAD="true", TTS_MAX_VOICE_BYTES=262144)
    server.voices = voices
    return server


# ---------------------------------------------------------------------------
# Voices from files


def test_voice_files_load_and_bad_ones_are_skipped_with_their_reason(start_server, tmp_path):
    voices = tmp_path / "voices"
    ava = compact(probe_voice("F2"))
    ava["metadata"] = {"speaker": "Ava", "license": "CC0"}
    write_voice(voices / "supertonic-2" / "Ava.json", ava)
    write_voice(voices / "Bea.json", compact(probe_voice("M4")))     # one model: the folder itself too
    wrong = compact(probe_voice("F1"))
    wrong["style_ttl"]["dims"] = [1, 50, 255]
    write_voice(voices / "wrong_dims.json", wrong)
    short = compact(probe_voice("F1"))
    short["style_dp"]["data"][0].pop()
    write_voice(voices / "short.json", short)
    huge = compact(probe_voice("F1"))
    huge["style_ttl"]["data"][0][0][0] = 1e30
    write_voice(voices / "huge.json", huge)
    nan_text = json.dumps(compact(probe_voice("F1"))).replace(
        json.dumps(compact(probe_voice("F1"))["style_dp"]["data"][0][0][0]), "NaN", 1)
    (voices / "nan.json").write_text(nan_text)
    (voices / "truncated.json").write_text(json.dumps(compact(probe_voice("F1")))[:5000])
    write_voice(voices / "big.json", {**compact(probe_voice("F1")), "metadata": {"pad": "x" * 10}})
    (voices / "big.json").write_text((voices / "big.json").read_text() + " " * 300_000)
    write_voice(voices / "bad name.json", compact(probe_voice("F1")))
    write_voice(voices / "F3.json", compact(probe_voice("M1")))      # the model's own name

    server = start_server(TTS_VOICES_DIR=voices, TTS_MAX_VOICE_BYTES=262144)
    status, listing = api(server, "GET", "/v1/voices")
    assert status == 200
    stored = {v["name"]: v for v in listing["data"] if v["origin"] != "model"}
    assert set(stored) == {"Ava", "Bea"}, stored.keys()
    assert stored["Ava"]["origin"] == "file" and stored["Ava"]["model"] == "supertonic-2"
    assert stored["Ava"]["metadata"] == {"speaker": "Ava", "license": "CC0"}
    assert "upload" not in stored["Ava"]
    assert {"F1", "F3", "M5"} <= {v["name"] for v in listing["data"] if v["origin"] == "model"}
    assert listing["voices"][-2:] == ["Ava", "Bea"] and listing["models"][0]["voices"] == listing["voices"]
    assert "Ava" in api(server, "GET", "/v1/models")[1]["data"][0]["voices"]

    log = server.log_tail(20000)
    for name, why in [("wrong_dims.json", "style_ttl has dims [1,50,255]"),
                      ("short.json", "style_dp.data has 112 values, expected 128"),
                      ("huge.json", "beyond +-1000"),
                      ("nan.json", "not valid JSON"),
                      ("truncated.json", "not valid JSON"),
                      ("big.json", "over the limit of 262144"),
                      ("bad name.json", "not a voice name"),
                      ("F3.json", "has a voice of its own called F3")]:
        line = next((l for l in log.splitlines() if name in l), None)
        assert line is not None and "skipped" in line and why in line, (name, line)
    assert run(speak(server, "Ava", ["A voice from a file."])).started["resolved_voice"] == "Ava"


def test_each_model_has_the_voices_of_its_own_folder(start_server, tmp_path):
    voices = tmp_path / "voices"
    write_voice(voices / "two" / "OnlyTwo.json", compact(probe_voice("F1")))
    write_voice(voices / "three" / "OnlyThree.json", compact(probe_voice("F1", PROBE_V3_DIR)))
    write_voice(voices / "Loose.json", compact(probe_voice("F1")))
    server = start_server(TTS_MODELS=f"two={PROBE_DIR},three={PROBE_V3_DIR}", TTS_VOICES_DIR=voices,
                          TTS_ALLOW_VOICE_UPLOAD="true", TTS_LANG_CODE="en")
    _, listing = api(server, "GET", "/v1/voices")
    owners = {(v["name"], v["model"]) for v in listing["data"] if v["origin"] != "model"}
    assert owners == {("OnlyTwo", "two"), ("OnlyThree", "three")}
    assert "Loose.json" not in listing and "ignored" in server.log_tail(20000)
    error = run(refused(server, "OnlyTwo", model="three"))
    assert error["code"] == "invalid_voice" and "'OnlyTwo' of model three" in error["message"], error
    error = run(refused(server, "F1+OnlyThree", model="two"))
    assert "unknown voice 'OnlyThree' in blend 'F1+OnlyThree' of model two" in error["message"], error
    log = run(speak(server, "OnlyThree:1+F1:1", ["Third model."], model="three"))
    assert log.started["resolved_voice"] == "OnlyThree:0.5+F1:0.5" and log.started["model"] == "three"
    # An upload for a model goes to that model's folder, and only it offers it.
    status, saved = api(server, "POST", "/v1/voices", {"name": "New", "model": "three", "blend": "F1+M2"})
    assert status == 201 and saved["model"] == "three", saved
    assert (voices / "three" / "New.json").exists()
    assert run(refused(server, "New", model="two"))["code"] == "invalid_voice"
    status, answer = api(server, "DELETE", "/v1/voices/New?model=two")
    assert status == 404 and error_code(answer) == "voice_not_found"
    assert api(server, "DELETE", "/v1/voices/New?model=three")[0] == 200
    status, answer = api(server, "POST", "/v1/voices", {"name": "X", "model": "four", "blend": "F1"})
    assert status == 400 and error_code(answer) == "invalid_model" and "two, three" in answer["error"]["message"]


# ---------------------------------------------------------------------------
# Who may change voices


def test_uploads_are_refused_unless_a_token_or_the_switch_allows_them(start_server, tmp_path):
    voices = tmp_path / "voices"
    server = start_server(TTS_VOICES_DIR=voices)
    body = {"name": "mine", "style": compact(probe_voice("F1"))}
    status, answer = api(server, "POST", "/v1/voices", body)
    assert status == 403 and error_code(answer) == "uploads_disabled", answer
    assert "TTS_AUTH_TOKEN" in answer["error"]["message"] and "TTS_ALLOW_VOICE_UPLOAD" in answer["error"]["message"]
    status, answer = api(server, "DELETE", "/v1/voices/mine")
    assert status == 403 and error_code(answer) == "uploads_disabled"
    status, listing = api(server, "GET", "/v1/voices")
    assert status == 200 and listing["uploads"]["enabled"] is False and "reason" in listing["uploads"]
    assert not (voices / "supertonic-2").exists()
    # Refused before the body is read: a body over the size limit gets the 403 too.
    status, answer = api(server, "POST", "/v1/voices", raw=b"x" * (600 * 1024))
    assert status == 403 and error_code(answer) == "uploads_disabled"

    # Allowed, but with nowhere to store them.
    nowhere = start_server(TTS_ALLOW_VOICE_UPLOAD="true")
    status, answer = api(nowhere, "POST", "/v1/voices", body)
    assert status == 403 and error_code(answer) == "uploads_disabled" and "TTS_VOICES_DIR" in answer["error"]["message"]


def test_with_a_token_voice_changes_need_it(start_server, tmp_path):
    voices = tmp_path / "voices"
    server = start_server(TTS_VOICES_DIR=voices, TTS_AUTH_TOKEN="s3cret")
    body = {"name": "mine", "style": compact(probe_voice("F1"))}
    for token in (None, "wrong"):
        status, answer = api(server, "POST", "/v1/voices", body, token=token)
        assert status == 401 and error_code(answer) == "unauthorized", (token, answer)
        assert api(server, "DELETE", "/v1/voices/mine", token=token)[0] == 401
        assert api(server, "GET", "/v1/voices", token=token)[0] == 401
    assert not (voices / "supertonic-2" / "mine.json").exists()
    status, answer = api(server, "POST", "/v1/voices", body, token="s3cret")
    assert status == 201, answer
    _, listing = api(server, "GET", "/v1/voices", token="s3cret")
    assert listing["uploads"] == {"enabled": True, "token_required": True, "max_voices": 500,
                                  "max_voice_bytes": 2097152, "max_blend_parts": 4}
    assert api(server, "DELETE", "/v1/voices/mine", token="s3cret")[0] == 200


# ---------------------------------------------------------------------------
# The API


def test_upload_list_replace_and_delete(start_server, tmp_path):
    voices = tmp_path / "voices"
    server = start_server(TTS_VOICES_DIR=voices, TTS_ALLOW_VOICE_UPLOAD="true")
    style = compact(probe_voice("M3"))
    status, saved = api(server, "POST", "/v1/voices", {"name": "Bob", "style": style})
    assert status == 201, saved
    assert saved["name"] == "Bob" and saved["origin"] == "upload" and saved["replaced"] is False
    assert saved["metadata"] == style["metadata"] and "created_at" in saved["upload"]
    folder = voices / "supertonic-2"
    assert sorted(p.name for p in folder.iterdir()) == ["Bob.json"], "written atomically: no temporary file left"
    written = json.loads((folder / "Bob.json").read_text())
    assert np.allclose(written["style_ttl"]["data"], style["style_ttl"]["data"], atol=1e-7)

    status, saved = api(server, "POST", "/v1/voices", {"name": "Bob", "style": style, "metadata": {"v": 2}})
    assert status == 200 and saved["replaced"] is True and saved["metadata"] == {"v": 2}
    status, blend = api(server, "POST", "/v1/voices", {"name": "Mix", "blend": "F1:3+Bob:1"})
    assert status == 201 and blend["upload"]["blend"] == "F1:0.75+Bob:0.25", blend
    f1, bob = np.asarray(probe_voice("F1")["style_dp"]["data"]), np.asarray(style["style_dp"]["data"])
    mixed = json.loads((folder / "Mix.json").read_text())
    assert np.allclose(mixed["style_dp"]["data"], 0.75 * f1 + 0.25 * bob, atol=1e-6), "the weighted mean"

    _, listing = api(server, "GET", "/v1/voices")
    by_name = {v["name"]: v for v in listing["data"]}
    assert by_name["Bob"]["origin"] == "upload" and by_name["Mix"]["origin"] == "upload"
    assert by_name["F1"]["origin"] == "model" and "source_file" in by_name["F1"]["metadata"]
    assert run(speak(server, "Mix", ["Saved blends are voices."])).started["resolved_voice"] == "Mix"

    assert api(server, "DELETE", "/v1/voices/Bob")[0] == 200
    assert not (folder / "Bob.json").exists()
    assert run(refused(server, "Bob"))["code"] == "invalid_voice"
    log = run(speak(server, "Mix", ["Still here without its part."]))
    assert_session_speaks(log, ["Still here without its part."], "en")


@pytest.mark.parametrize("case", [
    "not json", "not an object", "no name", "style and blend", "neither", "bad name", "traversal name",
    "own voice", "openai name", "wrong dims", "huge value", "text value", "nan literal", "unknown part", "zero weight",
    "five parts", "unknown model", "metadata not an object", "too large",
])
def test_bad_uploads_get_a_clear_json_error(bad_uploads_server, case):
    server = bad_uploads_server
    style = compact(probe_voice("F1"))
    wrong = json.loads(json.dumps(style))
    wrong["style_dp"]["dims"] = [1, 16, 8]
    huge = json.loads(json.dumps(style))
    huge["style_ttl"]["data"][0][1][2] = 5e5
    text = json.loads(json.dumps(style))
    text["style_dp"]["data"][0][0][0] = "0.1"
    cases: dict[str, tuple[Any, int, str, str]] = {
        "not json": (b"{nope", 400, "invalid_request_error", "JSON object"),
        "not an object": ([1, 2], 400, "invalid_request_error", "JSON object"),
        "no name": ({"style": style}, 400, "invalid_request_error", "'name'"),
        "style and blend": ({"name": "a", "style": style, "blend": "F1"}, 400, "invalid_request_error", "either"),
        "neither": ({"name": "a"}, 400, "invalid_request_error", "either"),
        "bad name": ({"name": "my voice", "blend": "F1"}, 400, "invalid_voice_name", "letters, digits"),
        "traversal name": ({"name": "../../x", "style": style}, 400, "invalid_voice_name", "'../../x'"),
        "own voice": ({"name": "M2", "style": style}, 409, "voice_protected", "own voices"),
        "openai name": ({"name": "alloy", "blend": "M3"}, 409, "voice_protected", "maps it to the built-in voice F1"),
        "wrong dims": ({"name": "a", "style": wrong}, 400, "invalid_voice", "style_dp has dims [1,16,8]"),
        "huge value": ({"name": "a", "style": huge}, 400, "invalid_voice", "style_ttl.data[258] is 500000"),
        "text value": ({"name": "a", "style": text}, 400, "invalid_voice", "non-numeric"),
        "nan literal": (json.dumps({"name": "a", "style": style}).replace(
            json.dumps(style["style_dp"]["data"][0][0][1]), "NaN", 1).encode(), 400, "invalid_request_error", "JSON"),
        "unknown part": ({"name": "a", "blend": "F1:0.5+Nobody:0.5"}, 400, "invalid_voice", "'Nobody'"),
        "zero weight": ({"name": "a", "blend": "F1:0+M2"}, 400, "invalid_voice", "'F1:0'"),
        "five parts": ({"name": "a", "blend": "F1+F2+F3+F4+F5"}, 400, "invalid_voice", "more than 4"),
        "unknown model": ({"name": "a", "blend": "F1", "model": "tts-9"}, 400, "invalid_model", "tts-9"),
        "metadata not an object": ({"name": "a", "blend": "F1", "metadata": "x"}, 400, "invalid_request_error",
                                   "'metadata'"),
        "too large": (b" " * (400 * 1024) + json.dumps({"name": "a", "blend": "F1"}).encode(), 413,
                      "request_too_large", "exceeds 327680 bytes"),
    }
    body, want_status, want_code, in_message = cases[case]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, answer = api(server, "POST", "/v1/voices", raw=raw)
    assert status == want_status and error_code(answer) == want_code, (case, status, answer)
    assert in_message in answer["error"]["message"], (case, answer)
    assert api(server, "GET", "/health/live")[0] == 200
    assert sorted(p.name for p in (server.voices / "supertonic-2").glob("*")) == [], "nothing was written"


def test_delete_refuses_what_it_must_not_remove(start_server, tmp_path):
    voices = tmp_path / "voices"
    write_voice(voices / "Narrator.json", compact(probe_voice("F4")))
    server = start_server(TTS_VOICES_DIR=voices, TTS_ALLOW_VOICE_UPLOAD="true", TTS_DEFAULT_VOICE="Narrator",
                          TTS_MAX_VOICES=2)
    log = run(_default_voice_session(server))
    assert log.started["voice"] == "Narrator"
    for path, status, code in [("/v1/voices/F1", 409, "voice_protected"),
                               ("/v1/voices/Narrator", 409, "voice_protected"),
                               ("/v1/voices/Nobody", 404, "voice_not_found"),
                               ("/v1/voices/..%2F..%2Fetc", 400, "invalid_voice_name"),
                               ("/v1/voices/a.json", 400, "invalid_voice_name")]:
        got, answer = api(server, "DELETE", path)
        assert got == status and error_code(answer) == code, (path, got, answer)
    assert api(server, "DELETE", "/v1/voices/../x")[0] == 404, "no route has a path there"
    assert api(server, "PUT", "/v1/voices")[0] == 405
    assert (voices / "Narrator.json").exists()
    # TTS_MAX_VOICES=2: Narrator and one more.
    assert api(server, "POST", "/v1/voices", {"name": "one", "blend": "F1+M1"})[0] == 201
    status, answer = api(server, "POST", "/v1/voices", {"name": "two", "blend": "F1+M1"})
    assert status == 409 and error_code(answer) == "too_many_voices" and "TTS_MAX_VOICES (2)" in answer["error"]["message"]
    assert api(server, "POST", "/v1/voices", {"name": "one", "blend": "F2+M1"})[0] == 200, "a replacement is no new voice"


async def _default_voice_session(server: ServerProcess) -> SessionLog:
    async with await WsClient.open(server.url) as client:
        return await run_session(client, "default", ["The default voice."], {"lang_code": "en"})


def test_uploads_and_saved_blends_survive_a_restart(tmp_path):
    voices = tmp_path / "voices"
    env = dict(TTS_VOICES_DIR=voices, TTS_ALLOW_VOICE_UPLOAD="true")
    first = ServerProcess(tmp_path, **env).start()
    try:
        assert api(first, "POST", "/v1/voices", {"name": "keep", "style": compact(probe_voice("M5"))})[0] == 201
        assert api(first, "POST", "/v1/voices", {"name": "half", "blend": "keep+F1"})[0] == 201
        assert api(first, "POST", "/v1/voices", {"name": "gone", "blend": "F2"})[0] == 201
        assert api(first, "DELETE", "/v1/voices/gone")[0] == 200
    finally:
        first.stop()
    second = ServerProcess(tmp_path, **env).start()
    try:
        _, listing = api(second, "GET", "/v1/voices")
        stored = {v["name"]: v for v in listing["data"] if v["origin"] != "model"}
        assert set(stored) == {"keep", "half"}
        assert stored["keep"]["origin"] == "upload" and stored["keep"]["metadata"] == probe_voice("M5")["metadata"]
        assert stored["half"]["upload"]["blend"] == "keep:0.5+F1:0.5"
        for voice in ("keep", "half", "half:1+keep:1"):
            log = run(speak(second, voice, ["After a restart."]))
            assert_session_speaks(log, ["After a restart."], "en")
    finally:
        second.stop()


# ---------------------------------------------------------------------------
# Replicas sharing one folder

# TTS_VOICES_RESCAN_S=1: a replica sees another's write within a second and a
# re-scan; the rest is slack for a loaded machine.
REPLICA_DEADLINE_S = 5.0


def test_replicas_sharing_a_folder_see_each_others_writes(start_server, tmp_path):
    """Two servers on one TTS_VOICES_DIR, as replicas on a shared volume: an
    upload through A is spoken on B, B's upload over it says it replaced it,
    and a voice deleted through A is refused on B."""
    voices = tmp_path / "voices"
    env = dict(TTS_VOICES_DIR=voices, TTS_ALLOW_VOICE_UPLOAD="true", TTS_VOICES_RESCAN_S=1)
    a, b = start_server(**env), start_server(**env)

    def voice_on(server: ServerProcess, name: str) -> dict | None:
        _, listing = api(server, "GET", "/v1/voices")
        return next((v for v in listing["data"] if v["name"] == name), None)

    status, saved = api(a, "POST", "/v1/voices", {"name": "Shared", "style": compact(probe_voice("M3"))})
    assert status == 201 and saved["replaced"] is False, saved
    assert poll(lambda: voice_on(b, "Shared"), REPLICA_DEADLINE_S), "B never offered the voice uploaded through A"
    log = run(speak(b, "Shared", ["Uploaded through the other one."]))
    assert log.started["resolved_voice"] == "Shared"
    assert_session_speaks(log, ["Uploaded through the other one."], "en")

    status, saved = api(b, "POST", "/v1/voices",
                        {"name": "Shared", "style": compact(probe_voice("F2")), "metadata": {"by": "b"}})
    assert status == 200 and saved["replaced"] is True, saved
    assert poll(lambda: (voice_on(a, "Shared") or {}).get("metadata") == {"by": "b"}, REPLICA_DEADLINE_S), \
        "A kept its own version after B replaced it"

    assert api(a, "DELETE", "/v1/voices/Shared")[0] == 200
    assert poll(lambda: voice_on(b, "Shared") is None, REPLICA_DEADLINE_S), "B still offers the deleted voice"
    assert run(refused(b, "Shared"))["code"] == "invalid_voice"
    assert api(b, "DELETE", "/v1/voices/Shared")[0] == 404


# ---------------------------------------------------------------------------
# Blends and what the audio says


def test_blends_and_uploads_are_heard_in_the_audio(start_server, tmp_path, tempo_model, tempo_f1):
    server = start_server(TTS_MODEL_DIR=tempo_model, TTS_VOICES_DIR=tmp_path / "voices",
                          TTS_ALLOW_VOICE_UPLOAD="true")
    assert api(server, "POST", "/v1/voices", {"name": "base", "style": tempo_voice(0.0)})[0] == 201
    assert api(server, "POST", "/v1/voices", {"name": "slow", "style": tempo_voice(1.0)})[0] == 201
    texts = ["Blends are heard. ", "Each segment, too."]
    for voice, resolved, factor in [
        ("base", "base", 1.0),
        ("slow", "slow", 2.0),
        ("base:3+slow:1", "base:0.75+slow:0.25", 1.25),
        ("slow + base", "slow:0.5+base:0.5", 1.5),
        ("slow:1+F1:1", "slow:0.5+F1:0.5", 1.0 + 0.5 * 1.0 + 0.5 * tempo_f1),
        ("F1", "F1", 1.0 + tempo_f1),
    ]:
        log = run(speak(server, voice, texts))
        assert log.started["voice"] == voice and log.started["resolved_voice"] == resolved, log.started
        assert_tempo(log, "en", factor)
        assert_session_speaks(log, texts, "en")

    # The OpenAI endpoint takes blends too: its audio is as long as the mix says.
    def pcm(voice: str) -> np.ndarray:
        status, body = _speech(server, {"input": "Open blend.", "voice": voice, "response_format": "pcm",
                                        "speed": 1.0, "language": "en"})
        assert status == 200, body[:300]
        return np.frombuffer(body, dtype="<i2")
    base, blended = pcm("base"), pcm("base:1+slow:1")
    assert abs(len(blended) / len(base) - 1.5) < 0.02, (len(blended), len(base))
    assert decode_pcm16(blended.tobytes(), 24000).raw_text == spoken("Open blend.", "en")
    status, body = _speech(server, {"input": "x", "voice": "base+nobody", "language": "en"})
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_voice"


def _speech(server: ServerProcess, request: dict) -> tuple[int, bytes]:
    req = urllib.request.Request(server.http + "/v1/audio/speech", data=json.dumps(request).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize("voice,in_message", [
    ("F1:0.7+Nobody:0.3", "unknown voice 'Nobody' in blend 'F1:0.7+Nobody:0.3'"),
    ("F1:0+M2:1", "blend part 'F1:0'"),
    ("F1:-0.5+M2", "blend part 'F1:-0.5'"),
    ("F1:nan+M2", "got 'nan'"),
    ("F1:inf+M2", "got 'inf'"),
    ("F1:heavy+M2", "got 'heavy'"),
    ("F1+F2+F3+F4+F5", "more than 4 voices"),
    ("F1+F1", "'F1' appears twice"),
    ("F1++M2", "empty part"),
    ("F1+", "empty part"),
    ("../x:1+F1", "does not name a voice"),
    ("Nobody", "unknown voice 'Nobody' (available: F1,"),
])
def test_bad_blends_are_invalid_voice_naming_the_part(server, voice, in_message):
    error = run(refused(server, voice))
    assert error["code"] == "invalid_voice" and in_message in error["message"], error
    status, body = _speech(server, {"input": "Hi.", "voice": voice, "language": "en"})
    assert status == 400, body[:200]
    answer = json.loads(body)
    assert answer["error"]["code"] == "invalid_voice" and in_message in answer["error"]["message"], answer


def test_session_started_echoes_the_voice_as_resolved(server):
    for voice, resolved in [("F1", "F1"), ("F1+M2", "F1:0.5+M2:0.5"), ("F1:0.7+M2:0.3", "F1:0.7+M2:0.3"),
                            ("M2:2 + F1:6", "M2:0.25+F1:0.75"), ("F3:0.5", "F3"), ("F1+F2+M1", "F1:0.3333+F2:0.3333+M1:0.3333")]:
        log = run(speak(server, voice, ["Echo."]))
        assert log.started["voice"] == voice, "the voice as the client asked for it"
        assert log.started["resolved_voice"] == resolved, log.started


# ---------------------------------------------------------------------------
# Changes while sessions run


def test_a_session_keeps_its_voice_when_it_is_replaced_or_deleted(start_server, tmp_path, tempo_model):
    server = start_server(TTS_MODEL_DIR=tempo_model, TTS_VOICES_DIR=tmp_path / "voices",
                          TTS_ALLOW_VOICE_UPLOAD="true")
    assert api(server, "POST", "/v1/voices", {"name": "v", "style": tempo_voice(1.0)})[0] == 201

    async def sessions() -> tuple[SessionLog, SessionLog]:
        async with await WsClient.open(server.url) as plain, await WsClient.open(server.url) as mixed:
            await plain.send(start_msg("plain", voice="v", lang_code="en", speed=1.0))
            await mixed.send(start_msg("mixed", voice="v:1+F1:1", lang_code="en", speed=1.0))
            logs = (SessionLog("plain"), SessionLog("mixed"))
            for client, log in ((plain, logs[0]), (mixed, logs[1])):
                event = await client.recv()
                log.feed(event)
                assert event.type == "session_started", event
            status, _ = await asyncio.to_thread(api, server, "POST", "/v1/voices",
                                                {"name": "v", "style": tempo_voice(0.0)})
            assert status == 200
            assert (await asyncio.to_thread(api, server, "DELETE", "/v1/voices/v"))[0] == 200
            texts = ["The voice was replaced. ", "Then it was deleted. ", "This session did not notice."]
            for client in (plain, mixed):
                await client.send_all([*(text_msg(t) for t in texts), END])
            await collect_session(plain, logs[0])
            await collect_session(mixed, logs[1])
            return logs

    plain, mixed = run(sessions())
    f1 = dp000(probe_voice("F1", tempo_model))
    assert_tempo(plain, "en", 2.0)
    assert_tempo(mixed, "en", 1.0 + 0.5 * 1.0 + 0.5 * f1)
    for log in (plain, mixed):
        assert norm_text(log.text()) == norm_text("The voice was replaced. Then it was deleted. "
                                                  "This session did not notice.")
        log.assert_audio_speaks_segments("en")
    assert run(refused(server, "v"))["code"] == "invalid_voice", "new sessions do not find it"


def test_concurrent_uploads_deletes_and_synthesis(start_server, tmp_path, tempo_model):
    """Threads upload, replace and delete voices while sessions speak with
    uploaded voices and blends of them: every session speaks its text in its
    voice, every write gets an answer, the folder ends consistent."""
    voices = tmp_path / "voices"
    server = start_server(TTS_MODEL_DIR=tempo_model, TTS_VOICES_DIR=voices, TTS_ALLOW_VOICE_UPLOAD="true",
                          TTS_MAX_SESSIONS=20)
    assert api(server, "POST", "/v1/voices", {"name": "steady", "style": tempo_voice(0.5)})[0] == 201
    stop = threading.Event()
    answers: list[int] = []
    failures: list[str] = []

    def churn(worker: int) -> None:
        i = 0
        while not stop.is_set() or i < 2:
            name = f"tmp{worker}_{i % 3}"
            status, answer = api(server, "POST", "/v1/voices", {"name": name, "style": tempo_voice(0.1 * (i % 5))})
            answers.append(status)
            if status not in (200, 201):
                failures.append(f"POST {name}: {status} {answer}")
            # The voice the sessions use, replaced by the same values.
            status, answer = api(server, "POST", "/v1/voices", {"name": "steady", "style": tempo_voice(0.5)})
            if status != 200:
                failures.append(f"POST steady: {status} {answer}")
            if i % 2:
                status, answer = api(server, "DELETE", f"/v1/voices/{name}")
                if status != 200:
                    failures.append(f"DELETE {name}: {status} {answer}")
            i += 1

    threads = [threading.Thread(target=churn, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    try:
        async def sessions() -> list[SessionLog]:
            async def one(k: int) -> SessionLog:
                # "steady" dominates each blend: whatever the model's own voices are (the real
                # styles, or the generated ones without ../shared), a character lasts over two
                # latent frames, so a segment's last one is never cut below what the probe decodes.
                voice = ["steady", "steady:3+F1:1", "F2:1+steady:3"][k % 3]
                texts = [f"Session {k} speaks. ", "Voices change around it."]
                async with await WsClient.open(server.url) as client:
                    return await run_session(client, f"c{k}", texts, {"voice": voice, "lang_code": "en",
                                                                       "speed": 1.0}, timeout=60)
            return list(await asyncio.gather(*(one(k) for k in range(9))))
        logs = run(sessions(), timeout=120)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not failures, failures[:5]
    assert len(answers) >= 6
    f1, f2 = dp000(probe_voice("F1", tempo_model)), dp000(probe_voice("F2", tempo_model))
    for k, log in enumerate(logs):
        factor = [1.5, 1.0 + 0.75 * 0.5 + 0.25 * f1, 1.0 + 0.25 * f2 + 0.75 * 0.5][k % 3]
        assert_tempo(log, "en", factor)
        assert_session_speaks(log, [f"Session {k} speaks. ", "Voices change around it."], "en")
    folder = voices / server_model_name(server)
    assert not [p.name for p in folder.iterdir() if not p.name.endswith(".json")], "no temporary file left"
    for path in folder.glob("*.json"):
        json.loads(path.read_text())     # every file whole
    _, listing = api(server, "GET", "/v1/voices")
    listed = {v["name"] for v in listing["data"] if v["origin"] == "upload"}
    assert listed == {p.stem for p in folder.glob("*.json")}


def server_model_name(server: ServerProcess) -> str:
    return api(server, "GET", "/v1/voices")[1]["model"]


# ---------------------------------------------------------------------------
# The CLI and the clients


def test_cli_synth_takes_blends_and_voice_files(tmp_path, tempo_model, tempo_f1):
    text = "Hello there."

    def synth(voice: str) -> tuple[int, str]:
        out = tmp_path / "out.wav"
        proc = subprocess.run([str(BINARY), "synth", "--model-dir", str(tempo_model), "--text", text, "--lang", "en",
                               "--speed", "1.0", "--voice", voice, "-o", str(out)],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            return -1, proc.stderr
        with wave.open(str(out)) as w:
            return w.getnframes(), proc.stderr
    n = len(spoken(text, "en"))
    slow = write_voice(tmp_path / "slow.json", tempo_voice(1.0))
    for voice, factor in [("F1", 1 + tempo_f1), (f"{slow}", 2.0), ("F1:1+M2:1", None)]:
        frames, err = synth(voice)
        assert frames > 0, err
        if factor is not None:
            assert abs(frames - n * CHAR_SECONDS * factor * 44100) <= 2, (voice, frames)
    m2 = dp000(probe_voice("M2", tempo_model))
    frames, _ = synth("F1:1+M2:1")
    assert abs(frames - n * CHAR_SECONDS * (1 + 0.5 * tempo_f1 + 0.5 * m2) * 44100) <= 2
    frames, err = synth("F1+Nobody")
    assert frames == -1 and "unknown voice 'Nobody'" in err, err


stc = pytest.importorskip("supertonic_client", reason="pip install -e ./clients/python/supertonic-client")


async def test_the_python_client_lists_uploads_blends_and_deletes(start_server, tmp_path):
    server = start_server(TTS_VOICES_DIR=tmp_path / "voices", TTS_AUTH_TOKEN="tok")
    style_path = write_voice(tmp_path / "style.json", compact(probe_voice("M1")))

    url, token = server.url, "tok"
    uploaded = await stc.upload_voice("Cleo", style_path, url=url, token=token, metadata={"by": "client"})
    assert uploaded == stc.Voice("Cleo", "supertonic-2", "upload", {"by": "client"}, uploaded.upload)
    saved = await stc.save_blend("Duo", stc.blend(F1=1, Cleo=3), url=server.http, token=token)
    assert saved.upload["blend"] == "F1:0.25+Cleo:0.75"
    voices = {v.name: v for v in await stc.list_voices(url, token=token)}
    assert voices["Cleo"].origin == "upload" and voices["F1"].origin == "model"
    assert "Duo" in voices and voices["M5"].model == "supertonic-2"
    async with await stc.connect(url, token=token) as conn:
        result = await conn.synthesize("Client blend.", voice=stc.blend("Duo", "F2"), lang_code="en")
        assert result.started.resolved_voice == "Duo:0.5+F2:0.5"
        assert decode_pcm16(result.pcm, result.sample_rate).raw_text == spoken("Client blend.", "en")
        with pytest.raises(stc.InvalidVoiceError, match="Nobody"):
            await conn.synthesize("x", voice="F1+Nobody")
    with pytest.raises(stc.VoiceProtectedError):
        await stc.delete_voice("F1", url=url, token=token)
    with pytest.raises(stc.InvalidVoiceNameError):
        await stc.upload_voice("a/b", style_path, url=url, token=token)
    with pytest.raises(stc.InvalidVoiceError, match="dims"):
        await stc.upload_voice("Bad", {**compact(probe_voice("F1")), "style_dp": {"dims": [1, 2], "data": [1, 2]}},
                               url=url, token=token)
    with pytest.raises(stc.UnauthorizedError):
        await stc.list_voices(url)
    await stc.delete_voice("Cleo", url=url, token=token)
    with pytest.raises(stc.VoiceNotFoundError):
        await stc.delete_voice("Cleo", url=url, token=token)
    assert "Cleo" not in {v.name for v in await stc.list_voices(url, token=token)}
    with pytest.raises(ValueError):
        stc.blend("A", "B", "C", "D", "E")
    with pytest.raises(ValueError):
        stc.blend(A=0)


async def test_the_python_client_reports_disabled_uploads(server):
    with pytest.raises(stc.UploadsDisabledError, match="TTS_ALLOW_VOICE_UPLOAD"):
        await stc.save_blend("x", "F1+M2", url=server.url)


def test_supertonic_say_speaks_a_blend_and_lists_voices(start_server, tmp_path):
    import sys
    voices = tmp_path / "voices"
    write_voice(voices / "Fred.json", compact(probe_voice("M3")))
    server = start_server(TTS_VOICES_DIR=voices)
    script = Path(sys.executable).parent / "supertonic-say"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "supertonic_client"]
    out = tmp_path / "blend.wav"
    proc = subprocess.run([*command, "--url", server.url, "--voice", "F1:0.5+F2:0.5", "--lang", "en",
                           "A blend from the command line.", "-o", str(out)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "voice F1:0.5+F2:0.5" in proc.stderr
    from tools.probe_decode import decode_wav
    assert norm_text(decode_wav(out, PROBE_DIR).text.replace("<en>", " ").replace("</en>", " ")) == \
        "A blend from the command line."
    proc = subprocess.run([*command, "--url", server.url, "--list-voices"], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert ["Fred", "supertonic-2", "file"] in rows and ["F1", "supertonic-2", "model"] in rows


async def test_the_livekit_plugin_uses_the_voice_api(start_server, tmp_path):
    supertonic = pytest.importorskip("livekit.plugins.supertonic")
    server = start_server(TTS_VOICES_DIR=tmp_path / "voices", TTS_ALLOW_VOICE_UPLOAD="true")

    tts = supertonic.TTS(url=server.url, voice=supertonic.blend(F1=0.7, M2=0.3), language="en")
    try:
        saved = await tts.save_blend("Agent", "F1+M4")
        assert saved.origin == "upload" and saved.upload["blend"] == "F1:0.5+M4:0.5"
        assert "Agent" in {v.name for v in await tts.list_voices()}
        await tts.delete_voice("Agent")
        assert "Agent" not in {v.name for v in await tts.list_voices()}
    finally:
        await tts.aclose()
