"""Cancel tokens reach only the sockets used inside their own scope."""

from __future__ import annotations

import httpx
import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig
from desktop_app.providers.http_client import make_client
from desktop_app.providers.interrupt import interrupt_on_cancel
from tests.fakeopenai import FakeOpenAI


def test_an_old_token_does_not_break_a_pooled_connection_reused_later(srv: FakeOpenAI,
                                                                       config: ApiConfig) -> None:
    with make_client(config) as client:
        old = CancelToken()
        with interrupt_on_cancel(old):
            first = client.get(srv.base_url + "/models")
        local_port = first.extensions["network_stream"].get_extra_info("client_addr")[1]
        old.cancel()  # after its scope ended: must not touch the connection that went back to the pool
        with interrupt_on_cancel(CancelToken()):
            second = client.get(srv.base_url + "/models")
        assert first.status_code == second.status_code == 200
        # Same local port: the keep-alive connection was reused, and it still worked.
        assert second.extensions["network_stream"].get_extra_info("client_addr")[1] == local_port


def test_a_cancelled_token_fails_new_io_in_its_scope_at_once(srv: FakeOpenAI, config: ApiConfig) -> None:
    with make_client(config) as client:
        token = CancelToken()
        token.cancel()
        with interrupt_on_cancel(token), pytest.raises(httpx.TransportError):
            client.get(srv.base_url + "/models")
