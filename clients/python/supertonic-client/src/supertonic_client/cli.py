"""``supertonic-say``: text to a WAV file through a running Supertonic TTS service.

    supertonic-say --url ws://localhost:8000/ws/tts --voice F1 --lang en "Hello there." -o out.wav
    supertonic-say --voice "F1:0.5+F2:0.5" --lang en "A blend of two voices." -o out.wav
    echo "Olá, tudo bem?" | supertonic-say --lang pt -o out.wav
    supertonic-say --list-voices

The text comes from the arguments or, when there are none (or it is ``-``),
from standard input. Exit status: 0 written, 1 refused or failed by the server,
2 bad usage, 3 the service could not be reached or the connection broke.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys

from .client import DEFAULT_URL, SUPPORTED_SAMPLE_RATES, synthesize
from .errors import ServerError, SupertonicError, TransportError
from .voices import list_voices


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="supertonic-say",
        description="Synthesize text into a WAV file with a Supertonic TTS service.")
    p.add_argument("text", nargs="*", help="text to speak (default: standard input)")
    p.add_argument("-o", "--output", help="WAV file to write ('-' for stdout); required unless --list-voices")
    p.add_argument("--list-voices", action="store_true",
                   help="print the server's voices (name, model, origin) and exit")
    p.add_argument("--url", default=os.environ.get("SUPERTONIC_TTS_URL", DEFAULT_URL),
                   help="service WebSocket URL (default: $SUPERTONIC_TTS_URL or %(default)s)")
    p.add_argument("--model", help="which of the server's models, e.g. supertonic-3 (default: its first)")
    p.add_argument("--voice", help="voice, e.g. F1..F5, M1..M5, an uploaded one, or a blend such as "
                                   "\"F1:0.7+M2:0.3\" (default: the server's)")
    p.add_argument("--lang", dest="lang_code",
                   help="language: en ko es pt fr; supertonic-3 also de ja ru it vi ... and na "
                        "(default: the server's)")
    p.add_argument("--sample-rate", type=int, choices=SUPPORTED_SAMPLE_RATES,
                   help="output sample rate in Hz (default: the server's, 24000)")
    p.add_argument("--speed", type=float, help="speaking rate, 0.5-2.0")
    p.add_argument("--steps", dest="num_inference_steps", type=int,
                   help="flow-matching steps, 1-32 (2 fastest, 5 quality)")
    p.add_argument("--token", default=os.environ.get("SUPERTONIC_TTS_TOKEN"),
                   help="bearer token (default: $SUPERTONIC_TTS_TOKEN)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="longest wait for the next message from the server, seconds")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    return p


def _list_voices(args: argparse.Namespace) -> int:
    try:
        voices = asyncio.run(list_voices(args.url, token=args.token, model=args.model, timeout=args.timeout))
    except TransportError as e:
        print(f"supertonic-say: {e}", file=sys.stderr)
        return 3
    except SupertonicError as e:
        print(f"supertonic-say: {e}", file=sys.stderr)
        return 1
    width = max((len(v.name) for v in voices), default=4)
    for v in voices:
        print(f"{v.name:<{width}}  {v.model}  {v.origin}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list_voices:
        return _list_voices(args)
    if not args.output:
        parser.error("the following arguments are required: -o/--output")
    if not args.text or args.text == ["-"]:
        text = sys.stdin.read()
    else:
        text = " ".join(args.text)
    if not text.strip():
        print("supertonic-say: no text to speak", file=sys.stderr)
        return 2

    options = {k: getattr(args, k) for k in ("model", "voice", "lang_code", "sample_rate", "speed",
                                             "num_inference_steps")
               if getattr(args, k) is not None}
    try:
        result = asyncio.run(synthesize(text, url=args.url, token=args.token,
                                        timeout=args.timeout, **options))
    except TransportError as e:
        print(f"supertonic-say: {e}", file=sys.stderr)
        return 3
    except ServerError as e:
        print(f"supertonic-say: the server refused: {e.code}: {e.message}", file=sys.stderr)
        return 1
    except SupertonicError as e:
        print(f"supertonic-say: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

    if args.output == "-":
        result.write_wav(sys.stdout.buffer)
    else:
        result.write_wav(args.output)
    if not args.quiet:
        started = result.started
        ttfa = (f", first audio after {result.time_to_first_audio * 1000:.0f} ms"
                if result.time_to_first_audio is not None else "")
        print(f"supertonic-say: {args.output}: {result.duration_s:.2f} s at {result.sample_rate} Hz, "
              f"{len(result.segments)} segment(s), voice "
              f"{(started.resolved_voice or started.voice) if started else '?'}, "
              f"lang {started.lang_code if started else '?'}{ttfa}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
