"""Jobs: the units of work the queue holds, one kind per promised side effect, each with one
payload type and its one JSON mapping.

The JSON keys are stored in the `jobs` table and read back by whichever release of textrelay
runs the job: they change only with a migration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from textrelay.domain.lifecycle import PlannedEvent, Submission
from textrelay.domain.statuses import MessageStatus


class JobKind(StrEnum):
    DISPATCH = "dispatch"
    """Hand a queued message to the carrier."""
    CARRIER = "carrier"
    """Apply the carrier's next planned status change (the simulator's delivery reports)."""
    CALLBACK = "callback"
    """POST one status callback."""
    INBOUND = "inbound"
    """Call the app's webhook for an incoming message and carry out its TwiML."""
    AUTO_REPLY = "auto_reply"
    """Send Twilio's default answer to STOP, START or HELP."""


Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Submit the job's message to the carrier."""

    kind: ClassVar[JobKind] = JobKind.DISPATCH
    refusals: int = 0
    """Temporary refusals by live carriers so far, against the carrier's `submit_retries`
    (busy and unreachable carriers are not counted: the validity period bounds those)."""

    def to_json(self) -> dict[str, Any]:
        return {"refusals": self.refusals} if self.refusals else {}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Dispatch:
        return cls(refusals=int(data.get("refusals", 0)))


@dataclass(frozen=True, slots=True)
class CarrierReports:
    """The status changes a carrier planned for the message and has not reported yet."""

    kind: ClassVar[JobKind] = JobKind.CARRIER
    events: tuple[PlannedEvent, ...]
    price: str | None = None
    price_unit: str | None = None
    manual: bool = False
    """Each change waits for a step command instead of its delay."""

    @classmethod
    def of(cls, submission: Submission) -> CarrierReports:
        return cls(submission.events, submission.price, submission.price_unit, submission.manual)

    def to_json(self) -> dict[str, Any]:
        return {
            "events": [
                {"status": e.status.value, "error_code": e.error_code, "delay_ms": e.delay_ms}
                for e in self.events
            ],
            "price": self.price,
            "price_unit": self.price_unit,
            "manual": self.manual,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CarrierReports:
        return cls(
            events=tuple(
                PlannedEvent(MessageStatus(e["status"]), e.get("error_code"), e["delay_ms"])
                for e in data.get("events", ())
            ),
            price=data.get("price"),
            price_unit=data.get("price_unit"),
            manual=bool(data.get("manual", False)),
        )


@dataclass(frozen=True, slots=True)
class StatusCallback:
    """POST one status callback (or resend a recorded webhook), signed when it goes; then
    the callbacks in `later`, in order: a transaction that moves a message through several
    statuses (sending → sent → delivered at once) promises their callbacks as one job."""

    kind: ClassVar[JobKind] = JobKind.CALLBACK
    account_sid: str
    url: str
    params: Params
    token: str
    """I-Twilio-Idempotency-Token: the same on every retry of this callback."""
    label: str = "status_callback"
    """What the console calls it: `status_callback`, or a resent webhook's kind."""
    method: str = "POST"
    later: tuple[tuple[Params, str], ...] = ()
    """The callbacks that follow this one to the same URL: (params, token) each."""

    def steps(self) -> tuple[tuple[Params, str], ...]:
        """Every callback of the job, in order: (params, idempotency token)."""
        return ((self.params, self.token), *self.later)

    def from_step(self, index: int) -> StatusCallback:
        """The job's callbacks from the `index`th (0-based) on."""
        steps = self.steps()[index:]
        return replace(self, params=steps[0][0], token=steps[0][1], later=steps[1:])

    def followed_by(self, then: StatusCallback) -> StatusCallback:
        """This job's callbacks, then `then`'s (to the same URL, by the same method)."""
        return replace(self, later=(*self.later, *then.steps()))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "account_sid": self.account_sid,
            "url": self.url,
            "params": self.params,
            "token": self.token,
            "kind": self.label,
            "method": self.method,
        }
        if self.later:
            data["later"] = [[params, token] for params, token in self.later]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusCallback:
        return cls(
            account_sid=str(data["account_sid"]),
            url=str(data["url"]),
            params=_params(data["params"]),
            token=str(data["token"]),
            label=str(data.get("kind", "status_callback")),
            method=str(data.get("method", "POST")),
            later=tuple((_params(params), str(token)) for params, token in data.get("later", ())),
        )


@dataclass(frozen=True, slots=True)
class InboundWebhook:
    """Call the app's webhook for an incoming message, with its fallback."""

    kind: ClassVar[JobKind] = JobKind.INBOUND
    account_sid: str
    url: str
    method: str
    fallback_url: str | None
    fallback_method: str
    params: Params
    token: str

    def to_json(self) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "url": self.url,
            "method": self.method,
            "fallback_url": self.fallback_url,
            "fallback_method": self.fallback_method,
            "params": self.params,
            "token": self.token,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InboundWebhook:
        return cls(
            account_sid=str(data["account_sid"]),
            url=str(data["url"]),
            method=str(data["method"]),
            fallback_url=data.get("fallback_url") or None,
            fallback_method=str(data.get("fallback_method") or "POST"),
            params=_params(data["params"]),
            token=str(data["token"]),
        )


@dataclass(frozen=True, slots=True)
class AutoReply:
    """Send Twilio's default answer to STOP, START or HELP."""

    kind: ClassVar[JobKind] = JobKind.AUTO_REPLY
    account_sid: str
    to: str
    from_: str
    body: str

    def to_json(self) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "to": self.to,
            "from": self.from_,
            "body": self.body,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AutoReply:
        return cls(str(data["account_sid"]), str(data["to"]), str(data["from"]), str(data["body"]))


JobPayload = Dispatch | CarrierReports | StatusCallback | InboundWebhook | AutoReply

_PAYLOADS: dict[JobKind, type[JobPayload]] = {
    payload.kind: payload
    for payload in (Dispatch, CarrierReports, StatusCallback, InboundWebhook, AutoReply)
}


def payload_from_json(kind: JobKind, data: Mapping[str, Any]) -> JobPayload:
    return _PAYLOADS[kind].from_json(data)


WEBHOOK_KINDS = frozenset({JobKind.CALLBACK, JobKind.INBOUND})
"""Jobs that wait on somebody else's HTTP server: the runner gives them a budget of their own
and shares it out by host, so a slow receiver never holds back sending (the other kinds)."""


def webhook_host(payload: JobPayload) -> str | None:
    """The host a webhook job calls, `host:port` of its URL in lower case (a fallback URL is
    not counted); None for the other kinds."""
    if not isinstance(payload, StatusCallback | InboundWebhook):
        return None
    netloc = urlsplit(payload.url).netloc.rpartition("@")[2]
    return netloc.lower() or payload.url


@dataclass(frozen=True, slots=True)
class Job:
    seq: int
    kind: JobKind
    message_sid: str | None
    payload: JobPayload
    attempts: int
    claim: str
    """The token of the claim that leased it; only its holder may finish or reschedule it."""
    host: str | None = None
    """A webhook job's `webhook_host`, as stored when it was inserted (the claim shares out
    webhook slots by it); None for the other kinds, and for jobs stored before hosts were."""

    def payload_as(self, expected: type[P]) -> P:
        """The payload, which a handler knows the type of by the job's kind."""
        if not isinstance(self.payload, expected):
            raise TypeError(f"job {self.seq} ({self.kind}) carries {type(self.payload).__name__}")
        return self.payload


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A job not yet done, as the control API lists it."""

    message_sid: str | None
    kind: JobKind
    parked: bool
    """Waiting for a step command (manual mode): it does not run by itself."""


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """The jobs of one kind not yet done, as the metrics show them."""

    kind: JobKind
    waiting: int
    """Due now or later, not claimed."""
    running: int
    """Claimed by a worker."""
    parked: int
    """Waiting for a step command (manual mode)."""
    oldest_due_at: datetime | None
    """The earliest due time of the waiting ones: how long the oldest has waited, if past."""


P = TypeVar("P", Dispatch, CarrierReports, StatusCallback, InboundWebhook, AutoReply)


def _params(data: Any) -> Params:
    return tuple((str(name), str(value)) for name, value in data)
