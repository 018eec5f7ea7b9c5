"""The webhook transport against real receivers on 127.0.0.1 (messaging-and-webhooks.md §4.2-4.5).

A Starlette app on uvicorn in a thread plays the well-behaved (and slow, failing, redirecting)
receiver; raw `asyncio.start_server` sockets on the test's own loop play the ones that break
HTTP. Every delivery's signature is checked with the official RequestValidator.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import pytest
import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from tests.waiting import eventually, eventually_async
from textrelay.domain.codes import HTTP_CONNECTION_FAILURE, HTTP_RETRIEVAL_FAILURE
from textrelay.domain.webhooks import (
    FORM_CONTENT_TYPE,
    RESPONSE_EXCERPT_CHARS,
    FailureKind,
    WebhookOutcome,
    WebhookRequest,
)
from textrelay.webhooks import connections
from textrelay.webhooks.http import HttpWebhookTransport

T = TypeVar("T")

TOKEN = "12345678901234567890123456789012"
PARAMS = (
    ("MessageSid", "SM" + "a" * 32),
    ("MessageStatus", "delivered"),
    ("Body", "héllo wörld & more=1 +😀"),
    ("MediaUrl", "https://example.com/b.png"),
    ("MediaUrl", "https://example.com/a.png"),
    ("To", "+14155550100"),
)
_HANG_LIMIT_S = 5.0
"""The longest a hanging receiver waits for the client to give up, so no handler outlives a test."""


@dataclass(frozen=True)
class Received:
    method: str
    url: str
    """As the receiver reconstructs it (Host header, path, query): what a validator checks."""
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode(), keep_blank_values=True, strict_parsing=False)

    def valid_for(self, token: str, params: list[tuple[str, str]]) -> bool:
        validator = RequestValidator(token)
        valid: bool = validator.validate(
            self.url, ImmutableMultiDict(params), self.headers["x-twilio-signature"]
        )
        return valid


class Receiver:
    """A Starlette app on uvicorn in a thread, recording every request it gets."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    async def _record(self, request: Request) -> None:
        self.requests.append(
            Received(
                method=request.method,
                url=str(request.url),
                headers={name.lower(): value for name, value in request.headers.items()},
                body=await request.body(),
            )
        )

    async def echo(self, request: Request) -> Response:
        await self._record(request)
        return PlainTextResponse("ok")

    async def status(self, request: Request) -> Response:
        await self._record(request)
        code: int = request.path_params["code"]
        headers = {"Location": "/echo"} if 300 <= code < 400 else None
        return PlainTextResponse(f"status {code} body", status_code=code, headers=headers)

    async def hang(self, request: Request) -> Response:
        await self._record(request)
        # Answer nothing until the client gives up (the body is read, so the next ASGI message
        # is the disconnect); then end, so shutdown never waits on us.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(request.receive(), _HANG_LIMIT_S)
        return PlainTextResponse("too late")

    async def slow(self, request: Request) -> Response:
        await self._record(request)
        await asyncio.sleep(1.0)
        return PlainTextResponse("slow ok")

    async def huge(self, request: Request) -> Response:
        await self._record(request)
        return PlainTextResponse("é" * 1_000_000)

    def app(self) -> Starlette:
        methods = ["GET", "POST"]
        return Starlette(
            routes=[
                Route("/echo", self.echo, methods=methods),
                Route("/status/{code:int}", self.status, methods=methods),
                Route("/hang", self.hang, methods=methods),
                Route("/slow", self.slow, methods=methods),
                Route("/huge", self.huge, methods=methods),
            ]
        )

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name="webhook-receiver",
            daemon=True,
        )
        self._thread.start()
        thread = self._thread
        eventually(
            lambda: server.started or not thread.is_alive(),
            interval_s=0.005,
            what="the receiver did not start in time",
        )
        assert server.started, "the receiver did not start"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def paths(self) -> list[str]:
        return [r.url.removeprefix(self.base_url) for r in self.requests]


@pytest.fixture(scope="module")
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def receiver(running_receiver: Receiver) -> Receiver:
    """The module's receiver, its record of requests emptied for this test."""
    running_receiver.requests.clear()
    return running_receiver


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A URL on a port that is bound (so nobody else takes it) but not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    finally:
        sock.close()


def webhook(url: str, *, method: str = "POST", token: str = TOKEN) -> WebhookRequest:
    return WebhookRequest(
        url=url,
        params=PARAMS,
        auth_token=token,
        idempotency_token=str(uuid.uuid4()),
        method=method,
    )


_run_loop: Callable[[Coroutine[Any, Any, Any]], Any] = asyncio.run


@pytest.fixture(autouse=True, params=["asyncio", "uvloop"])
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test on asyncio's loop (the in-process server's) and on uvloop (`textrelay
    serve`'s): their transports differ (uvloop's is no asyncio.Transport)."""
    global _run_loop
    _run_loop = uvloop.run if request.param == "uvloop" else asyncio.run
    try:
        yield
    finally:
        _run_loop = asyncio.run


def with_transport(use: Callable[[HttpWebhookTransport], Awaitable[T]]) -> T:
    async def run() -> T:
        transport = HttpWebhookTransport()
        try:
            return await use(transport)
        finally:
            await transport.close()

    result: T = _run_loop(run())
    return result


def deliver(request: WebhookRequest) -> tuple[WebhookOutcome, float]:
    """The outcome and how many seconds the whole delivery took."""
    started = time.monotonic()
    outcome = with_transport(lambda transport: transport.deliver(request))
    return outcome, time.monotonic() - started


# --- what arrives -------------------------------------------------------------------------


def test_a_post_arrives_with_twilios_headers_params_and_a_valid_signature(
    receiver: Receiver,
) -> None:
    request = webhook(f"{receiver.base_url}/echo?foo=1&bar=2#rc=2&ct=500")

    outcome, _ = deliver(request)

    [got] = receiver.requests
    assert got.method == "POST"
    assert got.url == f"{receiver.base_url}/echo?foo=1&bar=2"
    assert got.form == list(PARAMS)
    assert got.headers["content-type"] == FORM_CONTENT_TYPE
    assert got.headers["user-agent"] == "TwilioProxy/1.1"
    assert got.headers["accept"] == "*/*"
    assert got.headers["x-home-region"] == "us1"
    assert got.headers["i-twilio-idempotency-token"] == request.idempotency_token
    assert got.valid_for(TOKEN, list(PARAMS))
    assert not got.valid_for("another token", list(PARAMS))
    assert not got.valid_for(TOKEN, list(PARAMS[:-1]))

    assert outcome.succeeded
    [attempt] = outcome.attempts
    assert attempt.url == got.url
    assert attempt.method == "POST"
    assert attempt.signature == got.headers["x-twilio-signature"]
    assert attempt.status_code == 200
    assert attempt.response_body == "ok"
    assert attempt.response_content_type is not None
    assert attempt.response_content_type.startswith("text/plain")
    assert attempt.error_code is None
    assert attempt.failure is None
    assert attempt.latency_ms > 0


def test_the_fragment_is_never_sent_nor_signed(receiver: Receiver) -> None:
    deliver(webhook(f"{receiver.base_url}/echo#rc=2&ct=500"))

    [got] = receiver.requests
    assert got.url == f"{receiver.base_url}/echo"
    assert got.valid_for(TOKEN, list(PARAMS))


def test_a_get_carries_the_params_in_the_query_and_signs_the_url_alone(
    receiver: Receiver,
) -> None:
    request = webhook(f"{receiver.base_url}/echo?foo=1#rt=1000", method="GET")

    outcome, _ = deliver(request)

    [got] = receiver.requests
    assert got.method == "GET"
    assert got.body == b""
    assert "content-type" not in got.headers
    query = got.url.partition("?")[2]
    assert parse_qsl(query, keep_blank_values=True) == [("foo", "1"), *PARAMS]
    assert got.headers["i-twilio-idempotency-token"] == request.idempotency_token
    assert got.valid_for(TOKEN, [])
    assert outcome.succeeded
    assert outcome.attempts[0].url == got.url
    assert outcome.attempts[0].method == "GET"


def test_a_lowercase_get_is_a_get(receiver: Receiver) -> None:
    deliver(webhook(f"{receiver.base_url}/echo", method="get"))

    [got] = receiver.requests
    assert got.method == "GET"
    assert got.valid_for(TOKEN, [])


# --- status codes and retries -------------------------------------------------------------


def test_a_500_is_one_failed_attempt_by_default(receiver: Receiver) -> None:
    outcome, _ = deliver(webhook(f"{receiver.base_url}/status/500"))

    assert not outcome.succeeded
    [attempt] = outcome.attempts
    assert attempt.status_code == 500
    assert attempt.error_code == HTTP_RETRIEVAL_FAILURE.code == 11200
    assert attempt.failure is FailureKind.SERVER_ERROR
    assert attempt.response_body == "status 500 body"
    assert attempt.error_message is not None
    assert "500" in attempt.error_message
    assert len(receiver.requests) == 1


def test_a_5xx_retry_policy_makes_rc_retries_with_one_idempotency_token(
    receiver: Receiver,
) -> None:
    request = webhook(f"{receiver.base_url}/status/503#rp=5xx&rc=2")

    outcome, _ = deliver(request)

    assert [a.status_code for a in outcome.attempts] == [503, 503, 503]
    assert {a.failure for a in outcome.attempts} == {FailureKind.SERVER_ERROR}
    assert len(receiver.requests) == 3
    tokens = {r.headers["i-twilio-idempotency-token"] for r in receiver.requests}
    assert tokens == {request.idempotency_token}
    assert all(r.valid_for(TOKEN, list(PARAMS)) for r in receiver.requests)


def test_a_4xx_is_retried_only_when_the_policy_says_so(receiver: Receiver) -> None:
    default, _ = deliver(webhook(f"{receiver.base_url}/status/404"))
    retried, _ = deliver(webhook(f"{receiver.base_url}/status/404#rp=4xx"))

    assert [a.failure for a in default.attempts] == [FailureKind.CLIENT_ERROR]
    assert [a.status_code for a in retried.attempts] == [404, 404]
    assert retried.attempts[0].error_code == HTTP_RETRIEVAL_FAILURE.code


def test_a_retry_that_succeeds_ends_the_delivery(receiver: Receiver) -> None:
    outcome, _ = deliver(webhook(f"{receiver.base_url}/echo#rp=all&rc=5"))

    assert len(outcome.attempts) == 1
    assert outcome.succeeded


def test_a_redirect_is_a_failure_and_is_not_followed(receiver: Receiver) -> None:
    outcome, _ = deliver(webhook(f"{receiver.base_url}/status/302#rp=all&rc=3"))

    [attempt] = outcome.attempts  # OTHER is never retried, whatever rp says
    assert attempt.status_code == 302
    assert attempt.error_code == HTTP_RETRIEVAL_FAILURE.code
    assert attempt.failure is FailureKind.OTHER
    assert receiver.paths() == ["/status/302"]


# --- connecting ---------------------------------------------------------------------------


def test_a_refused_connection_is_tried_twice_by_default(refused_url: str) -> None:
    outcome, elapsed_s = deliver(webhook(refused_url))

    assert len(outcome.attempts) == 2
    for attempt in outcome.attempts:
        assert attempt.error_code == HTTP_CONNECTION_FAILURE.code == 11205
        assert attempt.failure is FailureKind.CONNECT
        assert attempt.status_code is None
        assert attempt.response_body == ""
        assert attempt.url == refused_url
        assert attempt.signature
    assert elapsed_s < 2


def test_rc_0_means_no_retry(refused_url: str) -> None:
    outcome, _ = deliver(webhook(f"{refused_url}#rc=0"))

    assert len(outcome.attempts) == 1


def test_an_unresolvable_host_is_a_connection_failure() -> None:
    # tt bounds the test even where name resolution hangs instead of failing.
    outcome, elapsed_s = deliver(webhook("http://no-such-host.invalid/hook#tt=1000&rc=0"))

    [attempt] = outcome.attempts
    assert attempt.error_code == HTTP_CONNECTION_FAILURE.code
    assert attempt.failure is FailureKind.CONNECT
    assert elapsed_s < 2


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "not a url", "http://[::1/hook"])
def test_a_url_that_cannot_be_called_is_one_failed_attempt(url: str) -> None:
    outcome, _ = deliver(webhook(url))

    [attempt] = outcome.attempts
    assert attempt.error_code == HTTP_CONNECTION_FAILURE.code
    assert attempt.failure is FailureKind.OTHER
    assert attempt.status_code is None


# --- timeouts -----------------------------------------------------------------------------


def test_a_receiver_that_hangs_past_rt_is_a_read_timeout(receiver: Receiver) -> None:
    outcome, elapsed_s = deliver(webhook(f"{receiver.base_url}/hang#rt=300"))

    [attempt] = outcome.attempts  # rt failures are not retried by default
    assert attempt.error_code == HTTP_RETRIEVAL_FAILURE.code
    assert attempt.failure is FailureKind.READ_TIMEOUT
    assert attempt.status_code is None
    assert 300 <= attempt.latency_ms < 800
    assert elapsed_s < 0.9


def test_the_total_budget_bounds_all_attempts(receiver: Receiver) -> None:
    outcome, elapsed_s = deliver(webhook(f"{receiver.base_url}/hang#tt=500&rc=5&rp=all"))

    assert outcome.attempts
    assert not outcome.succeeded
    assert {a.failure for a in outcome.attempts} == {FailureKind.READ_TIMEOUT}
    assert sum(a.latency_ms for a in outcome.attempts) < 650
    assert elapsed_s < 0.9


def test_the_last_attempt_gets_only_what_is_left_of_the_budget(receiver: Receiver) -> None:
    outcome, elapsed_s = deliver(webhook(f"{receiver.base_url}/hang#tt=500&rt=200&rc=5&rp=rt"))

    # 200 ms + 200 ms + what is left of 500 ms.
    assert len(outcome.attempts) == 3
    assert all(a.failure is FailureKind.READ_TIMEOUT for a in outcome.attempts)
    assert outcome.attempts[-1].latency_ms < 190
    assert len(receiver.requests) == 3
    assert elapsed_s < 0.9


# --- the answer ---------------------------------------------------------------------------


def test_a_huge_answer_is_truncated(receiver: Receiver) -> None:
    outcome, elapsed_s = deliver(webhook(f"{receiver.base_url}/huge"))

    [attempt] = outcome.attempts
    assert attempt.succeeded
    assert attempt.response_body == "é" * RESPONSE_EXCERPT_CHARS
    assert elapsed_s < 2


def test_an_answer_that_is_not_utf8_is_recorded_with_replacements() -> None:
    async def use(transport: HttpWebhookTransport) -> WebhookOutcome:
        async with raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok\xff\xfe") as url:
            return await transport.deliver(webhook(url))

    outcome = with_transport(use)

    assert outcome.succeeded
    assert outcome.attempts[0].response_body == "ok\ufffd\ufffd"


# --- receivers that break HTTP ------------------------------------------------------------


class _RawServer:
    """An asyncio server on the current loop, as a context manager giving its URL; what it
    does with a connection is a subclass's `_serve`. Every connection is closed at the end."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


class raw_server(_RawServer):  # noqa: N801 - used as a context manager, named like one
    """Answers every connection with `reply`, then (if `trickle_s`) sends one more byte every
    50 ms for that long before closing."""

    def __init__(self, reply: bytes, *, trickle_s: float = 0.0) -> None:
        super().__init__()
        self._reply = reply
        self._trickle_s = trickle_s

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(self._reply)
        await writer.drain()
        for _ in range(int(self._trickle_s / 0.05)):
            await asyncio.sleep(0.05)
            writer.write(b".")
            await writer.drain()


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"", id="closes without answering"),
        pytest.param(b"this is not HTTP\r\n\r\n", id="garbage"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", id="truncated body"),
    ],
)
def test_a_broken_answer_is_a_retrieval_failure_that_is_not_retried(reply: bytes) -> None:
    async def use(transport: HttpWebhookTransport) -> WebhookOutcome:
        async with raw_server(reply) as url:
            return await transport.deliver(webhook(f"{url}#rp=all&rc=3"))

    outcome = with_transport(use)

    [attempt] = outcome.attempts
    assert attempt.error_code == HTTP_RETRIEVAL_FAILURE.code
    assert attempt.failure is FailureKind.OTHER


def test_an_answer_that_trickles_past_the_budget_is_a_partial_response() -> None:
    # Each byte comes well within rt, so only the total budget (tt) can end the attempt.
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nstart"

    async def use(transport: HttpWebhookTransport) -> WebhookOutcome:
        async with raw_server(reply, trickle_s=2) as url:
            return await transport.deliver(webhook(f"{url}#tt=400&rt=300&rp=all&rc=3"))

    started = time.monotonic()
    outcome = with_transport(use)

    [attempt] = outcome.attempts
    assert attempt.status_code == 200
    assert attempt.error_code == HTTP_RETRIEVAL_FAILURE.code
    assert attempt.failure is FailureKind.OTHER
    assert time.monotonic() - started < 0.9


# --- concurrency --------------------------------------------------------------------------


def test_slow_receivers_do_not_delay_a_fast_one(receiver: Receiver) -> None:
    async def use(transport: HttpWebhookTransport) -> tuple[float, float]:
        started = asyncio.get_running_loop().time()

        async def timed(request: WebhookRequest) -> float:
            await transport.deliver(request)
            return asyncio.get_running_loop().time() - started

        slow = [asyncio.create_task(timed(webhook(f"{receiver.base_url}/slow"))) for _ in range(10)]
        # The fast one starts once every slow delivery is waiting on its receiver.
        await eventually_async(lambda: receiver.paths().count("/slow") == 10, timeout_s=5)
        fast_s = await timed(webhook(f"{receiver.base_url}/echo"))
        slow_s = max(await asyncio.gather(*slow))
        return fast_s, slow_s

    fast_s, slow_s = with_transport(use)

    assert fast_s < 0.5
    assert slow_s >= 1.0
    assert sorted(receiver.paths()) == ["/echo"] + ["/slow"] * 10


# --- kept-alive connections ---------------------------------------------------------------


class keep_alive_server(_RawServer):  # noqa: N801 - used as a context manager
    """Answers 200 "ok" on kept-alive connections; with `answers_per_connection`, a
    connection's next request is met by its close instead (a receiver that dropped an idle
    connection just as it was reused)."""

    def __init__(self, *, answers_per_connection: int | None = None) -> None:
        super().__init__()
        self.connections = 0
        self.closed_by_client = 0
        self.requests: list[bytes] = []
        self._limit = answers_per_connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        for answered in range(100):
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                self.closed_by_client += 1
                return
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            if self._limit is not None and answered >= self._limit:
                return
            self.requests.append(head)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()


def test_webhooks_to_one_receiver_share_a_kept_alive_connection() -> None:
    server = keep_alive_server()

    async def use(transport: HttpWebhookTransport) -> list[WebhookOutcome]:
        async with server as url:
            return [await transport.deliver(webhook(url)) for _ in range(5)]

    outcomes = with_transport(use)

    assert [outcome.succeeded for outcome in outcomes] == [True] * 5
    assert len(server.requests) == 5
    assert server.connections == 1


def test_a_kept_connection_the_receiver_dropped_is_replaced_within_the_attempt() -> None:
    server = keep_alive_server(answers_per_connection=1)

    async def use(transport: HttpWebhookTransport) -> list[WebhookOutcome]:
        async with server as url:
            return [await transport.deliver(webhook(f"{url}#rc=0")) for _ in range(3)]

    outcomes = with_transport(use)

    # One attempt each (rc=0: no retries), every one answered on a new connection.
    assert [len(outcome.attempts) for outcome in outcomes] == [1, 1, 1]
    assert [outcome.succeeded for outcome in outcomes] == [True] * 3
    assert server.connections == 3


def test_credentials_in_the_url_go_as_basic_authentication(receiver: Receiver) -> None:
    host = receiver.base_url.removeprefix("http://")
    outcome, _ = deliver(webhook(f"http://alice:p%40ss@{host}/echo"))

    assert outcome.succeeded
    [got] = receiver.requests
    assert got.headers["authorization"] == "Basic " + base64.b64encode(b"alice:p@ss").decode()
    assert got.headers["host"] == host


def test_an_answer_without_a_length_ends_with_the_connection() -> None:
    async def use(transport: HttpWebhookTransport) -> WebhookOutcome:
        async with raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello") as url:
            return await transport.deliver(webhook(url))

    outcome = with_transport(use)

    assert outcome.succeeded
    assert outcome.attempts[0].response_body == "hello"
    assert outcome.attempts[0].response_content_type == "text/plain"


def test_a_connection_kept_idle_too_long_is_closed_when_the_pool_is_next_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connections, "IDLE_S", 0.05)
    first, second = keep_alive_server(), keep_alive_server()

    async def use(transport: HttpWebhookTransport) -> tuple[int, int]:
        async with first as first_url, second as second_url:
            assert (await transport.deliver(webhook(first_url))).succeeded
            await asyncio.sleep(0.1)
            assert (await transport.deliver(webhook(second_url))).succeeded
            await asyncio.sleep(0.05)  # the first receiver sees its connection end
            return first.closed_by_client, second.closed_by_client

    # The first receiver's connection, idle past IDLE_S, was closed; the second's is kept.
    assert with_transport(use) == (1, 0)
