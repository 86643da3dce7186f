"""The Supertonic 2 ONNX interface every generated model directory must have
(the published interface): each graph's inputs in the published order and its outputs,
as (name, element type, dims); None is a dimension of any name."""
from onnx import TensorProto

F, I64 = TensorProto.FLOAT, TensorProto.INT64
B, T, L = "batch_size", "text_length", "latent_length"

SIGNATURES = {
    "duration_predictor": (
        [("text_ids", I64, [B, T]), ("style_dp", F, [B, 8, 16]), ("text_mask", F, [B, 1, T])],
        [("duration", F, [B])],
    ),
    "text_encoder": (
        [("text_ids", I64, [B, T]), ("style_ttl", F, [B, 50, 256]), ("text_mask", F, [B, 1, T])],
        [("text_emb", F, [B, 256, T])],
    ),
    "vector_estimator": (
        [
            ("noisy_latent", F, [B, 144, L]),
            ("text_emb", F, [B, 256, T]),
            ("style_ttl", F, [B, 50, 256]),
            ("latent_mask", F, [B, 1, L]),
            ("text_mask", F, [B, 1, T]),
            ("current_step", F, [B]),
            ("total_step", F, [B]),
        ],
        [("denoised_latent", F, [B, 144, L])],
    ),
    "vocoder": ([("latent", F, [B, 144, L])], [("wav_tts", F, [B, None])]),
}
