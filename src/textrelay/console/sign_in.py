"""The console's login and logout forms: sign in with an account's SID and auth token, or the
admin password (the main account), throttled per client address and per account (issue 12,
defect 8); sign out everywhere (the session is deleted from the database)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from textrelay.console.access import ConsoleAccess, LoginThrottle, refused
from textrelay.console.rendering import ConsoleServices, form_text
from textrelay.domain import errors
from textrelay.domain.accounts import Account

Render = Callable[..., Awaitable[Response]]
"""Console._page: a template rendered with the CSRF token, as a response."""
StartSession = Callable[[Response, Account], Awaitable[None]]


class SignIn:
    def __init__(
        self,
        services: ConsoleServices,
        access: ConsoleAccess,
        main_account: Account,
        render: Render,
        start_session: StartSession,
    ) -> None:
        self._services = services
        self._access = access
        self._main = main_account
        self._page = render
        self._start_session = start_session
        self._throttle = LoginThrottle()

    async def login(self, request: Request) -> Response:
        refusal = self._access.refusal(request)
        if refusal is not None:
            return refused(refusal)
        if request.method == "GET":
            return await self._login_page(request)
        async with request.form() as form:
            fields = {
                name: form_text(form, name) for name in ("csrf", "username", "password", "next")
            }
        if not self._access.csrf_valid(request, fields["csrf"]):
            return await self._login_page(request, 403, failed=True)
        username, password = fields["username"].strip(), fields["password"]
        # Throttled per client address and per account named (the admin password's is the
        # main account), before the credentials are looked at: at the limit, even the right
        # ones wait (issue 12, defect 8).
        address = request.client.host if request.client else ""
        keys = [f"address:{address}", f"account:{(username or self._main.sid).lower()}"]
        wait_s = self._throttle.retry_after_s(keys, time.monotonic())
        if wait_s:
            return await self._login_page(request, 429, retry_after_s=wait_s)
        account = await self._credentials_account(username, password)
        if account is None:
            self._throttle.failed(keys, time.monotonic())
            return await self._login_page(request, 401, failed=True)
        self._throttle.succeeded(keys[1:])
        target = fields["next"] or "/console/"
        response = RedirectResponse(target if target.startswith("/console") else "/console/", 303)
        await self._start_session(response, account)
        return response

    async def _credentials_account(self, username: str, password: str) -> Account | None:
        """The account a login form's credentials sign in as: an account SID with its auth
        token, or no SID and the admin password (the main account)."""
        if not username:
            if not self._access.password_matches(password):
                return None
            return await self._services.accounts.acting_as(self._main.sid, None)
        try:
            principal = await self._services.accounts.authenticate(username, password)
        except errors.TwilioError:
            return None
        return None if principal.uses_key else principal.account

    async def _login_page(
        self, request: Request, status: int = 200, *, failed: bool = False, retry_after_s: int = 0
    ) -> Response:
        response = await self._page(
            request,
            "login.html",
            status,
            account=None,
            failed=failed,
            retry_after_s=retry_after_s,
            local_link=self._access.local_token is not None,
            password_set=self._access.admin_password is not None,
        )
        if retry_after_s:
            response.headers["Retry-After"] = str(retry_after_s)
        return response

    async def logout(self, request: Request) -> Response:
        async with request.form() as form:
            token = form_text(form, "csrf")
        response = RedirectResponse("/console/login", status_code=303)
        if self._access.refusal(request) is None and self._access.csrf_valid(request, token):
            # Deleted from the database: the cookie, replayed, no longer signs anyone in.
            await self._services.sessions.end(self._access.session_id(request))
            self._access.forget_session(response)
        return response
