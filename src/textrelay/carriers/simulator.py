"""The simulated carrier: decides each message's fate from the simulator's settings.

The decisions are textrelay.domain.simulation's; this adapter adds the settings source and the
random draws. Under a seed each message draws from its own generator, seeded with the seed and
its SID, so outcomes do not depend on the order workers take messages in.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

from textrelay.domain.lifecycle import Submission
from textrelay.domain.messages import Message
from textrelay.domain.simulation import SimulatorConfig, plan


class SimulatorCarrier:
    def __init__(
        self, config: Callable[[], Awaitable[SimulatorConfig]], *, seed: int | None = None
    ) -> None:
        self._config = config
        self._seed = seed

    async def submit(self, message: Message) -> Submission:
        draws = random.Random(f"{self._seed}:{message.sid}") if self._seed is not None else None
        return plan(message, await self._config(), (draws or random).random)
