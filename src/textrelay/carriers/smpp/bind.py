"""One SMPP connection to an SMSC, kept bound: connect, bind, read what comes, reconnect with
back-off when it drops; submits paced by a window and a rate.

The protocol machinery (framing, sequence numbers, enquire_link keep-alives, the SMSC's
window) is smpp34's; this module adds what a gateway needs around it: a bind that comes back by
itself, a pace the carrier agreed to, and counters for the operator. smpp34 exceptions stop
here (STYLE.md rule 5): a submit answers a `SubmitResult`, never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import smpp34

from textrelay.domain.carriers import BindState

log = logging.getLogger(__name__)

BIND_TYPES = {"transceiver": "TRX", "transmitter": "TX", "receiver": "RX"}


@dataclass(frozen=True, slots=True)
class BindSettings:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str
    tls: bool
    window: int
    rate_per_s: float
    response_timeout_s: float
    reconnect_min_s: float
    reconnect_max_s: float


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What the SMSC answered: a command_status (0 with its message_id), or no answer at all
    (`error`: not bound, the connection dropped, the response timed out)."""

    command_status: int | None
    message_id: str | None = None
    error: str | None = None
    sent: bool = True
    """False when nothing left textrelay (no bind was bound)."""


Events = Callable[[Any], Awaitable[None]]
"""Called with each deliver_sm the SMSC sends on this bind, in order."""


class SmppBind:
    def __init__(self, name: str, bind_type: str, settings: BindSettings, events: Events) -> None:
        self.name = name
        self._bind_type = bind_type
        self._settings = settings
        self._events = events
        self._session: Any = None
        self._task: asyncio.Task[None] | None = None
        self._window = asyncio.Semaphore(max(settings.window, 1))
        self._pace = _Pace(settings.rate_per_s)
        self._bound = asyncio.Event()
        self._stopping = False
        self.in_flight = 0
        self.submitted = 0
        self.received = 0
        self.last_error: str | None = None
        self._recent: list[float] = []

    @property
    def bound(self) -> bool:
        return self._session is not None

    @property
    def sends(self) -> bool:
        return self._bind_type != "RX"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep_bound())

    async def stop(self) -> None:
        """Unbind cleanly and stop reconnecting."""
        self._stopping = True
        session = self._session
        if session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.unbind(), 2.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def wait_bound(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._bound.wait(), timeout_s)
        return self.bound

    def state(self) -> BindState:
        now = time.monotonic()
        self._recent = [t for t in self._recent if now - t < 10.0]
        return BindState(
            name=self.name,
            bound=self.bound,
            in_flight=self.in_flight,
            submitted=self.submitted,
            received=self.received,
            throughput_per_s=round(len(self._recent) / 10.0, 1),
            last_error=self.last_error,
        )

    async def submit_sm(
        self, destination: str, short_message: bytes, **fields: Any
    ) -> SubmitResult:
        """Send one submit_sm within the window and the pace; its answer."""
        async with self._window:
            session = self._session
            if session is None:
                return SubmitResult(None, error="not bound", sent=False)
            await self._pace.wait()
            self.in_flight += 1
            try:
                response = await asyncio.wait_for(
                    session.submit_sm(destination, short_message, **fields),
                    self._settings.response_timeout_s,
                )
            except TimeoutError:
                self.last_error = "submit_sm_resp timed out"
                return SubmitResult(None, error=self.last_error)
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:
                # SmppError, a dropped session, and a panic in smpp34's Rust core (pyo3
                # raises those as BaseException): the submit had no answer.
                self.last_error = f"submit_sm: {exc}"
                return SubmitResult(None, error=self.last_error)
            finally:
                self.in_flight -= 1
        status = int(response.command_status)
        if status == 0:
            self.submitted += 1
            self._recent.append(time.monotonic())
        return SubmitResult(status, response.message_id)

    async def slow_down(self, pause_s: float) -> None:
        """The SMSC said it is busy: hold this bind's submits for a while."""
        self._pace.pause(pause_s)

    async def _keep_bound(self) -> None:
        delay = self._settings.reconnect_min_s
        while not self._stopping:
            client = smpp34.Client(
                self._settings.host,
                self._settings.port,
                self._settings.system_id,
                self._settings.password,
                bind_type=self._bind_type,
                system_type=self._settings.system_type,
                tls=self._settings.tls,
                window_size=max(self._settings.window, 1),
                connect_timeout_ms=int(self._settings.response_timeout_s * 1000),
            )
            try:
                session = await client.connect()
            except Exception as exc:
                self.last_error = f"bind: {exc}"
                log.warning("%s: %s; again in %.1f s", self.name, self.last_error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._settings.reconnect_max_s)
                continue
            delay = self._settings.reconnect_min_s
            self._session = session
            self._bound.set()
            self.last_error = None
            log.info("%s: bound to %s:%s", self.name, self._settings.host, self._settings.port)
            try:
                await self._read(session)
            finally:
                self._session = None
                self._bound.clear()
                with contextlib.suppress(Exception):
                    await client.stop()
            if not self._stopping:
                self.last_error = self.last_error or "connection closed by the SMSC"
                log.warning("%s: unbound (%s); binding again", self.name, self.last_error)
                await asyncio.sleep(self._settings.reconnect_min_s)

    async def _read(self, session: Any) -> None:
        while True:
            try:
                event = await session.next()
            except Exception as exc:
                self.last_error = f"read: {exc}"
                return
            if isinstance(event, smpp34.Disconnected):
                return
            self.received += 1
            try:
                await self._events(event)
            except Exception:
                # A store that is down must not end the bind: the SMSC has its answer (smpp34
                # acknowledges on arrival) and the event is logged for the operator.
                log.exception("%s: a deliver_sm could not be handled", self.name)


class _Pace:
    """At most `rate_per_s` submits a second (0: no limit), and pauses when asked to."""

    def __init__(self, rate_per_s: float) -> None:
        self._interval = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
        self._next = 0.0

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, time.monotonic() + seconds)

    async def wait(self) -> None:
        now = time.monotonic()
        if self._next > now:
            slot = self._next
            self._next = slot + self._interval
            await asyncio.sleep(slot - now)
        else:
            self._next = now + self._interval
