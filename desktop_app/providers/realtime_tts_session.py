"""One GA Realtime WebSocket session configured as a reader, with out-of-band responses demultiplexed.

The socket is read by one receiver thread. Each ``response.create`` carries ``metadata.request`` (doc §3.1:
metadata is the way to tell simultaneous responses apart); ``response.created`` echoes it, which binds the
server's response id to our :class:`SpeechRequest`. Everything later is routed by ``response_id``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import ClientConnection, connect

from desktop_app.core import errors as e
from desktop_app.core.models import ApiConfig
from desktop_app.providers import realtime_tts_protocol as proto
from desktop_app.providers.errors import error_from_exception, error_from_status
from desktop_app.providers.http_client import USER_AGENT, auth_headers, check_base_url, realtime_url

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
HANDSHAKE_TIMEOUT_S = 10.0  # session.created and session.updated each (§9)
ERROR_EXPLAINS_CLOSE_S = 5.0  # an unattributed error event this recent is the reason for a close
EventObserver = Callable[[dict[str, Any], float], None]


@dataclass(frozen=True)
class SessionSpec:
    """What a session is configured with; a different spec needs a different session."""

    model: str
    voice: str
    speed: float
    style: str = ""  # the user's voice direction (tone, accent), added to the reading instructions


@dataclass(eq=False)  # identity matters: requests live in sets and dicts
class SpeechRequest:
    """One out-of-band response: its audio, transcript and outcome, filled in by the receiver thread."""

    key: str
    text: str
    chunk_index: int
    strict: bool
    event_id: str
    response_id: str = ""
    audio: list[bytes] = field(default_factory=list)
    transcript_parts: list[str] = field(default_factory=list)
    # For each transcript part: how many audio bytes of this response had arrived before it. The server
    # sends the transcript a little ahead of the audio it voices, so a part is heard when the audio after
    # this mark plays (sentence highlighting, however long the audio was held for checking).
    transcript_at: list[int] = field(default_factory=list)
    audio_bytes: int = 0
    transcript: str | None = None  # set by response.output_audio_transcript.done
    status: str = ""  # response.done status; "" while in progress
    status_reason: str = ""
    error: e.SaysoError | None = None  # failed before response.done (error event or lost connection)
    connection_lost: bool = False
    cancelled: bool = False
    first_delta_at: float | None = None
    output_items: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)
    _carry: bytes = b""

    @property
    def finished(self) -> bool:
        return bool(self.status) or self.error is not None

    @property
    def transcript_so_far(self) -> str:
        return self.transcript if self.transcript is not None else "".join(self.transcript_parts)


class RealtimeSpeechSession:
    """Connect, configure for speaking, then run out-of-band responses until closed."""

    def __init__(self, config: ApiConfig, spec: SessionSpec, *, observer: EventObserver | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self._config = config
        self._observer = observer
        self._clock = clock
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._by_key: dict[str, SpeechRequest] = {}
        self._by_response: dict[str, SpeechRequest] = {}
        self._by_event: dict[str, SpeechRequest] = {}
        self._ws: ClientConnection | None = None
        self._thread: threading.Thread | None = None
        self._closed_error: e.SaysoError | None = None
        # An error event no request took as its own (e.g. session_expired), and when it came: it explains
        # a close that follows it closely, never a drop much later.
        self._last_error_event: dict[str, Any] | None = None
        self._last_error_at = 0.0
        self.opened_at = clock()
        self.expires_at: float | None = None  # monotonic time derived from session.expires_at
        self.host = httpx.URL(config.base_url).host or "the server"

    # -- connecting -------------------------------------------------------------------------------
    def open(self, cancel_check: Callable[[], bool]) -> None:
        """Upgrade, wait for ``session.created``, send ``session.update``, wait for ``session.updated``."""
        check_base_url(self._config.base_url)
        url = realtime_url(self._config.base_url, {"model": self.spec.model})
        headers = {k: v for k, v in auth_headers(self._config).items() if k != "User-Agent"}
        try:
            self._ws = connect(url, additional_headers=headers, user_agent_header=USER_AGENT,
                               max_size=None, compression=None, open_timeout=CONNECT_TIMEOUT_S, legacy=True,
                               close_timeout=2)
        except InvalidStatus as exc:
            response = exc.response
            body = response.body.decode("utf-8", "replace") if response.body else ""
            raise error_from_status(response.status_code, httpx.Headers(list(response.headers.raw_items())),
                                    body, model=self.spec.model, kind="speech") from None
        except InvalidURI:
            raise error_from_exception(httpx.InvalidURL("bad realtime URL"), host=self.host) from None
        except TimeoutError as exc:
            raise error_from_exception(httpx.ConnectTimeout(str(exc)), host=self.host) from None
        except ssl.SSLError as exc:
            raise error_from_exception(_chained(httpx.ConnectError(str(exc)), exc), host=self.host) from None
        except (OSError, WebSocketException) as exc:
            raise error_from_exception(httpx.ConnectError(str(exc)), host=self.host) from None
        try:
            created = self._handshake_event(cancel_check)
            if created.get("type") != "session.created":
                raise self._unexpected(created)
            self._note_expiry(created)
            self._send(proto.session_update(self.spec.voice, self.spec.speed, self.spec.model,
                                            self._next_id("cfg"), style=self.spec.style))
            updated = self._handshake_event(cancel_check)
            if updated.get("type") != "session.updated":
                raise self._unexpected(updated)
            self._note_expiry(updated)
        except BaseException:
            self._ws.close()
            raise
        self._thread = threading.Thread(target=self._receive, name="realtime-tts-recv", daemon=True)
        self._thread.start()

    def _handshake_event(self, cancel_check: Callable[[], bool]) -> dict[str, Any]:
        assert self._ws is not None
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT_S
        while True:
            if cancel_check():
                raise e.Cancelled()
            try:
                raw = self._ws.recv(timeout=0.05)
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise e.TimeoutError_(f"{self.host} did not start the realtime session in time.",
                                          hint="Try again.") from None
                continue
            except ConnectionClosed as exc:
                raise self._close_error(exc) from None
            event = _parse(raw)
            if event is not None:
                self._observe(event)
                if event.get("type") == "error":
                    raise proto.error_from_realtime_event(event, model=self.spec.model)
                if event.get("type") in ("session.created", "session.updated"):
                    return event

    def _unexpected(self, event: dict[str, Any]) -> e.SaysoError:
        return e.ServerError(f"The realtime server sent {event.get('type')!r} while starting the session.",
                             hint="Try again.")

    def _note_expiry(self, event: dict[str, Any]) -> None:
        expires = (event.get("session") or {}).get("expires_at")
        if isinstance(expires, (int, float)) and expires > 0:
            self.expires_at = self._clock() + max(0.0, float(expires) - time.time())

    # -- state ------------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        with self._lock:
            return self._ws is not None and self._closed_error is None

    def age_s(self) -> float:
        return self._clock() - self.opened_at

    def outstanding(self) -> int:
        with self._lock:
            return sum(1 for r in self._by_key.values() if not r.finished)

    # -- requests ---------------------------------------------------------------------------------
    def start(self, text: str, chunk_index: int, *, strict: bool) -> SpeechRequest:
        """Send one out-of-band ``response.create``; the returned request fills in as events arrive."""
        key = self._next_id("req")
        event_id = self._next_id("speak")
        request = SpeechRequest(key=key, text=text, chunk_index=chunk_index, strict=strict, event_id=event_id)
        with self._lock:
            if self._closed_error is not None:
                request.error = self._closed_error
                request.connection_lost = True
                return request
            self._by_key[key] = request
            self._by_event[event_id] = request
        metadata = {"chunk": str(chunk_index), "request": key}
        try:
            self._send(proto.response_create(text, event_id=event_id, metadata=metadata, strict=strict,
                                             style=self.spec.style))
        except e.SaysoError as exc:
            self._finish(request, error=exc, lost=True)
        return request

    def cancel(self, request: SpeechRequest) -> None:
        """Stop a response: no more of its deltas are kept; ``response.cancel`` if it is still running."""
        with request.changed:
            if request.cancelled:
                return
            request.cancelled = True
            response_id, running = request.response_id, not request.finished
            request.changed.notify_all()
        if response_id and running:
            try:
                self._send(proto.response_cancel(response_id, self._next_id("stop")))
            except e.SaysoError:
                pass  # the connection is gone: nothing left to cancel
        # Without a response id yet, response.created will see `cancelled` and cancel then (§5 step 2).

    def close(self) -> None:
        with self._lock:
            ws = self._ws
            if self._closed_error is None:
                self._closed_error = e.Cancelled()
        if ws is not None:
            ws.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    # -- plumbing ---------------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def _send(self, event: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            raise e.NetworkError("The realtime session is not open.")
        try:
            ws.send(json.dumps(event))
        except (ConnectionClosed, OSError) as exc:
            error = e.NetworkError(f"The connection to {self.host} dropped before the answer was complete.",
                                   hint="Try again.", detail=type(exc).__name__)
            with self._lock:  # dead now, even if the receiver has not seen the close yet
                if self._closed_error is None:
                    self._closed_error = error
            raise error from None

    def _observe(self, event: dict[str, Any]) -> None:
        if self._observer is not None:
            self._observer(event, time.monotonic())

    def _close_error(self, exc: ConnectionClosed) -> e.SaysoError:
        explained = self._take_last_error()
        if explained is not None:
            return explained
        frame = exc.rcvd
        return proto.error_from_close(frame.code if frame else 1006, frame.reason if frame else "", self.host)

    def _take_last_error(self) -> e.SaysoError | None:
        """The unattributed error event that explains a close now, used once; None when there is none
        or it is too old to be the reason."""
        event, self._last_error_event = self._last_error_event, None
        if event is None or time.monotonic() - self._last_error_at > ERROR_EXPLAINS_CLOSE_S:
            return None
        return proto.error_from_realtime_event(event, model=self.spec.model)

    def _receive(self) -> None:
        assert self._ws is not None
        try:
            for raw in self._ws:
                event = _parse(raw)
                if event is not None:
                    self._observe(event)
                    self._dispatch(event)
            error: e.SaysoError = self._close_error_from_ws()
        except ConnectionClosed as exc:
            error = self._close_error(exc)
        except Exception as exc:  # a bug here must not hang the reader waiting for events
            log.exception("realtime speech receiver failed")
            error = e.NetworkError(f"The connection to {self.host} failed.", detail=type(exc).__name__)
        with self._lock:
            if self._closed_error is None:
                self._closed_error = error
            pending = [r for r in self._by_key.values() if not r.finished]
        for request in pending:
            self._finish(request, error=error, lost=True)

    def _close_error_from_ws(self) -> e.SaysoError:
        ws = self._ws
        frame = ws.protocol.close_rcvd if ws is not None else None
        explained = self._take_last_error()
        if explained is not None:
            return explained
        return proto.error_from_close(frame.code if frame else 1006, frame.reason if frame else "", self.host)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "response.created":
            self._on_created(event)
            return
        if kind == "error":
            self._on_error(event)
            return
        if kind == "response.done":
            response = event.get("response") or {}
            request = self._request_for(str(response.get("id") or ""))
            if request is not None:
                details = response.get("status_details") or {}
                self._finish(request, status=str(response.get("status") or "completed"),
                             reason=str(details.get("reason") or ""), failure=details.get("error"))
            return
        request = self._request_for(str(event.get("response_id") or ""))
        if request is None:
            return  # another session's, or a response we no longer care about
        with request.changed:
            if request.cancelled:
                return  # late deltas of a cancelled response are dropped here
            if kind == "response.output_audio.delta":
                pcm = _b64(event.get("delta"))
                if request.first_delta_at is None:
                    request.first_delta_at = time.monotonic()
                pcm = request._carry + pcm
                whole = len(pcm) - len(pcm) % 2  # keep sample alignment across odd splits (§4.4)
                request._carry = pcm[whole:]
                if whole:
                    request.audio.append(pcm[:whole])
                    request.audio_bytes += whole
            elif kind == "response.output_audio_transcript.delta":
                request.transcript_parts.append(str(event.get("delta") or ""))
                request.transcript_at.append(request.audio_bytes)
            elif kind == "response.output_audio_transcript.done":
                text = str(event.get("transcript") or "")
                request.transcript = text if request.transcript is None else f"{request.transcript} {text}"
            elif kind == "response.output_item.added":
                request.output_items += 1
            request.changed.notify_all()

    def _on_created(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        metadata = response.get("metadata") or {}
        response_id = str(response.get("id") or "")
        with self._lock:
            request = self._by_key.get(str(metadata.get("request") or ""))
            if request is None or not response_id:
                return
            self._by_response[response_id] = request
        with request.changed:
            request.response_id = response_id
            cancel_now = request.cancelled
            request.changed.notify_all()
        if cancel_now:  # stop was pressed before the server named the response
            request.cancelled = False
            self.cancel(request)

    def _on_error(self, event: dict[str, Any]) -> None:
        code = proto.error_code(event)
        payload = proto.error_payload(event)
        if code == "response_cancel_not_active":
            return  # the response had finished already: harmless (§5 step 4)
        client_event = str(payload.get("event_id") or "")
        with self._lock:
            request = self._by_event.get(client_event)
        if request is not None and not request.finished:
            # Attributed: the request reports it. Not kept, so a later plain drop is not explained by it.
            self._finish(request, error=proto.error_from_realtime_event(event, model=self.spec.model))
            return
        self._last_error_event, self._last_error_at = event, time.monotonic()
        if code != "session_expired":
            log.warning("realtime speech server error: %s (%s)", payload.get("message"), code or "no code")

    def _request_for(self, response_id: str) -> SpeechRequest | None:
        with self._lock:
            return self._by_response.get(response_id)

    def _finish(self, request: SpeechRequest, *, status: str = "", reason: str = "",
                failure: Any = None, error: e.SaysoError | None = None, lost: bool = False) -> None:
        with request.changed:
            if request.finished:
                return
            if error is not None:
                request.error = error
                request.connection_lost = lost
            else:
                request.status = status
                request.status_reason = reason
                if status == "failed":
                    request.error = proto.error_from_realtime_event(
                        {"type": "error", "error": failure if isinstance(failure, dict) else {}},
                        model=self.spec.model)
            request._carry = b""
            request.changed.notify_all()
        with self._lock:
            self._by_key.pop(request.key, None)
            self._by_event.pop(request.event_id, None)
            if status:  # response.done is the last event of a response: nothing more to route
                self._by_response.pop(request.response_id, None)


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(raw)
    except ValueError:
        log.warning("realtime speech: a frame that is not JSON was ignored")
        return None
    return event if isinstance(event, dict) else None


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        log.warning("realtime speech: a damaged audio delta was dropped")
        return b""


def _chained(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer

