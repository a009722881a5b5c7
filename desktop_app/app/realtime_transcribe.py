"""`sayso transcribe FILE --transport realtime [--fast]`: the file goes through the same Realtime session
code as live dictation, paced like a microphone (or as fast as the socket takes it with ``--fast``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from desktop_app.audio.encode import decode_file
from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import NoApiKey, RealtimeUnavailable, SaysoError
from desktop_app.core.models import SAMPLE_RATE, SAMPLE_WIDTH, TranscriptDelta, TranscriptionOptions
from desktop_app.core.settings import Settings
from desktop_app.core.transcript_text import join_transcripts, keywords_from_setting
from desktop_app.providers.openai_realtime_stt import OpenAIRealtimeTranscriber
from desktop_app.services.credentials import Credentials

CHUNK_MS = 40
FINISH_GRACE_S = 60.0


def wants_realtime(args: argparse.Namespace, settings: Settings) -> bool:
    """``--transport realtime``, or no ``--transport`` and the dictation setting says realtime (unless
    the run is meant to stay on this computer)."""
    transport = getattr(args, "transport", None)
    if transport:
        return bool(transport == "realtime")
    engine = getattr(args, "engine", None) or settings.dictation.engine
    return settings.dictation.transport == "realtime" and engine != "local"


def transcribe_file_realtime(args: argparse.Namespace, settings: Settings, credentials: Credentials) -> int:
    """Stream ``args.file`` through a realtime session; completed utterances go to stdout in order."""
    fmt = getattr(args, "format", "text")
    if fmt not in ("text", "json"):
        _err(f"The realtime transport gives plain text only; for {fmt} use --transport rest.")
        return 2
    model = args.model or settings.dictation.realtime_model
    options = TranscriptionOptions(model=model, language=args.language or settings.dictation.language,
                                   prompt=settings.dictation.prompt,
                                   keywords=keywords_from_setting(settings.dictation.keywords))
    cancel = CancelToken()
    printed: list[str] = []

    def on_completed(delta: TranscriptDelta) -> None:
        if fmt == "text":
            sys.stdout.write((" " if printed else "") + delta.text.strip())
            sys.stdout.flush()
        printed.append(delta.text)

    try:
        config = credentials.api_config(settings)
        if not config.api_key:
            raise NoApiKey("No API key is set, and the realtime transport needs one.",
                           hint="Set one with `sayso key set`, or export OPENAI_API_KEY.")
        pcm = decode_file(args.file)
        transcriber = OpenAIRealtimeTranscriber.from_settings(config, settings.dictation)
        session = transcriber.open(options, lambda _delta: None, on_completed, cancel, server_vad=True)
        try:
            _pump(session.append, pcm.data, cancel, paced=not getattr(args, "fast", False))
            session.commit()
            texts = session.finish(timeout=FINISH_GRACE_S + pcm.duration_s)
        finally:
            session.close()
    except RealtimeUnavailable as exc:
        _err(exc.user_message + " Use --transport rest for this server.")
        return 1
    except SaysoError as exc:
        _err(exc.full_message())
        return 1
    except KeyboardInterrupt:
        cancel.cancel()
        return 130
    if fmt == "text":
        sys.stdout.write("\n")
    else:
        print(json.dumps({"text": join_transcripts(texts), "model": model, "transport": "realtime",
                          "duration_s": round(pcm.duration_s, 3), "utterances": len(texts)},
                         ensure_ascii=False))
    return 0


def _pump(append: Callable[[bytes], None], data: bytes, cancel: CancelToken, *, paced: bool) -> None:
    """Feed ``data`` in 40 ms chunks; paced: no faster than real time, like a microphone would."""
    chunk = CHUNK_MS * SAMPLE_RATE * SAMPLE_WIDTH // 1000
    started = time.monotonic()
    for index, offset in enumerate(range(0, len(data), chunk)):
        if paced:
            due = started + index * CHUNK_MS / 1000
            if cancel.wait(max(0.0, due - time.monotonic())):
                break
        append(data[offset:offset + chunk])


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
