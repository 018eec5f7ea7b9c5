"""Request ids and the access log: raw ASGI around the whole application.

Every HTTP request gets an id: the `X-Request-Id` a proxy in front gave it, when that is
short and plain (so one id follows the request through both logs), else `RQ` + 32 hex digits,
the shape of Twilio's own (shared/twilio/api-core.md §1). Every answer carries it in
`Twilio-Request-Id`, as Twilio's do, and every line logged while handling the request carries
it (services/log_context.py).

With the access log on, one line per request at info level (logger `textrelay.access`):
method, path, status, duration, bytes answered, remote address. Never the query string (the
console's sign-in link carries a token there), never a header (Authorization, cookies), never
a body: nothing a request carries can put a credential or a message body in this line.

The same wrapper counts and times every request for `/metrics` (api/metrics.py), so each
answer is watched once. Raw ASGI rather than Starlette's BaseHTTPMiddleware, which costs a
task and a stream per request.
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textrelay.api.control import PREFIX as CONTROL_PREFIX
from textrelay.api.metrics import route_label
from textrelay.domain.sids import SidType
from textrelay.services import log_context
from textrelay.services.metrics import Metrics

log = logging.getLogger("textrelay.access")

REQUEST_ID_HEADER = "Twilio-Request-Id"
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.lower().encode("latin-1")
_INCOMING_ID_HEADER = b"x-request-id"
_SANE_INCOMING_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")
"""What an incoming id may be to be kept: short, and safe to print in a line of text."""

_ACCOUNT_PATHS = ("/2010-04-01/Accounts/", f"{CONTROL_PREFIX}/Accounts/")
_ACCOUNT_SEGMENT = re.compile(rf"({SidType.ACCOUNT.value}[0-9a-fA-F]{{32}})(?:[/.]|$)")


_ids = random.Random(secrets.randbits(128))
"""Request ids need to be unique, not secret: a generator seeded once spares every request a
system call (os.urandom). Never seeded by the `seed` setting, so processes started alike
still give ids of their own."""


def new_request_id() -> str:
    return f"RQ{_ids.getrandbits(128):032x}"


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The incoming `X-Request-Id` when it is sane, else a new id."""
    for name, value in headers:
        if name == _INCOMING_ID_HEADER:
            if _SANE_INCOMING_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return new_request_id()


def account_in_path(path: str) -> str | None:
    """The account SID a path names (`/2010-04-01/Accounts/{AC…}…`, or the control API's)."""
    for prefix in _ACCOUNT_PATHS:
        if path.startswith(prefix):
            found = _ACCOUNT_SEGMENT.match(path, len(prefix))
            return found[1] if found else None
    return None


class RequestLog:
    """The ASGI application `app`, with request ids, the request counted and timed under its
    route template in `metrics`, and, if `access_log`, access lines: one wrapper watching
    each answer once for all three."""

    __slots__ = ("_access_log", "_app", "_metrics")

    def __init__(self, app: ASGIApp, *, metrics: Metrics, access_log: bool) -> None:
        self._app = app
        self._metrics = metrics
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        token = log_context.handle_request(request_id, account_in_path(scope["path"]))
        started = time.perf_counter()
        answered = _Answered()
        failed = False
        try:
            await self._app(scope, receive, _noting(send, answered, request_id))
        except BaseException:
            failed = True
            raise
        finally:
            elapsed_s = time.perf_counter() - started
            # 0: no answer began (the client left); 500: the application failed before one.
            status = answered.status or (500 if failed else 0)
            self._metrics.request(route_label(scope), scope["method"], status, elapsed_s)
            if self._access_log and log.isEnabledFor(logging.INFO):
                _log_access(scope, answered, elapsed_s * 1000, request_id)
            log_context.finished(token)


class _Answered:
    __slots__ = ("size_bytes", "status")

    def __init__(self) -> None:
        self.status: int | None = None
        """None when no answer started (the client left, or the application failed)."""
        self.size_bytes = 0


def _noting(send: Send, answered: _Answered, request_id: str) -> Send:
    """`send`, adding the request id to the answer's headers and noting its status and size."""
    header = (_REQUEST_ID_HEADER, request_id.encode("ascii"))

    async def send_noting(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), header]
            answered.status = message["status"]
        elif message["type"] == "http.response.body":
            answered.size_bytes += len(message.get("body", b""))
        await send(message)

    return send_noting


def _log_access(scope: Scope, answered: _Answered, duration_ms: float, request_id: str) -> None:
    # raw_path is the path as it came, percent-encoded (printable), without the query.
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    client = scope.get("client")
    remote = client[0] if client else None
    fields: dict[str, Any] = {
        "method": scope["method"],
        "path": path,
        "status": answered.status,
        "duration_ms": round(duration_ms, 1),
        "bytes": answered.size_bytes,
        "remote_addr": remote,
    }
    log.info(
        # The text format shows no context fields: the request id goes in the line itself.
        '%s "%s %s" %s %dB %.1fms %s',
        remote or "-",
        scope["method"],
        path,
        answered.status or "-",
        answered.size_bytes,
        duration_ms,
        request_id,
        extra=fields,
    )
