"""services/backlog_limit: an account's creates refused 429/20429 while its owed jobs are at the
limit, read for every account at most once a second and counted meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from textrelay.domain import errors
from textrelay.services.backlog_limit import BacklogLimit


class Backlogs:
    """Answers `owed` (after a pause that lets other creates arrive) and counts the reads."""

    def __init__(self, owed: dict[str, int]) -> None:
        self.owed = owed
        self.reads = 0

    async def __call__(self) -> dict[str, int]:
        self.reads += 1
        await asyncio.sleep(0.01)
        return dict(self.owed)


def admitted(limit: BacklogLimit, account: str, times: int) -> list[bool]:
    async def run() -> list[bool]:
        answers = []
        for _ in range(times):
            try:
                await limit.admit(account)
            except errors.TooManyRequests:
                answers.append(False)
            else:
                answers.append(True)
        return answers

    return asyncio.run(run())


def test_an_account_at_its_limit_is_refused_and_another_is_not() -> None:
    limit = BacklogLimit(Backlogs({"busy": 3, "calm": 1}), 4, monotonic=lambda: 0.0)
    assert admitted(limit, "busy", 3) == [True, False, False]  # 3 owed, then its own create
    assert admitted(limit, "calm", 3) == [True, True, True]
    assert admitted(limit, "new", 4) == [True] * 4


def test_the_refusal_is_twilios_429_with_20429() -> None:
    limit = BacklogLimit(Backlogs({"busy": 2}), 2, monotonic=lambda: 0.0)
    with pytest.raises(errors.TooManyRequests) as refused:
        asyncio.run(limit.admit("busy"))
    assert (refused.value.code, refused.value.status) == (20429, 429)
    assert "busy has 2 messages and callbacks waiting" in refused.value.message


def test_the_backlog_is_read_again_after_a_second_and_creates_counted_meanwhile() -> None:
    now = [0.0]
    backlogs = Backlogs({"busy": 1})
    limit = BacklogLimit(backlogs, 3, monotonic=lambda: now[0])
    assert admitted(limit, "busy", 3) == [True, True, False]
    now[0] += 0.9
    assert admitted(limit, "busy", 1) == [False]  # still the count of the last read
    backlogs.owed = {}  # drained
    now[0] += 0.2
    assert admitted(limit, "busy", 4) == [True, True, True, False]
    assert backlogs.reads == 2


def test_concurrent_creates_share_one_read_and_a_cancelled_one_does_not_cancel_it() -> None:
    backlogs = Backlogs({"busy": 0})
    limit = BacklogLimit(backlogs, 10, monotonic=lambda: 0.0)

    async def run() -> list[object]:
        first = asyncio.create_task(limit.admit("busy"))
        others = [asyncio.create_task(limit.admit("busy")) for _ in range(4)]
        await asyncio.sleep(0)
        first.cancel()
        return await asyncio.gather(first, *others, return_exceptions=True)

    answers = asyncio.run(run())
    assert isinstance(answers[0], asyncio.CancelledError)
    assert answers[1:] == [None] * 4
    assert backlogs.reads == 1


def test_no_limit_reads_nothing() -> None:
    backlogs = Backlogs({"busy": 10**6})
    assert admitted(BacklogLimit(backlogs, None), "busy", 3) == [True] * 3
    assert backlogs.reads == 0
