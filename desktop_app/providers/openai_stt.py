"""``POST /audio/transcriptions`` over httpx: the REST ``Transcriber`` (protocol doc §3).

Streams (``stream=true``) when the model can, and branches on the answer's Content-Type, because
whisper-1 and some compatible servers ignore ``stream`` and answer with a plain body (§3.4, §10 rule 5).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import ServerError
from desktop_app.core.models import (
    ApiConfig,
    EncodedAudio,
    Transcript,
    TranscriptDelta,
    TranscriptionOptions,
)
from desktop_app.core.redact import redact
from desktop_app.providers.errors import truncate
from desktop_app.providers.http_client import LazyClient, api_url
from desktop_app.providers.interrupt import cancellable_call
from desktop_app.providers.retry import RetryCallback, RetryPolicy, send_with_retry
from desktop_app.providers.sse import iter_json_events, iter_sse

# Optional fields by model (§3.2). Model ids stay free strings: these only decide what to send.
_NO_STREAM_MODELS = ("whisper-1",)
_NO_PROMPT_MODELS = ("gpt-4o-transcribe-diarize",)
_KEYWORD_MODELS = ("gpt-transcribe",)


def _is(model: str, family: tuple[str, ...]) -> bool:
    """``model`` is one of ``family`` or a dated snapshot of one (``gpt-transcribe-2026-…``)."""
    return any(model == name or model.startswith(name + "-20") for name in family)


def build_form(options: TranscriptionOptions) -> list[tuple[str, str]]:
    """The non-file multipart fields, in the order the SDK would send them."""
    model = options.model
    fields: list[tuple[str, str]] = [("model", model),
                                     ("response_format", options.response_format or "json")]
    if options.language:
        fields.append(("language", options.language))
    prompt = options.prompt
    keywords = [word for word in options.keywords if word.strip()]
    if keywords and not _is(model, _KEYWORD_MODELS):
        # Other models have no keywords[] field; a prompt naming the words is their documented substitute.
        prompt = (prompt + "\n" if prompt else "") + "Vocabulary: " + ", ".join(keywords) + "."
        keywords = []
    if prompt and not _is(model, _NO_PROMPT_MODELS):
        fields.append(("prompt", prompt))
    fields.extend(("keywords[]", word) for word in keywords)
    if options.stream and not _is(model, _NO_STREAM_MODELS):
        fields.append(("stream", "true"))
    return fields


class OpenAITranscriber:
    """Transcribes one recording per call; safe to use from one worker thread at a time per call.

    ``on_retry`` hears about each retry before its wait (for a "retrying in N s" line in the UI).
    """

    def __init__(self, config: ApiConfig, *, client: httpx.Client | None = None,
                 retry_policy: RetryPolicy | None = None, on_retry: RetryCallback | None = None) -> None:
        self._config = config
        self._clients = LazyClient(config, client)
        self._policy = retry_policy or RetryPolicy()
        self._on_retry = on_retry

    def _http(self) -> httpx.Client:
        return self._clients.get()

    def close(self) -> None:
        self._clients.close()

    def transcribe(self, audio: EncodedAudio, options: TranscriptionOptions,
                   on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> Transcript:
        """Upload ``audio``; streamed pieces go to ``on_delta`` (``final=False``); returns the final text.

        Raises a ``core.errors`` error; ``NetworkError`` when the connection drops mid-stream (the caller
        still has the audio to retry), ``Cancelled`` when ``cancel`` trips.
        """
        client = self._http()
        url = api_url(self._config.base_url, "audio/transcriptions")
        form = build_form(options)

        def build() -> httpx.Request:
            return client.build_request(
                "POST", url, data=_form_dict(form),
                files={"file": (audio.filename, audio.data, audio.mime_type)})

        with cancellable_call(cancel, host=httpx.URL(url).host):
            response = send_with_retry(client, build, cancel=cancel, policy=self._policy,
                                       on_retry=self._on_retry, model=options.model)
            try:
                text, language = self._read_answer(response, options, on_delta, cancel)
            finally:
                response.close()
        return Transcript(text=text, model=options.model, language=language or options.language,
                          duration_s=audio.duration_s, request_id=response.headers.get("x-request-id", ""))

    def _read_answer(self, response: httpx.Response, options: TranscriptionOptions,
                     on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> tuple[str, str]:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "text/event-stream":
            return _read_stream(response, options, on_delta, cancel)
        body = response.read().decode(response.encoding or "utf-8", errors="replace")
        if content_type == "application/json" or body.lstrip().startswith("{"):
            return _parse_json_body(body)
        return body.strip(), ""  # text/plain: the transcript and one newline (§3.3)


def _form_dict(form: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {}
    for name, value in form:
        if name.endswith("[]"):
            existing = data.setdefault(name, [])
            assert isinstance(existing, list)
            existing.append(value)
        else:
            data[name] = value
    return data


def _languages(obj: dict[str, object]) -> str:
    languages = obj.get("languages")
    if isinstance(languages, list) and languages and isinstance(languages[0], dict):
        return str(languages[0].get("code") or "")
    return ""


def _parse_json_body(body: str) -> tuple[str, str]:
    try:
        obj = json.loads(body)
    except ValueError:
        raise ServerError("The server's answer was not valid JSON.",
                          detail=truncate(redact(body))) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise ServerError("The server's answer had no transcript text.", detail=truncate(redact(body)))
    language = _languages(obj)
    if not language and isinstance(obj.get("language"), str):
        language = obj["language"]
    return obj["text"], language


def _read_stream(response: httpx.Response, options: TranscriptionOptions,
                 on_delta: Callable[[TranscriptDelta], None], cancel: CancelToken) -> tuple[str, str]:
    pieces: list[str] = []
    final: str | None = None
    language = ""
    try:
        for obj in iter_json_events(iter_sse(response.iter_bytes()), model=options.model):
            cancel.raise_if_cancelled()
            kind = obj.get("type")
            if kind == "transcript.text.delta" and isinstance(obj.get("delta"), str):
                pieces.append(obj["delta"])
                on_delta(TranscriptDelta(text=obj["delta"], item_id=str(obj.get("segment_id") or "")))
            elif kind == "transcript.text.segment" and isinstance(obj.get("text"), str):
                pieces.append(obj["text"])  # diarize streams send segments instead of deltas
                on_delta(TranscriptDelta(text=obj["text"], item_id=str(obj.get("id") or "")))
            elif kind == "transcript.text.done" and isinstance(obj.get("text"), str):
                final = obj["text"]  # authoritative: replaces the joined deltas
                language = _languages(obj)
    except httpx.TransportError:
        # Reading on to [DONE] keeps the connection reusable; but once `done` arrived the transcript is
        # complete, and a connection that breaks after it must not cost the user their text.
        if final is None or cancel.cancelled:
            raise
    return (final if final is not None else "".join(pieces)), language
