"""Turn HTTP answers and httpx exceptions into ``core.errors`` with sentences a user can act on.

Error bodies are read in the order of protocol doc §10: OpenAI's ``{"error": {...}}``, then FastAPI's
``{"detail": ...}`` (a string or an object), then the raw text. Every piece of server text goes through
``redact`` before it lands in a message or ``detail``: servers echo parts of keys (the 401 body does).
"""

from __future__ import annotations

import datetime
import email.utils
import json
import re
import ssl
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from desktop_app.core import errors as e
from desktop_app.core.redact import redact

Kind = Literal["transcription", "speech", "models"]

# Model retirements (protocol doc §0, what-users-hit item 20): what still works instead.
ALTERNATIVES: dict[Kind, tuple[str, str]] = {
    # kind: (model id, where the user changes it)
    "transcription": ("gpt-transcribe", "Settings → Dictation → Model"),
    "speech": ("gpt-realtime-2.1-mini", "Settings → Read aloud: choose the realtime engine"),
    "models": ("gpt-transcribe", "Settings → Dictation → Model"),
}
# When the retired model *is* the usual alternative (a compatible server may lack it), suggest this one.
SECOND_CHOICE: dict[Kind, str] = {
    "transcription": "gpt-4o-mini-transcribe",
    "speech": "gpt-4o-mini-tts",
    "models": "gpt-4o-mini-transcribe",
}

MAX_DETAIL_CHARS = 500
_MODEL_GONE_CODES = {"model_not_found", "invalid_model", "model_deprecated", "model_retired"}
_RETIRED_WORDS = re.compile(
    r"deprecat|retired|shut ?down|decommission|no longer (?:available|supported)", re.IGNORECASE)
_MODEL_MISSING = re.compile(r"model\b.*\b(?:does not exist|not found|unknown|is not supported)",
                            re.IGNORECASE)


@dataclass(frozen=True)
class ErrorBody:
    """What the server said, whatever the body's shape. ``raw`` is the redacted, truncated text."""

    message: str = ""
    type: str = ""
    code: str = ""
    param: str = ""
    raw: str = ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _from_object(obj: dict[str, Any], raw: str) -> ErrorBody:
    return ErrorBody(message=redact(_text(obj.get("message"))), type=_text(obj.get("type")),
                     code=_text(obj.get("code") or obj.get("error")), param=_text(obj.get("param")), raw=raw)


def parse_error_body(text: str) -> ErrorBody:
    raw = truncate(redact(text.strip()))
    try:
        data = json.loads(text)
    except ValueError:
        return ErrorBody(raw=raw)
    if not isinstance(data, dict):
        return ErrorBody(raw=raw)
    error = data.get("error")
    if isinstance(error, dict):
        return _from_object(error, raw)
    if isinstance(error, str) and error:  # some servers send {"error": "text"}
        return ErrorBody(message=redact(error), raw=raw)
    detail = data.get("detail")
    if isinstance(detail, dict):  # Kokoro-FastAPI: {"detail": {"error": "invalid_model", "message": …}}
        return _from_object(detail, raw)
    if isinstance(detail, str):
        return ErrorBody(message=redact(detail), raw=raw)
    if isinstance(detail, list) and detail:  # FastAPI 422 validation list
        first = detail[0]
        message = _text(first.get("msg")) if isinstance(first, dict) else _text(first)
        return ErrorBody(message=redact(message), raw=raw)
    if isinstance(data.get("message"), str):
        return _from_object(data, raw)
    return ErrorBody(raw=raw)


def truncate(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def alternative_for(model: str, kind: Kind) -> str:
    alternative = ALTERNATIVES[kind][0]
    return SECOND_CHOICE[kind] if model == alternative else alternative


# The realtime speech engine's own model is missing: the REST speech models are no way out (they retire
# on 2027-01-06, and the user is on the realtime engine already). Another realtime model, or the system
# voice, is. (Not gpt-realtime / gpt-realtime-mini: they retire on 2027-01-20, speech-output doc §0.)
REALTIME_SPEECH_ALTERNATIVES = ("gpt-realtime-2.1-mini", "gpt-realtime-2.1")
REALTIME_SPEECH_WHERE = "Settings → Read aloud → Realtime model"
SYSTEM_VOICE_WHERE = "Settings → Read aloud → Engine: system"


def realtime_speech_model_missing(model: str, detail: str) -> e.ModelRetired:
    alternative = next(m for m in REALTIME_SPEECH_ALTERNATIVES if m != model)
    return e.ModelRetired(
        f"The realtime speech model “{model}” is not available on this server: it does not exist there "
        "or it has been retired.",
        model=model, alternative=alternative,
        hint=f"Choose another realtime model, for example {alternative} ({REALTIME_SPEECH_WHERE}), or read "
             f"with the system voice ({SYSTEM_VOICE_WHERE}).",
        detail=detail)


def model_retired(model: str, kind: Kind, detail: str) -> e.ModelRetired:
    if kind == "speech" and model.startswith("gpt-realtime"):
        return realtime_speech_model_missing(model, detail)
    alternative = alternative_for(model, kind)
    where = ALTERNATIVES[kind][1]
    name = f"“{model}”" if model else "The configured model"
    return e.ModelRetired(
        f"{name} is not available on this server: it does not exist there or it has been retired.",
        model=model, alternative=alternative,
        hint=f"Use {alternative} instead ({where}).", detail=detail)


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The server's requested delay: ``retry-after-ms``, else ``retry-after`` as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()


def _looks_like_model_gone(status: int, body: ErrorBody) -> bool:
    if body.code in _MODEL_GONE_CODES or status == 410:
        return True
    if status in (400, 404) and body.message and _MODEL_MISSING.search(body.message):
        return True
    return bool(status in (400, 404, 410) and body.message and _RETIRED_WORDS.search(body.message))


def error_from_response(response: httpx.Response, *, model: str = "", kind: Kind = "transcription",
                        ) -> e.SaysoError:
    """Map a non-2xx response (its body is read here if it was not yet)."""
    response.read()
    return error_from_status(response.status_code, response.headers, response.text, model=model, kind=kind)


def error_from_status(status: int, headers: httpx.Headers, body_text: str, *, model: str = "",
                      kind: Kind = "transcription") -> e.SaysoError:
    """Map an HTTP error status, its headers and body. Never includes request headers."""
    body = parse_error_body(body_text)
    request_id = headers.get("x-request-id", "")
    detail = f"HTTP {status}" + (f", request id {request_id}" if request_id else "") + (
        f": {body.raw}" if body.raw else "")
    said = f" The server said: {truncate(body.message, 200)}" if body.message else ""

    if _looks_like_model_gone(status, body):
        return model_retired(model, kind, detail)
    if status == 401:
        return e.AuthError("The API key was rejected by the server (401).",
                           hint="Open Settings → API key and enter a valid key.", detail=detail)
    if status == 403:
        if body.code == "unsupported_country_region_territory":
            return e.PermissionDenied(
                "OpenAI does not offer its API in your country, region or territory (403).",
                hint="An OpenAI-compatible server can be set in Settings → API → Base URL.", detail=detail)
        return e.PermissionDenied(f"The server refused access (403).{said}",
                                  hint="Check that the key's project may use this model.", detail=detail)
    if status == 404:
        return e.BadRequest("The server has no such endpoint (404).",
                            hint="Check Settings → API → Base URL (it usually ends in /v1).", detail=detail)
    if status == 413:
        return e.RequestTooLarge(
            "The recording is larger than the server accepts (413; OpenAI's limit is 25 MiB).",
            hint="Record a shorter piece.", detail=detail)
    if status == 429:
        if "insufficient_quota" in (body.code, body.type):
            return e.RateLimited("Your OpenAI account has no quota left (429 insufficient_quota).",
                                 quota=True, hint="Check your plan and billing at platform.openai.com.",
                                 detail=detail)
        return e.RateLimited("Rate limit reached: the server asked us to slow down (429).",
                             retry_after=retry_after_seconds(headers),
                             hint="Wait a moment and try again.", detail=detail)
    if status == 408:
        return e.TimeoutError_("The server gave up waiting for the request (408).",
                               hint="Check your connection and try again.", detail=detail)
    if status == 409:
        return e.ServerError("The server was busy with a conflicting request (409).",
                             hint="Try again in a moment.", detail=detail)
    if status >= 500:
        return e.ServerError(f"The server had an error ({status}).",
                             hint="Try again in a moment.", detail=detail)
    return e.BadRequest(f"The server did not accept the request ({status}).{said}", detail=detail)


def error_from_exception(exc: Exception, *, host: str = "") -> e.SaysoError:
    """Map an httpx transport exception (or the SSL error underneath it)."""
    where = host or "the server"
    detail = truncate(redact(f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, httpx.TimeoutException):
        if isinstance(exc, httpx.ConnectTimeout):
            return e.TimeoutError_(f"Could not connect to {where} in time: you may be offline.",
                                   hint="Check your internet connection.", detail=detail)
        return e.TimeoutError_(f"{where.capitalize()} did not answer in time.",
                               hint="Try again, or raise Settings → API → Timeout.", detail=detail)
    if _is_tls(exc):
        return e.TLSError(f"The secure connection to {where} failed (TLS certificate problem).",
                          hint="Check the system clock, a proxy that intercepts HTTPS, or the base URL.",
                          detail=detail)
    if isinstance(exc, httpx.ProxyError):
        return e.NetworkError("The proxy refused the connection.",
                              hint="Check the HTTPS_PROXY / HTTP_PROXY settings.", detail=detail)
    if isinstance(exc, httpx.ConnectError):
        return e.NetworkError(f"Could not reach {where}: you seem to be offline.",
                              hint="Check your internet connection.", detail=detail)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return e.NetworkError(f"The connection to {where} dropped before the answer was complete.",
                              hint="Try again.", detail=detail)
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return e.SettingsError("The API base URL is not valid.",
                               hint="Open Settings → API and enter e.g. https://api.openai.com/v1.",
                               detail=detail)
    return e.NetworkError(f"Talking to {where} failed.", hint="Try again.", detail=detail)


def _is_tls(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def error_from_event(obj: dict[str, Any], *, model: str = "", kind: Kind = "transcription") -> e.SaysoError:
    """Map an error that arrives inside a 200 stream: ``{"error": {...}}`` or ``{"type": "error", ...}``."""
    inner = obj.get("error")
    raw = truncate(redact(json.dumps(obj)))
    body = _from_object(inner, raw) if isinstance(inner, dict) else _from_object(obj, raw)
    if isinstance(inner, str):
        body = ErrorBody(message=redact(inner), raw=raw)
    detail = f"stream error event: {raw}"
    if body.code in _MODEL_GONE_CODES:
        return model_retired(model, kind, detail)
    if "insufficient_quota" in (body.code, body.type):
        return e.RateLimited("Your OpenAI account has no quota left (insufficient_quota).", quota=True,
                             hint="Check your plan and billing at platform.openai.com.", detail=detail)
    if body.code == "rate_limit_exceeded":
        return e.RateLimited(hint="Wait a moment and try again.", detail=detail)
    said = f": {truncate(body.message, 200)}" if body.message else "."
    return e.ServerError(f"The server stopped with an error{said}", hint="Try again.", detail=detail)
