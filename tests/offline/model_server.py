"""A local stand-in for the public model hub, serving real files the way the hub does.

``GET|HEAD /<owner>/<repo>/resolve/main/<file>``: small text files are answered directly (ETag: a git-blob
SHA-1, which is not a content SHA-256); large ("LFS") files get a 302 to ``/cdn/...`` carrying
``X-Linked-Etag: "<sha256>"`` and ``X-Linked-Size``, and the CDN URL serves the bytes with HTTP Range.

Like the hub, small files are gzip-compressed when the client accepts it (``Accept-Encoding: gzip``):
Content-Length is then the compressed size, on HEAD as on GET, which is what a size check must not trip on.

Controls for the error cases: ``corrupt`` (serve damaged bytes under the true checksum), ``stall_after``
(stop sending after N bytes until the test ends), ``ignore_range``; every request is recorded.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

LFS_MIN_BYTES = 1_000_000
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str
    accept_encoding: str = ""


@dataclass
class ModelServer:
    repos: dict[str, Path]  # "owner/name" -> folder whose files are served
    corrupt: set[str] = field(default_factory=set)
    stall_after: dict[str, int] = field(default_factory=dict)
    ignore_range: bool = False
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._sha: dict[Path, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._release: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def recorded(self, method: str | None = None, file_name: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if (method is None or r.method == method)
                    and (file_name is None or r.path.endswith("/" + file_name))]

    def sha256(self, path: Path) -> str:
        if path not in self._sha:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            self._sha[path] = digest.hexdigest()
        return self._sha[path]

    # ----- handlers -------------------------------------------------------------------------------
    def _file(self, owner: str, repo: str, name: str) -> Path:
        folder = self.repos.get(f"{owner}/{repo}")
        path = (folder / name) if folder else None
        if path is None or not path.is_file():
            raise web.HTTPNotFound(text="Entry not found")
        return path

    def _record(self, request: web.Request) -> None:
        with self._lock:
            self.requests.append(Request(request.method, request.path, request.headers.get("Range", ""),
                                         request.headers.get("Accept-Encoding", "")))

    async def _resolve(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        owner, repo, name = request.match_info["owner"], request.match_info["repo"], request.match_info["name"]
        path = self._file(owner, repo, name)
        size = path.stat().st_size
        if size >= LFS_MIN_BYTES:
            raise web.HTTPFound(f"/cdn/{owner}/{repo}/{name}", headers={
                "X-Linked-Etag": f'"{self.sha256(path)}"', "X-Linked-Size": str(size)})
        blob_sha1 = hashlib.sha1(b"blob %d\0" % size + path.read_bytes()).hexdigest()
        if self._accepts_gzip(request) and not request.headers.get("Range"):
            return await self._send_gzipped(request, path, {"ETag": f'"{blob_sha1}"'})
        return await self._send(request, path, {"ETag": f'"{blob_sha1}"'})

    @staticmethod
    def _accepts_gzip(request: web.Request) -> bool:
        offered = [part.split(";")[0].strip().lower() for part in request.headers.get("Accept-Encoding", "").split(",")]
        return "gzip" in offered

    async def _send_gzipped(self, request: web.Request, path: Path, headers: dict[str, str]) -> web.StreamResponse:
        body = gzip.compress(path.read_bytes(), mtime=0)
        headers.update({"Content-Encoding": "gzip", "Content-Length": str(len(body)), "Vary": "Accept-Encoding"})
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        if request.method != "HEAD":
            await response.write(body)
        await response.write_eof()
        return response

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        path = self._file(request.match_info["owner"], request.match_info["repo"], request.match_info["name"])
        return await self._send(request, path, {"ETag": f'"{self.sha256(path)}"'})

    async def _send(self, request: web.Request, path: Path, headers: dict[str, str]) -> web.StreamResponse:
        size = path.stat().st_size
        start = 0
        wanted = request.headers.get("Range", "")
        status = 200
        if wanted.startswith("bytes=") and not self.ignore_range:
            start = int(wanted[len("bytes="):].split("-", 1)[0])
            if start >= size:
                raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        headers["Content-Length"] = str(size - start)
        headers["Accept-Ranges"] = "bytes"
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        stall = self.stall_after.get(path.name)
        sent = start
        with path.open("rb") as f:
            f.seek(start)
            while block := f.read(CHUNK):
                if path.name in self.corrupt and sent == start:
                    block = bytes([block[0] ^ 0xFF]) + block[1:]
                if stall is not None and sent + len(block) > stall:
                    await response.write(block[: max(0, stall - sent)])
                    assert self._release is not None
                    await self._release.wait()  # hold the connection open, sending nothing
                    return response
                await response.write(block)
                sent += len(block)
        await response.write_eof()
        return response

    # ----- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ModelServer:
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start_site())
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="ModelServer", daemon=True)
        self._thread.start()
        if not started.wait(30):
            raise RuntimeError("the model server did not start")
        return self

    async def _start_site(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{owner}/{repo}/resolve/main/{name}", self._resolve)
        app.router.add_route("*", "/cdn/{owner}/{repo}/{name}", self._cdn)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    def stop(self) -> None:
        loop, runner = self._loop, self._runner
        if loop is None or runner is None or self._thread is None:
            return
        assert self._release is not None
        loop.call_soon_threadsafe(self._release.set)
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=30)
        self._loop = self._runner = self._thread = None

