"""What a log line is about: the request or the job being handled, kept in a context variable.

The API sets it once per request and the job runner once per job; a service that learns more
(the account of a dispatched message) adds to it. The log formatter (textrelay/logs.py) reads
it, so every line logged while handling a request or a job carries its ids without any caller
passing them. asyncio copies the context into each task, so a job's or a request's fields
never leak into another's.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import NamedTuple


class Handling(NamedTuple):
    """The ids of what is being handled; None where unknown or not applicable. (A tuple: one
    is made per request, and a frozen dataclass costs several times as much to make.)"""

    request_id: str | None = None
    account_sid: str | None = None
    message_sid: str | None = None
    job_kind: str | None = None
    job_id: int | None = None


NOTHING = Handling()

_handling: ContextVar[Handling] = ContextVar("textrelay_handling", default=NOTHING)


def current() -> Handling:
    return _handling.get()


def handle_request(request_id: str, account_sid: str | None) -> Token[Handling]:
    """From here on this context handles that request; `finished(token)` ends it."""
    return _handling.set(Handling(request_id=request_id, account_sid=account_sid))


def handle_job(
    kind: str, job_id: int, message_sid: str | None, account_sid: str | None
) -> Token[Handling]:
    """From here on this context runs that job; `finished(token)` ends it."""
    return _handling.set(
        Handling(account_sid=account_sid, message_sid=message_sid, job_kind=kind, job_id=job_id)
    )


def about_account(account_sid: str) -> None:
    """What is being handled concerns this account (learnt once its message was read)."""
    _handling.set(_handling.get()._replace(account_sid=account_sid))


def finished(token: Token[Handling]) -> None:
    _handling.reset(token)


def body_note(body: str, *, shown: bool) -> str:
    """What a line about a message adds of its body: ` body='…'` when the deployment lets
    logs show bodies (the log_bodies setting), else nothing."""
    return f" body={body!r}" if shown else ""
