"""URLs and headers per protocol doc §1, §9."""

from __future__ import annotations

import ssl

import certifi
import pytest

from desktop_app.core.errors import SettingsError
from desktop_app.core.models import ApiConfig
from desktop_app.core.redact import redact
from desktop_app.providers.http_client import api_url, make_client, realtime_url, tls_context


@pytest.mark.parametrize("base", ["https://api.openai.com/v1", "https://api.openai.com/v1/",
                                  " https://api.openai.com/v1// "])
def test_api_url_joins_with_exactly_one_slash(base: str) -> None:
    assert api_url(base, "audio/transcriptions") == "https://api.openai.com/v1/audio/transcriptions"


def test_realtime_url() -> None:
    assert realtime_url("https://api.openai.com/v1") == "wss://api.openai.com/v1/realtime"
    assert realtime_url("http://localhost:8000/v1/", {"model": "m x", "intent": "transcription"}) == (
        "ws://localhost:8000/v1/realtime?model=m+x&intent=transcription")


def test_client_headers_timeouts_and_key_registration() -> None:
    key = "sk-test-unusual-shape"
    config = ApiConfig("https://api.openai.com/v1", api_key=key, organization="org-1", project="proj_2",
                       timeout_s=42)
    with make_client(config) as client:
        assert client.headers["authorization"] == f"Bearer {key}"
        assert client.headers["openai-organization"] == "org-1"
        assert client.headers["openai-project"] == "proj_2"
        assert client.headers["user-agent"].startswith("Sayso/")
        assert client.timeout.connect == 5 and client.timeout.read == 42
    assert key not in redact(f"the server echoed {key}")
    assert key not in repr(config)


def test_optional_headers_are_not_sent_when_unset() -> None:
    with make_client(ApiConfig("http://localhost:1/v1")) as client:
        assert "openai-organization" not in client.headers and "authorization" not in client.headers


@pytest.mark.parametrize("base", ["", "api.openai.com/v1", "ftp://x/v1"])
def test_bad_base_url_is_a_settings_error(base: str) -> None:
    with pytest.raises(SettingsError, match="base URL"):
        make_client(ApiConfig(base))


def test_every_client_shares_one_certificate_verifying_tls_context() -> None:
    # Building a TLS context loads the whole CA bundle (20-40 ms): once per process, not once per client.
    with make_client(ApiConfig("https://api.openai.com/v1")) as first, \
            make_client(ApiConfig("https://example.com/v1", api_key="sk-other")) as second:
        contexts = {id(tls_context())}
        for client in (first, second):
            pool = client._transport._pool  # type: ignore[attr-defined]
            contexts.add(id(pool._ssl_context))
    assert len(contexts) == 1
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname


def test_the_tls_context_follows_ssl_cert_file(monkeypatch: pytest.MonkeyPatch) -> None:
    default = tls_context()
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert tls_context() is not default  # a CA bundle named in the environment is loaded, as httpx would
    assert tls_context() is tls_context()
