"""Supertonic 3 beside Supertonic 2 in one server:
a v3-interface model directory (models/probe-v3: 8322 text ids, an indexer
covering its languages' scripts) serves sessions in its languages and refuses
others with its list; expression tags reach the v3 model and never the v2
one; each model runs with its own profile's defaults; a v2 directory behaves
as before. Which model a directory holds is detected from its files: the
models are served here under names that say nothing about their version.

The v3 probe's audio encodes each text id in two tones: Latin-script text
decodes exactly (its characters have the ids below 176), other scripts decode
to the right number of characters (as other characters).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from service_support import (
    REPO, WsClient, assert_error, ensure_probe_model, http_get, requires_server_binary, run, run_session, spoken,
    start_msg,
)
from tools.probe_decode import decode_samples, load_indexer

pytestmark = requires_server_binary

V3_DIR = REPO / "models" / "probe-v3"
V3_INDEXER = load_indexer(V3_DIR) if (V3_DIR / "onnx" / "unicode_indexer.json").exists() else None


@pytest.fixture(scope="module")
def both(start_server):
    if V3_INDEXER is None:
        pytest.fail("models/probe-v3 is missing: run `make models`")
    # Names chosen to hide the version: the profile comes from the files.
    return start_server(TTS_MODELS=f"alpha={ensure_probe_model()},beta={V3_DIR}", TTS_MODEL_DIR="", TTS_LANG_CODE="en")


def speak(server, session_id: str, text: str, **config):
    async def body():
        async with await WsClient.open(server.url) as client:
            return await run_session(client, session_id, [text], config)
    return run(body())


def decoded(log, indexer) -> str:
    samples = np.frombuffer(log.pcm(), dtype="<i2")
    return decode_samples(samples, log.sample_rate, indexer).raw_text


def spoken_in(text: str, lang: str) -> str:
    """The reference preprocessing (the same for every language but for the
    language tags), tagged with `lang`."""
    return spoken(text, "en").replace("<en>", f"<{lang}>").replace("</en>", f"</{lang}>")


def refusal(server, **config) -> dict:
    async def body():
        async with await WsClient.open(server.url) as client:
            await client.send(start_msg("refused", **config))
            return await client.expect_error("invalid_language")
    return run(body())


def test_profiles_are_detected_from_the_files_and_listed(both):
    models = {m["id"]: m for m in json.loads(http_get(both.http + "/v1/models")[1])["data"]}
    assert list(models) == ["alpha", "beta"]
    assert models["alpha"]["profile"] == "supertonic-2" and models["alpha"]["version"] == 2
    assert models["beta"]["profile"] == "supertonic-3" and models["beta"]["version"] == 3
    assert len(models["beta"]["languages"]) == 32 and models["beta"]["languages"][-1] == "na"
    for lang in ("de", "ja", "ru", "it", "vi", "na"):
        assert lang in models["beta"]["languages"]
    assert models["alpha"]["languages"] == ["en", "ko", "es", "pt", "fr"]
    log = both.log_tail(20000)
    assert "supertonic-3" in log and "8322" in log, "the detection and its evidence are logged"


@pytest.mark.parametrize("lang,text", [
    ("de", "Guten Tag, wie geht es Ihnen?"),
    ("it", "Buongiorno a tutti quanti."),
    ("vi", "Xin chào các bạn."),
    ("na", "Unknown language text."),
])
def test_v3_speaks_latin_script_languages_exactly(both, lang, text):
    log = speak(both, f"v3-{lang}", text, model="beta", lang_code=lang)
    assert log.started["model"] == "beta"
    assert decoded(log, V3_INDEXER) == spoken_in(text, lang)


@pytest.mark.parametrize("lang,text", [("ja", "こんにちは、元気ですか。"), ("ru", "Привет, как дела?")])
def test_v3_speaks_other_scripts_with_every_character(both, lang, text):
    log = speak(both, f"v3-{lang}", text, model="beta", lang_code=lang)
    expected = spoken_in(text, lang)
    heard = decoded(log, V3_INDEXER)
    assert len(heard) == len(expected), (heard, expected)
    assert heard.startswith(f"<{lang}>") and heard.endswith(f"</{lang}>")


def test_each_model_refuses_languages_it_does_not_speak_with_its_list(both):
    error = refusal(both, model="beta", lang_code="xx")
    assert_error(error, "invalid_language")
    assert "'xx'" in error["message"] and "vi" in error["message"] and "na" in error["message"], error
    error = refusal(both, model="alpha", lang_code="de")
    assert "'de'" in error["message"] and "en, ko, es, pt, fr" in error["message"], error


def test_expression_tags_reach_v3_and_never_v2(both):
    text = "That was funny <laugh> really."
    v3 = decoded(speak(both, "tags-v3", text, model="beta"), V3_INDEXER)
    v2 = decoded(speak(both, "tags-v2", text, model="alpha"), load_indexer(ensure_probe_model()))
    assert "<laugh>" in v3, v3
    assert "laugh" not in v2 and v2 == spoken("That was funny really.", "en"), v2


def test_each_model_runs_with_its_profiles_defaults(both):
    v3 = speak(both, "defaults-v3", "Hello.", model="beta")
    v2 = speak(both, "defaults-v2", "Hello.")
    assert v2.started["model"] == "alpha", "the first model is the default"
    assert v3.started["num_inference_steps"] == 8 and v2.started["num_inference_steps"] == 2
    assert v3.started["speed"] == pytest.approx(1.05) and v2.started["speed"] == pytest.approx(1.05)


def test_models_are_found_by_their_profile_name_too(both):
    log = speak(both, "by-profile", "Guten Tag.", model="supertonic-3", lang_code="de")
    assert log.started["model"] == "beta", "supertonic-3 finds the model that is one, whatever its name"


def test_text_that_nfkd_expands_past_one_model_pass_is_cut_and_spoken(both):
    """U+FDFA is one character and 18 model ids after NFKD: 60 of them fit the
    chunk limit but not one model pass (1000 ids); the service cuts such text
    further instead of failing the segment (and the batch it shares)."""
    log = speak(both, "expanding", "\ufdfa" * 60, model="beta", lang_code="ar", sample_rate=8000)
    assert len(log.completed()) >= 2
    heard = decoded(log, V3_INDEXER)
    assert heard.count("<ar>") == len(log.completed())
