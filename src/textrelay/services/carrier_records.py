"""What the operator and an account may read of carriers: the state of every carrier and bind
(server-wide, so the main account's), and a message's references, receipts and exchanged PDUs
(its owner's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from textrelay.domain.accounts import Account
from textrelay.domain.carriers import CarrierState, ExchangedPdu, PartReport
from textrelay.domain.sids import SidType
from textrelay.services.carriers import CarrierSet
from textrelay.services.context import ServiceContext
from textrelay.services.owned import get_owned


@dataclass(frozen=True, slots=True)
class MessageCarrierRecord:
    references: list[PartReport]
    exchanged: list[tuple[str, ExchangedPdu]]
    """(carrier, unit), oldest first."""

    @property
    def carrier(self) -> str | None:
        if self.references:
            return self.references[0].carrier
        return self.exchanged[-1][0] if self.exchanged else None


class CarrierRecords:
    def __init__(
        self, ctx: ServiceContext, carriers: CarrierSet, traffic: Mapping[str, int]
    ) -> None:
        self._ctx = ctx
        self._carriers = carriers
        self._traffic = traffic
        """CarrierTraffic's counters, `carrier:what` (receipts, received, …)."""

    def states(self) -> list[CarrierState]:
        """Each carrier's own state, with what this process received from it."""
        states = []
        for state in self._carriers.states():
            prefix = f"{state.name}:"
            counters = dict(state.counters)
            for key, count in self._traffic.items():
                if key.startswith(prefix):
                    counters[key.removeprefix(prefix)] = count
            states.append(replace(state, counters=counters))
        return states

    async def of_message(self, account: Account, message_sid: str) -> MessageCarrierRecord:
        """What carriers said about one of `account`'s messages (20404 for any other)."""
        message = await get_owned(
            self._ctx,
            account,
            message_sid,
            lambda repo: repo.messages,
            SidType.MESSAGE,
            SidType.MMS_MESSAGE,
        )
        async with self._ctx.store.read() as repo:
            references = await repo.carrier_references.of_message(message.sid)
            exchanged = await repo.carrier_log.of_message(message.sid)
        return MessageCarrierRecord(references, exchanged)
