"""Download a catalogue model into ``<models_dir>/<name>/``: progress, cancel, resume and checksums.

Layout while downloading: ``<models_dir>/.<name>.download/`` holds finished files under their names and
the file in flight as ``<file>.part``. A cancelled or broken download leaves that folder, and the next
call resumes the ``.part`` with an HTTP ``Range`` request. When every file is in and verified, a marker is
written and the folder is renamed to ``<models_dir>/<name>`` in one step, so a model folder without the
marker is never mistaken for a finished one.

Checksums (see ``local_models``): a pinned SHA-256 if the catalogue has one, else the 64-hex-digit ETag
the server sends with the file (the hub's ``X-Linked-Etag`` for LFS files). A mismatch deletes the file.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled, SaysoError
from desktop_app.core.models import ApiConfig
from desktop_app.providers.errors import error_from_exception
from desktop_app.providers.http_client import make_client
from desktop_app.providers.interrupt import interrupt_on_cancel
from desktop_app.providers.local_models import DONE_MARKER, LocalModel, file_url, human_size, model_base_url

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total) over the whole model
CHUNK_BYTES = 256 * 1024
# The bytes as stored: sizes, checksums and Range offsets all refer to them. A server (or proxy) that
# gzips a small text file otherwise sends a Content-Length the size check would compare with the wrong bytes.
NO_COMPRESSION = {"Accept-Encoding": "identity"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ModelDownloadError(SaysoError):
    default_message = "The model could not be downloaded."


@dataclass(frozen=True)
class RemoteFile:
    name: str
    url: str
    size: int  # the catalogue's estimate when the server did not say
    sha256: str | None
    size_known: bool = True


def staging_dir(models_dir: Path, name: str) -> Path:
    return models_dir / f".{name}.download"


def sha256_from_headers(headers_list: list[httpx.Headers]) -> str | None:
    """The content SHA-256 a server publishes as an ETag (``X-Linked-Etag`` first: the hub's LFS hash)."""
    for header in ("x-linked-etag", "etag"):
        for headers in headers_list:
            value = headers.get(header, "").strip()
            value = value.removeprefix("W/").strip('"').lower()
            if _SHA256.match(value):
                return value
    return None


def _size_from_headers(headers_list: list[httpx.Headers]) -> int:
    for headers in headers_list:
        if headers.get("x-linked-size", "").isdigit():
            return int(headers["x-linked-size"])
    for headers in reversed(headers_list):
        if headers.get("content-length", "").isdigit():
            return int(headers["content-length"])
    return 0


def _all_headers(response: httpx.Response) -> list[httpx.Headers]:
    return [r.headers for r in (*response.history, response)]


def disk_error(exc: OSError, model: LocalModel, folder: Path) -> ModelDownloadError:
    """Say in plain words why the model could not be written, and what to do."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ModelDownloadError(
            f"Not enough disk space to download the {model.name} model ({model.size_text}) into {folder}.",
            hint="Free some disk space, choose a smaller model, or point Sayso at a model folder you already have.",
            detail=str(exc))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ModelDownloadError(
            f"Sayso may not write to {folder} ({exc.strerror or 'permission denied'}), so the {model.name} "
            "model cannot be downloaded there.",
            hint="Fix the folder's permissions, or start Sayso with another --profile folder.", detail=str(exc))
    return ModelDownloadError(f"Writing the {model.name} model into {folder} failed: {exc.strerror or exc}.",
                              detail=str(exc))


class ModelDownloader:
    """Downloads catalogue models. One call at a time per instance; run it on a worker thread."""

    def __init__(self, models_dir: Path, *, base_url: str | None = None, client: httpx.Client | None = None,
                 timeout_s: float = 60.0) -> None:
        self._models_dir = models_dir
        self._base_url = model_base_url(base_url)
        self._client = client
        self._timeout_s = timeout_s

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = make_client(ApiConfig(base_url=self._base_url, timeout_s=self._timeout_s))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def download(self, model: LocalModel, *, cancel: CancelToken,
                 on_progress: ProgressCallback | None = None) -> Path:
        """Fetch ``model`` (resuming a previous attempt) and return its folder. Raises Cancelled or
        ModelDownloadError (whose message says what happened and what to do)."""
        target = self._models_dir / model.name
        staging = staging_dir(self._models_dir, model.name)
        try:
            staging.mkdir(parents=True, exist_ok=True)
            with interrupt_on_cancel(cancel):
                remote = [self._describe(model, f.name, f.sha256, f.approx_bytes, cancel) for f in model.files]
                total = sum(r.size for r in remote)
                done = sum(self._present_bytes(staging, r) for r in remote)
                if on_progress:
                    on_progress(done, total)
                for item in remote:
                    if (staging / item.name).is_file():
                        continue
                    cancel.raise_if_cancelled()
                    done = self._fetch(model, item, staging, done, total, cancel, on_progress)
            (staging / DONE_MARKER).write_text(model.repo + "\n", encoding="utf-8")
            if target.exists():  # an unfinished or damaged folder from an older Sayso: replace it
                shutil.rmtree(target)
            staging.rename(target)  # atomic within models_dir
        except OSError as exc:
            raise disk_error(exc, model, self._models_dir) from exc
        log.info("downloaded local model %s into %s", model.name, target)
        return target

    # ----- steps --------------------------------------------------------------------------------------
    def _describe(self, model: LocalModel, name: str, pinned: str | None, approx: int,
                  cancel: CancelToken) -> RemoteFile:
        """HEAD the file for its size and published checksum (falls back to the catalogue's size)."""
        url = file_url(model, name, self._base_url)
        try:
            response = self._http().head(url, headers=NO_COMPRESSION)
        except httpx.HTTPError as exc:
            if cancel.cancelled:  # the socket was closed under the request by interrupt_on_cancel
                raise Cancelled() from exc
            raise self._network_error(model, exc) from exc
        if response.status_code == 404:
            raise ModelDownloadError(f"The {model.name} model's file {name} was not found at {url}.",
                                     hint="Check the model name, or SAYSO_MODEL_BASE_URL if you use a mirror.")
        if response.status_code >= 400:
            raise ModelDownloadError(f"The model server answered {response.status_code} for {url}.",
                                     hint="Try again later.")
        headers = _all_headers(response)
        size = _size_from_headers(headers)
        return RemoteFile(name, url, size or approx, pinned or sha256_from_headers(headers), size_known=bool(size))

    @staticmethod
    def _present_bytes(staging: Path, item: RemoteFile) -> int:
        for path in (staging / item.name, staging / f"{item.name}.part"):
            if path.is_file():
                return path.stat().st_size
        return 0

    def _fetch(self, model: LocalModel, item: RemoteFile, staging: Path, done: int, total: int,
               cancel: CancelToken, on_progress: ProgressCallback | None) -> int:
        part = staging / f"{item.name}.part"
        offset = part.stat().st_size if part.is_file() else 0
        digest = hashlib.sha256()
        if offset:
            with part.open("rb") as existing:
                for block in iter(lambda: existing.read(CHUNK_BYTES), b""):
                    digest.update(block)
        headers = {**NO_COMPRESSION, **({"Range": f"bytes={offset}-"} if offset else {})}
        try:
            with self._http().stream("GET", item.url, headers=headers) as response:
                if response.status_code == 416 and offset:
                    # Our .part is not a prefix the server recognises (file changed): start over.
                    part.unlink()
                    return self._fetch(model, item, staging, done - offset, total, cancel, on_progress)
                if response.status_code >= 400:
                    raise ModelDownloadError(
                        f"The model server answered {response.status_code} for {item.url}.", hint="Try again later.")
                if offset and response.status_code != 206:  # the server ignored Range: take the whole file
                    done -= offset
                    offset = 0
                    digest = hashlib.sha256()
                with part.open("ab" if offset else "wb") as out:
                    for chunk in response.iter_bytes():  # as received: progress and .part stay current
                        cancel.raise_if_cancelled()
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if on_progress:
                            on_progress(done, total)
        except httpx.HTTPError as exc:
            if cancel.cancelled:
                raise Cancelled() from exc
            raise self._network_error(model, exc) from exc
        cancel.raise_if_cancelled()
        self._verify(model, item, part, digest.hexdigest())
        part.rename(staging / item.name)
        return done

    @staticmethod
    def _verify(model: LocalModel, item: RemoteFile, part: Path, actual: str) -> None:
        size = part.stat().st_size
        problem = ""
        if item.sha256 and actual != item.sha256:
            problem = f"its SHA-256 is {actual[:12]}…, expected {item.sha256[:12]}…"
        elif item.size_known and size != item.size and not item.sha256:
            problem = f"it has {size} bytes, expected {item.size}"
        if problem:
            part.unlink(missing_ok=True)
            raise ModelDownloadError(
                f"The downloaded file {item.name} of the {model.name} model is corrupted ({problem}); "
                "it was deleted.", hint="Start the download again.")

    def _network_error(self, model: LocalModel, exc: Exception) -> SaysoError:
        error = error_from_exception(exc, host=httpx.URL(self._base_url).host)
        kept = self._partial_bytes(model)
        resume = (f" The {human_size(kept)} already downloaded is kept: the next try resumes from there."
                  if kept else "")
        error.hint = (f"{error.hint} The local model {model.name} must be downloaded once "
                      f"({human_size(model.approx_bytes)}) before offline dictation works.{resume} Or point "
                      "Settings → Dictation → Local model at a model folder you already have.").strip()
        return error

    def _partial_bytes(self, model: LocalModel) -> int:
        """Bytes of this model already in its staging folder (finished files and the .part in flight)."""
        staging = staging_dir(self._models_dir, model.name)
        if not staging.is_dir():
            return 0
        return sum(path.stat().st_size for path in staging.iterdir() if path.is_file())
