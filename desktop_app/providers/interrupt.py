"""Make a blocked httpx call return at once when its CancelToken trips.

Closing an httpx response from another thread does not wake a thread blocked in ``recv()``: it waits for
the read timeout (up to a minute). ``socket.shutdown()`` does wake it. So the client's network backend
wraps every socket stream, each read/write registers its stream with the calling thread's active
:func:`interrupt_on_cancel` scope, and cancelling the scope's token shuts those sockets down.

A scope only touches streams used inside it, and forgets them when it ends, so a pooled keep-alive
connection reused later by another request is never shut down by an old token.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx

from desktop_app.core.cancel import CancelToken
from desktop_app.core.errors import Cancelled, SaysoError
from desktop_app.providers.errors import error_from_exception

_local = threading.local()


class _Scope:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: set[httpcore.NetworkStream] = set()
        self._tripped = False
        self._ended = False

    def attach(self, stream: httpcore.NetworkStream) -> None:
        with self._lock:
            if self._ended:
                return
            if not self._tripped:
                self._streams.add(stream)
                return
        _shutdown(stream)  # cancelled already: fail this I/O at once instead of starting it

    def trip(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._tripped = True
            streams, self._streams = list(self._streams), set()
        for stream in streams:
            _shutdown(stream)

    def end(self) -> None:
        with self._lock:
            self._ended = True
            self._streams.clear()


def _shutdown(stream: httpcore.NetworkStream) -> None:
    sock = stream.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed or never connected: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def interrupt_on_cancel(token: CancelToken) -> Iterator[None]:
    """Within this block (on this thread), cancelling ``token`` aborts the client's socket I/O at once.

    Only clients built by :func:`desktop_app.providers.http_client.make_client` take part.
    """
    scope = _Scope()
    previous: _Scope | None = getattr(_local, "scope", None)
    _local.scope = scope
    token.on_cancel(scope.trip)
    try:
        yield
    finally:
        scope.end()
        _local.scope = previous


@contextmanager
def cancellable_call(cancel: CancelToken, *, host: str) -> Iterator[None]:
    """:func:`interrupt_on_cancel`, and what escapes the block told the user's way: ``Cancelled`` when the
    token tripped (shutting the socket is how cancel works, so the I/O error it causes means nothing), else
    the ``core.errors`` error for the transport failure."""
    try:
        with interrupt_on_cancel(cancel):
            yield
    except httpx.TransportError as exc:
        if cancel.cancelled:
            raise Cancelled() from None
        raise error_from_exception(exc, host=host) from None
    except SaysoError:
        if cancel.cancelled:
            raise Cancelled() from None
        raise
    cancel.raise_if_cancelled()


def _attach_current(stream: httpcore.NetworkStream) -> None:
    scope: _Scope | None = getattr(_local, "scope", None)
    if scope is not None:
        scope.attach(stream)


class _TrackedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        _attach_current(self)
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _attach_current(self)
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        _attach_current(self)
        return _TrackedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class InterruptibleBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        return _TrackedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                            ) -> httpcore.NetworkStream:
        return _TrackedStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(transport: httpx.BaseTransport) -> None:
    """Route a transport's sockets through :class:`InterruptibleBackend`.

    httpx 0.28 has no public hook for the network backend; its pool takes the backend from this attribute
    when it opens a connection, so setting it before the first request is enough (checked by the cancel
    tests, which fail if this stops working).
    """
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.ConnectionPool):
        pool._network_backend = InterruptibleBackend(pool._network_backend)
