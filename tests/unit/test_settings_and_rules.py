"""Settings, statuses, account rules, magic numbers and the error catalogue."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from textrelay.domain import errors, magic
from textrelay.domain.accounts import (
    Account,
    AccountStatus,
    AccountType,
    can_act_on,
    default_subaccount_name,
    hash_secret,
    secret_matches,
    token_matches,
)
from textrelay.domain.statuses import CANCELABLE, IN_FLIGHT, MessageStatus, can_transition
from textrelay.settings import SETTINGS, Settings, SettingsError, env_name, flag_name

NOW = datetime(2024, 2, 3, 16, 5, tzinfo=UTC)


def test_every_setting_is_a_field_flag_and_variable() -> None:
    assert {s.name for s in SETTINGS} == {f.name for f in fields(Settings)}
    assert env_name("database_url") == "TEXTRELAY_DATABASE_URL"
    assert flag_name("database_url") == "--database-url"


def test_settings_precedence() -> None:
    env = {"TEXTRELAY_PORT": "9000", "TEXTRELAY_AUTO_PROVISION_SENDERS": "true"}

    from_env = Settings.load({}, env)
    from_flag = Settings.load({"port": "9100"}, env)

    assert Settings.load({}, {}) == Settings()
    assert (from_env.port, from_env.auto_provision_senders) == (9000, True)
    assert from_flag.port == 9100


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TEXTRELAY_ACCOUNT_SID", "SM" + "a" * 32),
        ("TEXTRELAY_AUTH_TOKEN", "short"),
        ("TEXTRELAY_DATABASE_URL", "mysql://x"),
        ("TEXTRELAY_PORT", "70000"),
        ("TEXTRELAY_AUTO_PROVISION_SENDERS", "maybe"),
    ],
)
def test_bad_settings_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.load({}, {variable: value})


def test_status_rules() -> None:
    assert can_transition(MessageStatus.QUEUED, MessageStatus.SENDING)
    assert can_transition(MessageStatus.SCHEDULED, MessageStatus.CANCELED)
    assert not can_transition(MessageStatus.DELIVERED, MessageStatus.QUEUED)
    assert MessageStatus.QUEUED in IN_FLIGHT
    assert MessageStatus.SENT not in IN_FLIGHT
    assert {MessageStatus.SCHEDULED, MessageStatus.ACCEPTED} == CANCELABLE


def _account(sid: str, owner: str) -> Account:
    return Account(sid, owner, "x", AccountStatus.ACTIVE, AccountType.FULL, "t" * 32, NOW, NOW)


def test_who_may_act_on_whom() -> None:
    main, other = "AC" + "1" * 32, "AC" + "2" * 32
    sub, sibling = "AC" + "3" * 32, "AC" + "4" * 32
    parent = _account(main, main)
    child = _account(sub, main)

    assert can_act_on(parent, parent)
    assert can_act_on(parent, child)
    assert not can_act_on(child, parent)
    assert not can_act_on(child, _account(sibling, main))
    assert not can_act_on(parent, _account(other, other))


def test_secrets_and_names() -> None:
    assert secret_matches("s3cret", hash_secret("s3cret"))
    assert not secret_matches("s3cret!", hash_secret("s3cret"))
    assert token_matches("a" * 32, "a" * 32)
    assert not token_matches("a" * 32, "b" * 32)
    assert default_subaccount_name(NOW) == "SubAccount Created at 2024-02-03 04:05 pm"


@pytest.mark.parametrize(
    ("number", "code"), [("+15005550001", 21212), ("+15005550007", 21606), ("+15005550008", 21611)]
)
def test_magic_senders(number: str, code: int) -> None:
    with pytest.raises(errors.TwilioError) as raised:
        magic.check_sender(number)
    assert raised.value.code == code


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("+15005550001", 21211),
        ("+15005550002", 21612),
        ("+15005550003", 21408),
        ("+15005550004", 21610),
        ("+15005550009", 21614),
    ],
)
def test_magic_recipients(number: str, code: int) -> None:
    with pytest.raises(errors.TwilioError) as raised:
        magic.check_recipient(number)
    assert raised.value.code == code


def test_ordinary_numbers_are_not_magic() -> None:
    magic.check_sender("+14155550100")
    magic.check_recipient(magic.MAGIC_SENDER_OK)


def _all_errors() -> list[type[errors.TwilioError]]:
    found, todo = [], [errors.TwilioError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_has_twilios_contract() -> None:
    for cls in _all_errors():
        assert 20000 <= cls.code <= 99999, cls
        assert 400 <= cls.status <= 599, cls
    assert errors.NotFound().more_info == "https://www.twilio.com/docs/errors/20404"
    assert errors.InvalidToNumber("+1asd").message == (
        "The 'To' number +1asd is not a valid phone number."
    )
