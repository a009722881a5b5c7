"""`FakeOpenAI`: the server on a background thread of the test process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from . import asr, tts
from .app import build_app
from .state import DEFAULT_API_KEY, DEFAULT_MODELS, Fault, LockedSet, RecordedRequest, ServerState, make_fault


class FakeOpenAI:
    """A protocol-faithful local OpenAI audio server.

    with FakeOpenAI() as srv:
        client = httpx.Client(base_url=srv.base_url, headers={"Authorization": f"Bearer {srv.api_key}"})
        srv.add_fault("transcriptions", status=429, retry_after=0.2)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        valid_keys: Iterable[str] | None = None,
        models: Iterable[str] = DEFAULT_MODELS,
        session_max_s: float = 3600.0,
        preload: bool = False,
    ) -> None:
        self.api_key = api_key
        self._host = host
        self._port = port
        self._preload = preload
        self.state = ServerState(
            valid_keys=[api_key] if valid_keys is None else valid_keys,
            models=models,
            session_max_s=session_max_s,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self.port = 0

    # -- addresses --------------------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def ws_url(self) -> str:
        """The realtime endpoint ws://127.0.0.1:PORT/v1/realtime (add ?intent=transcription or ?model=…)."""
        return f"ws://{self._host}:{self.port}/v1/realtime"

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        if self._preload:
            asr.preload()
        self._thread = threading.Thread(target=self._serve, name="FakeOpenAI", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout=30):
            raise RuntimeError("FakeOpenAI did not start within 30 s")
        if self._start_error is not None:
            raise RuntimeError("FakeOpenAI failed to start") from self._start_error
        return self

    def stop(self) -> None:
        loop, runner = self._loop, self._runner
        if loop is None or runner is None or self._thread is None:
            return
        self.state.closing.set()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        asyncio.run_coroutine_threadsafe(_cancel_leftover_tasks(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=30)
        self._loop = self._runner = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._start_site())
        except BaseException as exc:  # reported to the starting thread
            self._start_error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _start_site(self) -> None:
        # A short shutdown timeout: hanging handlers and open sockets must not delay the end of a test.
        runner = web.AppRunner(
            build_app(self.state), handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        server = site._server  # aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None)
        assert sockets, "the site has no listening socket"
        self.port = int(sockets[0].getsockname()[1])

    # -- controls ---------------------------------------------------------------------------------
    def add_fault(self, endpoint: str, *kinds: str, times: int | None = 1, **params: Any) -> Fault:
        """Queue a fault for the next `times` requests on `endpoint` (None = until cleared).

        See FAULT_KINDS for the names and their parameters."""
        fault = make_fault(endpoint, kinds, params, times)
        self.state.add_fault(fault)
        return fault

    def clear_faults(self) -> None:
        self.state.clear_faults()

    @property
    def pending_faults(self) -> list[Fault]:
        return self.state.pending_faults()

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests()

    def clear_requests(self) -> None:
        self.state.clear_requests()

    def wait_for_requests(
        self,
        count: int = 1,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[RecordedRequest]:
        """Wait until `count` recorded requests match `predicate` (e2e tests: another thread sends)."""
        return _wait_for(lambda: self.requests, count, predicate, timeout)

    @property
    def valid_keys(self) -> LockedSet:
        return self.state.valid_keys

    @valid_keys.setter
    def valid_keys(self, keys: Iterable[str]) -> None:
        self.state.valid_keys.replace(keys)

    @property
    def models(self) -> LockedSet:
        return self.state.models

    @models.setter
    def models(self, models: Iterable[str]) -> None:
        self.state.models.replace(models)

    def preload(self) -> None:
        """Load the speech-recognition model now, so the first transcription is not slower than the rest."""
        asr.preload()

    def set_speech_rate(self, words_per_minute: int | None) -> None:
        """Fast speech for long-text tests (see tts.set_speech_rate). In-process this applies to every server
        of the test process until reset with None; FakeOpenAIProcess keeps it to its own server."""
        tts.set_speech_rate(words_per_minute)


async def _cancel_leftover_tasks() -> None:
    """Handlers that outlived the shutdown timeout (hangs, open sockets) end here, not at interpreter exit."""
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def _wait_for(
    fetch: Callable[[], list[RecordedRequest]],
    count: int,
    predicate: Callable[[RecordedRequest], bool] | None,
    timeout: float,
) -> list[RecordedRequest]:
    deadline = time.monotonic() + timeout
    while True:
        matching = [r for r in fetch() if predicate is None or predicate(r)]
        if len(matching) >= count:
            return matching
        if time.monotonic() > deadline:
            raise TimeoutError(f"expected {count} matching requests within {timeout} s, saw {len(matching)}")
        time.sleep(0.02)  # polling a condition with a deadline, not a fixed wait
