"""The aiohttp application: routes, auth for the realtime upgrade, /v1/models and the admin API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from . import asr, tts
from .realtime_common import BETA_MESSAGE, CLOSE_BETA_REFUSED, CLOSE_POLICY, SessionBase
from .realtime_speech import SpeechSession
from .realtime_transcription import TranscriptionSession
from .speech import handle_speech
from .state import FAULT_KINDS, RecordedRequest, ServerState, make_fault
from .transcriptions import apply_early_faults, handle_transcriptions, handle_translations
from .wire import (
    START_KEY,
    STATE_KEY,
    DroppedConnection,
    add_common_headers,
    auth_error,
    bearer_key,
    compact,
    fault_status_response,
    is_authorized,
    json_response,
    model_not_found,
    new_id,
    unauthorized_response,
)


@web.middleware
async def timing_and_drops(request: web.Request, handler: Any) -> web.StreamResponse:
    request[START_KEY] = time.monotonic()
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except DroppedConnection:
        # The transport is already gone; this response is never sent.
        return web.Response(status=499)


async def handle_models(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    record = RecordedRequest(request.method, request.path, dict(request.query), dict(request.headers))
    state.record(record)
    if not is_authorized(request):
        response: web.StreamResponse = unauthorized_response(bearer_key(request))
    else:
        fault = state.take_fault("models")
        record.fault = sorted(fault.kinds)
        await apply_early_faults(request, fault)
        model_id = request.match_info.get("model")
        if fault.has("status") or fault.has("insufficient_quota"):
            response = fault_status_response(fault, model_id)
        elif model_id is not None:
            response = (
                json_response(model_entry(model_id))
                if model_id in state.models and not fault.has("model_not_found")
                else model_not_found(fault, model_id)
            )
        else:
            response = json_response(
                {"object": "list", "data": [model_entry(m) for m in sorted(state.models)]}
            )
    record.status = response.status
    return response


def model_entry(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": "system"}


async def handle_realtime(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    record = RecordedRequest(request.method, request.path, dict(request.query), dict(request.headers))
    state.record(record)
    fault = state.take_fault("realtime")
    record.fault = sorted(fault.kinds)
    authorized = is_authorized(request)
    if not authorized and not fault.has("ws_accept_then_error"):
        record.status = 401
        return unauthorized_response(bearer_key(request))
    if fault.has("status") or fault.has("insufficient_quota"):
        response = fault_status_response(fault, request.query.get("model"))
        record.status = response.status
        return response
    if fault.has("hang"):
        await apply_early_faults(request, fault)
    ws = web.WebSocketResponse(protocols=("realtime",), max_msg_size=0, heartbeat=None)
    if not ws.can_prepare(request).ok:
        record.status = 400
        return web.Response(status=400, text="Expected a WebSocket upgrade.")
    await ws.prepare(request)
    record.status = 101

    async def refuse(
        code: str | None, message: str, close_code: int, param: str | None = None
    ) -> web.StreamResponse:
        payload = {
            "type": "error",
            "event_id": new_id("event_"),
            "error": {
                "type": "invalid_request_error",
                "code": code,
                "message": message,
                "param": param,
                "event_id": None,
            },
        }
        await ws.send_str(compact(payload))
        await ws.close(code=close_code, message=(code or "error").encode())
        return ws

    if not authorized:
        message, code = auth_error(bearer_key(request))
        return await refuse(code or "invalid_api_key", message, CLOSE_POLICY)
    if "realtime=v1" in request.headers.get("OpenAI-Beta", "").replace(" ", ""):
        return await refuse("beta_api_shape_disabled", BETA_MESSAGE, CLOSE_BETA_REFUSED)
    intent = request.query.get("intent")
    model = request.query.get("model")
    session: SessionBase
    if intent == "transcription":
        if model:
            return await refuse(
                "invalid_model",
                "You must not provide a model parameter for transcription sessions.",
                CLOSE_POLICY,
                "model",
            )
        session = TranscriptionSession(ws, state, fault, record)
    else:
        if not model:
            return await refuse(
                "missing_required_parameter", "Missing required parameter: 'model'.", CLOSE_POLICY, "model"
            )
        if model not in state.models or fault.has("model_not_found"):
            return await refuse(
                "model_not_found",
                f"The model `{model}` does not exist or you do not have access to it.",
                CLOSE_POLICY,
                "model",
            )
        session = SpeechSession(ws, state, fault, record, model=model)
    await session.run()
    return ws


# -- admin API (subprocess mode) -----------------------------------------------------------------
async def admin_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "fault_kinds": FAULT_KINDS})


async def admin_add_fault(request: web.Request) -> web.Response:
    data = await request.json()
    try:
        fault = make_fault(
            data["endpoint"], data.get("kinds", []), data.get("params", {}), data.get("times", 1)
        )
    except (KeyError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    request.app[STATE_KEY].add_fault(fault)
    return web.json_response(fault.to_json())


async def admin_faults(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.method == "DELETE":
        state.clear_faults()
    return web.json_response([f.to_json() for f in state.pending_faults()])


async def admin_requests(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.method == "DELETE":
        state.clear_requests()
        return web.json_response([])
    return web.json_response([r.to_json() for r in state.requests()])


async def admin_set(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    target = state.valid_keys if request.match_info["name"] == "valid_keys" else state.models
    if request.method == "PUT":
        target.replace(await request.json())
    return web.json_response(list(target))


async def admin_speech_rate(request: web.Request) -> web.Response:
    """GET/PUT {"words_per_minute": N or null}: see tts.set_speech_rate."""
    if request.method == "PUT":
        data = await request.json()
        try:
            tts.set_speech_rate(data.get("words_per_minute"))
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"words_per_minute": tts.speech_rate()})


async def admin_speech_tone(request: web.Request) -> web.Response:
    """GET/PUT {"steady_tone": bool}: see tts.set_steady_tone."""
    if request.method == "PUT":
        tts.set_steady_tone(bool((await request.json()).get("steady_tone")))
    return web.json_response({"steady_tone": tts.steady_tone()})


async def admin_preload(request: web.Request) -> web.Response:
    await asyncio.get_running_loop().run_in_executor(None, asr.preload)
    return web.json_response({"ok": True})


def build_app(state: ServerState) -> web.Application:
    # The size limit is enforced by the transcription handler (413 with the real body), not by aiohttp.
    app = web.Application(middlewares=[timing_and_drops], client_max_size=1024**3)
    app[STATE_KEY] = state
    app.on_response_prepare.append(add_common_headers)
    app.router.add_get("/v1/models", handle_models)
    app.router.add_get("/v1/models/{model}", handle_models)
    app.router.add_post("/v1/audio/transcriptions", handle_transcriptions)
    app.router.add_post("/v1/audio/translations", handle_translations)
    app.router.add_post("/v1/audio/speech", handle_speech)
    app.router.add_get("/v1/realtime", handle_realtime)
    app.router.add_get("/_admin/health", admin_health)
    app.router.add_post("/_admin/fault", admin_add_fault)
    app.router.add_route("*", "/_admin/faults", admin_faults)
    app.router.add_route("*", "/_admin/requests", admin_requests)
    app.router.add_route("*", "/_admin/{name:valid_keys|models}", admin_set)
    app.router.add_post("/_admin/preload", admin_preload)
    app.router.add_route("*", "/_admin/speech_rate", admin_speech_rate)
    app.router.add_route("*", "/_admin/speech_tone", admin_speech_tone)
    return app
