"""POST /v1/audio/transcriptions and /v1/audio/translations with real recognition behind them."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from . import asr
from .multipart import Form, MultipartError, parse
from .state import Fault, RecordedRequest
from .wire import (
    STATE_KEY,
    TOKEN_BILLED_KEY,
    DroppedConnection,
    SseWriter,
    abort_connection,
    bearer_key,
    compact,
    duration_usage,
    error_response,
    fault_status_response,
    hang_until_client_leaves,
    invalid_value,
    is_authorized,
    json_response,
    missing_parameter,
    model_not_found,
    sse_response,
    text_response,
    unauthorized_response,
)

MAX_REQUEST_BYTES = 26_214_400
AUDIO_EXTENSIONS = ["flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"]
GPT4O_MODELS = {"gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-mini-transcribe-2025-12-15"}
DIARIZE = "gpt-4o-transcribe-diarize"

TRANSCRIBE_FIELDS = {
    "file",
    "model",
    "language",
    "languages",
    "keywords",
    "prompt",
    "response_format",
    "temperature",
    "timestamp_granularities",
    "include",
    "stream",
    "chunking_strategy",
    "known_speaker_names",
    "known_speaker_references",
}
TRANSLATE_FIELDS = {"file", "model", "prompt", "response_format", "temperature"}


def allowed_formats(model: str) -> list[str]:
    """The model/format matrix of the protocol doc, §3.2. Unknown (custom) models get the whisper-1 set."""
    if model in GPT4O_MODELS or model == "gpt-transcribe":
        return ["json"]
    if model == DIARIZE:
        return ["json", "text", "diarized_json"]
    return ["json", "text", "srt", "verbose_json", "vtt"]


def streams(model: str) -> bool:
    return model != "whisper-1"


async def handle_transcriptions(request: web.Request) -> web.StreamResponse:
    return await _handle(request, translate=False)


async def handle_translations(request: web.Request) -> web.StreamResponse:
    return await _handle(request, translate=True)


async def _handle(request: web.Request, *, translate: bool) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    body = await request.read()
    record = RecordedRequest(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        headers=dict(request.headers),
        body_size=len(body),
    )
    state.record(record)
    response = await _respond(request, body, record, translate)
    record.status = response.status
    return response


async def _respond(
    request: web.Request, body: bytes, record: RecordedRequest, translate: bool
) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if not is_authorized(request):
        return unauthorized_response(bearer_key(request))
    fault = state.take_fault("translations" if translate else "transcriptions")
    record.fault = sorted(fault.kinds)
    early = await apply_early_faults(request, fault)
    if early is not None:
        return early
    if len(body) > MAX_REQUEST_BYTES:
        return error_response(
            fault,
            413,
            f"413: Maximum content size limit ({MAX_REQUEST_BYTES}) exceeded ({len(body)} bytes read)",
            type_="server_error",
            extra={"usage": {"type": "duration", "seconds": 0}},
        )
    try:
        form = parse(body, request.headers.get("Content-Type", ""))
    except MultipartError as exc:
        return error_response(fault, 400, f"Could not parse multipart form: {exc}", code="invalid_request")
    record.form = form.fields
    if form.files:
        record.audio = form.files[0].data
        record.audio_filename = form.files[0].filename
        record.audio_content_type = form.files[0].content_type

    problem = validate(form, fault, translate)
    if isinstance(problem, web.Response):
        return problem
    model = problem
    request[TOKEN_BILLED_KEY] = False
    if model not in state.models or fault.has("model_not_found"):
        return model_not_found(fault, model)
    if fault.has("status") or fault.has("insufficient_quota"):
        return fault_status_response(fault, model)

    upload = form.files[0]
    try:
        audio = await asyncio.get_running_loop().run_in_executor(None, asr.decode_upload, upload.data)
    except asr.UndecodableAudio:
        return error_response(
            fault, 400, "Audio file might be corrupted or unsupported", param="file", code="invalid_value"
        )
    language = None if translate else form.first("language")
    transcript = await asyncio.get_running_loop().run_in_executor(
        None, asr.transcribe, audio, language, form.first("prompt")
    )
    response_format = form.first("response_format") or "json"
    want_stream = (form.first("stream") or "false").lower() == "true"
    if want_stream and streams(model) and not translate and not fault.has("plain_json"):
        return await stream_transcript(request, fault, transcript, model, form)
    return render(transcript, model, response_format, form, translate)


async def apply_early_faults(request: web.Request, fault: Fault) -> web.StreamResponse | None:
    """Faults that act before any validation: delay, hang, dropping the connection before the headers."""
    if fault.has("server_delay_s"):
        await asyncio.sleep(float(fault.get("server_delay_s")))
    if fault.has("hang") and fault.get("after") is None:
        await hang_until_client_leaves(request)
    if fault.has("drop_mid_stream") and int(fault.get("after", 2)) == 0:
        response = web.StreamResponse()
        response._req = request  # so abort_connection finds the transport
        abort_connection(response)
        raise DroppedConnection
    return None


def validate(form: Form, fault: Fault, translate: bool) -> web.Response | str:
    """Returns the error response, or the model name when the request is acceptable."""
    known = TRANSLATE_FIELDS if translate else TRANSCRIBE_FIELDS
    for name in sorted(form.base_names()):
        if name not in known:
            return error_response(
                fault, 400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
            )
    if not form.files or form.files[0].field != "file":
        return missing_parameter(fault, "file")
    model = form.first("model")
    if not model:
        return missing_parameter(fault, "model")
    extension = form.files[0].filename.rsplit(".", 1)[-1].lower() if "." in form.files[0].filename else ""
    if extension not in AUDIO_EXTENSIONS:
        return error_response(
            fault,
            400,
            f"Invalid file format. Supported formats: {AUDIO_EXTENSIONS}",
            param="file",
            code="invalid_value",
        )
    if translate and model != "whisper-1":
        return invalid_value(fault, "model", model, ["whisper-1"])
    response_format = form.first("response_format") or "json"
    formats = ["json", "text", "srt", "verbose_json", "vtt"] if translate else allowed_formats(model)
    if response_format not in formats:
        return error_response(
            fault,
            400,
            f"response_format '{response_format}' is not compatible with model '{model}'. "
            f"Use {' or '.join(repr(f) for f in formats)}.",
            param="response_format",
            code="unsupported_value",
        )
    temperature = form.first("temperature")
    if temperature is not None:
        try:
            if not 0.0 <= float(temperature) <= 1.0:
                raise ValueError
        except ValueError:
            return error_response(
                fault,
                400,
                f"Invalid 'temperature': expected a number between 0 and 1, got {temperature}.",
                param="temperature",
                code="invalid_value",
            )
    if translate:
        return model
    language = form.first("language")
    if language is not None and not re.fullmatch(r"[a-z]{2}", language):
        return error_response(
            fault,
            400,
            f"Invalid language '{language}'. Language parameter must be specified in ISO-639-1 format.",
            param="language",
            code="invalid_language_format",
            extra={"usage": {"type": "duration", "seconds": 0}},
        )
    stream = form.first("stream")
    if stream is not None and stream.lower() not in ("true", "false"):
        return error_response(
            fault, 400, f"Invalid value for 'stream': {stream}.", param="stream", code="invalid_value"
        )
    include = form.array("include")
    if include:
        if any(i != "logprobs" for i in include):
            return invalid_value(fault, "include", include[0], ["logprobs"])
        if model not in GPT4O_MODELS or response_format != "json":
            return error_response(
                fault,
                400,
                "include[]=logprobs is only supported with response_format 'json' and the models "
                "gpt-4o-transcribe, gpt-4o-mini-transcribe.",
                param="include",
                code="unsupported_value",
            )
    granularities = form.array("timestamp_granularities")
    if granularities:
        bad = [g for g in granularities if g not in ("word", "segment")]
        if bad:
            return invalid_value(fault, "timestamp_granularities", bad[0], ["word", "segment"])
        if response_format != "verbose_json":
            return error_response(
                fault,
                400,
                "timestamp_granularities is only supported with response_format 'verbose_json'.",
                param="timestamp_granularities",
                code="unsupported_value",
            )
    for only_gpt_transcribe in ("languages", "keywords"):
        if form.array(only_gpt_transcribe) and model != "gpt-transcribe":
            return error_response(
                fault,
                400,
                f"'{only_gpt_transcribe}' is only supported for model 'gpt-transcribe'.",
                param=only_gpt_transcribe,
                code="unsupported_value",
            )
    if model == DIARIZE and form.first("prompt") is not None:
        return error_response(
            fault,
            400,
            f"'prompt' is not supported for model '{DIARIZE}'.",
            param="prompt",
            code="unsupported_value",
        )
    chunking = form.object("chunking_strategy")
    if chunking not in (None, "auto") and (
        not isinstance(chunking, dict) or chunking.get("type") != "server_vad"
    ):
        return invalid_value(fault, "chunking_strategy", chunking, ["auto", "server_vad"])
    return model


def usage_for(model: str, transcript: asr.Transcript, pieces: int) -> dict[str, Any]:
    if model == "whisper-1":
        return duration_usage(transcript.duration)
    return asr.token_usage(transcript, pieces)


def render(
    transcript: asr.Transcript, model: str, response_format: str, form: Form, translate: bool
) -> web.Response:
    pieces = asr.delta_pieces(transcript.text)
    if response_format == "text":
        return text_response(transcript.text + "\n")
    if response_format == "srt":
        return text_response(srt(transcript))
    if response_format == "vtt":
        return text_response(vtt(transcript))
    if response_format == "verbose_json":
        return json_response(verbose_json(transcript, form, translate))
    if response_format == "diarized_json":
        return json_response(diarized_json(transcript, pieces))
    body: dict[str, Any] = {"text": transcript.text}
    if translate:
        return json_response(body)
    if form.array("include"):
        body["logprobs"] = asr.piece_logprobs(transcript, pieces)
    if model == "gpt-transcribe":
        body["languages"] = [{"code": transcript.language}] if transcript.text else []
    body["usage"] = usage_for(model, transcript, len(pieces))
    return json_response(body)


def cues(transcript: asr.Transcript) -> list[tuple[float, float, str]]:
    if not transcript.segments:
        return []
    return [(s.start, s.end, s.text.strip()) for s in transcript.segments]


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt(transcript: asr.Transcript) -> str:
    """Each cue `index\\nstart --> end\\ntext\\n\\n`, plus the one extra trailing newline of the capture."""
    body = "".join(
        f"{i}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n\n"
        for i, (start, end, text) in enumerate(cues(transcript), start=1)
    )
    return body + "\n"


def vtt(transcript: asr.Transcript) -> str:
    return "WEBVTT\n\n" + "".join(
        f"{_clock(start, '.')} --> {_clock(end, '.')}\n{text}\n\n" for start, end, text in cues(transcript)
    )


def verbose_json(transcript: asr.Transcript, form: Form, translate: bool) -> dict[str, Any]:
    granularities = form.array("timestamp_granularities") or ["segment"]
    body: dict[str, Any] = {
        "task": "translate" if translate else "transcribe",
        "language": asr.language_name(transcript.language),
        "duration": transcript.duration,
        "text": transcript.text,
    }
    if "word" in granularities and not translate:
        body["words"] = [{"word": w.word.strip(), "start": w.start, "end": w.end} for w in transcript.words]
    if "segment" in granularities:
        body["segments"] = [
            {
                "id": s.id,
                "seek": s.seek,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": s.tokens,
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in transcript.segments
        ]
    if not translate:
        body["usage"] = duration_usage(transcript.duration)
    return body


def diarized_json(transcript: asr.Transcript, pieces: list[str]) -> dict[str, Any]:
    """One speaker ("A") per recognised segment: the model has no diarization, but the shape is right."""
    return {
        "text": transcript.text,
        "segments": [
            {
                "type": "transcript.text.segment",
                "text": s.text,
                "speaker": "A",
                "start": s.start,
                "end": s.end,
                "id": f"seg_{s.id}",
            }
            for s in transcript.segments
        ],
        "usage": asr.token_usage(transcript, len(pieces)),
    }


async def stream_transcript(
    request: web.Request, fault: Fault, transcript: asr.Transcript, model: str, form: Form
) -> web.StreamResponse:
    response = sse_response()
    await response.prepare(request)
    sse = SseWriter(response, fault)
    pieces = asr.delta_pieces(transcript.text)
    logprobs = asr.piece_logprobs(transcript, pieces) if form.array("include") else None
    if model == DIARIZE and (form.first("response_format") == "diarized_json"):
        for s in transcript.segments:
            await sse.event(
                {
                    "type": "transcript.text.segment",
                    "text": s.text,
                    "speaker": "A",
                    "start": s.start,
                    "end": s.end,
                    "id": f"seg_{s.id}",
                }
            )
    else:
        for index, piece in enumerate(pieces):
            event: dict[str, Any] = {"type": "transcript.text.delta", "delta": piece}
            if logprobs is not None:
                event["logprobs"] = [logprobs[index]]
            await sse.event(event)
            # Spread the deltas so a client really sees a stream (slow_stream: a slow server).
            await asyncio.sleep(float(fault.get("delta_gap_s", 0.2)) if fault.has("slow_stream") else 0.005)
    if fault.has("slow_stream"):
        await asyncio.sleep(float(fault.get("done_delay_s", 0.0)))
    final_text = str(fault.get("text", "")) if fault.has("done_text") else transcript.text
    done: dict[str, Any] = {"type": "transcript.text.done", "text": final_text}
    if logprobs is not None:
        done["logprobs"] = logprobs
    if model == "gpt-transcribe":
        done["languages"] = [{"code": transcript.language}] if transcript.text else []
    done["usage"] = asr.token_usage(transcript, len(pieces))
    await sse.event(done)
    await sse.finish()
    return response


__all__ = ["compact", "handle_transcriptions", "handle_translations"]
