"""What the console's pages are made with: the services they read and act through, the
template environment and its filters, and the helpers that read forms and query strings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request

from textrelay.domain.accounts import Account
from textrelay.domain.dates import iso8601
from textrelay.domain.media import Media
from textrelay.domain.messages import Message
from textrelay.domain.messaging_services import PoolSender
from textrelay.services.accounts import AccountService
from textrelay.services.callbacks import CallbackService
from textrelay.services.carrier_records import CarrierRecords
from textrelay.services.console_sessions import ConsoleSessionService
from textrelay.services.context import Clock, Signal
from textrelay.services.delivery import DeliveryService
from textrelay.services.inbound import InboundService
from textrelay.services.media import MediaService
from textrelay.services.message_log import MessageLogService, Visible
from textrelay.services.messages import MessageService
from textrelay.services.messaging_services import MessagingServiceRegistry
from textrelay.services.operator import OperatorAccess
from textrelay.services.phone_numbers import PhoneNumberService
from textrelay.services.readback import ReadbackService
from textrelay.services.retention import RetentionService
from textrelay.services.simulator import SimulatorService


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    """The services the console works through: the API's own, plus the message log."""

    accounts: AccountService
    messages: MessageService
    numbers: PhoneNumberService
    messaging_services: MessagingServiceRegistry
    delivery: DeliveryService
    callbacks: CallbackService
    inbound: InboundService
    media: MediaService
    readback: ReadbackService
    simulator: SimulatorService
    sessions: ConsoleSessionService
    log: MessageLogService
    carrier_records: CarrierRecords
    clock: Clock
    changes: Signal
    """Raised after any commit in this process that changed a message."""
    operator: OperatorAccess
    """Whether the test bench is open to accounts (gateway mode: no)."""
    retention: RetentionService
    """Only read: the account page says how long messages are kept."""


def templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["when"] = _when
    environment.filters["clock"] = _clock
    return environment


def page_of(account: Account, found: Visible) -> str:
    """The console page that shows a resource."""
    if isinstance(found, Account):
        if found.sid == account.sid:
            return "/console/account"
        return f"/console/account?account={found.sid}"
    if isinstance(found, Message):
        return f"/console/messages/{found.sid}"
    if isinstance(found, Media):
        return f"/console/messages/{found.message_sid}#media"
    if isinstance(found, PoolSender):
        return f"/console/account#{found.service_sid}"
    return f"/console/account#{found.sid}"


def live_template(request: Request, page: str, region: str) -> str:
    """A live page's template: the whole `page`, or only its changing `region` when the page's
    script fetches it again with `?partial=1` (static/console.js)."""
    return region if request.query_params.get("partial") else page


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def day_of(text: str | None, *, next_day: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if next_day else day


def _when(moment: datetime | None) -> str:
    return "" if moment is None else iso8601(moment).replace("T", " ").removesuffix("Z")


def _clock(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%H:%M:%S")


def _template_source(name: str) -> str:
    return (resources.files("textrelay.console") / "templates" / name).read_text()
