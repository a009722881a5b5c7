"""Single instance and remote control over a per-user, per-profile local socket.

The running app owns a QLocalServer; ``sayso dictate start`` and friends connect as clients, send one JSON
line and read one JSON line back. A second GUI start sends ``show`` and exits.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_MS = 1500
REPLY_TIMEOUT_MS = 10_000
MAX_REQUEST_BYTES = 64 * 1024


def socket_name(profile_key: str) -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "user"
    return f"sayso-{user}-{profile_key}"


@dataclass(frozen=True)
class Reply:
    ok: bool
    message: str = ""
    data: Any = None

    def to_json(self) -> bytes:
        return json.dumps({"ok": self.ok, "message": self.message, "data": self.data}).encode() + b"\n"


class IpcClientError(Exception):
    pass


class InstanceLock:
    """One Sayso per profile: a lock file in the profile (stale locks of dead processes are taken over)."""

    def __init__(self, path: str) -> None:
        self._lock = QLockFile(path)
        self._lock.setStaleLockTime(0)  # stale = its process is gone, however recent

    def acquire(self) -> bool:
        return self._lock.tryLock(0)

    def release(self) -> None:
        self._lock.unlock()


def send_command(name: str, command: str, args: dict[str, Any] | None = None,
                 timeout_ms: int = REPLY_TIMEOUT_MS) -> Reply:
    """Blocking client: works without an event loop (QLocalSocket's waitFor* calls)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        raise IpcClientError("not running")
    payload = json.dumps({"command": command, "args": args or {}}).encode() + b"\n"
    socket.write(payload)
    socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
    buffer = b""
    while b"\n" not in buffer:
        if not socket.waitForReadyRead(timeout_ms):
            socket.abort()
            raise IpcClientError("Sayso is running but did not answer in time.")
        buffer += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    answer = json.loads(buffer.split(b"\n", 1)[0])
    return Reply(ok=bool(answer.get("ok")), message=str(answer.get("message", "")), data=answer.get("data"))


class IpcServer(QObject):
    """Listens for commands; ``handler(command, args) -> Reply`` runs on the GUI thread."""

    error = Signal(str)

    def __init__(self, name: str, handler: Callable[[str, dict[str, Any]], Reply],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._handler = handler
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_new_connection)

    def listen(self) -> None:
        """Listen; call only while holding the instance lock (see ``InstanceLock``).

        Qt replaces an existing socket file on Unix, so the lock, not the socket, decides who runs; a socket
        file left by a crashed instance is removed first.
        """
        QLocalServer.removeServer(self._name)
        if not self._server.listen(self._name):
            raise OSError(f"Cannot listen on {self._name}: {self._server.errorString()}")

    def set_handler(self, handler: Callable[[str, dict[str, Any]], Reply]) -> None:
        self._handler = handler

    def close(self) -> None:
        self._server.close()

    def _on_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            buffer = bytearray()

            def on_ready(sock: QLocalSocket = socket, buf: bytearray = buffer) -> None:
                buf.extend(bytes(sock.readAll().data()))
                if len(buf) > MAX_REQUEST_BYTES:
                    sock.abort()
                    return
                if b"\n" in buf:
                    line = bytes(buf).split(b"\n", 1)[0]
                    sock.write(self._dispatch(line).to_json())
                    sock.flush()
                    sock.disconnectFromServer()

            socket.readyRead.connect(on_ready)
            socket.disconnected.connect(socket.deleteLater)

    def _dispatch(self, line: bytes) -> Reply:
        try:
            request = json.loads(line)
            command = str(request["command"])
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise ValueError("args must be an object")
        except (ValueError, KeyError, TypeError) as exc:
            return Reply(False, f"Bad request: {exc}")
        try:
            return self._handler(command, args)
        except Exception as exc:
            log.exception("IPC command %s failed", command)
            return Reply(False, f"{command} failed: {exc}")
