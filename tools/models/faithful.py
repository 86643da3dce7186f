"""Architecture-faithful random-weight Supertonic 2 model.

Writes the four ONNX graphs with the published interface (names, dtypes,
ranks, input order, dynamic axes, opset 19, IR 9) and the published layer
structure and sizes (see docs/engine.md), filled with
seeded random weights: about 65.7M parameters, about 263 MB of ONNX. Compute
per call is close to the real model's, so it is the stand-in for benchmarks
and for engine tests that need realistic shapes and costs.

Padding as the published graphs do it (docs/engine.md; the shared block:
ConvNeXt", its padding paragraph): each non-causal ConvNeXt multiplies its input
by the mask and then pads it with ``Pad(mode="edge")`` over the whole tensor.
In a padded batch a shorter item therefore sees zeros past its end where,
alone, it sees copies of its own last frame, so its outputs change with its
batch mates, exactly the defect the engine must remove at load (it rewrites
these pads: ``src/engine/graph_padding.h``). Tests of "batched == alone" on this
model test that rewrite, not a property the generator built in.

Deliberate differences from the released graphs (all keep the compute):

* Rotary positions of the text cross-attention are scaled by each item's
  valid length (the published one is described as "scaled to each sequence's
  length").
* Duration predictor: the head predicts seconds per character, ``exp`` of it
  clipped to [0.05, 0.12] s, times the item's character count; with random
  weights that gives plausible audio lengths (~0.07 s per character).
* Attention: VITS-style relative-position self-attention (window 4) and plain
  masked scaled dot-product cross-attention; the text cross-attention uses a
  length-normalised rotary encoding.

The vocoder is strictly causal (every convolution is padded on the left only,
no normalisation across time); its receptive field is
``VOCODER_RECEPTIVE_FIELD_SUBFRAMES`` sub-frames (116 = 19.3 latent frames), so
the samples of latent frame k depend on latent frames k-20 .. k only.

Run from the repository root:  python -m tools.models.faithful --out models/faithful
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tools.models.assets import NUM_TEXT_IDS, write_assets

OPSET = 19
IR_VERSION = 9

LATENT_CHANNELS = 144          # 24 AE channels x 6 compressed sub-frames
AE_CHANNELS = 24
COMPRESS = 6
SAMPLES_PER_SUBFRAME = 512
SAMPLES_PER_FRAME = SAMPLES_PER_SUBFRAME * COMPRESS   # 3072
STYLE_TOKENS = 50
STYLE_DIM = 256

# Vocoder layout, needed for the receptive field.
VOC_STEM_K = 7
VOC_K = 7
VOC_DILATIONS = (1, 2, 4, 1, 2, 4, 1, 1, 1, 1)
VOC_HEAD_K = 3
VOCODER_RECEPTIVE_FIELD_SUBFRAMES = (
    (VOC_STEM_K - 1) + sum((VOC_K - 1) * d for d in VOC_DILATIONS) + (VOC_HEAD_K - 1)
)
# Latent frames of left context that still influence a frame's samples.
VOCODER_LEFT_CONTEXT_FRAMES = math.ceil(VOCODER_RECEPTIVE_FIELD_SUBFRAMES / COMPRESS)

GRAPH_NAMES = ("duration_predictor", "text_encoder", "vector_estimator", "vocoder")

_MASK_NEG = 1.0e4   # added to masked attention logits: exp underflows to exactly 0


class GraphBuilder:
    """Collects nodes and initializers of one graph; counts learned parameters."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.num_params = 0
        self._counter = 0
        self._consts: dict[tuple, str] = {}

    # -- tensors ---------------------------------------------------------
    def param(self, name: str, array: np.ndarray) -> str:
        array = np.ascontiguousarray(array, dtype=np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        self.num_params += array.size
        return name

    def normal(self, name: str, shape, std: float, mean: float = 0.0) -> str:
        values = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
        if mean:
            values += np.float32(mean)
        return self.param(name, values)

    def uniform(self, name: str, shape, low: float, high: float) -> str:
        return self.param(name, self.rng.uniform(low, high, shape).astype(np.float32))

    def const(self, value, dtype=np.float32) -> str:
        """A non-learned constant (shapes, axes, scalars), shared by value."""
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._consts:
            name = f"const_{len(self._consts)}"
            self.initializers.append(numpy_helper.from_array(array, name))
            self._consts[key] = name
        return self._consts[key]

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64)

    # -- nodes -----------------------------------------------------------
    def op(self, op_type: str, *inputs: str, outputs: int | list[str] = 1, **attrs):
        self._counter += 1
        if isinstance(outputs, int):
            out_names = [f"{op_type}_{self._counter}_{i}" for i in range(outputs)]
        else:
            out_names = list(outputs)
        self.nodes.append(
            helper.make_node(op_type, list(inputs), out_names, name=f"{op_type}_{self._counter}", **attrs)
        )
        return out_names[0] if len(out_names) == 1 else out_names

    def model(self, name: str, inputs, outputs) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, initializer=self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="supertonic-faithful-generator",
        )
        model.ir_version = IR_VERSION
        return model


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------

class SequenceMask:
    """Per-graph helpers derived once from a [B,1,T] float mask."""

    def __init__(self, g: GraphBuilder, mask: str):
        self.mask = mask
        # Additive key bias for attention: [B,1,1,T], 0 valid, -1e4 padded.
        bias = g.op("Mul", g.op("Sub", mask, g.const(1.0)), g.const(_MASK_NEG))
        self.key_bias = g.op("Unsqueeze", bias, g.ints(1))
        self.length = g.op("ReduceSum", mask, g.ints(1, 2), keepdims=0)          # [B]
        self.size = g.op("Squeeze", g.op("Shape", mask, start=2, end=3), g.ints(0))  # scalar int64
        self._positions = None

    def positions(self, g: GraphBuilder) -> str:
        """int64 [T] 0..T-1."""
        if self._positions is None:
            self._positions = g.op("Range", g.const(0, np.int64), self.size, g.const(1, np.int64))
        return self._positions


def gelu(g: GraphBuilder, x: str) -> str:
    """Exact GELU in the form PyTorch exports (ORT fuses it into one Gelu)."""
    e = g.op("Erf", g.op("Div", x, g.const(math.sqrt(2.0))))
    return g.op("Mul", g.op("Mul", x, g.op("Add", e, g.const(1.0))), g.const(0.5))


def layer_norm_channels(g: GraphBuilder, x: str, prefix: str, channels: int) -> str:
    """LayerNorm over C of a [B,C,T] tensor."""
    y = g.op("Transpose", x, perm=[0, 2, 1])
    y = layer_norm_last(g, y, prefix, channels)
    return g.op("Transpose", y, perm=[0, 2, 1])


def layer_norm_last(g: GraphBuilder, x: str, prefix: str, channels: int, eps: float = 1e-6) -> str:
    scale = g.normal(f"{prefix}.weight", [channels], 0.05, mean=1.0)
    bias = g.normal(f"{prefix}.bias", [channels], 0.02)
    return g.op("LayerNormalization", x, scale, bias, axis=-1, epsilon=eps)


def conv1x1(g: GraphBuilder, x: str, prefix: str, cin: int, cout: int, bias: bool = True,
            gain: float = 1.0) -> str:
    w = g.normal(f"{prefix}.weight", [cout, cin, 1], gain / math.sqrt(cin))
    if bias:
        return g.op("Conv", x, w, g.normal(f"{prefix}.bias", [cout], 0.02))
    return g.op("Conv", x, w)


def linear(g: GraphBuilder, x: str, prefix: str, cin: int, cout: int, bias: bool = True,
           gain: float = 1.0) -> str:
    """x [..., cin] @ W [cin, cout] (+ b)."""
    y = g.op("MatMul", x, g.normal(f"{prefix}.weight", [cin, cout], gain / math.sqrt(cin)))
    if bias:
        y = g.op("Add", y, g.normal(f"{prefix}.bias", [cout], 0.02))
    return y


def convnext(g: GraphBuilder, x: str, prefix: str, channels: int, kernel: int, inner: int,
             dilation: int = 1, mask: SequenceMask | None = None, causal: bool = False) -> str:
    """ConvNeXt-1D: pad, depthwise conv, LayerNorm(C), 1x1 up, GELU, 1x1 down,
    gamma, residual, mask. ``causal``: left replicate padding only (no mask)."""
    span = dilation * (kernel - 1)
    if causal:
        padded = g.op("Pad", x, g.ints(0, 0, span, 0, 0, 0), mode="edge")
    else:
        # As published: the masked input, edge-padded at both ends of the whole
        # tensor, so past a short item's end the edge copied is the batch's zeros.
        masked = g.op("Mul", x, mask.mask) if mask is not None else x
        half = span // 2
        padded = g.op("Pad", masked, g.ints(0, 0, half, 0, 0, span - half), mode="edge")
    y = g.op(
        "Conv", padded,
        g.normal(f"{prefix}.dwconv.weight", [channels, 1, kernel], 1.0 / math.sqrt(kernel)),
        g.normal(f"{prefix}.dwconv.bias", [channels], 0.02),
        group=channels, kernel_shape=[kernel], dilations=[dilation],
    )
    y = layer_norm_channels(g, y, f"{prefix}.norm", channels)
    y = gelu(g, conv1x1(g, y, f"{prefix}.pwconv1", channels, inner))
    y = conv1x1(g, y, f"{prefix}.pwconv2", inner, channels)
    y = g.op("Mul", g.uniform(f"{prefix}.gamma", [1, channels, 1], 0.1, 0.3), y)
    out = g.op("Add", x, y)
    if mask is not None:
        out = g.op("Mul", out, mask.mask)
    return out


def convnext_stack(g, x, prefix, channels, kernel, inner, dilations, mask=None, causal=False):
    for i, d in enumerate(dilations):
        x = convnext(g, x, f"{prefix}.{i}", channels, kernel, inner, d, mask, causal)
    return x


def split_heads(g: GraphBuilder, x: str, heads: int, head_dim: int) -> str:
    """[B,T,H*D] -> [B,H,T,D]."""
    return g.op("Transpose", g.op("Reshape", x, g.ints(0, 0, heads, head_dim)), perm=[0, 2, 1, 3])


def merge_heads(g: GraphBuilder, x: str, width: int) -> str:
    """[B,H,T,D] -> [B,T,H*D]."""
    return g.op("Reshape", g.op("Transpose", x, perm=[0, 2, 1, 3]), g.ints(0, 0, width))


# ---------------------------------------------------------------------------
# Relative-position self-attention encoder (VITS style, window 4)
# ---------------------------------------------------------------------------

class RelativePositions:
    """One-hot maps between relative offsets r (-w..w) and key positions s for
    each query t: E[t,r,s] = (s - t == r - w); out-of-window offsets map to nothing."""

    def __init__(self, g: GraphBuilder, mask: SequenceMask, window: int):
        pos = mask.positions(g)
        diff = g.op("Sub", g.op("Unsqueeze", pos, g.ints(0, 1)), g.op("Unsqueeze", pos, g.ints(1, 2)))  # [T,1,S]
        offsets = g.const(np.arange(-window, window + 1).reshape(1, -1, 1), np.int64)
        self.t_r_s = g.op("Cast", g.op("Equal", diff, offsets), to=TensorProto.FLOAT)   # [T,R,S]
        self.t_s_r = g.op("Transpose", self.t_r_s, perm=[0, 2, 1])                      # [T,S,R]
        self.size = 2 * window + 1


def relative_self_attention(g: GraphBuilder, x: str, prefix: str, channels: int, heads: int,
                            mask: SequenceMask, rel: RelativePositions) -> str:
    head_dim = channels // heads

    def project(name):
        y = conv1x1(g, x, f"{prefix}.conv_{name}", channels, channels)
        return g.op("Transpose", g.op("Reshape", y, g.ints(0, heads, head_dim, -1)), perm=[0, 1, 3, 2])

    q = g.op("Mul", project("q"), g.const(1.0 / math.sqrt(head_dim)))   # [B,H,T,D]
    k = project("k")
    v = project("v")
    scores = g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2]))   # [B,H,T,S]
    rel_k = g.normal(f"{prefix}.emb_rel_k", [head_dim, rel.size], head_dim ** -0.5)
    q_rel = g.op("Unsqueeze", g.op("MatMul", q, rel_k), g.ints(3))           # [B,H,T,1,R]
    scores = g.op("Add", scores, g.op("Squeeze", g.op("MatMul", q_rel, rel.t_r_s), g.ints(3)))
    scores = g.op("Add", scores, mask.key_bias)
    probs = g.op("Softmax", scores, axis=-1)
    out = g.op("MatMul", probs, v)                                            # [B,H,T,D]
    p_rel = g.op("Squeeze", g.op("MatMul", g.op("Unsqueeze", probs, g.ints(3)), rel.t_s_r), g.ints(3))  # [B,H,T,R]
    rel_v = g.normal(f"{prefix}.emb_rel_v", [rel.size, head_dim], head_dim ** -0.5)
    out = g.op("Add", out, g.op("MatMul", p_rel, rel_v))
    out = g.op("Reshape", g.op("Transpose", out, perm=[0, 1, 3, 2]), g.ints(0, channels, -1))  # [B,C,T]
    return conv1x1(g, out, f"{prefix}.conv_o", channels, channels)


def attention_encoder(g: GraphBuilder, x: str, prefix: str, channels: int, ffn: int, heads: int,
                      layers: int, mask: SequenceMask, rel: RelativePositions) -> str:
    """Post-LayerNorm transformer encoder with ReLU FFN; masked in and out."""
    m = mask.mask
    x = g.op("Mul", x, m)
    for i in range(layers):
        y = relative_self_attention(g, x, f"{prefix}.attn_layers.{i}", channels, heads, mask, rel)
        x = layer_norm_channels(g, g.op("Add", x, y), f"{prefix}.norm_layers_1.{i}", channels)
        y = g.op("Relu", conv1x1(g, g.op("Mul", x, m), f"{prefix}.ffn_layers.{i}.conv_1", channels, ffn))
        y = g.op("Mul", conv1x1(g, g.op("Mul", y, m), f"{prefix}.ffn_layers.{i}.conv_2", ffn, channels), m)
        x = layer_norm_channels(g, g.op("Add", x, y), f"{prefix}.norm_layers_2.{i}", channels)
    return g.op("Mul", x, m)


# ---------------------------------------------------------------------------
# Cross-attention (channels-last [B,L,C] queries)
# ---------------------------------------------------------------------------

def cross_attention(g: GraphBuilder, query: str, prefix: str, q_dim: int, width: int, heads: int,
                    keys: str, values: str, kv_dim: int, scale: float, key_bias: str | None = None,
                    rotary: tuple[str, str, str, str] | None = None, out_dim: int | None = None,
                    shared_keys: bool = False, key_activation: str | None = None) -> str:
    """``keys``/``values`` are [B,S,kv_dim] (or [S,kv_dim] when ``shared_keys``);
    ``key_activation`` (an op type such as Tanh) is applied to the projected keys."""
    head_dim = width // heads
    q = split_heads(g, linear(g, query, f"{prefix}.W_query", q_dim, width), heads, head_dim)   # [B,H,L,D]
    k = linear(g, keys, f"{prefix}.W_key", kv_dim, width)
    if key_activation is not None:
        k = g.op(key_activation, k)
    if shared_keys:   # [S,W] -> [H,D,S]
        k_t = g.op("Transpose", g.op("Reshape", k, g.ints(-1, heads, head_dim)), perm=[1, 2, 0])
    else:
        k = split_heads(g, k, heads, head_dim)
        if rotary is not None:
            k = apply_rotary(g, k, rotary[2], rotary[3], head_dim)
        k_t = g.op("Transpose", k, perm=[0, 1, 3, 2])
    if rotary is not None:
        q = apply_rotary(g, q, rotary[0], rotary[1], head_dim)
    v = split_heads(g, linear(g, values, f"{prefix}.W_value", kv_dim, width), heads, head_dim)
    scores = g.op("Mul", g.op("MatMul", q, k_t), g.const(scale))
    if key_bias is not None:
        scores = g.op("Add", scores, key_bias)
    out = merge_heads(g, g.op("MatMul", g.op("Softmax", scores, axis=-1), v), width)
    return linear(g, out, f"{prefix}.out_fc", width, out_dim or q_dim)


def rotary_tables(g: GraphBuilder, mask: SequenceMask, head_dim: int, base: float, scale: float):
    """cos/sin [B,1,T,D/2] of angle scale * (t / valid_length_b) * theta_j."""
    theta = (base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim) * scale).astype(np.float32)
    pos = g.op("Cast", mask.positions(g), to=TensorProto.FLOAT)                         # [T]
    length = g.op("Max", g.op("Unsqueeze", mask.length, g.ints(1)), g.const(1.0))       # [B,1]
    rel = g.op("Div", g.op("Unsqueeze", pos, g.ints(0)), length)                        # [B,T]
    angle = g.op("Mul", g.op("Unsqueeze", rel, g.ints(1, 3)), g.const(theta))           # [B,1,T,D/2]
    return g.op("Cos", angle), g.op("Sin", angle)


def apply_rotary(g: GraphBuilder, x: str, cos: str, sin: str, head_dim: int) -> str:
    half = head_dim // 2
    x1 = g.op("Slice", x, g.ints(0), g.ints(half), g.ints(3))
    x2 = g.op("Slice", x, g.ints(half), g.ints(head_dim), g.ints(3))
    r1 = g.op("Sub", g.op("Mul", x1, cos), g.op("Mul", x2, sin))
    r2 = g.op("Add", g.op("Mul", x1, sin), g.op("Mul", x2, cos))
    return g.op("Concat", r1, r2, axis=3)


# ---------------------------------------------------------------------------
# Graphs
# ---------------------------------------------------------------------------

def _value_info(name: str, elem_type: int, dims) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, dims)


def _text_inputs():
    return (
        _value_info("text_ids", TensorProto.INT64, ["batch_size", "text_length"]),
        _value_info("text_mask", TensorProto.FLOAT, ["batch_size", 1, "text_length"]),
    )


def _embed(g: GraphBuilder, ids: str, prefix: str, dim: int, mask: str) -> str:
    table = g.normal(f"{prefix}.char_embedder.weight", [NUM_TEXT_IDS, dim], 1.0)
    x = g.op("Transpose", g.op("Gather", table, ids, axis=0), perm=[0, 2, 1])   # [B,dim,T]
    return g.op("Mul", x, mask)


def build_duration_predictor(rng: np.random.Generator) -> tuple[onnx.ModelProto, int]:
    g = GraphBuilder(rng)
    text_ids, text_mask = _text_inputs()
    style_dp = _value_info("style_dp", TensorProto.FLOAT, ["batch_size", 8, 16])
    C, inner = 64, 256
    p = "dp.sentence_encoder"

    # Sentence token prepended to the characters (and to the mask).
    batch = g.op("Shape", "text_ids", start=0, end=1)
    ones = g.op("Expand", g.const(np.ones((1, 1, 1), np.float32)), g.op("Concat", batch, g.ints(1, 1), axis=0))
    mask = SequenceMask(g, g.op("Concat", ones, "text_mask", axis=2))
    chars = _embed(g, "text_ids", f"{p}.text_embedder", C, "text_mask")
    token = g.op("Expand", g.normal(f"{p}.sentence_token", [1, C, 1], 1.0),
                 g.op("Concat", batch, g.ints(C, 1), axis=0))
    x = g.op("Concat", token, chars, axis=2)                       # [B,64,T+1]

    x = convnext_stack(g, x, f"{p}.convnext", C, 5, inner, [1] * 6, mask)
    rel = RelativePositions(g, mask, window=4)
    x = g.op("Add", x, attention_encoder(g, x, f"{p}.attn_encoder", C, inner, 2, 2, mask, rel))
    sentence = g.op("Slice", x, g.ints(0), g.ints(1), g.ints(2))    # token 0: [B,64,1]
    sentence = conv1x1(g, sentence, f"{p}.proj_out", C, C, bias=False)

    h = g.op("Concat",
             g.op("Reshape", sentence, g.ints(0, C)),
             g.op("Reshape", "style_dp", g.ints(0, 128)), axis=1)   # [B,192]
    h = g.op("Gemm", h, g.normal("dp.predictor.layers.0.weight", [128, 192], 1.0 / math.sqrt(192)),
             g.normal("dp.predictor.layers.0.bias", [128], 0.02), transB=1)
    h = g.op("PRelu", h, g.param("dp.predictor.activation.weight", np.full([1], 0.25, np.float32)))
    # Log seconds per character: small random variation around log(0.07 s).
    h = g.op("Gemm", h, g.normal("dp.predictor.layers.1.weight", [1, 128], 0.15 / math.sqrt(128)),
             g.param("dp.predictor.layers.1.bias", np.array([math.log(0.07)], np.float32)), transB=1)
    per_char = g.op("Clip", g.op("Exp", h), g.const(0.05), g.const(0.12))           # [B,1]
    chars_count = g.op("ReduceSum", "text_mask", g.ints(2), keepdims=0)              # [B,1]
    g.op("Reshape", g.op("Mul", per_char, chars_count), g.ints(-1), outputs=["duration"])

    model = g.model(
        "duration_predictor", [text_ids, style_dp, text_mask],
        [_value_info("duration", TensorProto.FLOAT, ["batch_size"])],
    )
    return model, g.num_params


def build_text_encoder(rng: np.random.Generator) -> tuple[onnx.ModelProto, int]:
    g = GraphBuilder(rng)
    text_ids, text_mask = _text_inputs()
    style_ttl = _value_info("style_ttl", TensorProto.FLOAT, ["batch_size", STYLE_TOKENS, STYLE_DIM])
    C = 256
    p = "ttl.text_encoder"

    mask = SequenceMask(g, "text_mask")
    x = _embed(g, "text_ids", f"{p}.text_embedder", C, "text_mask")
    x = convnext_stack(g, x, f"{p}.convnext", C, 5, 1024, [1] * 6, mask)
    rel = RelativePositions(g, mask, window=4)
    x = g.op("Add", x, attention_encoder(g, x, f"{p}.attn_encoder", C, 1024, 4, 4, mask, rel))
    x = g.op("Mul", conv1x1(g, x, f"{p}.proj_out", C, C), "text_mask")

    # Speech-prompted encoder: two style cross-attentions, keys from learned tokens.
    sp = "ttl.speech_prompted_text_encoder"
    h = g.op("Transpose", x, perm=[0, 2, 1])                                  # [B,T,256]
    tokens = g.normal(f"{sp}.style_key_tokens", [STYLE_TOKENS, STYLE_DIM], 1.0)

    def style_attention(query, name):
        return cross_attention(g, query, f"{sp}.{name}", C, 256, 2, tokens, "style_ttl", STYLE_DIM,
                               scale=1.0 / math.sqrt(128), shared_keys=True, key_activation="Tanh")

    a1 = style_attention(h, "attention1")
    a2 = style_attention(g.op("Add", h, a1), "attention2")
    y = layer_norm_last(g, g.op("Add", h, a2), f"{sp}.norm", C)
    g.op("Mul", g.op("Transpose", y, perm=[0, 2, 1]), "text_mask", outputs=["text_emb"])

    model = g.model(
        "text_encoder", [text_ids, style_ttl, text_mask],
        [_value_info("text_emb", TensorProto.FLOAT, ["batch_size", C, "text_length"])],
    )
    return model, g.num_params


def build_vector_estimator(rng: np.random.Generator) -> tuple[onnx.ModelProto, int]:
    g = GraphBuilder(rng)
    _, text_mask = _text_inputs()
    inputs = [
        _value_info("noisy_latent", TensorProto.FLOAT, ["batch_size", LATENT_CHANNELS, "latent_length"]),
        _value_info("text_emb", TensorProto.FLOAT, ["batch_size", 256, "text_length"]),
        _value_info("style_ttl", TensorProto.FLOAT, ["batch_size", STYLE_TOKENS, STYLE_DIM]),
        _value_info("latent_mask", TensorProto.FLOAT, ["batch_size", 1, "latent_length"]),
        text_mask,
        _value_info("current_step", TensorProto.FLOAT, ["batch_size"]),
        _value_info("total_step", TensorProto.FLOAT, ["batch_size"]),
    ]
    C, inner = 512, 1024
    p = "ttl.vector_field"
    lmask = SequenceMask(g, "latent_mask")
    tmask = SequenceMask(g, "text_mask")

    # Time embedding: t*1000 -> sinusoid(64) -> Linear 256 -> Mish -> Linear 64.
    t = g.op("Div", "current_step", "total_step")
    freqs = np.exp(-math.log(10000.0) * np.arange(32, dtype=np.float64) / 31).astype(np.float32)
    arg = g.op("Mul", g.op("Unsqueeze", g.op("Mul", t, g.const(1000.0)), g.ints(1)), g.const(freqs))  # [B,32]
    temb = g.op("Concat", g.op("Sin", arg), g.op("Cos", arg), axis=1)                                # [B,64]
    temb = g.op("Mish", linear(g, temb, f"{p}.time_encoder.mlp.0", 64, 256))
    temb = linear(g, temb, f"{p}.time_encoder.mlp.1", 256, 64)

    text_kv = g.op("Transpose", "text_emb", perm=[0, 2, 1])                   # [B,T,256]
    lat_cos, lat_sin = rotary_tables(g, lmask, 64, 10000.0, 10.0)
    txt_cos, txt_sin = rotary_tables(g, tmask, 64, 10000.0, 10.0)
    prototypes = g.normal(f"{p}.style_prototypes", [STYLE_TOKENS, STYLE_DIM], 1.0)

    x = g.op("Mul", conv1x1(g, "noisy_latent", f"{p}.proj_in.net", LATENT_CHANNELS, C, bias=False),
             "latent_mask")
    for b in range(4):
        bp = f"{p}.main_blocks.{b}"
        x = convnext_stack(g, x, f"{bp}.convnext_0", C, 5, inner, [1, 2, 4, 8], lmask)
        shift = g.op("Unsqueeze", linear(g, temb, f"{bp}.time_cond.linear", 64, C), g.ints(2))   # [B,512,1]
        x = g.op("Mul", g.op("Add", x, shift), "latent_mask")
        x = convnext_stack(g, x, f"{bp}.convnext_1", C, 5, inner, [1], lmask)

        h = g.op("Transpose", x, perm=[0, 2, 1])                                              # [B,L,512]
        a = cross_attention(g, h, f"{bp}.text_attn", C, 256, 4, text_kv, text_kv, 256,
                            scale=1.0 / 16.0, key_bias=tmask.key_bias,
                            rotary=(lat_cos, lat_sin, txt_cos, txt_sin))
        h = layer_norm_last(g, g.op("Add", h, a), f"{bp}.text_attn.norm", C)
        x = g.op("Mul", g.op("Transpose", h, perm=[0, 2, 1]), "latent_mask")

        x = convnext_stack(g, x, f"{bp}.convnext_2", C, 5, inner, [1], lmask)

        h = g.op("Transpose", x, perm=[0, 2, 1])
        a = cross_attention(g, h, f"{bp}.style_attn", C, 256, 2, prototypes, "style_ttl", STYLE_DIM,
                            scale=1.0 / math.sqrt(128), shared_keys=True)
        h = layer_norm_last(g, g.op("Add", h, a), f"{bp}.style_attn.norm", C)
        x = g.op("Mul", g.op("Transpose", h, perm=[0, 2, 1]), "latent_mask")

    x = convnext_stack(g, x, f"{p}.last_convnext", C, 5, inner, [1, 1, 1, 1], lmask)
    velocity = conv1x1(g, x, f"{p}.proj_out.net", C, LATENT_CHANNELS, bias=False)
    step = g.op("Unsqueeze", "total_step", g.ints(1, 2))                      # [B,1,1]
    x_next = g.op("Add", "noisy_latent", g.op("Div", velocity, step))
    g.op("Mul", x_next, "latent_mask", outputs=["denoised_latent"])

    model = g.model(
        "vector_estimator", inputs,
        [_value_info("denoised_latent", TensorProto.FLOAT, ["batch_size", LATENT_CHANNELS, "latent_length"])],
    )
    return model, g.num_params


def build_vocoder(rng: np.random.Generator) -> tuple[onnx.ModelProto, int]:
    g = GraphBuilder(rng)
    C, inner = 512, 2048
    p = "ae.decoder"

    x = g.op("Div", "latent", g.const(0.25))                                  # normalizer scale
    # Unpack [B,144,L] -> [B,24,6,L] -> [B,24,L,6] -> [B,24,6L]: sub-frames of a frame stay adjacent.
    x = g.op("Reshape", x, g.ints(0, AE_CHANNELS, COMPRESS, -1))
    x = g.op("Transpose", x, perm=[0, 1, 3, 2])
    x = g.op("Reshape", x, g.ints(0, AE_CHANNELS, -1))
    x = g.op("Mul", x, g.uniform("ae.latent_std", [1, AE_CHANNELS, 1], 0.2, 0.3))
    x = g.op("Add", x, g.normal("ae.latent_mean", [1, AE_CHANNELS, 1], 0.05))

    x = g.op("Pad", x, g.ints(0, 0, VOC_STEM_K - 1, 0, 0, 0), mode="edge")
    x = g.op("Conv", x, g.normal(f"{p}.embed.weight", [C, AE_CHANNELS, VOC_STEM_K],
                                 1.0 / math.sqrt(AE_CHANNELS * VOC_STEM_K)),
             g.normal(f"{p}.embed.bias", [C], 0.02))
    x = convnext_stack(g, x, f"{p}.convnext", C, VOC_K, inner, VOC_DILATIONS, causal=True)

    # BatchNorm in inference mode: a per-channel affine map.
    x = g.op("BatchNormalization", x,
             g.normal(f"{p}.final_norm.weight", [C], 0.05, mean=1.0),
             g.normal(f"{p}.final_norm.bias", [C], 0.02),
             g.normal(f"{p}.final_norm.running_mean", [C], 0.05),
             g.uniform(f"{p}.final_norm.running_var", [C], 0.9, 1.5), epsilon=1e-5)
    x = g.op("Pad", x, g.ints(0, 0, VOC_HEAD_K - 1, 0, 0, 0), mode="edge")
    x = g.op("Conv", x, g.normal(f"{p}.head.layer1.weight", [inner, C, VOC_HEAD_K],
                                 1.0 / math.sqrt(C * VOC_HEAD_K)),
             g.normal(f"{p}.head.layer1.bias", [inner], 0.02))
    x = g.op("PRelu", x, g.param(f"{p}.head.activation.weight", np.full([1], 0.25, np.float32)))
    # Output gain: waveform std ~0.12, so samples stay well inside [-1, 1].
    x = conv1x1(g, x, f"{p}.head.layer2", inner, SAMPLES_PER_SUBFRAME, bias=False, gain=0.12)
    x = g.op("Transpose", x, perm=[0, 2, 1])                                  # [B,6L,512]
    g.op("Reshape", x, g.ints(0, -1), outputs=["wav_tts"])

    model = g.model(
        "vocoder",
        [_value_info("latent", TensorProto.FLOAT, ["batch_size", LATENT_CHANNELS, "latent_length"])],
        [_value_info("wav_tts", TensorProto.FLOAT, ["batch_size", "wav_length"])],
    )
    return model, g.num_params


_BUILDERS = {
    "duration_predictor": build_duration_predictor,
    "text_encoder": build_text_encoder,
    "vector_estimator": build_vector_estimator,
    "vocoder": build_vocoder,
}


def build_faithful(model_dir: Path, seed: int = 0) -> dict:
    """Writes a complete model directory; returns learned parameters per graph."""
    model_dir = Path(model_dir)
    write_assets(model_dir)
    onnx_dir = model_dir / "onnx"
    seeds = np.random.SeedSequence(seed).spawn(len(GRAPH_NAMES))
    counts = {}
    for name, graph_seed in zip(GRAPH_NAMES, seeds):
        model, num_params = _BUILDERS[name](np.random.default_rng(graph_seed))
        onnx.checker.check_model(model)
        onnx.save(model, str(onnx_dir / f"{name}.onnx"))
        counts[name] = num_params
        del model
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("models/faithful"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    counts = build_faithful(args.out, args.seed)
    elapsed = time.perf_counter() - start
    total_bytes = 0
    for name, count in counts.items():
        size = (args.out / "onnx" / f"{name}.onnx").stat().st_size
        total_bytes += size
        print(f"{name:20s} {count:>12,d} params  {size / 1e6:8.2f} MB")
    print(f"{'total':20s} {sum(counts.values()):>12,d} params  {total_bytes / 1e6:8.2f} MB")
    print(f"vocoder receptive field: {VOCODER_RECEPTIVE_FIELD_SUBFRAMES} sub-frames "
          f"({VOCODER_LEFT_CONTEXT_FRAMES} latent frames of left context)")
    print(f"written to {args.out} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
