"""Structured logs of a real `textrelay serve` (issue 15 #3, docs/operations.md "Logs"): every
stderr line is one JSON object; the access line of a create carries the id its answer gave;
the worker's lines name the message and account they handled; credentials never appear, and
the message body only when log_bodies asks for it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from twilio.http.response import Response
from twilio.rest import Client

from tests.processes import ACCOUNT_SID, AUTH_TOKEN, ServerProcess, free_port
from tests.waiting import eventually
from textrelay.client import client as make_client

BODY_WORD = "quokkasecret4417"
"""In the message's Body: it must not reach the logs unless log_bodies is on."""

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@dataclass(frozen=True, slots=True)
class Sent:
    log: list[dict[str, Any]]
    text: str
    """The whole of stderr, as written."""
    message_sid: str
    request_id: str
    key_secret: str


def send_and_stop(tmp_path: Path, **settings: str) -> Sent:
    """Start serve with JSON logs at debug and the access log, send one message with an API key
    (its status callbacks fail: nothing listens there), wait for both to fail, stop, and read
    stderr back."""
    log_path = tmp_path / "server.log"
    server = ServerProcess(
        f"sqlite:///{tmp_path}/logs.db",
        log_path=log_path,
        log_level="debug",
        log_format="json",
        access_log="true",
        **settings,
    ).start()
    try:
        client = make_client(server.base_url, ACCOUNT_SID, AUTH_TOKEN)
        sender = client.incoming_phone_numbers.create(area_code="415").phone_number
        key = client.new_keys.create(friendly_name="logs")
        with_key = make_client(server.base_url, ACCOUNT_SID, key.secret, username=key.sid)
        answers = _answers_of(with_key)
        message = with_key.messages.create(
            to="+14155550100",
            from_=sender,
            body=f"the code is {BODY_WORD}",
            status_callback=f"http://user:pw@127.0.0.1:{free_port()}/status?token=abc",
        )
        eventually(
            lambda: log_path.read_text().count("status callback to"),
            until=lambda failures: failures >= 2,  # sent, delivered
            what="both status callbacks to fail",
        )
    finally:
        assert server.stop() == 0
    text = log_path.read_text()
    return Sent(
        log=[json.loads(line) for line in text.splitlines()],
        text=text,
        message_sid=message.sid,
        request_id=answers[-1].headers["Twilio-Request-Id"],
        key_secret=key.secret,
    )


def _answers_of(client: Client) -> list[Response]:
    """Every answer the client gets from now on (twilio's resources keep no headers)."""
    answers: list[Response] = []
    request = client.http_client.request

    def recording(*args: Any, **kwargs: Any) -> Response:
        answer: Response = request(*args, **kwargs)
        answers.append(answer)
        return answer

    client.http_client.request = recording
    return answers


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Sent:
    return send_and_stop(tmp_path_factory.mktemp("logs"))


def test_every_line_is_one_json_object_with_time_level_logger_and_message(sent: Sent) -> None:
    assert sent.log, "nothing was logged"
    for line in sent.log:
        assert {"time", "level", "logger", "message"} <= set(line), line
        assert _TIME.fullmatch(line["time"]), line
        assert line["level"] in {"debug", "info", "warning", "error", "critical"}


def test_the_access_line_of_a_create_carries_the_answers_request_id(sent: Sent) -> None:
    (access,) = [
        line
        for line in sent.log
        if line["logger"] == "textrelay.access" and line.get("request_id") == sent.request_id
    ]
    assert re.fullmatch(r"RQ[0-9a-f]{32}", sent.request_id)
    assert access["method"] == "POST"
    assert access["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert access["status"] == 201
    assert access["account_sid"] == ACCOUNT_SID
    assert access["remote_addr"] == "127.0.0.1"
    assert access["bytes"] > 0
    assert access["duration_ms"] >= 0


def test_the_workers_lines_name_the_message_and_account_they_handled(sent: Sent) -> None:
    about = [line for line in sent.log if line.get("message_sid") == sent.message_sid]
    kinds = {line.get("job_kind") for line in about}
    assert "callback" in kinds
    assert all(line["account_sid"] == ACCOUNT_SID for line in about)
    assert all(isinstance(line["job_id"], int) for line in about)
    failures = [line for line in about if line["level"] == "warning"]
    assert len(failures) >= 2
    # The callback's URL without its user part and query.
    assert all("http://127.0.0.1:" in line["message"] for line in failures)
    assert all("/status failed: 11205" in line["message"] for line in failures)


def test_no_credential_and_no_body_is_logged(sent: Sent) -> None:
    assert AUTH_TOKEN not in sent.text
    assert sent.key_secret not in sent.text
    assert BODY_WORD not in sent.text
    assert "pw@" not in sent.text
    assert "token=abc" not in sent.text


def test_log_bodies_shows_the_body_and_still_no_credential(tmp_path: Path) -> None:
    sent = send_and_stop(tmp_path, log_bodies="true")

    # Submitted within its create (DeliveryService.submit_at_create): the request's line.
    (submitted,) = [
        line
        for line in sent.log
        if line["message"].startswith(f"{sent.message_sid}: to ") and "taken by" in line["message"]
    ]
    assert submitted["request_id"] == sent.request_id
    assert BODY_WORD in submitted["message"]
    assert AUTH_TOKEN not in sent.text
    assert sent.key_secret not in sent.text
