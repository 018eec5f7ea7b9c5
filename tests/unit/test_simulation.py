"""The simulated carrier's plan for a message (domain/simulation.plan) and its seeding per SID
(carriers/simulator.py), without a server: docs/simulator.md states every rule tested here."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from textrelay.carriers.simulator import SimulatorCarrier
from textrelay.domain import codes
from textrelay.domain.carriers import Accepted
from textrelay.domain.lifecycle import PlannedEvent, Submission
from textrelay.domain.messages import Message
from textrelay.domain.simulation import (
    DEFAULT_PRICE_PER_SEGMENT,
    ProgressionMode,
    Rule,
    SimulatorConfig,
    builtin_failure,
    plan,
)
from textrelay.domain.statuses import Direction, MessageStatus

S = MessageStatus
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
US_MOBILE = "+14155550100"  # libphonenumber: FIXED_LINE_OR_MOBILE, so never a landline
GB_MOBILE = "+447400123456"
GB_LANDLINE = "+441212345678"
FR_LANDLINE = "+33123456789"
SENDER = "+14155559999"
MAGIC_SENDER = "+15005550006"


def message(
    to: str = US_MOBILE,
    *,
    from_: str | None = SENDER,
    body: str = "hello",
    segments: int = 1,
    sid: str = "SM" + "0" * 32,
) -> Message:
    return Message(
        sid=sid,
        account_sid="AC" + "0" * 32,
        direction=Direction.OUTBOUND_API,
        status=S.QUEUED,
        from_=from_,
        to=to,
        body=body,
        num_segments=segments,
        num_media=0,
        date_created=AT,
        date_updated=AT,
    )


def draws(*values: float) -> Callable[[], float]:
    """A random source that answers `values` in order and fails if asked for more."""
    answers = iter(values)

    def draw() -> float:
        try:
            return next(answers)
        except StopIteration:
            raise AssertionError("plan drew more random numbers than expected") from None

    return draw


NO_DRAWS = draws()


def outcome(submission: Submission) -> tuple[MessageStatus, int | None]:
    last = submission.events[-1]
    return last.status, last.error_code


def _plan(answer: Accepted) -> Submission:
    """The simulator always accepts, with the reports it plans."""
    assert answer.plan is not None
    return answer.plan


def statuses(submission: Submission) -> list[MessageStatus]:
    return [event.status for event in submission.events]


# --- the default: delivered ---------------------------------------------------------------


def test_an_ordinary_message_is_sent_then_delivered_at_once_without_drawing() -> None:
    submission = plan(message(), SimulatorConfig(), NO_DRAWS)

    assert submission.events == (PlannedEvent(S.SENT, None, 0), PlannedEvent(S.DELIVERED, None, 0))
    assert submission.manual is False
    assert (submission.price, submission.price_unit) == ("-0.00790", "USD")


# --- Twilio's magic sender ----------------------------------------------------------------


def test_the_magic_sender_plans_nothing_even_when_a_rule_matches() -> None:
    config = SimulatorConfig(
        mode=ProgressionMode.MANUAL, rules=(Rule(outcome=S.FAILED, error_code=30004),)
    )

    submission = plan(message(from_=MAGIC_SENDER), config, NO_DRAWS)

    assert submission == Submission(events=())


# --- built-in failing numbers -------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(codes.DELIVERY_ERRORS))
def test_the_undelivered_range_ends_undelivered_with_its_error(code: int) -> None:
    submission = plan(message(f"+155501{code}"), SimulatorConfig(), NO_DRAWS)

    assert statuses(submission) == [S.SENT, S.UNDELIVERED]
    assert outcome(submission) == (S.UNDELIVERED, code)


@pytest.mark.parametrize("code", sorted(codes.DELIVERY_ERRORS))
def test_the_failed_range_fails_with_its_error_and_is_never_sent(code: int) -> None:
    submission = plan(message(f"+155502{code}"), SimulatorConfig(), NO_DRAWS)

    assert submission.events == (PlannedEvent(S.FAILED, code, 0),)


@pytest.mark.parametrize(
    "to",
    [
        pytest.param("+15550139999", id="a code that is not a delivery error"),
        pytest.param("+155501300030", id="six digits after the prefix"),
        pytest.param("+1555013000", id="four digits after the prefix"),
        pytest.param("+15550330003", id="neither prefix"),
        pytest.param("whatsapp:+15550130003", id="a channel address"),
    ],
)
def test_numbers_beside_the_failing_ranges_are_delivered(to: str) -> None:
    submission = plan(message(to), SimulatorConfig(), NO_DRAWS)

    assert builtin_failure(to) is None
    assert outcome(submission) == (S.DELIVERED, None)


def test_builtin_failure_names_the_outcome_and_the_code() -> None:
    assert builtin_failure("+15550130003") == (S.UNDELIVERED, 30003)
    assert builtin_failure("+15550230003") == (S.FAILED, 30003)


# --- landlines ------------------------------------------------------------------------------


@pytest.mark.parametrize("to", [GB_LANDLINE, FR_LANDLINE])
def test_a_landline_is_undelivered_with_30006(to: str) -> None:
    submission = plan(message(to), SimulatorConfig(), NO_DRAWS)

    assert statuses(submission) == [S.SENT, S.UNDELIVERED]
    assert outcome(submission) == (S.UNDELIVERED, codes.LANDLINE.code)


@pytest.mark.parametrize("to", [GB_MOBILE, US_MOBILE, "whatsapp:+441212345678", "+4412"])
def test_mobiles_channels_and_unparsable_numbers_are_not_landlines(to: str) -> None:
    assert outcome(plan(message(to), SimulatorConfig(), NO_DRAWS)) == (S.DELIVERED, None)


# --- rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "matching", "other"),
    [
        pytest.param(
            Rule(S.FAILED, 30004, to_prefix="+1415"),
            message("+14155550100"),
            message("+12125550100"),
            id="to_prefix",
        ),
        pytest.param(
            Rule(S.FAILED, 30004, to_regex=r"0100$"),
            message("+14155550100"),
            message("+14155550101"),
            id="to_regex is searched",
        ),
        pytest.param(
            Rule(S.FAILED, 30004, from_prefix="+1212"),
            message(from_="+12125550100"),
            message(from_="+14155550100"),
            id="from_prefix",
        ),
        pytest.param(
            Rule(S.FAILED, 30004, from_regex=r"^MG|^\+1212"),
            message(from_="+12125550100"),
            message(from_=None),
            id="from_regex; no From yet is the empty string",
        ),
        pytest.param(
            Rule(S.FAILED, 30004, body_prefix="BLOCK"),
            message(body="BLOCK me"),
            message(body="please BLOCK me"),
            id="body_prefix",
        ),
        pytest.param(
            Rule(S.FAILED, 30004, body_regex=r"BLOCK"),
            message(body="please BLOCK me"),
            message(body="please block me"),
            id="body_regex is searched, case-sensitive",
        ),
        pytest.param(
            Rule(S.FAILED, 30004, to_prefix="+1415", body_prefix="BLOCK"),
            message("+14155550100", body="BLOCK"),
            message("+14155550100", body="fine"),
            id="every condition must hold",
        ),
    ],
)
def test_a_rule_applies_only_to_the_messages_it_matches(
    rule: Rule, matching: Message, other: Message
) -> None:
    config = SimulatorConfig(rules=(rule,))

    assert rule.matches(matching)
    assert not rule.matches(other)
    assert plan(matching, config, NO_DRAWS).events == (PlannedEvent(S.FAILED, 30004, 0),)
    assert outcome(plan(other, config, NO_DRAWS)) == (S.DELIVERED, None)


def test_the_first_matching_rule_wins() -> None:
    config = SimulatorConfig(
        rules=(
            Rule(S.UNDELIVERED, 30007, body_prefix="no"),
            Rule(S.FAILED, 30004),
            Rule(S.UNDELIVERED, 30003),
        )
    )

    assert outcome(plan(message(body="nope"), config, NO_DRAWS)) == (S.UNDELIVERED, 30007)
    assert outcome(plan(message(body="yes"), config, NO_DRAWS)) == (S.FAILED, 30004)


def test_rules_come_before_built_in_numbers_and_landlines() -> None:
    config = SimulatorConfig(rules=(Rule(S.DELIVERED, to_prefix="+"),))

    assert outcome(plan(message("+15550230003"), config, NO_DRAWS)) == (S.DELIVERED, None)
    assert outcome(plan(message(GB_LANDLINE), config, NO_DRAWS)) == (S.DELIVERED, None)


@pytest.mark.parametrize(
    ("rule_outcome", "expected"),
    [(S.UNDELIVERED, (S.UNDELIVERED, 30008)), (S.FAILED, (S.FAILED, 30008))],
)
def test_a_failing_rule_without_a_code_reports_30008(
    rule_outcome: MessageStatus, expected: tuple[MessageStatus, int]
) -> None:
    config = SimulatorConfig(rules=(Rule(rule_outcome),))

    assert outcome(plan(message(), config, NO_DRAWS)) == expected


def test_a_delivered_rule_delivers_a_built_in_failing_number_without_a_code() -> None:
    config = SimulatorConfig(rules=(Rule(S.DELIVERED, to_prefix="+155501"),))

    assert plan(message("+15550130003"), config, NO_DRAWS).events == (
        PlannedEvent(S.SENT, None, 0),
        PlannedEvent(S.DELIVERED, None, 0),
    )


@pytest.mark.parametrize(
    ("draw", "applies"),
    [(0.0, True), (0.2999, True), (0.3, False), (0.99, False)],
)
def test_a_rules_probability_is_one_draw_below_it(draw: float, applies: bool) -> None:
    config = SimulatorConfig(rules=(Rule(S.UNDELIVERED, 30003, probability=0.3),))

    result = outcome(plan(message(), config, draws(draw)))

    assert result == ((S.UNDELIVERED, 30003) if applies else (S.DELIVERED, None))


def test_a_rule_not_drawn_lets_the_next_rule_decide() -> None:
    config = SimulatorConfig(
        rules=(
            Rule(S.UNDELIVERED, 30003, probability=0.5),
            Rule(S.FAILED, 30004, probability=0.5),
        )
    )

    assert outcome(plan(message(), config, draws(0.9, 0.1))) == (S.FAILED, 30004)


def test_a_certain_or_unmatched_rule_draws_nothing() -> None:
    config = SimulatorConfig(
        rules=(
            Rule(S.FAILED, 30004, to_prefix="+44", probability=0.5),
            Rule(S.UNDELIVERED, 30003, probability=1.0),
        )
    )

    assert outcome(plan(message(US_MOBILE), config, NO_DRAWS)) == (S.UNDELIVERED, 30003)


# --- progression modes ----------------------------------------------------------------------


def test_immediate_mode_has_no_delays_even_with_delays_configured() -> None:
    config = SimulatorConfig(
        send_delay_ms=500,
        delivery_delay_ms=900,
        rules=(Rule(S.DELIVERED, delay_ms=5000),),
    )

    submission = plan(message(), config, NO_DRAWS)

    assert [event.delay_ms for event in submission.events] == [0, 0]
    assert submission.manual is False


def test_manual_mode_plans_the_same_changes_to_be_stepped() -> None:
    config = SimulatorConfig(mode=ProgressionMode.MANUAL, send_delay_ms=500)

    submission = plan(message(), config, NO_DRAWS)

    assert submission.manual is True
    assert submission.events == (PlannedEvent(S.SENT, None, 0), PlannedEvent(S.DELIVERED, None, 0))


def test_timed_mode_waits_the_configured_delays() -> None:
    config = SimulatorConfig(
        mode=ProgressionMode.TIMED, send_delay_ms=300, delivery_delay_ms=700, jitter=0.0
    )

    submission = plan(message(), config, draws(0.9, 0.1))

    assert [event.delay_ms for event in submission.events] == [300, 700]
    assert submission.manual is False


@pytest.mark.parametrize(
    ("draw", "expected_ms"),
    [(0.0, [800, 2400]), (0.5, [1000, 3000]), (1.0, [1200, 3600])],
)
def test_timed_jitter_spreads_each_delay_by_its_fraction(
    draw: float, expected_ms: list[int]
) -> None:
    config = SimulatorConfig(
        mode=ProgressionMode.TIMED, send_delay_ms=1000, delivery_delay_ms=3000, jitter=0.2
    )

    submission = plan(message(), config, draws(draw, draw))

    assert [event.delay_ms for event in submission.events] == expected_ms


def test_a_rules_delay_replaces_the_delivery_delay_but_not_the_send_delay() -> None:
    config = SimulatorConfig(
        mode=ProgressionMode.TIMED,
        send_delay_ms=300,
        delivery_delay_ms=700,
        jitter=0.0,
        rules=(Rule(S.UNDELIVERED, 30003, delay_ms=5000),),
    )

    submission = plan(message(), config, draws(0.5, 0.5))

    assert submission.events == (
        PlannedEvent(S.SENT, None, 300),
        PlannedEvent(S.UNDELIVERED, 30003, 5000),
    )


def test_a_timed_failure_comes_after_the_send_delay_alone() -> None:
    config = SimulatorConfig(
        mode=ProgressionMode.TIMED, send_delay_ms=300, delivery_delay_ms=700, jitter=0.0
    )

    submission = plan(message("+15550230003"), config, draws(0.5))

    assert submission.events == (PlannedEvent(S.FAILED, 30003, 300),)


# --- prices -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "segments", "price"),
    [
        pytest.param(GB_MOBILE, 1, "-0.04000", id="the recipient's country"),
        pytest.param(GB_MOBILE, 3, "-0.12000", id="per segment"),
        pytest.param(US_MOBILE, 2, "-0.02000", id="default for other countries"),
        pytest.param("whatsapp:+447400123456", 1, "-0.01000", id="a channel has no country"),
        pytest.param(GB_MOBILE, 0, "-0.04000", id="at least one segment"),
    ],
)
def test_the_price_is_the_recipients_countrys_rate_per_segment(
    to: str, segments: int, price: str
) -> None:
    config = SimulatorConfig(prices={"GB": "0.04", "default": "0.01"}, price_unit="EUR")

    submission = plan(message(to, segments=segments), config, NO_DRAWS)

    assert (submission.price, submission.price_unit) == (price, "EUR")


def test_without_a_default_price_textrelays_own_applies() -> None:
    config = SimulatorConfig(prices={"GB": "0.04"})

    assert config.price_per_segment("US") == DEFAULT_PRICE_PER_SEGMENT
    assert plan(message(US_MOBILE), config, NO_DRAWS).price == f"-{DEFAULT_PRICE_PER_SEGMENT}"


# --- seeding per SID (the simulated carrier) ----------------------------------------------


def _sids(count: int) -> list[str]:
    return [f"SM{i:032x}" for i in range(count)]


def _outcomes(
    carrier: SimulatorCarrier, sids: Iterable[str]
) -> dict[str, tuple[MessageStatus, int | None]]:
    async def run() -> dict[str, tuple[MessageStatus, int | None]]:
        return {sid: outcome(_plan(await carrier.submit(message(sid=sid)))) for sid in sids}

    return asyncio.run(run())


def _coin_flip_carrier(seed: int) -> SimulatorCarrier:
    config = SimulatorConfig(rules=(Rule(S.UNDELIVERED, 30003, probability=0.5),))

    async def current(_account_sid: str) -> SimulatorConfig:
        return config

    return SimulatorCarrier(current, seed=seed)


def test_the_carrier_decides_each_message_with_its_own_accounts_settings() -> None:
    failing = SimulatorConfig(rules=(Rule(S.FAILED, 30007),))
    by_account = {"AC" + "0" * 32: failing, "AC" + "1" * 32: SimulatorConfig()}

    async def settings(account_sid: str) -> SimulatorConfig:
        return by_account[account_sid]

    async def run() -> list[tuple[MessageStatus, int | None]]:
        carrier = SimulatorCarrier(settings)
        messages = [replace(message(), account_sid=sid) for sid in by_account]
        return [outcome(_plan(await carrier.submit(m))) for m in messages]

    assert asyncio.run(run()) == [(S.FAILED, 30007), (S.DELIVERED, None)]


def test_a_seeded_carrier_decides_each_sid_alike_whatever_the_order() -> None:
    sids = _sids(32)

    forwards = _outcomes(_coin_flip_carrier(1234), sids)
    backwards = _outcomes(_coin_flip_carrier(1234), reversed(sids))
    again = _outcomes(_coin_flip_carrier(1234), itertools.chain(sids[16:], sids[:16]))

    assert forwards == backwards == again
    assert set(forwards.values()) == {(S.DELIVERED, None), (S.UNDELIVERED, 30003)}


def test_another_seed_decides_differently() -> None:
    sids = _sids(32)

    assert _outcomes(_coin_flip_carrier(1234), sids) != _outcomes(_coin_flip_carrier(4321), sids)
