"""Kept-alive HTTP/1.1 connections to webhook receivers: one request at a time on each.

A webhook is one small request of a known shape (a form POST or a GET) whose answer is read
up to a bound, so the transport needs little of a general HTTP client: a connection per
exchange from a pool kept per receiver (`scheme, host, port`), the request's bytes written in
one go, the answer parsed by httptools (llhttp, the parser uvicorn serves textrelay's own API
with). aiohttp spent ~190 µs of CPU a callback here, its request machinery most of it; this
spends ~25 µs (docs/benchmarks.md, issue 16). Redirects, cookie jars, proxies and
decompression are deliberately absent: Twilio follows no redirect and asks for no encoding.

Failures are told apart as Twilio's codes need them: `ConnectFailed` (no connection: refused,
DNS, TLS handshake, connect timeout), `ReadTimedOut` (the receiver sent nothing for the read
timeout), `BrokenAnswer` (malformed HTTP, or the connection ended mid-answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from typing import cast

import httptools

IDLE_S = 30.0
"""How long an unused connection is kept for its receiver's next webhook."""


class ConnectFailed(Exception):
    """No connection could be made (refused, DNS, TLS, connect timeout)."""


class ReadTimedOut(Exception):
    """Nothing came from the receiver for the read timeout."""


class BrokenAnswer(Exception):
    """The answer was not HTTP, or the connection ended before it was whole."""


@dataclass
class Progress:
    """How far an exchange got, for telling a connect failure from a read one when the
    caller's own deadline cuts it short."""

    connected: bool = False
    status_code: int | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    headers: tuple[tuple[str, str], ...]
    """As received, names and values decoded as Latin-1 (HTTP's own charset)."""
    body: bytes
    """At most the exchange's `max_body` bytes: the rest is not read."""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for n, v in self.headers if n.lower() == lowered), None)

    def all(self, name: str) -> tuple[str, ...]:
        lowered = name.lower()
        return tuple(v for n, v in self.headers if n.lower() == lowered)


@dataclass(frozen=True, slots=True)
class Receiver:
    scheme: str
    host: str
    port: int


class _Connection(asyncio.Protocol):
    """One connection; answers one request at a time (no pipelining)."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        """The pool's open-connection slots: this one's is given back when it closes."""
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[Answer] | None = None
        self._progress = Progress()
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._max_body = 0
        self._framed = False
        """Whether the answer says where it ends (Content-Length or chunked); else its end is
        the end of the connection."""
        self._last_data = 0.0
        self._read_timeout_s = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted
            return
        self._last_data = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BrokenAnswer(f"malformed HTTP answer: {exc}"))
        except httptools.HttpParserUpgrade:
            self._fail(BrokenAnswer("the receiver switched protocols"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        self._slots.release()
        if self._answer is None or self._answer.done():
            return
        if self._progress.status_code is not None and not self._framed:
            self._complete(keep_alive=False)  # an answer delimited by the connection's end
            return
        self._fail(BrokenAnswer("the connection ended before the answer was whole"))

    # --- httptools callbacks ------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._progress.status_code = self._parser.get_status_code()
        self._framed = any(
            name.lower() in ("content-length", "transfer-encoding") for name, _ in self._headers
        )

    def on_body(self, body: bytes) -> None:
        room = self._max_body - self._size
        if room <= 0:
            return
        piece = body[:room]
        self._body.append(piece)
        self._size += len(piece)
        if self._size >= self._max_body:
            self._complete(keep_alive=False)  # enough read: the rest goes with the connection

    def on_message_complete(self) -> None:
        self._complete(keep_alive=self._parser.should_keep_alive())

    # --- one exchange -------------------------------------------------------------------------

    def send(
        self, request: bytes, *, read_timeout_s: float, max_body: int, progress: Progress
    ) -> asyncio.Future[Answer]:
        assert self._transport is not None
        self._answer = self._loop.create_future()
        self._progress = progress
        self._headers, self._body, self._size = [], [], 0
        self._max_body, self._framed, self.reusable = max_body, False, False
        self._read_timeout_s = read_timeout_s
        self._last_data = self._loop.time()
        self._transport.write(request)
        progress.connected = True
        self._timer = self._loop.call_later(read_timeout_s, self._check_read)
        return self._answer

    def _check_read(self) -> None:
        """The read timeout counts from the last bytes received, as a socket timeout does: a
        receiver that trickles its answer is bounded by the caller's total budget instead."""
        quiet = self._loop.time() - self._last_data
        if quiet >= self._read_timeout_s:
            self._fail(ReadTimedOut(f"nothing received for {self._read_timeout_s:g} s"))
        else:
            self._timer = self._loop.call_later(self._read_timeout_s - quiet, self._check_read)

    def _complete(self, *, keep_alive: bool) -> None:
        answer = self._answer
        if answer is None or answer.done():
            return
        self._stop_timer()
        self.reusable = keep_alive and not self.closed
        status = self._progress.status_code or self._parser.get_status_code()
        answer.set_result(Answer(status, tuple(self._headers), b"".join(self._body)))

    def _fail(self, exc: Exception) -> None:
        self._stop_timer()
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)
        self.close()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        self.reusable = False
        self._stop_timer()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    @property
    def usable(self) -> bool:
        return (
            self.reusable
            and not self.closed
            and self._transport is not None
            and not (self._transport.is_closing())
        )


@dataclass
class ConnectionPool:
    """At most `max_connections` open connections, idle ones kept per receiver."""

    max_connections: int = 100
    _idle: dict[Receiver, list[_Connection]] = field(default_factory=dict)
    _slots: asyncio.Semaphore | None = None
    _next_sweep: float = 0.0
    _tls: ssl.SSLContext | None = None

    async def exchange(
        self,
        receiver: Receiver,
        request: bytes,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_body: int,
        progress: Progress,
    ) -> Answer:
        """Send `request` (its whole bytes) and read the answer, on a kept connection when
        there is one. A kept connection the receiver closed meanwhile is found out by the
        exchange failing before any answer came: it is tried once more on a new one."""
        connection = self._take_idle(receiver)
        if connection is not None:
            answer = connection.send(
                request, read_timeout_s=read_timeout_s, max_body=max_body, progress=progress
            )
            try:
                return await self._finish(receiver, connection, answer)
            except BrokenAnswer:
                if progress.status_code is not None:
                    raise
                progress.connected = False
        connection = await self._connect(receiver, connect_timeout_s)
        answer = connection.send(
            request, read_timeout_s=read_timeout_s, max_body=max_body, progress=progress
        )
        return await self._finish(receiver, connection, answer)

    async def _finish(
        self, receiver: Receiver, connection: _Connection, answer: asyncio.Future[Answer]
    ) -> Answer:
        try:
            result = await answer
        except BaseException:
            connection.close()  # cancelled or failed mid-exchange: its state is unknown
            raise
        if connection.usable:
            self._keep(receiver, connection)
        else:
            connection.close()
        return result

    def _keep(self, receiver: Receiver, connection: _Connection) -> None:
        now = asyncio.get_running_loop().time()
        connection.idle_since = now
        self._idle.setdefault(receiver, []).append(connection)
        if now >= self._next_sweep:
            self._next_sweep = now + IDLE_S
            self._sweep(oldest=now - IDLE_S)

    def _sweep(self, *, oldest: float) -> None:
        """Close the kept connections idle since before `oldest` or closed by their receiver,
        and forget the receivers left with none: a pool that served many receivers keeps
        only what is in use."""
        for receiver, idle in list(self._idle.items()):
            kept = [c for c in idle if c.usable and c.idle_since >= oldest]
            for connection in idle:
                if connection not in kept:
                    connection.close()
            if kept:
                self._idle[receiver] = kept
            else:
                del self._idle[receiver]

    def _take_idle(self, receiver: Receiver) -> _Connection | None:
        idle = self._idle.get(receiver)
        oldest = asyncio.get_running_loop().time() - IDLE_S
        while idle:
            connection = idle.pop()
            if connection.usable and connection.idle_since >= oldest:
                return connection
            connection.close()
        return None

    async def _connect(self, receiver: Receiver, timeout_s: float) -> _Connection:
        slots = self._slots
        if slots is None:
            slots = self._slots = asyncio.Semaphore(self.max_connections)
        if slots.locked():
            self._close_one_idle()  # its slot comes back as it closes
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s):
                await slots.acquire()
                try:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(slots),
                        receiver.host,
                        receiver.port,
                        ssl=self._tls_context() if receiver.scheme == "https" else None,
                    )
                except BaseException:
                    slots.release()
                    raise
        except TimeoutError:
            raise ConnectFailed(f"connect timeout after {timeout_s:g} s") from None
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        return connection

    def _close_one_idle(self) -> None:
        for idle in self._idle.values():
            if idle:
                idle.pop(0).close()
                return

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)  # let the transports report their ends
