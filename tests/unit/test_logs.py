"""The JSON log formatter, the context it reads and what log lines may show of a request."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

import pytest

from textrelay.api.request_log import account_in_path, request_id_of
from textrelay.domain.webhooks import url_for_logs
from textrelay.logs import JsonFormatter
from textrelay.services import log_context

ACCOUNT = "AC" + "ab" * 16
MESSAGE = "SM" + "cd" * 16


def record(message: str = "hello %s", *args: object, **extra: Any) -> logging.LogRecord:
    made = logging.LogRecord("textrelay.test", logging.WARNING, __file__, 1, message, args, None)
    made.created = 1_780_000_000.1234
    made.__dict__.update(extra)
    return made


def formatted(made: logging.LogRecord) -> dict[str, Any]:
    line = JsonFormatter().format(made)
    assert "\n" not in line
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_a_line_outside_any_request_or_job_has_the_four_fields() -> None:
    assert formatted(record("hello %s", "world")) == {
        "time": "2026-05-28T20:26:40.123Z",
        "level": "warning",
        "logger": "textrelay.test",
        "message": "hello world",
    }


def test_a_line_logged_while_handling_a_request_carries_its_id_and_account() -> None:
    token = log_context.handle_request("RQ" + "0" * 32, ACCOUNT)
    try:
        line = formatted(record())
    finally:
        log_context.finished(token)
    assert line["request_id"] == "RQ" + "0" * 32
    assert line["account_sid"] == ACCOUNT
    assert "message_sid" not in line
    assert "request_id" not in formatted(record())


def test_a_line_logged_while_running_a_job_carries_the_job_and_what_it_learnt() -> None:
    token = log_context.handle_job("dispatch", 7, MESSAGE, None)
    try:
        log_context.about_account(ACCOUNT)
        line = formatted(record())
    finally:
        log_context.finished(token)
    assert line["job_kind"] == "dispatch"
    assert line["job_id"] == 7
    assert line["message_sid"] == MESSAGE
    assert line["account_sid"] == ACCOUNT


def test_access_fields_are_fields_and_a_traceback_is_one_escaped_value() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        made = record("failed", status=201, path="/p", method="GET")
        made.exc_info = sys.exc_info()
    line = formatted(made)
    assert (line["method"], line["path"], line["status"]) == ("GET", "/p", 201)
    assert line["exc"].startswith("Traceback (most recent call last):")
    assert "ValueError: boom" in line["exc"]


def test_a_message_with_newlines_and_quotes_stays_on_one_line() -> None:
    assert formatted(record('two\nlines "quoted"'))["message"] == 'two\nlines "quoted"'


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:secret@example.com/hook?token=abc#rc=2", "https://example.com/hook"),
        ("http://127.0.0.1:8080/status", "http://127.0.0.1:8080/status"),
        ("http://[::1]:9/x?Body=hi", "http://[::1]:9/x"),
        ("http://example.com:99999/", "(invalid URL)"),
    ],
)
def test_a_url_in_a_log_line_keeps_no_user_part_and_no_query(url: str, shown: str) -> None:
    assert url_for_logs(url) == shown


@pytest.mark.parametrize(
    ("headers", "kept"),
    [
        ([(b"x-request-id", b"abc-123")], "abc-123"),
        (
            [(b"x-request-id", b"0b5f0c1e-8e5e-4cde-9f4e-2d8a3c1b7a10")],
            "0b5f0c1e-8e5e-4cde-9f4e-2d8a3c1b7a10",
        ),
        ([(b"x-request-id", b"has space")], None),
        ([(b"x-request-id", b"x" * 129)], None),
        ([(b"x-request-id", b"")], None),
        ([(b"x-request-id", b'quote"d')], None),
        ([], None),
    ],
)
def test_an_incoming_request_id_is_kept_only_when_short_and_plain(
    headers: list[tuple[bytes, bytes]], kept: str | None
) -> None:
    request_id = request_id_of(headers)
    if kept is not None:
        assert request_id == kept
    else:
        assert re.fullmatch(r"RQ[0-9a-f]{32}", request_id)


def test_the_account_of_a_path_is_its_account_sid_segment() -> None:
    assert account_in_path(f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json") == ACCOUNT
    assert account_in_path(f"/2010-04-01/Accounts/{ACCOUNT}.json") == ACCOUNT
    assert account_in_path(f"/textrelay/v1/Accounts/{ACCOUNT}/Jobs") == ACCOUNT
    assert account_in_path("/2010-04-01/Accounts/ACnothex/Messages.json") is None
    assert account_in_path(f"/2010-04-01/Accounts/{ACCOUNT}ab/Messages.json") is None
    assert account_in_path("/v1/Services") is None
