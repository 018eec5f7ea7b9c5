"""Webhooks as Twilio sends them: the signature, connection overrides and attempt records.

Facts: shared/twilio/messaging-and-webhooks.md §4.2 (transport), §4.4 (timeouts, retries and the
`#ct=…&rt=…` fragment), §4.5 (X-Twilio-Signature). Sans-IO: the transport lives in
textrelay.webhooks; this module decides what to send and how long to try.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qsl, urlsplit

USER_AGENT = "TwilioProxy/1.1"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
RESPONSE_EXCERPT_CHARS = 2048
"""How much of a receiver's answer an attempt record keeps."""


class FailureKind(StrEnum):
    """Why an attempt failed, in the vocabulary of the `rp` (retry policy) override."""

    CONNECT = "ct"
    READ_TIMEOUT = "rt"
    CLIENT_ERROR = "4xx"
    SERVER_ERROR = "5xx"
    OTHER = "other"
    """A redirect, a protocol violation or a partial response: never retried by Twilio."""


@dataclass(frozen=True, slots=True)
class ConnectionPolicy:
    """How long to wait and how often to retry one webhook delivery (Twilio's defaults)."""

    connect_timeout_ms: int = 5000
    read_timeout_ms: int = 15000
    total_timeout_ms: int = 15000
    retry_count: int = 1
    retry_on: frozenset[str] = frozenset({"ct"})

    def retries(self, kind: FailureKind) -> bool:
        if kind is FailureKind.OTHER:
            return False
        return "all" in self.retry_on or kind.value in self.retry_on


def url_for_logs(url: str) -> str:
    """`url` fit for a log line: scheme, host, port and path only. Credentials ride in the
    user part (`https://user:password@host/`, which Twilio supports for webhooks) and
    apps put tokens, and a GET webhook its parameters (Body among them), in the query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not a URL at all: nothing of it is shown
        return "(invalid URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


# key: (lowest, highest) in milliseconds or count, per Twilio's documented ranges.
_RANGES = {"ct": (100, 10000), "rt": (100, 15000), "tt": (100, 15000), "rc": (0, 5)}
_RETRY_POLICY_WORDS = frozenset({"4xx", "5xx", "ct", "rt", "all"})


def split_connection_overrides(url: str) -> tuple[str, ConnectionPolicy]:
    """The URL to call (its `#fragment` removed) and the policy the fragment asks for.

    Out-of-range values are clamped to Twilio's range; unknown keys (`sni`, `e`) and malformed
    values are ignored, so a typo never stops a callback.
    """
    base, _, fragment = url.partition("#")
    if not fragment:
        return base, ConnectionPolicy()
    values: dict[str, int] = {}
    retry_on: frozenset[str] | None = None
    for key, raw in parse_qsl(fragment, keep_blank_values=True):
        if key in _RANGES:
            try:
                number = int(raw)
            except ValueError:
                continue
            low, high = _RANGES[key]
            values[key] = min(max(number, low), high)
        elif key == "rp":
            words = {word.strip().lower() for word in raw.split(",")} & _RETRY_POLICY_WORDS
            if words:
                retry_on = frozenset(words)
    default = ConnectionPolicy()
    return base, ConnectionPolicy(
        connect_timeout_ms=values.get("ct", default.connect_timeout_ms),
        read_timeout_ms=values.get("rt", default.read_timeout_ms),
        total_timeout_ms=values.get("tt", default.total_timeout_ms),
        retry_count=values.get("rc", default.retry_count),
        retry_on=default.retry_on if retry_on is None else retry_on,
    )


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature: base64(HMAC-SHA1(token, URL + each name and value, sorted)).

    `url` is the exact URL called, query string included, fragment excluded. Repeated names
    contribute each of their distinct values, in sorted order (§4.5; twilio-python's
    RequestValidator counts a repeated identical pair once, so textrelay does too).
    """
    payload = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One webhook to deliver: where, what, and the token that signs it."""

    url: str
    """As configured, connection-override fragment included."""
    params: tuple[tuple[str, str], ...]
    auth_token: str
    idempotency_token: str
    """Sent as I-Twilio-Idempotency-Token; the same on every attempt of one webhook."""
    method: str = "POST"
    cookie: str | None = None
    """A `Cookie` header to send (inbound webhooks keep the app's cookies per number pair)."""


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """What happened on one HTTP attempt: enough to show it in the console and to retry."""

    url: str
    method: str
    signature: str
    status_code: int | None
    """The receiver's HTTP status; None when no answer came."""
    response_body: str
    """The first RESPONSE_EXCERPT_CHARS characters of the answer."""
    latency_ms: float
    error_code: int | None = None
    """codes.HTTP_RETRIEVAL_FAILURE or HTTP_CONNECTION_FAILURE (11200, 11205) when the attempt
    failed; None on a 2xx."""
    error_message: str | None = None
    failure: FailureKind | None = None
    response_content_type: str | None = None
    set_cookies: tuple[str, ...] = ()
    """The answer's Set-Cookie headers."""
    content: bytes = field(default=b"", repr=False, compare=False)
    """The answer as read (at most 64 kB and a byte): TwiML to run. Not stored."""

    @property
    def succeeded(self) -> bool:
        return self.error_code is None


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """Every attempt of one delivery, in order; it succeeded if the last one did."""

    attempts: tuple[WebhookAttempt, ...] = field(default_factory=tuple)

    @property
    def succeeded(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].succeeded

    @property
    def last(self) -> WebhookAttempt | None:
        return self.attempts[-1] if self.attempts else None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """What happens after a webhook delivery failed every attempt its ConnectionPolicy allowed.

    Twilio's default: nothing more (the callback is lost). `reliable` (an operator setting)
    delivers again later, with exponential backoff, up to `max_deliveries` in all.
    """

    reliable: bool = False
    max_deliveries: int = 8
    base_delay_s: float = 1.0
    max_delay_s: float = 600.0

    def delay_before_next(self, deliveries_made: int) -> float | None:
        """Seconds to wait before delivering again, or None to give up."""
        if not self.reliable or deliveries_made >= self.max_deliveries:
            return None
        delay: float = self.base_delay_s * 2.0 ** (deliveries_made - 1)
        return min(delay, self.max_delay_s)


@dataclass(frozen=True, slots=True)
class RecordedAttempt:
    """A webhook attempt as recorded: the attempt plus what it was about."""

    kind: str
    message_sid: str | None
    idempotency_token: str
    params: tuple[tuple[str, str], ...]
    started_at: datetime
    attempt: WebhookAttempt


def recorded_attempts(
    kind: str,
    message_sid: str | None,
    request: WebhookRequest,
    attempts: Iterable[WebhookAttempt],
    *,
    started_at: datetime,
) -> list[RecordedAttempt]:
    """A webhook's attempts as recorded, whatever the webhook: each starts when the one
    before it ended (its start plus its latency)."""
    recorded = []
    for attempt in attempts:
        recorded.append(
            RecordedAttempt(
                kind=kind,
                message_sid=message_sid,
                idempotency_token=request.idempotency_token,
                params=request.params,
                started_at=started_at,
                attempt=attempt,
            )
        )
        started_at += timedelta(milliseconds=attempt.latency_ms)
    return recorded
