"""Run an ASGI app (a webhook app under test) on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from textrelay.app import listening_socket

_START_TIMEOUT_S = 10.0


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app's base URL while it serves."""
    sock = listening_socket("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT_S)
