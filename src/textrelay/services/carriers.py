"""The carriers a server delivers through, and the choice among them for each message.

With no carriers file there is one, the simulator, and every message goes to it. With a file,
the routes choose an ordered list for each message (the route's carrier, then its fallbacks);
a carrier that is down, or refuses a message for good, hands it to the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from textrelay.domain.carriers import (
    SIMULATOR,
    Accepted,
    CarrierSink,
    CarrierState,
    ExchangedPdu,
    NotSignedByCarrier,
    SubmitAnswer,
)
from textrelay.domain.messages import Message
from textrelay.domain.routing import RouteTable
from textrelay.services.ports import CallbackCarrier, Carrier
from textrelay.storage import Repository

log = logging.getLogger(__name__)

DEFAULT_SUBMIT_RETRIES = 5


class BadCallbackSignature(Exception):
    """A request to a carrier's callback URL (a status callback, a handset's message) whose
    signature is missing or wrong: not the carrier's."""


@dataclass(frozen=True, slots=True)
class Routed:
    """Where a message went: the carrier that answered last, and its answer."""

    carrier: str
    answer: SubmitAnswer
    held_back: bool = False
    """The allowlist kept it on the simulator (the console says so)."""
    submit_retries: int = DEFAULT_SUBMIT_RETRIES
    refused_first: tuple[tuple[str, tuple[ExchangedPdu, ...]], ...] = ()
    """(carrier, what was exchanged) of each carrier that refused it before the last one."""


class CarrierSet:
    def __init__(
        self,
        carriers: Sequence[Carrier],
        routes: RouteTable,
        *,
        submit_retries: Mapping[str, int] | None = None,
        pdu_log: bool = True,
    ) -> None:
        self._carriers = {carrier.name: carrier for carrier in carriers}
        if SIMULATOR not in self._carriers:
            raise ValueError("the simulator is always one of the carriers")
        self.routes = routes
        self._retries = dict(submit_retries or {})
        self.pdu_log = pdu_log
        """Record what is exchanged with live carriers for each message (the console's view)."""

    async def record(
        self, repo: Repository, message_sid: str, carrier: str, pdus: Sequence[ExchangedPdu]
    ) -> None:
        """Keep what was exchanged with a carrier for the message's console page, unless the
        carriers file turned that off (`pdu_log`)."""
        if self.pdu_log and pdus:
            await repo.carrier_log.record(message_sid, carrier, pdus)

    async def record_routed(self, repo: Repository, message_sid: str, routed: Routed) -> None:
        """Keep what was exchanged with every carrier the message was offered to, in order."""
        for carrier, pdus in routed.refused_first:
            await self.record(repo, message_sid, carrier, pdus)
        await self.record(repo, message_sid, routed.carrier, routed.answer.exchanged)

    @property
    def live(self) -> bool:
        """Some carrier besides the simulator is configured."""
        return len(self._carriers) > 1

    async def open(self, sink: CarrierSink) -> None:
        for carrier in self._carriers.values():
            await carrier.open(sink)

    async def close(self) -> None:
        for carrier in self._carriers.values():
            try:
                await carrier.close()
            except Exception:
                log.exception("carrier %s did not close cleanly", carrier.name)

    def states(self) -> list[CarrierState]:
        return [carrier.state() for carrier in self._carriers.values()]

    async def status_callback(
        self, name: str, url: str, params: Mapping[str, str], signature: str | None
    ) -> bool:
        """A status callback to carrier `name`: checked and handed to the sink the carriers
        were opened with (by the carrier itself). False when no carrier of that name takes
        callbacks; BadCallbackSignature when the signature is not the carrier's."""
        return await self._signed(name, lambda c: c.status_callback(url, params, signature))

    async def incoming_message(
        self, name: str, url: str, params: Mapping[str, str], signature: str | None
    ) -> bool:
        """A handset's message that carrier `name` forwards: checked and handed to the sink
        (by the carrier itself), which stores it before this returns. False and
        BadCallbackSignature as `status_callback`."""
        return await self._signed(name, lambda c: c.incoming_message(url, params, signature))

    async def _signed(
        self, name: str, take: Callable[[CallbackCarrier], Awaitable[object]]
    ) -> bool:
        # `object`: mypy cannot intersect the two protocols, and would call the rest unreachable.
        carrier: object = self._carriers.get(name)
        if not isinstance(carrier, CallbackCarrier):
            return False
        try:
            await take(carrier)
        except NotSignedByCarrier as exc:
            raise BadCallbackSignature(f"carrier {name}: {exc}") from exc
        return True

    def inbound_allowed(self, carrier: str, number: str) -> bool:
        return self.routes.inbound_allowed(carrier, number)

    async def submit(self, message: Message) -> Routed:
        """Offer the message to its route's carriers in order, until one takes it; the answer
        of the last one asked when none does."""
        if not self.live:
            return Routed(SIMULATOR, await self._carriers[SIMULATOR].submit(message))
        choice = self.routes.choose(
            message.account_sid, message.from_, message.to, message.messaging_service_sid
        )
        name, *fallbacks = choice.carriers
        answer: SubmitAnswer = await self._carriers[name].submit(message)
        refused: list[tuple[str, tuple[ExchangedPdu, ...]]] = []
        for fallback in fallbacks:
            if isinstance(answer, Accepted):
                break
            # Down, busy past its time, or refusing: the next carrier may take it. (A refusal
            # that is the message's own fault would fail there too; SMSCs' codes do not tell
            # those apart reliably, so every refusal is offered on.)
            if answer.exchanged:
                refused.append((name, answer.exchanged))
            name = fallback
            answer = await self._carriers[name].submit(message)
        return Routed(
            name,
            answer,
            held_back=choice.held_back,
            submit_retries=self._retries.get(name, DEFAULT_SUBMIT_RETRIES),
            refused_first=tuple(refused),
        )
