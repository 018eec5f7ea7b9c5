"""One SMPP connection to an SMSC, kept bound: connect, bind, read what comes, reconnect with
back-off when it drops; submits paced by a window and a rate.

The protocol is the session's (carriers/smpp/session.py); this module adds what a gateway
needs around it: a bind that comes back by itself, a pace the carrier agreed to, deliver_sm
acknowledged only once stored, and counters for the operator. Session errors stop here
(STYLE.md rule 5): a submit answers a `SubmitResult`, never raises.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from textrelay.carriers.smpp.session import (
    ESME_ROK,
    ESME_RX_T_APPN,
    BindRefused,
    EsmeSession,
    SessionClosed,
    SessionSettings,
    open_session,
)
from textrelay.domain.carriers import BindState

log = logging.getLogger(__name__)

BIND_TYPES = {"transceiver": "TRX", "transmitter": "TX", "receiver": "RX"}


@dataclass(frozen=True, slots=True)
class BindSettings:
    session: SessionSettings
    """Where and how to bind (the session's own settings)."""
    window: int
    rate_per_s: float
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


Events = Callable[[Sequence[Any]], Awaitable[Sequence[bool]]]
"""Called with the deliver_sm (smpp34.DeliverSm) the SMSC sent on this bind since the
previous call, in order, one call at a time; answers whether each was stored."""


class SmppBind:
    def __init__(self, name: str, bind_type: str, settings: BindSettings, events: Events) -> None:
        self.name = name
        self._bind_type = bind_type
        self._settings = settings
        self._events = events
        self._session: EsmeSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._window = asyncio.Semaphore(max(settings.window, 1))
        self._pace = _Pace(settings.rate_per_s)
        self._bound = asyncio.Event()
        self._between_batches = asyncio.Event()
        self._between_batches.set()
        self._stopping = False
        self.in_flight = 0
        self.submitted = 0
        self.received = 0
        self.last_error: str | None = None
        self._recent: collections.deque[float] = collections.deque()
        """When each submit of the last _THROUGHPUT_WINDOW_S was accepted, oldest first."""

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
            # The batch in hand is stored and answered first; the SMSC delivers the rest
            # (unanswered) again on a later bind.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_UNBIND_TIMEOUT_S):
                    await self._between_batches.wait()
            await session.unbind(_UNBIND_TIMEOUT_S)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def wait_bound(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._bound.wait(), timeout_s)
        return self.bound

    def state(self) -> BindState:
        self._forget_before(time.monotonic())
        return BindState(
            name=self.name,
            bound=self.bound,
            in_flight=self.in_flight,
            submitted=self.submitted,
            received=self.received,
            throughput_per_s=round(len(self._recent) / _THROUGHPUT_WINDOW_S, 1),
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
                async with asyncio.timeout(self._settings.session.response_timeout_s):
                    status, message_id = await session.submit_sm(
                        destination, short_message, **fields
                    )
            except TimeoutError:
                self.last_error = "submit_sm_resp timed out"
                return SubmitResult(None, error=self.last_error)
            except SessionClosed as exc:
                self.last_error = f"submit_sm: {exc}"
                return SubmitResult(None, error=self.last_error)
            finally:
                self.in_flight -= 1
        if status == ESME_ROK:
            self.submitted += 1
            now = time.monotonic()
            self._recent.append(now)
            self._forget_before(now)
        return SubmitResult(status, message_id)

    def _forget_before(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= _THROUGHPUT_WINDOW_S:
            self._recent.popleft()

    async def slow_down(self, pause_s: float) -> None:
        """The SMSC said it is busy: hold this bind's submits for a while."""
        self._pace.pause(pause_s)

    async def _keep_bound(self) -> None:
        delay = self._settings.reconnect_min_s
        while not self._stopping:
            try:
                session = await open_session(self._settings.session, self._bind_type)
            except SessionClosed as exc:
                self.last_error = f"bind: {exc}"
                log.warning("%s: %s; again in %.1f s", self.name, self.last_error, delay)
                await asyncio.sleep(delay)
                # A refusal is the operator's to fix (credentials): no faster than the longest.
                longest = self._settings.reconnect_max_s
                delay = longest if isinstance(exc, BindRefused) else min(delay * 2, longest)
                continue
            delay = self._settings.reconnect_min_s
            self._session = session
            self._bound.set()
            self.last_error = None
            where = self._settings.session
            log.info("%s: bound to %s:%s", self.name, where.host, where.port)
            try:
                await self._read(session)
            finally:
                self._session = None
                self._bound.clear()
                session.abort()
            if not self._stopping:
                self.last_error = session.closed.result()
                log.warning("%s: unbound (%s); binding again", self.name, self.last_error)
                await asyncio.sleep(self._settings.reconnect_min_s)

    async def _read(self, session: EsmeSession) -> None:
        """Until the session ends: hand the deliver_sm to the carrier in batches (those that
        arrive while a batch is being stored make the next one, so a burst of receipts shares
        transactions) and answer each once its batch is stored. A batch that could not be
        stored is answered ESME_RX_T_APPN, for the SMSC to deliver it again."""
        while not self._stopping:
            batch = await session.deliveries(_BATCH)
            if not batch or self._stopping:
                return
            self.received += len(batch)
            self._between_batches.clear()
            try:
                stored = await self._events([delivery.pdu for delivery in batch])
            except Exception:
                log.exception("%s: %d deliver_sm could not be stored", self.name, len(batch))
                stored = [False] * len(batch)
            finally:
                self._between_batches.set()
            for delivery, kept in zip(batch, stored, strict=True):
                session.acknowledge(delivery, ESME_ROK if kept else ESME_RX_T_APPN)


_THROUGHPUT_WINDOW_S = 10.0
_BATCH = 128
"""deliver_sm handed to the carrier at once, at most."""
_UNBIND_TIMEOUT_S = 2.0


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
