"""Waiting for something another thread or process does: one poll, one deadline, one failure.

    replies = eventually(lambda: control.received(HANDSET), until=lambda found: len(found) >= 2)

`eventually` polls `probe` until `until(value)` holds (by default: until the value is truthy)
and returns that value; past the deadline it fails with `what` and the last value seen, so a
test that times out says what it was waiting for and how far it got. `eventually_async` is
the same for code running on an event loop (it sleeps without blocking the loop), and takes a
probe that is a coroutine function as well as a plain one.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_INTERVAL_S = 0.05


class _Deadline:
    def __init__(self, timeout_s: float, what: str) -> None:
        self.timeout_s = timeout_s
        self.what = what
        self._ends = time.monotonic() + timeout_s

    def passed(self) -> bool:
        return time.monotonic() > self._ends

    def failure(self, last: object) -> AssertionError:
        return AssertionError(
            f"not within {self.timeout_s:g} s: {self.what or 'the condition'}; last value: {last!r}"
        )


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    interval_s: float = DEFAULT_INTERVAL_S,
    what: str = "",
    pause: Callable[[float], object] = time.sleep,
) -> T:
    """`probe()`'s first value for which `until` holds, polling every `interval_s`; an
    AssertionError naming `what` and the last value once `timeout_s` has passed.

    `pause(seconds)` waits between polls: a Playwright page passes its own wait, which keeps
    dispatching the page's events (`time.sleep` would hold them back).
    """
    deadline = _Deadline(timeout_s, what)
    while True:
        value = probe()
        if until(value):
            return value
        if deadline.passed():
            raise deadline.failure(value)
        pause(interval_s)


@overload
async def eventually_async(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], object] = ...,
    *,
    timeout_s: float = ...,
    interval_s: float = ...,
    what: str = ...,
) -> T: ...


@overload
async def eventually_async(
    probe: Callable[[], T],
    until: Callable[[T], object] = ...,
    *,
    timeout_s: float = ...,
    interval_s: float = ...,
    what: str = ...,
) -> T: ...


async def eventually_async(
    probe: Callable[[], Any],
    until: Callable[[Any], object] = bool,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    interval_s: float = DEFAULT_INTERVAL_S,
    what: str = "",
) -> Any:
    """`eventually` on an event loop: the loop keeps running between polls, and `probe`
    may be a coroutine function."""
    deadline = _Deadline(timeout_s, what)
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if until(value):
            return value
        if deadline.passed():
            raise deadline.failure(value)
        await asyncio.sleep(interval_s)
