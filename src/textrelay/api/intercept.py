"""The intercepting proxy (`serve --intercept-port`): an HTTP proxy that answers for Twilio's
hosts itself, so a Twilio client reaches textrelay through its proxy settings alone.

A `CONNECT api.twilio.com:443` (or any host under twilio.com) is answered 200, then the
connection is terminated with TLS under a certificate for that host signed by textrelay's CA,
and what the client sends over it is served by the same application, on the same HTTP
protocol (api/connections.py), as requests to the base URL. A plain-HTTP request in absolute
form (`GET http://api.twilio.com/...`) is served the same way without TLS. Every other host is
refused 403: textrelay is not an open proxy (docs/intercept.md), unless the operator turns on
`intercept_tunnel`, which relays CONNECT to other hosts as a blind TCP tunnel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

from textrelay.api.errors import error_document
from textrelay.domain import errors

log = logging.getLogger("textrelay.intercept")

HEAD_TIMEOUT_S = 10.0
HANDSHAKE_TIMEOUT_S = 10.0
MAX_HEAD = 16 * 1024
TUNNEL_CONNECT_TIMEOUT_S = 10.0
TUNNEL_CHUNK = 64 * 1024
TUNNEL_BUFFER = 1024 * 1024
"""Bytes a tunnel holds for a slow side before it stops reading from the other."""

AppProtocolFactory = Callable[[], asyncio.Protocol]
"""A new connection of the application's HTTP protocol (as uvicorn builds them)."""
TlsContexts = Callable[[str], ssl.SSLContext]
"""The server-side TLS context for a host the proxy answers for."""
Intercepted = Callable[[str], bool]
"""Whether the proxy answers for a host itself."""


class InterceptProtocol(asyncio.Protocol):
    def __init__(
        self,
        app_protocol: AppProtocolFactory,
        contexts: TlsContexts,
        intercepted: Intercepted,
        *,
        tunnel: bool = False,
    ) -> None:
        self._app_protocol = app_protocol
        self._contexts = contexts
        self._intercepted = intercepted
        self._tunnel = tunnel
        self._upstream: asyncio.StreamWriter | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._transport: asyncio.Transport | None = None
        self._head = b""
        self._deadline: asyncio.TimerHandle | None = None
        self._handed_over = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but have its methods.
        self._transport = cast(asyncio.Transport, transport)
        self._deadline = asyncio.get_running_loop().call_later(HEAD_TIMEOUT_S, self._too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        self._writable.set()  # a tunnel waiting to write to this client stops waiting
        if self._upstream is not None:
            self._upstream.close()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        if self._upstream is not None:
            self._to_upstream(data)
            return
        if self._handed_over:
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_HEAD:
                self._refuse(400, errors.InvalidParameter("The proxy request head is too long"))
            return
        self._cancel_deadline()
        line = self._head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._refuse(400, errors.InvalidParameter("The proxy request is not valid HTTP/1.1"))
            return
        method, target, _ = parts
        if method == "CONNECT":
            self._connect(target, self._head[end + 4 :])
        elif target.startswith("http://"):
            self._plain(urlsplit(target).hostname or "")
        else:
            self._refuse(
                400,
                errors.InvalidParameter(
                    "This is textrelay's intercepting proxy: send requests to it as to a proxy "
                    "(CONNECT, or an absolute http:// URL); the API itself is on the base URL"
                ),
            )

    # --- what the proxy does -------------------------------------------------------------

    def _connect(self, target: str, early: bytes) -> None:
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            self._refuse(400, errors.InvalidParameter(f"CONNECT needs host:port, not {target!r}"))
            return
        if not self._intercepted(host):
            if self._tunnel and not early:
                self._handed_over = True
                self._require_transport().pause_reading()
                asyncio.get_running_loop().create_task(self._open_tunnel(host, int(port)))
            else:
                self._refuse_host(host)
            return
        if early:  # a client that spoke before the proxy's answer: not one textrelay serves
            self._refuse(400, errors.InvalidParameter("data before the CONNECT was answered"))
            return
        transport = self._require_transport()
        self._handed_over = True
        transport.pause_reading()
        transport.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        asyncio.get_running_loop().create_task(self._terminate_tls(transport, host))

    async def _terminate_tls(self, transport: asyncio.Transport, host: str) -> None:
        app = self._app_protocol()
        try:
            context = self._contexts(host)
            secured = await asyncio.get_running_loop().start_tls(
                transport,
                app,
                context,
                server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
            )
        except (OSError, ssl.SSLError, ConnectionError, TimeoutError, ValueError) as exc:
            log.info("TLS for %s through the proxy failed: %s", host, exc)
            transport.close()
            return
        if secured is None:  # the client went away during the handshake
            return
        app.connection_made(secured)

    def _plain(self, host: str) -> None:
        if not self._intercepted(host):
            self._refuse_host(host)
            return
        # uvicorn's protocol reads absolute-form request targets as they are; the connection
        # is its from here on (later requests on it go to textrelay whatever their host).
        transport = self._require_transport()
        self._handed_over = True
        app = self._app_protocol()
        transport.set_protocol(app)
        app.connection_made(transport)
        app.data_received(self._head)

    # --- the blind tunnel (intercept_tunnel) -------------------------------------------

    async def _open_tunnel(self, host: str, port: int) -> None:
        transport = self._require_transport()
        try:
            async with asyncio.timeout(TUNNEL_CONNECT_TIMEOUT_S):
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            log.info("tunnel to %s:%d failed: %s", host, port, exc)
            transport.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            transport.close()
            return
        self._upstream = writer
        transport.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        transport.resume_reading()
        try:
            while chunk := await reader.read(TUNNEL_CHUNK):
                transport.write(chunk)
                await self._writable.wait()  # the client reads slower: its transport said so
        except (OSError, ConnectionError) as exc:
            log.info("tunnel to %s:%d ended: %s", host, port, exc)
        finally:
            writer.close()
            transport.close()

    def _to_upstream(self, data: bytes) -> None:
        upstream = self._upstream
        assert upstream is not None
        upstream.write(data)
        if upstream.transport.get_write_buffer_size() > TUNNEL_BUFFER:
            transport = self._require_transport()
            transport.pause_reading()  # until the far side has taken what it was sent

            async def resume() -> None:
                with contextlib.suppress(OSError, ConnectionError):
                    await upstream.drain()
                if not transport.is_closing():
                    transport.resume_reading()

            asyncio.get_running_loop().create_task(resume())

    # --- refusals ------------------------------------------------------------------------

    def _refuse_host(self, host: str) -> None:
        log.info("refused a proxy request for %s", host)
        self._refuse(
            403,
            errors.Forbidden(
                f"textrelay's intercepting proxy answers for twilio.com hosts only, not {host}: "
                "it is not an open proxy. Send other hosts around it (NO_PROXY), or let it "
                "relay CONNECT to them as a blind tunnel with --intercept-tunnel "
                "(TEXTRELAY_INTERCEPT_TUNNEL=true; docs/intercept.md)"
            ),
        )

    def _refuse(self, status: int, error: errors.TwilioError) -> None:
        body = error_document(error)
        reason = {400: "Bad Request", 403: "Forbidden"}.get(status, "Error")
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode("ascii")
        transport = self._require_transport()
        self._handed_over = True
        transport.write(head + body)
        transport.close()

    def _too_slow(self) -> None:
        self._deadline = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _require_transport(self) -> asyncio.Transport:
        assert self._transport is not None, "a connection has its transport"
        return self._transport
