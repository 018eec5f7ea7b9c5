"""SIDs: generation, validation and explanation (shared/twilio/api-core.md §1)."""

from __future__ import annotations

import random
import re

import pytest

from textrelay.domain.sids import (
    MESSAGE_SID_TYPES,
    SID_LENGTH,
    SID_REGISTRY,
    SidGenerator,
    SidType,
    explain,
    is_sid,
    normalize,
)

HEX = "0123456789abcdef" * 2  # 32 lowercase hex digits
UPPER_HEX = HEX.upper()


def test_seeded_generator_is_deterministic() -> None:
    first = SidGenerator(random.Random(1).randbytes)
    second = SidGenerator(random.Random(1).randbytes)

    sids = [first.new(SidType.MESSAGE) for _ in range(3)]

    assert sids == [second.new(SidType.MESSAGE) for _ in range(3)]
    assert sids[0] == "SM" + random.Random(1).randbytes(16).hex()
    assert len(set(sids)) == 3


def test_a_different_seed_gives_different_sids() -> None:
    one = SidGenerator(random.Random(1).randbytes).new(SidType.ACCOUNT)
    two = SidGenerator(random.Random(2).randbytes).new(SidType.ACCOUNT)

    assert one != two


@pytest.mark.parametrize("sid_type", list(SidType))
def test_generated_sids_are_prefix_and_32_lowercase_hex(sid_type: SidType) -> None:
    sid = SidGenerator(random.Random(7).randbytes).new(sid_type)

    assert len(sid) == SID_LENGTH == 34
    assert re.fullmatch(sid_type.value + r"[0-9a-f]{32}", sid)
    assert is_sid(sid, sid_type)
    assert normalize(sid) == sid


@pytest.mark.parametrize("n_bytes", [16, 8, 32])
def test_new_hex_is_lowercase_hex_of_the_requested_size(n_bytes: int) -> None:
    token = SidGenerator(random.Random(2).randbytes).new_hex(n_bytes)

    assert re.fullmatch(rf"[0-9a-f]{{{2 * n_bytes}}}", token)


def test_new_hex_defaults_to_32_digits() -> None:
    assert len(SidGenerator(random.Random(2).randbytes).new_hex()) == 32


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("ACCOUNT", "AC"),
        ("MESSAGE", "SM"),
        ("MMS_MESSAGE", "MM"),
        ("MEDIA", "ME"),
        ("MESSAGING_SERVICE", "MG"),
        ("PHONE_NUMBER", "PN"),
        ("SHORT_CODE", "SC"),
        ("API_KEY", "SK"),
        ("APPLICATION", "AP"),
        ("CONTENT", "HX"),
        ("ALPHA_SENDER", "AI"),
        ("CHANNEL_SENDER", "XE"),
        ("REQUEST", "RQ"),
        ("CALL", "CA"),
    ],
)
def test_prefixes_are_twilios(name: str, prefix: str) -> None:
    assert SidType[name].value == prefix


def test_every_type_is_registered_and_messages_are_sm_or_mm() -> None:
    assert set(SID_REGISTRY) == set(SidType)
    assert {SidType.MESSAGE, SidType.MMS_MESSAGE} == MESSAGE_SID_TYPES


@pytest.mark.parametrize(
    ("value", "types", "expected"),
    [
        ("SM" + HEX, (), True),
        ("SM" + UPPER_HEX, (), True),
        ("SM" + HEX[:16] + UPPER_HEX[16:], (), True),
        ("AC" + HEX, (SidType.ACCOUNT,), True),
        ("MM" + HEX, (SidType.MESSAGE, SidType.MMS_MESSAGE), True),
        ("SM" + HEX, (SidType.MESSAGE, SidType.MMS_MESSAGE), True),
        ("SM" + HEX, (SidType.ACCOUNT,), False),
        ("AC" + HEX, tuple(MESSAGE_SID_TYPES), False),
        ("SM" + HEX[:31], (), False),
        ("SM" + HEX + "0", (), False),
        ("SM" + "g" * 32, (), False),
        ("SM" + HEX[:31] + " ", (), False),
        ("SM" + HEX[:31] + "\n", (), False),
        ("sm" + HEX, (), False),
        ("Sm" + HEX, (), False),
        ("S1" + HEX, (), False),
        ("ZZ" + HEX, (), False),
        ("BN" + HEX, (), False),  # a real Twilio prefix, but not one textrelay knows
        ("", (), False),
        (HEX + "SM", (), False),
    ],
)
def test_is_sid(value: str, types: tuple[SidType, ...], expected: bool) -> None:
    assert is_sid(value, *types) is expected


@pytest.mark.parametrize(
    ("sid", "normal"),
    [
        ("SM" + UPPER_HEX, "SM" + HEX),
        ("SM" + HEX, "SM" + HEX),
        ("MM" + "AbCdEf" + HEX[6:], "MM" + "abcdef" + HEX[6:]),
    ],
)
def test_normalize_lowercases_the_hex_and_keeps_the_prefix(sid: str, normal: str) -> None:
    assert normalize(sid) == normal


def test_explain_a_good_sid() -> None:
    result = explain("SM" + UPPER_HEX)

    assert result.well_formed
    assert result.problem is None
    assert result.prefix == "SM"
    assert result.kind is SID_REGISTRY[SidType.MESSAGE]
    assert result.kind.resource == "Message (SMS)"
    assert result.kind.product == "Programmable Messaging"


def test_explain_strips_surrounding_space() -> None:
    result = explain("  AC" + HEX + "\n")

    assert result.well_formed
    assert result.sid == "AC" + HEX
    assert result.kind is SID_REGISTRY[SidType.ACCOUNT]


@pytest.mark.parametrize(
    ("value", "problem", "kind"),
    [
        ("SM123", "a SID is 34 characters long; this one has 5", SidType.MESSAGE),
        ("SM" + HEX + "00", "a SID is 34 characters long; this one has 36", SidType.MESSAGE),
        ("", "a SID is 34 characters long; this one has 0", None),
        ("sm" + HEX, "a SID starts with two uppercase letters", SidType.MESSAGE),
        ("Sm" + HEX, "a SID starts with two uppercase letters", SidType.MESSAGE),
        ("S1" + HEX, "a SID starts with two uppercase letters", None),
        ("SM" + "x" * 32, "after its prefix a SID has 32 hexadecimal digits", SidType.MESSAGE),
        (
            "SM" + HEX[:31] + "-",
            "after its prefix a SID has 32 hexadecimal digits",
            SidType.MESSAGE,
        ),
        ("ZZ" + HEX, "the prefix 'ZZ' is not one textrelay knows", None),
    ],
)
def test_explain_a_malformed_sid(value: str, problem: str, kind: SidType | None) -> None:
    result = explain(value)

    assert not result.well_formed
    assert result.problem == problem
    assert result.kind is (None if kind is None else SID_REGISTRY[kind])
