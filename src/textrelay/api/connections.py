"""The HTTP connection below ASGI: uvicorn's httptools protocol with read deadlines, a
connection limit, and Twilio's error shape for requests that never reach the application.

uvicorn reads a request head for as long as the client takes (its keep-alive timeout starts
only after a response), answers bytes httptools cannot parse with a plain-text 400, and its
`limit_concurrency` answers a plain-text 503. textrelay needs each to hold (issue 12 #10, #12):

- a request head (request line and headers) must arrive within `head_timeout_s` of the
  connection opening, or of the request's first byte on a kept-alive connection; its body
  within `body_timeout_s` of the head. Past either, the connection is closed without an answer
  (the client has not finished asking). The body deadline waits while the application has not
  yet read what arrived (uvicorn pauses reading then) or not yet answered `Expect:
  100-continue`, so a busy server never blames a client.
- beyond `max_connections` open connections a new one is answered 429/20429 (Twilio's "Too
  Many Requests", api-core.md §4.2) and closed;
- bytes that are not HTTP are answered 400/20001, and a method httptools does not know (`FOO`)
  405/20004, both in Twilio's JSON (api/errors.py). The 405 carries no `Allow`: the request is
  refused before routing, so no route says which methods it has.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from textrelay.api.errors import error_document
from textrelay.domain import errors

log = logging.getLogger("textrelay.api")

_METHOD_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_LONGEST_METHOD = 32
"""An unknown method longer than this is not a method: the request is malformed."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    head_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 500


def http_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """The protocol class uvicorn builds each connection with (its `http` option)."""

    class Protocol(TwilioHttpProtocol):
        _limits = limits

    return Protocol


class TwilioHttpProtocol(HttpToolsProtocol):
    _limits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None
        self._reading_head = True
        self._head = bytearray()
        """The first bytes of the request head being read, kept to tell an unknown method
        apart from bytes that are not HTTP at all."""
        self._refusing_method = False

    # --- the connection --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            log.warning("refused a connection: %d are open", len(self.connections) - 1)
            self._refuse(errors.TooManyRequests())
            return
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        self._cancel_body_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusing_method:
            self._keep_head(data)
            self._refuse_unknown_method()
            return
        if self._reading_head:
            self._keep_head(data)
            if self._head.startswith(b"CONNECT "):
                self._refuse(
                    errors.NotAProxy(
                        "This is textrelay's API, not a proxy: start textrelay with "
                        "--intercept-port PORT (TEXTRELAY_INTERCEPT_PORT) and send CONNECT "
                        "there to reach it as api.twilio.com (docs/intercept.md)"
                    )
                )
                return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserInvalidMethodError:
            self._refusing_method = True
            self._refuse_unknown_method()
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            self._refuse_malformed(exc)

    def _keep_head(self, data: bytes) -> None:
        room = _LONGEST_METHOD + 1 - len(self._head)
        if room > 0:
            self._head += data[:room]

    # --- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_deadline is None:  # a kept-alive connection's next request
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head.clear()
        self._cancel_head_deadline()
        super().on_headers_complete()
        self._body_deadline = self.loop.call_later(self._limits.body_timeout_s, self._body_too_slow)

    def on_message_complete(self) -> None:
        self._cancel_body_deadline()
        self._reading_head = True
        super().on_message_complete()

    # --- deadlines -------------------------------------------------------------------------

    def _arm_head_deadline(self) -> None:
        self._head_deadline = self.loop.call_later(self._limits.head_timeout_s, self._head_too_slow)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _cancel_body_deadline(self) -> None:
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            log.info(
                "closed a connection whose request head took over %gs", self._limits.head_timeout_s
            )
            self.transport.close()

    def _body_too_slow(self) -> None:
        self._body_deadline = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused or self.cycle.waiting_for_100_continue:
            # The application has not read what came, or not yet asked for the body: the
            # wait is textrelay's, not the client's.
            self._body_deadline = self.loop.call_later(
                self._limits.body_timeout_s, self._body_too_slow
            )
            return
        log.info(
            "closed a connection whose request body took over %gs", self._limits.body_timeout_s
        )
        self.transport.close()

    # --- answers below ASGI ----------------------------------------------------------------

    def _refuse_unknown_method(self) -> None:
        """405 once what came is a method token and a space; 400 if it cannot be one. Until
        then wait for more (the head deadline still runs)."""
        head = bytes(self._head)
        token = _METHOD_TOKEN.match(head)
        length = token.end() if token else 0
        if 0 < length <= _LONGEST_METHOD and head[length : length + 1] == b" ":
            self._refuse(errors.MethodNotAllowed())
        elif not head or length < len(head) or length > _LONGEST_METHOD:
            # Not a token and a space, or no bytes kept to judge by (a pipelined request).
            self._refuse(errors.InvalidParameter("The request is not valid HTTP: invalid method"))

    def _refuse_malformed(self, exc: httptools.HttpParserError) -> None:
        # httptools' reasons are fixed texts ("Invalid char in url path"), never request bytes.
        reason = str(exc) or "malformed request"
        self._refuse(errors.InvalidParameter(f"The request is not valid HTTP: {reason}"))

    def _refuse(self, error: errors.TwilioError) -> None:
        """Answer `error` in Twilio's JSON and close: what follows cannot be read as HTTP."""
        self._cancel_head_deadline()
        self._cancel_body_deadline()
        body = error_document(error)
        content = [STATUS_LINE[error.status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json; charset=utf-8\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
