#!/usr/bin/env python3
"""Voice-agent load generator for the TTS service.

Simulates N voice-agent sessions against a running server. Each simulated
agent keeps one WebSocket connection and runs turns on it, one session per
turn:

  1. streams an LLM-like reply token by token (``--tokens-per-s``, tokens are
     words / sub-words with their leading spaces, punctuation separate), the
     ``start_session`` pipelined with the first token and ``end_session`` right
     after the last one; replies are 1-4 sentences drawn (seeded, so every run
     and every mode gets the same replies) from a built-in corpus in en ko es pt fr;
  2. receives all of the turn's audio (optionally barging in: ``cancel`` after a
     random delay from the first audio, then ``end_session``);
  3. pauses (``--think``; with ``--wait-playback``, the default, the pause starts
     when the simulated playback of the reply ends, so each agent consumes audio
     at most in real time, like a listener) and starts the next turn, until
     ``--turns`` turns or ``--duration`` seconds.

Per turn it records time to first audio from the first token (``ttfa_ms``) and
from the moment the first segment's text was complete at the server
(``ttfa_sentence_ms``: the token that completed the first sentence, i.e. that
brought the whitespace after its terminator, the server's cut rule), time to
last audio, underruns of a simulated real-time playback that starts at the first
frame's arrival, RTF from ``segment_done``, errors by code and characters sent.
The output JSON has per-N percentiles and the aggregate chars/s (characters
whose audio was fully received / wall time); ``--raw`` adds every turn.

    build/venv/bin/python bench/loadgen.py --url ws://127.0.0.1:8000/ws/tts \\
        --sessions 1,4,16 --turns 5 --out load.json --png load.png

bench/service_bench.py starts the servers itself and runs this for each mode.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import re
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

SCHEMA = "supertonic-loadgen/1"
LANGS = ("en", "ko", "es", "pt", "fr")

# ---------------------------------------------------------------------------
# Corpus: short assistant utterances, 14 per language. No digits before a
# final ".", no abbreviations, so every terminator ends a sentence.

CORPUS: dict[str, list[str]] = {
    "en": [
        "Sure, I can help with that.",
        "Your order has shipped and should arrive on Thursday.",
        "Let me check the schedule for you.",
        "I found three flights that leave tomorrow morning.",
        "The cheapest one departs at seven and costs a little under two hundred dollars.",
        "Would you like me to book it?",
        "Okay, I have updated your delivery address.",
        "Is there anything else I can do for you today?",
        "I am sorry, but that store closes early on Sundays.",
        "The weather tomorrow looks sunny, with a light breeze in the afternoon.",
        "Great choice!",
        "Please hold on while I transfer you to a specialist.",
        "Your appointment is confirmed for next Monday at noon.",
        "I did not quite catch that, could you say it again?",
    ],
    "ko": [
        "네, 도와드릴게요.",
        "주문하신 상품은 오늘 발송되었습니다.",
        "잠시만 기다려 주시면 일정을 확인해 드리겠습니다.",
        "내일 아침에 출발하는 항공편이 세 개 있습니다.",
        "가장 저렴한 항공편은 오전 일곱 시에 출발합니다.",
        "예약을 진행해 드릴까요?",
        "배송 주소를 새로 변경해 드렸습니다.",
        "더 도와드릴 일이 있으신가요?",
        "죄송하지만 그 매장은 일요일에 일찍 문을 닫습니다.",
        "내일 날씨는 맑고 오후에는 바람이 조금 불겠습니다.",
        "좋은 선택입니다!",
        "전문 상담원에게 연결해 드릴 테니 잠시만 기다려 주세요.",
        "다음 주 월요일 정오로 예약이 확정되었습니다.",
        "잘 듣지 못했어요, 다시 한 번 말씀해 주시겠어요?",
    ],
    "es": [
        "Claro, puedo ayudarte con eso.",
        "Tu pedido ya fue enviado y debería llegar el jueves.",
        "Déjame revisar el horario.",
        "Encontré tres vuelos que salen mañana por la mañana.",
        "El más barato sale a las siete y cuesta un poco menos de doscientos dólares.",
        "¿Quieres que lo reserve?",
        "Listo, actualicé tu dirección de entrega.",
        "¿Hay algo más en lo que pueda ayudarte hoy?",
        "Lo siento, pero esa tienda cierra temprano los domingos.",
        "Mañana estará soleado, con un poco de viento por la tarde.",
        "¡Excelente elección!",
        "Espera un momento mientras te transfiero con un especialista.",
        "Tu cita quedó confirmada para el próximo lunes al mediodía.",
        "No te escuché bien, ¿puedes repetirlo?",
    ],
    "pt": [
        "Claro, posso ajudar com isso.",
        "Seu pedido já foi enviado e deve chegar na quinta-feira.",
        "Deixa eu verificar a agenda para você.",
        "Encontrei três voos que saem amanhã de manhã.",
        "O mais barato sai às sete e custa um pouco menos de duzentos reais.",
        "Quer que eu faça a reserva?",
        "Pronto, atualizei o seu endereço de entrega.",
        "Posso ajudar com mais alguma coisa hoje?",
        "Sinto muito, mas essa loja fecha mais cedo aos domingos.",
        "Amanhã o tempo fica ensolarado, com um pouco de vento à tarde.",
        "Ótima escolha!",
        "Aguarde um momento enquanto eu transfiro você para um especialista.",
        "Sua consulta está confirmada para a próxima segunda ao meio-dia.",
        "Não entendi direito, você pode repetir?",
    ],
    "fr": [
        "Bien sûr, je peux vous aider.",
        "Votre commande a été expédiée et devrait arriver jeudi.",
        "Laissez-moi vérifier le planning.",
        "J'ai trouvé trois vols qui partent demain matin.",
        "Le moins cher part à sept heures et coûte un peu moins de deux cents euros.",
        "Voulez-vous que je le réserve ?",
        "C'est fait, j'ai mis à jour votre adresse de livraison.",
        "Puis-je faire autre chose pour vous aujourd'hui ?",
        "Je suis désolé, mais ce magasin ferme tôt le dimanche.",
        "Demain, il fera beau, avec un peu de vent l'après-midi.",
        "Excellent choix !",
        "Veuillez patienter pendant que je vous transfère à un spécialiste.",
        "Votre rendez-vous est confirmé pour lundi prochain à midi.",
        "Je n'ai pas bien compris, pouvez-vous répéter ?",
    ],
}

_TRAILING_PUNCT = ".,;:!?…\"'»)”’"
_WORD = re.compile(r"(\s*)(\S+)")


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def tokenize(text: str) -> list[str]:
    """LLM-like tokens: each word with its leading whitespace, long words split
    into sub-words (4 letters, 2 for Hangul), trailing punctuation separate.
    ``"".join(tokenize(t)) == t``."""
    tokens: list[str] = []
    for m in _WORD.finditer(text):
        space, word = m.group(1), m.group(2)
        core = word.rstrip(_TRAILING_PUNCT)
        tail = word[len(core):]
        pieces: list[str] = []
        if core:
            size = 2 if any(_is_hangul(c) for c in core) else 4
            if len(core) <= size + 2:
                pieces = [core]
            else:
                pieces = [core[k:k + size] for k in range(0, len(core), size)]
        if tail:
            pieces.append(tail)
        if not pieces:
            continue
        pieces[0] = space + pieces[0]
        tokens.extend(pieces)
    # Whitespace at the very end (none in the corpus) goes with the last token.
    rest = text[len("".join(tokens)):]
    if rest and tokens:
        tokens[-1] += rest
    return tokens


# ---------------------------------------------------------------------------
# Configuration


@dataclass
class LoadConfig:
    turns: int = 5                         # per agent (max)
    duration_s: float = 120.0              # no new turn starts after this (per level)
    tokens_per_s: float = 30.0
    think_s: tuple[float, float] = (1.0, 2.0)
    sentences: tuple[int, int] = (1, 4)
    langs: tuple[str, ...] = LANGS
    voices: tuple[str, ...] = ("F1", "M1", "F2", "M2")
    barge_in: float = 0.0                  # probability per turn
    barge_delay_s: tuple[float, float] = (0.3, 1.5)  # after the first audio frame
    wait_playback: bool = True
    stagger_s: float | None = None         # agents' start offsets, uniform in [0, stagger]; None: think max
    turn_timeout_s: float = 90.0
    connect_timeout_s: float = 10.0
    underrun_threshold_ms: float = 1.0     # gaps shorter than this are timing noise, not underruns
    seed: int = 1
    steps: int | None = None               # num_inference_steps in start_session (None: server default)
    sample_rate: int | None = None

    def to_json(self) -> dict:
        d = asdict(self)
        d["think_s"] = list(self.think_s)
        d["sentences"] = list(self.sentences)
        d["langs"] = list(self.langs)
        d["voices"] = list(self.voices)
        d["barge_delay_s"] = list(self.barge_delay_s)
        d["stagger_s"] = self.stagger()
        return d

    def stagger(self) -> float:
        return self.think_s[1] if self.stagger_s is None else self.stagger_s


@dataclass
class TurnPlan:
    agent: int
    turn: int
    lang: str
    voice: str
    text: str
    sentences: list[str]
    tokens: list[str]
    barge: bool
    barge_delay_s: float
    think_s: float


def plan_turn(rng: random.Random, cfg: LoadConfig, agent: int, turn: int) -> TurnPlan:
    """Everything random about a turn, drawn up front so the sequence of
    replies does not depend on how earlier turns went."""
    lang = cfg.langs[rng.randrange(len(cfg.langs))]
    k = rng.randint(cfg.sentences[0], cfg.sentences[1])
    pool = CORPUS[lang]
    sentences = rng.sample(pool, min(k, len(pool)))
    text = " ".join(sentences)
    barge_draw = rng.random()
    barge_delay = rng.uniform(*cfg.barge_delay_s)
    think = rng.uniform(*cfg.think_s)
    return TurnPlan(agent, turn, lang, cfg.voices[agent % len(cfg.voices)], text, sentences, tokenize(text),
                    barge_draw < cfg.barge_in, barge_delay, think)


# ---------------------------------------------------------------------------
# One turn


class TurnFailed(Exception):
    """The connection is unusable after this turn (closed, timed out, refused)."""


@dataclass
class TurnRecord:
    agent: int
    turn: int
    sessions: int                      # N of the level
    lang: str
    voice: str
    session_id: str
    t_start_s: float = 0.0             # first token sent, seconds since the level started
    tokens: int = 0
    chars_sent: int = 0                # characters of the reply sent (code points)
    sentences: int = 0
    first_segment_text: str | None = None
    ttfa_ms: float | None = None                  # first audio - first token sent
    ttfa_sentence_ms: float | None = None         # first audio - first segment's text complete at the server
    ttfa_terminator_ms: float | None = None       # first audio - the token with the first segment's last char
    ttla_ms: float | None = None                  # last audio frame - first token sent
    last_audio_after_end_ms: float | None = None  # last audio frame - end_session sent
    audio_ms: float = 0.0              # audio received (before any cancel)
    segments: int = 0                  # segments completed (segment_done received)
    chars_completed: int = 0           # characters of the completed segments
    underruns: int = 0
    underrun_ms: float = 0.0
    rtf: float | None = None           # sum synthesis_ms / sum duration_ms of the completed segments
    first_queue_ms: float | None = None
    first_synthesis_ms: float | None = None
    batch_sizes: list[int] = field(default_factory=list)
    barge_in: bool = False             # the listener interrupted (a cancel is sent if the session is still open)
    cancel_sent: bool = False
    cancelled_segments: int | None = None
    barge_late: bool = False           # the cancel reached the server after the session had ended
    ended_reason: str | None = None
    errors: dict[str, int] = field(default_factory=dict)
    ok: bool = False                   # session_ended (completed) with no error
    duration_s: float = 0.0            # first token sent -> session_ended received
    playback_end_s: float | None = None  # perf_counter() when the simulated playback ends (not exported)

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def export(self) -> dict:
        d = asdict(self)
        d.pop("playback_end_s")
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 5 if k == "rtf" else 3)
        return d


def _first_segment_complete_index(text: str, tokens: list[str], segment: str) -> tuple[int | None, int | None]:
    """(index of the token whose arrival let the server cut `segment`, index of
    the token carrying the segment's last character); None for end_session.

    The server cuts a turn's first segment at the first sentence end followed by
    whitespace, or, once 60 characters are pending, at a clause end followed by
    whitespace: the cut happens when the whitespace after the segment (and, for
    a clause, the 60th character) has arrived."""
    seg = " ".join(segment.split())
    if not text.startswith(seg):
        return None, None
    end = len(seg)                     # index of the whitespace after the segment in `text`
    need = end + 1
    stripped = seg.rstrip("\"'»)”’")
    if stripped and stripped[-1] in ",;:":
        need = max(need, 60)
    cum = 0
    cut = last = None
    for i, tok in enumerate(tokens):
        cum += len(tok)
        if last is None and cum >= end:
            last = i
        if cut is None and cum >= need:
            cut = i
            break
    return cut, last


async def _send(ws: ClientConnection, message: dict) -> float:
    await ws.send(json.dumps(message, ensure_ascii=False))
    return time.perf_counter()


async def run_turn(ws: ClientConnection, plan: TurnPlan, cfg: LoadConfig, sessions: int, level_t0: float,
                   run_id: str) -> TurnRecord:
    sid = f"lg-{run_id}-{plan.agent}-{plan.turn}"
    rec = TurnRecord(plan.agent, plan.turn, sessions, plan.lang, plan.voice, sid, tokens=len(plan.tokens),
                     chars_sent=len(plan.text), sentences=len(plan.sentences), barge_in=plan.barge)
    config: dict[str, Any] = {"voice": plan.voice, "lang_code": plan.lang}
    if cfg.steps is not None:
        config["num_inference_steps"] = cfg.steps
    if cfg.sample_rate is not None:
        config["sample_rate"] = cfg.sample_rate

    send_times: list[float] = []
    t_end_sent: list[float] = []
    first_audio = asyncio.Event()
    stop_sending = asyncio.Event()
    ended = asyncio.Event()
    # t_barge: when the listener interrupts (set at the first frame); frames
    # arriving after it are never played, so they neither count as audio nor
    # end an underrun.
    state: dict[str, Any] = {"cancel_sent": None, "t_barge": math.inf}
    interval = 1.0 / cfg.tokens_per_s

    async def sender() -> None:
        await ws.send(json.dumps({"type": "start_session", "session_id": sid, "config": config},
                                 ensure_ascii=False))
        t0 = None
        for i, tok in enumerate(plan.tokens):
            if t0 is not None:
                delay = t0 + i * interval - time.perf_counter()
                if delay > 0:
                    try:
                        await asyncio.wait_for(stop_sending.wait(), delay)
                    except asyncio.TimeoutError:
                        pass
            if stop_sending.is_set():
                return
            t = await _send(ws, {"type": "send_text", "text": tok})
            if t0 is None:
                t0 = t
            send_times.append(t)
        if not stop_sending.is_set():
            t_end_sent.append(await _send(ws, {"type": "end_session"}))

    async def barger(sender_task: asyncio.Task) -> None:
        # The listener interrupts at a point of the playback: `barge_delay_s`
        # after the first frame. If the session has ended by then, all audio is
        # already here and the agent only stops its own playback.
        await first_audio.wait()
        await asyncio.sleep(max(0.0, state["t_barge"] - time.perf_counter()))
        if ended.is_set():
            return
        stop_sending.set()
        await asyncio.wait({sender_task})
        if ended.is_set():
            return
        state["cancel_sent"] = await _send(ws, {"type": "cancel"})
        t_end_sent.append(await _send(ws, {"type": "end_session"}))

    sender_task = asyncio.create_task(sender())
    barge_task = asyncio.create_task(barger(sender_task)) if plan.barge else None
    t_first = t_last = None
    dry_at = 0.0                     # when the simulated playback buffer runs empty
    synth_ms = dur_ms = 0.0
    open_seg: dict | None = None
    got_started = False
    cancelled_seen = False
    late_no_session = 0
    failed: str | None = None
    threshold = cfg.underrun_threshold_ms / 1000.0
    try:
        async with asyncio.timeout_at(asyncio.get_running_loop().time() + cfg.turn_timeout_s):
            while True:
                raw = await ws.recv()
                t = time.perf_counter()
                if isinstance(raw, bytes):
                    if t >= state["t_barge"] or open_seg is None:
                        continue            # after the barge-in: not played
                    frame_s = len(raw) / 2 / open_seg["rate"]
                    if t_first is None:
                        t_first = t
                        dry_at = t + frame_s
                        if plan.barge:
                            state["t_barge"] = t + plan.barge_delay_s
                        first_audio.set()
                    else:
                        if t > dry_at:
                            gap = t - dry_at
                            if gap >= threshold:
                                rec.underruns += 1
                                rec.underrun_ms += gap * 1000
                            dry_at = t
                        dry_at += frame_s
                    t_last = t
                    rec.audio_ms += frame_s * 1000
                    continue
                m = json.loads(raw)
                kind = m.get("type")
                if kind == "session_started":
                    got_started = True
                    rate = int(m.get("sample_rate") or 24000)
                    state["rate"] = rate
                elif kind == "segment_started":
                    open_seg = {"rate": state.get("rate", 24000), "text": m.get("text", "")}
                    if rec.first_segment_text is None and t < state["t_barge"]:
                        rec.first_segment_text = m.get("text", "")
                elif kind == "segment_done":
                    if open_seg is not None and t < state["t_barge"]:
                        rec.segments += 1
                        rec.chars_completed += len(m.get("text", open_seg["text"]))
                        synth_ms += float(m.get("synthesis_ms") or 0)
                        dur_ms += float(m.get("duration_ms") or 0)
                        if rec.segments == 1:
                            rec.first_queue_ms = m.get("queue_ms")
                            rec.first_synthesis_ms = m.get("synthesis_ms")
                        if m.get("batch_size") is not None:
                            rec.batch_sizes.append(int(m["batch_size"]))
                    open_seg = None
                elif kind == "cancelled":
                    cancelled_seen = True
                    rec.cancelled_segments = m.get("segments_dropped")
                    open_seg = None
                elif kind == "session_ended":
                    ended.set()
                    rec.ended_reason = m.get("reason")
                    if state["cancel_sent"] is not None and not cancelled_seen:
                        late_no_session = 2  # our cancel and end_session each get `no_session`
                        rec.barge_late = True
                    break
                elif kind == "error":
                    code = str(m.get("code"))
                    rec.error(code)
                    if not got_started:
                        failed = code        # refused (capacity, shutting_down, bad config)
                        break
        # After a late barge-in, the server answers our cancel and end_session
        # with `no_session`; read them so the next turn starts clean.
        if late_no_session:
            async with asyncio.timeout(5):
                while late_no_session:
                    raw = await ws.recv()
                    if isinstance(raw, str):
                        m = json.loads(raw)
                        if m.get("type") == "error" and m.get("code") == "no_session":
                            late_no_session -= 1
                        elif m.get("type") == "error":
                            rec.error(str(m.get("code")))
    except TimeoutError:
        if not ended.is_set():
            failed = "timeout"
            rec.error("timeout")
        else:
            failed = "drain_timeout"
            rec.error("drain_timeout")
    except ConnectionClosed:
        failed = "connection_closed"
        rec.error("connection_closed")
    finally:
        ended.set()
        stop_sending.set()
        for task in (barge_task, sender_task):
            if task is not None and not task.done():
                task.cancel()
        for task in (barge_task, sender_task):
            if task is not None:
                try:
                    await task
                except (asyncio.CancelledError, ConnectionClosed):
                    pass
                except Exception as e:  # noqa: BLE001 - recorded, the turn goes on being measured
                    rec.error(f"client_{type(e).__name__}")
                    failed = failed or "client_error"
    t_done = time.perf_counter()

    if send_times:
        t0 = send_times[0]
        rec.t_start_s = t0 - level_t0
        rec.duration_s = t_done - t0
        if t_first is not None:
            rec.ttfa_ms = (t_first - t0) * 1000
            rec.ttla_ms = (t_last - t0) * 1000
            if t_end_sent and state["cancel_sent"] is None:
                rec.last_audio_after_end_ms = (t_last - t_end_sent[0]) * 1000
            if rec.first_segment_text:
                cut, last = _first_segment_complete_index(plan.text, plan.tokens, rec.first_segment_text)
                t_cut = None
                if cut is not None and cut < len(send_times):
                    t_cut = send_times[cut]
                elif cut is None and t_end_sent and len(send_times) == len(plan.tokens):
                    t_cut = t_end_sent[0]   # the segment ran to the end of the reply: end_session cut it
                if t_cut is not None:
                    rec.ttfa_sentence_ms = (t_first - t_cut) * 1000
                if last is not None and last < len(send_times):
                    rec.ttfa_terminator_ms = (t_first - send_times[last]) * 1000
    if dur_ms > 0:
        rec.rtf = synth_ms / dur_ms
    rec.cancel_sent = state["cancel_sent"] is not None
    if t_first is not None:
        rec.playback_end_s = min(dry_at, state["t_barge"])
    rec.ok = failed is None and rec.ended_reason == "completed" and not rec.errors
    if failed is not None:
        raise _TurnError(rec, failed)
    return rec


class _TurnError(Exception):
    def __init__(self, record: TurnRecord, code: str) -> None:
        super().__init__(code)
        self.record = record
        self.code = code


# ---------------------------------------------------------------------------
# Agents and levels


async def _open(url: str, cfg: LoadConfig) -> ClientConnection:
    return await connect(url, compression=None, proxy=None, open_timeout=cfg.connect_timeout_s,
                         close_timeout=2, ping_interval=None, max_size=2**24, max_queue=4096)


async def _close(ws: ClientConnection | None) -> None:
    if ws is None:
        return
    try:
        await asyncio.wait_for(ws.close(), 3)
    except Exception:  # noqa: BLE001 - closing is best effort
        pass


async def run_agent(url: str, agent: int, sessions: int, cfg: LoadConfig, level_t0: float, deadline: float,
                    run_id: str, records: list[TurnRecord]) -> None:
    rng = random.Random(f"{cfg.seed}/{agent}")
    start_delay = rng.uniform(0, cfg.stagger())
    await asyncio.sleep(start_delay)
    ws: ClientConnection | None = None
    try:
        for turn in range(cfg.turns):
            plan = plan_turn(rng, cfg, agent, turn)
            if turn > 0 and time.perf_counter() >= deadline:
                break
            if ws is None:
                try:
                    ws = await _open(url, cfg)
                except Exception as e:  # noqa: BLE001 - a refused connection is a measured outcome
                    rec = TurnRecord(agent, turn, sessions, plan.lang, plan.voice, "", tokens=len(plan.tokens),
                                     chars_sent=0, sentences=len(plan.sentences))
                    rec.t_start_s = time.perf_counter() - level_t0
                    rec.error("connect_failed" if not isinstance(e, TimeoutError) else "connect_timeout")
                    records.append(rec)
                    await asyncio.sleep(plan.think_s)
                    continue
            try:
                rec = await run_turn(ws, plan, cfg, sessions, level_t0, run_id)
            except _TurnError as e:
                rec = e.record
                await _close(ws)
                ws = None
            records.append(rec)
            if turn + 1 >= cfg.turns:
                break
            pause = plan.think_s
            if cfg.wait_playback and rec.playback_end_s is not None:
                pause += max(0.0, rec.playback_end_s - time.perf_counter())
            if time.perf_counter() + pause >= deadline:
                break
            await asyncio.sleep(pause)
    finally:
        await _close(ws)


def _stats(values: list[float | None], digits: int = 2) -> dict | None:
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return None
    p50, p95, p99 = np.percentile(v, [50, 95, 99])
    r = lambda x: round(float(x), digits)  # noqa: E731
    return {"n": int(v.size), "p50": r(p50), "p95": r(p95), "p99": r(p99), "mean": r(v.mean()), "min": r(v.min()),
            "max": r(v.max())}


def summarize(records: list[TurnRecord], sessions: int, wall_s: float) -> dict:
    errors: dict[str, int] = {}
    for r in records:
        for code, n in r.errors.items():
            errors[code] = errors.get(code, 0) + n
    measured = [r for r in records if r.ttfa_ms is not None]
    chars_done = sum(r.chars_completed for r in records)
    audio_s = sum(r.audio_ms for r in records) / 1000
    batch = [b for r in records for b in r.batch_sizes]
    return {
        "sessions": sessions,
        "turns": len(records),
        "turns_ok": sum(r.ok for r in records),
        "turns_with_audio": len(measured),
        "barge_ins": sum(r.barge_in for r in records),
        "cancels_sent": sum(r.cancel_sent for r in records),
        "barge_late": sum(r.barge_late for r in records),
        "wall_s": round(wall_s, 3),
        "ttfa_ms": _stats([r.ttfa_ms for r in records]),
        "ttfa_sentence_ms": _stats([r.ttfa_sentence_ms for r in records]),
        "ttfa_terminator_ms": _stats([r.ttfa_terminator_ms for r in records]),
        "ttla_ms": _stats([r.ttla_ms for r in records]),
        "last_audio_after_end_ms": _stats([r.last_audio_after_end_ms for r in records]),
        "underruns": {
            "events": sum(r.underruns for r in records),
            "ms": round(sum(r.underrun_ms for r in records), 1),
            "turns_with_underrun": sum(r.underruns > 0 for r in measured),
            "events_per_turn": round(sum(r.underruns for r in measured) / len(measured), 3) if measured else None,
            "ms_per_turn": _stats([r.underrun_ms for r in measured]),
        },
        "rtf": _stats([r.rtf for r in records], digits=5),
        "first_segment_queue_ms": _stats([r.first_queue_ms for r in records]),
        "first_segment_synthesis_ms": _stats([r.first_synthesis_ms for r in records]),
        "batch_size_mean": round(float(np.mean(batch)), 3) if batch else None,
        "chars_sent": sum(r.chars_sent for r in records),
        "chars_completed": chars_done,
        "chars_per_s": round(chars_done / wall_s, 2) if wall_s > 0 else None,
        "audio_s": round(audio_s, 3),
        "audio_s_per_s": round(audio_s / wall_s, 3) if wall_s > 0 else None,
        "errors": errors,
    }


async def run_level_async(url: str, sessions: int, cfg: LoadConfig) -> tuple[dict, list[TurnRecord]]:
    records: list[TurnRecord] = []
    run_id = uuid.uuid4().hex[:8]
    t0 = time.perf_counter()
    deadline = t0 + cfg.duration_s
    tasks = [asyncio.create_task(run_agent(url, a, sessions, cfg, t0, deadline, run_id, records))
             for a in range(sessions)]
    # Hard bound: every agent stops starting turns at the deadline; a running
    # turn ends within turn_timeout_s; the rest is connect/close slack.
    hard = cfg.duration_s + cfg.stagger() + cfg.turn_timeout_s + cfg.think_s[1] + 2 * cfg.connect_timeout_s + 30
    done, pending = await asyncio.wait(tasks, timeout=hard)
    for task in pending:
        task.cancel()
    for task in pending:
        try:
            await task
        except BaseException:  # noqa: BLE001
            pass
    for task in done:
        if task.exception() is not None:
            raise task.exception()
    ends = [r.t_start_s + r.duration_s for r in records if r.duration_s > 0]
    wall = max(ends) if ends else time.perf_counter() - t0
    records.sort(key=lambda r: (r.agent, r.turn))
    summary = summarize(records, sessions, wall)
    if pending:
        summary["errors"]["agent_killed"] = len(pending)
    return summary, records


def run_level(url: str, sessions: int, cfg: LoadConfig) -> tuple[dict, list[TurnRecord]]:
    return asyncio.run(run_level_async(url, sessions, cfg))


def saturated(summary: dict, stop_p95_ms: float | None) -> bool:
    if stop_p95_ms is None:
        return False
    s = summary.get("ttfa_ms")
    if s is None:
        return summary["turns"] > 0   # nothing got audio at all
    return s["p95"] > stop_p95_ms


def level_line(summary: dict) -> str:
    def g(key: str, p: str) -> str:
        s = summary.get(key)
        return "-" if not s else f"{s[p]:.0f}"
    u = summary["underruns"]
    return (f"N={summary['sessions']:<3} turns={summary['turns']:<4} ok={summary['turns_ok']:<4} "
            f"TTFA p50/p95={g('ttfa_ms', 'p50')}/{g('ttfa_ms', 'p95')} ms  "
            f"after-sentence p50/p95={g('ttfa_sentence_ms', 'p50')}/{g('ttfa_sentence_ms', 'p95')} ms  "
            f"underruns={u['events']} ({u['ms']:.0f} ms)  chars/s={summary['chars_per_s']}  "
            f"errors={summary['errors'] or 0}")


# ---------------------------------------------------------------------------
# Plot


def plot(modes: dict[str, list[dict]], path: Path, floors: dict[str, float | None] | None = None,
         title: str = "") -> None:
    """TTFA (after the first sentence) p50/p95, underruns and chars/s against N,
    one line per mode; `floors` ({label: ms}) draws engine-only latencies."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    stall_ax = axes[1].twinx()
    colors = ["tab:blue", "tab:red", "tab:green", "tab:purple"]
    all_n: set[int] = set()
    for (name, levels), color in zip(modes.items(), colors):
        levels = [lv for lv in levels if lv.get("ttfa_sentence_ms")]
        if not levels:
            continue
        n = [lv["sessions"] for lv in levels]
        all_n.update(n)
        axes[0].plot(n, [lv["ttfa_sentence_ms"]["p50"] for lv in levels], "o-", color=color, label=f"{name} p50")
        axes[0].plot(n, [lv["ttfa_sentence_ms"]["p95"] for lv in levels], "s--", color=color, label=f"{name} p95")
        axes[1].plot(n, [lv["underruns"]["events_per_turn"] or 0 for lv in levels], "o-", color=color,
                     label=f"{name}: events/turn")
        stall_ax.plot(n, [(lv["underruns"]["ms_per_turn"] or {}).get("mean", 0) / 1000 for lv in levels], "s:",
                      color=color, label=f"{name}: stall s/turn (right)")
        axes[2].plot(n, [lv["chars_per_s"] or 0 for lv in levels], "o-", color=color, label=name)
    for (label, ms), style in zip((floors or {}).items(), (":", "-.", "--")):
        if ms is not None:
            axes[0].axhline(ms, color="black", linestyle=style, linewidth=1, label=f"{label} ({ms:.0f} ms)")
    axes[0].set_title("TTFA after the first sentence is complete (ms)")
    axes[0].set_yscale("log")
    axes[0].yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes[0].yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axes[0].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[1].set_title("playback underruns per turn")
    axes[1].set_ylabel("events per turn")
    stall_ax.set_ylabel("stalled seconds per turn")
    stall_ax.set_ylim(bottom=0)
    axes[1].set_ylim(bottom=0)
    axes[2].set_title("aggregate chars/s (audio fully received)")
    ticks = sorted(all_n)
    for ax in axes:
        ax.set_xscale("log", base=2)
        if ticks:
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
        ax.set_xlabel("concurrent sessions N")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    h1, l1 = axes[1].get_legend_handles_labels()
    h2, l2 = stall_ax.get_legend_handles_labels()
    axes[1].legend(h1 + h2, l1 + l2, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------
# CLI


def _pair(text: str, kind: type = float) -> tuple:
    parts = [kind(x) for x in text.split(",")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or parts[0] > parts[1]:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX (or one value), got {text!r}")
    return tuple(parts)


def _int_list(text: str) -> list[int]:
    values = [int(x) for x in text.split(",") if x.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 1,4,16, got {text!r}")
    return values


def add_load_args(p: argparse.ArgumentParser, turns: bool = True) -> None:
    """The workload options, shared with bench/service_bench.py (which sets
    turns and duration per level itself: turns=False)."""
    d = LoadConfig()
    if turns:
        p.add_argument("--turns", type=int, default=d.turns, help="turns per agent (max)")
        p.add_argument("--duration", type=float, default=d.duration_s,
                       help="seconds per level after which no agent starts a new turn")
    p.add_argument("--tokens-per-s", type=float, default=d.tokens_per_s, help="LLM token rate per session")
    p.add_argument("--think", type=_pair, default=d.think_s, help="pause between turns, MIN,MAX seconds")
    p.add_argument("--sentences", type=lambda s: _pair(s, int), default=d.sentences,
                   help="sentences per reply, MIN,MAX")
    p.add_argument("--langs", default=",".join(d.langs), help="languages to draw replies from")
    p.add_argument("--voices", default=",".join(d.voices), help="voices, agent i uses voices[i %% len]")
    p.add_argument("--barge-in", type=float, default=d.barge_in, help="probability that a turn is interrupted")
    p.add_argument("--barge-delay", type=_pair, default=d.barge_delay_s,
                   help="cancel this long after the first audio, MIN,MAX seconds")
    p.add_argument("--wait-playback", action=argparse.BooleanOptionalAction, default=d.wait_playback,
                   help="start the think pause when the simulated playback ends (a listener), not when the "
                        "last audio arrived")
    p.add_argument("--stagger", type=float, default=None, help="agents start uniformly in [0, S] (default: think max)")
    p.add_argument("--turn-timeout", type=float, default=d.turn_timeout_s)
    p.add_argument("--underrun-threshold-ms", type=float, default=d.underrun_threshold_ms)
    p.add_argument("--steps", type=int, default=None, help="num_inference_steps to request (default: the server's)")
    p.add_argument("--seed", type=int, default=d.seed)


def config_from_args(a: argparse.Namespace) -> LoadConfig:
    langs = tuple(x for x in a.langs.split(",") if x)
    bad = [x for x in langs if x not in CORPUS]
    if bad:
        raise SystemExit(f"--langs: no corpus for {bad}; choose from {list(CORPUS)}")
    if a.tokens_per_s <= 0:
        raise SystemExit("--tokens-per-s must be > 0")
    d = LoadConfig()
    return LoadConfig(turns=getattr(a, "turns", d.turns), duration_s=getattr(a, "duration", d.duration_s),
                      tokens_per_s=a.tokens_per_s, think_s=a.think,
                      sentences=a.sentences, langs=langs, voices=tuple(x for x in a.voices.split(",") if x),
                      barge_in=a.barge_in, barge_delay_s=a.barge_delay, wait_playback=a.wait_playback,
                      stagger_s=a.stagger, turn_timeout_s=a.turn_timeout,
                      underrun_threshold_ms=a.underrun_threshold_ms, seed=a.seed, steps=a.steps)


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpus": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "python": platform.python_version()}
    try:
        info["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="ws://127.0.0.1:8000/ws/tts")
    p.add_argument("--sessions", type=_int_list, default=[1], help="levels of N, e.g. 1,2,4,8")
    p.add_argument("--stop-p95-ms", type=float, default=None,
                   help="skip the higher levels once TTFA p95 (from the first token) exceeds this")
    p.add_argument("--out", default="-", help="JSON output file ('-': standard output)")
    p.add_argument("--png", type=Path, default=None, help="also plot TTFA/underruns/chars/s against N")
    p.add_argument("--raw", action="store_true", help="include every turn's record")
    add_load_args(p)
    a = p.parse_args(argv)
    cfg = config_from_args(a)

    levels, raw = [], {}
    for n in a.sessions:
        summary, records = run_level(a.url, n, cfg)
        print(level_line(summary), file=sys.stderr, flush=True)
        levels.append(summary)
        if a.raw:
            raw[str(n)] = [r.export() for r in records]
        if saturated(summary, a.stop_p95_ms):
            print(f"saturated at N={n} (TTFA p95 > {a.stop_p95_ms:.0f} ms); stopping", file=sys.stderr)
            break
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
        "url": a.url,
        "machine": machine_info(),
        "config": cfg.to_json(),
        "levels": levels,
    }
    if a.raw:
        report["raw"] = raw
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if a.out == "-":
        sys.stdout.write(text)
    else:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
        print(f"wrote {a.out}", file=sys.stderr)
    if a.png:
        plot({"server": levels}, a.png, title=a.url)
        print(f"wrote {a.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
