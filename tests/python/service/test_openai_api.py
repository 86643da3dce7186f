"""The OpenAI-compatible HTTP API, driven by the real `openai` package."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import io

import numpy as np
import openai
import pytest
import soundfile

from service_support import END, WsClient, decode_pcm16, indexer, number_words, run, spoken, start_msg
from tools.probe_decode import decode_samples, decode_wav


def read_audio(body: bytes) -> tuple[np.ndarray, int]:
    """Decodes a whole stream with libsndfile. A streamed FLAC declares its
    length unknown, and soundfile's read() seeks after each read, which
    libsndfile refuses for such a FLAC; so the frames are read directly."""
    blocks = []
    with soundfile.SoundFile(io.BytesIO(body)) as f:
        buffer = np.empty(8192, dtype=np.float64)
        pointer = soundfile._ffi.cast("double *", buffer.ctypes.data)
        while (n := soundfile._snd.sf_readf_double(f._file, pointer, len(buffer))) > 0:
            blocks.append(buffer[:n].copy())
        return (np.concatenate(blocks) if blocks else np.zeros(0)), f.samplerate


def client(server, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.http}/v1", api_key=key, max_retries=0, timeout=30)


def test_wav_speech_decodes_to_the_input(server, tmp_path):
    text = "Hello from the OpenAI API."
    response = client(server).audio.speech.create(model="supertonic-2", voice="F2", input=text,
                                                  response_format="wav", extra_body={"language": "en"})
    path = tmp_path / "speech.wav"
    response.write_to_file(path)
    assert path.read_bytes()[:4] == b"RIFF"
    assert decode_wav(path).raw_text == spoken(text, "en")


@pytest.mark.parametrize("response_format,content_type,container", [
    ("mp3", "audio/mpeg", "MP3"),
    ("opus", "audio/ogg", "OGG"),
    ("flac", "audio/flac", "FLAC"),
])
def test_compressed_formats_decode_to_the_input(server, response_format, content_type, container):
    text = "Compressed, and still the same words."
    with client(server).audio.speech.with_streaming_response.create(
            model="tts-1", voice="nova", input=text, response_format=response_format,
            extra_body={"language": "en"}) as response:
        assert response.headers["content-type"] == content_type
        body = b"".join(response.iter_bytes())
    info = soundfile.info(io.BytesIO(body))
    assert info.format == container and info.channels == 1 and info.samplerate == 24000
    samples, rate = read_audio(body)
    # The probe's tones survive the lossy codecs too: the decoded text is exact.
    assert decode_samples(samples, rate, indexer()).raw_text == spoken(text, "en")
    expected_s = len(spoken(text, "en")) * 0.15 / 1.05      # TTS_SPEED 1.05
    assert abs(len(samples) / rate - expected_s) < 0.3


def test_mp3_is_the_default_format_as_in_openai(server):
    response = client(server).audio.speech.create(model="tts-1", voice="alloy", input="Default format.",
                                                  extra_body={"language": "en"})
    assert response.response.headers["content-type"] == "audio/mpeg"
    samples, rate = read_audio(response.content)
    assert rate == 24000
    assert decode_samples(samples, rate, indexer()).raw_text == spoken("Default format.", "en")


def test_pcm_streams_at_24khz_with_openai_voice_names(server):
    text = "Streaming, chunk by chunk."
    pieces = []
    first_chunk_at = None
    t0 = time.monotonic()
    with client(server).audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input=text, response_format="pcm", speed=1.0,
            extra_body={"language": "en"}) as response:
        assert response.headers["content-type"] == "audio/pcm"
        for chunk in response.iter_bytes():
            if first_chunk_at is None:
                first_chunk_at = time.monotonic() - t0
            pieces.append(chunk)
    pcm = b"".join(pieces)
    assert len(pcm) % 2 == 0
    assert decode_pcm16(pcm, 24000).raw_text == spoken(text, "en")
    # speed 1.0 on the probe: 0.15 s per text id
    expected_s = len(spoken(text, "en")) * 0.15
    assert abs(len(pcm) / 2 / 24000 - expected_s) < 0.2
    assert first_chunk_at is not None


def test_long_input_is_chunked_and_spoken_in_order(server):
    sentences = [f"Sentence number {number_words(i)} of a long answer." for i in range(12)]
    text = " ".join(sentences)
    pcm = client(server).audio.speech.create(model="supertonic-2", voice="M1", input=text, response_format="pcm",
                                             extra_body={"language": "en"}).content
    decoded = decode_pcm16(pcm, 24000).text
    assert decoded.startswith("<en>Sentence number zero")
    assert decoded.replace("</en><en>", " ").removeprefix("<en>").removesuffix("</en>") == text


@pytest.mark.parametrize("kwargs,status,code", [
    ({"voice": "Nobody"}, 400, "invalid_voice"),
    ({"voice": "F1", "extra_body": {"language": "xx"}}, 400, "invalid_language"),
    ({"voice": "F1", "response_format": "aac"}, 400, "invalid_request_error"),
    ({"voice": "F1", "extra_body": {"sample_rate": 11025}}, 400, "invalid_sample_rate"),
    ({"voice": "F1", "speed": 3.5}, 400, "invalid_config"),
    ({"voice": "F1", "input": ""}, 400, "invalid_request_error"),
    ({"voice": "F1", "input": " \n\t "}, 400, "invalid_request_error"),  # was a 200 with no audio
])
def test_bad_requests_are_clear_400s(server, kwargs, status, code):
    args = {"model": "supertonic-2", "input": "hi", "response_format": "pcm", **kwargs}
    with pytest.raises(openai.APIStatusError) as info:
        client(server).audio.speech.create(**args)
    assert info.value.status_code == status
    assert json.loads(info.value.response.text)["error"]["code"] == code


def test_models_and_voices_are_listed(server):
    models = client(server).models.list()
    assert [m.id for m in models.data] == ["supertonic-2"]
    with urllib.request.urlopen(f"{server.http}/v1/voices", timeout=5) as r:
        voices = json.loads(r.read())
    assert "F1" in voices["voices"] and "M5" in voices["voices"]
    assert set(voices["languages"]) >= {"en", "ko", "es", "pt", "fr"}


def test_capacity_is_a_429(start_server):
    """A WebSocket session holds the only slot, so the HTTP request must be refused with 429."""
    srv = start_server(TTS_MAX_SESSIONS=1)

    async def scenario():
        async with await WsClient.open(srv.url) as holder:
            await holder.send(start_msg("holder"))
            assert (await holder.recv_json())["type"] == "session_started"
            with pytest.raises(openai.RateLimitError) as refused:
                await asyncio.to_thread(lambda: client(srv).audio.speech.create(
                    model="supertonic-2", voice="F1", input="hi", response_format="pcm"))
            assert refused.value.status_code == 429
            await holder.send(END)
        # The slot is free again once the holder's session has ended.
        deadline = time.monotonic() + 5
        while True:
            try:
                response = await asyncio.to_thread(lambda: client(srv).audio.speech.create(
                    model="supertonic-2", voice="F1", input="hi", response_format="pcm"))
                assert len(response.content) > 0
                return
            except openai.RateLimitError:
                assert time.monotonic() < deadline, "the slot was not released after the holder left"
                await asyncio.sleep(0.05)

    run(scenario())


def test_token_is_required_when_configured(start_server):
    srv = start_server(TTS_AUTH_TOKEN="s3cret")
    with pytest.raises(openai.AuthenticationError):
        client(srv, key="wrong").audio.speech.create(model="supertonic-2", voice="F1", input="hi",
                                                     response_format="pcm")
    pcm = client(srv, key="s3cret").audio.speech.create(model="supertonic-2", voice="F1", input="Yes.",
                                                        response_format="pcm", extra_body={"language": "en"}).content
    assert decode_pcm16(pcm, 24000).raw_text == spoken("Yes.", "en")
