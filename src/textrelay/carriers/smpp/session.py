"""One SMPP 3.4 session as an ESME, on asyncio: bind, submit_sm and its answer, deliver_sm
handed up and acknowledged once the caller has stored it, enquire_link both ways, unbind.

PDUs that carry messages (submit_sm, deliver_sm) are encoded and decoded by smpp34's codec;
the header, the bind and the bodiless PDUs are a few fixed fields (SMPP 3.4 §4, in
shared/carriers/smpp-facts.md) and are written here. The session runs on the event loop
that uses it: a burst of PDUs is one read and one loop turn, with no thread between the
socket and the code that stores what came (docs/carriers.md, "Why a session of our own").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import smpp34

log = logging.getLogger(__name__)

HEADER = struct.Struct(">IIII")
"""command_length, command_id, command_status, sequence_number."""
RESPONSE = 0x80000000
"""The bit a response's command_id adds to its request's."""
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
ALERT_NOTIFICATION = 0x00000102
"""Has no response (SMPP 3.4 §4.12)."""
BIND_COMMANDS = {"TRX": BIND_TRANSCEIVER, "TX": BIND_TRANSMITTER, "RX": BIND_RECEIVER}

ESME_ROK = 0x00
ESME_RINVCMDID = 0x03
ESME_RSYSERR = 0x08
ESME_RMSGQFUL = 0x14
ESME_RX_T_APPN = 0x64
"""ESME receiver temporary error: the SMSC is to deliver the deliver_sm again later."""

INTERFACE_VERSION = 0x34
MAX_PDU_LENGTH = 70_000
"""Larger than any PDU SMPP 3.4 allows (a 64 KB message_payload and its fields): a longer
command_length means the framing is lost."""
MAX_SEQUENCE = 0x7FFFFFFF
UNACKNOWLEDGED_LIMIT = 10_000
"""deliver_sm received and not yet acknowledged; past it the SMSC is told ESME_RMSGQFUL."""


class SessionClosed(Exception):
    """The connection ended (or never bound); the reason says how."""


class BindRefused(SessionClosed):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with command_status 0x{status:08x}")
        self.status = status


@dataclass(frozen=True, slots=True)
class SessionSettings:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str
    tls: bool
    response_timeout_s: float
    enquire_link_s: float


@dataclass(frozen=True, slots=True)
class Delivery:
    """A deliver_sm the SMSC is waiting for an answer to."""

    pdu: Any
    """smpp34.DeliverSm"""
    sequence_number: int


async def open_session(settings: SessionSettings, bind_type: str) -> EsmeSession:
    """Connect and bind (`bind_type` TRX, TX or RX); raises BindRefused when the SMSC says
    no, SessionClosed when it cannot be reached or does not answer in time."""
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context() if settings.tls else None
    try:
        async with asyncio.timeout(settings.response_timeout_s):
            _, session = await loop.create_connection(
                lambda: EsmeSession(settings),
                settings.host,
                settings.port,
                ssl=context,
                server_hostname=settings.host if context is not None else None,
            )
    except (OSError, TimeoutError) as exc:
        raise SessionClosed(f"cannot connect to {settings.host}:{settings.port}: {exc}") from exc
    try:
        await session.bind(bind_type)
    except BaseException:
        session.abort()
        raise
    return session


class EsmeSession(asyncio.Protocol):
    def __init__(self, settings: SessionSettings) -> None:
        self._settings = settings
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._sequence = 0
        self._pending: dict[int, asyncio.Future[tuple[int, int, bytes]]] = {}
        self._deliveries: list[Delivery] = []
        self._delivered = asyncio.Event()
        self._unacknowledged = 0
        self._keepalive: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        """Resolves with the reason once the connection has ended."""

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but have its methods.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Small PDUs in a window must not wait for the peer's delayed ACK.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"connection lost: {exc}" if exc else "connection closed by the SMSC"
        self._end(reason)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        position, size = 0, len(buffer)
        while size - position >= 4:
            (length,) = struct.unpack_from(">I", buffer, position)
            if length < HEADER.size or length > MAX_PDU_LENGTH:
                log.warning("SMPP framing lost (command_length %d): closing", length)
                self.abort("framing lost")
                return
            if size - position < length:
                break
            self._received(buffer[position : position + length])
            position += length
        self._buffer = buffer[position:]

    # --- what the bind does ------------------------------------------------------------------

    async def bind(self, bind_type: str) -> None:
        settings = self._settings
        body = (
            _c_string(settings.system_id)
            + _c_string(settings.password)
            + _c_string(settings.system_type)
            + bytes((INTERFACE_VERSION, 0, 0))  # interface_version, addr_ton, addr_npi
            + b"\0"  # address_range
        )
        try:
            async with asyncio.timeout(settings.response_timeout_s):
                _, status, _ = await self._request(BIND_COMMANDS[bind_type], body)
        except TimeoutError:
            raise SessionClosed("no bind response") from None
        if status != ESME_ROK:
            raise BindRefused(status)
        self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())

    async def submit_sm(
        self, destination: str, short_message: bytes, **fields: Any
    ) -> tuple[int, str | None]:
        """Send one submit_sm; its command_status and message_id. Raises SessionClosed."""
        source = fields.pop("source_addr")
        sequence = self._next_sequence()
        pdu = smpp34.SubmitSm(
            source, destination, short_message, sequence_number=sequence, **fields
        ).encode()
        command, status, body = await self._send(sequence, pdu)
        if command == GENERIC_NACK:
            return (status or ESME_RSYSERR), None
        return status, (_first_c_string(body) or None) if status == ESME_ROK else None

    async def deliveries(self, most: int) -> Sequence[Delivery]:
        """The deliver_sm received since the last call (at most `most`), once there is one;
        empty once the session has ended."""
        while not self._deliveries:
            if self.closed.done():
                return ()
            self._delivered.clear()
            await self._delivered.wait()
        taken, self._deliveries = self._deliveries[:most], self._deliveries[most:]
        return taken

    def acknowledge(self, delivery: Delivery, status: int = ESME_ROK) -> None:
        """Answer a deliver_sm: ESME_ROK once what it carried is stored, ESME_RX_T_APPN for
        the SMSC to deliver it again later."""
        self._unacknowledged -= 1
        self._write(_pdu(DELIVER_SM | RESPONSE, status, delivery.sequence_number, b"\0"))

    async def unbind(self, timeout_s: float) -> None:
        """Say goodbye and close (at once if the SMSC does not answer within `timeout_s`)."""
        if not self.closed.done():
            with contextlib.suppress(TimeoutError, SessionClosed):
                async with asyncio.timeout(timeout_s):
                    await self._request(UNBIND, b"")
        self.abort("unbound")

    def abort(self, reason: str = "closed") -> None:
        if self._transport is not None:
            self._transport.close()
        self._end(reason)

    # --- the protocol's machinery ------------------------------------------------------------

    def _received(self, pdu: bytes) -> None:
        _, command, status, sequence = HEADER.unpack_from(pdu)
        if command & RESPONSE:
            waiting = self._pending.pop(sequence, None)
            if waiting is not None and not waiting.done():
                waiting.set_result((command, status, pdu[HEADER.size :]))
            return
        if command == DELIVER_SM:
            self._deliver_sm(pdu, sequence)
        elif command == ENQUIRE_LINK:
            self._write(_pdu(ENQUIRE_LINK | RESPONSE, ESME_ROK, sequence, b""))
        elif command == UNBIND:
            self._write(_pdu(UNBIND | RESPONSE, ESME_ROK, sequence, b""))
            self.abort("unbound by the SMSC")
        elif command != ALERT_NOTIFICATION:
            log.warning("SMPP command 0x%08x not served: generic_nack", command)
            self._write(_pdu(GENERIC_NACK, ESME_RINVCMDID, sequence, b""))

    def _deliver_sm(self, pdu: bytes, sequence: int) -> None:
        try:
            decoded = smpp34.decode(pdu)
        except smpp34.SmppError as exc:
            # The header only: the rest holds the handset's text, which logs never show.
            log.warning(
                "a deliver_sm that cannot be read (%s): %d bytes, header %s",
                exc,
                len(pdu),
                pdu[:16].hex(),
            )
            self._write(_pdu(DELIVER_SM | RESPONSE, ESME_RSYSERR, sequence, b"\0"))
            return
        if self._unacknowledged >= UNACKNOWLEDGED_LIMIT:
            self._write(_pdu(DELIVER_SM | RESPONSE, ESME_RMSGQFUL, sequence, b"\0"))
            return
        self._unacknowledged += 1
        self._deliveries.append(Delivery(decoded, sequence))
        self._delivered.set()

    async def _keep_alive(self) -> None:
        """enquire_link every `enquire_link_s`; a session that does not answer is closed."""
        settings = self._settings
        while not self.closed.done():
            await asyncio.sleep(settings.enquire_link_s)
            try:
                async with asyncio.timeout(settings.response_timeout_s):
                    await self._request(ENQUIRE_LINK, b"")
            except TimeoutError:
                self.abort("no enquire_link_resp")
            except SessionClosed:
                return

    async def _request(self, command: int, body: bytes) -> tuple[int, int, bytes]:
        sequence = self._next_sequence()
        return await self._send(sequence, _pdu(command, ESME_ROK, sequence, body))

    async def _send(self, sequence: int, pdu: bytes) -> tuple[int, int, bytes]:
        if self.closed.done():
            raise SessionClosed(self.closed.result())
        answer: asyncio.Future[tuple[int, int, bytes]] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = answer
        try:
            self._write(pdu)
            return await answer
        finally:
            self._pending.pop(sequence, None)

    def _write(self, pdu: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(pdu)

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % MAX_SEQUENCE + 1
        return self._sequence

    def _end(self, reason: str) -> None:
        if self.closed.done():
            return
        self.closed.set_result(reason)
        for waiting in self._pending.values():
            if not waiting.done():
                waiting.set_exception(SessionClosed(reason))
        self._pending.clear()
        self._delivered.set()
        if self._keepalive is not None:
            self._keepalive.cancel()


def _pdu(command: int, status: int, sequence: int, body: bytes) -> bytes:
    return HEADER.pack(HEADER.size + len(body), command, status, sequence) + body


def _c_string(text: str) -> bytes:
    return text.encode("latin-1") + b"\0"


def _first_c_string(body: bytes) -> str:
    return body.split(b"\0", 1)[0].decode("latin-1")
