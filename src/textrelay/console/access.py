"""Who may use the console, from where, and protection of its forms and its login.

Every page needs a session (issue 12, defects 1 and 7). A session begins in one of three
ways: the console link printed at start, whose per-start token (honoured only when textrelay
listens on a loopback address) signs the browser in as the main account; an account SID and
its auth token; or the configured admin password (the main account). Sessions are kept by
the database (services/console_sessions.py): the cookie holds only a random id.

Before any of that, a request is refused (403) when its `Host` is not a name this console
answers to (DNS rebinding, defect 2), or when it is one of textrelay's own webhook requests
(a webhook URL may point at the console; defect 1). Every form carries a token derived from
a per-browser cookie (double submit, HMAC-bound), checked on every POST (CSRF). Failed
logins are throttled per client address and per account (defect 8).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import math
import secrets
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from textrelay.domain.webhooks import USER_AGENT as WEBHOOK_USER_AGENT

SESSION_COOKIE = "tr_console"
CSRF_COOKIE = "tr_csrf"
LINK_PARAMETER = "token"
"""The query parameter of the console link that carries the per-start token."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Addresses that mean "every interface": not names a browser asks for.
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104
WEBHOOK_HEADERS = ("x-twilio-signature", "i-twilio-idempotency-token")
"""Headers textrelay puts on every webhook it sends (Twilio's; shared/twilio/… §4.5)."""


def refused(reason: str) -> Response:
    """A refusal before any session or CSRF cookie is looked at or set."""
    page = f"<!doctype html><title>Refused</title><h1>Refused</h1><p>{html.escape(reason)}</p>"
    return HTMLResponse(page, status_code=403)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def host_name(header: str) -> str:
    """The name in a `Host` header, without its port: `[::1]:8080` → `[::1]`."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    name, _, port = value.rpartition(":")
    name = name if name and port.isdigit() else value
    return name.rstrip(".")


@dataclass(frozen=True, slots=True)
class ConsoleAccess:
    secret: bytes
    """Signs CSRF tokens; derived from the main account's auth token, so every process of
    one deployment agrees on it."""
    local_token: str | None
    """The per-start console token of the printed link; None off loopback (there a login is
    the only way in). Each process has its own: a session it starts works on all of them."""
    allowed_hosts: frozenset[str] | None
    """The `Host` names the console answers to; None answers to any (`*`)."""
    admin_password: str | None = None

    @classmethod
    def for_server(
        cls,
        host: str,
        main_auth_token: str,
        admin_password: str | None,
        *,
        allowed_hosts: Iterable[str] = (),
        local_token: str | None = None,
    ) -> ConsoleAccess:
        secret = hashlib.sha256(f"textrelay-console:{main_auth_token}".encode()).digest()
        names = {name.strip().lower() for name in allowed_hosts if name.strip()}
        allowed: frozenset[str] | None
        if "*" in names:
            allowed = None
        else:
            configured = {host.lower()} - WILDCARD_ADDRESSES
            allowed = frozenset(names | configured | LOOPBACK_HOSTS)
        token = local_token if is_loopback(host) else None
        return cls(secret, token, allowed, admin_password)

    # --- who may ask at all ------------------------------------------------------------------

    def refusal(self, request: Request) -> str | None:
        """Why the console refuses this request outright, or None."""
        headers = request.headers
        if self.allowed_hosts is not None:
            name = host_name(headers.get("host", ""))
            if not (name in self.allowed_hosts or is_loopback(name)):
                return (
                    f"This console does not answer to the host name {name or '(none)'!r}. "
                    "An operator can add it to console_allowed_hosts."
                )
        # textrelay's own webhooks may be aimed at the console; they are never a person.
        if any(h in headers for h in WEBHOOK_HEADERS) or headers.get("user-agent", "").startswith(
            WEBHOOK_USER_AGENT.split("/")[0] + "/"
        ):
            return "The console does not answer webhook requests."
        return None

    def token_matches(self, given: str) -> bool:
        return self.local_token is not None and hmac.compare_digest(
            given.encode(), self.local_token.encode()
        )

    def password_matches(self, password: str) -> bool:
        return self.admin_password is not None and hmac.compare_digest(
            password.encode(), self.admin_password.encode()
        )

    # --- the session cookie ----------------------------------------------------------------

    @staticmethod
    def session_id(request: Request) -> str:
        return request.cookies.get(SESSION_COOKIE, "")

    @staticmethod
    def remember_session(response: Response, session_id: str, lifetime_s: int) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=lifetime_s,
            httponly=True,
            samesite="strict",
        )

    @staticmethod
    def forget_session(response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")

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


# --- login throttling ---------------------------------------------------------------------------

MAX_FAILED_LOGINS = 10
"""Failed logins one client address, or one account, may make in a window."""
LOGIN_WINDOW_S = 60.0
MAX_THROTTLE_KEYS = 10_000
"""Bounds the memory: beyond this many addresses and accounts, the oldest are forgotten."""


@dataclass(slots=True)
class _Failures:
    count: int
    window_started: float


class LoginThrottle:
    """Failed logins counted per key (a client address, an account) in a fixed window that
    starts at the key's first failure. At `max_failures` every further login for that key,
    right or wrong, is refused until the window ends. Per process: N processes behind one
    address allow N times as many attempts.

    Time is an argument (`now`, monotonic seconds), so the rule is a plain function test.
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILED_LOGINS,
        window_s: float = LOGIN_WINDOW_S,
        max_keys: int = MAX_THROTTLE_KEYS,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after_s(self, keys: Iterable[str], now: float) -> int:
        """Whole seconds until a login for all of `keys` may be tried; 0 means now."""
        wait = 0.0
        for key in keys:
            failures = self._current(key, now)
            if failures is not None and failures.count >= self.max_failures:
                wait = max(wait, failures.window_started + self.window_s - now)
        return math.ceil(wait)

    def failed(self, keys: Iterable[str], now: float) -> None:
        for key in keys:
            failures = self._current(key, now)
            if failures is None:
                self._failures[key] = _Failures(1, now)
                while len(self._failures) > self.max_keys:
                    self._failures.popitem(last=False)
            else:
                failures.count += 1
                self._failures.move_to_end(key)

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _current(self, key: str, now: float) -> _Failures | None:
        failures = self._failures.get(key)
        if failures is not None and now >= failures.window_started + self.window_s:
            del self._failures[key]
            return None
        return failures

    def __len__(self) -> int:
        return len(self._failures)
