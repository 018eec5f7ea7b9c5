"""The per-pair cookie jar of inbound webhooks (domain/cookies.py)."""

from __future__ import annotations

from textrelay.domain.cookies import merge


def test_set_cookies_are_kept_and_updated() -> None:
    jar = merge(None, ["a=1; Path=/", "b=2; HttpOnly"])

    assert jar == "a=1; b=2"
    assert merge(jar, ["a=3"]) == "a=3; b=2"


def test_a_cookie_set_to_expire_or_empty_is_dropped() -> None:
    assert merge("a=1; b=2", ["a=; Max-Age=0"]) == "b=2"
    assert merge("a=1", ["a=x; Max-Age=0"]) is None


def test_malformed_set_cookie_lines_are_ignored() -> None:
    assert merge("a=1", ['bad"cookie']) == "a=1"
    assert merge(None, []) is None
