"""The voice API of a Supertonic TTS service (``/v1/voices``, HTTP on the same
port as ``/ws/tts``): list the voices, upload voice-style files, save blends
under a name, delete voices; and :func:`blend` to write a blend::

    voices = await list_voices("ws://localhost:8000/ws/tts")
    await upload_voice("narrator", "narrator.json", url=..., token=...)
    await save_blend("warm", blend(F1=0.7, M2=0.3), url=...)
    async with await connect(url) as conn:
        await conn.synthesize("Hi.", voice="narrator")            # the upload
        await conn.synthesize("Hi.", voice=blend(F1=1, narrator=1))  # a blend, not saved

Any ``url`` the client takes works: the WebSocket URL (``ws://host:8000/ws/tts``)
or the server's HTTP base (``http://host:8000``). Uploads and deletes need a
server with ``TTS_AUTH_TOKEN`` (and the token) or ``TTS_ALLOW_VOICE_UPLOAD=true``.
Only the standard library is used (the requests run in a thread).
"""
from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConnectError, ConnectTimeoutError, ProtocolError, http_retryable, server_error

DEFAULT_URL = "ws://localhost:8000/ws/tts"
MAX_BLEND_PARTS = 4

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Voice:
    """One voice a server offers for one of its models."""

    name: str
    model: str
    origin: str                      # "model" (its own), "file" (TTS_VOICES_DIR) or "upload"
    metadata: dict[str, Any] = field(default_factory=dict)
    upload: dict[str, Any] | None = None   # created_at, and blend when saved from one
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def blend(*parts: str | tuple[str, float], **weights: float) -> str:
    """A blend as the server reads it: ``blend("F1", "M2")`` is ``"F1+M2"``
    (equal weights), ``blend(("F1", 0.7), ("M2", 0.3))`` and
    ``blend(F1=0.7, M2=0.3)`` are ``"F1:0.7+M2:0.3"``. The server normalizes
    the weights (they need not sum to 1) and takes at most 4 voices."""
    items: list[tuple[str, float | None]] = []
    for part in parts:
        items.append((part, None) if isinstance(part, str) else (str(part[0]), float(part[1])))
    items += [(name, float(w)) for name, w in weights.items()]
    if not items:
        raise ValueError("a blend needs at least one voice")
    if len(items) > MAX_BLEND_PARTS:
        raise ValueError(f"a blend has at most {MAX_BLEND_PARTS} voices, got {len(items)}")
    out = []
    for name, w in items:
        if w is not None and not (w > 0 and w != float("inf")):
            raise ValueError(f"the weight of {name!r} must be a number above 0, got {w}")
        out.append(name if w is None else f"{name}:{w:g}")
    return "+".join(out)


def http_base(url: str) -> str:
    """``ws://host:port/ws/tts`` -> ``http://host:port`` (``wss`` -> ``https``);
    an ``http(s)://`` URL keeps its scheme; a trailing ``/ws/tts`` is dropped."""
    parts = urllib.parse.urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https"):
        raise ValueError(f"not a ws://, wss://, http:// or https:// URL: {url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/ws/tts"):
        path = path[: -len("/ws/tts")]
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, "", ""))


def _request(method: str, url: str, token: str | None, body: Any, timeout: float) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code") or error.get("type") or "unknown")
            raise server_error(code, str(error.get("message", "")), retryable=http_retryable(e.code),
                               body=answer) from None
        raise ProtocolError(f"{method} {url}: HTTP {e.code}: {raw[:200]!r}") from None
    except (TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        if isinstance(reason, TimeoutError) or isinstance(e, TimeoutError):
            raise ConnectTimeoutError(f"{method} {url}: no answer within {timeout} s") from None
        raise ConnectError(f"{method} {url}: cannot connect ({reason})") from None
    except ValueError as e:
        raise ProtocolError(f"{method} {url}: the answer is not JSON ({e})") from None


async def _call(method: str, url: str, path: str, token: str | None, body: Any = None,
                timeout: float = 30.0) -> tuple[int, Any]:
    return await asyncio.to_thread(_request, method, http_base(url) + path, token, body, timeout)


def _voice(entry: Mapping[str, Any]) -> Voice:
    upload = entry.get("upload")
    return Voice(name=str(entry.get("name", "")), model=str(entry.get("model", "")),
                 origin=str(entry.get("origin", "model")), metadata=dict(entry.get("metadata") or {}),
                 upload=dict(upload) if isinstance(upload, Mapping) else None, raw=dict(entry))


async def list_voices(url: str = DEFAULT_URL, *, token: str | None = None, model: str | None = None,
                      timeout: float = 10.0) -> list[Voice]:
    """Every voice of every served model (``model``: only that model's),
    the model's own first."""
    entries: list[Mapping[str, Any]] = []
    model_order: list[str] = []
    path = "/v1/voices?limit=500"
    for _ in range(10_000):  # pages; a server that never ends its list is a protocol error
        _, answer = await _call("GET", url, path, token, timeout=timeout)
        if not isinstance(answer, dict):
            raise ProtocolError("GET /v1/voices did not answer a JSON object")
        model_order = model_order or [str(m.get("model", "")) for m in answer.get("models", []) if isinstance(m, Mapping)]
        if "data" not in answer:   # a server from before uploads: names only
            entries = [{"name": v, "model": m.get("model", ""), "origin": "model"}
                       for m in answer.get("models", []) for v in m.get("voices", [])]
            break
        entries += [v for v in answer["data"] if isinstance(v, Mapping)]
        # Servers before paging send every voice at once, without has_more.
        if not answer.get("has_more") or not isinstance(answer.get("last_id"), str):
            break
        path = "/v1/voices?limit=500&after=" + urllib.parse.quote(answer["last_id"], safe="")
    else:
        raise ProtocolError("GET /v1/voices did not end its pages")
    rank = {"model": 0, "file": 1, "upload": 2}
    voices = [_voice(v) for v in entries]
    voices.sort(key=lambda v: (model_order.index(v.model) if v.model in model_order else len(model_order),
                               rank.get(v.origin, 3), v.name))
    return [v for v in voices if model is None or v.model == model]


async def upload_voice(name: str, style: Mapping[str, Any] | str | Path, *, url: str = DEFAULT_URL,
                       token: str | None = None, model: str | None = None,
                       metadata: Mapping[str, Any] | None = None, timeout: float = 30.0) -> Voice:
    """Stores a voice-style file (``style``: its parsed JSON, or the path of
    the file) as the voice ``name`` (letters, digits, ``_``, ``-``) of
    ``model`` (default: the server's first), replacing an uploaded one of that
    name. Raises the server's error: ``InvalidVoiceError`` for a file that is
    not a voice style, ``UploadsDisabledError``, ``VoiceProtectedError`` for
    the name of a model's own voice, ..."""
    if not isinstance(style, Mapping):
        style = json.loads(Path(style).read_text(encoding="utf-8"))
    return await _post_voice({"name": name, "style": dict(style)}, url, token, model, metadata, timeout)


async def save_blend(name: str, mix: str, *, url: str = DEFAULT_URL, token: str | None = None,
                     model: str | None = None, metadata: Mapping[str, Any] | None = None,
                     timeout: float = 30.0) -> Voice:
    """Stores the blend ``mix`` (e.g. ``"F1:0.7+M2:0.3"``, see :func:`blend`)
    as the voice ``name``: its tensors as they are now, so it stays the same
    when its parts change or go."""
    return await _post_voice({"name": name, "blend": mix}, url, token, model, metadata, timeout)


async def _post_voice(body: dict[str, Any], url: str, token: str | None, model: str | None,
                      metadata: Mapping[str, Any] | None, timeout: float) -> Voice:
    if model is not None:
        body["model"] = model
    if metadata is not None:
        body["metadata"] = dict(metadata)
    _, answer = await _call("POST", url, "/v1/voices", token, body, timeout)
    return _voice(answer)


async def delete_voice(name: str, *, url: str = DEFAULT_URL, token: str | None = None,
                       model: str | None = None, timeout: float = 10.0) -> None:
    """Deletes an uploaded or file voice (a model's own cannot be)."""
    path = "/v1/voices/" + urllib.parse.quote(name, safe="")
    if model is not None:
        path += "?model=" + urllib.parse.quote(model, safe="")
    await _call("DELETE", url, path, token, timeout=timeout)


__all__ = ["Voice", "blend", "http_base", "list_voices", "upload_voice", "save_blend", "delete_voice"]
