"""Shared plumbing for the two realtime session kinds: event ids, error events, serialised sends, expiry."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import WSMsgType, web

from .state import Fault, RecordedRequest, ServerState
from .wire import compact, new_id

CLOSE_BETA_REFUSED = 4000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008

BETA_MESSAGE = "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
EXPIRED_MESSAGE = "Your session hit the maximum duration of 60 minutes."


class SessionBase:
    """One WebSocket session. Subclasses implement `on_event` and `initial_session`."""

    def __init__(
        self, ws: web.WebSocketResponse, state: ServerState, fault: Fault, record: RecordedRequest
    ) -> None:
        self.ws = ws
        self.state = state
        self.fault = fault
        self.record = record
        self._send_lock = asyncio.Lock()
        self.created_at = int(time.time())
        self.session_id = new_id("sess_")
        self.tasks: set[asyncio.Task[None]] = set()

    # -- sending ----------------------------------------------------------------------------------
    async def send(self, event: dict[str, Any]) -> None:
        """Every server event gets an `event_id` right after its `type`."""
        payload = {"type": event["type"], "event_id": new_id("event_")}
        payload.update((k, v) for k, v in event.items() if k != "type")
        async with self._send_lock:
            if not self.ws.closed:
                await self.ws.send_str(compact(payload))

    async def error(
        self,
        code: str | None,
        message: str,
        *,
        client_event_id: str | None = None,
        param: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        await self.send(
            {
                "type": "error",
                "error": {
                    "type": type_,
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": client_event_id,
                },
            }
        )

    def abort(self) -> None:
        """Cut the TCP connection with no close frame (the client sees 1006)."""
        request = self.ws._req  # aiohttp keeps the request on the response; there is no public accessor
        if request is not None and request.transport is not None:
            request.transport.abort()

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- lifecycle --------------------------------------------------------------------------------
    def initial_session(self) -> dict[str, Any]:
        raise NotImplementedError

    async def on_event(self, event: dict[str, Any]) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.initial_session()})
        self.spawn(self._expire_later())
        try:
            async for message in self.ws:
                if message.type != WSMsgType.TEXT:
                    if message.type == WSMsgType.BINARY:
                        await self.error("invalid_event", "Binary frames are not supported; send JSON text.")
                    continue
                await self._dispatch(message.data)
        finally:
            for task in list(self.tasks):
                task.cancel()

    async def _dispatch(self, raw: str) -> None:
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            await self.error("invalid_json", "The server could not parse the event: invalid JSON.")
            return
        if not isinstance(event, dict):
            await self.error("invalid_event", "The event must be a JSON object.")
            return
        self.record.events.append(summarise(event))
        if "type" not in event:
            await self.error(
                "invalid_event", "The 'type' field is missing.", client_event_id=event.get("event_id")
            )
            return
        await self.on_event(event)

    async def _expire_later(self) -> None:
        after = float(self.fault.get("after_s", 0.2)) if self.fault.has("session_expired") else None
        await asyncio.sleep(after if after is not None else self.state.session_max_s)
        await self.error("session_expired", EXPIRED_MESSAGE)
        await self.ws.close(code=CLOSE_GOING_AWAY, message=EXPIRED_MESSAGE.encode())

    async def unknown_event(self, event: dict[str, Any], supported: list[str]) -> None:
        names = ", ".join(f"'{s}'" for s in supported)
        await self.error(
            "invalid_value",
            f"Invalid value: '{event['type']}'. Supported values are: {names}.",
            client_event_id=event.get("event_id"),
            param="type",
        )


def summarise(event: dict[str, Any]) -> dict[str, Any]:
    """Recorded form of a client event: base64 audio is replaced by its decoded length."""
    if event.get("type") == "input_audio_buffer.append" and isinstance(event.get("audio"), str):
        recorded = dict(event)
        recorded["audio"] = f"<{len(event['audio']) * 3 // 4} bytes>"
        return recorded
    return event


def unknown_keys(given: dict[str, Any], allowed: set[str], prefix: str) -> str | None:
    """`session.temperature`-style name of the first key the GA schema does not have."""
    for key in given:
        if key not in allowed:
            return f"{prefix}.{key}"
    return None
