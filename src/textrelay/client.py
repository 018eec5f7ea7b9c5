"""`textrelay.client(...)`: an official twilio `Client` whose every request goes to textrelay.

It rewrites scheme and host on each request (shared/twilio/api-core.md §7.4 B), so it reaches
every Twilio domain at once and is immune to TWILIO_REGION / TWILIO_EDGE. Needs the `twilio`
package (`pip install textrelay[client]`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from twilio.rest import Client


def client(
    base_url: str,
    account_sid: str,
    auth_token: str,
    *,
    username: str | None = None,
    **client_kwargs: Any,
) -> Client:
    """A twilio Client for `account_sid` at `base_url` (e.g. `http://127.0.0.1:8080`).

    Pass `username`=an API key SID and `auth_token`=its secret to authenticate with a key.
    """
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    target = urlsplit(base_url)

    class TextrelayHttpClient(TwilioHttpClient):  # type: ignore[misc]
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            parts = urlsplit(url)
            local = urlunsplit((target.scheme, target.netloc, parts.path, parts.query, ""))
            return super().request(method, local, *args, **kwargs)

    return Client(
        username or account_sid,
        auth_token,
        account_sid=account_sid,
        http_client=TextrelayHttpClient(),
        **client_kwargs,
    )
