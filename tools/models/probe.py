"""The probe model: a tiny, deterministic Supertonic 2 (or, with
``--version 3``, Supertonic 3) model directory whose audio encodes the text it
was given.

It has the published layout and the exact four-graph interface (the published interface:
input names, order, dtypes, ranks and the dynamic axes ``batch_size``,
``text_length``, ``latent_length``), so the engine runs it exactly as it runs
the real model; but what comes out can be decoded back into text with
``tools/probe_decode.py``:

* duration_predictor: ``duration[b] = sum(text_mask[b]) * CHAR_SECONDS``,
  i.e. every token (character) lasts 0.15 s before the engine's speed factor
  (``--char-seconds`` sets another duration: a second probe model that a test
  can tell apart from the first by its timing alone).
* text_encoder: channel 0 of ``text_emb`` is the token id (times the mask),
  every other channel is 0. Supertonic 3 (``--version 3``): the id goes through
  an embedding table of 8322 rows (a Gather, as in the real graphs, so the
  engine can tell the versions apart) that holds ``id % 176``: the tones tell
  176 ids apart. The v3 indexer (``tools/models/assets.py``) gives the
  characters of Latin-script text the ids below 176, so such text decodes
  exactly; other scripts decode to the right number and timing of characters.
* vector_estimator: ignores the noise. Latent frame ``l`` of item ``b`` is
  assigned to token ``idx(l) = min(floor(l*Tv/Lv), Tv-1)`` (Tv, Lv: the valid
  token and frame counts); channel 0 = that token's id, channel 1 = 1 on the
  first frame of each token ("a character starts here"), channel 2 = 1
  ("voiced"), all times ``latent_mask``; channels 3..143 are 0.
* vocoder: each latent frame becomes 3072 samples on its own (causal, frame by
  frame): a chord of two sines, amplitude 0.25 each, whose bins encode the id:
  ``k_lo = 21 + 6*(id % 16)`` and ``k_hi = 125 + 7*(id // 16)`` cycles per
  frame (``f = k*44100/3072`` Hz: 301-1594 Hz and 1794-2800 Hz), silenced for
  the first 512 samples (11.6 ms) of a frame that starts a character.

So a character sounds as a gap of 11.6 ms followed by a steady chord for the
rest of its ~0.15/speed seconds (whole latent frames of 69.66 ms).
``--char-seconds S`` changes the 0.15 s (e.g. 1.5 for runaway durations,
which the engine clamps).

``--style-tempo`` makes the voice audible: every duration is multiplied by
``1 + style_dp[b, 0, 0]`` (the voice's first duration-style value), so a
voice, an uploaded one or a blend of several, shows in the timing of its
audio (the published voices' values are near 0; a voice whose value is -1 or
less gives no audio). Text still decodes as without the flag.

``--lead-silence S`` and ``--trail-silence S`` add S seconds (before the
speed factor, like the characters) of digital silence before and after every
item's speech, as Supertonic 3 is reported to do (0.25-0.6 s before, 0.6-0.9 s
after): the duration predictor adds them to the duration, and the vector
estimator gives the first and last ``round(Lv * S / duration)`` latent frames
no token and channel 2 ("voiced") = 0, which the vocoder renders as silence.
The speech between them is as without the flags.

Usage (from the repository root)::

    python -m tools.models.probe --out models/probe
    python -m tools.models.probe --out /tmp/probe-silence --lead-silence 0.4 --trail-silence 0.7
    python -m tools.models.probe --version 3 --out models/probe-v3
    python -m tools.models.probe --out /tmp/probe-tempo --style-tempo
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.models.assets import V3_COMMON_IDS, V3_NUM_TEXT_IDS, write_assets  # noqa: E402

CHAR_SECONDS = 0.15
SAMPLE_RATE = 44100
FRAME_SAMPLES = 3072            # base_chunk_size 512 * chunk_compress_factor 6
GAP_SAMPLES = 512               # silent start of a character's first frame
LATENT_CHANNELS = 144           # latent_dim 24 * chunk_compress_factor 6
TEXT_EMB_CHANNELS = 256
TONE_AMPLITUDE = 0.25
LO_BINS = [21 + 6 * i for i in range(16)]      # id % 16
HI_BINS = [125 + 7 * i for i in range(11)]     # id // 16 (ids 0..175)
MAX_ID = 16 * len(HI_BINS) - 1

OPSET = 17
IR_VERSION = 9

B, T, L = "batch_size", "text_length", "latent_length"


def _value_info(name: str, elem_type: int, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


def _const(name: str, value, dtype=np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def _save(graph: onnx.GraphProto, path: Path, char_seconds: float = CHAR_SECONDS,
          props: dict[str, str] | None = None) -> None:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="supertonic-probe",
        doc_string="Probe model: audio encodes the text (see tools/models/probe.py).",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"probe": "1", "char_seconds": str(char_seconds), **(props or {})})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def _text_inputs() -> list:
    return [_value_info("text_ids", TensorProto.INT64, [B, T])]


def duration_predictor_graph(char_seconds: float = CHAR_SECONDS, silence_s: float = 0.0,
                             style_tempo: bool = False) -> onnx.GraphProto:
    """``silence_s``: leading plus trailing silence, added to every duration.
    ``style_tempo``: the duration times ``1 + style_dp[b, 0, 0]``."""
    plain = "duration" if not style_tempo else "plain_duration"
    nodes = [
        helper.make_node("ReduceSum", ["text_mask", "axes_12"], ["n_tokens"], keepdims=0),
        helper.make_node("Mul", ["n_tokens", "char_seconds"], ["speech_s" if silence_s else plain]),
    ]
    initializer = [
        _const("axes_12", [1, 2], np.int64),
        _const("char_seconds", char_seconds),
    ]
    if silence_s:
        nodes.append(helper.make_node("Add", ["speech_s", "silence_s"], [plain]))
        initializer.append(_const("silence_s", silence_s))
    if style_tempo:
        nodes += [
            helper.make_node("Slice", ["style_dp", "tempo_starts", "tempo_ends", "tempo_axes"], ["dp_000"]),  # [B,1,1]
            helper.make_node("Reshape", ["dp_000", "tempo_shape"], ["dp_b"]),                                 # [B]
            helper.make_node("Add", ["dp_b", "tempo_one"], ["tempo"]),
            helper.make_node("Mul", [plain, "tempo"], ["duration"]),
        ]
        initializer += [
            _const("tempo_starts", [0, 0], np.int64),
            _const("tempo_ends", [1, 1], np.int64),
            _const("tempo_axes", [1, 2], np.int64),
            _const("tempo_shape", [-1], np.int64),
            _const("tempo_one", 1.0),
        ]
    return helper.make_graph(
        nodes,
        "duration_predictor",
        _text_inputs()
        + [
            _value_info("style_dp", TensorProto.FLOAT, [B, 8, 16]),
            _value_info("text_mask", TensorProto.FLOAT, [B, 1, T]),
        ],
        [_value_info("duration", TensorProto.FLOAT, [B])],
        initializer=initializer,
    )


def v3_embedding_table() -> np.ndarray:
    """[8322, 1]: row id holds id % 176, the id the tones can carry."""
    return (np.arange(V3_NUM_TEXT_IDS) % V3_COMMON_IDS).astype(np.float32)[:, None]


def text_encoder_graph(fail_above_tokens: int | None = None, version: int = 2) -> onnx.GraphProto:
    """With ``fail_above_tokens``, running it on more tokens fails inside ONNX
    Runtime (a Gather past the end of a table): a model that loads, warms up
    and speaks short text, for testing how inference failures reach clients."""
    emb = "text_emb" if fail_above_tokens is None else "text_emb_ok"
    if version == 3:
        nodes = [
            helper.make_node("Gather", ["char_embedder.weight", "text_ids"], ["ids_embedded"], axis=0),  # [B,T,1]
            helper.make_node("Transpose", ["ids_embedded"], ["ids_3d"], perm=[0, 2, 1]),
        ]
        initializer = [numpy_helper.from_array(v3_embedding_table(), "char_embedder.weight")]
    else:
        nodes = [
            helper.make_node("Cast", ["text_ids"], ["ids_f"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["ids_f", "axis_1"], ["ids_3d"]),
        ]
        initializer = [_const("axis_1", [1], np.int64)]
    nodes += [
        helper.make_node("Mul", ["ids_3d", "text_mask"], ["ids_masked"]),
        helper.make_node("Pad", ["ids_masked", "pads"], [emb], mode="constant"),
    ]
    initializer.append(_const("pads", [0, 0, 0, 0, TEXT_EMB_CHANNELS - 1, 0], np.int64))
    if fail_above_tokens is not None:
        nodes += [
            helper.make_node("Shape", ["text_ids"], ["ids_shape"]),
            helper.make_node("Gather", ["ids_shape", "one"], ["n_tokens"], axis=0),
            helper.make_node("Gather", ["zeros_upto_limit", "n_tokens"], ["zero"], axis=0),
            helper.make_node("Add", [emb, "zero"], ["text_emb"]),
        ]
        initializer += [
            _const("one", 1, np.int64),
            _const("zeros_upto_limit", np.zeros(fail_above_tokens + 1)),
        ]
    return helper.make_graph(
        nodes,
        "text_encoder",
        _text_inputs()
        + [
            _value_info("style_ttl", TensorProto.FLOAT, [B, 50, 256]),
            _value_info("text_mask", TensorProto.FLOAT, [B, 1, T]),
        ],
        [_value_info("text_emb", TensorProto.FLOAT, [B, TEXT_EMB_CHANNELS, T])],
        initializer=initializer,
    )


def _latent_from_token_nodes(n) -> list:
    """The vector estimator's last nodes: each frame's token id (channel 0 of
    text_emb at idx), its start flag and voicing, masked, zero-padded to 144."""
    return [
        # Gather, not Slice: OpenVINO 2026.4 drops this Slice on dynamic shapes and then rejects the
        # GatherElements (the engine's openvino backend runs the probe model too).
        n("Gather", ["text_emb", "zero_1"], ["emb_ids"], axis=1),
        n("Cast", ["idx"], ["idx_i"], to=TensorProto.INT64),
        n("GatherElements", ["emb_ids", "idx_i"], ["frame_ids"], axis=2),
        n("Concat", ["frame_ids", "starts_f", "voiced"], ["head_raw"], axis=1),
        n("Mul", ["head_raw", "latent_mask"], ["head"]),
        n("Pad", ["head", "pads"], ["denoised_latent"], mode="constant"),
    ]


def _vector_estimator_inputs() -> list:
    return [
        _value_info("noisy_latent", TensorProto.FLOAT, [B, LATENT_CHANNELS, L]),
        _value_info("text_emb", TensorProto.FLOAT, [B, TEXT_EMB_CHANNELS, T]),
        _value_info("style_ttl", TensorProto.FLOAT, [B, 50, 256]),
        _value_info("latent_mask", TensorProto.FLOAT, [B, 1, L]),
        _value_info("text_mask", TensorProto.FLOAT, [B, 1, T]),
        _value_info("current_step", TensorProto.FLOAT, [B]),
        _value_info("total_step", TensorProto.FLOAT, [B]),
    ]


def vector_estimator_graph(lead_s: float = 0.0, trail_s: float = 0.0, char_seconds: float = CHAR_SECONDS) -> onnx.GraphProto:
    """With ``lead_s``/``trail_s`` (seconds before the speed factor), the first
    and last ``round(Lv * s / duration)`` frames of each item are silent and the
    tokens share the frames between them as they share all frames without."""
    if lead_s or trail_s:
        return _vector_estimator_with_silence(lead_s, trail_s, char_seconds)
    n = helper.make_node
    nodes = [
        # Valid token / frame counts per item, [B,1,1], guarded against zero.
        n("ReduceSum", ["text_mask", "axes_2"], ["tv"], keepdims=1),
        n("ReduceSum", ["latent_mask", "axes_2"], ["lv"], keepdims=1),
        n("Max", ["lv", "one"], ["lv_safe"]),
        n("Sub", ["tv", "one"], ["tv_m1_raw"]),
        n("Max", ["tv_m1_raw", "zero"], ["tv_m1"]),
        # Frame positions l = 0..L-1 as [1,1,L].
        n("Shape", ["latent_mask"], ["lm_shape"]),
        n("Gather", ["lm_shape", "idx_2"], ["l_count"], axis=0),
        n("Range", ["zero_i", "l_count", "one_i"], ["l_range"]),
        n("Cast", ["l_range"], ["l_f"], to=TensorProto.FLOAT),
        n("Reshape", ["l_f", "shape_11m1"], ["l_pos"]),
        n("Sub", ["l_pos", "one"], ["l_prev"]),
        # idx(l) = min(floor(l*Tv/Lv), Tv-1); (l*Tv)/Lv is exact at integers.
        n("Mul", ["l_pos", "tv"], ["l_tv"]),
        n("Div", ["l_tv", "lv_safe"], ["q"]),
        n("Floor", ["q"], ["q_floor"]),
        n("Min", ["q_floor", "tv_m1"], ["idx"]),
        n("Mul", ["l_prev", "tv"], ["lp_tv"]),
        n("Div", ["lp_tv", "lv_safe"], ["qp"]),
        n("Floor", ["qp"], ["qp_floor"]),
        n("Min", ["qp_floor", "tv_m1"], ["idx_prev"]),
        # Start flag: first frame, or a frame whose token differs from the previous one.
        n("Equal", ["idx", "idx_prev"], ["same_token"]),
        n("Not", ["same_token"], ["new_token"]),
        n("Equal", ["l_pos", "zero"], ["first_frame"]),
        n("Or", ["new_token", "first_frame"], ["starts"]),
        n("Cast", ["starts"], ["starts_f"], to=TensorProto.FLOAT),
        # Channel 2 ("voiced"): ones of shape [B,1,L] (Concat does not broadcast).
        n("Mul", ["latent_mask", "zero"], ["lm_zero"]),
        n("Add", ["lm_zero", "one"], ["voiced"]),
        # Channel 0: the token id at idx(l).
    ] + _latent_from_token_nodes(n)
    inputs = _vector_estimator_inputs()
    return helper.make_graph(
        nodes,
        "vector_estimator",
        inputs,
        [_value_info("denoised_latent", TensorProto.FLOAT, [B, LATENT_CHANNELS, L])],
        initializer=[
            _const("axes_2", [2], np.int64),
            _const("one", 1.0),
            _const("zero", 0.0),
            _const("idx_2", 2, np.int64),
            _const("zero_i", 0, np.int64),
            _const("one_i", 1, np.int64),
            _const("shape_11m1", [1, 1, -1], np.int64),
            _const("zero_1", [0], np.int64),
            _const("one_1", [1], np.int64),
            _const("axis_1", [1], np.int64),
            _const("pads", [0, 0, 0, 0, LATENT_CHANNELS - 3, 0], np.int64),
        ],
    )


def _vector_estimator_with_silence(lead_s: float, trail_s: float, char_seconds: float) -> onnx.GraphProto:
    n = helper.make_node
    nodes = [
        n("ReduceSum", ["text_mask", "axes_2"], ["tv"], keepdims=1),
        n("ReduceSum", ["latent_mask", "axes_2"], ["lv"], keepdims=1),
        n("Sub", ["tv", "one"], ["tv_m1_raw"]),
        n("Max", ["tv_m1_raw", "zero"], ["tv_m1"]),
        # Silent frames at each end: round(Lv * s / (Tv * CHAR_SECONDS + lead + trail)),
        # the share of the duration the duration predictor gave the silence.
        n("Mul", ["tv", "char_seconds"], ["speech_s"]),
        n("Add", ["speech_s", "silence_s"], ["total_s"]),
        n("Div", ["lv", "total_s"], ["frames_per_s"]),
        n("Mul", ["frames_per_s", "lead_s"], ["lead_raw"]),
        n("Add", ["lead_raw", "half"], ["lead_half"]),
        n("Floor", ["lead_half"], ["lead_frames"]),
        n("Mul", ["frames_per_s", "trail_s"], ["trail_raw"]),
        n("Add", ["trail_raw", "half"], ["trail_half"]),
        n("Floor", ["trail_half"], ["trail_frames"]),
        n("Sub", ["lv", "lead_frames"], ["lv_lead"]),
        n("Sub", ["lv_lead", "trail_frames"], ["ls"]),  # speech frames
        n("Max", ["ls", "one"], ["ls_safe"]),
        # Speech positions p = l - lead_frames, as [B,1,L].
        n("Shape", ["latent_mask"], ["lm_shape"]),
        n("Gather", ["lm_shape", "idx_2"], ["l_count"], axis=0),
        n("Range", ["zero_i", "l_count", "one_i"], ["l_range"]),
        n("Cast", ["l_range"], ["l_f"], to=TensorProto.FLOAT),
        n("Reshape", ["l_f", "shape_11m1"], ["l_pos"]),
        n("Sub", ["l_pos", "lead_frames"], ["p_pos"]),
        n("Sub", ["p_pos", "one"], ["p_prev"]),
        # idx(p) = min(floor(p*Tv/Ls), Tv-1), clamped at 0 in the leading silence.
        n("Mul", ["p_pos", "tv"], ["p_tv"]),
        n("Div", ["p_tv", "ls_safe"], ["q"]),
        n("Floor", ["q"], ["q_floor"]),
        n("Min", ["q_floor", "tv_m1"], ["idx_hi"]),
        n("Max", ["idx_hi", "zero"], ["idx"]),
        n("Mul", ["p_prev", "tv"], ["pp_tv"]),
        n("Div", ["pp_tv", "ls_safe"], ["qp"]),
        n("Floor", ["qp"], ["qp_floor"]),
        n("Min", ["qp_floor", "tv_m1"], ["idx_prev_hi"]),
        n("Max", ["idx_prev_hi", "zero"], ["idx_prev"]),
        # Voiced: 0 <= p < Ls.
        n("GreaterOrEqual", ["p_pos", "zero"], ["after_lead"]),
        n("Less", ["p_pos", "ls"], ["before_trail"]),
        n("And", ["after_lead", "before_trail"], ["in_speech"]),
        n("Cast", ["in_speech"], ["in_speech_f"], to=TensorProto.FLOAT),
        n("Mul", ["latent_mask", "zero"], ["lm_zero"]),
        n("Add", ["lm_zero", "in_speech_f"], ["voiced"]),  # [B,1,L]
        # Start flag: the first speech frame, or a frame whose token differs from the previous one.
        n("Equal", ["idx", "idx_prev"], ["same_token"]),
        n("Not", ["same_token"], ["new_token"]),
        n("Equal", ["p_pos", "zero"], ["first_frame"]),
        n("Or", ["new_token", "first_frame"], ["starts"]),
        n("Cast", ["starts"], ["starts_raw"], to=TensorProto.FLOAT),
        n("Mul", ["starts_raw", "voiced"], ["starts_f"]),
    ] + _latent_from_token_nodes(n)
    inputs = _vector_estimator_inputs()
    return helper.make_graph(
        nodes,
        "vector_estimator",
        inputs,
        [_value_info("denoised_latent", TensorProto.FLOAT, [B, LATENT_CHANNELS, L])],
        initializer=[
            _const("axes_2", [2], np.int64),
            _const("one", 1.0),
            _const("zero", 0.0),
            _const("half", 0.5),
            _const("char_seconds", char_seconds),
            _const("silence_s", lead_s + trail_s),
            _const("lead_s", lead_s),
            _const("trail_s", trail_s),
            _const("idx_2", 2, np.int64),
            _const("zero_i", 0, np.int64),
            _const("one_i", 1, np.int64),
            _const("shape_11m1", [1, 1, -1], np.int64),
            _const("zero_1", [0], np.int64),
            _const("one_1", [1], np.int64),
            _const("axis_1", [1], np.int64),
            _const("pads", [0, 0, 0, 0, LATENT_CHANNELS - 3, 0], np.int64),
        ],
    )


def tone_tables() -> tuple[np.ndarray, np.ndarray]:
    """One frame (3072 samples) of each low-group and high-group sine."""
    n = np.arange(FRAME_SAMPLES, dtype=np.int64)

    def table(bins: list[int]) -> np.ndarray:
        phase = (np.asarray(bins, dtype=np.int64)[:, None] * n[None, :]) % FRAME_SAMPLES
        return (TONE_AMPLITUDE * np.sin(2.0 * np.pi * phase / FRAME_SAMPLES)).astype(np.float32)

    return table(LO_BINS), table(HI_BINS)


def vocoder_graph(causal: bool = True) -> onnx.GraphProto:
    """The tone renderer. causal=False adds a whole-utterance loudness term (a
    later frame then changes earlier samples) to test that the engine detects a
    non-causal vocoder and falls back to one full run."""
    lo_table, hi_table = tone_tables()
    gate_mask = np.zeros(FRAME_SAMPLES, dtype=np.float32)
    gate_mask[:GAP_SAMPLES] = 1.0
    n = helper.make_node
    nodes = [
        n("Slice", ["latent", "c0", "c1", "axis_1"], ["ch0"]),
        n("Slice", ["latent", "c1", "c2", "axis_1"], ["ch1"]),
        n("Slice", ["latent", "c2", "c3", "axis_1"], ["ch2"]),
        n("Squeeze", ["ch0", "axis_1"], ["id_raw"]),          # [B,L]
        n("Squeeze", ["ch1", "axis_1"], ["flag_raw"]),
        n("Squeeze", ["ch2", "axis_1"], ["voiced"]),
        # id = round(ch0) clipped to the encodable range 0..175.
        n("Round", ["id_raw"], ["id_round"]),
        n("Clip", ["id_round", "zero", "max_id"], ["id_f"]),
        n("Mod", ["id_f", "sixteen"], ["lo_f"], fmod=1),
        n("Div", ["id_f", "sixteen"], ["hi_div"]),
        n("Floor", ["hi_div"], ["hi_f"]),
        n("Cast", ["lo_f"], ["lo"], to=TensorProto.INT64),
        n("Cast", ["hi_f"], ["hi"], to=TensorProto.INT64),
        n("Gather", ["lo_table", "lo"], ["tone_lo"], axis=0),  # [B,L,3072]
        n("Gather", ["hi_table", "hi"], ["tone_hi"], axis=0),
        n("Add", ["tone_lo", "tone_hi"], ["chord"]),
        # gate(n) = 0 for n < 512 on a frame that starts a character.
        n("Greater", ["flag_raw", "half"], ["flag_b"]),
        n("Cast", ["flag_b"], ["flag"], to=TensorProto.FLOAT),
        n("Unsqueeze", ["flag", "axis_2"], ["flag_3d"]),       # [B,L,1]
        n("Mul", ["flag_3d", "gate_mask"], ["gate_off"]),
        n("Sub", ["one", "gate_off"], ["gate"]),
        n("Unsqueeze", ["voiced", "axis_2"], ["voiced_3d"]),
        n("Mul", ["chord", "gate"], ["gated"]),
        n("Mul", ["gated", "voiced_3d"], ["frames_causal"] if not causal else ["frames"]),
        *([] if causal else [
            n("ReduceMean", ["voiced"], ["id_mean"], axes=[1], keepdims=1),        # [B,1]
            n("Unsqueeze", ["id_mean", "axis_2"], ["id_mean_3d"]),               # [B,1,1]
            n("Mul", ["id_mean_3d", "loudness_step"], ["loudness_delta"]),
            n("Add", ["one", "loudness_delta"], ["loudness"]),
            n("Mul", ["frames_causal", "loudness"], ["frames"]),
        ]),
        # [B,L,3072] -> [B, L*3072]
        n("Shape", ["latent"], ["lat_shape"]),
        n("Slice", ["lat_shape", "c0", "c1", "axis_0"], ["b_dim"]),
        n("Slice", ["lat_shape", "c2", "c3", "axis_0"], ["l_dim"]),
        n("Mul", ["l_dim", "frame_len"], ["wav_dim"]),
        n("Concat", ["b_dim", "wav_dim"], ["out_shape"], axis=0),
        n("Reshape", ["frames", "out_shape"], ["wav_tts"]),
    ]
    return helper.make_graph(
        nodes,
        "vocoder",
        [_value_info("latent", TensorProto.FLOAT, [B, LATENT_CHANNELS, L])],
        [_value_info("wav_tts", TensorProto.FLOAT, [B, "wav_length"])],
        initializer=[
            _const("c0", [0], np.int64),
            _const("c1", [1], np.int64),
            _const("c2", [2], np.int64),
            _const("c3", [3], np.int64),
            _const("axis_0", [0], np.int64),
            _const("axis_1", [1], np.int64),
            _const("axis_2", [2], np.int64),
            _const("zero", 0.0),
            _const("one", 1.0),
            _const("half", 0.5),
            *([] if causal else [_const("loudness_step", 0.05)]),
            _const("sixteen", 16.0),
            _const("max_id", float(MAX_ID)),
            _const("frame_len", [FRAME_SAMPLES], np.int64),
            numpy_helper.from_array(lo_table, "lo_table"),
            numpy_helper.from_array(hi_table, "hi_table"),
            numpy_helper.from_array(gate_mask, "gate_mask"),
        ],
    )


def build_probe(model_dir: Path, causal_vocoder: bool = True, fail_above_tokens: int | None = None,
                version: int = 2, char_seconds: float = CHAR_SECONDS,
                lead_silence: float = 0.0, trail_silence: float = 0.0, style_tempo: bool = False) -> None:
    """Writes the probe model directory (four graphs, tts.json, indexer, voices)."""
    if not char_seconds > 0:
        raise ValueError(f"char_seconds must be > 0, got {char_seconds}")
    if not (0.0 <= lead_silence <= 10.0 and 0.0 <= trail_silence <= 10.0):
        raise ValueError(f"silences must be 0..10 s, got {lead_silence} and {trail_silence}")
    model_dir = Path(model_dir)
    write_assets(model_dir, version)
    onnx_dir = model_dir / "onnx"
    props = {"lead_silence_s": str(lead_silence), "trail_silence_s": str(trail_silence)} \
        if lead_silence or trail_silence else None
    if style_tempo:
        props = {**(props or {}), "style_tempo": "1"}
    _save(duration_predictor_graph(char_seconds, lead_silence + trail_silence, style_tempo),
          onnx_dir / "duration_predictor.onnx", char_seconds, props)
    _save(text_encoder_graph(fail_above_tokens, version), onnx_dir / "text_encoder.onnx", char_seconds, props)
    _save(vector_estimator_graph(lead_silence, trail_silence, char_seconds), onnx_dir / "vector_estimator.onnx", char_seconds, props)
    _save(vocoder_graph(causal_vocoder), onnx_dir / "vocoder.onnx", char_seconds, props)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("models/probe"), help="model directory to write")
    parser.add_argument("--non-causal-vocoder", action="store_true",
                        help="make the vocoder non-causal (tests the engine's fallback to one full run)")
    parser.add_argument("--fail-above-tokens", type=int, metavar="N",
                        help="make inference fail for texts of more than N tokens (tests error reporting)")
    parser.add_argument("--version", type=int, choices=(2, 3), default=2,
                        help="the Supertonic interface to mimic: 2 (163 text ids) or 3 (8322 text ids, its languages)")
    parser.add_argument("--char-seconds", type=float, default=CHAR_SECONDS, metavar="S",
                        help=f"predicted seconds per text id (default {CHAR_SECONDS}; e.g. 1.5 for runaway durations)")
    parser.add_argument("--lead-silence", type=float, default=0.0, metavar="S",
                        help="seconds of silence before every item's speech (at speed 1), 0..10")
    parser.add_argument("--trail-silence", type=float, default=0.0, metavar="S",
                        help="seconds of silence after every item's speech (at speed 1), 0..10")
    parser.add_argument("--style-tempo", action="store_true",
                        help="durations times 1 + style_dp[b,0,0]: the voice shows in the audio's timing")
    args = parser.parse_args(argv)
    if not args.char_seconds > 0:
        parser.error("--char-seconds must be > 0")
    for name in ("lead_silence", "trail_silence"):
        if not 0.0 <= getattr(args, name) <= 10.0:
            parser.error(f"--{name.replace('_', '-')} must be 0..10 seconds")
    build_probe(args.out, causal_vocoder=not args.non_causal_vocoder, fail_above_tokens=args.fail_above_tokens,
                version=args.version, char_seconds=args.char_seconds,
                lead_silence=args.lead_silence, trail_silence=args.trail_silence, style_tempo=args.style_tempo)
    print(f"probe model (Supertonic {args.version}) written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
