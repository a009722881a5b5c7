"""POST /v1/audio/speech: espeak-ng speech as a chunked body or as SSE."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from aiohttp import web

from . import tts
from .state import Fault, RecordedRequest
from .transcriptions import apply_early_faults
from .wire import (
    STATE_KEY,
    TOKEN_BILLED_KEY,
    DroppedConnection,
    SseWriter,
    bearer_key,
    before_chunk,
    error_response,
    fault_status_response,
    invalid_value,
    is_authorized,
    missing_parameter,
    model_not_found,
    sse_response,
    unauthorized_response,
)

MAX_INPUT_CHARS = 4096
CHUNK_BYTES = 4096
FIELDS = {"model", "input", "voice", "instructions", "response_format", "speed", "stream_format"}
FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
CLASSIC_MODELS = {"tts-1", "tts-1-hd"}
CLASSIC_VOICES = ["alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer"]
ALL_VOICES = [*CLASSIC_VOICES, "ballad", "verse", "marin", "cedar"]
TOKEN_BILLED = {"gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"}

INVALID_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you "
    "have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)


async def handle_speech(request: web.Request) -> web.StreamResponse:
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
    try:
        response = await _respond(request, body, record)
    except DroppedConnection:
        record.status = -1
        raise
    record.status = response.status
    return response


async def _respond(request: web.Request, body: bytes, record: RecordedRequest) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if not is_authorized(request):
        return unauthorized_response(bearer_key(request))
    fault = state.take_fault("speech")
    record.fault = sorted(fault.kinds)
    early = await apply_early_faults(request, fault)
    if early is not None:
        return early
    try:
        params = json.loads(body)
        if not isinstance(params, dict):
            raise ValueError
    except ValueError:
        return error_response(fault, 400, INVALID_JSON)
    record.json = params
    problem = validate(params, fault)
    if problem is not None:
        return problem
    model = str(params["model"])
    request[TOKEN_BILLED_KEY] = model in TOKEN_BILLED
    if model not in state.models or fault.has("model_not_found"):
        return model_not_found(fault, model)
    if fault.has("status") or fault.has("insufficient_quota"):
        return fault_status_response(fault, model)

    voice = params["voice"] if isinstance(params["voice"], str) else "alloy"
    speed = float(params.get("speed", 1.0))
    pcm = await asyncio.get_running_loop().run_in_executor(
        None, tts.synthesize, params["input"], voice, speed
    )
    response_format = params.get("response_format", "mp3")
    if response_format in ("pcm", "wav"):
        header = (
            b"" if response_format == "pcm" else tts.wav_header(len(pcm) if fault.has("wav_sized") else None)
        )
        encoded = header + pcm
    else:
        encoded = await asyncio.get_running_loop().run_in_executor(None, tts.encode, pcm, response_format)
    if params.get("stream_format", "audio") == "sse":
        return await stream_sse(request, fault, encoded, params["input"], len(pcm))
    return await stream_audio(request, fault, encoded, tts.CONTENT_TYPES[response_format])


def validate(params: dict[str, Any], fault: Fault) -> web.Response | None:
    for name in params:
        if name not in FIELDS:
            return error_response(
                fault, 400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
            )
    for name in ("model", "input", "voice"):
        if params.get(name) in (None, ""):
            return missing_parameter(fault, name)
    model, text, voice = params["model"], params["input"], params["voice"]
    if not isinstance(model, str):
        return error_response(
            fault, 400, "Invalid type for 'model': expected a string.", param="model", code="invalid_type"
        )
    if not isinstance(text, str):
        return error_response(
            fault, 400, "Invalid type for 'input': expected a string.", param="input", code="invalid_type"
        )
    if len(text) > MAX_INPUT_CHARS:
        return error_response(
            fault,
            400,
            f"Invalid 'input': string too long. Expected a string with maximum length {MAX_INPUT_CHARS}, "
            f"but got a string with length {len(text)} instead.",
            param="input",
            code="string_above_max_length",
        )
    instructions = params.get("instructions")
    if instructions is not None and (
        not isinstance(instructions, str) or len(instructions) > MAX_INPUT_CHARS
    ):
        return error_response(
            fault,
            400,
            "Invalid 'instructions': string too long.",
            param="instructions",
            code="string_above_max_length",
        )
    if isinstance(voice, dict):
        if not str(voice.get("id", "")).startswith("voice_"):
            return invalid_value(fault, "voice", voice, ALL_VOICES)
    else:
        voices = CLASSIC_VOICES if model in CLASSIC_MODELS else ALL_VOICES
        if voice not in voices:
            return invalid_value(fault, "voice", voice, voices)
    response_format = params.get("response_format", "mp3")
    if response_format not in FORMATS:
        return invalid_value(fault, "response_format", response_format, FORMATS)
    speed = params.get("speed", 1.0)
    if not isinstance(speed, (int, float)) or isinstance(speed, bool):
        return error_response(
            fault, 400, "Invalid type for 'speed': expected a number.", param="speed", code="invalid_type"
        )
    if speed < 0.25:
        return error_response(
            fault,
            400,
            f"Invalid 'speed': decimal below minimum value. Expected a value >= "
            f"0.25, but got {speed} instead.",
            param="speed",
            code="decimal_below_min_value",
        )
    if speed > 4.0:
        return error_response(
            fault,
            400,
            f"Invalid 'speed': decimal above maximum value. Expected a value <= 4, but got {speed} instead.",
            param="speed",
            code="decimal_above_max_value",
        )
    stream_format = params.get("stream_format", "audio")
    if stream_format not in ("audio", "sse"):
        return invalid_value(fault, "stream_format", stream_format, ["audio", "sse"])
    if stream_format == "sse" and model in CLASSIC_MODELS:
        return error_response(
            fault,
            400,
            f"stream_format 'sse' is not supported for model '{model}'.",
            param="stream_format",
            code="unsupported_value",
        )
    return None


async def stream_audio(
    request: web.Request, fault: Fault, data: bytes, content_type: str
) -> web.StreamResponse:
    """Chunked body, no Content-Length, written in 4 KB pieces with tiny pauses so it really streams."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for sent, start in enumerate(range(0, len(data), CHUNK_BYTES)):
        await before_chunk(response, fault, sent)
        await response.write(data[start : start + CHUNK_BYTES])
        await asyncio.sleep(0.002)
    await response.write_eof()
    return response


async def stream_sse(
    request: web.Request, fault: Fault, data: bytes, text: str, pcm_bytes: int
) -> web.StreamResponse:
    response = sse_response()
    await response.prepare(request)
    sse = SseWriter(response, fault)
    for start in range(0, len(data), CHUNK_BYTES):
        chunk = base64.b64encode(data[start : start + CHUNK_BYTES]).decode()
        await sse.event({"type": "speech.audio.delta", "audio": chunk})
        await asyncio.sleep(0.002)
    input_tokens = max(1, len(text) // 4)
    output_tokens = max(1, round(pcm_bytes / 48000 * 20))  # about 20 audio tokens per second
    await sse.event(
        {
            "type": "speech.audio.done",
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
        }
    )
    await sse.finish()
    return response
