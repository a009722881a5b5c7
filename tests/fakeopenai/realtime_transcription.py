"""Realtime transcription sessions (`/v1/realtime?intent=transcription`, GA shape, protocol doc §6).

A realtime fault with the `canned_transcript` parameter (for example `add_fault("realtime", times=None,
server_delay_s=0, canned_transcript="…")`) answers every commit with that text at once instead of running
the speech model: a server that finalizes instantly, for benchmarks of the client's own overhead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import secrets
from typing import Any

import numpy as np

from . import asr
from .realtime_common import BETA_MESSAGE, CLOSE_BETA_REFUSED, SessionBase, unknown_keys
from .wire import duration_usage, new_id

RATE = 24000
MIN_COMMIT_MS = 100
VAD_FRAME_MS = 20
TRANSCRIPTION_MODELS = {
    "whisper-1",
    "gpt-transcribe",
    "gpt-live-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-4o-transcribe",
    "gpt-4o-transcribe-diarize",
    "gpt-realtime-whisper",
}
SUPPORTED_EVENTS = [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
]


def default_turn_detection() -> dict[str, Any]:
    return {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200}


class TranscriptionSession(SessionBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config: dict[str, Any] = {
            "format": {"type": "audio/pcm", "rate": RATE},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": default_turn_detection(),
        }
        self.include: list[str] | None = None
        self.buffer = bytearray()  # audio since the last commit, in the session format
        self.total_ms = 0.0  # all audio appended in this session
        self.previous_item_id: str | None = None
        self.items_committed = 0
        self._vad = VadState()
        self._pending_vad = bytearray()
        self._transcribe_lock = asyncio.Lock()

    # -- session ----------------------------------------------------------------------------------
    def initial_session(self) -> dict[str, Any]:
        return {
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": self.session_id,
            "expires_at": self.created_at + int(self.state.session_max_s),
            "audio": {"input": copy.deepcopy(self.config)},
            "include": self.include,
        }

    async def on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        client_id = event.get("event_id")
        if kind == "transcription_session.update":
            await self.error("beta_api_shape_disabled", BETA_MESSAGE, client_event_id=client_id)
            await self.ws.close(code=CLOSE_BETA_REFUSED, message=b"beta_api_shape_disabled")
        elif kind == "session.update":
            await self.update(event)
        elif kind == "input_audio_buffer.append":
            await self.append(event)
        elif kind == "input_audio_buffer.commit":
            await self.commit(client_id, manual=True)
        elif kind == "input_audio_buffer.clear":
            self.buffer.clear()
            self._vad = VadState()
            await self.send({"type": "input_audio_buffer.cleared"})
        else:
            await self.unknown_event(event, SUPPORTED_EVENTS)

    async def update(self, event: dict[str, Any]) -> None:
        client_id = event.get("event_id")
        session = event.get("session")
        if not isinstance(session, dict):
            await self.error(
                "missing_required_parameter",
                "Missing required parameter: 'session'.",
                client_event_id=client_id,
                param="session",
            )
            return
        if session.get("type") is None:
            await self.error(
                "missing_required_parameter",
                "Missing required parameter: 'session.type'.",
                client_event_id=client_id,
                param="session.type",
            )
            return
        if session["type"] != "transcription":
            await self.error(
                "invalid_value",
                "Passing a realtime session update event to a transcription session is not allowed.",
                client_event_id=client_id,
                param="session.type",
            )
            return
        bad = unknown_keys(session, {"type", "audio", "include"}, "session")
        audio = session.get("audio") or {}
        audio_input = audio.get("input") or {} if isinstance(audio, dict) else {}
        bad = bad or unknown_keys(audio, {"input"}, "session.audio")
        bad = bad or unknown_keys(
            audio_input,
            {"format", "transcription", "noise_reduction", "turn_detection"},
            "session.audio.input",
        )
        if bad:
            await self.error(
                "unknown_parameter", f"Unknown parameter: '{bad}'.", client_event_id=client_id, param=bad
            )
            return
        problem = self._check_input(audio_input)
        if problem:
            await self.error("invalid_value", problem[1], client_event_id=client_id, param=problem[0])
            return
        for key, value in audio_input.items():
            if key == "turn_detection" and isinstance(value, dict):
                value = {**default_turn_detection(), **value}
            self.config[key] = value
        if "include" in session:
            self.include = session["include"]
        await self.send({"type": "session.updated", "session": self.initial_session()})

    def _check_input(self, audio_input: dict[str, Any]) -> tuple[str, str] | None:
        fmt = audio_input.get("format")
        if fmt is not None:
            if not isinstance(fmt, dict) or fmt.get("type") not in ("audio/pcm", "audio/pcmu", "audio/pcma"):
                return "session.audio.input.format", f"Invalid value: '{fmt}'."
            if fmt.get("type") == "audio/pcm" and fmt.get("rate", RATE) != RATE:
                return (
                    "session.audio.input.format.rate",
                    "Invalid value: only a 24000 Hz sample rate is supported.",
                )
        transcription = audio_input.get("transcription")
        if isinstance(transcription, dict):
            model = transcription.get("model")
            if model not in TRANSCRIPTION_MODELS or model not in self.state.models:
                return "session.audio.input.transcription.model", f"Invalid value: '{model}'."
        turn = audio_input.get("turn_detection")
        if turn is not None and (
            not isinstance(turn, dict) or turn.get("type") not in ("server_vad", "semantic_vad")
        ):
            return "session.audio.input.turn_detection.type", f"Invalid value: '{turn}'."
        return None

    # -- audio ------------------------------------------------------------------------------------
    @property
    def bytes_per_ms(self) -> float:
        return 8.0 if self.config["format"].get("type") in ("audio/pcmu", "audio/pcma") else RATE * 2 / 1000

    async def append(self, event: dict[str, Any]) -> None:
        try:
            chunk = base64.b64decode(event.get("audio", ""), validate=True)
        except (binascii.Error, TypeError):
            await self.error(
                "invalid_value",
                "Invalid 'audio': expected base64-encoded audio.",
                client_event_id=event.get("event_id"),
                param="audio",
            )
            return
        self.buffer.extend(chunk)  # no acknowledgement, like the real service
        if self.config["turn_detection"] is not None:
            await self._run_vad(chunk)
        self.total_ms += len(chunk) / self.bytes_per_ms

    async def _run_vad(self, chunk: bytes) -> None:
        """Simple energy VAD over 20 ms frames, standing in for the server's model-based VAD."""
        self._pending_vad.extend(chunk)
        frame_bytes = int(VAD_FRAME_MS * self.bytes_per_ms)
        turn = self.config["turn_detection"]
        rms_threshold = 0.004 + 0.03 * float(turn.get("threshold", 0.5))
        base_ms = self.total_ms - (len(self._pending_vad) - len(chunk)) / self.bytes_per_ms
        offset = 0
        while len(self._pending_vad) - offset >= frame_bytes:
            frame = bytes(self._pending_vad[offset : offset + frame_bytes])
            frame_end_ms = base_ms + (offset + frame_bytes) / self.bytes_per_ms
            offset += frame_bytes
            voiced = frame_rms(frame, self.config["format"].get("type", "audio/pcm")) > rms_threshold
            vad = self._vad
            if voiced:
                vad.last_voiced_ms = frame_end_ms
                if vad.item_id is None:
                    vad.item_id = new_id("item_")
                    start = max(0.0, frame_end_ms - VAD_FRAME_MS - float(turn.get("prefix_padding_ms", 300)))
                    await self.send(
                        {
                            "type": "input_audio_buffer.speech_started",
                            "audio_start_ms": int(start),
                            "item_id": vad.item_id,
                        }
                    )
            elif vad.item_id is not None and frame_end_ms - vad.last_voiced_ms >= float(
                turn.get("silence_duration_ms", 200)
            ):
                item_id = vad.item_id
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": int(vad.last_voiced_ms),
                        "item_id": item_id,
                    }
                )
                self._vad = VadState()
                await self.commit(None, manual=False, item_id=item_id)
        del self._pending_vad[:offset]

    async def commit(self, client_id: str | None, *, manual: bool, item_id: str | None = None) -> None:
        buffered_ms = len(self.buffer) / self.bytes_per_ms
        if buffered_ms < MIN_COMMIT_MS:
            if manual:
                await self.error(
                    "input_audio_buffer_commit_empty",
                    "Error committing input audio buffer: buffer too small. "
                    "Expected at least 100ms of audio, "
                    f"but buffer only has {buffered_ms:.2f}ms of audio.",
                    client_event_id=client_id,
                )
            return
        if item_id is None:
            item_id = self._vad.item_id or new_id("item_")
            self._vad = VadState()
        audio = bytes(self.buffer)
        self.buffer.clear()
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": self.previous_item_id,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": self.previous_item_id, "item": item}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": self.previous_item_id, "item": item}
        )
        self.previous_item_id = item_id
        self.items_committed += 1
        if self.config.get("transcription"):
            self.spawn(self._transcribe(item_id, audio))

    async def _transcribe(self, item_id: str, audio: bytes) -> None:
        async with self._transcribe_lock:  # deltas of one item stay together, items complete in order
            transcription = self.config["transcription"] or {}
            model = transcription.get("model", "gpt-4o-mini-transcribe")
            samples = to_float16k(audio, self.config["format"].get("type", "audio/pcm"))
            if self.fault.has("server_delay_s"):
                await asyncio.sleep(float(self.fault.get("server_delay_s")))
            canned = self.fault.get("canned_transcript")
            if isinstance(canned, str):
                result = asr.Transcript(text=canned, duration=samples.size / asr.SAMPLE_RATE,
                                        language=transcription.get("language") or "en", segments=[])
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(
                    None, asr.transcribe, samples, transcription.get("language"), transcription.get("prompt")
                )
            pieces = [result.text] if model == "whisper-1" and result.text else asr.delta_pieces(result.text)
            with_logprobs = bool(self.include and "item.input_audio_transcription.logprobs" in self.include)
            logprobs = asr.piece_logprobs(result, pieces) if with_logprobs else None
            for index, piece in enumerate(pieces):
                delta: dict[str, Any] = {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": piece,
                }
                if logprobs is not None:
                    delta["logprobs"] = [logprobs[index]]
                delta["obfuscation"] = secrets.token_urlsafe(9)[: 16 - len(piece) % 16]
                await self.send(delta)
                if self.fault.has("drop_ws_mid_utterance"):
                    self.abort()
                    return
                await asyncio.sleep(0.005)
            usage = (
                duration_usage(result.duration)
                if model == "whisper-1"
                else asr.token_usage(result, len(pieces))
            )
            completed: dict[str, Any] = {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": result.text,
            }
            if logprobs is not None:
                completed["logprobs"] = logprobs
            completed["usage"] = usage
            await self.send(completed)


class VadState:
    def __init__(self) -> None:
        self.item_id: str | None = None
        self.last_voiced_ms = 0.0


def decode_samples(audio: bytes, fmt: str) -> np.ndarray:
    """Session-format bytes -> float samples in [-1, 1] at the format's own rate."""
    if fmt == "audio/pcm":
        return np.frombuffer(audio[: len(audio) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    table = _ULAW if fmt == "audio/pcmu" else _ALAW
    return table[np.frombuffer(audio, dtype=np.uint8)]


def frame_rms(frame: bytes, fmt: str) -> float:
    samples = decode_samples(frame, fmt)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def to_float16k(audio: bytes, fmt: str) -> np.ndarray:
    rate = RATE if fmt == "audio/pcm" else 8000
    return asr.resample(decode_samples(audio, fmt), rate, asr.SAMPLE_RATE)


def _g711_tables() -> tuple[np.ndarray, np.ndarray]:
    codes = np.arange(256, dtype=np.int32)
    u = ~codes & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + 0x84) << exponent
    ulaw = np.where(u & 0x80, 0x84 - magnitude, magnitude - 0x84) / 32768.0
    a = codes ^ 0x55
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    value = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    alaw = np.where(a & 0x80, value, -value) / 32768.0
    return ulaw.astype(np.float32), alaw.astype(np.float32)


_ULAW, _ALAW = _g711_tables()
