"""The fixture bodies every in-process fake-OpenAI test package shares: one server per module (starting one
costs a model load), and a clean slate for each test so a fault or a changed key never leaks into the next."""

from __future__ import annotations

from collections.abc import Iterator

from desktop_app.core.models import ApiConfig
from tests.fakeopenai import DEFAULT_MODELS, FakeOpenAI


def module_server(*, preload: bool = True) -> Iterator[FakeOpenAI]:
    """Body of a module-scoped ``server`` fixture; ``preload`` loads the speech model up front."""
    with FakeOpenAI(preload=preload) as srv:
        yield srv


def clean_server(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """Body of the per-test ``srv`` fixture: no queued faults or recorded requests, default keys and models."""
    server.clear_faults()
    server.clear_requests()
    yield server
    server.clear_faults()
    server.valid_keys = [server.api_key]
    server.models = DEFAULT_MODELS


def api_config(server: FakeOpenAI) -> ApiConfig:
    return ApiConfig(server.base_url, api_key=server.api_key, timeout_s=30.0)
