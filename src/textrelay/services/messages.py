"""Messages: create, fetch, list, redact, cancel and delete.

Rules: shared/twilio/api-core.md §2.2 and §4.2; messaging-and-webhooks.md §2, §3, §7, §8, §11.
Twilio does not document the order in which it checks a request with several faults; textrelay
follows the one observed (an empty POST answers 21603 before 21604) and then reads the request
top to bottom: addresses, content, options.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from textrelay.domain import errors, magic, opt_out
from textrelay.domain.accounts import Account
from textrelay.domain.addresses import (
    DEFAULT_REGION,
    Address,
    AddressError,
    AddressKind,
    parse_recipient,
    parse_sender,
    region_of,
    segments_on,
)
from textrelay.domain.dates import TimeSpan
from textrelay.domain.jobs import Dispatch, JobKind
from textrelay.domain.messages import Message, MessageFilter, SendOptions
from textrelay.domain.messaging_services import MessagingServiceResource, ServiceSettings
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.segments import MAX_BODY_CHARACTERS, body_length
from textrelay.domain.sids import MESSAGE_SID_TYPES, SidType, is_sid
from textrelay.domain.smart_encoding import smart_encode
from textrelay.domain.statuses import CANCELABLE, IN_FLIGHT, Direction, MessageStatus
from textrelay.services.backlog_limit import BacklogLimit, backlogs_reader
from textrelay.services.callbacks import promise_status_callback
from textrelay.services.context import ServiceContext
from textrelay.services.media import MediaService
from textrelay.services.messaging_services import MessagingServiceRegistry
from textrelay.services.owned import get_owned
from textrelay.services.phone_numbers import PhoneNumberService
from textrelay.services.queue_limit import QueueLimit

MAX_MEDIA = 10
MAX_VALIDITY_PERIOD_S = 36000


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """A create request in textrelay's names, as the API parsed it from the form."""

    to: str | None
    from_: str | None = None
    messaging_service_sid: str | None = None
    body: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    options: SendOptions = field(default_factory=SendOptions)
    """Everything else the request asks of delivery (media URLs, callback, validity…)."""


@dataclass(frozen=True, slots=True)
class MessageListFilter:
    to: str | None = None
    from_: str | None = None
    date_sent: TimeSpan | None = None
    date_sent_before: TimeSpan | None = None
    """`DateSent<`: sent on or before this span."""
    date_sent_after: TimeSpan | None = None
    """`DateSent>`: sent on or after this span."""


@dataclass(frozen=True, slots=True)
class ScheduleWindow:
    """How far ahead SendAt may be: Twilio's 15 minutes to 35 days by default (settings
    schedule_min_ahead_s and schedule_max_ahead_s, so tests need not wait 15 minutes)."""

    min_ahead_s: int = 900
    max_ahead_s: int = 35 * 86_400


def _with_service_defaults(options: SendOptions, settings: ServiceSettings) -> SendOptions:
    """The service's StatusCallback and ValidityPeriod where the request gave none."""
    changes: dict[str, object] = {}
    if options.status_callback is None and settings.status_callback:
        changes["status_callback"] = settings.status_callback
    if options.validity_period_s is None and settings.validity_period:
        changes["validity_period_s"] = settings.validity_period
    return replace(options, **changes) if changes else options  # type: ignore[arg-type]


def is_web_url(url: str, *, allow_underscore_host: bool = True) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return allow_underscore_host or "_" not in parts.hostname


class MessageService:
    def __init__(
        self,
        ctx: ServiceContext,
        numbers: PhoneNumberService,
        services: MessagingServiceRegistry,
        media: MediaService,
        *,
        auto_provision_senders: bool = False,
        schedule: ScheduleWindow | None = None,
        queue_limit: int | None = None,
        backlog_limit: int | None = None,
        submit_at_create: Callable[[Message], Awaitable[bool]] | None = None,
    ) -> None:
        self._ctx = ctx
        self._submit_at_create = submit_at_create
        """Inserts a new queued message already submitted, when nothing but the carrier's
        answer decides its dispatch (DeliveryService.submit_at_create); False: not inserted."""
        self._queue = QueueLimit(ctx, queue_limit)
        self._backlog = BacklogLimit(backlogs_reader(ctx), backlog_limit)
        self._numbers = numbers
        self._services = services
        self._media = media
        self._auto_provision = auto_provision_senders
        self._schedule = schedule or ScheduleWindow()

    # --- create ----------------------------------------------------------------------------

    async def create(
        self,
        account: Account,
        request: MessageRequest,
        *,
        direction: Direction = Direction.OUTBOUND_API,
        honour_opt_outs: bool = True,
    ) -> Message:
        """Create an outbound message: the API's (`outbound-api`) or a TwiML reply's
        (`outbound-reply`). Auto-replies to STOP/START/HELP skip the opt-out check. The API's
        creates are refused 429 while the account's backlog is full; replies, part of work
        already accepted, are not."""
        if direction is Direction.OUTBOUND_API:
            await self._backlog.admit(account.sid)
        if not request.from_ and not request.messaging_service_sid:
            raise errors.FromRequired()
        if not request.to:
            raise errors.ToRequired()
        body = request.body or ""
        options = request.options
        if not body and not options.media_urls and not options.content_sid:
            raise errors.MessageBodyRequired()
        if body_length(body) > MAX_BODY_CHARACTERS:
            raise errors.BodyTooLong()
        _check_media(options.media_urls)

        sender = await self._sender(account, request.from_) if request.from_ else None
        region = (sender and sender.number and region_of(sender.number)) or DEFAULT_REGION
        recipient = _recipient(request.to, region)
        _check_options(request)
        service = await self._service(account, request.messaging_service_sid, sender)
        if honour_opt_outs:
            await self._refuse_opted_out(recipient.value, sender, service)
        scheduled = options.schedule_type is not None or options.send_at is not None
        if scheduled and service is None:
            raise errors.SchedulingRequiresService()

        now = self._ctx.now()
        if options.send_at is not None:
            self._check_send_at(options.send_at, now)
        if service is not None:
            options = _with_service_defaults(options, service.settings)
            if service.settings.smart_encoding:
                options = replace(options, smart_encoded=True)
        if options.smart_encoded:
            body = smart_encode(body)
        # A service send without From waits for a sender (`accepted`); a scheduled one for its
        # time (`scheduled`); both show no From and no segments yet (messaging-and-webhooks §2).
        if scheduled:
            status, due = MessageStatus.SCHEDULED, options.send_at or now
            if sender is not None:
                options = replace(options, pinned_from=sender.value)
        elif service is not None and sender is None:
            status, due = MessageStatus.ACCEPTED, now
        else:
            status, due = MessageStatus.QUEUED, now
        if status is not MessageStatus.SCHEDULED and await self._queue.overflows(account.sid):
            options = replace(options, queue_overflow=True)
        shown_from = sender.value if sender is not None and status is MessageStatus.QUEUED else None
        sid_type = SidType.MMS_MESSAGE if options.media_urls else SidType.MESSAGE
        segments = 0 if shown_from is None else segments_on(recipient.channel, body)
        message = Message(
            sid=self._ctx.sids.new(sid_type),
            account_sid=account.sid,
            direction=direction,
            status=status,
            from_=shown_from,
            to=recipient.value,
            body=body,
            num_segments=segments,
            num_media=len(options.media_urls),
            date_created=now,
            date_updated=now,
            messaging_service_sid=service.sid if service is not None else None,
            tags=request.tags,
            options=options,
        )
        if self._submit_at_create is not None and await self._submit_at_create(message):
            self._queue.never_queued(account.sid)
            return message  # as created: the answer to a create says `queued`, as Twilio's
        # The outbox: the message and the job that sends it commit together.
        async with self._ctx.store.single_statement() as repo:
            await repo.messages.insert_with_job(message, Dispatch(), due_at=due, now=now)
        return message

    async def _service(
        self, account: Account, sid: str | None, sender: Address | None
    ) -> MessagingServiceResource | None:
        """The service a create names, checked: it exists in this account (21701), a From
        given with it is in its pool (21606), and without a From the pool is not empty."""
        if sid is None:
            return None
        service = await self._services.find(account, sid)
        if service is None:
            raise errors.MessagingServiceNotFound(sid)
        pool = await self._services.pool_addresses(service.sid)
        if not pool:
            raise errors.MessagingServicePoolEmpty()
        if (
            sender is not None
            and sender.value not in pool
            and sender.value != magic.MAGIC_SENDER_OK
        ):
            raise errors.FromNotInServicePool(sender.value)
        return service

    async def _refuse_opted_out(
        self,
        recipient: str,
        sender: Address | None,
        service: MessagingServiceResource | None,
    ) -> None:
        """21610 for a recipient who texted STOP to this sender, or to any number of the
        service the sender is in (messaging-and-webhooks.md §6). Until anyone has opted out,
        there is nothing to probe; an opt-out another process records in the second before
        is still refused at send time (services/delivery), as a failed message."""
        if not await self._ctx.opt_outs.any(self._any_opt_outs):
            return
        async with self._ctx.store.read() as repo:
            scopes = await repo.opt_outs.scopes_of(recipient)
            if not scopes:
                return  # the usual case: one index probe
            pooled = await repo.senders.find_address(sender.value) if sender is not None else None
        candidates = opt_out.sender_scopes(
            sender.value if sender is not None else None,
            service.sid if service is not None else None,
            pooled.service_sid if pooled is not None else None,
        )
        if scopes & candidates:
            raise errors.RecipientUnsubscribed()

    async def _any_opt_outs(self) -> bool:
        async with self._ctx.store.read() as repo:
            return await repo.opt_outs.any()

    def _check_send_at(self, send_at: datetime, now: datetime) -> None:
        ahead_s = (send_at - now).total_seconds()
        if ahead_s < self._schedule.min_ahead_s:
            raise errors.SendAtTooSoon(self._schedule.min_ahead_s)
        if ahead_s > self._schedule.max_ahead_s:
            raise errors.SendAtTooLate(self._schedule.max_ahead_s)

    async def _sender(self, account: Account, text: str) -> Address:
        try:
            sender = parse_sender(text)
        except AddressError:
            raise errors.InvalidFromNumber(text) from None
        if sender.number is not None:
            magic.check_sender(sender.number)
            if sender.number == magic.MAGIC_SENDER_OK:
                return sender
        match sender.kind:
            case AddressKind.PHONE_NUMBER | AddressKind.WHATSAPP:
                assert sender.number is not None
                await self._require_owned(account, sender.number, text)
            case AddressKind.SHORT_CODE:
                owner = await self._services.short_code_owner(sender.value)
                if owner is None:
                    raise errors.FromNotOwned(text)
                if owner != account.sid:
                    raise errors.FromAccountMismatch(text)
            case AddressKind.ALPHANUMERIC | AddressKind.MESSENGER:
                pass  # accepted as Twilio accepts them for enabled accounts (compatibility.md)
        return sender

    async def _require_owned(self, account: Account, e164: str, text: str) -> None:
        owner = await self._numbers.owner_of(e164)
        if owner is not None:
            if owner != account.sid:
                raise errors.FromAccountMismatch(text)
            return
        if self._auto_provision:
            try:
                await self._numbers.provision(account, phone_number=e164, area_code=None)
                return
            except errors.TwilioError:
                pass  # not provisionable (a magic number, or taken meanwhile): refuse below
        raise errors.FromNotOwned(text)

    # --- read ------------------------------------------------------------------------------

    async def get(self, account: Account, sid: str) -> Message:
        return await get_owned(
            self._ctx, account, sid, lambda repo: repo.messages, *MESSAGE_SID_TYPES
        )

    async def list(
        self, account: Account, query: PageQuery, filters: MessageListFilter
    ) -> PageResult[Message]:
        lower, upper = [], []
        if filters.date_sent is not None:
            lower.append(filters.date_sent.start)
            upper.append(filters.date_sent.end)
        if filters.date_sent_after is not None:
            lower.append(filters.date_sent_after.start)
        if filters.date_sent_before is not None:
            upper.append(filters.date_sent_before.end)
        store_filter = MessageFilter(
            to=filters.to,
            from_=filters.from_,
            date_sent_from=max(lower) if lower else None,
            date_sent_until=min(upper) if upper else None,
        )
        async with self._ctx.store.read() as repo:
            return await repo.messages.page(account.sid, query, store_filter)

    # --- update and delete -----------------------------------------------------------------

    async def update(
        self, account: Account, sid: str, *, body: str | None, status: str | None
    ) -> Message:
        """Redact (`Body=""`) or cancel (`Status=canceled`); anything else is 30400."""
        if (body is None) == (status is None):
            raise errors.MessageUpdateInvalid()
        message = await self.get(account, sid)
        now = self._ctx.now()
        if body is not None:
            if body != "":
                raise errors.MessageUpdateInvalid()
            if message.status in IN_FLIGHT:
                raise errors.MessageUpdateInvalid(
                    "Parameters are not valid: a message can be redacted once it is complete"
                )
            updated = replace(message, body="", date_updated=now)
        else:
            if status != MessageStatus.CANCELED.value:
                raise errors.MessageUpdateInvalid()
            if message.status not in CANCELABLE:
                raise errors.MessageNotCancelable()
            updated = replace(message, status=MessageStatus.CANCELED, date_updated=now)
        async with self._ctx.store.transaction() as repo:
            if updated.status is message.status:
                await repo.messages.update(updated)
            else:
                if not await repo.messages.transition(updated, from_status=message.status):
                    raise errors.MessageNotCancelable()
                await repo.events.insert(
                    updated.sid, updated.status, None, now, previous=message.status
                )
                await promise_status_callback(repo, updated, now=now)
                await repo.jobs.drop_pending(updated.sid, JobKind.DISPATCH)
        return updated

    async def delete(self, account: Account, sid: str) -> None:
        message = await self.get(account, sid)
        if message.status in IN_FLIGHT:
            raise errors.DeleteBeforeComplete()
        async with self._ctx.store.transaction() as repo:
            media = await repo.media.of_message(message.sid)
            await repo.messages.delete(message)
        await self._media.forget_files([m.sid for m in media])


def _recipient(to: str, region: str) -> Address:
    try:
        recipient = parse_recipient(to, region)
    except AddressError:
        raise errors.InvalidToNumber(to) from None
    if recipient.number is not None:
        magic.check_recipient(recipient.number)
    return recipient


def _check_media(urls: tuple[str, ...]) -> None:
    if len(urls) > MAX_MEDIA:
        raise errors.TooManyMedia()
    bad = [url for url in urls if not is_web_url(url)]
    if bad:
        raise errors.InvalidMediaUrl(bad)


def _check_options(request: MessageRequest) -> None:
    options = request.options
    if options.status_callback is not None and not is_web_url(
        options.status_callback, allow_underscore_host=False
    ):
        raise errors.InvalidStatusCallback(options.status_callback)
    period = options.validity_period_s
    if period is not None and not 1 <= period <= MAX_VALIDITY_PERIOD_S:
        raise errors.InvalidValidityPeriod()
    if options.content_variables is not None and options.content_sid is None:
        raise errors.ContentSidRequired()
    if options.content_sid is not None and not is_sid(options.content_sid, SidType.CONTENT):
        raise errors.InvalidContentSid()
    service = request.messaging_service_sid
    if service is not None and not is_sid(service, SidType.MESSAGING_SERVICE):
        raise errors.MessagingServiceInvalid(service)
    if options.schedule_type is not None and options.schedule_type != "fixed":
        raise errors.ScheduleTypeUnsupported()
    if options.schedule_type == "fixed" and options.send_at is None:
        raise errors.SendAtMissing()
