"""The one place that builds httpx clients and URLs for the OpenAI API (protocol doc §1, §9)."""

from __future__ import annotations

import os
import ssl
import threading
from urllib.parse import urlencode

import httpx

import desktop_app
from desktop_app.core.errors import SettingsError
from desktop_app.core.models import ApiConfig
from desktop_app.core.redact import register_secret
from desktop_app.providers import interrupt

CONNECT_TIMEOUT_S = 5.0
USER_AGENT = f"Sayso/{desktop_app.__version__}"


def auth_headers(config: ApiConfig) -> dict[str, str]:
    """Headers every request (HTTP and the WebSocket upgrade) carries."""
    headers = {"User-Agent": USER_AGENT}
    if config.api_key:
        register_secret(config.api_key)  # from now on any text that echoes it is redacted
        headers["Authorization"] = f"Bearer {config.api_key}"
    if config.organization:
        headers["OpenAI-Organization"] = config.organization
    if config.project:
        headers["OpenAI-Project"] = config.project
    return headers


_tls_lock = threading.Lock()
_tls_contexts: dict[tuple[str, str], ssl.SSLContext] = {}


def tls_context() -> ssl.SSLContext:
    """The certificate-verifying TLS context every client shares, built once per process.

    httpx builds a new one for every client, loading the whole CA bundle: 20-40 ms of CPU before a request
    can start, paid on every reading and every dictation. The context is what httpx would build
    (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured, else certifi), so sharing it changes nothing else;
    it is keyed by those variables, so a changed environment still takes effect.
    """
    key = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    with _tls_lock:
        context = _tls_contexts.get(key)
        if context is None:
            context = _tls_contexts[key] = httpx.create_ssl_context()
        return context


def make_client(config: ApiConfig) -> httpx.Client:
    """An httpx client for ``config``: auth headers, connect timeout 5 s, read timeout from the config.

    Its sockets take part in :func:`desktop_app.providers.interrupt.interrupt_on_cancel`. The base URL is
    used as given: applying ``OPENAI_BASE_URL`` is the caller's job.
    """
    check_base_url(config.base_url)
    client = httpx.Client(
        headers=auth_headers(config),
        timeout=httpx.Timeout(config.timeout_s, connect=CONNECT_TIMEOUT_S),
        verify=tls_context(),
        follow_redirects=True,
    )
    # The default transport and any proxy transports httpx mounted from the environment.
    for transport in [client._transport, *client._mounts.values()]:
        if transport is not None:
            interrupt.install(transport)
    return client


def check_base_url(base_url: str) -> None:
    url = httpx.URL(base_url.strip()) if base_url.strip() else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise SettingsError(f"The API base URL {base_url!r} is not a valid http(s) URL.",
                            hint="Open Settings → API and enter e.g. https://api.openai.com/v1.")


def api_url(base_url: str, path: str) -> str:
    """``base.rstrip('/') + '/' + path``: ``api_url('https://api.openai.com/v1/', 'audio/speech')``."""
    return base_url.strip().rstrip("/") + "/" + path.lstrip("/")


def realtime_url(base_url: str, query: dict[str, str] | None = None) -> str:
    """The Realtime WebSocket URL: https→wss, http→ws, plus ``/realtime`` and the query string."""
    base = base_url.strip().rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://"):]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://"):]
    url = base + "/realtime"
    if query:
        url += "?" + urlencode(query)
    return url


class LazyClient:
    """The httpx client of one provider object: made on first use, shared by its calls, and closed only if
    it was made here (a client passed in belongs to the caller)."""

    def __init__(self, config: ApiConfig, client: httpx.Client | None = None) -> None:
        self._config = config
        self._client = client
        self._owned = client is None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = make_client(self._config)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._owned:
                self._client.close()
            self._client = None
