"""Byte-level helpers shared by all HTTP endpoints: JSON bodies, error bodies, common headers, SSE framing."""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import string
import time
from typing import Any

from aiohttp import web

from .state import Fault, ServerState

STATE_KEY: web.AppKey[ServerState] = web.AppKey("state", ServerState)
START_KEY: web.RequestKey[float] = web.RequestKey("start", float)
TOKEN_BILLED_KEY: web.RequestKey[bool] = web.RequestKey("token_billed", bool)

_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """IDs in the real format: prefix + 21 alphanumerics (event_, sess_, resp_, item_)."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(21))


def compact(obj: Any) -> str:
    """The audio endpoints answer with compact JSON (separators without spaces), keys in insertion order."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=compact(obj).encode(), content_type="application/json")


def text_response(text: str) -> web.Response:
    return web.Response(body=text.encode(), headers={"Content-Type": "text/plain; charset=utf-8"})


def error_object(message: str, type_: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"message": message, "type": type_, "param": param, "code": code}


def error_response(
    fault: Fault,
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An OpenAI error body, or the FastAPI `detail` style when the `detail_errors` fault is active."""
    if fault.has("detail_errors"):
        detail = {"error": code or type_, "message": message, "type": type_}
        body: dict[str, Any] = {"detail": detail}
    else:
        body = {"error": error_object(message, type_, param, code)}
        if extra:
            body.update(extra)
    return web.Response(
        status=status, body=compact(body).encode(), content_type="application/json", headers=headers
    )


def mask_key(key: str) -> str:
    """The real service shows the first 8 and last 4 characters, with one star per hidden character."""
    if len(key) <= 12:
        return key[:3] + "*" * max(0, len(key) - 3)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
    "auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're "
    "accessing the API from your browser and are prompted for a username and password. You can obtain an API "
    "key from https://platform.openai.com/account/api-keys."
)


def bearer_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


def auth_error(key: str | None) -> tuple[str, str | None]:
    """(message, code) for a missing or wrong key."""
    if key is None:
        return MISSING_KEY_MESSAGE, None
    return (
        f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_api_key",
    )


def unauthorized_response(key: str | None) -> web.Response:
    """The classic 401: pretty-printed with a 4-space indent and a trailing newline (captured, 288 bytes)."""
    message, code = auth_error(key)
    body = json.dumps({"error": error_object(message, "invalid_request_error", None, code)}, indent=4) + "\n"
    return web.Response(
        status=401, body=body.encode(), headers={"Content-Type": "application/json; charset=utf-8"}
    )


def is_authorized(request: web.Request) -> bool:
    key = bearer_key(request)
    return key is not None and key in request.app[STATE_KEY].valid_keys


async def add_common_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook, so streamed responses get the headers too."""
    if request.path.startswith("/_admin"):
        return
    response.headers["X-Request-ID"] = "req_" + secrets.token_hex(16)
    response.headers["Access-Control-Expose-Headers"] = "X-Request-ID"
    response.headers["openai-version"] = "2020-10-01"
    started = request.get(START_KEY, time.monotonic())
    response.headers["openai-processing-ms"] = str(max(1, int((time.monotonic() - started) * 1000)))
    response.headers["openai-organization"] = request.headers.get("OpenAI-Organization", "user-fakeopenai")
    response.headers["openai-project"] = request.headers.get("OpenAI-Project", "proj_fakeopenai")
    if request.path.startswith("/v1/audio") or request.path.startswith("/v1/models"):
        response.headers["x-ratelimit-limit-requests"] = "30000"
        response.headers["x-ratelimit-remaining-requests"] = "29999"
        response.headers["x-ratelimit-reset-requests"] = "2ms"
        if request.get(TOKEN_BILLED_KEY):
            response.headers["x-ratelimit-limit-tokens"] = "150000000"
            response.headers["x-ratelimit-remaining-tokens"] = "149999990"
            response.headers["x-ratelimit-reset-tokens"] = "0s"


class SseWriter:
    """One `data:` line per event, framed like the audio endpoints (CRLF, `[DONE]` at the end)."""

    def __init__(self, response: web.StreamResponse, fault: Fault) -> None:
        self._response = response
        self._eol = "\n" if fault.has("lf_framing") else "\r\n"
        self._prefix = "data:" if fault.has("no_space") else "data: "
        self._send_done = not fault.has("no_done")
        self._fault = fault
        self.sent = 0

    async def event(self, obj: dict[str, Any]) -> None:
        await before_chunk(self._response, self._fault, self.sent)
        await self._response.write(f"{self._prefix}{compact(obj)}{self._eol}{self._eol}".encode())
        self.sent += 1

    async def finish(self) -> None:
        await before_chunk(self._response, self._fault, self.sent)
        if self._send_done:
            await self._response.write(f"{self._prefix}[DONE]{self._eol}{self._eol}".encode())
        await self._response.write_eof()


class DroppedConnection(Exception):
    """Raised after a fault aborted the TCP connection; the handler must stop writing."""


async def before_chunk(response: web.StreamResponse, fault: Fault, sent: int) -> None:
    """Apply mid-stream faults before writing chunk number `sent` (0-based)."""
    after = int(fault.get("after", 2))
    if fault.has("drop_mid_stream") and sent >= after:
        abort_connection(response)
        raise DroppedConnection
    if fault.has("hang") and fault.get("after") is not None and sent >= after:
        await hang_until_client_leaves(response._req)


def abort_connection(response: web.StreamResponse) -> None:
    """Cut the TCP connection without a terminating chunk, so the client sees a truncated body."""
    req = response._req  # aiohttp keeps the request on the response; there is no public accessor
    if req is not None and req.transport is not None:
        req.transport.abort()


async def hang_until_client_leaves(request: web.BaseRequest | None, limit_s: float = 600.0) -> None:
    """Say nothing until the client disconnects (aiohttp does not cancel handlers when it does)."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while asyncio.get_running_loop().time() < deadline:
        transport = request.transport if request is not None else None
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)


def sse_response() -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store"}
    )
    response.enable_chunked_encoding()
    return response


def retry_headers(fault: Fault) -> dict[str, str]:
    headers: dict[str, str] = {}
    if fault.get("retry_after") is not None:
        value = float(fault.get("retry_after"))
        # The spec says integer seconds; the SDK parses a float, so sub-second test values stay usable.
        headers["Retry-After"] = str(int(value)) if value == int(value) else str(value)
    if fault.get("retry_after_ms") is not None:
        headers["retry-after-ms"] = str(fault.get("retry_after_ms"))
    if fault.get("should_retry") is not None:
        headers["x-should-retry"] = "true" if fault.get("should_retry") else "false"
    return headers


HTML_ERROR = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1>"
    "</center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)


def fault_status_response(fault: Fault, model: str | None) -> web.Response:
    """The canned error for a `status=` / `insufficient_quota` / `model_not_found` fault."""
    headers = retry_headers(fault)
    if fault.has("insufficient_quota"):
        return error_response(
            fault,
            429,
            "You exceeded your current quota, please check your plan and billing details. For more "
            "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            type_="insufficient_quota",
            code="insufficient_quota",
            headers=headers,
        )
    if fault.has("model_not_found"):
        return model_not_found(fault, model or "unknown")
    status = int(fault.get("status", 500))
    if fault.get("body") is not None:
        return web.Response(status=status, text=str(fault.get("body")), headers=headers)
    if fault.get("html", status in (502, 503, 504)):
        reason = _reason(status)
        return web.Response(
            status=status,
            body=HTML_ERROR.format(status=status, reason=reason).encode(),
            headers={**headers, "Content-Type": "text/html"},
        )
    if status == 429:
        name = model or "whisper-1"
        return error_response(
            fault,
            429,
            f"Rate limit reached for {name} in organization org-fakeopenai on requests per min (RPM): "
            "Limit 3, Used 3, Requested 1. Please try again in 20s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            type_="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )
    if status >= 500:
        return error_response(
            fault,
            status,
            "The server had an error while processing your request. Sorry about that!",
            type_="server_error",
            headers=headers,
        )
    return error_response(fault, status, fault.get("message", f"Injected error {status}"), headers=headers)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def model_not_found(fault: Fault, model: str) -> web.Response:
    return error_response(
        fault,
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def unknown_parameter(fault: Fault, name: str) -> web.Response:
    return error_response(fault, 400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def missing_parameter(fault: Fault, name: str) -> web.Response:
    return error_response(
        fault, 400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
    )


def invalid_value(fault: Fault, name: str, value: object, allowed: list[str]) -> web.Response:
    supported = ", ".join(f"'{a}'" for a in allowed)
    return error_response(
        fault,
        400,
        f"Invalid value: '{value}'. Supported values are: {supported}.",
        param=name,
        code="invalid_value",
    )


def duration_usage(seconds: float) -> dict[str, Any]:
    """whisper-1 usage: whole seconds, rounded up (1.7 s -> 2)."""
    return {"type": "duration", "seconds": math.ceil(seconds - 1e-9) if seconds > 0 else 0}
