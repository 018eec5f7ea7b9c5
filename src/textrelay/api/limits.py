"""The API's concurrency limit per account (docs/operations.md, "Limits").

Twilio answers a request beyond an account's concurrent-request limit (100 by default) with
429 and code 20429 at once, and its clients back off and retry; textrelay does the same, so
one tenant's burst cannot take every connection slot and worker turn from the others. The
count is per process: behind a load balancer each node allows `limit`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from textrelay.api.context import basic_credentials_of
from textrelay.api.errors import render_error
from textrelay.api.request_log import account_in_path
from textrelay.domain import errors


class AccountConcurrency:
    """At most `limit` requests of one account at once; one more is refused 429/20429. The
    account is the one in the path, else the Basic username (an account or a key SID);
    requests with neither (the console, health probes) are not counted."""

    __slots__ = ("_active", "_app", "_limit")

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit
        self._active: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        who = account_in_path(scope["path"]) or _username(scope)
        if who is None:
            await self._app(scope, receive, send)
            return
        active = self._active.get(who, 0)
        if active >= self._limit:
            refusal = errors.TooManyRequests(
                f"More than {self._limit} concurrent requests for {who}: retry after a pause"
            )
            await render_error(refusal, scope["path"])(scope, receive, send)
            return
        self._active[who] = active + 1
        try:
            await self._app(scope, receive, send)
        finally:
            left = self._active[who] - 1
            if left:
                self._active[who] = left
            else:
                del self._active[who]


def _username(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            username, _password = basic_credentials_of(value.decode("latin-1"))
            return username
    return None
