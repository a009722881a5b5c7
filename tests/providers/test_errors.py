"""Mapping of answers and exceptions to ``core.errors`` with sentences users can act on."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest

from desktop_app.core import errors as e
from desktop_app.providers.errors import Kind, error_from_exception, error_from_status, parse_error_body

KEY = "sk-proj-abcdefghijklmnop1234567890"


def _map(status: int, body: str, headers: dict[str, str] | None = None, *, model: str = "m",
         kind: Kind = "transcription") -> e.SaysoError:
    return error_from_status(status, httpx.Headers(headers or {}), body, model=model, kind=kind)


def test_401_names_the_fix_keeps_request_id_and_never_the_key() -> None:
    body = json.dumps({"error": {
        "message": f"Incorrect API key provided: {KEY}. You can find your API key at "
                   "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}, indent=4) + "\n"
    error = _map(401, body, {"x-request-id": "req_123"})
    assert isinstance(error, e.AuthError)
    assert "Settings → API key" in error.full_message()
    assert "req_123" in error.detail
    assert KEY not in error.detail + error.full_message() + str(error)


def test_403_country() -> None:
    body = json.dumps({"error": {"code": "unsupported_country_region_territory", "param": None,
                                 "message": "Country, region, or territory not supported",
                                 "type": "request_forbidden"}})
    error = _map(403, body)
    assert isinstance(error, e.PermissionDenied) and "country" in error.user_message


@pytest.mark.parametrize(("status", "body"), [
    (404, '{"error":{"message":"The model `whisper-1` does not exist or you do not have access to it.",'
          '"type":"invalid_request_error","param":null,"code":"model_not_found"}}'),
    (400, '{"error":{"message":"The model whisper-1 has been deprecated.","type":"invalid_request_error",'
          '"param":"model","code":null}}'),
    (410, "Gone"),
    (400, '{"detail":{"error":"invalid_model","message":"Unsupported model",'
          '"type":"invalid_request_error"}}'),
])
def test_model_gone_names_the_model_and_a_working_alternative(status: int, body: str) -> None:
    error = _map(status, body, model="whisper-1")
    assert isinstance(error, e.ModelRetired)
    assert error.model == "whisper-1" and error.alternative == "gpt-transcribe"
    assert "whisper-1" in error.user_message and "gpt-transcribe" in error.full_message()


def test_speech_alternative_is_the_realtime_engine_and_never_the_retired_model_itself() -> None:
    speech = _map(404, '{"error":{"code":"model_not_found","message":"x"}}', model="tts-1", kind="speech")
    assert isinstance(speech, e.ModelRetired) and speech.alternative == "gpt-realtime-2.1-mini"
    same = _map(404, '{"error":{"code":"model_not_found","message":"x"}}', model="gpt-transcribe")
    assert isinstance(same, e.ModelRetired) and same.alternative != "gpt-transcribe"


def test_plain_404_points_at_the_base_url() -> None:
    error = _map(404, "<html>Not Found</html>")
    assert isinstance(error, e.BadRequest) and "Base URL" in error.hint


def test_413_cloudflare_html_keeps_raw_text_truncated() -> None:
    page = "<html><head><title>413 Request Entity Too Large</title></head>" + "x" * 5000 + "cloudflare</html>"
    error = _map(413, page)
    assert isinstance(error, e.RequestTooLarge)
    assert "413 Request Entity Too Large" in error.detail and len(error.detail) < 700


def test_429_rate_vs_quota() -> None:
    rate = _map(429, '{"error":{"code":"rate_limit_exceeded","type":"requests","message":"slow"}}',
                {"retry-after": "2"})
    assert isinstance(rate, e.RateLimited) and not rate.quota and rate.retry_after == 2
    quota = _map(429, '{"error":{"code":"insufficient_quota","type":"insufficient_quota","message":"q"}}')
    assert isinstance(quota, e.RateLimited) and quota.quota and "billing" in quota.hint


def test_5xx_is_server_error() -> None:
    assert isinstance(_map(503, "<html>busy</html>"), e.ServerError)


@pytest.mark.parametrize(("text", "message", "code"), [
    ('{"error":{"message":"a","type":"t","param":null,"code":"c"}}', "a", "c"),
    ('{"error":{"code":413,"message":"Too Large","type":""}}', "Too Large", "413"),
    ('{"detail":"Not authenticated"}', "Not authenticated", ""),
    ('{"detail":{"error":"invalid_model","message":"nope"}}', "nope", "invalid_model"),
    ('{"detail":[{"loc":["body","speed"],"msg":"must be <= 4","type":"value_error"}]}', "must be <= 4", ""),
    ("plain words", "", ""),
])
def test_parse_error_body_order(text: str, message: str, code: str) -> None:
    body = parse_error_body(text)
    assert (body.message, body.code) == (message, code)
    assert body.raw


def test_server_text_is_redacted_everywhere() -> None:
    error = _map(400, f'{{"detail":"bad header Authorization: Bearer {KEY}"}}')
    assert KEY not in error.user_message + error.detail


def test_connect_refused_is_offline() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(httpx.ConnectError) as info:
            httpx.get(f"http://127.0.0.1:{port}/")
    mapped = error_from_exception(info.value, host="127.0.0.1")
    assert type(mapped) is e.NetworkError and "offline" in mapped.user_message


def test_certificate_failure_is_tls_error() -> None:
    # A real TLS handshake against a server whose certificate the client cannot verify.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # a TLS fatal alert instead of a ServerHello
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    with pytest.raises(httpx.ConnectError) as info:
        httpx.get(f"https://127.0.0.1:{port}/", timeout=5)
    server.close()
    assert isinstance(error_from_exception(info.value), e.TLSError)


def test_timeouts() -> None:
    assert isinstance(error_from_exception(httpx.ReadTimeout("x")), e.TimeoutError_)
    connect = error_from_exception(httpx.ConnectTimeout("x"), host="api.openai.com")
    assert isinstance(connect, e.TimeoutError_) and "api.openai.com" in connect.user_message
