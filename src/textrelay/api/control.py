"""textrelay's own control API, under /textrelay/v1 (never a Twilio path): the simulator's
settings, stepping messages, read-back for tests, and reset. Same credentials as the Twilio
API; JSON in and out; errors in Twilio's shape. docs/control-api.md lists every call."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import (
    api,
    by_operator,
    caller,
    path_account,
    require_server_wide,
    test_bench_account,
)
from textrelay.api.forms import read_body
from textrelay.api.responses import json_response
from textrelay.api.serializers import message_json
from textrelay.api.short_codes import short_code_json
from textrelay.domain import errors
from textrelay.domain.accounts import Account
from textrelay.domain.addresses import AddressError, parse_recipient
from textrelay.domain.carriers import CarrierState
from textrelay.domain.dates import iso8601
from textrelay.domain.jobs import PendingJob
from textrelay.domain.lifecycle import FINAL_STATUSES
from textrelay.domain.patterns import PatternError, compile_pattern
from textrelay.domain.simulation import OUTCOMES, config_to_data
from textrelay.domain.statuses import MessageStatus
from textrelay.services.readback import ReceivedFilter

PREFIX = "/textrelay/v1"


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await read_body(request, api(request).max_body_bytes)
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.InvalidParameter("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise errors.InvalidParameter("The request body must be a JSON object")
    return data


# --- simulator -----------------------------------------------------------------------------


async def _simulator_account(request: Request) -> Account | None:
    """Whose simulator settings: the account in the path (the caller's own or a subaccount
    of it), else the caller's own; for the operator, the account in the path or else the
    server-wide ones (None). The server's main account's are the server-wide ones."""
    if "account_sid" in request.path_params:
        return await test_bench_account(request)
    if by_operator(request):
        return None
    account = (await caller(request)).account
    api(request).operator.require_test_bench()
    return account


async def simulator(request: Request) -> Response:
    account = await _simulator_account(request)
    service = api(request).simulator
    if request.method == "GET":
        config = await service.config(None if account is None else account.sid)
    elif request.method == "DELETE" and account is not None:
        config = await service.forget(account)
    else:
        config = await service.update(
            account, await _json_body(request), replace_all=request.method == "PUT"
        )
    return json_response(config_to_data(config))


async def simulator_rules(request: Request) -> Response:
    account = await _simulator_account(request)
    service = api(request).simulator
    if request.method == "DELETE":
        config = await service.update(account, {"rules": []})
    else:
        config = await service.add_rule(account, await _json_body(request))
    return json_response(config_to_data(config), 201 if request.method == "POST" else 200)


# --- messages: step, history, callbacks ----------------------------------------------------


async def message_step(request: Request) -> Response:
    account = await test_bench_account(request)
    ctx = api(request)
    message = await ctx.messages.get(account, request.path_params["sid"])
    data = await _json_body(request)
    outcome = _outcome(data.get("status"))
    error_code = data.get("error_code")
    if error_code is not None and (
        isinstance(error_code, bool) or not isinstance(error_code, int) or error_code <= 0
    ):
        raise errors.InvalidParameter("error_code is a positive integer")
    result = await ctx.delivery.step(message, outcome=outcome, error_code=error_code)
    return json_response(
        {"message": message_json(result.message), "passed": [s.value for s in result.applied]}
    )


def _outcome(value: object) -> MessageStatus | None:
    if value is None:
        return None
    allowed = {*OUTCOMES, MessageStatus.SENT}
    if not isinstance(value, str) or value not in {s.value for s in allowed}:
        raise errors.InvalidParameter("status is sent, delivered, undelivered or failed")
    return MessageStatus(value)


async def message_read(request: Request) -> Response:
    """The handset read a delivered WhatsApp message (`read`, EventType=READ)."""
    account = await test_bench_account(request)
    ctx = api(request)
    message = await ctx.messages.get(account, request.path_params["sid"])
    read = await ctx.delivery.mark_read(message)
    return json_response({"message": message_json(read)})


async def message_events(request: Request) -> Response:
    account = await path_account(request)
    ctx = api(request)
    message = await ctx.messages.get(account, request.path_params["sid"])
    events = await ctx.readback.events(message)
    return json_response(
        {
            "message_sid": message.sid,
            "status": message.status.value,
            "final": message.status in FINAL_STATUSES,
            "events": [
                {
                    "status": e.status.value,
                    "error_code": e.error_code,
                    "date": iso8601(e.occurred_at),
                }
                for e in events
            ],
        }
    )


async def message_callbacks(request: Request) -> Response:
    account = await path_account(request)
    ctx = api(request)
    message = await ctx.messages.get(account, request.path_params["sid"])
    attempts = await ctx.readback.attempts(message)
    return json_response(
        {
            "message_sid": message.sid,
            "callbacks": [
                {
                    "kind": r.kind,
                    "url": r.attempt.url,
                    "method": r.attempt.method,
                    "parameters": dict(r.params),
                    "signature": r.attempt.signature,
                    "idempotency_token": r.idempotency_token,
                    "status_code": r.attempt.status_code,
                    "response_body": r.attempt.response_body,
                    "response_content_type": r.attempt.response_content_type,
                    "latency_ms": round(r.attempt.latency_ms, 3),
                    "error_code": r.attempt.error_code,
                    "error_message": r.attempt.error_message,
                    "date": iso8601(r.started_at),
                }
                for r in attempts
            ],
        }
    )


# --- pending jobs: what a test waits on to know the pipeline is idle ---------------------


async def message_jobs(request: Request) -> Response:
    """The message's jobs not yet done, oldest first; none left: the pipeline is idle."""
    account = await path_account(request)
    ctx = api(request)
    message = await ctx.messages.get(account, request.path_params["sid"])
    pending = await ctx.readback.pending_jobs(message)
    return json_response({"message_sid": message.sid, "jobs": _jobs_json(pending)})


async def account_jobs(request: Request) -> Response:
    """The jobs not yet done for every message of the account, oldest first."""
    account = await path_account(request)
    pending = await api(request).readback.pending_jobs_of_account(account)
    return json_response({"account_sid": account.sid, "jobs": _jobs_json(pending)})


def _jobs_json(pending: list[PendingJob]) -> list[dict[str, str | bool | None]]:
    return [
        {"message_sid": job.message_sid, "kind": job.kind.value, "parked": job.parked}
        for job in pending
    ]


# --- read-back -----------------------------------------------------------------------------


async def phone_messages(request: Request) -> Response:
    """What a phone number received: outbound messages addressed to it, newest first.

    Query: Contains (substring of the body), Match (RE2 regular expression), After (a message
    SID: only later ones), Wait (seconds, at most 30: wait until one matches), PageSize.
    """
    account = await path_account(request)
    query = request.query_params
    try:
        to = parse_recipient(request.path_params["number"]).value
    except AddressError:
        raise errors.InvalidToNumber(request.path_params["number"]) from None
    pattern = None
    if query.get("Match"):
        try:
            pattern = compile_pattern(query["Match"])
        except PatternError as exc:
            raise errors.InvalidParameter(f"Match is not a regular expression: {exc}") from None
    wait_s = _number(query.get("Wait"), "Wait", 0.0, 30.0)
    limit = int(_number(query.get("PageSize"), "PageSize", 1, 1000) or 50)
    found = await api(request).readback.received(
        account,
        to,
        ReceivedFilter(
            contains=query.get("Contains") or None,
            pattern=pattern,
            after_sid=query.get("After") or None,
        ),
        wait_s=wait_s,
        limit=limit,
    )
    return json_response({"phone_number": to, "messages": [message_json(m) for m in found]})


def _number(text: str | None, name: str, low: float, high: float) -> float:
    if text is None or text == "":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise errors.InvalidParameter(f"{name} is a number from {low:g} to {high:g}") from None
    if not low <= value <= high:
        raise errors.InvalidParameter(f"{name} is a number from {low:g} to {high:g}")
    return value


async def reset(request: Request) -> Response:
    account = await test_bench_account(request)
    deleted = await api(request).readback.reset(account)
    return json_response({"account_sid": account.sid, "deleted_messages": deleted})


# --- short codes and the clock ----------------------------------------------------------------


async def provision_short_code(request: Request) -> Response:
    """Twilio provisions short codes out of band; this is textrelay's way."""
    account = await test_bench_account(request)
    data = await _json_body(request)
    short_code = data.get("short_code")
    if not isinstance(short_code, str):
        raise errors.InvalidParameter("short_code is required: 3 to 8 digits, as a string")
    friendly_name = data.get("friendly_name")
    country_code = data.get("country_code", "US")
    if (friendly_name is not None and not isinstance(friendly_name, str)) or not isinstance(
        country_code, str
    ):
        raise errors.InvalidParameter("friendly_name and country_code are strings")
    code = await api(request).messaging_services.provision_short_code(
        account, short_code, friendly_name=friendly_name, country_code=country_code
    )
    return json_response(short_code_json(code), 201)


async def clock(request: Request) -> Response:
    """The server's "now"; POST {"advance_s": N} moves it forward (scheduled messages, validity
    periods and timed mode follow). Server-wide: every account reads it in emulator mode, and
    only the server's main account moves it (403/20403 for the others); in gateway mode it is
    the operator's alone."""
    ctx = api(request)
    adjustable = ctx.clock
    if not by_operator(request):
        principal = await caller(request)
        ctx.operator.require_test_bench()
        if request.method == "POST":
            await ctx.operator.require_server_wide(principal.account, "The clock")
    if request.method == "POST":
        data = await _json_body(request)
        seconds = data.get("advance_s")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise errors.InvalidParameter("advance_s is a number of seconds")
        try:
            adjustable.advance(float(seconds))
        except ValueError as exc:
            raise errors.InvalidParameter(f"advance_s: {exc}") from None
    return json_response(
        {"now": iso8601(adjustable()), "offset_s": adjustable.offset.total_seconds()}
    )


# --- two-way: a handset texts back ---------------------------------------------------------


async def inbound(request: Request) -> Response:
    """A handset sends `body` from `from` to one of the account's numbers or short codes."""
    account = await test_bench_account(request)
    data = await _json_body(request)
    fields = {name: data.get(name) for name in ("from", "to", "body")}
    if not all(isinstance(value, str) for value in fields.values()):
        raise errors.InvalidParameter("from, to and body are required strings")
    message = await api(request).inbound.receive(
        account,
        str(fields["from"]),
        str(fields["to"]),
        str(fields["body"]),
        media=_attachments(data.get("media")),
        media_base_url=f"{request.url.scheme}://{request.url.netloc}",
    )
    return json_response({"message": message_json(message)}, 201)


def _attachments(value: object) -> list[tuple[str, bytes]]:
    """`media`: a list of {"content_type": "image/png", "content_base64": "…"}."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.InvalidParameter("media is a list of attachments")
    attachments = []
    for item in value:
        if not isinstance(item, dict):
            raise errors.InvalidParameter("each attachment is an object")
        content_type, encoded = item.get("content_type"), item.get("content_base64")
        if not isinstance(content_type, str) or not isinstance(encoded, str):
            raise errors.InvalidParameter("an attachment has content_type and content_base64")
        try:
            content = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise errors.InvalidParameter("content_base64 is not base64") from None
        attachments.append((content_type, content))
    return attachments


async def conversation(request: Request) -> Response:
    """Every message between two addresses, either way, oldest first."""
    account = await path_account(request)
    one, other = request.path_params["one"], request.path_params["other"]
    found = await api(request).readback.conversation(account, one, other)
    return json_response({"messages": [message_json(m) for m in found]})


async def opt_outs(request: Request) -> Response:
    account = await path_account(request)
    found = await api(request).readback.opt_outs(account)
    return json_response(
        {
            "opt_outs": [
                {"recipient": recipient, "sender": scope, "date": iso8601(at)}
                for recipient, scope, at in found
            ]
        }
    )


# --- carriers ------------------------------------------------------------------------------


async def carriers(request: Request) -> Response:
    """Every carrier and bind (`textrelay carriers`), of every serving process of `serve
    --processes`. Server-wide state: the operator's, and in emulator mode the server's main
    account's (403/20403 for the others)."""
    await require_server_wide(request, "The carriers' state")
    return json_response(
        {"carriers": [carrier_state_json(s) for s in api(request).carrier_records.states()]}
    )


async def message_carrier(request: Request) -> Response:
    """Which carrier took a message, under which references, what receipts came, and the
    PDUs (or HTTP exchanges) behind them."""
    account = await path_account(request)
    record = await api(request).carrier_records.of_message(account, request.path_params["sid"])
    return json_response(
        {
            "carrier": record.carrier,
            "references": [
                {
                    "carrier": r.carrier,
                    "reference": r.reference,
                    "part": r.part,
                    "parts": r.parts,
                    "submitted_at": None if r.submitted_at is None else iso8601(r.submitted_at),
                    "receipt_status": None if r.receipt_status is None else r.receipt_status.value,
                    "receipt_error": r.receipt_error,
                    "receipt_detail": r.receipt_detail,
                    "receipt_at": None if r.receipt_at is None else iso8601(r.receipt_at),
                }
                for r in record.references
            ],
            "exchanged": [
                {
                    "carrier": carrier,
                    "direction": pdu.direction.value,
                    "command": pdu.command,
                    "status": pdu.status,
                    "fields": dict(pdu.fields),
                    "at": None if pdu.at is None else iso8601(pdu.at),
                }
                for carrier, pdu in record.exchanged
            ],
        }
    )


def carrier_state_json(state: CarrierState) -> dict[str, Any]:
    return {
        "name": state.name,
        "type": state.kind,
        "up": state.up,
        "counters": dict(state.counters),
        "binds": [
            {
                "name": b.name,
                "bound": b.bound,
                "in_flight": b.in_flight,
                "submitted": b.submitted,
                "received": b.received,
                "throughput_per_s": b.throughput_per_s,
                "last_error": b.last_error,
                "process": b.process,
            }
            for b in state.binds
        ],
    }
