"""Webhooks over HTTP, as Twilio sends them: signed, time-boxed, retried by the URL's policy.

Facts: shared/twilio/messaging-and-webhooks.md §4.2 (transport), §4.4 (timeouts, retries,
connection overrides), §4.5 (signature). What to send and when to retry is decided in
textrelay.domain.webhooks; this module only speaks HTTP and records every attempt.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
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

MAX_RESPONSE_READ_BYTES = 64 * 1024 + 1
"""How much of a receiver's answer is read: one byte past TwiML's 64 kB limit, so an answer
over it is seen as such (11750); the rest is dropped with the connection."""

# Below this much of the total budget a new attempt could only time out: don't start one.
_MIN_ATTEMPT_S = 0.01

_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "*/*",
    "X-Home-Region": "us1",
    # Twilio sometimes asks for gzip (§4.2); we ask for none, so the bounded read of the
    # answer is a bounded read of its text and never a decompression of an unknown size.
    "Accept-Encoding": "identity",
}


async def _headers_sent(
    _session: aiohttp.ClientSession, context: SimpleNamespace, _params: object
) -> None:
    context.trace_request_ctx.connected = True


class HttpWebhookTransport:
    """Delivers WebhookRequests over one shared, bounded connection pool (aiohttp: a tenth
    of the CPU a request costs with httpx here, docs/benchmarks.md)."""

    def __init__(self, *, max_connections: int = 100) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, on the loop that delivers (aiohttp binds a session to a loop).
        if self._session is None:
            tracing = aiohttp.TraceConfig()
            tracing.on_request_headers_sent.append(_headers_sent)
            # Each delivery holds one connection, so a slow receiver only ties up its own;
            # the pool is shared by all receivers and bounded so a storm of them cannot
            # exhaust sockets. trust_env=False: proxies come from Settings, never from the
            # environment (STYLE.md rule 10).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                headers=_HEADERS,
                auto_decompress=False,
                trust_env=False,
                trace_configs=[tracing],
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        loop = asyncio.get_running_loop()
        started = loop.time()
        target = _with_query(url, request.params) if method == "GET" else url
        signature = ""
        status_code: int | None = None
        content_type: str | None = None
        set_cookies: tuple[str, ...] = ()
        body = b""

        def elapsed_ms() -> float:
            return (loop.time() - started) * 1000

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
            if parsed.scheme not in ("http", "https") or not parsed.host:
                raise ValueError(f"not an http(s) URL: {target}")
        except ValueError as exc:
            # A URL that names no reachable host is a connection that cannot be made (11205);
            # retrying it cannot help, hence OTHER.
            return recorded(
                HTTP_CONNECTION_FAILURE,
                FailureKind.OTHER,
                f"invalid URL: {_describe(exc)}",
            )
        target = str(parsed)  # as it goes on the wire (percent-encoded): what Twilio signs
        signature = twilio_signature(
            request.auth_token, target, request.params if method != "GET" else ()
        )
        headers = {
            "I-Twilio-Idempotency-Token": request.idempotency_token,
            "X-Twilio-Signature": signature,
        }
        if request.cookie:
            headers["Cookie"] = request.cookie
        data = None
        if method != "GET":
            headers["Content-Type"] = FORM_CONTENT_TYPE
            data = urlencode(request.params).encode()
        # aiohttp's timeouts are per operation (a trickling receiver resets the read timeout
        # with every packet); asyncio.timeout bounds the attempt by what is left of the
        # total budget (tt). The trace tells a connect failure (11205) from a read one.
        progress = SimpleNamespace(connected=False)
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=min(policy.connect_timeout_ms / 1000, budget_s),
            sock_read=min(policy.read_timeout_ms / 1000, budget_s),
        )
        try:
            async with asyncio.timeout(budget_s):
                async with self._client().request(
                    method,
                    parsed,
                    data=data,
                    headers=headers,
                    allow_redirects=False,
                    timeout=timeout,
                    trace_request_ctx=progress,
                ) as response:
                    status_code = response.status
                    content_type = response.headers.get("Content-Type")
                    set_cookies = tuple(response.headers.getall("Set-Cookie", ()))
                    location = response.headers.get("Location")
                    try:
                        body = await _read_bounded(response)
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        # Twilio never retries a partial response (§4.4 `rp`).
                        return recorded(
                            HTTP_RETRIEVAL_FAILURE,
                            FailureKind.OTHER,
                            f"partial response: {_describe(exc)}",
                        )
        except aiohttp.ConnectionTimeoutError as exc:
            return recorded(
                HTTP_CONNECTION_FAILURE,
                FailureKind.CONNECT,
                f"connect timeout: {_describe(exc)}",
            )
        except (aiohttp.SocketTimeoutError, TimeoutError) as exc:
            if status_code is not None:
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
        except aiohttp.ClientConnectorError as exc:
            # Refused, DNS, TLS handshake.
            return recorded(
                HTTP_CONNECTION_FAILURE,
                FailureKind.CONNECT,
                _describe(exc),
            )
        except (aiohttp.ClientError, ValueError) as exc:
            # Connection reset mid-request, malformed HTTP, and anything else aiohttp reports.
            return recorded(
                HTTP_RETRIEVAL_FAILURE,
                FailureKind.OTHER,
                _describe(exc),
            )

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


def _with_query(url: str, params: tuple[tuple[str, str], ...]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_RESPONSE_READ_BYTES:
        chunk = await response.content.read(MAX_RESPONSE_READ_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _excerpt(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")[:RESPONSE_EXCERPT_CHARS]


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
