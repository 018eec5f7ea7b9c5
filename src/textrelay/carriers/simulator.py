"""The simulated carrier: decides each message's fate from its account's simulator settings.

The decisions are textrelay.domain.simulation's; this adapter adds the settings source (by
account: each tenant's own, or those it inherits, services/simulator.py) and the random draws.
Under a seed each message draws from its own generator, seeded with the seed and its SID, so
outcomes do not depend on the order workers take messages in.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

from textrelay.domain.lifecycle import Submission
from textrelay.domain.messages import Message
from textrelay.domain.simulation import SimulatorConfig, plan


class SimulatorCarrier:
    def __init__(
        self, config: Callable[[str], Awaitable[SimulatorConfig]], *, seed: int | None = None
    ) -> None:
        self._config = config
        """The settings an account's messages are decided with, by its SID."""
        self._seed = seed

    async def submit(self, message: Message) -> Submission:
        draws = random.Random(f"{self._seed}:{message.sid}") if self._seed is not None else None
        config = await self._config(message.account_sid)
        return plan(message, config, (draws or random).random)
