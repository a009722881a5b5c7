"""The model downloader against a local hub serving real files: progress, cancel, resume, checksums,
disk-full and permission errors."""

from __future__ import annotations

import errno
import hashlib
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled, NetworkError, SaysoError
from desktop_app.core.models import EncodedAudio, TranscriptionOptions
from desktop_app.providers.local_models import CATALOGUE, DONE_MARKER, LocalModel, local_model_status
from desktop_app.providers.local_whisper import LocalWhisperTranscriber
from desktop_app.providers.model_download import ModelDownloader, ModelDownloadError, disk_error, staging_dir
from tests.offline.conftest import JFK_TEXT
from tests.offline.model_server import ModelServer
from tests.support.desktop import word_recall


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def same_files(a: Path, b: Path, names: list[str]) -> bool:
    return all(sha256(a / n) == sha256(b / n) for n in names)


def test_downloads_the_real_tiny_en_from_the_hub_layout_and_it_transcribes(
        hub: ModelServer, tmp_path: Path, meeting_model_dir: Path, jfk_flac: EncodedAudio) -> None:
    model = CATALOGUE["tiny.en"]
    progress: list[tuple[int, int]] = []
    downloader = ModelDownloader(tmp_path / "models", base_url=hub.url)
    folder = downloader.download(model, cancel=CancelToken(), on_progress=lambda d, t: progress.append((d, t)))
    downloader.close()

    assert folder == tmp_path / "models" / "tiny.en"
    names = [f.name for f in model.files]
    assert same_files(folder, meeting_model_dir, names)
    assert (folder / DONE_MARKER).is_file()
    assert not staging_dir(tmp_path / "models", "tiny.en").exists()
    assert local_model_status("tiny.en", tmp_path / "models").ready
    # Progress: one total (the exact sum of the served sizes), never going back, ending at the total.
    total = sum((meeting_model_dir / n).stat().st_size for n in names)
    assert {t for _, t in progress} == {total}
    done = [d for d, _ in progress]
    assert done == sorted(done) and done[-1] == total and len(done) > 10
    # The large file came through the LFS redirect, whose published SHA-256 the downloader checked.
    assert hub.recorded("GET", "model.bin")[-1].path.startswith("/cdn/")

    text = LocalWhisperTranscriber(folder).transcribe(
        jfk_flac, TranscriptionOptions(model=""), lambda _d: None, CancelToken()).text
    assert word_recall(JFK_TEXT, text) >= 0.8, text


def test_cancel_then_resume_asks_only_for_the_remaining_bytes(
        hub: ModelServer, tmp_path: Path, small_model: LocalModel, small_model_dir: Path) -> None:
    models = tmp_path / "models"
    hub.stall_after["model.bin"] = 1_000_000  # the server sends 1 MB and then nothing: a blocked read
    cancel = CancelToken()
    seen: list[int] = []
    stalled = threading.Event()

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done >= 1_000_000 + 44:  # the three small files (44 bytes) + the stalled 1 MB are in
            stalled.set()

    failure: list[BaseException] = []

    def run() -> None:
        try:
            ModelDownloader(models, base_url=hub.url).download(small_model, cancel=cancel, on_progress=progress)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert stalled.wait(30), f"download did not reach the stall point: {seen[-3:]}"
    cancel.cancel()  # from another thread, while the worker is blocked in recv()
    worker.join(10)
    assert not worker.is_alive(), "cancel did not interrupt the blocked download"
    assert len(failure) == 1 and isinstance(failure[0], Cancelled), failure
    part = staging_dir(models, small_model.name) / "model.bin.part"
    assert part.stat().st_size == 1_000_000
    assert not (models / small_model.name).exists()

    del hub.stall_after["model.bin"]
    progress_after: list[tuple[int, int]] = []
    folder = ModelDownloader(models, base_url=hub.url).download(
        small_model, cancel=CancelToken(), on_progress=lambda d, t: progress_after.append((d, t)))
    assert sha256(folder / "model.bin") == sha256(small_model_dir / "model.bin")
    last_get = hub.recorded("GET", "model.bin")[-1]
    assert last_get.range == "bytes=1000000-", hub.recorded("GET")
    assert progress_after[0][0] == 1_000_044  # resumed progress starts where the first attempt stopped
    # The finished small files were not fetched again.
    assert len(hub.recorded("GET", "config.json")) == 1


def test_a_server_that_ignores_range_restarts_the_file_cleanly(
        hub: ModelServer, tmp_path: Path, small_model: LocalModel, small_model_dir: Path) -> None:
    models = tmp_path / "models"
    stage = staging_dir(models, small_model.name)
    stage.mkdir(parents=True)
    (stage / "model.bin.part").write_bytes((small_model_dir / "model.bin").read_bytes()[:500_000])
    hub.ignore_range = True
    folder = ModelDownloader(models, base_url=hub.url).download(small_model, cancel=CancelToken())
    assert sha256(folder / "model.bin") == sha256(small_model_dir / "model.bin")


def test_a_corrupted_file_is_rejected_by_its_checksum_and_deleted(
        hub: ModelServer, tmp_path: Path, small_model: LocalModel) -> None:
    models = tmp_path / "models"
    hub.corrupt.add("model.bin")
    with pytest.raises(ModelDownloadError) as caught:
        ModelDownloader(models, base_url=hub.url).download(small_model, cancel=CancelToken())
    message = caught.value.full_message()
    assert "model.bin" in message and "corrupted" in message and "deleted" in message
    assert "SHA-256" in message and "again" in message
    stage = staging_dir(models, small_model.name)
    assert not (stage / "model.bin.part").exists() and not (stage / "model.bin").exists()
    assert not (models / small_model.name).exists()

    hub.corrupt.clear()  # a retry then succeeds
    folder = ModelDownloader(models, base_url=hub.url).download(small_model, cancel=CancelToken())
    assert (folder / DONE_MARKER).is_file()


def test_a_damaged_partial_file_fails_the_checksum_after_resume(
        hub: ModelServer, tmp_path: Path, small_model: LocalModel) -> None:
    models = tmp_path / "models"
    stage = staging_dir(models, small_model.name)
    stage.mkdir(parents=True)
    (stage / "model.bin.part").write_bytes(b"\0" * 1000)  # not the file's real first bytes
    with pytest.raises(ModelDownloadError, match="corrupted"):
        ModelDownloader(models, base_url=hub.url).download(small_model, cancel=CancelToken())
    assert not (stage / "model.bin.part").exists()


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs: writing the 3 MB model into it really fails with ENOSPC (tests run as root)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_disk_full_is_reported_in_plain_words(hub: ModelServer, tiny_tmpfs: Path, small_model: LocalModel) -> None:
    with pytest.raises(ModelDownloadError) as caught:
        ModelDownloader(tiny_tmpfs / "models", base_url=hub.url).download(small_model, cancel=CancelToken())
    message = caught.value.full_message()
    assert "Not enough disk space" in message and "small-files" in message and str(tiny_tmpfs) in message
    assert "Free some disk space" in message
    assert isinstance(caught.value.__cause__, OSError) and caught.value.__cause__.errno == errno.ENOSPC


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_folder_sayso_may_not_write_is_reported_clearly(
        hub: ModelServer, read_only_dir: Path, small_model: LocalModel) -> None:
    with pytest.raises(ModelDownloadError) as caught:
        ModelDownloader(read_only_dir / "models", base_url=hub.url).download(small_model, cancel=CancelToken())
    message = caught.value.full_message()
    assert f"may not write to {read_only_dir}" in message and "permissions" in message


def test_permission_denied_wording() -> None:
    model = CATALOGUE["base"]
    error = disk_error(PermissionError(errno.EACCES, "Permission denied"), model, Path("/opt/models"))
    assert error.full_message().startswith("Sayso may not write to /opt/models (Permission denied)")
    assert "base model" in error.user_message


def test_an_unknown_file_on_the_server_names_the_url(hub: ModelServer, tmp_path: Path) -> None:
    missing = LocalModel("ghost", "nobody/none", CATALOGUE["tiny"].files, False, "")
    with pytest.raises(ModelDownloadError, match=r"not found at http://127\.0\.0\.1:\d+/nobody/none/resolve/main/"):
        ModelDownloader(tmp_path, base_url=hub.url).download(missing, cancel=CancelToken())


def closed_port() -> int:
    import socket

    with socket.socket() as s:  # a port nobody listens on once this socket closes
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_says_the_model_must_be_downloaded_once_and_offers_a_folder(
        tmp_path: Path, small_model: LocalModel) -> None:
    with pytest.raises(NetworkError) as caught:
        ModelDownloader(tmp_path, base_url=f"http://127.0.0.1:{closed_port()}").download(
            small_model, cancel=CancelToken())
    error = caught.value
    assert "offline" in error.user_message and isinstance(error, SaysoError)
    assert "local model small-files must be downloaded once (3 MB)" in error.hint, error.hint
    assert "model folder you already have" in error.hint
    assert "already downloaded" not in error.hint  # nothing is: no promise of a resume


def test_an_unreachable_server_after_a_partial_download_promises_the_resume(
        tmp_path: Path, small_model: LocalModel) -> None:
    stage = staging_dir(tmp_path, small_model.name)
    stage.mkdir(parents=True)
    (stage / "model.bin.part").write_bytes(b"x" * 1_200_000)
    with pytest.raises(NetworkError) as caught:
        ModelDownloader(tmp_path, base_url=f"http://127.0.0.1:{closed_port()}").download(
            small_model, cancel=CancelToken())
    assert "The 1 MB already downloaded is kept: the next try resumes from there." in caught.value.hint


def test_cancel_while_the_size_request_waits_is_a_cancel_not_a_network_error(
        tmp_path: Path, small_model: LocalModel) -> None:
    """A server that accepts the connection and never answers the HEAD: cancel must say Cancelled at once."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    got_request = threading.Event()

    def accept() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        if conn.recv(4096).startswith(b"HEAD "):
            got_request.set()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    cancel = CancelToken()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            ModelDownloader(tmp_path, base_url=f"http://127.0.0.1:{listener.getsockname()[1]}").download(
                small_model, cancel=cancel)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert got_request.wait(30), "the downloader never sent its HEAD request"
        cancel.cancel()
        worker.join(10)
        assert not worker.is_alive(), "cancel did not interrupt the HEAD request"
        assert len(failure) == 1 and isinstance(failure[0], Cancelled), failure
    finally:
        for conn in accepted:
            conn.close()
        listener.close()


def test_requests_ask_for_the_bytes_as_stored_so_a_gzipping_hub_passes_the_size_check(
        hub: ModelServer, tmp_path: Path, small_model: LocalModel, small_model_dir: Path) -> None:
    import httpx

    # The hub gzips the small files for a client that accepts it: the Content-Length is the compressed size.
    url = f"{hub.url}/{small_model.repo}/resolve/main/config.json"
    gzipped = httpx.head(url, headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert int(gzipped.headers["content-length"]) != (small_model_dir / "config.json").stat().st_size

    folder = ModelDownloader(tmp_path / "models", base_url=hub.url).download(small_model, cancel=CancelToken())
    assert same_files(folder, small_model_dir, [f.name for f in small_model.files])
    sent = hub.recorded()
    assert sent and {r.accept_encoding for r in sent[1:]} == {"identity"}, sent  # [0] is the probe above
