"""Page queries and page tokens (api-core.md §3)."""

from __future__ import annotations

import pytest

from textrelay.domain.errors import InvalidParameter, PageSizeTooLarge, TwilioError
from textrelay.domain.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    InvalidPageToken,
    PageAnchor,
    PageDirection,
    PageQuery,
    parse_page_query,
    parse_page_token,
)

HEX = "0123456789abcdef" * 2
SID = "SM" + HEX


def _raised(query: dict[str, str]) -> TwilioError:
    with pytest.raises(TwilioError) as raised:
        parse_page_query(query)
    return raised.value


def test_defaults() -> None:
    assert (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE) == (50, 1000)
    assert parse_page_query({}) == PageQuery(page_size=50, page=0, anchor=None)
    assert parse_page_query({"PageSize": "", "Page": "", "PageToken": ""}) == PageQuery()


@pytest.mark.parametrize(("raw", "size"), [("1", 1), ("20", 20), ("1000", 1000)])
def test_page_size_within_limits(raw: str, size: int) -> None:
    assert parse_page_query({"PageSize": raw}).page_size == size


@pytest.mark.parametrize("raw", ["1001", "5000"])
def test_page_size_too_large_is_20007(raw: str) -> None:
    error = _raised({"PageSize": raw})

    assert isinstance(error, PageSizeTooLarge)
    assert (error.code, error.status) == (20007, 400)
    assert "Page size too large" in error.message


@pytest.mark.parametrize(
    "query",
    [
        {"PageSize": "0"},
        {"PageSize": "-1"},
        {"PageSize": "abc"},
        {"PageSize": "1.5"},
        {"Page": "abc"},
        {"Page": "-1"},
    ],
)
def test_bad_numbers_are_20001(query: dict[str, str]) -> None:
    error = _raised(query)

    assert isinstance(error, InvalidParameter)
    assert (error.code, error.status) == (20001, 400)


@pytest.mark.parametrize("query", [{"Page": "1"}, {"Page": "2"}, {"Page": "2", "PageToken": ""}])
def test_a_deep_page_needs_its_token(query: dict[str, str]) -> None:
    error = _raised(query)

    assert isinstance(error, InvalidParameter)
    assert error.code == 20001
    assert error.message == "PageToken is required for paging."


def test_a_full_query() -> None:
    query = parse_page_query({"PageSize": "2", "Page": "3", "PageToken": "PA" + SID})

    assert query == PageQuery(2, 3, PageAnchor(PageDirection.AFTER, SID))


@pytest.mark.parametrize(
    ("token", "direction", "sid"),
    [
        ("PA" + SID, PageDirection.AFTER, SID),
        ("PB" + SID, PageDirection.BEFORE, SID),
        ("PASM" + HEX.upper(), PageDirection.AFTER, SID),
        ("PBMM" + HEX.upper(), PageDirection.BEFORE, "MM" + HEX),
        ("PAAC" + HEX, PageDirection.AFTER, "AC" + HEX),
    ],
)
def test_page_tokens(token: str, direction: PageDirection, sid: str) -> None:
    anchor = parse_page_token(token)

    assert anchor == PageAnchor(direction, sid)
    assert parse_page_query({"PageToken": token}).anchor == anchor


def test_a_token_reads_back_as_itself() -> None:
    anchor = PageAnchor(PageDirection.BEFORE, SID)

    assert anchor.token == "PB" + SID
    assert parse_page_token(anchor.token) == anchor
    assert PageDirection.AFTER.value == "PA"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "PA",
        "PA123",
        "XX" + SID,
        "pa" + SID,
        "PC" + SID,
        SID,
        "PAsm" + HEX,
        "PA" + SID + "0",
        "PA" + SID[:-1],
        "PAZZ" + HEX,
        "PASM" + "g" * 32,
    ],
)
def test_malformed_tokens_are_20001(token: str) -> None:
    with pytest.raises(InvalidPageToken) as raised:
        parse_page_token(token)

    assert isinstance(raised.value, InvalidParameter)
    assert (raised.value.code, raised.value.status) == (20001, 400)
    assert token in raised.value.message


def test_a_malformed_token_in_a_query_is_20001() -> None:
    error = _raised({"Page": "1", "PageToken": "PAnope"})

    assert error.code == 20001
    assert "PAnope" in error.message
