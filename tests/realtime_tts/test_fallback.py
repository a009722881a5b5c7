"""*auto*: REST while the server serves the model; realtime (remembered, told once) when it is gone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.core import errors as e
from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import ApiConfig, SpeechChunk
from desktop_app.providers.openai_realtime_tts import OpenAIRealtimeSpeech
from desktop_app.providers.openai_tts import OpenAISpeech
from desktop_app.services.read_aloud import chunk_sizes_for
from desktop_app.services.read_text import ChunkSizes
from desktop_app.services.speech_fallback import (
    STATE_FILE_NAME,
    AutoSpeech,
    EngineSwitch,
    SwitchMemory,
    engine_status,
)
from tests.fakeopenai import DEFAULT_MODELS, FakeOpenAI

from .conftest import OPTIONS

SENTENCE = "The quick brown fox jumps over the lazy dog."


def endpoints(srv: FakeOpenAI) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in srv.requests if r.path != "/v1/models"]


def auto(config: ApiConfig, memory: SwitchMemory, notices: list[str]) -> AutoSpeech:
    return AutoSpeech(OpenAISpeech(config), lambda: OpenAIRealtimeSpeech(config), memory, notices.append,
                      realtime_max_chars=OpenAIRealtimeSpeech.max_chunk_chars)


def read(engine: AutoSpeech, text: str = SENTENCE) -> bytes:
    pieces: list[bytes] = []
    try:
        engine.synthesize(SpeechChunk(0, text), OPTIONS, lambda pcm, rate: pieces.append(pcm), CancelToken())
    finally:
        engine.close()
    return b"".join(pieces)


def test_auto_uses_the_speech_endpoint_while_it_serves_the_model(
        srv: FakeOpenAI, config: ApiConfig, tmp_path: Path) -> None:
    memory = SwitchMemory(tmp_path / STATE_FILE_NAME)
    notices: list[str] = []
    assert len(read(auto(config, memory, notices))) > 48000
    assert endpoints(srv) == ["speech"] and notices == [] and memory.load() is None
    assert engine_status("auto", True, "gpt-4o-mini-tts", memory)[0] == "speech"


def test_a_retired_model_switches_to_realtime_once_and_for_good(
        srv: FakeOpenAI, config: ApiConfig, tmp_path: Path) -> None:
    srv.models = [m for m in DEFAULT_MODELS if m != "gpt-4o-mini-tts"]
    state = tmp_path / STATE_FILE_NAME
    notices: list[str] = []
    assert len(read(auto(config, SwitchMemory(state), notices))) > 48000  # the read still happens
    assert endpoints(srv) == ["speech", "realtime"]
    assert len(notices) == 1 and "gpt-4o-mini-tts" in notices[0] and "Realtime" in notices[0]
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert saved["retired_model"] == "gpt-4o-mini-tts" and saved["auto_engine"] == "realtime"

    srv.clear_requests()
    later = SwitchMemory(state)  # as after a restart
    assert len(read(auto(config, later, notices))) > 48000
    assert endpoints(srv) == ["realtime"]  # straight to realtime
    assert len(notices) == 1
    engine, why = engine_status("auto", True, "gpt-4o-mini-tts", later)
    assert engine == "realtime" and "no longer offers" in why


def test_choosing_another_rest_model_tries_the_speech_endpoint_again(
        srv: FakeOpenAI, config: ApiConfig, tmp_path: Path) -> None:
    memory = SwitchMemory(tmp_path / STATE_FILE_NAME)
    srv.models = [m for m in DEFAULT_MODELS if m != "gpt-4o-mini-tts"]
    read(auto(config, memory, []))
    assert engine_status("auto", True, "tts-1", memory)[0] == "speech"
    assert engine_status("auto", False, "gpt-4o-mini-tts", memory)[0] == "system"


def test_other_errors_do_not_switch(srv: FakeOpenAI, config: ApiConfig, tmp_path: Path) -> None:
    memory = SwitchMemory(tmp_path / STATE_FILE_NAME)
    srv.add_fault("speech", status=500, times=None)
    with pytest.raises(e.ServerError):
        read(auto(config, memory, []))
    assert memory.load() is None and "realtime" not in endpoints(srv)


def test_after_the_switch_the_read_pipeline_gets_the_realtime_chunk_limit_and_transcript(
        srv: FakeOpenAI, config: ApiConfig, tmp_path: Path) -> None:
    memory = SwitchMemory(tmp_path / STATE_FILE_NAME)
    engine = auto(config, memory, [])
    assert chunk_sizes_for(engine) == ChunkSizes()  # REST serves the model: its own chunk sizes

    memory.remember(EngineSwitch("gpt-4o-mini-tts", "gone", "2027-01-06T00:00:00+00:00"))
    assert chunk_sizes_for(engine).max_chars == OpenAIRealtimeSpeech.max_chunk_chars < ChunkSizes().max_chars
    heard: list[tuple[int, str, bool]] = []
    engine.listen_transcript(lambda index, said, final: heard.append((index, said, final)))
    assert len(read(engine)) > 48000
    assert endpoints(srv) == ["realtime"]
    assert heard and heard[-1][2] and heard[-1][1].split() == SENTENCE.split(), heard[-3:]
