"""The SDK retry policy (protocol doc §8.4): decision order, delays, cancellation while waiting.

These drive ``send_with_retry`` through httpx's MockTransport to count attempts exactly; the contract tests
in test_openai_rest.py run the same policy against the fake server over real sockets.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import (
    AuthError,
    BadRequest,
    Cancelled,
    NetworkError,
    RateLimited,
    RequestTooLarge,
    ServerError,
    TimeoutError_,
)
from desktop_app.providers.retry import RetryNotice, RetryPolicy, send_with_retry, should_retry_status

URL = "https://api.example.test/v1/audio/speech"
FAST = RetryPolicy(base_delay_s=0.001, max_delay_s=0.002)


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _scripted(*responses: httpx.Response | Exception) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = responses[min(len(seen) - 1, len(responses) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return _client(handler), seen


def _send(client: httpx.Client, policy: RetryPolicy = FAST, cancel: CancelToken | None = None,
          on_retry: Callable[[RetryNotice], None] | None = None) -> httpx.Response:
    return send_with_retry(client, lambda: client.build_request("POST", URL, json={}),
                           cancel=cancel or CancelToken(), policy=policy, on_retry=on_retry)


def _err(status: int, code: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers,
                          json={"error": {"message": "m", "type": code, "code": code, "param": None}})


def test_429_then_success_honours_retry_after_ms_and_reports_the_retry() -> None:
    client, seen = _scripted(_err(429, "rate_limit_exceeded", {"retry-after-ms": "30"}), httpx.Response(200))
    notices: list[RetryNotice] = []
    started = time.monotonic()
    assert _send(client, on_retry=notices.append).status_code == 200
    assert len(seen) == 2
    assert time.monotonic() - started >= 0.03
    assert [(n.attempt, n.max_attempts, n.delay_s) for n in notices] == [(2, 3, 0.03)]
    assert "retrying in 0.0 s (attempt 2 of 3)" in notices[0].message


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_get_three_attempts_then_the_mapped_error(status: int) -> None:
    client, seen = _scripted(_err(status))
    with pytest.raises((ServerError, RateLimited, TimeoutError_)):
        _send(client)
    assert len(seen) == 3


@pytest.mark.parametrize(("response", "error"), [
    (_err(400), BadRequest), (_err(401), AuthError), (_err(413), RequestTooLarge),
    (_err(429, "insufficient_quota"), RateLimited),
    (_err(413, headers={"x-should-retry": "true"}), RequestTooLarge),
])
def test_never_retried(response: httpx.Response, error: type[Exception]) -> None:
    client, seen = _scripted(response)
    with pytest.raises(error):
        _send(client)
    assert len(seen) == 1


def test_quota_error_says_to_check_billing() -> None:
    client, _ = _scripted(_err(429, "insufficient_quota"))
    with pytest.raises(RateLimited) as info:
        _send(client)
    assert info.value.quota and "billing" in info.value.full_message()


def test_retry_after_over_120_s_means_no_retry_even_with_x_should_retry() -> None:
    client, seen = _scripted(_err(429, headers={"retry-after": "121", "x-should-retry": "true"}))
    with pytest.raises(RateLimited) as info:
        _send(client)
    assert len(seen) == 1 and info.value.retry_after == 121


def test_x_should_retry_overrides_the_status_rules() -> None:
    client, seen = _scripted(_err(400, headers={"x-should-retry": "true"}), httpx.Response(200))
    assert _send(client).status_code == 200 and len(seen) == 2
    client, seen = _scripted(_err(503, headers={"x-should-retry": "false"}))
    with pytest.raises(ServerError):
        _send(client)
    assert len(seen) == 1


def test_connection_errors_and_timeouts_are_retried() -> None:
    client, seen = _scripted(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200))
    assert _send(client).status_code == 200 and len(seen) == 3
    client, seen = _scripted(httpx.ConnectError("refused"))
    with pytest.raises(NetworkError, match="offline"):
        _send(client)
    assert len(seen) == 3


def test_backoff_follows_the_sdk_formula() -> None:
    policy = RetryPolicy()
    for retries, nominal in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 8.0), (9, 8.0)]:
        delays = [policy.backoff(retries) for _ in range(200)]
        assert all(0.75 * nominal < d <= nominal for d in delays)


def test_retry_after_forms() -> None:
    policy = RetryPolicy()
    assert policy.delay(0, httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert policy.delay(0, httpx.Headers({"retry-after": "3"})) == 3.0
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < policy.delay(0, httpx.Headers({"retry-after": date})) <= 30
    assert policy.delay(0, httpx.Headers({"retry-after": "0"})) <= 0.5  # 0 is not a usable delay
    assert not should_retry_status(429, httpx.Headers({"retry-after-ms": "120001"}), "")
    assert should_retry_status(429, httpx.Headers({"retry-after": "120"}), "")


def test_cancel_during_the_wait_returns_at_once() -> None:
    client, seen = _scripted(_err(503, headers={"retry-after": "60"}), httpx.Response(200))
    cancel = CancelToken()
    waiting = threading.Event()

    def on_retry(_: RetryNotice) -> None:
        waiting.set()

    def cancel_once_waiting() -> None:
        if waiting.wait(10):
            cancel.cancel()

    threading.Thread(target=cancel_once_waiting, daemon=True).start()
    with pytest.raises(Cancelled):
        _send(client, cancel=cancel, on_retry=on_retry)
    assert len(seen) == 1
