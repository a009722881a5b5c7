"""POST /v1/audio/speech: real espeak-ng speech, chunked bodies, WAV placeholders, SSE and validation."""

from __future__ import annotations

import base64
import struct

import httpx
import numpy as np
import pytest

from tests.fakeopenai import FakeOpenAI

from .helpers import sse_events, word_recall

SENTENCE = "Ask not what your country can do for you."


def speak(client: httpx.Client, **params: object) -> httpx.Response:
    body = {"model": "gpt-4o-mini-tts", "input": SENTENCE, "voice": "coral", **params}
    return client.post("audio/speech", json=body)


def test_pcm_is_streamed_in_chunks_without_content_length(client: httpx.Client) -> None:
    body = {"model": "gpt-4o-mini-tts", "input": SENTENCE, "voice": "coral", "response_format": "pcm"}
    with client.stream("POST", "audio/speech", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/pcm"
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        assert response.headers["x-ratelimit-limit-tokens"]  # gpt-4o-mini-tts is token-billed
        chunks = list(response.iter_raw())
    pcm = b"".join(chunks)
    assert len(chunks) > 3
    seconds = len(pcm) / 48000
    assert 1.0 < seconds < 6.0
    samples = np.frombuffer(pcm, dtype="<i2")
    assert np.abs(samples).max() > 3000  # real speech, not silence


def test_speech_round_trips_through_recognition(client: httpx.Client) -> None:
    wav = speak(client, response_format="wav", speed=0.9).content
    text = client.post(
        "audio/transcriptions", data={"model": "whisper-1"}, files={"file": ("tts.wav", wav, "audio/wav")}
    ).json()["text"]
    assert word_recall(SENTENCE.lower().rstrip(".").split(), text) >= 0.8


def test_wav_header_has_placeholder_sizes_unless_sized(srv: FakeOpenAI, client: httpx.Client) -> None:
    wav = speak(client, response_format="wav").content
    assert wav[:4] == b"RIFF" and wav[8:16] == b"WAVEfmt "
    assert struct.unpack_from("<I", wav, 4)[0] == 0xFFFFFFFF
    assert struct.unpack_from("<I", wav, 40)[0] == 0xFFFFFFFF
    assert struct.unpack_from("<IHHIIHH", wav, 16) == (16, 1, 1, 24000, 48000, 2, 16)
    srv.add_fault("speech", "wav_sized")
    sized = speak(client, response_format="wav").content
    assert struct.unpack_from("<I", sized, 40)[0] == len(sized) - 44


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"),
    [
        ("mp3", "audio/mpeg", b"\xff"),
        ("opus", "audio/opus", b"OggS"),
        ("flac", "audio/flac", b"fLaC"),
        ("aac", "audio/aac", b"\xff"),
    ],
)
def test_encoded_formats(client: httpx.Client, fmt: str, content_type: str, magic: bytes) -> None:
    response = speak(client, response_format=fmt)
    assert response.headers["content-type"] == content_type
    assert response.content.startswith(magic)


def test_sse_deltas_rebuild_the_audio(client: httpx.Client) -> None:
    pcm = speak(client, response_format="pcm").content
    response = speak(client, response_format="pcm", stream_format="sse")
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = sse_events(response.content)
    assert events[-1] == "[DONE]"
    done = events[-2]
    assert done["type"] == "speech.audio.done"
    assert set(done["usage"]) == {"input_tokens", "output_tokens", "total_tokens"}
    deltas = events[:-2]
    assert all(list(e) == ["type", "audio"] and e["type"] == "speech.audio.delta" for e in deltas)
    assert b"".join(base64.b64decode(e["audio"]) for e in deltas) == pcm


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"input": "x" * 4097}, "input", "string_above_max_length"),
        ({"model": "tts-1", "voice": "marin"}, "voice", "invalid_value"),
        ({"voice": "robot"}, "voice", "invalid_value"),
        ({"model": "tts-1", "stream_format": "sse"}, "stream_format", "unsupported_value"),
        ({"speed": 4.5}, "speed", "decimal_above_max_value"),
        ({"response_format": "ogg"}, "response_format", "invalid_value"),
        ({"temperature": 0.2}, "temperature", "unknown_parameter"),
        ({"input": ""}, "input", "missing_required_parameter"),
    ],
)
def test_validation_errors_are_400(
    client: httpx.Client, params: dict[str, object], param: str, code: str
) -> None:
    response = speak(client, **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


def test_4096_characters_and_instructions_are_accepted(client: httpx.Client) -> None:
    longest = speak(client, input="word " * 819 + "w", instructions="Speak calmly.", response_format="pcm")
    assert longest.status_code == 200
    # tts-1 ignores instructions rather than rejecting them.
    classic = speak(client, model="tts-1", voice="onyx", instructions="ignored", response_format="pcm")
    assert classic.status_code == 200


def test_speech_drop_mid_stream(srv: FakeOpenAI, client: httpx.Client) -> None:
    srv.add_fault("speech", "drop_mid_stream", after=1)
    body = {"model": "gpt-4o-mini-tts", "input": SENTENCE, "voice": "ash", "response_format": "pcm"}
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "audio/speech", json=body) as response,
    ):
        for _ in response.iter_raw():
            pass
    (recorded,) = srv.requests
    assert recorded.json["voice"] == "ash" and recorded.fault == ["drop_mid_stream"]
