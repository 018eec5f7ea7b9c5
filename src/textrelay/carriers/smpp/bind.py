"""One SMPP connection to an SMSC, kept bound: connect, bind, read what comes, reconnect with
back-off when it drops; submits paced by a window and a rate.

The protocol machinery (framing, sequence numbers, enquire_link keep-alives, the SMSC's
window) is smpp34's; this module adds what a gateway needs around it: a bind that comes back by
itself, a pace the carrier agreed to, and counters for the operator. smpp34 exceptions stop
here (STYLE.md rule 5): a submit answers a `SubmitResult`, never raises.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
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


Events = Callable[[Sequence[Any]], Awaitable[None]]
"""Called with the deliver_sm the SMSC sent on this bind since the previous call, in order;
one call at a time."""


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
                # asyncio.timeout, not wait_for: no task of its own for every submit.
                async with asyncio.timeout(self._settings.response_timeout_s):
                    response = await session.submit_sm(destination, short_message, **fields)
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
            now = time.monotonic()
            self._recent.append(now)
            self._forget_before(now)
        return SubmitResult(status, response.message_id)

    def _forget_before(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= _THROUGHPUT_WINDOW_S:
            self._recent.popleft()

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
                inbound_capacity=_INBOUND_CAPACITY,
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
            set_nodelay(self._settings.host, self._settings.port)
            self._session = session
            self._bound.set()
            self.last_error = None
            log.info("%s: bound to %s:%s", self.name, self._settings.host, self._settings.port)
            reading = asyncio.get_running_loop().create_task(self._read(session))
            try:
                await self._watch(client, reading)
            finally:
                self._session = None
                self._bound.clear()
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reading
                with contextlib.suppress(Exception):
                    await client.stop()
            if not self._stopping:
                self.last_error = self.last_error or "connection closed by the SMSC"
                log.warning("%s: unbound (%s); binding again", self.name, self.last_error)
                await asyncio.sleep(self._settings.reconnect_min_s)

    async def _watch(self, client: Any, reading: asyncio.Task[None]) -> None:
        """Until the reader ends (the SMSC closed or unbound), or the session is found dead
        without the reader being told (seen under load: no `Disconnected` ever came)."""
        while True:
            done, _ = await asyncio.wait({reading}, timeout=_ALIVE_CHECK_S)
            if done:
                return
            try:
                alive = await client.is_alive()
            except Exception:
                alive = False
            if not alive:
                self.last_error = "the session died"
                return

    async def _read(self, session: Any) -> None:
        """Hand the deliver_sm to the carrier in batches: those that arrive while a batch is
        being stored make the next one, so a burst of receipts shares transactions instead of
        taking one each (smpp34 acknowledges each on arrival; its inbound queue is large, see
        _INBOUND_CAPACITY)."""
        arrived: asyncio.Queue[Any] = asyncio.Queue(_EVENTS_IN_HAND)
        handing = asyncio.get_running_loop().create_task(self._hand_over(arrived))
        try:
            while True:
                try:
                    event = await session.next()
                except Exception as exc:
                    self.last_error = f"read: {exc}"
                    return
                if isinstance(event, smpp34.Disconnected):
                    return
                self.received += 1
                await arrived.put(event)
        finally:
            # What was received is handed over to the end, even as the bind goes.
            await arrived.put(_END)
            await asyncio.gather(handing, return_exceptions=True)

    async def _hand_over(self, arrived: asyncio.Queue[Any]) -> None:
        ended = False
        while not ended:
            batch = [await arrived.get()]
            while not arrived.empty() and len(batch) < _BATCH:
                batch.append(arrived.get_nowait())
            if batch[-1] is _END:
                batch.pop()
                ended = True
            if not batch:
                continue
            try:
                await self._events(batch)
            except Exception:
                # A store that is down must not end the bind: the SMSC has its answer (smpp34
                # acknowledges on arrival) and the events are logged for the operator.
                log.exception("%s: %d deliver_sm could not be handled", self.name, len(batch))


_ALIVE_CHECK_S = 5.0
_THROUGHPUT_WINDOW_S = 10.0
_EVENTS_IN_HAND = 1024
"""deliver_sm read from smpp34 and not yet handed to the carrier, per bind: past it the
reader waits, and smpp34's own queue holds the rest."""
_BATCH = 128
"""deliver_sm handed to the carrier at once, at most."""
_END = object()
"""Put after the last deliver_sm of a session."""
_INBOUND_CAPACITY = 65_536
"""deliver_sm smpp34 keeps for the reader. Past it smpp34 refuses them with ESME_RMSGQFUL,
and 1.5.0 writes that refusal with a stray octet that breaks the SMSC's framing."""


def set_nodelay(host: str, port: int) -> None:
    """Turn Nagle's algorithm off on this process's connections to host:port.

    smpp34 1.5.0 connects without TCP_NODELAY and does not expose its socket, so a window of
    small PDUs waits on the peer's delayed ACK (40 ms a round trip, measured: ~220 submits/s a
    bind at window 10). The socket is found among the process's descriptors (Linux's
    /proc/self/fd) by its peer address, and the option set on a duplicate of it (options
    belong to the socket, not the descriptor). Elsewhere, or if nothing matches, nothing is
    done.
    """
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in descriptors:
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            duplicate = os.dup(int(name))
        except (OSError, ValueError):
            continue
        try:
            sock = socket.socket(fileno=duplicate)
        except OSError:
            os.close(duplicate)
            continue
        with sock:
            try:
                if sock.type != socket.SOCK_STREAM or sock.family not in _INET:
                    continue
                peer = sock.getpeername()
                if peer[1] == port and _same_host(peer[0], host):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                continue


_INET = (socket.AF_INET, socket.AF_INET6)


def _same_host(address: str, host: str) -> bool:
    if address == host:
        return True
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return address in resolved


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
