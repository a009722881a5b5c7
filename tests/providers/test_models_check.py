"""The "Test connection" check against the fake server."""

from __future__ import annotations

import socket
from dataclasses import replace

from desktop_app.core.errors import AuthError, BadRequest, NetworkError
from desktop_app.core.models import ApiConfig
from desktop_app.providers import models_check
from tests.fakeopenai import DEFAULT_MODELS, FakeOpenAI


def test_ok_counts_models_and_finds_the_configured_ones(srv: FakeOpenAI, config: ApiConfig) -> None:
    report = models_check.test_connection(config, ["gpt-transcribe", "gpt-4o-mini-tts"])
    assert report.ok and report.model_count == len(DEFAULT_MODELS) and report.missing_models == ()
    assert "All configured models are available" in report.message and report.request_id


def test_missing_model_is_named(srv: FakeOpenAI, config: ApiConfig) -> None:
    report = models_check.test_connection(config, ["gpt-transcribe", "my-custom-model"])
    assert report.ok and report.missing_models == ("my-custom-model",) and "my-custom-model" in report.message


def test_wrong_key(srv: FakeOpenAI, config: ApiConfig) -> None:
    report = models_check.test_connection(replace(config, api_key="sk-not-the-right-key-000"))
    assert not report.ok and isinstance(report.error, AuthError) and "Settings → API key" in report.message
    assert "sk-not-the-right-key-000" not in report.message


def test_base_url_without_v1_is_reported_as_wrong_base_url(srv: FakeOpenAI, config: ApiConfig) -> None:
    report = models_check.test_connection(replace(config, base_url=srv.root_url))
    assert not report.ok and isinstance(report.error, BadRequest) and "Base URL" in report.message


def test_offline() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening: connection refused
        report = models_check.test_connection(ApiConfig(f"http://127.0.0.1:{s.getsockname()[1]}/v1"))
    assert not report.ok and isinstance(report.error, NetworkError) and "offline" in report.message


def test_invalid_base_url() -> None:
    report = models_check.test_connection(ApiConfig("not a url"))
    assert not report.ok and "base URL" in report.message
