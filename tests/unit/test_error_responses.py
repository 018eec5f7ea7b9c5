"""api/errors.error_response: what a raised exception answers, on both of the API's paths
(Starlette's exception handlers and the front door)."""

from __future__ import annotations

import logging

import orjson
import pytest

from textrelay.api.errors import error_response
from textrelay.domain import errors
from textrelay.services.errors import StorageFailure

PATH = "/2010-04-01/Accounts/AC123/Messages.json"


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        (errors.ToRequired(), 400, 21604),
        (StorageFailure("connection refused"), 503, 20503),
        (RuntimeError("a bug"), 500, 20500),
    ],
)
def test_each_kind_of_exception_gets_its_answer(
    raised: Exception, status: int, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="textrelay.api"):
        response = error_response(raised, "POST", PATH)

    body = orjson.loads(bytes(response.body))
    assert (response.status_code, body["code"], body["status"]) == (status, code, status)
    logged = [record for record in caplog.records if record.name == "textrelay.api"]
    if isinstance(raised, errors.TwilioError):
        assert logged == []
    else:
        assert [record.getMessage() for record in logged] == [
            f"storage failure on POST {PATH}: connection refused"
            if isinstance(raised, StorageFailure)
            else f"unhandled error on POST {PATH}"
        ]
        assert (logged[0].exc_info is not None) == isinstance(raised, RuntimeError)
