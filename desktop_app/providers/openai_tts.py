"""``POST /audio/speech`` over httpx: the REST ``Synthesizer`` (protocol doc §5, compat quirks §10).

Asks for ``response_format=pcm`` and hands PCM to ``on_audio`` while the chunked body is still arriving,
so playback starts before synthesis ends. ``stream_format="sse"`` (base64 ``speech.audio.delta`` events)
is available for servers or proxies that buffer raw bodies.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Literal

import httpx

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import BadRequest, ServerError
from desktop_app.core.models import SAMPLE_RATE, ApiConfig, SpeechChunk, SpeechOptions
from desktop_app.providers.http_client import LazyClient, api_url
from desktop_app.providers.interrupt import cancellable_call
from desktop_app.providers.pcm_stream import PcmStream
from desktop_app.providers.retry import RetryCallback, RetryPolicy, send_with_retry
from desktop_app.providers.sse import iter_json_events, iter_sse

MAX_INPUT_CHARS = 4096
_NO_INSTRUCTIONS_MODELS = ("tts-1", "tts-1-hd")  # these ignore or refuse `instructions` (§5.1)
_ENCODED_TYPES = ("audio/mpeg", "audio/mp3", "audio/opus", "audio/ogg", "audio/aac", "audio/flac")

StreamFormat = Literal["audio", "sse"]
# "pcm" is OpenAI's raw 24 kHz stream. "wav" suits compatible servers whose PCM rate is unknown (§10 rule 2):
# the streamed header names the rate. Either way on_audio receives PCM.
AudioFormat = Literal["pcm", "wav"]


def build_body(text: str, options: SpeechOptions, stream_format: StreamFormat = "audio",
               response_format: AudioFormat = "pcm") -> dict[str, Any]:
    if len(text) > MAX_INPUT_CHARS:
        raise BadRequest(
            f"This piece of text is {len(text)} characters long; the speech service takes at most "
            f"{MAX_INPUT_CHARS} per request.", hint="Split the text into shorter chunks.")
    if len(options.instructions) > MAX_INPUT_CHARS:
        raise BadRequest(f"The voice instructions are longer than {MAX_INPUT_CHARS} characters.",
                         hint="Shorten Settings → Read aloud → Instructions.")
    body: dict[str, Any] = {"model": options.model, "input": text, "voice": options.voice,
                            "response_format": response_format, "speed": options.speed}
    if options.instructions and options.model not in _NO_INSTRUCTIONS_MODELS:
        body["instructions"] = options.instructions
    if stream_format == "sse":
        body["stream_format"] = "sse"
    return body


def _rate_from_content_type(content_type: str) -> int:
    """``audio/pcm;rate=16000`` style hints some servers give; OpenAI's PCM is 24 kHz."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() in ("rate", "samplerate", "sample_rate") and value.strip().isdigit():
            return int(value.strip())
    return SAMPLE_RATE


class OpenAISpeech:
    """Speaks one chunk per call. ``on_retry`` hears about retries (before any audio has arrived)."""

    def __init__(self, config: ApiConfig, *, client: httpx.Client | None = None,
                 stream_format: StreamFormat = "audio", response_format: AudioFormat = "pcm",
                 retry_policy: RetryPolicy | None = None, on_retry: RetryCallback | None = None) -> None:
        self._config = config
        self._clients = LazyClient(config, client)
        self._stream_format: StreamFormat = stream_format
        self._response_format: AudioFormat = response_format
        self._policy = retry_policy or RetryPolicy()
        self._on_retry = on_retry

    def _http(self) -> httpx.Client:
        return self._clients.get()

    def close(self) -> None:
        self._clients.close()

    def synthesize(self, chunk: SpeechChunk, options: SpeechOptions,
                   on_audio: Callable[[bytes, int], None], cancel: CancelToken) -> None:
        """PCM (s16le mono) goes to ``on_audio(pcm, sample_rate)`` as it arrives, in whole samples.

        Raises a ``core.errors`` error (``BadRequest`` before sending for text over 4096 characters),
        ``Cancelled`` when ``cancel`` trips.
        """
        if not chunk.text.strip():
            return
        body = build_body(chunk.text, options, self._stream_format, self._response_format)
        client = self._http()
        url = api_url(self._config.base_url, "audio/speech")

        def build() -> httpx.Request:
            return client.build_request("POST", url, json=body)

        with cancellable_call(cancel, host=httpx.URL(url).host):
            response = send_with_retry(client, build, cancel=cancel, policy=self._policy,
                                       on_retry=self._on_retry, model=options.model, kind="speech")
            try:
                self._read_audio(response, options, on_audio, cancel)
            finally:
                response.close()

    def _read_audio(self, response: httpx.Response, options: SpeechOptions,
                    on_audio: Callable[[bytes, int], None], cancel: CancelToken) -> None:
        content_type = response.headers.get("content-type", "").lower()
        media_type = content_type.split(";")[0].strip()
        pcm = PcmStream(on_audio, default_rate=_rate_from_content_type(content_type))
        if media_type == "text/event-stream":
            for obj in iter_json_events(iter_sse(response.iter_bytes()), model=options.model, kind="speech"):
                cancel.raise_if_cancelled()
                if obj.get("type") == "speech.audio.delta" and isinstance(obj.get("audio"), str):
                    pcm.feed(_b64(obj["audio"]))
                elif obj.get("type") == "speech.audio.done":
                    break
        else:
            if media_type in _ENCODED_TYPES:
                raise ServerError(f"The server sent {media_type} audio although PCM or WAV was asked for.",
                                  hint="This server may not support the pcm format.")
            for piece in response.iter_bytes():
                cancel.raise_if_cancelled()
                pcm.feed(piece)
        pcm.finish()


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        raise ServerError("The server sent a damaged audio event.") from None
