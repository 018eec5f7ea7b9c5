"""Webhook rules: X-Twilio-Signature, connection overrides, retry decisions (messaging §4.4-4.5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from textrelay.domain.webhooks import (
    ConnectionPolicy,
    FailureKind,
    WebhookAttempt,
    WebhookOutcome,
    split_connection_overrides,
    twilio_signature,
)

DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = (
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
)
DOC_TOKEN = "12345"
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


class MultiDict:
    """The minimum of a Django QueryDict that RequestValidator needs for repeated names."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def __iter__(self) -> Iterator[str]:
        return iter(name for name, _ in self._pairs)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


def official(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    signature: str = RequestValidator(token).compute_signature(url, MultiDict(pairs))
    return signature


# --- the signature ------------------------------------------------------------------------


def test_the_documented_test_vector() -> None:
    assert twilio_signature(DOC_TOKEN, DOC_URL, DOC_PARAMS) == DOC_SIGNATURE


def test_the_test_vector_validates_with_the_official_validator() -> None:
    validator = RequestValidator(DOC_TOKEN)

    assert validator.validate(DOC_URL, dict(DOC_PARAMS), DOC_SIGNATURE)


def test_param_order_does_not_matter() -> None:
    assert twilio_signature(DOC_TOKEN, DOC_URL, reversed(DOC_PARAMS)) == DOC_SIGNATURE


def test_the_url_and_token_and_every_param_are_signed() -> None:
    others = {
        twilio_signature("54321", DOC_URL, DOC_PARAMS),
        twilio_signature(DOC_TOKEN, DOC_URL + "&baz=3", DOC_PARAMS),
        twilio_signature(DOC_TOKEN, DOC_URL, DOC_PARAMS[1:]),
        twilio_signature(DOC_TOKEN, DOC_URL, (*DOC_PARAMS[:-1], ("To", "+18005551213"))),
    }

    assert DOC_SIGNATURE not in others
    assert len(others) == 4


def test_without_params_only_the_url_is_signed() -> None:
    url = DOC_URL + "&CallSid=CA1234567890ABCDE"

    assert twilio_signature(DOC_TOKEN, url, []) == official(DOC_TOKEN, url, [])


def test_repeated_names_sign_each_value_in_sorted_order() -> None:
    pairs = [("MediaUrl", "https://b.example/2"), ("To", "+1"), ("MediaUrl", "https://a.example/1")]

    signature = twilio_signature(DOC_TOKEN, DOC_URL, pairs)

    assert signature == official(DOC_TOKEN, DOC_URL, pairs)
    assert signature == twilio_signature(DOC_TOKEN, DOC_URL, sorted(pairs))
    assert signature != twilio_signature(DOC_TOKEN, DOC_URL, pairs[:2])


_text = st.text(st.characters(codec="utf-8"), max_size=20)


@given(
    token=st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    url=_text.map(lambda path: "https://example.com/" + path),
    pairs=st.lists(st.tuples(_text, _text), max_size=8),
)
def test_the_signature_agrees_with_the_official_library(
    token: str, url: str, pairs: list[tuple[str, str]]
) -> None:
    assert twilio_signature(token, url, pairs) == official(token, url, pairs)


def test_a_repeated_identical_pair_agrees_with_the_official_library() -> None:
    pairs = [("MediaUrl", "https://a.example/1"), ("MediaUrl", "https://a.example/1")]

    assert twilio_signature(DOC_TOKEN, DOC_URL, pairs) == official(DOC_TOKEN, DOC_URL, pairs)


# --- connection overrides -----------------------------------------------------------------


def test_no_fragment_means_twilios_defaults() -> None:
    url, policy = split_connection_overrides("https://example.com/hook?x=1")

    assert url == "https://example.com/hook?x=1"
    assert policy == ConnectionPolicy()
    assert policy == ConnectionPolicy(
        connect_timeout_ms=5000,
        read_timeout_ms=15000,
        total_timeout_ms=15000,
        retry_count=1,
        retry_on=frozenset({"ct"}),
    )


@pytest.mark.parametrize("fragment", ["#", "#sni=n&e=dublin", "#unknown=1", "#rc", "#=5"])
def test_an_empty_or_unknown_fragment_is_removed_and_means_the_defaults(fragment: str) -> None:
    url, policy = split_connection_overrides("https://example.com/hook?x=1" + fragment)

    assert url == "https://example.com/hook?x=1"
    assert policy == ConnectionPolicy()


def test_the_documented_example() -> None:
    url, policy = split_connection_overrides("https://example.com/foo?query=123#rc=2&ct=1000")

    assert url == "https://example.com/foo?query=123"
    assert policy == ConnectionPolicy(connect_timeout_ms=1000, retry_count=2)


def test_every_key_is_read() -> None:
    _, policy = split_connection_overrides("https://e.com/#ct=100&rt=200&tt=300&rc=4&rp=4xx,rt")

    assert policy == ConnectionPolicy(
        connect_timeout_ms=100,
        read_timeout_ms=200,
        total_timeout_ms=300,
        retry_count=4,
        retry_on=frozenset({"4xx", "rt"}),
    )


@pytest.mark.parametrize(
    ("key", "given_value", "expected"),
    [
        ("ct", "99", 100),
        ("ct", "100", 100),
        ("ct", "10000", 10000),
        ("ct", "10001", 10000),
        ("ct", "-5", 100),
        ("rt", "0", 100),
        ("rt", "15000", 15000),
        ("rt", "99999999", 15000),
        ("tt", "1", 100),
        ("tt", "15001", 15000),
        ("rc", "-1", 0),
        ("rc", "0", 0),
        ("rc", "5", 5),
        ("rc", "6", 5),
        ("rc", "1000", 5),
    ],
)
def test_values_are_clamped_to_twilios_ranges(key: str, given_value: str, expected: int) -> None:
    _, policy = split_connection_overrides(f"https://e.com/#{key}={given_value}")

    values = {
        "ct": policy.connect_timeout_ms,
        "rt": policy.read_timeout_ms,
        "tt": policy.total_timeout_ms,
        "rc": policy.retry_count,
    }
    assert values[key] == expected


@pytest.mark.parametrize("garbage", ["abc", "", "1.5", "0x10", "1e3", "9" * 5000])
def test_malformed_numbers_are_ignored(garbage: str) -> None:
    _, policy = split_connection_overrides(f"https://e.com/#ct={garbage}&rc=3")

    assert policy == ConnectionPolicy(retry_count=3)


@pytest.mark.parametrize(
    ("rp", "expected"),
    [
        ("5xx", {"5xx"}),
        ("4xx,5xx", {"4xx", "5xx"}),
        ("ct,rt", {"ct", "rt"}),
        ("all", {"all"}),
        ("ALL", {"all"}),
        (" 5xx , rt ", {"5xx", "rt"}),
        ("5xx,bogus", {"5xx"}),
    ],
)
def test_retry_policy_words(rp: str, expected: set[str]) -> None:
    _, policy = split_connection_overrides(f"https://e.com/#rp={rp}")

    assert policy.retry_on == frozenset(expected)


@pytest.mark.parametrize("rp", ["", "bogus", "other", ",,", "3xx"])
def test_a_retry_policy_without_a_known_word_keeps_the_default(rp: str) -> None:
    _, policy = split_connection_overrides(f"https://e.com/#rp={rp}")

    assert policy.retry_on == frozenset({"ct"})


def test_the_last_of_a_repeated_key_wins() -> None:
    _, policy = split_connection_overrides("https://e.com/#rc=2&rc=4")

    assert policy.retry_count == 4


def test_only_the_first_hash_starts_the_fragment() -> None:
    url, policy = split_connection_overrides("https://e.com/hook#ct=200&rc=2#x")

    assert url == "https://e.com/hook"
    assert policy == ConnectionPolicy(connect_timeout_ms=200)  # "2#x" is no number


# --- retry decisions ----------------------------------------------------------------------


def test_by_default_only_connect_failures_are_retried() -> None:
    policy = ConnectionPolicy()

    assert [kind for kind in FailureKind if policy.retries(kind)] == [FailureKind.CONNECT]


@pytest.mark.parametrize("kind", [k for k in FailureKind if k is not FailureKind.OTHER])
def test_each_word_retries_its_own_failure(kind: FailureKind) -> None:
    policy = ConnectionPolicy(retry_on=frozenset({kind.value}))

    assert [k for k in FailureKind if policy.retries(k)] == [kind]


def test_all_retries_everything_but_other() -> None:
    policy = ConnectionPolicy(retry_on=frozenset({"all"}))

    assert {k for k in FailureKind if policy.retries(k)} == set(FailureKind) - {FailureKind.OTHER}


def test_other_is_never_retried() -> None:
    policy = ConnectionPolicy(retry_on=frozenset({"all", "ct", "rt", "4xx", "5xx", "other"}))

    assert not policy.retries(FailureKind.OTHER)


# --- attempt records ----------------------------------------------------------------------


def _attempt(error_code: int | None) -> WebhookAttempt:
    return WebhookAttempt("https://e.com/", "POST", "sig", 200, "", 1.0, error_code=error_code)


def test_an_outcome_succeeded_when_its_last_attempt_did() -> None:
    assert WebhookOutcome((_attempt(11205), _attempt(None))).succeeded
    assert not WebhookOutcome((_attempt(None), _attempt(11200))).succeeded
    assert not WebhookOutcome().succeeded
    assert WebhookOutcome().last is None
    assert WebhookOutcome((_attempt(11205), _attempt(None))).last == _attempt(None)
