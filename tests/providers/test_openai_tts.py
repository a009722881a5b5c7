"""OpenAISpeech against the protocol-faithful fake server (real sockets, real espeak-ng speech)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import AuthError, BadRequest, Cancelled, ModelRetired, NetworkError
from desktop_app.core.models import ApiConfig, SpeechChunk, SpeechOptions
from desktop_app.providers.openai_tts import AudioFormat, OpenAISpeech, StreamFormat
from desktop_app.providers.retry import RetryPolicy
from tests.fakeopenai import FakeOpenAI

TEXT = SpeechChunk(index=0, text="Ask not what your country can do for you.")
OPTIONS = SpeechOptions(model="gpt-4o-mini-tts", voice="marin", instructions="Calm and clear.")
FAST_RETRY = RetryPolicy(base_delay_s=0.01, max_delay_s=0.02)
PATIENT = 600.0  # a read timeout far beyond the test timeout: only a real socket close returns in time


def _speak(config: ApiConfig, *, chunk: SpeechChunk = TEXT, options: SpeechOptions = OPTIONS,
           stream_format: StreamFormat = "audio", response_format: AudioFormat = "pcm",
           ) -> list[tuple[bytes, int]]:
    pieces: list[tuple[bytes, int]] = []
    speech = OpenAISpeech(config, stream_format=stream_format, response_format=response_format,
                          retry_policy=FAST_RETRY)
    try:
        speech.synthesize(chunk, options, lambda pcm, rate: pieces.append((pcm, rate)), CancelToken())
    finally:
        speech.close()
    return pieces


def _pcm(pieces: list[tuple[bytes, int]]) -> bytes:
    assert all(len(pcm) % 2 == 0 for pcm, _ in pieces), "every piece holds whole samples"
    return b"".join(pcm for pcm, _ in pieces)


def test_pcm_arrives_in_pieces_and_the_request_is_what_the_doc_says(srv: FakeOpenAI,
                                                                    config: ApiConfig) -> None:
    pieces = _speak(config)
    assert len(pieces) >= 2 and {rate for _, rate in pieces} == {24000}
    assert len(_pcm(pieces)) > 24000 * 2 // 2  # more than half a second of speech
    [request] = srv.requests
    assert request.json == {"model": "gpt-4o-mini-tts", "input": TEXT.text, "voice": "marin",
                            "response_format": "pcm", "speed": 1.0, "instructions": "Calm and clear."}


@pytest.mark.timeout(20)
def test_audio_reaches_on_audio_before_the_body_ends_and_cancel_closes_the_stream(
        srv: FakeOpenAI, config: ApiConfig) -> None:
    srv.add_fault("speech", "hang", after=3)  # three chunks, then the server goes quiet
    cancel = CancelToken()
    pieces: list[bytes] = []

    def on_audio(pcm: bytes, rate: int) -> None:
        pieces.append(pcm)
        if len(pieces) == 2:
            threading.Thread(target=cancel.cancel).start()

    speech = OpenAISpeech(replace(config, timeout_s=PATIENT))
    with pytest.raises(Cancelled):
        speech.synthesize(TEXT, OPTIONS, on_audio, cancel)
    speech.close()
    assert len(pieces) >= 2


@pytest.mark.parametrize(("stream_format", "response_format", "fault"), [
    ("audio", "wav", None),  # streamed WAV header with 0xFFFFFFFF sizes (the real service)
    ("audio", "wav", "wav_sized"),  # a compatible server with true sizes
    ("sse", "pcm", None),  # speech.audio.delta events, base64
    ("sse", "pcm", "lf_framing"),
])
def test_wav_and_sse_give_the_same_pcm_as_raw(srv: FakeOpenAI, config: ApiConfig, stream_format: StreamFormat,
                                              response_format: AudioFormat, fault: str | None) -> None:
    reference = _pcm(_speak(config))
    if fault:
        srv.add_fault("speech", fault)
    pieces = _speak(config, stream_format=stream_format, response_format=response_format)
    assert _pcm(pieces) == reference and {rate for _, rate in pieces} == {24000}


def test_tts_1_does_not_get_instructions(srv: FakeOpenAI, config: ApiConfig) -> None:
    _speak(config, options=SpeechOptions(model="tts-1", voice="alloy", speed=1.25, instructions="Whisper."))
    [request] = srv.requests
    assert "instructions" not in request.json and request.json["speed"] == 1.25


def test_text_over_4096_characters_is_refused_before_sending(srv: FakeOpenAI, config: ApiConfig) -> None:
    with pytest.raises(BadRequest, match="4097 characters"):
        _speak(config, chunk=SpeechChunk(index=0, text="a" * 4097))
    assert srv.requests == []


def test_empty_text_sends_nothing(srv: FakeOpenAI, config: ApiConfig) -> None:
    assert _speak(config, chunk=SpeechChunk(index=0, text="  \n")) == []
    assert srv.requests == []


@pytest.mark.parametrize("detail_style", [False, True])
def test_retired_speech_model_points_to_the_realtime_engine(srv: FakeOpenAI, config: ApiConfig,
                                                            detail_style: bool) -> None:
    srv.add_fault("speech", "model_not_found", *(["detail_errors"] if detail_style else []))
    with pytest.raises(ModelRetired) as info:
        _speak(config, options=SpeechOptions(model="tts-1", voice="alloy"))
    assert info.value.alternative == "gpt-realtime-2.1-mini" and "tts-1" in info.value.user_message


def test_500_then_success_and_401(srv: FakeOpenAI, config: ApiConfig) -> None:
    srv.add_fault("speech", status=500)
    assert _speak(config)
    assert [r.status for r in srv.wait_for_requests(2, lambda r: r.status is not None)] == [500, 200]
    with pytest.raises(AuthError):
        _speak(replace(config, api_key="sk-wrong-wrong-wrong-wrong"))


def test_drop_mid_stream_is_a_network_error(srv: FakeOpenAI, config: ApiConfig) -> None:
    srv.add_fault("speech", "drop_mid_stream", after=2)
    with pytest.raises(NetworkError):
        _speak(config)
    assert len(srv.requests) == 1
