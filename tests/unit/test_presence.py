"""services/cache.Presence: "does anything of the kind exist", known for a second at a time."""

from __future__ import annotations

import asyncio

from textrelay.services.cache import Presence


class Loader:
    """Answers `found` and counts how often it was asked; `during` runs while it is asked."""

    def __init__(self, found: bool) -> None:
        self.found = found
        self.calls = 0
        self.during: list[Presence] = []

    async def __call__(self) -> bool:
        self.calls += 1
        for presence in self.during:
            presence.changed()
        return self.found


def test_an_answer_is_kept_for_the_ttl_then_asked_again() -> None:
    now = [100.0]
    presence = Presence(ttl_s=1.0, monotonic=lambda: now[0])
    loader = Loader(found=False)

    first = asyncio.run(presence.any(loader))
    now[0] += 0.9
    second = asyncio.run(presence.any(loader))
    calls_within_the_ttl = loader.calls
    loader.found = True
    now[0] += 0.2
    third = asyncio.run(presence.any(loader))

    assert (first, second, third) == (False, False, True)
    assert calls_within_the_ttl == 1
    assert loader.calls == 2


def test_a_local_change_is_seen_at_once() -> None:
    presence = Presence(ttl_s=60.0, monotonic=lambda: 0.0)
    loader = Loader(found=False)

    asyncio.run(presence.any(loader))
    loader.found = True
    presence.changed()

    assert asyncio.run(presence.any(loader)) is True


def test_an_answer_loaded_while_a_change_happened_is_not_kept() -> None:
    presence = Presence(ttl_s=60.0, monotonic=lambda: 0.0)
    stale = Loader(found=False)
    stale.during.append(presence)  # the change commits while the query runs

    during = asyncio.run(presence.any(stale))
    after = asyncio.run(presence.any(Loader(found=True)))

    assert during is False
    assert after is True


def test_nothing_is_assumed_before_the_first_answer() -> None:
    presence = Presence(ttl_s=60.0, monotonic=lambda: 0.0)
    loader = Loader(found=True)

    assert asyncio.run(presence.any(loader)) is True
    assert loader.calls == 1
