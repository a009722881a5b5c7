"""Run the fake server as its own process: `python -m tests.fakeopenai --port 0 --print-url`.

Valid API keys come from the environment variable FAKEOPENAI_API_KEYS (comma-separated), never from the
command line; without it the default test key is valid. The process stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .server import FakeOpenAI
from .state import DEFAULT_API_KEY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakeopenai", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--print-url", action="store_true", help="print the base URL (…/v1) as the first line"
    )
    parser.add_argument("--preload", action="store_true", help="load the speech-recognition model at start")
    parser.add_argument("--session-max-s", type=float, default=3600.0, help="realtime session lifetime")
    args = parser.parse_args(argv)

    keys = [k for k in os.environ.get("FAKEOPENAI_API_KEYS", "").split(",") if k] or [DEFAULT_API_KEY]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FakeOpenAI(
        host=args.host,
        port=args.port,
        api_key=keys[0],
        valid_keys=keys,
        session_max_s=args.session_max_s,
        preload=args.preload,
    ) as server:
        if args.print_url:
            print(server.base_url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
