"""OpenAITranscriber against the protocol-faithful fake server (real sockets, real speech recognition)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import (
    AuthError,
    Cancelled,
    ModelRetired,
    NetworkError,
    RateLimited,
    ServerError,
    TimeoutError_,
)
from desktop_app.core.models import ApiConfig, EncodedAudio, Transcript, TranscriptDelta, TranscriptionOptions
from desktop_app.providers.openai_stt import OpenAITranscriber
from desktop_app.providers.retry import RetryNotice, RetryPolicy
from tests.fakeopenai import FakeOpenAI
from tests.providers.conftest import JFK_WORDS, word_recall

STREAMING = TranscriptionOptions(model="gpt-4o-mini-transcribe", language="en")
FAST_RETRY = RetryPolicy(base_delay_s=0.01, max_delay_s=0.02)


def _transcribe(config: ApiConfig, audio: EncodedAudio, options: TranscriptionOptions = STREAMING, *,
                cancel: CancelToken | None = None, policy: RetryPolicy = FAST_RETRY,
                notices: list[RetryNotice] | None = None) -> tuple[Transcript, list[TranscriptDelta]]:
    deltas: list[TranscriptDelta] = []
    transcriber = OpenAITranscriber(config, retry_policy=policy,
                                    on_retry=notices.append if notices is not None else None)
    try:
        return transcriber.transcribe(audio, options, deltas.append, cancel or CancelToken()), deltas
    finally:
        transcriber.close()


def test_streamed_transcription_gives_live_deltas_and_the_final_text(
        srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    transcript, deltas = _transcribe(config, jfk_flac)
    assert word_recall(JFK_WORDS, transcript.text) >= 0.8
    assert len(deltas) >= 2 and not any(d.final for d in deltas)
    assert word_recall(JFK_WORDS, "".join(d.text for d in deltas)) >= 0.8
    assert transcript.model == "gpt-4o-mini-transcribe" and transcript.request_id.startswith("req_")
    [request] = srv.requests
    assert request.field("stream") == "true" and request.field("response_format") == "json"
    assert request.audio_filename == "speech.flac" and request.audio_content_type == "audio/flac"
    assert request.headers["User-Agent"].startswith("Sayso/")


@pytest.mark.parametrize("kinds", [("lf_framing",), ("no_done",), ("no_space",), ("lf_framing", "no_done")])
def test_framing_variants_give_the_same_result(srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio,
                                               kinds: tuple[str, ...]) -> None:
    srv.add_fault("transcriptions", *kinds)
    transcript, deltas = _transcribe(config, jfk_flac)
    assert word_recall(JFK_WORDS, transcript.text) >= 0.8 and len(deltas) >= 2


def test_plain_json_server_ignoring_stream(srv: FakeOpenAI, config: ApiConfig,
                                           jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", "plain_json")
    transcript, deltas = _transcribe(config, jfk_flac)
    assert word_recall(JFK_WORDS, transcript.text) >= 0.8 and deltas == []


def test_whisper_1_is_not_asked_to_stream_and_keywords_become_a_prompt(
        srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    options = TranscriptionOptions(model="whisper-1", keywords=("Kennedy",))
    transcript, _ = _transcribe(config, jfk_flac, options)
    assert word_recall(JFK_WORDS, transcript.text) >= 0.8
    [request] = srv.requests
    assert request.field("stream") is None and request.form.get("keywords[]") is None
    assert "Kennedy" in (request.field("prompt") or "")


def test_gpt_transcribe_gets_keywords_as_an_array(srv: FakeOpenAI, config: ApiConfig,
                                                  jfk_flac: EncodedAudio) -> None:
    options = TranscriptionOptions(model="gpt-transcribe", keywords=("Kennedy", "Americans"))
    transcript, _ = _transcribe(config, jfk_flac, options)
    assert word_recall(JFK_WORDS, transcript.text) >= 0.8
    [request] = srv.requests
    assert request.form.get("keywords[]") == ["Kennedy", "Americans"]


def test_429_then_success_honours_retry_after(srv: FakeOpenAI, config: ApiConfig,
                                              jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", status=429, retry_after_ms=150)
    notices: list[RetryNotice] = []
    transcript, _ = _transcribe(config, jfk_flac, notices=notices)
    assert word_recall(JFK_WORDS, transcript.text) >= 0.8
    # The server records a status once its handler has returned, which can be just after the client is done.
    finished = srv.wait_for_requests(2, lambda r: r.status is not None)
    assert [r.status for r in finished] == [429, 200]
    assert [(n.attempt, n.delay_s) for n in notices] == [(2, 0.15)]
    assert "Rate limit" in notices[0].message


def test_500_three_times_is_a_server_error_after_three_attempts(
        srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", status=500, times=None)
    with pytest.raises(ServerError):
        _transcribe(config, jfk_flac)
    assert [r.status for r in srv.wait_for_requests(3, lambda r: r.status is not None)] == [500, 500, 500]


def test_503_html_then_success(srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", status=503)
    transcript, _ = _transcribe(config, jfk_flac)
    assert word_recall(JFK_WORDS, transcript.text) >= 0.8 and len(srv.requests) == 2


def test_insufficient_quota_is_not_retried_and_says_billing(
        srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", "insufficient_quota", times=None)
    with pytest.raises(RateLimited) as info:
        _transcribe(config, jfk_flac)
    assert info.value.quota and "billing" in info.value.full_message() and len(srv.requests) == 1


def test_drop_mid_stream_is_a_network_error_after_some_deltas(
        srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", "drop_mid_stream", after=2)
    deltas: list[TranscriptDelta] = []
    transcriber = OpenAITranscriber(config, retry_policy=FAST_RETRY)
    with pytest.raises(NetworkError, match="dropped"):
        transcriber.transcribe(jfk_flac, STREAMING, deltas.append, CancelToken())
    assert len(deltas) == 2 and len(srv.requests) == 1  # a started stream is not replayed
    transcriber.close()


def test_hang_mid_stream_with_a_small_timeout_is_a_timeout_error(
        srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", "hang", after=1, times=None)  # every attempt, however slow the model
    with pytest.raises(TimeoutError_):
        _transcribe(replace(config, timeout_s=0.5), jfk_flac)


def test_hang_before_headers_is_retried_then_a_timeout_error(
        srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", "hang", times=None)
    with pytest.raises(TimeoutError_):
        _transcribe(replace(config, timeout_s=0.3), jfk_flac, policy=RetryPolicy(max_retries=1,
                                                                                 base_delay_s=0.01))
    assert len(srv.wait_for_requests(2)) == 2


def test_wrong_key_is_an_auth_error_pointing_to_settings_without_the_key(
        srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    wrong = "sk-proj-wrongwrongwrong0123456789"
    with pytest.raises(AuthError) as info:
        _transcribe(replace(config, api_key=wrong), jfk_flac)
    error = info.value
    assert "Settings → API key" in error.full_message() and "401" in error.detail
    assert wrong not in error.full_message() + error.detail + repr(error.args)
    assert len(srv.requests) == 1


@pytest.mark.parametrize("detail_style", [False, True])
def test_retired_model_names_a_working_alternative(srv: FakeOpenAI, config: ApiConfig,
                                                   jfk_flac: EncodedAudio, detail_style: bool) -> None:
    srv.models = [m for m in srv.models if m != "whisper-1"]
    if detail_style:
        srv.add_fault("transcriptions", "detail_errors")
    with pytest.raises(ModelRetired) as info:
        _transcribe(config, jfk_flac, TranscriptionOptions(model="whisper-1"))
    assert info.value.model == "whisper-1" and info.value.alternative == "gpt-transcribe"
    assert "whisper-1" in info.value.user_message and "gpt-transcribe" in info.value.hint


# A read timeout far beyond the test's timeout: only a cancel that really closes the socket returns in time.
PATIENT = 600.0


@pytest.mark.timeout(20)
def test_cancel_mid_stream_returns_cancelled(srv: FakeOpenAI, config: ApiConfig,
                                             jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", "hang", after=1)
    cancel = CancelToken()

    def on_delta(_: TranscriptDelta) -> None:
        threading.Thread(target=cancel.cancel).start()  # as the UI would: from another thread

    transcriber = OpenAITranscriber(replace(config, timeout_s=PATIENT))
    with pytest.raises(Cancelled):
        transcriber.transcribe(jfk_flac, STREAMING, on_delta, cancel)
    transcriber.close()


@pytest.mark.timeout(20)
def test_cancel_while_waiting_for_the_answer_returns_cancelled(
        srv: FakeOpenAI, config: ApiConfig, jfk_flac: EncodedAudio) -> None:
    srv.add_fault("transcriptions", "hang")
    cancel = CancelToken()

    def cancel_once_sent() -> None:
        srv.wait_for_requests(1)
        cancel.cancel()

    watcher = threading.Thread(target=cancel_once_sent)
    watcher.start()
    transcriber = OpenAITranscriber(replace(config, timeout_s=PATIENT))
    with pytest.raises(Cancelled):
        transcriber.transcribe(jfk_flac, STREAMING, lambda _: None, cancel)
    watcher.join()
    transcriber.close()


class _BreaksAfter(httpx.SyncByteStream):
    """A body that delivers ``chunks`` and then fails the way a dead connection does."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks
        raise httpx.ReadTimeout("the server went quiet")


@pytest.mark.parametrize(("chunks", "expected"), [
    ([b'data: {"type":"transcript.text.delta","delta":"Hi"}\r\n\r\n',
      b'data: {"type":"transcript.text.done","text":"Hi there."}\r\n\r\n'], "Hi there."),
    ([b'data: {"type":"transcript.text.delta","delta":"Hi"}\r\n\r\n'], None),
])
def test_a_connection_breaking_after_done_keeps_the_text(chunks: list[bytes], expected: str | None) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_BreaksAfter(chunks))

    audio = EncodedAudio(b"fLaC", "a.flac", "audio/flac", 0.1)
    transcriber = OpenAITranscriber(ApiConfig("https://api.example.test/v1"),
                                    client=httpx.Client(transport=httpx.MockTransport(handler)))
    if expected is None:
        with pytest.raises(TimeoutError_):
            transcriber.transcribe(audio, STREAMING, lambda _: None, CancelToken())
    else:
        assert transcriber.transcribe(audio, STREAMING, lambda _: None, CancelToken()).text == expected
