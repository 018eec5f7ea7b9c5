"""The HTTP surface under bad input: always Twilio's error JSON, the right status, never a 500.

Raw requests (httpx), since the official client never sends most of these.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer


@pytest.fixture
def http(server: TextrelayServer, account: Account) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.base_url, auth=(account.sid, account.auth_token), timeout=10
    ) as client:
        yield client


def messages(account: Account) -> str:
    return f"/2010-04-01/Accounts/{account.sid}/Messages.json"


def twilio_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


def test_unknown_path_is_20404(http: httpx.Client) -> None:
    body = twilio_error(http.get("/2010-04-01/Nope.json"), 404, 20404)

    assert body["message"] == "The requested resource /2010-04-01/Nope.json was not found"


def test_wrong_method_is_405(http: httpx.Client, account: Account) -> None:
    response = http.put(messages(account))

    twilio_error(response, 405, 20004)
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    twilio_error(http.delete(f"/2010-04-01/Accounts/{account.sid}.json"), 405, 20004)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer abc",
        "Basic !!!not-base64!!!",
        "Basic " + "QUJD",  # "ABC": no colon
        "Basic " + "A" * 10_000,
    ],
)
def test_bad_credentials_are_401_with_a_challenge(
    server: TextrelayServer, account: Account, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.get(server.base_url + messages(account), headers=headers, timeout=10)

    twilio_error(response, 401, 20003)
    assert response.headers["www-authenticate"].startswith("Basic")


def test_non_utf8_credentials_are_401(server: TextrelayServer, account: Account) -> None:
    import base64

    header = b"Basic " + base64.b64encode(b"\xff\xfe:\xff")
    response = httpx.get(
        server.base_url + messages(account), headers={b"Authorization": header}, timeout=10
    )

    twilio_error(response, 401, 20003)


@pytest.mark.parametrize("sid", ["notasid", "SM123", "MG" + "a" * 32, "SM" + "z" * 32])
def test_malformed_message_sid_is_20404(http: httpx.Client, account: Account, sid: str) -> None:
    path = f"/2010-04-01/Accounts/{account.sid}/Messages/{sid}.json"

    twilio_error(http.get(path), 404, 20404)
    twilio_error(http.delete(path), 404, 20404)


def test_uppercase_hex_finds_the_same_message(
    http: httpx.Client, account: Account, sender: str
) -> None:
    created = http.post(messages(account), data={"To": "+14155550199", "From": sender, "Body": "x"})
    sid = created.json()["sid"]

    fetched = http.get(
        f"/2010-04-01/Accounts/{account.sid}/Messages/{sid[:2]}{sid[2:].upper()}.json"
    )

    assert fetched.status_code == 200
    assert fetched.json()["sid"] == sid


def test_another_accounts_data_stays_hidden(
    server: TextrelayServer, http: httpx.Client, account: Account, sender: str
) -> None:
    created = http.post(messages(account), data={"To": "+14155550199", "From": sender, "Body": "x"})
    sid = created.json()["sid"]
    other = server.new_account()

    with httpx.Client(base_url=server.base_url, auth=(other.sid, other.auth_token)) as theirs:
        via_our_path = theirs.get(f"/2010-04-01/Accounts/{account.sid}/Messages/{sid}.json")
        via_their_path = theirs.get(f"/2010-04-01/Accounts/{other.sid}/Messages/{sid}.json")
        malformed_path = theirs.get("/2010-04-01/Accounts/ACnope/Messages.json")

    twilio_error(via_our_path, 401, 20003)
    twilio_error(via_their_path, 404, 20404)
    twilio_error(malformed_path, 401, 20003)


def test_body_over_the_limit_is_413(http: httpx.Client, account: Account) -> None:
    twilio_error(http.post(messages(account), content=b"Body=" + b"a" * 1_100_000), 413, 20413)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"To=%2B14155550199&Body=\xff\xfe", "application/x-www-form-urlencoded"),
        (b"To=%2B14155550199&Body=%ff%fe", "application/x-www-form-urlencoded"),
        (b"Body=a%00b", "application/x-www-form-urlencoded"),
        (b'{"To": "+14155550199"}', "application/json"),
    ],
)
def test_malformed_bodies_are_400(
    http: httpx.Client, account: Account, content: bytes, content_type: str
) -> None:
    response = http.post(messages(account), content=content, headers={"Content-Type": content_type})

    twilio_error(response, 400, 20001)


def test_broken_multipart_reads_as_an_empty_form(http: httpx.Client, account: Account) -> None:
    response = http.post(
        messages(account),
        content=b"--x\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )

    twilio_error(response, 400, 21603)  # like an empty POST


def test_multipart_create_works(http: httpx.Client, account: Account, sender: str) -> None:
    response = http.post(
        messages(account),
        files={"To": (None, "+14155550199"), "From": (None, sender), "Body": (None, "multi")},
    )

    assert response.status_code == 201, response.text
    assert response.json()["body"] == "multi"


def test_first_of_a_repeated_parameter_counts(
    http: httpx.Client, account: Account, sender: str
) -> None:
    response = http.post(
        messages(account),
        content=f"To=%2B14155550199&From={sender.replace('+', '%2B')}&Body=one&Body=two".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.json()["body"] == "one"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("PageSize=1001", 400, 20007),
        ("PageSize=0", 400, 20001),
        ("Page=2", 400, 20001),
        ("Page=1&PageToken=bogus", 400, 20001),
        ("DateSent=yesterday", 400, 20001),
        ("DateSent%3E=not-a-date", 400, 20001),
    ],
)
def test_bad_list_queries(
    http: httpx.Client, account: Account, query: str, status: int, code: int
) -> None:
    twilio_error(http.get(f"{messages(account)}?{query}"), status, code)


def test_encoded_date_filter_names_are_understood(http: httpx.Client, account: Account) -> None:
    response = http.get(f"{messages(account)}?DateSent%3C=2024-01-01&DateSent%3E=2023-01-01")

    assert response.status_code == 200
    assert response.json()["messages"] == []


@pytest.mark.parametrize(
    "field", [{"ProvideFeedback": "maybe"}, {"ValidityPeriod": "abc"}, {"Tags": "[1]"}]
)
def test_bad_typed_parameters_are_20001(
    http: httpx.Client, account: Account, sender: str, field: dict[str, str]
) -> None:
    data = {"To": "+14155550199", "From": sender, "Body": "x", **field}

    twilio_error(http.post(messages(account), data=data), 400, 20001)


FIELD_NAMES = st.sampled_from(
    [
        "To",
        "From",
        "Body",
        "MediaUrl",
        "StatusCallback",
        "ValidityPeriod",
        "Tags",
        "SendAt",
        "ScheduleType",
        "MessagingServiceSid",
        "ContentSid",
        "ContentVariables",
        "X",
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=st.lists(st.tuples(FIELD_NAMES, st.text(max_size=40)), max_size=8))
def test_no_create_request_is_a_server_error(
    http: httpx.Client, account: Account, fields: list[tuple[str, str]]
) -> None:
    response = http.post(
        messages(account),
        content=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= {"code", "message", "more_info", "status"}
        assert body["status"] == response.status_code


def test_non_ascii_basic_credentials_are_401(server: TextrelayServer, account: Account) -> None:
    response = httpx.get(
        server.base_url + messages(account),
        headers={b"Authorization": b"Basic \xff\xfe\xfd"},
        timeout=10,
    )

    twilio_error(response, 401, 20003)


@pytest.mark.parametrize("collection", ["Keys", "IncomingPhoneNumbers"])
def test_nul_in_a_path_sid_is_20404(http: httpx.Client, account: Account, collection: str) -> None:
    path = f"/2010-04-01/Accounts/{account.sid}/{collection}/SK%00abc.json"

    twilio_error(http.get(path), 404, 20404)


@pytest.mark.parametrize(
    "query",
    [
        f"Page={10**30}&PageToken=PASM{'a' * 32}",
        "DateSent=9999-12-31",
        "DateSent%3E=9999-12-31T23:59:59Z",
        "DateSent%3C=0001-01-01T00:00:00%2B05:00",
    ],
)
def test_values_at_the_edge_of_range_are_400(
    http: httpx.Client, account: Account, query: str
) -> None:
    response = http.get(f"{messages(account)}?{query}")

    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        twilio_error(response, 400, 20001)


@pytest.mark.parametrize(
    "field", [{"Attempt": str(10**30)}, {"SendAt": "0001-01-01T00:00:00+05:00"}]
)
def test_out_of_range_create_values_are_400(
    http: httpx.Client, account: Account, sender: str, field: dict[str, str]
) -> None:
    data = {"To": "+14155550199", "From": sender, "Body": "x", **field}

    response = http.post(messages(account), data=data)

    assert response.status_code == 400, response.text


# --- bytes that are not HTTP: refused below ASGI, still in Twilio's shape (issue 12 #12) -----


def raw_exchange(server: TextrelayServer, *chunks: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `chunks` on a new connection, one write each; the answer's status, headers and
    body, read until the server closes the connection."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
            time.sleep(0.05)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split(" ")[1]), headers, body


@pytest.mark.parametrize(
    ("chunks", "status", "code"),
    [
        pytest.param([b"GET /2010-04-01/\xff HTTP/1.1\r\nHost: x\r\n\r\n"], 400, 20001, id="0xff"),
        pytest.param([b"GET /2010-04-01/\x00 HTTP/1.1\r\nHost: x\r\n\r\n"], 400, 20001, id="nul"),
        pytest.param([b"GET / HTTP/1.1\r\nA\x00b: c\r\n\r\n"], 400, 20001, id="nul-in-a-header"),
        pytest.param([b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"], 400, 20001, id="length"),
        pytest.param([b"GET / HTTP/7.0\r\n\r\n"], 400, 20001, id="version"),
        pytest.param([b"GARBAGE\r\n\r\n"], 400, 20001, id="not-a-request-line"),
        pytest.param([b"FOO /2010-04-01/Accounts.json HTTP/1.1\r\n\r\n"], 405, 20004, id="FOO"),
        pytest.param([b"F", b"OO", b" / HTTP/1.1\r\n\r\n"], 405, 20004, id="FOO-in-pieces"),
    ],
)
def test_malformed_http_is_answered_in_twilios_shape(
    server: TextrelayServer, chunks: list[bytes], status: int, code: int
) -> None:
    answered, headers, body = raw_exchange(server, *chunks)

    assert answered == status, body
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)
    assert error == {
        "code": code,
        "message": error["message"],
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    assert error["message"]


def test_a_request_after_a_malformed_one_is_served(
    server: TextrelayServer, account: Account
) -> None:
    raw_exchange(server, b"FOO / HTTP/1.1\r\n\r\n")

    response = httpx.get(
        server.base_url + messages(account), auth=(account.sid, account.auth_token), timeout=10
    )

    assert response.status_code == 200
