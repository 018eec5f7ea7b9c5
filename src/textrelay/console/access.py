"""Who may use the console, and protection of its forms.

On a loopback address the console is open and acts as the main account. Bound to any other
address it asks for a login: an account's SID and auth token, or the configured admin
password. The session is a signed cookie; every form carries a token derived from a
per-browser cookie (double submit, HMAC-bound), checked on every POST (CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "tr_console"
CSRF_COOKIE = "tr_csrf"
SESSION_LIFETIME_S = 12 * 3600
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


@dataclass(frozen=True, slots=True)
class ConsoleAccess:
    open_without_login: bool
    secret: bytes
    """Signs sessions and CSRF tokens; derived from the main account's auth token, so every
    process of one deployment agrees on it."""
    admin_password: str | None = None

    @classmethod
    def for_server(
        cls, host: str, main_auth_token: str, admin_password: str | None
    ) -> ConsoleAccess:
        secret = hashlib.sha256(f"textrelay-console:{main_auth_token}".encode()).digest()
        return cls(is_loopback(host), secret, admin_password)

    # --- sessions ----------------------------------------------------------------------------

    def session_account(self, request: Request) -> str | None:
        """The account SID of a valid session cookie, or None."""
        value = request.cookies.get(SESSION_COOKIE, "")
        account_sid, _, rest = value.partition("|")
        expires, _, signature = rest.partition("|")
        if not account_sid or not expires.isdigit():
            return None
        if not hmac.compare_digest(signature, self._sign(f"{account_sid}|{expires}")):
            return None
        if int(expires) < time.time():
            return None
        return account_sid

    def start_session(self, response: Response, account_sid: str) -> None:
        expires = int(time.time()) + SESSION_LIFETIME_S
        payload = f"{account_sid}|{expires}"
        response.set_cookie(
            SESSION_COOKIE,
            f"{payload}|{self._sign(payload)}",
            max_age=SESSION_LIFETIME_S,
            httponly=True,
            samesite="strict",
        )

    def end_session(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE)

    def password_matches(self, password: str) -> bool:
        return self.admin_password is not None and hmac.compare_digest(
            password.encode(), self.admin_password.encode()
        )

    # --- CSRF ----------------------------------------------------------------------------------

    def csrf_seed(self, request: Request) -> tuple[str, bool]:
        """The browser's CSRF cookie value, and whether it is new (to be set)."""
        seed = request.cookies.get(CSRF_COOKIE)
        if seed and len(seed) == 32:
            return seed, False
        return secrets.token_hex(16), True

    def csrf_token(self, seed: str) -> str:
        return self._sign(f"csrf:{seed}")

    def csrf_valid(self, request: Request, token: str | None) -> bool:
        seed = request.cookies.get(CSRF_COOKIE)
        if not seed or not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(seed))

    @staticmethod
    def remember_csrf_seed(response: Response, seed: str) -> None:
        response.set_cookie(CSRF_COOKIE, seed, httponly=True, samesite="strict")

    def _sign(self, payload: str) -> str:
        return hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
