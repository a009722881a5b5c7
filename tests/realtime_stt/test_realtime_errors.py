"""What the user reads when the Realtime socket fails: ``error`` events, close codes and failed upgrades
(providers/realtime_ws.py), and which of them send dictation to the REST fallback."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidProxy, InvalidProxyStatus, InvalidStatus
from websockets.http11 import Response

from desktop_app.core import errors as e
from desktop_app.core.models import ApiConfig
from desktop_app.providers.errors import error_from_status
from desktop_app.providers.realtime_ws import (
    connect_realtime,
    error_from_close,
    error_from_handshake,
    error_from_realtime_event,
)
from desktop_app.services.realtime_dictation import _rest_may_help

HOST = "api.example.test"
REST_401 = error_from_status(401, httpx.Headers(), "{}").user_message


def event(code: str | None, message: str = "", type_: str = "invalid_request_error",
          param: str | None = None) -> dict[str, object]:
    return {"type": "error", "event_id": "event_1",
            "error": {"type": type_, "code": code, "message": message, "param": param, "event_id": None}}


def upgrade_answer(status: int, body: bytes = b"", content_type: str = "text/html") -> InvalidStatus:
    headers = Headers({"Content-Type": content_type, "Content-Length": str(len(body))})
    return InvalidStatus(Response(status, "whatever", headers, body))


# -- error events -------------------------------------------------------------------------------------------
def test_rate_limit_event_says_slow_down_and_goes_to_rest() -> None:
    mapped = error_from_realtime_event(event("rate_limit_exceeded", "Rate limit reached for requests",
                                             type_="rate_limit_error"))
    assert isinstance(mapped, e.RateLimited) and not mapped.quota
    assert mapped.full_message() == "Rate limit reached: the server asked us to slow down. " \
                                    "Wait a moment and try again."
    assert _rest_may_help(mapped)


def test_quota_event_says_no_quota_and_does_not_repeat_it_over_rest() -> None:
    mapped = error_from_realtime_event(event("insufficient_quota", "You exceeded your current quota",
                                             type_="insufficient_quota"))
    assert isinstance(mapped, e.RateLimited) and mapped.quota
    assert mapped.user_message == "Your OpenAI account has no quota left (insufficient_quota)."
    assert not _rest_may_help(mapped)


def test_bad_key_event_reads_like_the_rest_401() -> None:
    mapped = error_from_realtime_event(event("invalid_api_key", "Incorrect API key provided: sk-abc***xyz",
                                             type_="authentication_error"))
    assert isinstance(mapped, e.AuthError) and mapped.user_message == REST_401
    assert not _rest_may_help(mapped)


def test_session_expired_and_too_short_events() -> None:
    expired = error_from_realtime_event(event("session_expired",
                                              "Your session hit the maximum duration of 60 minutes."))
    assert expired.user_message == "The realtime session reached the server's 60-minute limit."
    short = error_from_realtime_event(event("input_audio_buffer_commit_empty", "buffer too small"))
    assert isinstance(short, e.NoSpeech)
    assert short.user_message == "Too short to transcribe: less than 0.1 s of audio reached the server."


def test_an_unknown_invalid_request_names_what_the_server_said() -> None:
    mapped = error_from_realtime_event(event("invalid_value", "Invalid value: 'pcm8'.",
                                             param="session.audio.input.format"))
    assert isinstance(mapped, e.BadRequest)
    assert mapped.user_message == "The realtime server did not accept a request: Invalid value: 'pcm8'."
    assert _rest_may_help(mapped)  # a protocol mismatch: the upload still works


# -- close codes --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "kind", "message"), [
    (4000, e.BadRequest, "The server refused the old (beta) realtime protocol."),
    (1011, e.ServerError, f"{HOST} had an error and closed the realtime connection."),
    (1013, e.ServerError, f"{HOST} had an error and closed the realtime connection."),
    (1008, e.NetworkError, f"{HOST} closed the realtime connection (policy violation)."),
    (1006, e.NetworkError, f"The realtime connection to {HOST} dropped."),
])
def test_close_codes_have_a_message_and_all_go_to_rest(code: int, kind: type[e.SaysoError], message: str) -> None:
    mapped = error_from_close(code, "reason text", host=HOST)
    assert type(mapped) is kind and mapped.user_message == message
    assert "reason text" in mapped.detail
    assert _rest_may_help(mapped)  # the recording is transcribed over REST instead of failing the entry


# -- failed upgrades ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "body"), [
    (200, b"<html><body>Please log in to the hotel Wi-Fi</body></html>"),  # captive portal
    (502, b"<html><body>502 Bad Gateway</body></html>"),  # a proxy, not the API
    (503, b""),
    (403, b"Forbidden by policy"),
    (404, json.dumps({"error": {"message": "Not found", "code": "not_found"}}).encode()),
    (302, b""),
])
def test_an_upgrade_answer_without_an_api_error_means_unavailable(status: int, body: bytes) -> None:
    mapped = error_from_handshake(upgrade_answer(status, body), host=HOST)
    assert isinstance(mapped, e.RealtimeUnavailable), mapped
    assert mapped.user_message == f"{HOST} does not offer the realtime (WebSocket) endpoint (HTTP {status})."
    assert mapped.hint == "Dictation uses the upload (REST) transport instead."


def test_an_upgrade_answer_with_an_api_error_is_reported_as_such() -> None:
    quota = json.dumps({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                                  "code": "insufficient_quota"}}).encode()
    mapped = error_from_handshake(upgrade_answer(429, quota, "application/json"), host=HOST)
    assert isinstance(mapped, e.RateLimited) and mapped.quota
    assert mapped.user_message == "Your OpenAI account has no quota left (429 insufficient_quota)."

    overloaded = json.dumps({"error": {"message": "The server is overloaded", "type": "server_error"}}).encode()
    server = error_from_handshake(upgrade_answer(503, overloaded, "application/json"), host=HOST)
    assert isinstance(server, e.ServerError) and _rest_may_help(server)

    unauthorized = error_from_handshake(upgrade_answer(401, b"<html>401</html>"), host=HOST)
    assert isinstance(unauthorized, e.AuthError) and unauthorized.user_message == REST_401


def test_proxies_that_cannot_carry_a_websocket_mean_unavailable() -> None:
    unusable = error_from_handshake(InvalidProxy("socks5h://proxy:1080", "python-socks is not installed"),
                                    host=HOST)
    assert isinstance(unusable, e.RealtimeUnavailable)
    assert unusable.user_message == f"The proxy set on this computer cannot open a WebSocket to {HOST}."
    refused = error_from_handshake(InvalidProxyStatus(Response(407, "Proxy Authentication Required",
                                                               Headers())), host=HOST)
    assert isinstance(refused, e.RealtimeUnavailable)
    assert refused.user_message == f"{HOST} did not accept a WebSocket connection."


def test_a_refused_connection_means_unavailable() -> None:
    mapped = error_from_handshake(ConnectionRefusedError(111, "Connection refused"), host=HOST)
    assert isinstance(mapped, e.RealtimeUnavailable)
    assert mapped.user_message == f"{HOST} refused the realtime connection."


class _Portal(http.server.BaseHTTPRequestHandler):
    """Answers every request with a login page, as a captive portal or a transparent proxy does."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"<html><body>Sign in to continue</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def portal() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_captive_portal_over_a_real_socket_is_unavailable_not_a_server_error(portal: str) -> None:
    with pytest.raises(e.RealtimeUnavailable) as caught:
        connect_realtime(ApiConfig(portal, api_key="sk-test-portal-000000"), {"intent": "transcription"})
    assert "(HTTP 200)" in caught.value.user_message, caught.value.detail
    assert "sk-test-portal" not in caught.value.detail


def test_a_port_nobody_listens_on_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    with pytest.raises(e.RealtimeUnavailable, match="refused"):
        connect_realtime(ApiConfig(base, api_key="sk-test"), {"intent": "transcription"})
