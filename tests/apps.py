"""Run an ASGI app (a webhook app under test) on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.waiting import eventually
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
    eventually(
        lambda: server.started,
        timeout_s=_START_TIMEOUT_S,
        interval_s=0.01,
        what="the app did not start",
    )
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT_S)
