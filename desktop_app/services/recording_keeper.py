"""The realtime transport's recording keeper: the speech check, trim, encode and durable save of a
dictation run on a side thread while the server finalizes, so key release → text does not grow with the
length of the utterance. ``ensure_on_disk`` (called before anything is inserted) never waits for the
encoder: it writes the raw PCM as WAV at once, and the encoded copy replaces it when done."""

from __future__ import annotations

import io
import logging
import os
import threading
import wave
from collections.abc import Callable
from typing import Any, Protocol

from desktop_app.core.history import HistoryStore
from desktop_app.core.models import EncodedAudio, PcmAudio

log = logging.getLogger(__name__)


class AudioTools(Protocol):
    """Audio processing the service needs (implemented with audio/vad and audio/encode in app/)."""

    def has_speech(self, pcm: PcmAudio) -> bool: ...
    def trim_silence(self, pcm: PcmAudio) -> PcmAudio: ...
    def encode(self, pcm: PcmAudio) -> EncodedAudio: ...
    def decode(self, audio: EncodedAudio) -> PcmAudio: ...
    def split(self, pcm: PcmAudio, max_s: float) -> list[PcmAudio]: ...



class RecordingKeeper:
    """Realtime transport: speech check → trim → encode → durable save, on a side thread while the server
    finalizes. ``ensure_on_disk`` (before inserting) never waits for the encoder: when the encoded copy is
    not saved yet it writes the raw PCM as WAV at once, and the encoded copy replaces it when done."""

    def __init__(self, tools: AudioTools, history: HistoryStore, entry_id: int, pcm: PcmAudio,
                 timings: dict[str, Any], clock: Callable[[], float], released_at: float,
                 on_save_error: Callable[[Exception], None], speech: bool | None = None) -> None:
        self._tools = tools
        self._history = history
        self._entry_id = entry_id
        self._raw = pcm
        self._timings = timings  # the worker's: written on the worker thread only (ensure_on_disk)
        self._own: dict[str, Any] = {}  # this thread's timings, copied over by ensure_on_disk
        self._clock = clock
        self._released_at = released_at
        self._on_save_error = on_save_error
        self._speech_known = threading.Event()
        self._done = threading.Event()
        self._save_lock = threading.Lock()  # the interim WAV and the encoded copy never cross
        self._has_speech = True if speech is None else speech  # given: the caller checked it already
        self._speech_given = speech is not None
        self._discarded = False
        self._saved = False  # the encoded copy is on disk
        self._interim: str | None = None  # path of the WAV written while the encoder still ran
        self._pcm = pcm
        self._encoded: EncodedAudio | None = None

    def start(self) -> None:
        threading.Thread(target=self._run, name="dictation-keep-audio", daemon=True).start()

    def wait_speech(self) -> bool:
        self._speech_known.wait()
        return self._has_speech

    def discard(self) -> None:
        with self._save_lock:
            self._discarded = True

    def _run(self) -> None:
        try:
            try:
                if not self._speech_given:
                    self._has_speech = self._tools.has_speech(self._raw)
            finally:
                self._speech_known.set()
            if not self._has_speech:
                return
            pcm = self._tools.trim_silence(self._raw)
            self._pcm = pcm if pcm.data else self._raw
            self._encoded = self._tools.encode(self._pcm)
            with self._save_lock:
                self._own["encode_ms"] = elapsed_ms(self._clock() - self._released_at)
            self._save(self._encoded)
        except Exception:  # ensure_on_disk still keeps the raw recording (and tells when even that fails)
            log.exception("Keeping the encoded recording of entry %d failed", self._entry_id)
        finally:
            self._done.set()

    def _save(self, encoded: EncodedAudio) -> None:
        with self._save_lock:
            if self._discarded:
                return
            path = self._history.save_audio(self._entry_id, encoded)
            self._saved = True
            interim, self._interim = self._interim, None
            self._own["saved_ms"] = elapsed_ms(self._clock() - self._released_at)
        if interim and interim != path:
            try:
                os.remove(interim)
            except OSError as exc:
                log.warning("Could not remove the interim recording %s: %s", interim, exc)

    def ensure_on_disk(self) -> None:
        """Worker thread, before the entry is updated: the recording is on disk (see the class)."""
        with self._save_lock:
            self._timings.update(self._own)
            if self._saved or self._interim or self._discarded:
                return
            try:
                self._interim = self._history.save_audio(self._entry_id, wav_audio(self._raw))
            except OSError as exc:  # still insert: losing the copy is bad, losing the words is worse
                log.error("Could not save the recording of entry %d: %s", self._entry_id, exc)
                self._on_save_error(exc)
                return
            self._timings["interim_wav"] = True

    def for_rest(self) -> tuple[PcmAudio, EncodedAudio]:
        """The audio to upload after the stream failed: the encoded copy (waits for it), or WAV if encoding
        failed."""
        self._done.wait()
        self.ensure_on_disk()
        return self._pcm, self._encoded or wav_audio(self._raw)


def wav_audio(pcm: PcmAudio) -> EncodedAudio:
    """16-bit mono WAV in memory: the quick way to put a recording on disk (no codec, ~1 ms per 10 s)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(pcm.sample_rate)
        out.writeframes(pcm.data)
    return EncodedAudio(buffer.getvalue(), "speech.wav", "audio/wav", pcm.duration_s)


def elapsed_ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)
