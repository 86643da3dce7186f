"""The server on each engine backend (TTS_BACKEND, TTS_PRECISION): with
TTS_BACKEND=openvino the probe model's audio still decodes back to exactly the
text of every segment (fp32, and bf16 where the CPU has it), sessions stream and
cancel as on the reference backend, and settings that cannot run stop the start
with a message naming them.

The probe model is generated fresh for this module (tools/models/probe.py as
checked out), so a models/probe made by an older generator does not matter.
"""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from service_support import (
    BINARY, CANCEL, END, REPO, VENV_PYTHON, SessionLog, WsClient, assert_session_speaks, assert_start_fails, collect,
    collect_session, is_type, run, run_session, start_msg, text_msg,
)

pytestmark = pytest.mark.skipif(not BINARY.exists(), reason=f"{BINARY} is not built")


def cpu_has_bf16() -> bool:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return " avx512_bf16" in flags or " amx_bf16" in flags


def openvino_compiled_in() -> bool:
    """Whether this build has the backend: `synth --backend openvino` on no
    model fails on the model, not on the backend."""
    out = subprocess.run([str(BINARY), "synth", "--backend", "openvino", "--model-dir", "/nonexistent", "--text",
                          "x", "-o", "/dev/null"], capture_output=True, text=True, timeout=60)
    return "SUPERTONIC_OPENVINO=OFF" not in out.stderr


requires_openvino = pytest.mark.skipif(not BINARY.exists() or not openvino_compiled_in(),
                                       reason="built without OpenVINO (-DSUPERTONIC_OPENVINO=OFF)")


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("probe-openvino")
    python = str(VENV_PYTHON) if VENV_PYTHON.exists() else "python3"
    subprocess.run([python, "-m", "tools.models.probe", "--out", str(out)], cwd=REPO, check=True, timeout=300,
                   capture_output=True)
    return out


PRECISIONS = ["fp32", pytest.param("bf16", marks=pytest.mark.skipif(not cpu_has_bf16(), reason="no bf16 on this CPU"))]


@pytest.fixture(scope="module", params=PRECISIONS)
def openvino_server(request, start_server, probe_dir):
    return start_server(TTS_MODEL_DIR=probe_dir, TTS_BACKEND="openvino", TTS_PRECISION=request.param,
                        TTS_LANG_CODE="en", TTS_MAX_BATCH=4), request.param


@requires_openvino
async def test_openvino_sessions_speak_their_text(openvino_server):
    server, precision = openvino_server
    texts = ["The backend is OpenVINO.", "Every segment still says its text!"]

    async with await WsClient.open(server.url) as client:
        log = await run_session(client, f"ov-{precision}", texts, {"lang_code": "en"}, flush_each=True)

    assert_session_speaks(log, texts, "en")
    assert "engine backend: openvino" in server.log_tail(20000)
    assert f"precision {precision}" in server.log_tail(20000)


@requires_openvino
def test_openvino_concurrent_sessions_do_not_hear_each_other(openvino_server):
    server, precision = openvino_server
    sessions = {f"ov-many-{i}": [f"Session number {i} speaks alone.", "Then it ends."] for i in range(4)}

    async def one(sid, texts):
        async with await WsClient.open(server.url) as client:
            return await run_session(client, sid, texts, {"lang_code": "en"}, flush_each=True)

    async def body():
        return await asyncio.gather(*(one(sid, texts) for sid, texts in sessions.items()))

    for log, texts in zip(run(body()), sessions.values()):
        assert_session_speaks(log, texts, "en")


@requires_openvino
async def test_openvino_cancel_stops_the_answer_and_the_session_goes_on(openvino_server):
    server, precision = openvino_server
    sentences = [f"Sentence {w} of a long answer that the listener interrupts." for w in
                 ["one", "two", "three", "four", "five", "six", "seven", "eight"]]

    async with await WsClient.open(server.url) as client:
        await client.send_all([start_msg("ov-cancel", lang_code="en"), text_msg(" ".join(sentences))])
        log = SessionLog("ov-cancel")
        await collect(client, log, is_type("segment_started"), 30)
        await client.send(CANCEL)
        await collect(client, log, is_type("cancelled"), 30)
        before = len(log.completed())
        await client.send_all([text_msg("Back again."), END])
        await collect_session(client, log)

    assert before < len(sentences), "the cancel came before the last sentence was spoken"
    last = log.completed()[-1]
    assert last.text == "Back again."
    log.assert_audio_speaks_segments("en")


def test_bf16_on_the_reference_backend_stops_the_start(tmp_path, probe_dir):
    assert_start_fails(tmp_path, 2, "TTS_PRECISION bf16 needs TTS_BACKEND=openvino", within_s=15,
                       TTS_MODEL_DIR=probe_dir, TTS_PRECISION="bf16")


def test_openvino_with_cuda_stops_the_start(tmp_path, probe_dir):
    assert_start_fails(tmp_path, 2, "TTS_BACKEND openvino runs on the CPU only, but TTS_DEVICE is cuda",
                       within_s=15, TTS_MODEL_DIR=probe_dir, TTS_BACKEND="openvino", TTS_DEVICE="cuda")


def test_an_unknown_backend_stops_the_start(tmp_path, probe_dir):
    assert_start_fails(tmp_path, 2, "TTS_BACKEND must be onnxruntime or openvino, got 'tensorrt'", within_s=15,
                       TTS_MODEL_DIR=probe_dir, TTS_BACKEND="tensorrt")


@requires_openvino
def test_cli_synth_takes_backend_and_precision(tmp_path, probe_dir):
    """`synth --backend openvino` speaks the text too (decoded from the WAV)."""
    wav = tmp_path / "ov.wav"
    precision = "bf16" if cpu_has_bf16() else "fp32"
    out = subprocess.run([str(BINARY), "synth", "--model-dir", str(probe_dir), "--backend", "openvino",
                          "--precision", precision, "--text", "Spoken through OpenVINO.", "-o", str(wav)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"OpenVINO CPU {precision}" in out.stderr
    python = str(VENV_PYTHON) if VENV_PYTHON.exists() else "python3"
    decoded = subprocess.run([python, "tools/probe_decode.py", "--model-dir", str(probe_dir), str(wav)], cwd=REPO,
                             capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    assert decoded == "<en>Spoken through OpenVINO.</en>"
