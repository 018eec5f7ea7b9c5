"""The tests' one way of waiting (tests/waiting.py): it returns the first value that holds, and
a timeout says what was awaited and what was seen last."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.waiting import eventually, eventually_async


def test_eventually_returns_the_first_value_that_holds() -> None:
    counter = itertools.count()

    found = eventually(lambda: next(counter), until=lambda n: n >= 3, interval_s=0)

    assert found == 3


def test_by_default_eventually_waits_for_a_truthy_value() -> None:
    values = iter([[], [], ["done"]])

    assert eventually(lambda: next(values), interval_s=0) == ["done"]


def test_a_timeout_names_what_was_awaited_and_the_last_value() -> None:
    with pytest.raises(AssertionError) as timed_out:
        eventually(
            lambda: {"jobs": ["dispatch"]},
            until=lambda found: not found["jobs"],
            timeout_s=0.05,
            interval_s=0.01,
            what="idle",
        )

    assert str(timed_out.value) == "not within 0.05 s: idle; last value: {'jobs': ['dispatch']}"


def test_the_probe_runs_at_least_once_even_past_the_deadline() -> None:
    assert eventually(lambda: "ready", timeout_s=0) == "ready"


def test_eventually_async_takes_a_plain_or_a_coroutine_probe() -> None:
    async def run() -> tuple[int, int]:
        counter = itertools.count()

        async def probe() -> int:
            await asyncio.sleep(0)
            return next(counter)

        plain = await eventually_async(lambda: 7)
        awaited = await eventually_async(probe, until=lambda n: n >= 2, interval_s=0)
        return plain, awaited

    assert asyncio.run(run()) == (7, 2)


def test_eventually_async_lets_the_loop_run_while_it_waits() -> None:
    async def run() -> list[str]:
        done: list[str] = []
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, done.append, "set by the loop")
        return await eventually_async(lambda: done, timeout_s=2)

    assert asyncio.run(run()) == ["set by the loop"]


def test_eventually_async_times_out_like_eventually() -> None:
    async def run() -> None:
        await eventually_async(lambda: 0, timeout_s=0.02, interval_s=0.01, what="a job")

    with pytest.raises(AssertionError, match=r"not within 0.02 s: a job; last value: 0"):
        asyncio.run(run())
