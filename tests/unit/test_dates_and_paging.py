"""Date formats and filters, and page queries (api-core.md §2.0, §2.2, §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from textrelay.domain.dates import iso8601, parse_filter_date, rfc2822
from textrelay.domain.errors import InvalidParameter, PageSizeTooLarge
from textrelay.domain.paging import PageDirection, parse_page_query, parse_page_token

MOMENT = datetime(2015, 7, 30, 20, 12, 31, tzinfo=UTC)


def test_rfc2822_is_twilios_exact_form() -> None:
    assert rfc2822(MOMENT) == "Thu, 30 Jul 2015 20:12:31 +0000"
    assert rfc2822(MOMENT.astimezone(timezone(timedelta(hours=-7)))) == rfc2822(MOMENT)
    assert rfc2822(datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)) == "Sat, 03 Feb 2024 04:05:06 +0000"


def test_iso8601_is_the_v1_form() -> None:
    assert iso8601(MOMENT) == "2015-07-30T20:12:31Z"


def test_filter_dates() -> None:
    day = parse_filter_date("2024-02-03")
    second = parse_filter_date("2024-02-03T04:05:06Z")
    rfc = parse_filter_date("Sat, 03 Feb 2024 04:05:06 +0000")

    assert day is not None
    assert (day.start, day.end) == (
        datetime(2024, 2, 3, tzinfo=UTC),
        datetime(2024, 2, 4, tzinfo=UTC),
    )
    assert second is not None
    assert second.end - second.start == timedelta(seconds=1)
    assert rfc == second
    assert parse_filter_date("yesterday") is None


def test_page_query_defaults_and_limits() -> None:
    assert parse_page_query({}).page_size == 50
    assert parse_page_query({"PageSize": "1000"}).page_size == 1000
    with pytest.raises(PageSizeTooLarge) as too_large:
        parse_page_query({"PageSize": "1001"})
    assert too_large.value.code == 20007
    for bad in ({"PageSize": "0"}, {"PageSize": "abc"}, {"Page": "-1"}):
        with pytest.raises(InvalidParameter):
            parse_page_query(bad)


def test_deep_page_needs_its_token() -> None:
    with pytest.raises(InvalidParameter, match=r"PageToken is required for paging\."):
        parse_page_query({"Page": "2"})


def test_page_tokens() -> None:
    after = parse_page_token("PASM" + "AB" * 16)
    before = parse_page_token("PBSM" + "ab" * 16)

    assert (after.direction, after.sid) == (PageDirection.AFTER, "SM" + "ab" * 16)
    assert before.direction is PageDirection.BEFORE
    assert after.token == "PASM" + "ab" * 16
    for bad in ("XXSM" + "a" * 32, "PA123", "PA"):
        with pytest.raises(InvalidParameter):
            parse_page_token(bad)
