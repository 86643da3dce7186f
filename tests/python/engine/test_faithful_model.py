"""The architecture-faithful random-weight model: interface, size, pipeline,
padding as published (a padded batch changes a short item until the engine
rewrites the pads) and vocoder causality, checked with onnxruntime."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from tools.models.faithful import (
    GRAPH_NAMES,
    SAMPLES_PER_FRAME,
    VOCODER_LEFT_CONTEXT_FRAMES,
    build_duration_predictor,
    build_faithful,
)

ort = pytest.importorskip("onnxruntime")

from tools.models.interface import B, F, I64, L, SIGNATURES, T  # noqa: F401


TOL = 1e-4
SPEED = 1.05


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("faithful")
    counts = build_faithful(model_dir, seed=0)
    return model_dir, counts


@pytest.fixture(scope="module")
def sessions(model):
    model_dir, _ = model
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    return {
        name: ort.InferenceSession(str(model_dir / "onnx" / f"{name}.onnx"), options,
                                   providers=["CPUExecutionProvider"])
        for name in GRAPH_NAMES
    }


@pytest.fixture(scope="module")
def voices(model):
    model_dir, _ = model

    def load(name):
        style = json.loads((model_dir / "voice_styles" / f"{name}.json").read_text())
        ttl = np.asarray(style["style_ttl"]["data"], np.float32).reshape(1, 50, 256)
        dp = np.asarray(style["style_dp"]["data"], np.float32).reshape(1, 8, 16)
        return ttl, dp

    return {name: load(name) for name in ("F1", "M2")}


def _dims(value_info):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value
            for d in value_info.type.tensor_type.shape.dim]


def _text_batch(lengths, rng, pad_to=None):
    width = pad_to or max(lengths)
    ids = np.zeros((len(lengths), width), np.int64)
    mask = np.zeros((len(lengths), 1, width), np.float32)
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.integers(0, 162, n)
        mask[b, 0, :n] = 1.0
    return ids, mask


def _latent_mask(lengths, width):
    mask = np.zeros((len(lengths), 1, width), np.float32)
    for b, n in enumerate(lengths):
        mask[b, 0, :n] = 1.0
    return mask


def test_directory_layout(model):
    model_dir, _ = model
    for name in GRAPH_NAMES:
        assert (model_dir / "onnx" / f"{name}.onnx").is_file()
    for name in ("tts.json", "unicode_indexer.json"):
        assert (model_dir / "onnx" / name).is_file()
    assert len(list((model_dir / "voice_styles").glob("*.json"))) == 10


@pytest.mark.parametrize("name", GRAPH_NAMES)
def test_signature(model, name):
    model_dir, _ = model
    proto = onnx.load(str(model_dir / "onnx" / f"{name}.onnx"))
    assert proto.ir_version == 9
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [19]
    assert not any(t.data_location == TensorProto.EXTERNAL for t in proto.graph.initializer)
    init_names = {t.name for t in proto.graph.initializer}
    graph_inputs = [i for i in proto.graph.input if i.name not in init_names]
    expected_inputs, expected_outputs = SIGNATURES[name]
    for actual, expected in ((graph_inputs, expected_inputs), (list(proto.graph.output), expected_outputs)):
        assert [v.name for v in actual] == [e[0] for e in expected]
        for value, (_, elem_type, dims) in zip(actual, expected):
            assert value.type.tensor_type.elem_type == elem_type, value.name
            actual_dims = _dims(value)
            assert len(actual_dims) == len(dims), value.name
            for got, want in zip(actual_dims, dims):
                if want is not None:
                    assert got == want, (value.name, actual_dims)


def test_parameter_count(model):
    model_dir, counts = model
    assert set(counts) == set(GRAPH_NAMES)
    total = sum(counts.values())
    assert abs(total - 66e6) <= 0.15 * 66e6, total
    # Per-graph sizes of the released model (docs/engine.md), loosely.
    for name, expected in (("duration_predictor", 0.34e6), ("text_encoder", 6.8e6),
                           ("vector_estimator", 33.0e6), ("vocoder", 25.3e6)):
        assert abs(counts[name] - expected) <= 0.1 * expected, (name, counts[name])
    size = sum((model_dir / "onnx" / f"{n}.onnx").stat().st_size for n in GRAPH_NAMES)
    assert 220e6 < size < 300e6


def test_seeded_weights_are_deterministic():
    first, _ = build_duration_predictor(np.random.default_rng(7))
    second, _ = build_duration_predictor(np.random.default_rng(7))
    assert first.SerializeToString() == second.SerializeToString()


def test_full_pipeline_two_items(sessions, voices):
    rng = np.random.default_rng(1)
    text_lengths = [40, 23]
    ids, text_mask = _text_batch(text_lengths, rng)
    ttl = np.concatenate([voices["F1"][0], voices["M2"][0]])
    dp = np.concatenate([voices["F1"][1], voices["M2"][1]])

    duration = sessions["duration_predictor"].run(
        None, {"text_ids": ids, "style_dp": dp, "text_mask": text_mask})[0]
    assert duration.shape == (2,) and np.isfinite(duration).all()
    per_char = duration / np.asarray(text_lengths)
    assert ((per_char >= 0.05 - 1e-6) & (per_char <= 0.12 + 1e-6)).all(), per_char

    text_emb = sessions["text_encoder"].run(
        None, {"text_ids": ids, "style_ttl": ttl, "text_mask": text_mask})[0]
    assert text_emb.shape == (2, 256, 40) and np.isfinite(text_emb).all()
    assert np.all(text_emb[1, :, 23:] == 0)

    wav_len = duration / SPEED * 44100
    frames = np.ceil(wav_len / SAMPLES_PER_FRAME).astype(int)
    latent_mask = _latent_mask(frames, frames.max())
    x = rng.standard_normal((2, 144, frames.max())).astype(np.float32) * latent_mask
    steps = 2
    for step in range(steps):
        x = sessions["vector_estimator"].run(None, {
            "noisy_latent": x, "text_emb": text_emb, "style_ttl": ttl, "latent_mask": latent_mask,
            "text_mask": text_mask, "current_step": np.full(2, step, np.float32),
            "total_step": np.full(2, steps, np.float32)})[0]
        assert x.shape == (2, 144, frames.max()) and np.isfinite(x).all()
    assert np.all(x[1, :, frames[1]:] == 0)
    assert 0.3 < x[0].std() < 10

    wav = sessions["vocoder"].run(None, {"latent": x})[0]
    assert wav.shape == (2, frames.max() * SAMPLES_PER_FRAME)
    assert np.isfinite(wav).all()
    assert np.abs(wav).max() < 1.0
    assert wav[0].std() > 1e-3


def _edge_pads(proto):
    """(pad node, the node producing its data input, whether its end is padded) per edge Pad."""
    producers = {out: node for node in proto.graph.node for out in node.output}
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    pads = []
    for node in proto.graph.node:
        mode = next((a.s.decode() for a in node.attribute if a.name == "mode"), "constant")
        if node.op_type == "Pad" and mode == "edge":
            amounts = inits[node.input[1]]
            pads.append((node, producers.get(node.input[0]), bool(amounts[len(amounts) // 2:].any())))
    return pads


@pytest.mark.parametrize("name,count", [("duration_predictor", 6), ("text_encoder", 6), ("vector_estimator", 28)])
def test_convnext_pads_as_published(model, name, count):
    """Each non-causal ConvNeXt: Pad(mode=edge) over the whole tensor of x * mask
    (docs/engine.md), the pattern the engine rewrites."""
    model_dir, _ = model
    pads = _edge_pads(onnx.load(str(model_dir / "onnx" / f"{name}.onnx")))
    assert len(pads) == count
    for node, producer, pads_end in pads:
        assert pads_end, node.name
        assert producer is not None and producer.op_type == "Mul", node.name
        assert any(i.endswith("mask") or "Concat" in i for i in producer.input), (node.name, list(producer.input))


def test_vocoder_pads_only_the_start(model):
    model_dir, _ = model
    pads = _edge_pads(onnx.load(str(model_dir / "onnx" / "vocoder.onnx")))
    assert pads and not any(pads_end for _, _, pads_end in pads)


def test_padded_batch_changes_a_short_item_as_published(sessions, voices):
    """What the published padding does, and the engine's rewrite undoes: a
    12-character item beside a 108-character one gets another text embedding
    and duration; the longest item of the batch is unaffected."""
    rng = np.random.default_rng(3)
    lengths = [12, 108]
    ids, mask = _text_batch(lengths, rng)
    ttl = np.concatenate([voices["F1"][0], voices["M2"][0]])
    dp = np.concatenate([voices["F1"][1], voices["M2"][1]])
    emb = sessions["text_encoder"].run(None, {"text_ids": ids, "style_ttl": ttl, "text_mask": mask})[0]
    dur = sessions["duration_predictor"].run(None, {"text_ids": ids, "style_dp": dp, "text_mask": mask})[0]
    alone = []
    for b, n in enumerate(lengths):
        feeds = {"text_ids": ids[b:b + 1, :n], "text_mask": mask[b:b + 1, :, :n]}
        alone.append((
            sessions["text_encoder"].run(None, {**feeds, "style_ttl": ttl[b:b + 1]})[0],
            sessions["duration_predictor"].run(None, {**feeds, "style_dp": dp[b:b + 1]})[0],
        ))
    assert np.abs(emb[0, :, :12] - alone[0][0][0]).max() > 0.1
    assert abs(dur[0] - alone[0][1][0]) / alone[0][1][0] > 1e-4
    np.testing.assert_allclose(emb[1], alone[1][0][0], rtol=0, atol=TOL)
    np.testing.assert_allclose(dur[1], alone[1][1][0], rtol=TOL, atol=TOL)


def test_vector_estimator_masks_padding_but_pads_as_published(sessions, voices):
    rng = np.random.default_rng(4)
    text_lengths, latent_lengths = [14, 29], [9, 17]
    _, text_mask = _text_batch(text_lengths, rng)
    latent_mask = _latent_mask(latent_lengths, 17)
    text_emb = rng.standard_normal((2, 256, 29)).astype(np.float32)
    noisy = rng.standard_normal((2, 144, 17)).astype(np.float32)
    ttl = np.concatenate([voices["F1"][0], voices["M2"][0]])
    feeds = {"noisy_latent": noisy, "text_emb": text_emb, "style_ttl": ttl,
             "latent_mask": latent_mask, "text_mask": text_mask,
             "current_step": np.array([0, 1], np.float32), "total_step": np.array([2, 2], np.float32)}
    run = sessions["vector_estimator"].run
    batched = run(None, feeds)[0]
    deviation = []
    for b in range(2):
        nt, nl = text_lengths[b], latent_lengths[b]
        alone = run(None, {
            "noisy_latent": noisy[b:b + 1, :, :nl], "text_emb": text_emb[b:b + 1, :, :nt],
            "style_ttl": ttl[b:b + 1], "latent_mask": latent_mask[b:b + 1, :, :nl],
            "text_mask": text_mask[b:b + 1, :, :nt], "current_step": feeds["current_step"][b:b + 1],
            "total_step": feeds["total_step"][b:b + 1]})[0]
        deviation.append(np.abs(batched[b, :, :nl] - alone[0]).max())
        assert np.all(batched[b, :, nl:] == 0)
    assert deviation[0] > 1e-2      # the short item hears the padding
    assert deviation[1] < TOL       # the longest does not


def test_vocoder_batch_equivalence(sessions):
    rng = np.random.default_rng(5)
    latent = rng.standard_normal((2, 144, 14)).astype(np.float32)
    run = sessions["vocoder"].run
    batched = run(None, {"latent": latent})[0]
    alone = run(None, {"latent": latent[:1, :, :6]})[0]
    np.testing.assert_allclose(batched[0, :6 * SAMPLES_PER_FRAME], alone[0], rtol=0, atol=TOL)
    alone = run(None, {"latent": latent[1:]})[0]
    np.testing.assert_allclose(batched[1], alone[0], rtol=0, atol=TOL)


def test_vocoder_is_causal_with_finite_receptive_field(sessions):
    rng = np.random.default_rng(6)
    frames, k = 40, 12
    latent = rng.standard_normal((1, 144, frames)).astype(np.float32)
    perturbed = latent.copy()
    perturbed[:, :, k] += rng.standard_normal(144).astype(np.float32)
    run = sessions["vocoder"].run
    base = run(None, {"latent": latent})[0][0]
    moved = run(None, {"latent": perturbed})[0][0]
    diff = np.abs(base - moved).reshape(frames, SAMPLES_PER_FRAME).max(axis=1)
    assert diff[:k].max() <= 1e-5                          # nothing before frame k changes
    assert diff[k] > 1e-3                                  # frame k itself does
    last = k + VOCODER_LEFT_CONTEXT_FRAMES                 # the receptive field is as stated
    assert diff[last] > 0
    assert diff[last + 1:].max() <= 1e-5
