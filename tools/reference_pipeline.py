"""A plain Python + onnxruntime implementation of the Supertonic 2 pipeline
(the published reference's steps 1-6), written to follow the published reference
inference code step by step.

It is the baseline the C++ engine is benchmarked against and an independent
implementation for tests: no batching tricks, no caching beyond the sessions
and the voice files, no chunking of long text (callers pass chunks).

    from tools.reference_pipeline import ReferencePipeline
    pipe = ReferencePipeline("models/probe")
    [wav] = pipe.synthesize(["Hello world."], ["en"], ["F1"])   # float32, 44.1 kHz
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from pathlib import Path
from typing import Sequence

import numpy as np
import onnxruntime as ort

LANGUAGES = ("en", "ko", "es", "pt", "fr")

_EMOJI = re.compile(
    "["
    "\U0001F600-\U0001F64F"
    "\U0001F300-\U0001F5FF"
    "\U0001F680-\U0001F6FF"
    "\U0001F700-\U0001F77F"
    "\U0001F780-\U0001F7FF"
    "\U0001F800-\U0001F8FF"
    "\U0001F900-\U0001F9FF"
    "\U0001FA00-\U0001FA6F"
    "\U0001FA70-\U0001FAFF"
    "\u2600-\u26FF"
    "\u2700-\u27BF"
    "\U0001F1E6-\U0001F1FF"
    "]+"
)

# Applied in this order (a list of pairs, not a set: order matters).
_REPLACEMENTS = [
    ("\u2013", "-"),   # en dash
    ("\u2011", "-"),   # non-breaking hyphen
    ("\u2014", "-"),   # em dash
    ("_", " "),
    ("\u201C", '"'),
    ("\u201D", '"'),
    ("\u2018", "'"),
    ("\u2019", "'"),
    ("\u00B4", "'"),   # acute accent
    ("`", "'"),
    ("[", " "),
    ("]", " "),
    ("|", " "),
    ("/", " "),
    ("#", " "),
    ("\u2192", " "),   # right arrow
    ("\u2190", " "),   # left arrow
]
_REMOVED_SYMBOLS = re.compile(r"[♥☆♡©\\]")
_EXPRESSIONS = [("@", " at "), ("e.g.,", "for example, "), ("i.e.,", "that is, ")]
_SPACE_BEFORE_PUNCT = [(" ,", ","), (" .", "."), (" !", "!"), (" ?", "?"), (" ;", ";"), (" :", ":"), (" '", "'")]
_ENDS_WITH_PUNCT = re.compile(r"[.!?;:,'\"')\]}…。」』】〉》›»]$")

INPUTS = {
    "duration_predictor": ["text_ids", "style_dp", "text_mask"],
    "text_encoder": ["text_ids", "style_ttl", "text_mask"],
    "vector_estimator": [
        "noisy_latent", "text_emb", "style_ttl", "latent_mask", "text_mask", "current_step", "total_step",
    ],
    "vocoder": ["latent"],
}


def preprocess(text: str, lang: str) -> str:
    """Normalizes text exactly as the published reference and wraps it in language tags."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    text = unicodedata.normalize("NFKD", text)
    text = _EMOJI.sub("", text)
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = _REMOVED_SYMBOLS.sub("", text)
    for old, new in _EXPRESSIONS:
        text = text.replace(old, new)
    for old, new in _SPACE_BEFORE_PUNCT:
        text = text.replace(old, new)
    for double, single in (('""', '"'), ("''", "'"), ("``", "`")):
        while double in text:
            text = text.replace(double, single)
    text = re.sub(r"\s+", " ", text).strip()
    if not _ENDS_WITH_PUNCT.search(text):
        text += "."
    return f"<{lang}>{text}</{lang}>"


class ReferencePipeline:
    """Runs the four Supertonic graphs of ``model_dir`` with onnxruntime."""

    def __init__(
        self,
        model_dir: str | Path,
        intra_op_threads: int = 2,
        allow_spinning: bool = True,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ) -> None:
        self.model_dir = Path(model_dir)
        onnx_dir = self.model_dir / "onnx"
        config = json.loads((onnx_dir / "tts.json").read_text())
        self.sample_rate = int(config["ae"]["sample_rate"])
        self.chunk_size = int(config["ae"]["base_chunk_size"]) * int(config["ttl"]["chunk_compress_factor"])
        self.latent_channels = int(config["ttl"]["latent_dim"]) * int(config["ttl"]["chunk_compress_factor"])
        self.indexer: list[int] = json.loads((onnx_dir / "unicode_indexer.json").read_text())

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        spin = "1" if allow_spinning else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
        options.add_session_config_entry("session.inter_op.allow_spinning", spin)
        self.sessions: dict[str, ort.InferenceSession] = {}
        for graph, expected in INPUTS.items():
            session = ort.InferenceSession(str(onnx_dir / f"{graph}.onnx"), options, providers=list(providers))
            names = [i.name for i in session.get_inputs()]
            if names != expected:
                raise ValueError(f"{graph}.onnx inputs are {names}, expected {expected}")
            self.sessions[graph] = session
        self._styles: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.last_unknown_counts: list[int] = []
        self.last_durations: np.ndarray | None = None

    # -- text ---------------------------------------------------------------

    def preprocess(self, text: str, lang: str) -> str:
        return preprocess(text, lang)

    def text_to_ids_with_unknown(self, text: str, lang: str) -> tuple[np.ndarray, int]:
        """Preprocessed text -> int64 ids, plus how many characters were dropped
        (outside the indexer's range or mapped to -1)."""
        ids: list[int] = []
        unknown = 0
        for ch in self.preprocess(text, lang):
            cp = ord(ch)
            idx = self.indexer[cp] if cp < len(self.indexer) else -1
            if idx < 0:
                unknown += 1
            else:
                ids.append(idx)
        return np.asarray(ids, dtype=np.int64), unknown

    def text_to_ids(self, text: str, lang: str) -> np.ndarray:
        return self.text_to_ids_with_unknown(text, lang)[0]

    # -- voices -------------------------------------------------------------

    def load_voice(self, voice: str) -> tuple[np.ndarray, np.ndarray]:
        """A voice name under voice_styles/ (e.g. "F1") or a path to a style JSON.
        Returns (style_ttl [1,50,256], style_dp [1,8,16])."""
        if voice not in self._styles:
            path = Path(voice)
            if not path.suffix:
                path = self.model_dir / "voice_styles" / f"{voice}.json"
            data = json.loads(path.read_text())
            ttl = np.asarray(data["style_ttl"]["data"], dtype=np.float32).reshape(data["style_ttl"]["dims"])
            dp = np.asarray(data["style_dp"]["data"], dtype=np.float32).reshape(data["style_dp"]["dims"])
            self._styles[voice] = (ttl, dp)
        return self._styles[voice]

    # -- synthesis ----------------------------------------------------------

    def synthesize(
        self,
        texts: list[str],
        langs: list[str],
        voices: list[str],
        steps: int = 2,
        speed: float = 1.05,
        noise: np.ndarray | None = None,
        seed: int = 0,
    ) -> list[np.ndarray]:
        """One batch through steps 1-6; returns each item's float32 waveform."""
        if not (len(texts) == len(langs) == len(voices)) or not texts:
            raise ValueError("texts, langs and voices must be non-empty and of equal length")
        bsz = len(texts)

        # 1. text -> ids, mask
        encoded = [self.text_to_ids_with_unknown(t, lang) for t, lang in zip(texts, langs)]
        self.last_unknown_counts = [unknown for _, unknown in encoded]
        lengths = np.asarray([len(ids) for ids, _ in encoded], dtype=np.int64)
        text_len = int(lengths.max())
        text_ids = np.zeros((bsz, text_len), dtype=np.int64)
        for b, (ids, _) in enumerate(encoded):
            text_ids[b, : len(ids)] = ids
        text_mask = (np.arange(text_len)[None, :] < lengths[:, None]).astype(np.float32)[:, None, :]

        styles = [self.load_voice(v) for v in voices]
        style_ttl = np.concatenate([s[0] for s in styles], axis=0)
        style_dp = np.concatenate([s[1] for s in styles], axis=0)

        # 2. durations (seconds, float32 as the graphs give them)
        (duration,) = self.sessions["duration_predictor"].run(
            None, {"text_ids": text_ids, "style_dp": style_dp, "text_mask": text_mask}
        )
        duration = (duration / np.float32(speed)).astype(np.float32)
        self.last_durations = duration

        # 3. text embedding
        (text_emb,) = self.sessions["text_encoder"].run(
            None, {"text_ids": text_ids, "style_ttl": style_ttl, "text_mask": text_mask}
        )

        # 4. latent lengths, mask and noise
        wav_lengths = (duration * np.float32(self.sample_rate)).astype(np.int64)
        latent_lengths = (wav_lengths + self.chunk_size - 1) // self.chunk_size
        latent_len = int(math.ceil(int(wav_lengths.max()) / self.chunk_size))
        latent_mask = (np.arange(latent_len)[None, :] < latent_lengths[:, None]).astype(np.float32)[:, None, :]
        shape = (bsz, self.latent_channels, latent_len)
        if noise is None:
            noise = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
        elif noise.shape != shape:
            raise ValueError(f"noise has shape {noise.shape}, expected {shape}")
        xt = (noise * latent_mask).astype(np.float32)

        # 5. denoising steps
        total_step = np.full(bsz, steps, dtype=np.float32)
        for step in range(steps):
            (xt,) = self.sessions["vector_estimator"].run(
                None,
                {
                    "noisy_latent": xt,
                    "text_emb": text_emb,
                    "style_ttl": style_ttl,
                    "latent_mask": latent_mask,
                    "text_mask": text_mask,
                    "current_step": np.full(bsz, step, dtype=np.float32),
                    "total_step": total_step,
                },
            )

        # 6. vocoder, trim each item to its own length
        (wav,) = self.sessions["vocoder"].run(None, {"latent": xt})
        return [wav[b, : int(wav_lengths[b])].astype(np.float32) for b in range(bsz)]
