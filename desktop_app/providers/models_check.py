"""The Settings "Test connection" button and ``sayso doctor``: ``GET /models`` once, explained."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import SaysoError
from desktop_app.core.models import ApiConfig
from desktop_app.providers.errors import error_from_exception, error_from_status
from desktop_app.providers.http_client import api_url, make_client
from desktop_app.providers.interrupt import interrupt_on_cancel
from desktop_app.providers.retry import read_capped


@dataclass(frozen=True)
class ConnectionReport:
    """``ok``: the server answered and took the key. ``model_count`` is None when it lists no models."""

    ok: bool
    message: str
    model_count: int | None = None
    missing_models: tuple[str, ...] = ()
    request_id: str = ""
    error: SaysoError | None = field(default=None, compare=False)


def test_connection(config: ApiConfig, models: Sequence[str] = (), *, client: httpx.Client | None = None,
                    cancel: CancelToken | None = None) -> ConnectionReport:
    """Ask the server for its models; report whether the key works and ``models`` are offered.

    A 404 counts as a failure: every known compatible server lists models, so it means a wrong base URL.

    No retries: the user pressed a button and wants the answer now. Never raises for server or network
    trouble; the report carries the error and its sentence.
    """
    cancel = cancel or CancelToken()
    url = api_url(config.base_url, "models")
    wanted = tuple(dict.fromkeys(m for m in models if m))
    try:
        http = client or make_client(config)
    except SaysoError as exc:
        return ConnectionReport(ok=False, message=exc.full_message(), error=exc)
    try:
        with interrupt_on_cancel(cancel), http.stream("GET", url) as response:
            body = read_capped(response, 4 * 1024 * 1024)
            request_id = response.headers.get("x-request-id", "")
            if not response.is_success:
                error = error_from_status(response.status_code, response.headers, body, kind="models")
                return ConnectionReport(ok=False, message=error.full_message(), request_id=request_id,
                                        error=error)
    except httpx.TransportError as exc:
        error = error_from_exception(exc, host=httpx.URL(url).host)
        return ConnectionReport(ok=False, message=error.full_message(), error=error)
    finally:
        if client is None:
            http.close()
    ids = _model_ids(body)
    if ids is None:
        return ConnectionReport(ok=True, request_id=request_id, message=(
            "Connected, but the model list had an unusual format, so the model names were not checked."))
    missing = tuple(m for m in wanted if m not in ids)
    message = f"Connected. The server offers {len(ids)} models."
    if missing:
        message += " Not offered: " + ", ".join(missing) + " (change them in Settings)."
    elif wanted:
        message += " All configured models are available."
    return ConnectionReport(ok=True, message=message, model_count=len(ids), missing_models=missing,
                            request_id=request_id)


def _model_ids(body: str) -> set[str] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    entries = data.get("data") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        return None
    return {str(item["id"]) for item in entries if isinstance(item, dict) and "id" in item}


test_connection.__test__ = False  # type: ignore[attr-defined]  # a function named test_* is not a pytest test
