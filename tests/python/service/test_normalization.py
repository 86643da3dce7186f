"""Text normalization through the server, on the probe model (its audio decodes
back to the text it was given): what the listener hears is the text said in
words, while transcripts keep the text as the client wrote it."""
from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path

import pytest

from service_support import (
    END, SessionLog, WsClient, assert_error, collect_session, decode_pcm16, requires_server_binary, run,
    run_session, spoken, start_msg, text_msg,
)
from test_openai_api import client

pytestmark = requires_server_binary

REPO = Path(__file__).resolve().parents[3]
BINARY = REPO / "build" / "bin" / "supertonic-tts"
PROBE = REPO / "models" / "probe"

# Each a sentence of its own: (as written, as said). Reviewed by hand.
CASES = {
    "en": [
        ("It costs $5.50 today.", "It costs five dollars and fifty cents today."),
        ("Meet me at 3:30 PM.", "Meet me at three thirty p.m."),
        ("It was 2024-03-15.", "It was March fifteenth, twenty twenty-four."),
        ("Prices rose 12% in 1999.", "Prices rose twelve percent in nineteen ninety-nine."),
        ("**Call** 555-123-4567 now.", "Call five five five, one two three, four five six seven now."),
        ("Dr. Smith came 2nd.", "Doctor Smith came second."),
    ],
    "pt": [
        ("Tenho 25 anos.", "Tenho vinte e cinco anos."),
        ("Custa R$ 3,50.", "Custa três reais e cinquenta centavos."),
        ("Chego às 15h30.", "Chego às quinze e trinta."),
        ("O 2º lugar levou 12%.", "O segundo lugar levou doze por cento."),
        ("A Sra. Silva veio em 15/03/2024.", "A Senhora Silva veio em quinze de março de dois mil e vinte e quatro."),
    ],
    "es": [
        ("Tengo 21 años.", "Tengo veintiún años."),
        ("Cuesta 5,50 €.", "Cuesta cinco euros con cincuenta céntimos."),
        ("Es el 1er día.", "Es el primer día."),
        ("Son las 15:30.", "Son las quince y treinta."),
    ],
    "fr": [
        ("Le 1er mars.", "Le premier mars."),
        ("Il coûte 3,50 €.", "Il coûte trois euros et cinquante centimes."),
        ("Rendez-vous à 15h30.", "Rendez-vous à quinze heures trente."),
        ("Il fait 25°C.", "Il fait vingt-cinq degrés Celsius."),
    ],
    "ko": [
        ("사과 3개를 샀어요.", "사과 세 개를 샀어요."),
        ("5,000원이에요.", "오천 원이에요."),
        ("3시 30분에 만나요.", "세 시 삼십분에 만나요."),
        ("2024년 6월 15일.", "이천이십사년 유월 십오일."),
    ],
}


def spoken_segments(server, lang: str, texts: list[str], **config) -> SessionLog:
    async def body():
        c = await WsClient.open(server.url)
        try:
            return await run_session(c, f"norm-{lang}", texts, {"lang_code": lang, **config}, flush_each=True)
        finally:
            await c.close()
    return run(body(), timeout=60)


@pytest.mark.parametrize("lang", sorted(CASES))
def test_audio_says_the_normalized_text_and_transcripts_keep_the_original(server, lang):
    cases = CASES[lang]
    log = spoken_segments(server, lang, [written for written, _ in cases])
    log.check()
    assert log.started["normalize"] is True
    segments = log.completed()
    assert [s.text for s in segments] == [written for written, _ in cases]
    assert [s.spoken_text for s in segments] == [said for _, said in cases]
    for segment, (written, said) in zip(segments, cases):
        got = segment.decode(log.sample_rate).raw_text
        assert got == spoken(said, lang), f"{written!r} was heard as {got!r}"
        assert segment.done["text"] == written and segment.done["spoken_text"] == said


def test_config_normalize_false_gives_the_model_the_text_as_written(server):
    text = "Room 12 opens at 9."
    log = spoken_segments(server, "en", [text], normalize=False)
    log.check()
    assert log.started["normalize"] is False
    [segment] = log.completed()
    assert segment.text == segment.spoken_text == text
    assert segment.decode(log.sample_rate).raw_text == spoken(text, "en")


async def test_a_price_streamed_in_pieces_is_one_amount(server):
    c = await WsClient.open(server.url)
    try:
        await c.send_all([start_msg("pieces", lang_code="en"), text_msg("It costs $3"), text_msg("."),
                          text_msg("50 today. "), text_msg("Then 2"), text_msg(".5 kg."), END])
        log = await collect_session(c, SessionLog("pieces"))
    finally:
        await c.close()
    log.check()
    said = " ".join(s.spoken_text for s in log.completed())
    assert said == "It costs three dollars and fifty cents today. Then two point five kilograms."
    assert " ".join(s.text for s in log.completed()) == "It costs $3.50 today. Then 2.5 kg."


async def test_a_wrong_normalize_type_is_a_clear_error(server):
    c = await WsClient.open(server.url)
    try:
        await c.send(start_msg("bad", normalize="yes"))
        message = await c.recv_json()
    finally:
        await c.close()
    assert_error(message, "invalid_message")
    assert "normalize" in message["message"]


def test_openai_speech_normalizes_unless_asked_not_to(server):
    text = "Room 12 opens at 9."
    said = client(server).audio.speech.create(model="tts-1", voice="alloy", input=text, response_format="pcm",
                                              extra_body={"language": "en"}).content
    assert decode_pcm16(said, 24000).raw_text == spoken("Room twelve opens at nine.", "en")
    raw = client(server).audio.speech.create(model="tts-1", voice="alloy", input=text, response_format="pcm",
                                             extra_body={"language": "en", "normalize": False}).content
    assert decode_pcm16(raw, 24000).raw_text == spoken(text, "en")


def test_server_default_off_and_a_session_turns_it_on(start_server):
    server = start_server(TTS_TEXT_NORMALIZATION="false")
    off = spoken_segments(server, "en", ["Room 12."])
    assert off.started["normalize"] is False
    assert off.completed()[0].spoken_text == "Room 12."
    on = spoken_segments(server, "en", ["Room 12."], normalize=True)
    assert on.completed()[0].spoken_text == "Room twelve."
    assert on.completed()[0].decode(on.sample_rate).raw_text == spoken("Room twelve.", "en")


def test_ids_prints_the_normalized_text_per_chunk():
    result = subprocess.run([str(BINARY), "ids", "--model-dir", str(PROBE), "--lang", "pt", "--text",
                             "A Sra. Silva pagou R$ 3,50. Depois saiu.", "--max-chunk-chars", "30"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    chunks = json.loads(result.stdout)
    assert [c["chunk"] for c in chunks] == ["A Sra. Silva pagou R$ 3,50.", "Depois saiu."]
    assert chunks[0]["normalized"] == "A Senhora Silva pagou três reais e cinquenta centavos."
    assert unicodedata.normalize("NFC", chunks[0]["preprocessed"]) == (
        "<pt>A Senhora Silva pagou três reais e cinquenta centavos.</pt>")
