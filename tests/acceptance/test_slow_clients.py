"""Slow clients are timed out and connections are bounded (issue 12 #10): raw sockets against
a real server, since no HTTP client can be made to send half a request."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from textrelay.settings import Settings
from textrelay.testing import TextrelayServer

HEAD_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5
MARGIN_S = 1.5


@pytest.fixture(scope="module")
def server() -> Iterator[TextrelayServer]:
    settings = Settings(
        database_url="sqlite:///:memory:",
        header_timeout_s=HEAD_TIMEOUT_S,
        body_timeout_s=BODY_TIMEOUT_S,
    )
    with TextrelayServer(settings) as running:
        yield running


def connect(server: TextrelayServer) -> socket.socket:
    port = int(server.base_url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def closed_after(sock: socket.socket, *, within_s: float) -> float:
    """Seconds until the server closes `sock` (reading whatever it answers first); fails if
    it is still open after `within_s`."""
    started = time.monotonic()
    sock.settimeout(within_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"the connection was still open after {within_s}s")
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_half_a_request_line_is_closed_within_the_head_timeout(server: TextrelayServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /2010-04-01/Acc")

        took = closed_after(sock, within_s=HEAD_TIMEOUT_S + MARGIN_S)

    assert took >= HEAD_TIMEOUT_S - 0.2


def test_a_silent_connection_is_closed_within_the_head_timeout(server: TextrelayServer) -> None:
    with connect(server) as sock:
        closed_after(sock, within_s=HEAD_TIMEOUT_S + MARGIN_S)


def test_a_trickled_head_is_closed_at_the_deadline_however_active(
    server: TextrelayServer,
) -> None:
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        try:
            for _ in range(int((HEAD_TIMEOUT_S + MARGIN_S) / 0.2)):
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed_after(sock, within_s=MARGIN_S)

    assert time.monotonic() - started < HEAD_TIMEOUT_S + MARGIN_S + 0.5


def test_an_unfinished_body_is_closed_within_the_body_timeout(server: TextrelayServer) -> None:
    account = server.main_account
    head = (
        f"POST /2010-04-01/Accounts/{account.sid}/Messages.json HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    with connect(server) as sock:
        sock.sendall(head.encode() + b"To=%2B1415")

        took = closed_after(sock, within_s=BODY_TIMEOUT_S + MARGIN_S)

    assert took >= BODY_TIMEOUT_S - 0.2


def test_a_kept_alive_connection_gets_the_head_timeout_for_its_next_request(
    server: TextrelayServer,
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /2010-04-01/Nope.json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 404")
        sock.sendall(b"GET /2010-04-01/Nope")

        closed_after(sock, within_s=HEAD_TIMEOUT_S + MARGIN_S)


def test_a_prompt_client_is_served_across_the_deadlines(server: TextrelayServer) -> None:
    account = server.main_account
    with httpx.Client(
        base_url=server.base_url, auth=(account.sid, account.auth_token), timeout=10
    ) as http:
        first = http.get("/2010-04-01/Accounts.json")
        time.sleep(HEAD_TIMEOUT_S + 0.5)  # idle between requests is the keep-alive's business
        second = http.post(
            f"/2010-04-01/Accounts/{account.sid}/IncomingPhoneNumbers.json",
            data={"AreaCode": "415"},
        )

    assert (first.status_code, second.status_code) == (200, 201)


def test_connections_beyond_the_limit_are_answered_429() -> None:
    settings = Settings(database_url="sqlite:///:memory:", max_connections=3)
    with TextrelayServer(settings) as server:
        held = [connect(server) for _ in range(3)]
        try:
            time.sleep(0.2)  # the server has accepted them
            with connect(server) as extra:
                extra.settimeout(5)
                answer = b""
                while data := extra.recv(65536):
                    answer += data
            for sock in held:
                sock.close()
            time.sleep(0.2)
            account = server.main_account
            after = httpx.get(
                f"{server.base_url}/2010-04-01/Accounts.json",
                auth=(account.sid, account.auth_token),
                timeout=10,
            )
        finally:
            for sock in held:
                sock.close()

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429 ")
    assert b"content-type: application/json; charset=utf-8" in head
    assert json.loads(body) == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }
    assert after.status_code == 200
