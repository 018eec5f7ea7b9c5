"""Long handset messages put back together (domain/smpp/reassembly.py)."""

from __future__ import annotations

from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textrelay.domain.smpp.reassembly import assemble, missing_parts


@pytest.mark.parametrize(
    ("parts", "total", "expected"),
    [
        ([(1, "Hello, "), (2, "world")], 2, "Hello, world"),
        ([(2, "world"), (1, "Hello, ")], 2, "Hello, world"),
        ([(1, "only")], 1, "only"),
        ([(1, "Hello, ")], 2, None),
        ([], 2, None),
        ([(1, "a"), (1, "a again"), (2, "b")], 2, "ab"),  # a resent part: the first is kept
        ([(1, "a"), (3, "c"), (0, "?"), (2, "b")], 2, "ab"),  # out of range: ignored
        ([(1, "a"), (3, "c")], 2, None),
        ([(1, "a")], 0, None),
        ([(1, "a")], -1, None),
        ([(1, ""), (2, "")], 2, ""),
    ],
)
def test_assemble(parts: list[tuple[int, str]], total: int, expected: str | None) -> None:
    assert assemble(parts, total) == expected


@pytest.mark.parametrize(
    ("sequences", "total", "expected"),
    [
        ([1, 2, 3], 3, ()),
        ([3, 1], 3, (2,)),
        ([], 3, (1, 2, 3)),
        ([2, 2, 5], 3, (1, 3)),
        ([], 0, ()),
    ],
)
def test_missing_parts(sequences: list[int], total: int, expected: tuple[int, ...]) -> None:
    assert missing_parts(sequences, total) == expected


@given(st.lists(st.text(max_size=20), min_size=1, max_size=12), st.randoms())
def test_any_order_makes_the_whole(texts: list[str], rng: Random) -> None:
    parts = list(enumerate(texts, start=1))
    rng.shuffle(parts)

    assert assemble(parts, len(texts)) == "".join(texts)
    assert missing_parts((seq for seq, _ in parts), len(texts)) == ()
    assert assemble(parts[1:], len(texts)) is None
    assert missing_parts((seq for seq, _ in parts[1:]), len(texts)) == (parts[0][0],)
