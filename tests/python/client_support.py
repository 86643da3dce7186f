"""Helpers for the client tests (test_client_*.py): what the probe model's
audio says, and the server's view of its connections."""
from __future__ import annotations

import re
import unicodedata

import psutil

from service_support import ServerProcess, decode_pcm16, norm_text

_TAGS = re.compile(r"<(/?)([a-z]{2})>")


def heard(pcm: bytes, sample_rate: int, lang: str = "en") -> str:
    """The text the probe model's audio speaks, segments joined by spaces.
    Every segment must be tagged with `lang` and nothing may be spoken outside
    a segment (both would mean audio of another turn or a broken segment)."""
    raw = unicodedata.normalize("NFC", decode_pcm16(pcm, sample_rate).raw_text)
    segments = re.findall(r"<([a-z]{2})>(.*?)</\1>", raw, flags=re.S)
    rebuilt = "".join(f"<{l}>{t}</{l}>" for l, t in segments)
    assert rebuilt == raw, f"audio does not decode to whole segments: {raw!r}"
    langs = {l for l, _ in segments}
    assert langs <= {lang}, f"audio speaks languages {langs}, expected {lang!r}: {raw!r}"
    return norm_text(" ".join(t for _, t in segments))


def client_ports(server: ServerProcess) -> list[int]:
    """Remote ports of the TCP connections the server has established on its
    listening port: one per client WebSocket."""
    assert server.proc is not None
    conns = psutil.Process(server.proc.pid).net_connections(kind="tcp")
    return sorted(c.raddr.port for c in conns
                  if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == server.port and c.raddr)
