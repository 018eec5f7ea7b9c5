"""Outbound delivery: hand queued messages to the carrier and apply the statuses it reports.

Every status change commits, in one transaction, the new status, its history row, the callback
job it promises (when the message has a StatusCallback) and the completion of the job that
caused it (shared/DESIGN.md §4; STYLE.md rule 8). A worker that dies before that commit leaves
its job to be taken again when the lease ends, so a change is applied at least once and, thanks
to the status check in the same transaction, never twice.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from textrelay.domain import codes, errors
from textrelay.domain.addresses import (
    Channel,
    channel_of,
    segments_on,
    session_open,
)
from textrelay.domain.carriers import (
    Accepted,
    Direction,
    ExchangedPdu,
    Rejected,
    combined_outcome,
)
from textrelay.domain.jobs import CarrierReports, Dispatch, Job, JobKind, JobPayload
from textrelay.domain.lifecycle import (
    FINAL_STATUSES,
    IllegalTransition,
    PlannedEvent,
    advance,
    path_to,
)
from textrelay.domain.media import MediaFailure
from textrelay.domain.messages import Message
from textrelay.domain.statuses import MessageStatus
from textrelay.services import log_context
from textrelay.services.callbacks import promise_status_callback
from textrelay.services.carriers import CarrierSet, Routed
from textrelay.services.context import ServiceContext
from textrelay.services.errors import ChangeNotApplied
from textrelay.services.media import MediaService
from textrelay.services.sender_choice import choose_from_pool, opted_out
from textrelay.storage import Repository

log = logging.getLogger(__name__)

STEP_LEASE_S = 30.0


class LeaseLost(Exception):
    """Another worker holds this job now; this worker's work on it is void."""


class StaleMessage(Exception):
    """The message changed (canceled, deleted…) since it was read; nothing to apply."""


@dataclass(frozen=True, slots=True)
class StepResult:
    message: Message
    applied: tuple[MessageStatus, ...]


class DeliveryService:
    def __init__(
        self,
        ctx: ServiceContext,
        carriers: CarrierSet,
        media: MediaService,
        *,
        log_bodies: bool = False,
        submit_at_create: bool = False,
    ) -> None:
        self._ctx = ctx
        self._carriers = carriers
        self._media = media
        self._log_bodies = log_bodies
        self._submit_at_create = submit_at_create
        """This process runs the workers, and may hand a new message to the simulator in
        its create (submit_at_create); without them it only queues."""

    # --- at create -------------------------------------------------------------------------

    async def submit_at_create(self, message: Message) -> bool:
        """Insert a new `queued` message already handed to the simulator, in one transaction,
        when its dispatch would need nothing but the simulator's answer: no live carrier to
        call, no media to fetch, no session window to look up, no queue overflow to fail
        with. What the dispatch job would apply at once is applied here, and the rest of the
        plan is its carrier job, exactly as the dispatch job would leave them; the create
        answers with the message as created. False when this server does not submit at create
        (its workers run elsewhere, or a carriers file is loaded) or the message needs its
        dispatch job: nothing was written (docs/design.md, "The simulator answers at
        create")."""
        if not self._submit_at_create or self._carriers.live or not self._submittable(message):
            return False
        routed = await self._carriers.submit(message)  # the simulator: no I/O
        answer = routed.answer
        submission = answer.plan if isinstance(answer, Accepted) else None
        if submission is None or not submission.events:
            # (The simulator always plans.) Twilio's magic sender stays queued for good: its
            # dispatch job, finished with nothing to apply, says so as it always has.
            return False
        self._log_submitted(message, routed)
        reports = CarrierReports.of(submission)
        now = self._ctx.clock()
        jobs: list[tuple[JobPayload, datetime | None]] = []
        # One statement on PostgreSQL: the history rows ride with the message's INSERT, and
        # the jobs take its seq from it.
        async with self._ctx.store.single_statement() as repo:
            if submission.manual:
                jobs.append((reports, None))  # parked until a step
                settled, created_as = message, None
            else:
                sent = await self._apply(repo, message, MessageStatus.SENDING, None, None)
                settled, rest = await self._apply_due_events(repo, sent, reports, False)
                created_as = message.status
                if rest is not None:
                    due = now + timedelta(milliseconds=rest.events[0].delay_ms)
                    jobs.append((rest, due))
            jobs += [(callback, due) for _sid, callback, due in repo.jobs.take_promised()]
            await repo.messages.insert_with_jobs(settled, jobs, now=now, created_as=created_as)
        return True

    def _submittable(self, message: Message) -> bool:
        """Whether a new message's dispatch would check nothing but the carrier's answer."""
        return (
            message.status is MessageStatus.QUEUED
            and not message.options.queue_overflow
            and not message.options.media_urls
            and not _needs_session_window(message)
        )

    # --- jobs ------------------------------------------------------------------------------

    async def dispatch(self, job: Job) -> None:
        """A `dispatch` job: submit the message and apply what can be applied at once."""
        message = await self._message_of(job)
        if message is not None and message.status in _WAITING_FOR_SENDER:
            try:
                message = await self._assign_sender(job, message)
            except (LeaseLost, StaleMessage):
                await self._finish(job)
                return
        if message is None or message.status is not MessageStatus.QUEUED:
            await self._finish(job)
            return
        if message.options.queue_overflow:
            await self.fail_queued(job, message, codes.QUEUE_OVERFLOW.code)
            return
        if self._expired(message):
            await self.fail_queued(job, message, codes.VALIDITY_EXPIRED.code)
            return
        if await self._outside_session_window(message):
            await self.fail_queued(job, message, codes.SESSION_WINDOW_CLOSED.code)
            return
        if message.options.media_urls:
            taken = await self._media.take_outbound(message)
            if isinstance(taken, MediaFailure):
                log.info("%s: media refused: %s", message.sid, taken.message)
                await self.fail_queued(job, message, taken.code)
                return
        # A crash after a live carrier's answer and before its commit leaves the message
        # queued: a receipt under the lost reference finds it by its addresses.
        routed = await self._carriers.submit(message)
        answer = routed.answer
        self._log_submitted(message, routed)
        if isinstance(answer, Rejected):
            await self._refused(job, message, routed, answer)
            return
        if answer.plan is None:
            await self._taken(job, message, routed, answer)
            return
        submission = answer.plan
        if not submission.events:
            await self._finish(job)  # the carrier keeps it queued (Twilio's magic sender)
            return
        reports = CarrierReports.of(submission)
        # The usual case writes without reading: one statement on PostgreSQL.
        usual = not (routed.refused_first or routed.held_back or submission.manual)
        store = self._ctx.store
        try:
            async with store.one_statement_change() if usual else store.transaction() as repo:
                if not await repo.jobs.finish(job):
                    raise LeaseLost
                if routed.refused_first:  # live carriers refused it before the simulator
                    await self._carriers.record_routed(repo, message.sid, routed)
                if routed.held_back:
                    await repo.carrier_log.record(message.sid, routed.carrier, (_HELD_BACK,))
                if submission.manual:
                    await self._insert_carrier_job(repo, message, reports, delay_ms=None)
                    # Still queued? (A cancel may have come first.)
                    await self._write_status(repo, message, was=MessageStatus.QUEUED)
                else:
                    queued = message.status
                    message = await self._apply(repo, message, MessageStatus.SENDING, None, None)
                    message = await self._report_due_events(repo, message, reports)
                    await self._write_status(repo, message, was=queued)
        except (LeaseLost, StaleMessage, ChangeNotApplied):
            await self._finish(job)

    async def _taken(self, job: Job, message: Message, routed: Routed, answer: Accepted) -> None:
        """A live carrier took the message: it is `sent`, under the carrier's references. A
        receipt that came before this commit is waiting under its reference and applies now.

        The job's lease is not required here: the carrier has the message, and recording that
        keeps a second worker (whose claim replaced this one) from submitting it again."""
        queued = message.status
        now = self._ctx.now()
        for _ in range(_STALE_RETRIES):
            try:
                async with self._ctx.store.transaction() as repo:
                    await repo.jobs.finish(job)
                    sent = await self._apply(repo, message, MessageStatus.SENDING, None, None)
                    sent = await self._apply(repo, sent, MessageStatus.SENT, None, None)
                    waiting = False
                    parts = len(answer.references)
                    for part, reference in enumerate(answer.references, start=1):
                        receipt = await repo.carrier_references.record_submitted(
                            routed.carrier, reference, message.sid, part=part, parts=parts, at=now
                        )
                        waiting = waiting or receipt is not None
                    await self._carriers.record_routed(repo, message.sid, routed)
                    if waiting:
                        sent = await self._settle_from_receipts(repo, sent)
                    await self._write_status(repo, sent, was=queued)
                return
            except StaleMessage:
                fresh = await self._message(message.sid)
                if fresh is None or fresh.status is not queued:
                    log.warning(
                        "%s: taken by %s but no longer queued (%s)",
                        message.sid,
                        routed.carrier,
                        None if fresh is None else fresh.status,
                    )
                    await self._finish(job)
                    return
                message = fresh

    async def _refused(self, job: Job, message: Message, routed: Routed, answer: Rejected) -> None:
        """No carrier took the message: try again later when the refusal is temporary (a busy
        carrier or one that is down does not count as an attempt; the message's validity period
        bounds the wait), else it fails with the carrier's code."""
        if answer.retry:
            refusals = job.payload_as(Dispatch).refusals
            if not (answer.slow_down or answer.unreachable):
                refusals += 1
            if refusals <= routed.submit_retries:
                due = self._ctx.clock() + timedelta(seconds=max(answer.retry_after_s, 0.05))
                async with self._ctx.store.transaction() as repo:
                    await self._carriers.record_routed(repo, message.sid, routed)
                    await repo.jobs.reschedule(replace(job, payload=Dispatch(refusals)), due_at=due)
                return
        log.info("%s: refused by %s: %s", message.sid, routed.carrier, answer.reason)

        async def record_refusal(repo: Repository) -> None:
            await self._carriers.record_routed(repo, message.sid, routed)

        # For a temporary refusal, its code is what the message fails with once retried out.
        await self.fail_queued(job, message, answer.error_code, also=record_refusal)

    async def _settle_from_receipts(
        self, repo: Repository, message: Message, outcome: Outcome | None = None
    ) -> Message:
        """Apply the outcome the receipts stored for the message's parts add up to, if any
        (`outcome`: already known, from the receipt of its only part)."""
        if outcome is None:
            # Part 0: an earlier submission whose answer a crash lost; the latest one decides.
            reports = [r for r in await repo.carrier_references.of_message(message.sid) if r.part]
            parts = max((report.parts for report in reports), default=1)
            outcome = combined_outcome(
                [(report.receipt_status, report.receipt_error) for report in reports], parts
            )
        if outcome is None or message.status in FINAL_STATUSES:
            return message
        status, error_code = outcome
        return await self._advance_to(
            repo, message, PlannedEvent(status, error_code), CarrierReports(())
        )

    async def apply_receipt_in(
        self, repo: Repository, message_sid: str, *, outcome: Outcome | None = None
    ) -> bool:
        """Inside a receipt's transaction: move the message to what its parts' receipts add
        up to (or to `outcome`, when its only part's receipt already says). False when
        nothing changed. Raises StaleMessage when the message changed under this transaction
        (the caller tries again)."""
        message = await repo.messages.get(message_sid)
        if message is None or message.status in FINAL_STATUSES:
            return False
        was = message.status
        settled = await self._settle_from_receipts(repo, message, outcome)
        if settled.status is was:
            return False
        await self._write_status(repo, settled, was=was)
        return True

    async def _assign_sender(self, job: Job, message: Message) -> Message:
        """An `accepted` or `scheduled` message gets its From (the one pinned at create, else
        the service's choice) and becomes `queued`, with its callback; or `failed` with 21703
        when no sender in the pool can reach the recipient."""
        async with self._ctx.store.transaction() as repo:
            sender = message.options.pinned_from or await choose_from_pool(repo, message)
            was = message.status
            refusal = None
            if sender is None:
                refusal = codes.NO_ELIGIBLE_SENDER.code
            elif await opted_out(repo, message, sender):
                # Checked again at send time: a STOP after scheduling still holds (§6).
                refusal = codes.RECIPIENT_UNSUBSCRIBED.code
            if refusal is not None:
                if not await repo.jobs.finish(job):
                    raise LeaseLost
                message = await self._apply(repo, message, MessageStatus.FAILED, refusal, None)
            else:
                segments = segments_on(channel_of(message.to), message.body)
                message = replace(message, from_=sender, num_segments=segments)
                message = await self._apply(repo, message, MessageStatus.QUEUED, None, None)
            await self._write_status(repo, message, was=was)
        return message

    async def _outside_session_window(self, message: Message) -> bool:
        """WhatsApp (and Messenger) free-form messages need the recipient to have written in
        the last 24 hours; a template (ContentSid) does not (messaging-and-webhooks.md §9)."""
        if not _needs_session_window(message):
            return False
        async with self._ctx.store.read() as repo:
            last = await repo.messages.last_inbound_at(
                message.account_sid, message.to, message.from_ or ""
            )
        return not session_open(last, at=self._ctx.clock())

    async def mark_read(self, message: Message) -> Message:
        """The handset read a WhatsApp message: `delivered` → `read`, with its callback."""
        if channel_of(message.to) is not Channel.WHATSAPP:
            raise errors.InvalidParameter("only WhatsApp messages are read (and say so)")
        if message.status is not MessageStatus.DELIVERED:
            raise errors.NothingToStep(message.sid, message.status.value)
        try:
            async with self._ctx.store.transaction() as repo:
                read = await self._apply(repo, message, MessageStatus.READ, None, None)
                await self._write_status(repo, read, was=message.status)
        except StaleMessage:
            raise errors.NothingToStep(message.sid, message.status.value) from None
        return read

    def _expired(self, message: Message) -> bool:
        """Still queued past its validity period, counted from SendAt for a scheduled one."""
        return self._ctx.clock() > message.valid_until

    async def fail_queued(
        self,
        job: Job,
        message: Message,
        error_code: int,
        *,
        also: Callable[[Repository], Awaitable[None]] | None = None,
    ) -> None:
        """The message fails with `error_code`, and its job is done, with `also` in the same
        transaction."""
        try:
            async with self._ctx.store.transaction() as repo:
                if not await repo.jobs.finish(job):
                    raise LeaseLost
                if also is not None:
                    await also(repo)
                failed = await self._apply(repo, message, MessageStatus.FAILED, error_code, None)
                await self._write_status(repo, failed, was=message.status)
        except (LeaseLost, StaleMessage):
            await self._finish(job)

    async def carrier_event(self, job: Job) -> None:
        """A `carrier` job: the next status change the carrier reported for the message."""
        message = await self._message_of(job)
        if message is None or message.status in FINAL_STATUSES:
            await self._finish(job)
            return
        reports = job.payload_as(CarrierReports)
        if reports.manual:
            # A parked job whose step command died mid-way: park it again.
            async with self._ctx.store.transaction() as repo:
                await repo.jobs.reschedule(job, due_at=None)
            return
        try:
            async with self._ctx.store.one_statement_change() as repo:
                if not await repo.jobs.finish(job):
                    raise LeaseLost
                was = message.status
                message = await self._report_due_events(repo, message, reports, first_is_due=True)
                await self._write_status(repo, message, was=was)
        except (LeaseLost, StaleMessage, ChangeNotApplied):
            await self._finish(job)

    async def _report_due_events(
        self,
        repo: Repository,
        message: Message,
        reports: CarrierReports,
        *,
        first_is_due: bool = False,
    ) -> Message:
        """Apply the planned events that are due now (those without a delay, and the first
        one when its job's time has come); the rest become one carrier job."""
        message, rest = await self._apply_due_events(repo, message, reports, first_is_due)
        if rest is not None:
            await self._insert_carrier_job(repo, message, rest, delay_ms=rest.events[0].delay_ms)
        return message

    async def _apply_due_events(
        self, repo: Repository, message: Message, reports: CarrierReports, first_is_due: bool
    ) -> tuple[Message, CarrierReports | None]:
        """The message after the due events (see _report_due_events), and the reports still
        to come, if any."""
        events = list(reports.events)
        while events and (first_is_due or events[0].delay_ms == 0):
            first_is_due = False
            message = await self._advance_to(repo, message, events.pop(0), reports)
        if events and message.status not in FINAL_STATUSES:
            return message, replace(reports, events=tuple(events))
        return message, None

    async def _write_status(
        self, repo: Repository, message: Message, *, was: MessageStatus
    ) -> None:
        """Write the message's new status once, after every change of this transaction,
        provided it is still in the status it had (a cancel or a step may have come first)."""
        if not await repo.messages.transition(message, from_status=was):
            raise StaleMessage

    async def _advance_to(
        self, repo: Repository, message: Message, event: PlannedEvent, reports: CarrierReports
    ) -> Message:
        """Apply `event`, passing through the statuses between (queued → sending → sent). A
        message still queued past its validity period fails with 30036 instead."""
        if message.status is MessageStatus.QUEUED and self._expired(message):
            event = PlannedEvent(MessageStatus.FAILED, codes.VALIDITY_EXPIRED.code)
        route = path_to(message.status, event.status)
        if not route:
            raise StaleMessage
        for status in route:
            final = status is event.status
            price = reports.price if status is MessageStatus.SENT else None
            message = await self._apply(
                repo,
                message,
                status,
                event.error_code if final else None,
                price,
                price_unit=reports.price_unit,
            )
        return message

    async def _apply(
        self,
        repo: Repository,
        message: Message,
        status: MessageStatus,
        error_code: int | None,
        price: str | None,
        *,
        price_unit: str | None = None,
    ) -> Message:
        """One status change: its history row and its callback job now; the message row is
        written once per transaction, by _write_status."""
        now = self._ctx.now()
        try:
            changed = advance(
                message, status, at=now, error_code=error_code, price=price, price_unit=price_unit
            )
        except IllegalTransition:
            raise StaleMessage from None
        await repo.events.insert(changed.sid, status, error_code, now, previous=message.status)
        await promise_status_callback(repo, changed, now=self._ctx.clock())
        return changed

    async def _insert_carrier_job(
        self,
        repo: Repository,
        message: Message,
        reports: CarrierReports,
        *,
        delay_ms: int | None,
    ) -> None:
        """The carrier's remaining reports, due after `delay_ms` (None: parked for a step)."""
        now = self._ctx.clock()
        due = None if delay_ms is None else now + timedelta(milliseconds=delay_ms)
        await repo.jobs.insert(message.sid, reports, due_at=due, now=now)

    # --- step (manual mode, and tests in any mode) -------------------------------------

    async def step(
        self,
        message: Message,
        *,
        outcome: MessageStatus | None = None,
        error_code: int | None = None,
    ) -> StepResult:
        """Apply the message's next planned status now, or go straight to `outcome`."""
        if message.status in FINAL_STATUSES:
            raise errors.NothingToStep(message.sid, message.status.value)
        if outcome is not None and not path_to(message.status, outcome):
            raise errors.StepUnreachable(message.status.value, outcome.value)
        claim = secrets.token_hex(8)
        now = self._ctx.clock()
        lease_until = now + timedelta(seconds=STEP_LEASE_S)
        before = message.status
        async with self._ctx.store.transaction() as repo:
            dispatch = await repo.jobs.take_pending(
                message.sid, JobKind.DISPATCH, claim=claim, lease_until=lease_until
            )
            carrier = await repo.jobs.take_pending(
                message.sid, JobKind.CARRIER, claim=claim, lease_until=lease_until
            )
        if dispatch is not None and carrier is None and outcome is None:
            # Not yet submitted: submit now, and run its plan's first step.
            await self.dispatch(dispatch)
            message = await self._message(message.sid) or message
            if message.status is not before:
                # Submitting was itself the step: a sender assigned (accepted → queued), or
                # a carrier that reports at once.
                return StepResult(message, _passed(before, message.status))
            async with self._ctx.store.transaction() as repo:
                carrier = await repo.jobs.take_pending(
                    message.sid, JobKind.CARRIER, claim=claim, lease_until=lease_until
                )
            if carrier is None:
                return StepResult(message, ())
        elif dispatch is not None:
            async with self._ctx.store.transaction() as repo:
                await repo.jobs.finish(dispatch)
        if outcome is None and carrier is None:
            raise errors.NothingToStep(message.sid, message.status.value)
        try:
            async with self._ctx.store.transaction() as repo:
                if carrier is not None and not await repo.jobs.finish(carrier):
                    raise LeaseLost
                was = message.status
                if outcome is not None:
                    code = error_code
                    if code is None and outcome is not MessageStatus.DELIVERED:
                        code = codes.UNKNOWN_ERROR.code
                    reports = (
                        carrier.payload_as(CarrierReports)
                        if carrier is not None
                        else CarrierReports(())
                    )
                    message = await self._advance_to(
                        repo, message, PlannedEvent(outcome, code), reports
                    )
                else:
                    assert carrier is not None
                    reports = carrier.payload_as(CarrierReports)
                    message = await self._advance_to(repo, message, reports.events[0], reports)
                    rest = reports.events[1:]
                    if rest and message.status not in FINAL_STATUSES:
                        due = None if reports.manual else rest[0].delay_ms
                        await self._insert_carrier_job(
                            repo, message, replace(reports, events=rest), delay_ms=due
                        )
                await self._write_status(repo, message, was=was)
        except (LeaseLost, StaleMessage):
            raise errors.NothingToStep(message.sid, message.status.value) from None
        return StepResult(message, _passed(before, message.status))

    # --- helpers ---------------------------------------------------------------------------

    def _log_submitted(self, message: Message, routed: Routed) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s: to %s, %s by %s%s",
                message.sid,
                message.to,
                "refused" if isinstance(routed.answer, Rejected) else "taken",
                routed.carrier,
                log_context.body_note(message.body, shown=self._log_bodies),
            )

    async def _message_of(self, job: Job) -> Message | None:
        """The job's message; the job's log lines name its account from here on."""
        message = await self._message(job.message_sid)
        if message is not None:
            log_context.about_account(message.account_sid)
        return message

    async def _message(self, sid: str | None) -> Message | None:
        if sid is None:
            return None
        async with self._ctx.store.read() as repo:
            return await repo.messages.get(sid)

    async def _finish(self, job: Job) -> None:
        async with self._ctx.store.single_statement() as repo:
            await repo.jobs.finish(job)


_STALE_RETRIES = 3

Outcome = tuple[MessageStatus, int | None]
"""A status a carrier's receipts settle a message in, with its error code."""

_HELD_BACK = ExchangedPdu(
    Direction.SENT,
    "held back",
    {"reason": "the destination is not on the carriers file's allowlist: sent to the simulator"},
)


_WAITING_FOR_SENDER = frozenset({MessageStatus.ACCEPTED, MessageStatus.SCHEDULED})


def _needs_session_window(message: Message) -> bool:
    """A free-form WhatsApp (or Messenger) message: sent only while the recipient's 24-hour
    window is open; a template (ContentSid) is not."""
    return channel_of(message.to).has_session_window and not message.options.content_sid


def _passed(before: MessageStatus, after: MessageStatus) -> tuple[MessageStatus, ...]:
    return path_to(before, after) if before is not after else ()
