"""POST /v1/audio/transcriptions: real recognition, exact SSE bytes, formats, limits and faults."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
import soundfile

from tests.fakeopenai import FakeOpenAI

from .helpers import JFK_WORDS, sse_events, word_recall


def upload(client: httpx.Client, audio: bytes, name: str = "jfk.flac", **fields: str) -> httpx.Response:
    return client.post("audio/transcriptions", data=fields, files={"file": (name, audio, "audio/flac")})


def test_whisper_json_is_compact_with_duration_usage(client: httpx.Client, jfk_flac: bytes) -> None:
    response = upload(client, jfk_flac, model="whisper-1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"  # as captured (doc §1.3)
    assert response.content.startswith(b'{"text":"') and b", " not in response.content.split(b'"usage"')[1]
    body = response.json()
    assert word_recall(JFK_WORDS, body["text"]) >= 0.8
    assert body["usage"] == {"type": "duration", "seconds": 11}
    assert int(response.headers["content-length"]) == len(response.content)


def test_stream_has_crlf_framing_deltas_that_join_to_done_and_done_marker(
    client: httpx.Client, jfk_flac: bytes
) -> None:
    with client.stream(
        "POST",
        "audio/transcriptions",
        data={"model": "gpt-4o-mini-transcribe", "stream": "true"},
        files={"file": ("jfk.flac", jfk_flac, "audio/flac")},
    ) as response:
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        raw = b"".join(response.iter_raw())
    assert raw.endswith(b"\r\n\r\ndata: [DONE]\r\n\r\n")
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    done = events[-2]
    deltas = events[:-2]
    assert done["type"] == "transcript.text.done"
    assert len(deltas) > 5 and all(e["type"] == "transcript.text.delta" for e in deltas)
    assert "".join(e["delta"] for e in deltas) == done["text"]
    assert word_recall(JFK_WORDS, done["text"]) >= 0.8
    assert list(done["usage"]) == [
        "type",
        "total_tokens",
        "input_tokens",
        "input_token_details",
        "output_tokens",
    ]
    assert raw.startswith(b'data: {"type":"transcript.text.delta","delta":"')


def test_logprobs_ride_on_deltas_and_done(client: httpx.Client, jfk_flac: bytes) -> None:
    response = client.post(
        "audio/transcriptions",
        data={"model": "gpt-4o-transcribe", "stream": "true", "include[]": "logprobs"},
        files={"file": ("jfk.flac", jfk_flac, "audio/flac")},
    )
    events = sse_events(response.content)
    deltas = [e for e in events[:-1] if e["type"] == "transcript.text.delta"]
    assert all(len(d["logprobs"]) == 1 and d["logprobs"][0]["logprob"] <= 0 for d in deltas)
    assert len(events[-2]["logprobs"]) == len(deltas)


@pytest.mark.parametrize(
    ("kinds", "eol", "done_marker"),
    [
        (("lf_framing",), b"\n", True),
        (("no_done",), b"\r\n", False),
        (("lf_framing", "no_done"), b"\n", False),
    ],
)
def test_framing_faults(
    srv: FakeOpenAI,
    client: httpx.Client,
    jfk_flac: bytes,
    kinds: tuple[str, ...],
    eol: bytes,
    done_marker: bool,
) -> None:
    srv.add_fault("transcriptions", *kinds)
    raw = upload(client, jfk_flac, model="gpt-4o-mini-transcribe", stream="true").content
    if eol == b"\n":
        assert b"\r" not in raw
    events = sse_events(raw, eol)
    assert (events[-1] == "[DONE]") is done_marker
    assert [e for e in events if e != "[DONE]"][-1]["type"] == "transcript.text.done"


def test_whisper_ignores_stream_and_plain_json_fault_disables_streaming(
    srv: FakeOpenAI, client: httpx.Client, jfk_flac: bytes
) -> None:
    whisper = upload(client, jfk_flac, model="whisper-1", stream="true", response_format="text")
    assert whisper.headers["content-type"] == "text/plain; charset=utf-8"
    assert whisper.text.endswith(".\n") and word_recall(JFK_WORDS, whisper.text) >= 0.8
    srv.add_fault("transcriptions", "plain_json")
    plain = upload(client, jfk_flac, model="gpt-4o-mini-transcribe", stream="true")
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()["usage"]["type"] == "tokens"


def test_srt_vtt_and_verbose_layouts(client: httpx.Client, jfk_flac: bytes) -> None:
    srt = upload(client, jfk_flac, model="whisper-1", response_format="srt").text
    assert srt.startswith("1\n00:00:00,000 --> 00:00:0") and srt.endswith("\n\n\n")
    vtt = upload(client, jfk_flac, model="whisper-1", response_format="vtt").text
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:0") and vtt.endswith("\n\n")
    verbose = upload(
        client,
        jfk_flac,
        model="whisper-1",
        response_format="verbose_json",
        **{"timestamp_granularities[]": "word"},
    ).json()
    assert verbose["task"] == "transcribe" and verbose["language"] == "english"
    assert verbose["duration"] == pytest.approx(11.0)
    assert verbose["words"][0]["start"] >= 0 and "segments" not in verbose  # only `word` was asked for
    assert verbose["usage"] == {"type": "duration", "seconds": 11}


def test_model_format_matrix_and_unknown_fields_are_400(client: httpx.Client, jfk_flac: bytes) -> None:
    bad_format = upload(client, jfk_flac, model="gpt-4o-mini-transcribe", response_format="srt")
    assert bad_format.status_code == 400
    assert bad_format.json()["error"]["param"] == "response_format"
    unknown = upload(client, jfk_flac, model="whisper-1", colour="blue")
    assert unknown.json()["error"] == {
        "message": "Unknown parameter: 'colour'.",
        "type": "invalid_request_error",
        "param": "colour",
        "code": "unknown_parameter",
    }
    language = upload(client, jfk_flac, model="whisper-1", language="english")
    assert language.json()["error"]["code"] == "invalid_language_format"
    assert language.json()["usage"] == {"type": "duration", "seconds": 0}
    bad_file = upload(client, b"not audio at all", name="clip.txt", model="whisper-1")
    assert bad_file.status_code == 400 and "Invalid file format" in bad_file.json()["error"]["message"]


def test_multipart_arrays_objects_and_audio_are_recorded(
    srv: FakeOpenAI, client: httpx.Client, jfk_flac: bytes
) -> None:
    response = client.post(
        "audio/transcriptions",
        data={
            "model": "gpt-4o-mini-transcribe",
            "include[]": ["logprobs"],
            "chunking_strategy[type]": "server_vad",
            "chunking_strategy[threshold]": "0.5",
        },
        files={"file": ("speech.flac", jfk_flac, "audio/flac")},
    )
    assert response.status_code == 200, response.text
    (recorded,) = srv.requests
    assert recorded.form["include[]"] == ["logprobs"]
    assert recorded.field("chunking_strategy[type]") == "server_vad"
    assert recorded.audio == jfk_flac
    assert recorded.audio_filename == "speech.flac" and recorded.audio_content_type == "audio/flac"
    assert recorded.body_size > len(jfk_flac)
    assert recorded.headers["Authorization"] == f"Bearer {srv.api_key}"


def test_silence_gives_empty_text(client: httpx.Client) -> None:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(16000 * 2, dtype=np.int16), 16000, format="WAV")
    body = upload(client, buffer.getvalue(), name="quiet.wav", model="gpt-4o-mini-transcribe").json()
    assert body["text"] == ""


def test_request_over_25_mib_is_413(client: httpx.Client) -> None:
    response = upload(client, bytes(26_214_400), name="big.wav", model="whisper-1")
    assert response.status_code == 413
    body = response.json()
    assert body["error"]["message"].startswith("413: Maximum content size limit (26214400) exceeded (")
    assert body["error"]["type"] == "server_error"
    assert body["usage"] == {"type": "duration", "seconds": 0}


def test_429_then_success_and_retired_model(srv: FakeOpenAI, client: httpx.Client, jfk_flac: bytes) -> None:
    srv.add_fault("transcriptions", status=429, retry_after=1)
    limited = upload(client, jfk_flac, model="whisper-1")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert upload(client, jfk_flac, model="whisper-1").status_code == 200
    srv.models.discard("whisper-1")
    gone = upload(client, jfk_flac, model="whisper-1")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "model_not_found"


def test_detail_errors_fault_uses_fastapi_shape(
    srv: FakeOpenAI, client: httpx.Client, jfk_flac: bytes
) -> None:
    srv.add_fault("transcriptions", "detail_errors", "model_not_found")
    body = upload(client, jfk_flac, model="whisper-1").json()
    assert "error" not in body
    assert body["detail"]["error"] == "model_not_found" and "does not exist" in body["detail"]["message"]


def test_drop_mid_stream_truncates_the_body(srv: FakeOpenAI, client: httpx.Client, jfk_flac: bytes) -> None:
    srv.add_fault("transcriptions", "drop_mid_stream", after=3)
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream(
            "POST",
            "audio/transcriptions",
            data={"model": "gpt-4o-mini-transcribe", "stream": "true"},
            files={"file": ("jfk.flac", jfk_flac, "audio/flac")},
        ) as response,
    ):
        for chunk in response.iter_raw():
            received += chunk
    assert received.count(b"data: ") == 3
    assert b"[DONE]" not in received


def test_hang_is_seen_as_a_read_timeout(srv: FakeOpenAI, jfk_flac: bytes) -> None:
    srv.add_fault("transcriptions", "hang")
    with (
        httpx.Client(
            base_url=srv.base_url + "/",
            headers={"Authorization": f"Bearer {srv.api_key}"},
            timeout=httpx.Timeout(5.0, read=0.5),
        ) as c,
        pytest.raises(httpx.ReadTimeout),
    ):
        upload(c, jfk_flac, model="whisper-1")


def test_translations_accept_only_whisper_and_report_translate_task(
    client: httpx.Client, jfk_flac: bytes
) -> None:
    files = {"file": ("jfk.flac", jfk_flac, "audio/flac")}
    verbose = client.post(
        "audio/translations", data={"model": "whisper-1", "response_format": "verbose_json"}, files=files
    ).json()
    assert verbose["task"] == "translate" and word_recall(JFK_WORDS, verbose["text"]) >= 0.8
    refused = client.post("audio/translations", data={"model": "gpt-4o-mini-transcribe"}, files=files)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "model"
