"""Account rules: credentials, default names, who may act on whom (api-core.md §2.1, §4.2)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from textrelay.domain.accounts import (
    Account,
    AccountStatus,
    AccountType,
    can_act_on,
    default_subaccount_name,
    hash_secret,
    promoted,
    secret_matches,
    token_matches,
    with_new_primary_token,
    with_secondary_token,
    without_secondary_token,
)
from textrelay.domain.errors import NoSecondaryAuthToken

NOW = datetime(2024, 2, 3, 16, 5, tzinfo=UTC)
MAIN = "AC" + "1" * 32
OTHER_MAIN = "AC" + "2" * 32
SUB = "AC" + "3" * 32
SIBLING = "AC" + "4" * 32
OTHER_SUB = "AC" + "5" * 32
NESTED = "AC" + "6" * 32


def _account(sid: str, owner: str) -> Account:
    return Account(sid, owner, "x", AccountStatus.ACTIVE, AccountType.FULL, "t" * 32, NOW, NOW)


ACCOUNTS = {
    "main": _account(MAIN, MAIN),
    "sub": _account(SUB, MAIN),
    "sibling": _account(SIBLING, MAIN),
    "other main": _account(OTHER_MAIN, OTHER_MAIN),
    "other's sub": _account(OTHER_SUB, OTHER_MAIN),
    # Twilio has no nested subaccounts; were one stored, its "parent" still reaches only itself.
    "nested": _account(NESTED, SUB),
}


def test_wire_values() -> None:
    assert [s.value for s in AccountStatus] == ["active", "suspended", "closed"]
    assert [t.value for t in AccountType] == ["Trial", "Full"]


def test_a_subaccount_is_owned_by_another_account() -> None:
    assert not ACCOUNTS["main"].is_subaccount
    assert ACCOUNTS["sub"].is_subaccount


@pytest.mark.parametrize(
    ("caller", "target", "allowed"),
    [
        ("main", "main", True),
        ("main", "sub", True),
        ("main", "sibling", True),
        ("sub", "sub", True),
        ("sub", "main", False),  # a subaccount cannot reach its parent
        ("sub", "sibling", False),
        ("main", "other main", False),
        ("main", "other's sub", False),
        ("other main", "sub", False),
        ("sub", "other's sub", False),
        ("sub", "nested", False),
        ("main", "nested", False),
    ],
)
def test_can_act_on(caller: str, target: str, allowed: bool) -> None:
    assert can_act_on(ACCOUNTS[caller], ACCOUNTS[target]) is allowed


def test_hash_secret_is_sha256_hex() -> None:
    assert hash_secret("s3cret") == hashlib.sha256(b"s3cret").hexdigest()
    assert len(hash_secret("")) == 64
    assert hash_secret("a") != hash_secret("b")


@pytest.mark.parametrize(
    ("given", "stored", "expected"),
    [
        ("s3cret", "s3cret", True),
        ("s3cret!", "s3cret", False),
        ("S3CRET", "s3cret", False),
        ("", "s3cret", False),
        ("0123456789abcdef" * 2, "0123456789abcdef" * 2, True),
    ],
)
def test_secret_matches(given: str, stored: str, expected: bool) -> None:
    assert secret_matches(given, hash_secret(stored)) is expected


def test_secret_matches_refuses_the_hash_itself() -> None:
    stored = hash_secret("s3cret")

    assert not secret_matches(stored, stored)


@pytest.mark.parametrize(
    ("given", "expected", "matches"),
    [
        ("a" * 32, "a" * 32, True),
        ("a" * 32, "b" * 32, False),
        ("a" * 31, "a" * 32, False),
        ("A" * 32, "a" * 32, False),
        ("", "a" * 32, False),
        ("é", "é", True),
    ],
)
def test_token_matches(given: str, expected: str, matches: bool) -> None:
    assert token_matches(given, expected) is matches


@pytest.mark.parametrize(
    ("moment", "name"),
    [
        (NOW, "SubAccount Created at 2024-02-03 04:05 pm"),
        (datetime(2024, 2, 3, 0, 5, tzinfo=UTC), "SubAccount Created at 2024-02-03 12:05 am"),
        (datetime(2024, 2, 3, 12, 0, tzinfo=UTC), "SubAccount Created at 2024-02-03 12:00 pm"),
        (
            datetime(2024, 11, 30, 9, 59, 59, tzinfo=UTC),
            "SubAccount Created at 2024-11-30 09:59 am",
        ),
    ],
)
def test_default_subaccount_name(moment: datetime, name: str) -> None:
    assert default_subaccount_name(moment) == name


LATER = datetime(2024, 2, 4, tzinfo=UTC)


def test_both_tokens_authenticate_while_a_secondary_exists() -> None:
    account = with_secondary_token(_account(MAIN, MAIN), "s" * 32, at=LATER)

    assert account.accepts_token("t" * 32)
    assert account.accepts_token("s" * 32)
    assert not account.accepts_token("u" * 32)
    assert account.date_updated == LATER
    assert not _account(MAIN, MAIN).accepts_token("s" * 32)


def test_promotion_leaves_the_secondary_alone_as_the_token() -> None:
    account = promoted(with_secondary_token(_account(MAIN, MAIN), "s" * 32, at=NOW), at=LATER)

    assert (account.auth_token, account.secondary_auth_token) == ("s" * 32, None)
    assert not account.accepts_token("t" * 32)
    assert account.date_updated == LATER


def test_promote_or_delete_without_a_secondary_is_not_found() -> None:
    with pytest.raises(NoSecondaryAuthToken) as promoting:
        promoted(_account(MAIN, MAIN), at=LATER)
    with pytest.raises(NoSecondaryAuthToken):
        without_secondary_token(_account(MAIN, MAIN), at=LATER)

    assert (promoting.value.status, promoting.value.code) == (404, 20404)


def test_a_new_primary_replaces_the_old_and_keeps_a_secondary() -> None:
    before = with_secondary_token(_account(MAIN, MAIN), "s" * 32, at=NOW)
    account = with_new_primary_token(before, "n" * 32, at=LATER)

    assert not account.accepts_token("t" * 32)
    assert account.accepts_token("n" * 32)
    assert account.secondary_auth_token == before.secondary_auth_token
    assert without_secondary_token(account, at=LATER).secondary_auth_token is None
