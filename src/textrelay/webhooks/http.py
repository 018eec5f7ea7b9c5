"""Webhooks over HTTP, as Twilio sends them: signed, time-boxed, retried by the URL's policy.

Facts: shared/twilio/messaging-and-webhooks.md §4.2 (transport), §4.4 (timeouts, retries,
connection overrides), §4.5 (signature). What to send and when to retry is decided in
textrelay.domain.webhooks; this module only speaks HTTP and records every attempt.
"""

from __future__ import annotations

import asyncio
import re
import time
from base64 import b64encode
from collections.abc import Iterable
from urllib.parse import quote_plus, unquote, urlsplit, urlunsplit

from yarl import URL

from textrelay.domain.codes import HTTP_CONNECTION_FAILURE, HTTP_RETRIEVAL_FAILURE, TwilioCode
from textrelay.domain.webhooks import (
    FORM_CONTENT_TYPE,
    RESPONSE_EXCERPT_CHARS,
    USER_AGENT,
    ConnectionPolicy,
    FailureKind,
    WebhookAttempt,
    WebhookOutcome,
    WebhookRequest,
    split_connection_overrides,
    twilio_signature,
)
from textrelay.webhooks.connections import (
    BrokenAnswer,
    ConnectFailed,
    ConnectionPool,
    Progress,
    ReadTimedOut,
    Receiver,
)

MAX_RESPONSE_READ_BYTES = 64 * 1024 + 1
"""How much of a receiver's answer is read: one byte past TwiML's 64 kB limit, so an answer
over it is seen as such (11750); the rest is dropped with the connection."""

# Below this much of the total budget a new attempt could only time out: don't start one.
_MIN_ATTEMPT_S = 0.01

# Twilio sometimes asks for gzip (§4.2); we ask for none, so the bounded read of the answer is
# a bounded read of its text and never a decompression of an unknown size.
_FIXED_HEADERS = (
    f"User-Agent: {USER_AGENT}\r\nAccept: */*\r\nX-Home-Region: us1\r\n"
    "Accept-Encoding: identity\r\n"
)


class HttpWebhookTransport:
    """Delivers WebhookRequests over kept-alive connections, at most `max_connections` open
    (webhooks/connections.py): each delivery holds one connection, so a slow receiver only
    ties up its own, and a storm of receivers cannot exhaust sockets."""

    def __init__(self, *, max_connections: int = 100) -> None:
        self._pool = ConnectionPool(max_connections)

    async def close(self) -> None:
        await self._pool.close()

    async def deliver(self, request: WebhookRequest) -> WebhookOutcome:
        """Every attempt at `request`, made until one succeeds or the URL's policy gives up.

        Never raises for anything the receiver does; each failure is an attempt record with
        Twilio's error code (11205 connect, 11200 everything else).
        """
        url, policy = split_connection_overrides(request.url)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + policy.total_timeout_ms / 1000
        attempts: list[WebhookAttempt] = []
        while True:
            attempt = await self._attempt(request, url, policy, deadline - loop.time())
            attempts.append(attempt)
            if attempt.failure is None or not policy.retries(attempt.failure):
                break
            # retries made so far = len(attempts) - 1; Twilio retries at once, no back-off.
            if len(attempts) > policy.retry_count:
                break
            if deadline - loop.time() < _MIN_ATTEMPT_S:
                break
        return WebhookOutcome(attempts=tuple(attempts))

    async def _attempt(
        self, request: WebhookRequest, url: str, policy: ConnectionPolicy, budget_s: float
    ) -> WebhookAttempt:
        method = request.method.upper()
        # perf_counter, not loop.time(): uvloop's clock moves in whole milliseconds, once a
        # loop turn, so a fast answer on it would take 0 ms.
        started = time.perf_counter()
        target = _with_query(url, request.params) if method == "GET" else url
        signature = ""
        status_code: int | None = None
        content_type: str | None = None
        set_cookies: tuple[str, ...] = ()
        body = b""

        def elapsed_ms() -> float:
            return (time.perf_counter() - started) * 1000

        def recorded(
            code: TwilioCode | None = None, kind: FailureKind | None = None, detail: str = ""
        ) -> WebhookAttempt:
            """The attempt as it stands: a success, or a failure with its code, the code's
            message and `detail`."""
            return WebhookAttempt(
                url=target,
                method=method,
                signature=signature,
                status_code=status_code,
                response_body=_excerpt(body),
                content=body,
                set_cookies=set_cookies,
                latency_ms=elapsed_ms(),
                error_code=code.code if code else None,
                error_message=f"{code.message}: {detail}" if code else None,
                failure=kind,
                response_content_type=content_type,
            )

        try:
            parsed = URL(target)
            if parsed.scheme not in ("http", "https") or not parsed.raw_host:
                raise ValueError(f"not an http(s) URL: {target}")
            target = str(parsed)  # as it goes on the wire (percent-encoded): what Twilio signs
            signature = twilio_signature(
                request.auth_token, target, request.params if method != "GET" else ()
            )
            wire = _request_bytes(method, parsed, request, signature)
        except ValueError as exc:
            # A URL that names no reachable host is a connection that cannot be made (11205);
            # retrying it cannot help, hence OTHER.
            return recorded(
                HTTP_CONNECTION_FAILURE,
                FailureKind.OTHER,
                f"invalid URL: {_describe(exc)}",
            )
        # The read timeout counts from the last bytes received (a trickling receiver resets
        # it); asyncio.timeout bounds the attempt by what is left of the total budget (tt).
        # Progress tells a connect failure (11205) from a read one when the budget ends it.
        progress = Progress()
        try:
            async with asyncio.timeout(budget_s):
                answer = await self._pool.exchange(
                    Receiver(parsed.scheme, parsed.raw_host or "", parsed.port or 80),
                    wire,
                    connect_timeout_s=min(policy.connect_timeout_ms / 1000, budget_s),
                    read_timeout_s=min(policy.read_timeout_ms / 1000, budget_s),
                    max_body=MAX_RESPONSE_READ_BYTES,
                    progress=progress,
                )
        except ConnectFailed as exc:
            return recorded(HTTP_CONNECTION_FAILURE, FailureKind.CONNECT, _describe(exc))
        except (ReadTimedOut, TimeoutError) as exc:
            status_code = progress.status_code
            if status_code is not None:
                # Twilio never retries a partial response (§4.4 `rp`).
                return recorded(
                    HTTP_RETRIEVAL_FAILURE,
                    FailureKind.OTHER,
                    "partial response: timeout exceeded",
                )
            if progress.connected:
                return recorded(
                    HTTP_RETRIEVAL_FAILURE,
                    FailureKind.READ_TIMEOUT,
                    f"timed out waiting for the response {_describe(exc)}",
                )
            return recorded(
                HTTP_CONNECTION_FAILURE,
                FailureKind.CONNECT,
                "timeout exceeded while connecting",
            )
        except BrokenAnswer as exc:
            # Connection reset mid-answer, malformed HTTP: never retried (§4.4 `rp`).
            status_code = progress.status_code
            detail = _describe(exc)
            if status_code is not None:
                detail = f"partial response: {detail}"
            return recorded(HTTP_RETRIEVAL_FAILURE, FailureKind.OTHER, detail)

        status_code = answer.status_code
        content_type = answer.header("Content-Type")
        set_cookies = answer.all("Set-Cookie")
        location = answer.header("Location")
        body = answer.body
        if 200 <= status_code < 300:
            return recorded()
        if 400 <= status_code < 500:
            kind = FailureKind.CLIENT_ERROR
        elif 500 <= status_code < 600:
            kind = FailureKind.SERVER_ERROR
        else:
            # 3xx: Twilio does not follow redirects; other codes are not HTTP.
            kind = FailureKind.OTHER
        detail = f"the receiver answered {status_code}"
        if 300 <= status_code < 400 and location:
            detail += f" (redirect to {location} not followed)"
        return recorded(HTTP_RETRIEVAL_FAILURE, kind, detail)


def _request_bytes(method: str, url: URL, request: WebhookRequest, signature: str) -> bytes:
    """The whole request as it goes on the wire. Credentials in the URL become Basic
    authentication, as Twilio sends them."""
    for value in (request.idempotency_token, request.cookie or "", url.raw_user or ""):
        if "\r" in value or "\n" in value:
            raise ValueError("a header would carry a line break")
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    if not url.is_default_port():
        host = f"{host}:{url.port}"
    head = (
        f"{method} {url.raw_path_qs or '/'} HTTP/1.1\r\nHost: {host}\r\n{_FIXED_HEADERS}"
        f"I-Twilio-Idempotency-Token: {request.idempotency_token}\r\n"
        f"X-Twilio-Signature: {signature}\r\n"
    )
    if url.raw_user is not None:
        credentials = f"{unquote(url.raw_user)}:{unquote(url.raw_password or '')}"
        head += f"Authorization: Basic {b64encode(credentials.encode()).decode()}\r\n"
    if request.cookie:
        head += f"Cookie: {request.cookie}\r\n"
    body = b""
    if method != "GET":
        body = form_body(request.params)
        head += f"Content-Type: {FORM_CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


_LEFT_AS_IS = re.compile(r"[A-Za-z0-9_.~-]*")
"""What form encoding (quote_plus) leaves unchanged: SIDs, statuses, dates' digits."""


def form_body(params: Iterable[tuple[str, str]]) -> bytes:
    """`params` as an application/x-www-form-urlencoded body: urlencode's bytes, without its
    cost for the names and most values of a callback, which need no escaping."""
    fits = _LEFT_AS_IS.fullmatch
    return "&".join(
        f"{name if fits(name) else quote_plus(name)}={value if fits(value) else quote_plus(value)}"
        for name, value in params
    ).encode()


def _with_query(url: str, params: tuple[tuple[str, str], ...]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    extra = form_body(params).decode()
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def _excerpt(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")[:RESPONSE_EXCERPT_CHARS]


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
