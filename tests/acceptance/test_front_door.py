"""The front door (api/front_door.py) answers message creates as the Starlette route does.

Each request goes to both, on the running server's loop: the whole application (whose front
door takes the create) and the Starlette application behind it (whose Messages route is the
reference). Errors must match byte for byte; a created message matches but for what differs
between two messages (its SID, the links made of it, and the second it was created in).
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from textrelay.api.front_door import messages_collection_account
from textrelay.domain.accounts import Account, AccountStatus, AccountType
from textrelay.testing import TextrelayServer

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
Headers = list[tuple[bytes, bytes]]
_PER_MESSAGE = ("sid", "uri", "subresource_uris", "date_created", "date_updated")


async def asgi_post(app: Callable[..., Any], path: str, headers: Headers, body: bytes) -> Answer:
    """One POST straight into an ASGI app, its body in two chunks when it has two bytes."""
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]] if len(body) > 1 else [body]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        if not chunks:
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], list(message["headers"])
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["headers"], answer["body"]


def both(server: TextrelayServer, path: str, headers: Headers, body: bytes) -> list[Answer]:
    """The answers of the front door and of the Starlette application behind it."""
    return [
        server.call(lambda rt: asgi_post(rt.app, path, headers, body)),
        server.call(lambda rt: asgi_post(rt.app.behind, path, headers, body)),
    ]


def basic(username: str, password: str) -> bytes:
    return b"Basic " + b64encode(f"{username}:{password}".encode())


FORM = (b"content-type", b"application/x-www-form-urlencoded")


def error_cases(account: Account, sender: str) -> list[tuple[str, str, Headers, bytes]]:
    path = f"/2010-04-01/Accounts/{account.sid}/Messages.json"
    auth = (b"authorization", basic(account.sid, account.auth_token))
    to = b"To=%2B14155550123"
    frm = f"From={sender.replace('+', '%2B')}".encode()
    return [
        ("no credentials", path, [FORM], to + b"&" + frm + b"&Body=hi"),
        (
            "a wrong token",
            path,
            [FORM, (b"authorization", basic(account.sid, "0" * 32))],
            b"To=x",
        ),
        ("non-ASCII credentials", path, [FORM, (b"authorization", b"Basic \xff\xfe")], b""),
        ("a malformed account", "/2010-04-01/Accounts/ACnope/Messages.json", [FORM, auth], b""),
        ("an empty form", path, [FORM, auth], b""),
        ("no To", path, [FORM, auth], frm + b"&Body=hi"),
        ("an invalid To", path, [FORM, auth], b"To=banana&" + frm + b"&Body=hi"),
        ("no Body", path, [FORM, auth], to + b"&" + frm),
        ("a body too long", path, [FORM, auth], to + b"&" + frm + b"&Body=" + b"x" * 1601),
        ("a From not owned", path, [FORM, auth], to + b"&From=%2B14155550999&Body=hi"),
        ("JSON", path, [(b"content-type", b"application/json"), auth], b'{"To": "+1"}'),
        ("invalid UTF-8", path, [FORM, auth], to + b"&Body=%FF%FE"),
        ("a NUL", path, [FORM, auth], to + b"&" + frm + b"&Body=a%00b"),
        ("bad Tags", path, [FORM, auth], to + b"&" + frm + b"&Body=hi&Tags=%5B1%5D"),
        (
            "a bad StatusCallback",
            path,
            [FORM, auth],
            to + b"&" + frm + b"&Body=hi&StatusCallback=ftp%3A%2F%2Fx",
        ),
        ("a body over the limit", path, [FORM, auth], b"Body=" + b"x" * 1_048_577),
        (
            "a declared length over the limit",
            path,
            [FORM, auth, (b"content-length", b"99999999")],
            to,
        ),
    ]


# The cases' names, for the test ids; each test builds its request for its own account.
_STAND_IN = Account(
    "AC" + "0" * 32,
    "AC" + "0" * 32,
    "stand-in",
    AccountStatus.ACTIVE,
    AccountType.FULL,
    "0" * 32,
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
)
ERROR_CASES = [case[0] for case in error_cases(_STAND_IN, "+14155550100")]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_errors_match_the_starlette_route_byte_for_byte(
    server: TextrelayServer, account: Account, sender: str, case: str
) -> None:
    name, path, headers, body = next(c for c in error_cases(account, sender) if c[0] == case)

    front, behind = both(server, path, headers, body)

    assert front == behind
    assert 400 <= front[0] < 500, name


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (b"application/x-www-form-urlencoded", "To=%2B14155550123&From={sender}&Body=Hi+there"),
        (
            b"application/x-www-form-urlencoded; charset=utf-8",
            "To=%2B14155550123&From={sender}&Body=%E2%9C%93&Tags=%7B%22a%22%3A%22b%22%7D"
            "&StatusCallback=https%3A%2F%2Fexample.test%2Fcb",
        ),
        (
            b"multipart/form-data; boundary=xyz",
            '--xyz\r\nContent-Disposition: form-data; name="To"\r\n\r\n+14155550123\r\n'
            '--xyz\r\nContent-Disposition: form-data; name="From"\r\n\r\n{raw_sender}\r\n'
            '--xyz\r\nContent-Disposition: form-data; name="Body"\r\n\r\nmultipart\r\n--xyz--\r\n',
        ),
    ],
)
def test_a_create_matches_the_starlette_route_but_for_the_new_messages_own_fields(
    server: TextrelayServer, account: Account, sender: str, content_type: bytes, body: str
) -> None:
    path = f"/2010-04-01/Accounts/{account.sid}/Messages.json"
    headers = [
        (b"content-type", content_type),
        (b"authorization", basic(account.sid, account.auth_token)),
    ]
    form = body.format(sender=sender.replace("+", "%2B"), raw_sender=sender).encode()

    front, behind = both(server, path, headers, form)

    assert front[0] == behind[0] == 201
    assert front[1] == behind[1]
    created = [orjson.loads(answer[2]) for answer in (front, behind)]
    assert created[0]["sid"] != created[1]["sid"]
    assert created[0]["uri"] == f"{path[:-5]}/{created[0]['sid']}.json"
    for message in created:
        for name in _PER_MESSAGE:
            message.pop(name)
    assert created[0] == created[1]
    assert created[0]["status"] == "queued"


@pytest.mark.parametrize(
    ("path", "account_sid"),
    [
        ("/2010-04-01/Accounts/AC123/Messages.json", "AC123"),
        ("/2010-04-01/Accounts/ACnope/Messages.json", "ACnope"),
        ("/2010-04-01/Accounts//Messages.json", None),
        ("/2010-04-01/Accounts/AC1/x/Messages.json", None),
        ("/2010-04-01/Accounts/AC1/Messages.json/", None),
        ("/2010-04-01/Accounts/AC1/Messages/SM1.json", None),
        ("/2010-04-01/Accounts/AC1.json", None),
        ("/v1/Services", None),
    ],
)
def test_the_front_door_takes_exactly_the_messages_collection(
    path: str, account_sid: str | None
) -> None:
    assert messages_collection_account(path) == account_sid
