"""Webhooks over HTTP, as Twilio sends them: signed, time-boxed, retried by the URL's policy.

Facts: shared/twilio/messaging-and-webhooks.md §4.2 (transport), §4.4 (timeouts, retries,
connection overrides), §4.5 (signature). What to send and when to retry is decided in
textrelay.domain.webhooks; this module only speaks HTTP and records every attempt.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from textrelay.domain.webhooks import (
    FORM_CONTENT_TYPE,
    HTTP_CONNECTION_FAILURE,
    HTTP_RETRIEVAL_FAILURE,
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

MAX_RESPONSE_READ_BYTES = 64 * 1024
"""How much of a receiver's answer is read; the rest is dropped with the connection."""

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


class HttpWebhookTransport:
    """Delivers WebhookRequests over one shared, bounded connection pool."""

    def __init__(self, *, max_connections: int = 100, max_keepalive_connections: int = 20) -> None:
        # Each delivery holds one connection, so a slow receiver only ties up its own; the
        # pool is shared by all receivers and bounded so a storm of them cannot exhaust
        # sockets. trust_env=False: proxies and certificates come from Settings, never from
        # the environment (STYLE.md rule 10).
        self._client = httpx.AsyncClient(
            headers=_HEADERS,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
            ),
        )

    async def close(self) -> None:
        await self._client.aclose()

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

        def elapsed_ms() -> float:
            return (loop.time() - started) * 1000

        try:
            outgoing = self._build(request, method, url, policy, budget_s)
        except httpx.InvalidURL as exc:
            # A URL that names no reachable host is a connection that cannot be made (11205);
            # retrying it cannot help, hence OTHER.
            return WebhookAttempt(
                url=url,
                method=method,
                signature="",
                status_code=None,
                response_body="",
                latency_ms=elapsed_ms(),
                error_code=HTTP_CONNECTION_FAILURE,
                error_message=f"HTTP connection failure: invalid URL: {_describe(exc)}",
                failure=FailureKind.OTHER,
            )
        called_url = _called_url(outgoing.url)
        signature = twilio_signature(
            request.auth_token, called_url, request.params if method != "GET" else ()
        )
        outgoing.headers["X-Twilio-Signature"] = signature

        # httpcore reports when the request starts going out on a connection: until then a
        # time-out is a connect failure (11205), afterwards a read failure (11200).
        connected = False

        async def trace(event: str, info: dict[str, Any]) -> None:
            nonlocal connected
            if event.endswith("send_request_headers.started"):
                connected = True

        outgoing.extensions["trace"] = trace

        status_code: int | None = None
        content_type: str | None = None
        body = b""

        def failed(code: int, kind: FailureKind, message: str) -> WebhookAttempt:
            return WebhookAttempt(
                url=called_url,
                method=method,
                signature=signature,
                status_code=status_code,
                response_body=_excerpt(body),
                latency_ms=elapsed_ms(),
                error_code=code,
                error_message=message,
                failure=kind,
                response_content_type=content_type,
            )

        try:
            # httpx's timeouts are per operation (a trickling receiver resets the read
            # timeout with every packet); this bounds the attempt as a whole by what is
            # left of the total budget (tt).
            async with asyncio.timeout(budget_s):
                response = await self._client.send(outgoing, stream=True)
                try:
                    status_code = response.status_code
                    content_type = response.headers.get("content-type")
                    try:
                        body = await _read_bounded(response)
                    except httpx.HTTPError as exc:
                        # Twilio never retries a partial response (§4.4 `rp`).
                        return failed(
                            HTTP_RETRIEVAL_FAILURE,
                            FailureKind.OTHER,
                            f"HTTP retrieval failure: partial response: {_describe(exc)}",
                        )
                finally:
                    await response.aclose()
        except TimeoutError:
            if status_code is not None:
                return failed(
                    HTTP_RETRIEVAL_FAILURE,
                    FailureKind.OTHER,
                    "HTTP retrieval failure: partial response: total timeout exceeded",
                )
            if connected:
                return failed(
                    HTTP_RETRIEVAL_FAILURE,
                    FailureKind.READ_TIMEOUT,
                    "HTTP retrieval failure: total timeout exceeded waiting for the response",
                )
            return failed(
                HTTP_CONNECTION_FAILURE,
                FailureKind.CONNECT,
                "HTTP connection failure: total timeout exceeded while connecting",
            )
        except httpx.UnsupportedProtocol as exc:
            # Not an http(s) URL (caught only when sending): unreachable, never worth a retry.
            return failed(
                HTTP_CONNECTION_FAILURE,
                FailureKind.OTHER,
                f"HTTP connection failure: {_describe(exc)}",
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Refused, DNS, TLS handshake, connect time-out; or no free connection in our
            # own pool, which from the caller's side is also "could not connect".
            return failed(
                HTTP_CONNECTION_FAILURE,
                FailureKind.CONNECT,
                f"HTTP connection failure: {_describe(exc)}",
            )
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            # A receiver that stops reading our request is as unresponsive as one that does
            # not answer: both are the `rt` failure.
            return failed(
                HTTP_RETRIEVAL_FAILURE,
                FailureKind.READ_TIMEOUT,
                f"HTTP retrieval failure: {_describe(exc)}",
            )
        except httpx.HTTPError as exc:
            # Connection reset mid-request, malformed HTTP, and anything else httpx reports.
            return failed(
                HTTP_RETRIEVAL_FAILURE,
                FailureKind.OTHER,
                f"HTTP retrieval failure: {_describe(exc)}",
            )

        assert status_code is not None
        if 200 <= status_code < 300:
            return WebhookAttempt(
                url=called_url,
                method=method,
                signature=signature,
                status_code=status_code,
                response_body=_excerpt(body),
                latency_ms=elapsed_ms(),
                response_content_type=content_type,
            )
        if 400 <= status_code < 500:
            kind = FailureKind.CLIENT_ERROR
        elif 500 <= status_code < 600:
            kind = FailureKind.SERVER_ERROR
        else:
            # 3xx: Twilio does not follow redirects; other codes are not HTTP.
            kind = FailureKind.OTHER
        message = f"HTTP retrieval failure: the receiver answered {status_code}"
        if 300 <= status_code < 400 and "location" in response.headers:
            message += f" (redirect to {response.headers['location']} not followed)"
        return failed(HTTP_RETRIEVAL_FAILURE, kind, message)

    def _build(
        self,
        request: WebhookRequest,
        method: str,
        url: str,
        policy: ConnectionPolicy,
        budget_s: float,
    ) -> httpx.Request:
        timeout = httpx.Timeout(
            connect=min(policy.connect_timeout_ms / 1000, budget_s),
            read=min(policy.read_timeout_ms / 1000, budget_s),
            write=budget_s,
            pool=budget_s,
        )
        headers = {"I-Twilio-Idempotency-Token": request.idempotency_token}
        if method == "GET":
            # Twilio sends GET webhooks' parameters in the query string, after the URL's own.
            return self._client.build_request(
                method, _with_query(url, request.params), headers=headers, timeout=timeout
            )
        headers["Content-Type"] = FORM_CONTENT_TYPE
        return self._client.build_request(
            method,
            url,
            content=urlencode(request.params).encode(),
            headers=headers,
            timeout=timeout,
        )


def _with_query(url: str, params: tuple[tuple[str, str], ...]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def _called_url(url: httpx.URL) -> str:
    """The URL as the receiver sees it (path and query exactly as sent): what Twilio signs."""
    target = url.raw_path.decode("ascii")
    return f"{url.scheme}://{url.netloc.decode('ascii')}{target}"


async def _read_bounded(response: httpx.Response) -> bytes:
    # Raw bytes: Accept-Encoding is identity, so nothing needs decoding, and aiter_raw never
    # inflates a compressed answer beyond what was read.
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_READ_BYTES:
            break
    return b"".join(chunks)[:MAX_RESPONSE_READ_BYTES]


def _excerpt(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")[:RESPONSE_EXCERPT_CHARS]


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
