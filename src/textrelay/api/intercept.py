"""The intercepting proxy (`serve --intercept-port`): an HTTP proxy that answers for Twilio's
hosts itself, so a Twilio client reaches textrelay through its proxy settings alone.

A `CONNECT api.twilio.com:443` (or any host under twilio.com) is answered 200, then the
connection is terminated with TLS under a certificate for that host signed by textrelay's CA,
and what the client sends over it is served by the same application, on the same HTTP
protocol (api/connections.py), as requests to the base URL. A plain-HTTP request in absolute
form (`GET http://api.twilio.com/...`) is served the same way without TLS. Every other host is
refused 403: textrelay is never an open proxy (docs/intercept.md).
"""

from __future__ import annotations

import asyncio
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

AppProtocolFactory = Callable[[], asyncio.Protocol]
"""A new connection of the application's HTTP protocol (as uvicorn builds them)."""
TlsContexts = Callable[[str], ssl.SSLContext]
"""The server-side TLS context for a host the proxy answers for."""
Intercepted = Callable[[str], bool]
"""Whether the proxy answers for a host itself."""


class InterceptProtocol(asyncio.Protocol):
    def __init__(
        self, app_protocol: AppProtocolFactory, contexts: TlsContexts, intercepted: Intercepted
    ) -> None:
        self._app_protocol = app_protocol
        self._contexts = contexts
        self._intercepted = intercepted
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

    def data_received(self, data: bytes) -> None:
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

    # --- refusals ------------------------------------------------------------------------

    def _refuse_host(self, host: str) -> None:
        log.info("refused a proxy request for %s", host)
        self._refuse(
            403,
            errors.Forbidden(
                f"textrelay's intercepting proxy answers for twilio.com hosts only, not {host}: "
                "it is not an open proxy. Send other hosts around it (NO_PROXY), as "
                "`textrelay env` does for loopback (docs/intercept.md)"
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
