"""One Realtime WebSocket (protocol doc §6, §8, §9): connect with the API's auth headers, JSON events in
and out, sends that are safe from several threads, an abort that wakes a blocked reader at once, and
the mapping of handshake failures, ``error`` events and close codes to ``core.errors``.

Shared by the realtime transcription and speech providers; it knows nothing about either session kind.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from typing import Any

import httpx
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidProxy,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.sync.client import ClientConnection, connect

from desktop_app.core import errors as e
from desktop_app.core.models import ApiConfig
from desktop_app.core.redact import redact
from desktop_app.providers.errors import (
    Kind,
    error_from_event,
    error_from_status,
    model_retired,
    parse_error_body,
    truncate,
)
from desktop_app.providers.http_client import (
    CONNECT_TIMEOUT_S,
    USER_AGENT,
    auth_headers,
    check_base_url,
    realtime_url,
)

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_ABNORMAL = 1006
CLOSE_POLICY = 1008
CLOSE_SERVER_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_BETA_REFUSED = 4000

# Upgrade answers that mean "this server has no Realtime endpoint" (or a proxy that does not pass
# WebSockets) whatever their body says: the caller should fall back to REST instead of reporting a failure.
# Any other answer that is not 101 counts the same unless it carries an API error (JSON) to report: a
# captive portal's 200 page or a proxy's bare 502/503 says nothing about the API.
_NO_ENDPOINT_STATUSES = {400, 404, 405, 410, 426, 501}
_AUTH_CODES = {"invalid_api_key", "missing_api_key", "invalid_authentication"}


class RealtimeClosed(Exception):
    """The socket closed; ``code`` is the close code (1006 when the TCP connection just dropped)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"realtime socket closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


class RealtimeSocket:
    """A connected Realtime WebSocket. ``send`` may be called from any thread; one thread reads."""

    def __init__(self, ws: ClientConnection, host: str) -> None:
        self._ws = ws
        self.host = host
        self._send_lock = threading.Lock()  # websockets refuses concurrent send() from two threads

    def send(self, event: dict[str, Any]) -> None:
        """Send one client event; raises ``RealtimeClosed`` when the socket is gone."""
        text = json.dumps(event, separators=(",", ":"))
        with self._send_lock:
            try:
                self._ws.send(text)
            except ConnectionClosed as exc:
                raise _closed(exc) from None
            except OSError as exc:  # the socket was shut down under us (abort)
                raise RealtimeClosed(CLOSE_ABNORMAL, str(exc)) from None

    def recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next server event, or None when ``timeout`` passes first. Non-JSON frames are skipped."""
        while True:
            try:
                message = self._ws.recv(timeout=timeout)
            except TimeoutError:
                return None
            except ConnectionClosed as exc:
                raise _closed(exc) from None
            if isinstance(message, bytes):
                continue
            try:
                event = json.loads(message)
            except ValueError:
                log.warning("realtime: ignoring a frame that is not JSON")
                continue
            if isinstance(event, dict) and isinstance(event.get("type"), str):
                return event

    def abort(self) -> None:
        """Cut the connection now (cancel): a thread blocked in ``recv`` or ``send`` returns at once."""
        # shutdown() only: the library's reader thread waits in select() on this socket; closing the
        # descriptor would leave it waiting forever, while a shutdown wakes it with end-of-file.
        try:
            self._ws.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        """A polite close (close frame, short wait for the server's answer)."""
        try:
            self._ws.close()
        except (OSError, WebSocketException):
            self.abort()


def _closed(exc: ConnectionClosed) -> RealtimeClosed:
    frame = exc.rcvd or exc.sent
    if frame is None:
        return RealtimeClosed(CLOSE_ABNORMAL)
    return RealtimeClosed(frame.code, frame.reason)


def connect_realtime(config: ApiConfig, query: dict[str, str], *, kind: Kind = "transcription",
                     open_timeout: float = CONNECT_TIMEOUT_S) -> RealtimeSocket:
    """Open ``/realtime?<query>`` under the configured base URL. Never sends ``OpenAI-Beta``.

    Raises ``AuthError`` (same words as a REST 401), ``RealtimeUnavailable`` when the server or a proxy
    cannot do WebSockets here, or another ``core.errors`` error.
    """
    check_base_url(config.base_url)
    url = realtime_url(config.base_url, query)
    host = httpx.URL(config.base_url.strip()).host
    headers = auth_headers(config)
    headers.pop("User-Agent", None)  # websockets sends its own header; give it ours instead
    try:
        ws = connect(url, additional_headers=headers, user_agent_header=USER_AGENT,
                     open_timeout=open_timeout, close_timeout=1.0, max_size=None, compression=None,
                     ping_interval=20, ping_timeout=20, legacy=True)
    except Exception as exc:  # every library and OS error is translated right here
        raise error_from_handshake(exc, host=host, kind=kind) from None
    return RealtimeSocket(ws, host)


def error_from_handshake(exc: BaseException, *, host: str, kind: Kind = "transcription") -> e.SaysoError:
    """Map a failed WebSocket open (HTTP answer to the upgrade, or a socket-level error)."""
    detail = truncate(redact(f"{type(exc).__name__}: {exc}"))
    fallback_hint = "Dictation uses the upload (REST) transport instead."
    if isinstance(exc, InvalidStatus):
        response = exc.response
        status = response.status_code
        body = (response.body or b"").decode("utf-8", errors="replace")
        parsed = parse_error_body(body)
        http_headers = httpx.Headers(list(response.headers.raw_items()))
        if status == 401:
            return error_from_status(status, http_headers, body, kind=kind)
        api_error = bool(parsed.code or parsed.message)
        if status in _NO_ENDPOINT_STATUSES or 300 <= status < 400 or not api_error:
            return e.RealtimeUnavailable(
                f"{host} does not offer the realtime (WebSocket) endpoint (HTTP {status}).",
                hint=fallback_hint, detail=f"HTTP {status}: {parsed.raw}")
        return error_from_status(status, http_headers, body, kind=kind)
    if isinstance(exc, InvalidURI):
        return e.SettingsError("The API base URL cannot be turned into a WebSocket URL.",
                               hint="Open Settings → API and enter e.g. https://api.openai.com/v1.",
                               detail=detail)
    if isinstance(exc, InvalidProxy):  # the system's proxy setting cannot carry a WebSocket (e.g. SOCKS)
        return e.RealtimeUnavailable(f"The proxy set on this computer cannot open a WebSocket to {host}.",
                                     hint=fallback_hint, detail=detail)
    if isinstance(exc, InvalidHandshake):  # not a WebSocket server, or a proxy in the way (ProxyError)
        return e.RealtimeUnavailable(f"{host} did not accept a WebSocket connection.",
                                     hint=fallback_hint, detail=detail)
    if isinstance(exc, ConnectionRefusedError):
        return e.RealtimeUnavailable(f"{host} refused the realtime connection.", hint=fallback_hint,
                                     detail=detail)
    if isinstance(exc, TimeoutError):
        return e.TimeoutError_(f"Could not open the realtime connection to {host} in time.",
                               hint="Check your internet connection.", detail=detail)
    if isinstance(exc, ssl.SSLError):
        return e.TLSError(f"The secure connection to {host} failed (TLS certificate problem).",
                          hint="Check the system clock, a proxy that intercepts HTTPS, or the base URL.",
                          detail=detail)
    if isinstance(exc, OSError):
        return e.NetworkError(f"Could not reach {host}: you seem to be offline.",
                              hint="Check your internet connection.", detail=detail)
    return e.NetworkError(f"Opening the realtime connection to {host} failed.", hint="Try again.",
                          detail=detail)


def error_from_realtime_event(event: dict[str, Any], *, model: str = "",
                              kind: Kind = "transcription") -> e.SaysoError:
    """Map a server ``error`` event (§6.4) to the error the user sees."""
    inner = event.get("error")
    error = inner if isinstance(inner, dict) else {}
    code = str(error.get("code") or "")
    message = redact(str(error.get("message") or ""))
    param = str(error.get("param") or "")
    raw = truncate(redact(json.dumps(event)))
    detail = f"realtime error event: {raw}"
    if code in _AUTH_CODES or error.get("type") == "authentication_error":
        # Same words as a REST 401, whichever way the server chose to refuse the key.
        return error_from_status(401, httpx.Headers(), json.dumps({"error": error}), kind=kind)
    if code == "input_audio_buffer_commit_empty":
        return e.NoSpeech("Too short to transcribe: less than 0.1 s of audio reached the server.",
                          detail=detail)
    if code == "session_expired":
        return e.NetworkError("The realtime session reached the server's 60-minute limit.",
                              hint="Try again: a new session is opened.", detail=detail)
    if code == "beta_api_shape_disabled":
        return e.BadRequest("The server refused the old (beta) realtime protocol.", detail=detail)
    if param.endswith(".model") and code in ("invalid_value", "invalid_model", "model_not_found"):
        return model_retired(model, kind, detail)
    mapped = error_from_event(event, model=model, kind=kind)
    if isinstance(mapped, e.ServerError) and error.get("type") == "invalid_request_error":
        said = f": {truncate(message, 200)}" if message else "."
        return e.BadRequest(f"The realtime server did not accept a request{said}", detail=detail)
    return mapped


def error_from_close(code: int, reason: str, *, host: str) -> e.SaysoError:
    """Map a close the client did not ask for (when no ``error`` event explained it)."""
    detail = f"close code {code}" + (f": {truncate(redact(reason), 200)}" if reason else "")
    if code == CLOSE_BETA_REFUSED:
        return e.BadRequest("The server refused the old (beta) realtime protocol.", detail=detail)
    if code == CLOSE_POLICY:  # unexplained: a network error, so dictation falls back to REST
        return e.NetworkError(f"{host} closed the realtime connection (policy violation).", hint="Try again.",
                              detail=detail)
    if code in (CLOSE_SERVER_ERROR, CLOSE_TRY_AGAIN_LATER):
        return e.ServerError(f"{host} had an error and closed the realtime connection.",
                             hint="Try again in a moment.", detail=detail)
    if code in (CLOSE_NORMAL, CLOSE_GOING_AWAY):
        return e.NetworkError(f"{host} closed the realtime connection.", hint="Try again.", detail=detail)
    return e.NetworkError(f"The realtime connection to {host} dropped.", hint="Try again.", detail=detail)
