"""domain/patterns.py: user regular expressions in RE2, linear in the text (issue 12 #4)."""

from __future__ import annotations

import time

import pytest

from textrelay.domain.patterns import MAX_PATTERN_LENGTH, PatternError, compile_pattern, search


def test_search_is_re_search_for_the_common_syntax() -> None:
    assert search(r"^BLOCK", "BLOCK me")
    assert not search(r"^BLOCK", "please BLOCK me")
    assert search(r"code \d{6}\b", "your code 123456.")
    assert search(r"(?i)hello", "HeLLo there")
    assert search(r"(?P<word>[a-z]+)@", "me@example.com")
    assert search(r"é+", "café")
    assert search(r"^$", "")


def test_a_catastrophic_pattern_for_backtracking_is_linear() -> None:
    pattern = compile_pattern(r"^(a+)+$")
    started = time.monotonic()

    assert not pattern.search("a" * 1600 + "!")
    assert pattern.search("a" * 1600)
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    "text",
    [
        "(" * 900,
        r"(a)\1",
        r"(?P<x>a)(?P=x)",
        r"a(?=b)",
        r"a(?!b)",
        r"(?<=b)a",
        r"(?<!b)a",
        r"a++",
        r"end\Z",
        r"\pL{1000}",
        "[",
        "\ud800",
        "x" * (MAX_PATTERN_LENGTH + 1),
    ],
)
def test_what_re2_cannot_run_is_a_pattern_error(text: str) -> None:
    with pytest.raises(PatternError) as refused:
        compile_pattern(text)

    assert 0 < len(str(refused.value)) < 300


def test_a_pattern_at_the_length_limit_compiles() -> None:
    assert compile_pattern("a" * MAX_PATTERN_LENGTH).search("a" * MAX_PATTERN_LENGTH)


def test_a_lone_surrogate_in_the_text_is_searched_not_raised() -> None:
    assert search("b", "a\ud800b")
