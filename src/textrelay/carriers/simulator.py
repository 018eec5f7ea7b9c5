"""The simulated carrier: decides each message's fate from its account's simulator settings.

The decisions are textrelay.domain.simulation's; this adapter adds the settings source (by
account: each tenant's own, or those it inherits, services/simulator.py) and the random draws.
Under a seed each message draws from its own generator, seeded with the seed and its SID, so
outcomes do not depend on the order workers take messages in.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

from textrelay.domain.carriers import SIMULATOR, Accepted, CarrierSink, CarrierState
from textrelay.domain.messages import Message
from textrelay.domain.simulation import SimulatorConfig, plan


class SimulatorCarrier:
    """Accepts every message with the reports its account's settings plan for it (they ride
    the job queue, so they survive restarts and can be stepped by hand); it has no
    connection, so nothing comes back up through the sink."""

    def __init__(
        self, config: Callable[[str], Awaitable[SimulatorConfig]], *, seed: int | None = None
    ) -> None:
        self._config = config
        """The settings an account's messages are decided with, by its SID."""
        self._seed = seed

    @property
    def name(self) -> str:
        return SIMULATOR

    async def open(self, sink: CarrierSink) -> None:
        return None

    async def close(self) -> None:
        return None

    def state(self) -> CarrierState:
        return CarrierState(SIMULATOR, "simulator")

    async def submit(self, message: Message) -> Accepted:
        draws = random.Random(f"{self._seed}:{message.sid}") if self._seed is not None else None
        config = await self._config(message.account_sid)
        return Accepted(references=(), plan=plan(message, config, (draws or random).random))
