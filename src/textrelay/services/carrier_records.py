"""What the operator and an account may read of carriers: the state of every carrier and bind
(server-wide, so the main account's), and a message's references, receipts and exchanged PDUs
(its owner's)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson

from textrelay.domain.accounts import Account
from textrelay.domain.carriers import (
    BindState,
    CarrierState,
    ExchangedPdu,
    PartReport,
    whole_server,
)
from textrelay.domain.sids import SidType
from textrelay.services.carriers import CarrierSet
from textrelay.services.context import ServiceContext
from textrelay.services.owned import get_owned

_log = logging.getLogger(__name__)


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
        self._process: int | None = None
        self._siblings: Callable[[], list[tuple[int, bytes]]] | None = None

    def share_with_siblings(
        self, index: int, siblings: Callable[[], list[tuple[int, bytes]]]
    ) -> None:
        """This is serving process `index` of several, each holding some of the binds;
        `siblings()` gives the others' `process_snapshot()`, as (index, snapshot)."""
        self._process, self._siblings = index, siblings

    def states(self) -> list[CarrierState]:
        """Each carrier's state, with what was received from it: the whole server's, every
        serving process's binds (the others' as they last wrote them, SNAPSHOT_INTERVAL_S
        old at most), or this process's alone."""
        own = self.process_states()
        if self._siblings is None or self._process is None:
            return own
        parts = [(self._process, own)]
        for index, snapshot in self._siblings():
            try:
                parts.append((index, _states_from_json(orjson.loads(snapshot))))
            except (ValueError, TypeError, KeyError) as exc:  # a file of another version
                _log.warning("carriers' state of serving process %d unreadable: %s", index, exc)
        # In the processes' order, whichever answers.
        return whole_server([states for _index, states in sorted(parts, key=lambda p: p[0])])

    def process_snapshot(self) -> bytes:
        """This process's own part of `states()`, for the other serving processes."""
        return orjson.dumps([asdict(state) for state in self.process_states()])

    def process_states(self) -> list[CarrierState]:
        """The carriers as this process holds them (its binds, its counters): its metrics."""
        states = []
        for state in self._carriers.states():
            prefix = f"{state.name}:"
            counters = dict(state.counters)
            for key, count in self._traffic.items():
                if key.startswith(prefix):
                    counters[key.removeprefix(prefix)] = count
            binds = tuple(replace(bind, process=self._process) for bind in state.binds)
            states.append(replace(state, binds=binds, counters=counters))
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


def _states_from_json(data: list[dict[str, Any]]) -> list[CarrierState]:
    return [
        CarrierState(
            name=state["name"],
            kind=state["kind"],
            binds=tuple(BindState(**bind) for bind in state["binds"]),
            counters=dict(state["counters"]),
        )
        for state in data
    ]
