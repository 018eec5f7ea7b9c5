"""Live updates for console pages: a server-sent event stream that says `change` whenever
something a page shows may have changed, in this process or in another on the same database
(heard at once by a process that runs workers, services/queue.py; else seen by polling a
marker)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from textrelay.services.context import Signal

EVENTS_LIFETIME_S = 600.0
"""An event stream ends after this; the browser's EventSource reconnects by itself."""
CROSS_PROCESS_CHECK_S = 2.0
"""How often an event stream looks for changes made by other processes."""
KEEPALIVE_S = 10.0
"""Also how soon a closed page's stream is noticed and ended."""


def change_events(
    request: Request,
    signal: Signal,
    latest_change: Callable[[], Awaitable[tuple[object, ...]]],
) -> Response:
    """The stream for one page: `signal` is raised by this process's commits, and
    `latest_change` is the marker that moves with anyone's."""

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        deadline = time.monotonic() + EVENTS_LIFETIME_S
        seen = signal.generation
        marker = await latest_change()
        quiet_s = 0.0
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                return
            if await signal.wait(CROSS_PROCESS_CHECK_S, since=seen):
                seen = signal.generation
                marker = await latest_change()
                await asyncio.sleep(0.1)  # coalesce a burst of changes into one event
                yield b"event: change\ndata: {}\n\n"
                quiet_s = 0.0
                continue
            # Changes made by other processes (several on one PostgreSQL) raise no signal
            # here: a cheap look at the newest rows tells.
            latest = await latest_change()
            if latest != marker:
                marker = latest
                yield b"event: change\ndata: {}\n\n"
                quiet_s = 0.0
                continue
            quiet_s += CROSS_PROCESS_CHECK_S
            if quiet_s >= KEEPALIVE_S:
                quiet_s = 0.0
                yield b": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
