"""Realtime conversation sessions used as text-to-speech (`/v1/realtime?model=…`, speech-output doc §8.3)."""

from __future__ import annotations

import asyncio
import base64
import copy
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from . import asr, tts
from .realtime_common import SessionBase, unknown_keys
from .wire import new_id

# FAKEOPENAI_TIMING=1: log when each response's first audio delta goes out, on the monotonic clock that
# every process of the machine shares (bench/realtime_tts_bench.py: first sound beyond the first delta).
TIMING = os.environ.get("FAKEOPENAI_TIMING") == "1"
AUDIO_DELTA_BYTES = 4800  # 100 ms of PCM per delta
AUDIO_TOKENS_PER_S = 20
REALTIME_VOICES = ["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]
PERSONA = (
    "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI. Act like a human, but "
    "remember that you aren't a human and that you can't do human things in the real world. Talk quickly."
)
# What an out-of-band response without its own `instructions` says before the text (see _speak_inner).
UNINSTRUCTED_PREAMBLE = "Sure! Here is the text you sent me:"
SESSION_KEYS = {
    "type",
    "output_modalities",
    "instructions",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "reasoning",
    "tracing",
    "truncation",
    "include",
    "prompt",
}
RESPONSE_KEYS = {
    "conversation",
    "input",
    "instructions",
    "output_modalities",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "metadata",
    "prompt",
    "reasoning",
}
SUPPORTED_EVENTS = [
    "session.update",
    "conversation.item.create",
    "conversation.item.truncate",
    "response.create",
    "response.cancel",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
]
_READ_TAGS = [(r"<read>", r"</read>"), (r"<text_to_read>", r"</text_to_read>"), (r"BEGIN_TEXT", r"END_TEXT")]


@dataclass
class ActiveResponse:
    id: str
    in_band: bool
    cancelled: bool = False
    done: bool = False
    task: asyncio.Task[None] | None = None


@dataclass
class AssistantItem:
    id: str
    audio_ms: int
    transcript: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class SpeechSession(SessionBase):
    def __init__(self, *args: Any, model: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model = model
        self.session: dict[str, Any] = {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.session_id,
            "model": model,
            "output_modalities": ["audio"],
            "instructions": PERSONA,
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "expires_at": self.created_at + int(self.state.session_max_s),
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 200,
                        "idle_timeout_ms": None,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1},
            },
            "include": None,
        }
        self.voice_locked = False
        self.responses: dict[str, ActiveResponse] = {}
        self.user_items: dict[str, str] = {}  # item id -> text, the default conversation's user messages
        self.assistant_items: dict[str, AssistantItem] = {}
        self.last_item_id: str | None = None
        self.responses_started = 0
        self.input_buffer_bytes = 0

    def initial_session(self) -> dict[str, Any]:
        return copy.deepcopy(self.session)

    async def on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        client_id = event.get("event_id")
        if kind == "session.update":
            await self.update(event)
        elif kind == "response.create":
            await self.create_response(event)
        elif kind == "response.cancel":
            await self.cancel(event)
        elif kind == "conversation.item.create":
            await self.create_item(event)
        elif kind == "conversation.item.truncate":
            await self.truncate(event)
        elif kind == "input_audio_buffer.append":
            self.input_buffer_bytes += len(event.get("audio", "")) * 3 // 4
        elif kind == "input_audio_buffer.commit":
            if self.input_buffer_bytes < 4800:
                await self.error(
                    "input_audio_buffer_commit_empty",
                    "Error committing input audio buffer: buffer "
                    "too small. Expected at least 100ms of audio, but buffer only has "
                    f"{self.input_buffer_bytes / 48:.2f}ms of audio.",
                    client_event_id=client_id,
                )
            else:
                self.input_buffer_bytes = 0
                await self.send(
                    {
                        "type": "input_audio_buffer.committed",
                        "previous_item_id": self.last_item_id,
                        "item_id": new_id("item_"),
                    }
                )
        elif kind == "input_audio_buffer.clear":
            self.input_buffer_bytes = 0
            await self.send({"type": "input_audio_buffer.cleared"})
        else:
            await self.unknown_event(event, SUPPORTED_EVENTS)

    # -- session.update ---------------------------------------------------------------------------
    async def update(self, event: dict[str, Any]) -> None:
        """Validate everything first: a rejected update applies nothing (doc §2.3)."""
        client_id = event.get("event_id")
        new = event.get("session")
        if not isinstance(new, dict) or new.get("type") is None:
            await self.error(
                "missing_required_parameter",
                "Missing required parameter: 'session.type'.",
                client_event_id=client_id,
                param="session.type",
            )
            return
        if new["type"] != "realtime":
            await self.error(
                "invalid_value",
                "Passing a transcription session update event to a realtime session is not allowed.",
                client_event_id=client_id,
                param="session.type",
            )
            return
        audio: dict[str, Any] = new["audio"] if isinstance(new.get("audio"), dict) else {}
        bad = unknown_keys(new, SESSION_KEYS, "session") or unknown_keys(
            audio, {"input", "output"}, "session.audio"
        )
        out: dict[str, Any] = audio["output"] if isinstance(audio.get("output"), dict) else {}
        bad = bad or unknown_keys(out, {"format", "voice", "speed"}, "session.audio.output")
        if bad:
            await self.error(
                "unknown_parameter", f"Unknown parameter: '{bad}'.", client_event_id=client_id, param=bad
            )
            return
        problem = self._check(new, out)
        if problem:
            code, message, param = problem
            await self.error(code, message, client_event_id=client_id, param=param)
            return
        merged = copy.deepcopy(self.session)
        for key, value in new.items():
            if key != "audio":
                merged[key] = value
        for side in ("input", "output"):
            if isinstance(audio.get(side), dict):
                merged["audio"][side].update(audio[side])
        self.session = merged
        await self.send({"type": "session.updated", "session": self.initial_session()})

    def _check(self, new: dict[str, Any], out: dict[str, Any]) -> tuple[str, str, str] | None:
        modalities = new.get("output_modalities")
        if modalities is not None and modalities not in (["audio"], ["text"]):
            return (
                "invalid_value",
                f"Invalid value: {modalities}. It is not possible to request both text and "
                "audio at the same time.",
                "session.output_modalities",
            )
        fmt = out.get("format")
        if fmt is not None and (
            not isinstance(fmt, dict) or fmt.get("type") not in ("audio/pcm", "audio/pcmu", "audio/pcma")
        ):
            return "invalid_value", f"Invalid value: '{fmt}'.", "session.audio.output.format"
        if isinstance(fmt, dict) and fmt.get("type") == "audio/pcm" and fmt.get("rate", 24000) != 24000:
            return (
                "invalid_value",
                "Invalid value: only a 24000 Hz sample rate is supported.",
                "session.audio.output.format.rate",
            )
        voice = out.get("voice")
        if voice is not None:
            if voice not in REALTIME_VOICES and not (isinstance(voice, dict) and "id" in voice):
                return (
                    "invalid_value",
                    f"Invalid value: '{voice}'. Supported values are: "
                    + ", ".join(f"'{v}'" for v in REALTIME_VOICES)
                    + ".",
                    "session.audio.output.voice",
                )
            if self.voice_locked and voice != self.session["audio"]["output"]["voice"]:
                return (
                    "cannot_update_voice",
                    "Cannot update a conversation's voice if assistant audio is present.",
                    "session.audio.output.voice",
                )
        speed = out.get("speed")
        if speed is not None and (not isinstance(speed, (int, float)) or not 0.25 <= speed <= 1.5):
            return (
                "invalid_value",
                f"Invalid 'session.audio.output.speed': expected a value between 0.25 and 1.5, got {speed}.",
                "session.audio.output.speed",
            )
        cap = new.get("max_output_tokens")
        if cap is not None and cap != "inf" and (not isinstance(cap, int) or not 1 <= cap <= 4096):
            return "invalid_value", f"Invalid value: '{cap}'.", "session.max_output_tokens"
        return None

    # -- conversation items -----------------------------------------------------------------------
    async def create_item(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if (
            not isinstance(item, dict)
            or item.get("type") != "message"
            or item.get("role") not in ("user", "system")
        ):
            await self.error(
                "invalid_value",
                "Only user and system message items can be created here.",
                client_event_id=event.get("event_id"),
                param="item",
            )
            return
        item_id = item.get("id") or new_id("item_")
        self.user_items[item_id] = message_text(item)
        stored = {"id": item_id, "object": "realtime.item", "status": "completed", **item}
        stored["id"] = item_id
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": self.last_item_id, "item": stored}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": self.last_item_id, "item": stored}
        )
        self.last_item_id = item_id

    async def truncate(self, event: dict[str, Any]) -> None:
        client_id = event.get("event_id")
        item = self.assistant_items.get(str(event.get("item_id")))
        if item is None:
            await self.error(
                "invalid_value",
                f"Item with item_id not found: {event.get('item_id')}",
                client_event_id=client_id,
                param="item_id",
            )
            return
        end = event.get("audio_end_ms")
        if not isinstance(end, int) or isinstance(end, bool) or end < 0 or end > item.audio_ms:
            await self.error(
                "invalid_value",
                f"Invalid 'audio_end_ms': must be an integer between 0 and {item.audio_ms}.",
                client_event_id=client_id,
                param="audio_end_ms",
            )
            return
        item.transcript = ""
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item.id,
                "content_index": event.get("content_index", 0),
                "audio_end_ms": end,
            }
        )

    # -- responses --------------------------------------------------------------------------------
    async def create_response(self, event: dict[str, Any]) -> None:
        client_id = event.get("event_id")
        params = event.get("response") or {}
        bad = unknown_keys(params, RESPONSE_KEYS, "response")
        if bad:
            await self.error(
                "unknown_parameter", f"Unknown parameter: '{bad}'.", client_event_id=client_id, param=bad
            )
            return
        in_band = params.get("conversation", "auto") != "none"
        if in_band:
            active = next((r for r in self.responses.values() if r.in_band and not r.done), None)
            if active is not None:
                await self.error(
                    "conversation_already_has_active_response",
                    f"Conversation already has an active response in progress: {active.id}. Wait until the "
                    "response is finished before creating a new one.",
                    client_event_id=client_id,
                )
                return
        self.responses_started += 1
        response = ActiveResponse(id=new_id("resp_"), in_band=in_band)
        if TIMING:
            chunk = (params.get("metadata") or {}).get("chunk", "") if isinstance(params, dict) else ""
            print(f"fakeopenai timing: response.create for {response.id} (chunk {chunk}) received at "
                  f"monotonic {time.monotonic():.6f}", file=sys.stderr, flush=True)
        self.responses[response.id] = response
        response.task = asyncio.ensure_future(self._speak(response, params, self.responses_started))
        self.tasks.add(response.task)
        response.task.add_done_callback(self.tasks.discard)

    async def cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if wanted:
            target = self.responses.get(wanted)
        else:  # without an id only the default conversation's response is cancelled (doc §5)
            target = next((r for r in self.responses.values() if r.in_band and not r.done), None)
        if target is None or target.done or target.cancelled:
            await self.error(
                "response_cancel_not_active",
                "Cancellation failed: no active response found",
                client_event_id=event.get("event_id"),
            )
            return
        target.cancelled = True

    def _text_to_read(self, params: dict[str, Any]) -> str:
        texts: list[str] = []
        if isinstance(params.get("input"), list):
            for item in params["input"]:
                if isinstance(item, dict) and item.get("type") == "item_reference":
                    texts.append(self.user_items.get(str(item.get("id")), ""))
                elif isinstance(item, dict) and item.get("role") in ("user", None):
                    texts.append(message_text(item))
        elif self.user_items:
            texts.append(list(self.user_items.values())[-1])
        text = " ".join(t for t in (extract_read_text(t) for t in texts) if t)
        if not text:
            instructions = params.get("instructions") or ""
            text = (
                extract_read_text(instructions) if any(tag in instructions for tag, _ in _READ_TAGS) else ""
            )
        return text or "Sorry, I didn't get any text to read."

    async def _speak(self, response: ActiveResponse, params: dict[str, Any], number: int) -> None:
        try:
            await self._speak_inner(response, params, number)
        finally:
            response.done = True

    async def _speak_inner(self, response: ActiveResponse, params: dict[str, Any], number: int) -> None:
        fault = self.fault
        applies = fault.get("nth") is None or int(fault.get("nth")) == number
        output = self.session["audio"]["output"]
        voice = output["voice"] if isinstance(output["voice"], str) else "alloy"
        modalities = params.get("output_modalities") or self.session["output_modalities"]
        cap = params.get("max_output_tokens", self.session["max_output_tokens"])
        shell: dict[str, Any] = {
            "object": "realtime.response",
            "id": response.id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": "conv_" + self.session_id[5:] if response.in_band else None,
            "output_modalities": modalities,
            "max_output_tokens": cap,
            "audio": {"output": {"format": output["format"], "voice": output["voice"]}},
            "usage": None,
            "metadata": params.get("metadata"),
        }
        await self.send({"type": "response.created", "response": copy.deepcopy(shell)})
        source = self._text_to_read(params)
        spoken = source
        if not response.in_band and not params.get("instructions"):
            # Whether session instructions reach an out-of-band response is unverified (doc §3.1): this
            # server assumes the worst, so a client that relies on them hears the assistant persona.
            spoken = f"{UNINSTRUCTED_PREAMBLE} {source}"
        if applies and fault.has("stray_transcript"):
            spoken = str(fault.get("text") or f"Sure! Here is the text you asked me to read: {source}")
        if applies and fault.has("server_delay_s"):
            await asyncio.sleep(float(fault.get("server_delay_s")))
        if applies and fault.has("failed"):
            shell.update(
                status="failed",
                status_details={
                    "type": "failed",
                    "error": {
                        "type": "server_error",
                        "code": "server_error",
                        "message": "The server had an error while processing your request.",
                    },
                },
                usage=usage(source, "", 0),
            )
            await self.send({"type": "response.done", "response": shell})
            return
        pcm = b""
        if modalities == ["audio"]:
            pcm = await asyncio.get_running_loop().run_in_executor(
                None, tts.synthesize, spoken, voice, float(output.get("speed", 1))
            )
        status, reason = "completed", None
        estimated = len(pcm) / 48000 * AUDIO_TOKENS_PER_S + len(spoken) / 4
        if applies and fault.has("incomplete"):
            status, reason, keep = "incomplete", "max_output_tokens", 0.5
        elif isinstance(cap, int) and estimated > cap:
            status, reason, keep = "incomplete", "max_output_tokens", cap / estimated
        if status == "incomplete":
            pcm = pcm[: int(len(pcm) * keep) // 2 * 2]
            words = spoken.split(" ")
            spoken = " ".join(words[: max(1, int(len(words) * keep))])
        await self._stream(response, shell, source, spoken, pcm, modalities, status, reason, applies)

    async def _stream(
        self,
        response: ActiveResponse,
        shell: dict[str, Any],
        source: str,
        spoken: str,
        pcm: bytes,
        modalities: list[str],
        status: str,
        reason: str | None,
        applies: bool,
    ) -> None:
        item_id = new_id("item_")
        ids = {"response_id": response.id, "item_id": item_id, "output_index": 0, "content_index": 0}
        audio_out = modalities == ["audio"]
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response.id,
                "output_index": 0,
                "item": copy.deepcopy(item),
            }
        )
        if response.in_band:
            await self.send(
                {
                    "type": "conversation.item.added",
                    "previous_item_id": self.last_item_id,
                    "item": copy.deepcopy(item),
                }
            )
        empty_part = {"type": "audio", "transcript": ""} if audio_out else {"type": "text", "text": ""}
        await self.send({"type": "response.content_part.added", **ids, "part": empty_part})

        pieces = asr.delta_pieces(spoken)
        chunks = (
            [pcm[i : i + AUDIO_DELTA_BYTES] for i in range(0, len(pcm), AUDIO_DELTA_BYTES)]
            if audio_out
            else []
        )
        said: list[str] = []
        sent_audio = 0
        steps = max(len(chunks), len(pieces))
        for step in range(steps):
            # The transcript runs a little ahead of the audio (doc §4.1): piece k goes out before chunk k'.
            for piece in pieces[len(said) : (step + 1) * len(pieces) // steps + 1 if steps else 0]:
                if response.cancelled:
                    break
                said.append(piece)
                kind = "response.output_audio_transcript.delta" if audio_out else "response.output_text.delta"
                await self.send({"type": kind, **ids, "delta": piece})
            if response.cancelled:
                break
            if step < len(chunks):
                await self.send(
                    {
                        "type": "response.output_audio.delta",
                        **ids,
                        "delta": base64.b64encode(chunks[step]).decode(),
                    }
                )
                if sent_audio == 0 and TIMING:
                    chunk = (shell.get("metadata") or {}).get("chunk", "")
                    print(f"fakeopenai timing: first audio delta of {response.id} (chunk {chunk}) sent at "
                          f"monotonic {time.monotonic():.6f}", file=sys.stderr, flush=True)
                sent_audio += len(chunks[step])
                self.voice_locked = True
                if applies and self.fault.has("drop_ws_mid_response"):
                    self.abort()
                    return
            await asyncio.sleep(0.01)  # 100 ms of audio every 10 ms: about ten times faster than real time
        transcript = "".join(said)
        if response.cancelled:
            status, reason = "cancelled", "client_cancelled"
        if audio_out:
            await self.send({"type": "response.output_audio.done", **ids})
            await self.send(
                {"type": "response.output_audio_transcript.done", **ids, "transcript": transcript}
            )
            final_part: dict[str, Any] = {"type": "audio", "transcript": transcript}
            content = [{"type": "output_audio", "transcript": transcript}]
        else:
            await self.send({"type": "response.output_text.done", **ids, "text": transcript})
            final_part = {"type": "text", "text": transcript}
            content = [{"type": "output_text", "text": transcript}]
        await self.send({"type": "response.content_part.done", **ids, "part": final_part})
        item["status"] = "completed" if status == "completed" else "incomplete"
        item["content"] = content
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": 0,
                "item": copy.deepcopy(item),
            }
        )
        if response.in_band:
            await self.send(
                {
                    "type": "conversation.item.done",
                    "previous_item_id": self.last_item_id,
                    "item": copy.deepcopy(item),
                }
            )
            self.assistant_items[item_id] = AssistantItem(item_id, sent_audio // 48, transcript)
            self.last_item_id = item_id
        shell.update(
            status=status,
            status_details=None if status == "completed" else {"type": status, "reason": reason},
            output=[copy.deepcopy(item)],
            usage=usage(source, transcript, sent_audio),
        )
        await self.send({"type": "response.done", "response": shell})


def usage(source: str, transcript: str, audio_bytes: int) -> dict[str, Any]:
    input_tokens = 100 + len(source) // 4
    text_out = len(transcript) // 4
    audio_out = round(audio_bytes / 48000 * AUDIO_TOKENS_PER_S)
    return {
        "total_tokens": input_tokens + text_out + audio_out,
        "input_tokens": input_tokens,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": input_tokens,
            "audio_tokens": 0,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def message_text(item: dict[str, Any]) -> str:
    parts = item.get("content") or []
    return " ".join(
        str(p.get("text", ""))
        for p in parts
        if isinstance(p, dict) and p.get("type") in ("input_text", "text")
    )


def extract_read_text(text: str) -> str:
    """What a well-behaved model would read: the part between the app's delimiters, else everything."""
    for start, end in _READ_TAGS:
        match = re.search(re.escape(start) + r"(.*?)" + re.escape(end), text, flags=re.S)
        if match:
            return " ".join(match.group(1).split())
    return " ".join(text.split())
