"""The local Whisper models Sayso knows how to fetch, and where a model setting points.

Each model is a CTranslate2 conversion published by Systran as a public model repository
(``faster-whisper-<name>``). Downloads come from ``<base>/<repo>/resolve/main/<file>``; the base URL is
configurable (``SAYSO_MODEL_BASE_URL``) so tests, mirrors and offline caches can serve the same layout.

Checksums: the catalogue cannot pin SHA-256 values we have not verified (this code was written without
network access to the hub), so ``sha256`` stays ``None`` here and the downloader verifies each large file
against the checksum the server publishes with it: the hub answers a HEAD/GET of an LFS file with
``X-Linked-Etag: "<sha256>"`` (or ``ETag`` when served directly), which is the SHA-256 of the content.
Small text files (config, tokenizer, vocabulary) are plain git blobs whose ETag is not a SHA-256; they
are checked by their size and by loading. A pinned ``sha256`` in ``ModelFile`` always wins over the header.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

MODEL_BASE_URL_ENV = "SAYSO_MODEL_BASE_URL"
# How to get the local engine: the PyPI extra, or (from a source checkout) the setup script that installs it.
# The installers leave it out (it would add ~300 MB to a < 200 MB bundle), so a frozen app says so instead of
# suggesting a pip command its users cannot run.
INSTALL_HINT = ("pip install 'sayso[local]' in a Python environment, or scripts/setup.sh from a source "
                "checkout (this installed build leaves the offline engine out: it adds ~300 MB)"
                if getattr(sys, "frozen", False)
                else "pip install 'sayso[local]' (from a source checkout: scripts/setup.sh)")
DEFAULT_MODEL_BASE_URL = "https://huggingface.co"

# A folder is a usable CTranslate2 Whisper model when these are present.
REQUIRED_FILES = ("model.bin", "config.json")
VOCABULARY_FILES = ("vocabulary.txt", "vocabulary.json")
DONE_MARKER = ".sayso-complete"  # written last by the downloader: a folder without it is unfinished


@dataclass(frozen=True)
class ModelFile:
    name: str
    approx_bytes: int
    sha256: str | None = None  # pinned checksum; None: use the checksum the server publishes


@dataclass(frozen=True)
class LocalModel:
    name: str
    repo: str
    files: tuple[ModelFile, ...]
    english_only: bool
    description: str

    @property
    def approx_bytes(self) -> int:
        return sum(f.approx_bytes for f in self.files)

    @property
    def size_text(self) -> str:
        return human_size(self.approx_bytes)


def _files(model_bin: int, tokenizer: int, vocabulary: int) -> tuple[ModelFile, ...]:
    return (
        ModelFile("config.json", 2_400),
        ModelFile("tokenizer.json", tokenizer),
        ModelFile("vocabulary.txt", vocabulary),
        ModelFile("model.bin", model_bin),
    )


# Sizes of the float16 CTranslate2 conversions (model.bin dominates); the .en tokenizers are smaller.
_EN_TOKENIZER, _MULTI_TOKENIZER, _VOCAB = 2_130_000, 2_200_000, 460_000
CATALOGUE: dict[str, LocalModel] = {
    model.name: model
    for model in (
        LocalModel("tiny.en", "Systran/faster-whisper-tiny.en", _files(75_540_000, _EN_TOKENIZER, _VOCAB),
                   True, "fastest, English only"),
        LocalModel("tiny", "Systran/faster-whisper-tiny", _files(75_540_000, _MULTI_TOKENIZER, _VOCAB),
                   False, "fastest, many languages"),
        LocalModel("base.en", "Systran/faster-whisper-base.en", _files(145_220_000, _EN_TOKENIZER, _VOCAB),
                   True, "good balance, English only"),
        LocalModel("base", "Systran/faster-whisper-base", _files(145_220_000, _MULTI_TOKENIZER, _VOCAB),
                   False, "good balance, many languages"),
        LocalModel("small.en", "Systran/faster-whisper-small.en", _files(483_550_000, _EN_TOKENIZER, _VOCAB),
                   True, "more accurate, slower, English only"),
        LocalModel("small", "Systran/faster-whisper-small", _files(483_550_000, _MULTI_TOKENIZER, _VOCAB),
                   False, "more accurate, slower, many languages"),
    )
}


def faster_whisper_available() -> bool:
    """Whether the local engine (faster-whisper) is installed, without importing it (cheap at start-up)."""
    import importlib.util

    try:
        return importlib.util.find_spec("faster_whisper") is not None
    except (ImportError, ValueError):  # a broken or half-removed install counts as missing
        return False


def human_size(num_bytes: int) -> str:
    if num_bytes >= 1_000_000_000:
        return f"{num_bytes / 1e9:.1f} GB"
    if num_bytes >= 1_000_000:
        return f"{num_bytes / 1e6:.0f} MB"
    return f"{max(1, round(num_bytes / 1e3))} kB"


def model_base_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get(MODEL_BASE_URL_ENV) or DEFAULT_MODEL_BASE_URL).rstrip("/")


def file_url(model: LocalModel, file_name: str, base_url: str | None = None) -> str:
    return f"{model_base_url(base_url)}/{model.repo}/resolve/main/{file_name}"


def looks_like_path(value: str) -> bool:
    """A setting names a folder (rather than a catalogue model) when it has a path separator or ``~``."""
    return value.startswith(("~", ".")) or "/" in value or os.sep in value or (os.altsep or "/") in value


def folder_problem(folder: Path) -> str:
    """Why ``folder`` is not a usable model folder, or "" when it is."""
    if not folder.exists():
        return f"The model folder {folder} does not exist."
    if not folder.is_dir():
        return f"{folder} is a file, not a model folder."
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in VOCABULARY_FILES):
        missing.append(" or ".join(VOCABULARY_FILES))
    if missing:
        return (f"The folder {folder} is not a faster-whisper (CTranslate2) model: {', '.join(missing)} missing. "
                "Choose a folder with model.bin, config.json and the vocabulary, or a model name such as tiny.en.")
    return ""


@dataclass(frozen=True)
class LocalModelStatus:
    """Where ``dictation.local_model`` points and whether it can be used now."""

    setting: str
    name: str  # catalogue name, or the folder's name
    path: Path
    ready: bool
    catalogue: LocalModel | None  # set when the model can be downloaded
    problem: str = ""  # why it cannot be used (and what to do), "" when ready or downloadable

    @property
    def needs_download(self) -> bool:
        return not self.ready and self.catalogue is not None

    @property
    def download_size_text(self) -> str:
        return self.catalogue.size_text if self.catalogue else ""


def local_model_status(setting: str, models_dir: Path) -> LocalModelStatus:
    """Resolve ``dictation.local_model`` (a catalogue name or a folder path) against ``models_dir``."""
    value = setting.strip()
    if looks_like_path(value):
        folder = Path(value).expanduser()
        problem = folder_problem(folder)
        return LocalModelStatus(value, folder.name, folder, not problem, None, problem)
    model = CATALOGUE.get(value)
    if model is None:
        known = ", ".join(CATALOGUE)
        return LocalModelStatus(value, value, models_dir / value, False, None,
                                f"Unknown local model {value!r}. Choose one of {known}, or the path of a model folder.")
    folder = models_dir / model.name
    ready = (folder / DONE_MARKER).is_file() and not folder_problem(folder)
    return LocalModelStatus(value, model.name, folder, ready, model)
