"""The API's concurrency limit per account (docs/operations.md, "Limits").

Twilio answers a request beyond an account's concurrent-request limit (100 by default) with
429 and code 20429 at once, and its clients back off and retry; textrelay does the same, so
one tenant's burst cannot take every connection slot and worker turn from the others. The
count is per process: behind a load balancer each node allows `limit`.

A request counts for the account whose credentials it carries, once they authenticate: not
for an account named in its path or its username alone, or anyone could spend another
tenant's slots with requests that will be refused 401 (slowly, by sending their bodies
slowly).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from textrelay.api.context import basic_credentials_of
from textrelay.api.errors import render_error
from textrelay.domain import errors
from textrelay.services.accounts import AccountService
from textrelay.services.errors import StorageFailure


class AccountConcurrency:
    """At most `limit` requests of one account at once; one more is refused 429/20429.
    Requests whose credentials do not authenticate, or that carry none (the console, health
    probes), are not counted: their handlers answer them as they would."""

    __slots__ = ("_accounts", "_active", "_app", "_limit")

    def __init__(self, app: ASGIApp, accounts: AccountService, limit: int) -> None:
        self._app = app
        self._accounts = accounts
        self._limit = limit
        self._active: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        who = await self._account_of(scope)
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

    async def _account_of(self, scope: Scope) -> str | None:
        """The account the request's Basic credentials authenticate as (an API key's owner),
        from the authentication cache the handler then uses too; None if they do not."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                username, password = basic_credentials_of(value.decode("latin-1"))
                try:
                    principal = await self._accounts.authenticate(username, password)
                except (errors.TwilioError, StorageFailure):
                    return None  # the handler answers: 401, or 503 for the database
                return principal.account.sid
        return None
