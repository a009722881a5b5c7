"""Send a request with the official SDK's retry policy (protocol doc §8.4), cancellable while waiting.

Decision order for a failed attempt:
  0. ``insufficient_quota`` and 413 are never retried (a user has to act; the SDK would retry the 429);
  1. a ``retry-after-ms`` / ``retry-after`` above 120 s: no retry;
  2. ``x-should-retry: true|false`` decides when present;
  3. 408, 409, 429 and every status >= 500 are retried; connection errors and timeouts too.
The delay is the server's ``retry-after`` when 0 < it <= 120 s, else ``min(0.5 * 2**n, 8) * jitter`` with
jitter in (0.75, 1]. Retries happen only before a response is accepted: a stream that breaks later is not
replayed here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled, SaysoError, TLSError
from desktop_app.providers.errors import (
    Kind,
    error_from_exception,
    error_from_status,
    parse_error_body,
    retry_after_seconds,
)

MAX_RETRY_AFTER_S = 120.0
MAX_ERROR_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class RetryNotice:
    """Told to the UI before each wait: ``attempt`` is the number of the attempt about to be made (2, 3…)."""

    attempt: int
    max_attempts: int
    delay_s: float
    reason: str

    @property
    def message(self) -> str:
        return (f"{self.reason}: retrying in {self.delay_s:.1f} s "
                f"(attempt {self.attempt} of {self.max_attempts})")


RetryCallback = Callable[[RetryNotice], None]


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def backoff(self, retries_taken: int) -> float:
        delay = min(self.base_delay_s * 2.0 ** retries_taken, self.max_delay_s)
        return delay * (1.0 - 0.25 * random.random())

    def delay(self, retries_taken: int, headers: httpx.Headers | None) -> float:
        retry_after = retry_after_seconds(headers) if headers is not None else None
        if retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER_S:
            return retry_after
        return self.backoff(retries_taken)


def should_retry_status(status: int, headers: httpx.Headers, error_code: str) -> bool:
    if error_code == "insufficient_quota" or status == 413:
        return False
    retry_after = retry_after_seconds(headers)
    if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
        return False
    should = headers.get("x-should-retry", "").strip().lower()
    if should == "true":
        return True
    if should == "false":
        return False
    return status in (408, 409, 429) or status >= 500


def should_retry_exception(exc: httpx.TransportError) -> bool:
    mapped = error_from_exception(exc)
    # A certificate problem or a bad URL does not heal within a second.
    return not isinstance(mapped, TLSError) and isinstance(
        exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError))


def read_capped(response: httpx.Response, limit: int = MAX_ERROR_BODY_BYTES) -> str:
    """Read an error body, at most ``limit`` bytes (a Cloudflare page explains enough; a runaway body not)."""
    data = bytearray()
    for piece in response.iter_bytes():
        data += piece
        if len(data) >= limit:
            break
    return bytes(data[:limit]).decode(response.encoding or "utf-8", errors="replace")


def send_with_retry(client: httpx.Client, build: Callable[[], httpx.Request], *, cancel: CancelToken,
                    policy: RetryPolicy | None = None, on_retry: RetryCallback | None = None,
                    model: str = "", kind: Kind = "transcription") -> httpx.Response:
    """Send the request ``build()`` makes (called once per attempt) until a 2xx arrives.

    Returns the open, streaming 2xx response: the caller reads and closes it. Raises the mapped
    ``core.errors`` error, or ``Cancelled`` if ``cancel`` trips (also while waiting between attempts).
    """
    policy = policy or RetryPolicy()
    max_attempts = policy.max_retries + 1
    for attempt in range(1, max_attempts + 1):
        cancel.raise_if_cancelled()
        request = build()
        headers: httpx.Headers | None = None
        try:
            response = client.send(request, stream=True)
        except httpx.TransportError as exc:
            if cancel.cancelled:
                raise Cancelled() from None
            error: SaysoError = error_from_exception(exc, host=request.url.host)
            if attempt == max_attempts or not should_retry_exception(exc):
                raise error from None
        else:
            if response.is_success:
                return response
            try:
                body = read_capped(response)
            except httpx.TransportError as exc:
                response.close()
                if cancel.cancelled:
                    raise Cancelled() from None
                raise error_from_exception(exc, host=request.url.host) from None
            response.close()
            headers = response.headers
            error = error_from_status(response.status_code, headers, body, model=model, kind=kind)
            code = parse_error_body(body).code
            if attempt == max_attempts or not should_retry_status(response.status_code, headers, code):
                raise error
        delay = policy.delay(attempt - 1, headers)
        if on_retry is not None:
            on_retry(RetryNotice(attempt + 1, max_attempts, delay, error.user_message.rstrip(".")))
        if cancel.wait(delay):
            raise Cancelled()
    raise AssertionError("unreachable: the last attempt returns or raises")
