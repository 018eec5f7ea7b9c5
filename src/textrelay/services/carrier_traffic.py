"""What carriers send up: delivery receipts, matched to their message by (carrier, reference),
and handsets' messages, delivered to the account that owns the number they were sent to.

Every call returns once its effect is committed, so a carrier acknowledges only what is stored.
Receipts and parts are kept in the database, not in this process: any node may receive them,
and a restart loses no match.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta

from textrelay.domain import codes
from textrelay.domain.carriers import (
    FINAL_RECEIPT_STATUSES,
    ExchangedPdu,
    MobileOriginated,
    Receipt,
    combined_outcome,
)
from textrelay.domain.messages import Message
from textrelay.domain.smpp.receipts import reference_candidates
from textrelay.services.accounts import AccountService
from textrelay.services.carriers import CarrierSet
from textrelay.services.context import ServiceContext
from textrelay.services.delivery import DeliveryService, StaleMessage
from textrelay.services.inbound import InboundService
from textrelay.services.phone_numbers import PhoneNumberService
from textrelay.storage import Repository

log = logging.getLogger(__name__)

UNMATCHED_RECEIPT_KEPT = timedelta(days=3)
"""How long a receipt that names no known reference waits for its submit's answer."""

_ATTEMPTS = 3
_RECEIPT_BATCH = 64


class CarrierTraffic:
    """The sink every carrier reports to (domain/carriers.CarrierSink)."""

    def __init__(
        self,
        ctx: ServiceContext,
        carriers: CarrierSet,
        delivery: DeliveryService,
        inbound: InboundService,
        accounts: AccountService,
        numbers: PhoneNumberService,
        *,
        reassembly_timeout_s: float = 60.0,
    ) -> None:
        self._ctx = ctx
        self._carriers = carriers
        self._delivery = delivery
        self._inbound = inbound
        self._accounts = accounts
        self._numbers = numbers
        self._reassembly_timeout = timedelta(seconds=reassembly_timeout_s)
        self.counters: Counter[str] = Counter()
        """By carrier, `name:what`: receipts, receipts_adopted, receipts_waiting, received,
        received_again (a repeat of a message already stored), unrouted_received."""

    # --- receipts --------------------------------------------------------------------------

    async def receipts(self, carrier: str, receipts: Sequence[Receipt]) -> None:
        """Store and apply receipts that came together, _RECEIPT_BATCH to a transaction;
        returns once they are committed."""
        self.counters[f"{carrier}:receipts"] += len(receipts)
        # Intermediate reports (ENROUTE, ACCEPTD) change nothing: the message is `sent`.
        final = [r for r in receipts if r.status in FINAL_RECEIPT_STATUSES]
        for start in range(0, len(final), _RECEIPT_BATCH):
            batch = final[start : start + _RECEIPT_BATCH]
            try:
                async with self._ctx.store.transaction() as repo:
                    for receipt in batch:
                        await self._apply_receipt(repo, carrier, receipt)
            except StaleMessage:
                # A message changed under the batch: each receipt on its own, read again.
                for receipt in batch:
                    await self._receipt_alone(carrier, receipt)

    async def _receipt_alone(self, carrier: str, receipt: Receipt) -> None:
        for _ in range(_ATTEMPTS):
            try:
                async with self._ctx.store.transaction() as repo:
                    await self._apply_receipt(repo, carrier, receipt)
                return
            except StaleMessage:
                continue  # the message changed under this transaction: read it again
        # The reference, not the receipt: its PDU quotes the message's first characters.
        log.warning(
            "%s: receipt for %r not applied: its message kept changing",
            carrier,
            receipt.reference,
        )

    async def _apply_receipt(self, repo: Repository, carrier: str, receipt: Receipt) -> None:
        owner = await repo.carrier_references.record_receipt(carrier, receipt, at=self._ctx.now())
        sid = None if owner is None else owner.message_sid
        adopted = False
        if sid is None and receipt.handset and receipt.sender:
            # Its submit is being answered right now (an SMSC often sends the receipt at
            # once), or was answered before textrelay stopped without storing the answer.
            sid = await repo.messages.oldest_queued(receipt.handset, receipt.sender)
            if sid is not None:
                await repo.carrier_references.adopt(
                    carrier, receipt.reference, sid, at=self._ctx.now()
                )
                self.counters[f"{carrier}:receipts_adopted"] += 1
                adopted = True
        if sid is None:
            sid = await self._respelled(repo, carrier, receipt)
        if sid is None:
            # An id this textrelay never stored, or an answer still on its way for a message
            # no longer queued: it waits, UNMATCHED_RECEIPT_KEPT at most.
            self.counters[f"{carrier}:receipts_waiting"] += 1
            log.debug("%s: receipt for %r waits for its submit", carrier, receipt.reference)
            return
        await self._carriers.record(repo, sid, carrier, receipt.exchanged)
        if adopted:  # an adopted one decides nothing until its submit claims it
            return
        if owner is not None and owner.alone:
            # The message's only part: its receipt is the outcome, no other part to read.
            outcome = combined_outcome([(receipt.status, receipt.error_code)], 1)
            await self._delivery.apply_receipt_in(repo, sid, outcome=outcome)
        else:
            await self._delivery.apply_receipt_in(repo, sid)

    async def _respelled(self, repo: Repository, carrier: str, receipt: Receipt) -> str | None:
        """The message of a receipt whose id the carrier wrote another way than its submit's
        answer did (hex there, decimal here, or the reverse: a common SMSC quirk)."""
        for spelling in reference_candidates(receipt.reference)[1:]:
            sid = await repo.carrier_references.message_of(carrier, spelling)
            if sid is not None:
                await repo.carrier_references.forget(carrier, receipt.reference)
                await repo.carrier_references.record_receipt(
                    carrier, replace(receipt, reference=spelling), at=self._ctx.now()
                )
                return sid
        return None

    # --- handsets' messages ----------------------------------------------------------------

    async def mobile_originated(self, carrier: str, message: MobileOriginated) -> None:
        if not self._carriers.inbound_allowed(carrier, message.to):
            self.counters[f"{carrier}:unrouted_received"] += 1
            log.warning(
                "%s: message to %s refused: the number is bound to another carrier",
                carrier,
                message.to,
            )
            return
        owner = await self._owner_of(message.to)
        if owner is None:
            self.counters[f"{carrier}:unrouted_received"] += 1
            log.warning(
                "%s: message to %s dropped: no account owns that number", carrier, message.to
            )
            return
        part = message.part
        if part is None or part.total <= 1:
            await self._deliver(
                carrier,
                owner,
                message.from_,
                message.to,
                message.body,
                pdus=message.exchanged,
                media=message.media,
                media_base_url=message.media_base_url,
                reference=message.reference,
            )
            return
        async with self._ctx.store.transaction() as repo:
            stored = await repo.mo_parts.add(
                carrier,
                message.from_,
                message.to,
                reference=part.reference,
                total=part.total,
                sequence=part.sequence,
                body=message.body,
                at=self._ctx.now(),
            )
        if len({p.sequence for p in stored}) < part.total:
            return
        await self._deliver(
            carrier,
            owner,
            message.from_,
            message.to,
            "".join(p.body for p in stored),
            also=_taking(carrier, message.from_, message.to, part.reference, at_least=part.total),
            pdus=message.exchanged,
        )

    async def sweep(self) -> int:
        """Deliver the long messages whose parts stopped coming, with what arrived and error
        30009 (Missing inbound segment), and forget receipts that never found their message.
        The number of messages delivered incomplete."""
        now = self._ctx.now()
        async with self._ctx.store.transaction() as repo:
            await repo.carrier_references.forget_unmatched(
                received_before=now - UNMATCHED_RECEIPT_KEPT
            )
            overdue = await repo.mo_parts.overdue(received_before=now - self._reassembly_timeout)
        delivered = 0
        for carrier, source, destination, reference, _total in overdue:
            owner = await self._owner_of(destination)
            if owner is None:
                async with self._ctx.store.transaction() as repo:
                    await repo.mo_parts.take(carrier, source, destination, reference)
                continue
            async with self._ctx.store.read() as repo:
                parts = await repo.mo_parts.parts_of(carrier, source, destination, reference)
            body = "".join(p.body for p in parts)

            stored = await self._deliver(
                carrier,
                owner,
                source,
                destination,
                body,
                error_code=codes.MISSING_INBOUND_SEGMENT.code,
                also=_taking(carrier, source, destination, reference, at_least=1),
            )
            delivered += stored
        return delivered

    async def _deliver(
        self,
        carrier: str,
        owner: str,
        from_: str,
        to: str,
        body: str,
        *,
        error_code: int | None = None,
        also: Callable[[Repository], Awaitable[bool]] | None = None,
        pdus: tuple[ExchangedPdu, ...] = (),
        media: tuple[tuple[str, bytes], ...] = (),
        media_base_url: str = "",
        reference: str | None = None,
    ) -> int:
        account = await self._accounts.cached(owner)
        if account is None:
            return 0
        repeated = False

        async def with_message(repo: Repository, message: Message) -> bool:
            nonlocal repeated
            if also is not None and not await also(repo):
                return False
            if reference is not None and not await repo.carrier_references.record_received(
                carrier, reference, message.sid, at=self._ctx.now()
            ):
                repeated = True
                return False
            await self._carriers.record(repo, message.sid, carrier, pdus)
            return True

        message = await self._inbound.receive_from_carrier(
            account,
            from_,
            to,
            body,
            media=list(media),
            media_base_url=media_base_url,
            error_code=error_code,
            also=with_message,
        )
        if repeated:
            self.counters[f"{carrier}:received_again"] += 1
            log.info("%s: message %s delivered again, stored once", carrier, reference)
        if message is None:
            return 0
        self.counters[f"{carrier}:received"] += 1
        return 1

    async def _owner_of(self, address: str) -> str | None:
        if address.startswith("+"):
            return await self._numbers.owner_of(address)
        async with self._ctx.store.read() as repo:
            code = await repo.short_codes.find(address)
        return None if code is None else code.account_sid


def _taking(
    carrier: str, source: str, destination: str, reference: int, *, at_least: int
) -> Callable[[Repository], Awaitable[bool]]:
    """Take a long message's stored parts in the transaction that stores the message: True
    if `at_least` of them were still there (else another node delivered them first)."""

    async def take(repo: Repository) -> bool:
        taken = await repo.mo_parts.take(carrier, source, destination, reference)
        return len(taken) >= at_least

    return take
