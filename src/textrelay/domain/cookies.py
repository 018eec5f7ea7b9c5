"""The cookie jar Twilio keeps for each pair of numbers (messaging-and-webhooks.md §5.1): the
cookies an app sets on an inbound webhook come back on the next one between the same two
numbers, until four idle hours pass."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from http.cookies import CookieError, SimpleCookie

IDLE_EXPIRY = timedelta(hours=4)


def merge(header: str | None, set_cookies: Iterable[str]) -> str | None:
    """The `Cookie` header to send next: `header`'s cookies updated by the answer's
    `Set-Cookie` values (a cookie set with Max-Age=0 or an empty value is dropped)."""
    jar: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            jar[name] = value
    for line in set_cookies:
        parsed: SimpleCookie = SimpleCookie()
        try:
            parsed.load(line)
        except CookieError:
            continue
        for name, morsel in parsed.items():
            if morsel.value == "" or morsel["max-age"] in ("0", "-1"):
                jar.pop(name, None)
            else:
                jar[name] = morsel.value
    return "; ".join(f"{name}={value}" for name, value in jar.items()) or None
