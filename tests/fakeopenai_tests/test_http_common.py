"""Auth, common headers and /v1/models, checked on the bytes."""

from __future__ import annotations

import json
import re

import httpx

from tests.fakeopenai import FakeOpenAI


def test_bad_key_gets_the_captured_401_body_byte_for_byte(srv: FakeOpenAI) -> None:
    response = httpx.get(
        srv.base_url + "/models", headers={"Authorization": "Bearer not-a-real-key-so-expect-an-error-ized"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["content-length"] == "288"  # the recorded real response
    expected = (
        "{\n"
        '    "error": {\n'
        '        "message": "Incorrect API key provided: not-a-re**************************ized. '
        'You can find your API key at https://platform.openai.com/account/api-keys.",\n'
        '        "type": "invalid_request_error",\n'
        '        "param": null,\n'
        '        "code": "invalid_api_key"\n'
        "    }\n"
        "}\n"
    )
    assert response.content == expected.encode()


def test_missing_key_is_401_without_code(srv: FakeOpenAI) -> None:
    response = httpx.post(srv.base_url + "/audio/speech", json={})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] is None
    assert error["message"].startswith("You didn't provide an API key.")
    assert srv.requests[-1].status == 401


def test_common_headers_and_org_echo(srv: FakeOpenAI, client: httpx.Client) -> None:
    response = client.get("models", headers={"OpenAI-Organization": "org-abc", "OpenAI-Project": "proj_xyz"})
    assert response.status_code == 200
    assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
    assert response.headers["openai-version"] == "2020-10-01"
    assert int(response.headers["openai-processing-ms"]) >= 1
    assert response.headers["openai-organization"] == "org-abc"
    assert response.headers["openai-project"] == "proj_xyz"
    assert response.headers["x-ratelimit-remaining-requests"] == "29999"
    assert "x-ratelimit-limit-tokens" not in response.headers  # not a token-billed request


def test_models_list_follows_the_models_set(srv: FakeOpenAI, client: httpx.Client) -> None:
    body = client.get("models").json()
    ids = {m["id"] for m in body["data"]}
    assert body["object"] == "list"
    assert {"gpt-4o-mini-transcribe", "whisper-1", "gpt-4o-mini-tts", "gpt-realtime-2.1-mini"} <= ids
    assert all(m["object"] == "model" for m in body["data"])

    srv.models.discard("whisper-1")  # "retire" a model
    assert "whisper-1" not in {m["id"] for m in client.get("models").json()["data"]}
    retired = client.get("models/whisper-1")
    assert retired.status_code == 404
    assert retired.json()["error"]["code"] == "model_not_found"
    assert client.get("models/gpt-4o-mini-tts").json()["id"] == "gpt-4o-mini-tts"


def test_valid_keys_can_change_at_runtime(srv: FakeOpenAI) -> None:
    srv.valid_keys.add("sk-second")
    assert (
        httpx.get(srv.base_url + "/models", headers={"Authorization": "Bearer sk-second"}).status_code == 200
    )
    srv.valid_keys = ["sk-only"]
    assert (
        httpx.get(srv.base_url + "/models", headers={"Authorization": f"Bearer {srv.api_key}"}).status_code
        == 401
    )


def test_429_fault_carries_retry_headers_and_is_used_once(srv: FakeOpenAI, client: httpx.Client) -> None:
    srv.add_fault("models", status=429, retry_after=0.2, retry_after_ms=200)
    limited = client.get("models")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "0.2"
    assert limited.headers["retry-after-ms"] == "200"
    error = json.loads(limited.content)["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == "requests"
    assert client.get("models").status_code == 200  # consumed


def test_503_fault_is_an_html_page_and_times_none_is_sticky(srv: FakeOpenAI, client: httpx.Client) -> None:
    srv.add_fault("models", status=503, times=None)
    for _ in range(3):
        response = client.get("models")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        assert b"<html>" in response.content
    srv.clear_faults()
    assert client.get("models").status_code == 200
