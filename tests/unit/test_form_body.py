"""A webhook's form body is urlencode's, byte for byte, for any names and values."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from textrelay.webhooks.http import form_body

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)


@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=8))
def test_the_body_is_urlencodes(params: list[tuple[str, str]]) -> None:
    assert form_body(params) == urlencode(params).encode()


def test_what_needs_escaping_is_escaped() -> None:
    params = [("To", "+14155550100"), ("Body", "a b&c=d~é"), ("MessageSid", "SM0a-_.~")]
    assert form_body(params) == b"To=%2B14155550100&Body=a+b%26c%3Dd~%C3%A9&MessageSid=SM0a-_.~"
