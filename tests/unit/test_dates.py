"""Date formats and date filters (api-core.md §2.0 and §2.2; messaging-and-webhooks.md §0)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from textrelay.domain.dates import TimeSpan, iso8601, parse_filter_date, parse_timestamp, rfc2822

MOMENT = datetime(2015, 7, 30, 20, 12, 31, tzinfo=UTC)
PACIFIC = timezone(timedelta(hours=-7))
INDIA = timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (MOMENT, "Thu, 30 Jul 2015 20:12:31 +0000"),
        (MOMENT.astimezone(PACIFIC), "Thu, 30 Jul 2015 20:12:31 +0000"),
        (MOMENT.astimezone(INDIA), "Thu, 30 Jul 2015 20:12:31 +0000"),  # the next day there
        (MOMENT.replace(microsecond=999_999), "Thu, 30 Jul 2015 20:12:31 +0000"),
        (datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC), "Sat, 03 Feb 2024 04:05:06 +0000"),
        (datetime(2024, 12, 29, 0, 0, 0, tzinfo=UTC), "Sun, 29 Dec 2024 00:00:00 +0000"),
        (datetime(2024, 1, 1, 23, 59, 59, tzinfo=UTC), "Mon, 01 Jan 2024 23:59:59 +0000"),
    ],
)
def test_rfc2822_is_twilios_exact_form(moment: datetime, text: str) -> None:
    assert rfc2822(moment) == text


def test_rfc2822_never_says_gmt_or_minus_zero() -> None:
    text = rfc2822(MOMENT)

    assert text.endswith(" +0000")
    assert "GMT" not in text
    assert "-0000" not in text


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (MOMENT, "2015-07-30T20:12:31Z"),
        (MOMENT.astimezone(PACIFIC), "2015-07-30T20:12:31Z"),
        (MOMENT.replace(microsecond=500_000), "2015-07-30T20:12:31Z"),  # no fractions
    ],
)
def test_iso8601_is_the_v1_form(moment: datetime, text: str) -> None:
    assert iso8601(moment) == text


def test_both_forms_read_back_as_the_same_moment() -> None:
    assert parse_timestamp(rfc2822(MOMENT)) == MOMENT
    assert parse_timestamp(iso8601(MOMENT)) == MOMENT


def test_a_day_filter_is_the_whole_utc_day() -> None:
    span = parse_filter_date("2024-02-03")

    assert span == TimeSpan(datetime(2024, 2, 3, tzinfo=UTC), datetime(2024, 2, 4, tzinfo=UTC))


@pytest.mark.parametrize(
    "text",
    [
        "2024-02-03T04:05:06Z",
        "2024-02-03T04:05:06+00:00",
        "2024-02-03T06:05:06+02:00",
        "2024-02-03T04:05:06",  # naive means UTC
        "2024-02-03T04:05:06.750Z",  # the span is the whole second
        "Sat, 03 Feb 2024 04:05:06 +0000",
        "Sat, 03 Feb 2024 04:05:06 GMT",
        "Fri, 02 Feb 2024 23:05:06 -0500",
        "  2024-02-03T04:05:06Z  ",
    ],
)
def test_a_timestamp_filter_is_one_second(text: str) -> None:
    span = parse_filter_date(text)

    assert span == TimeSpan(
        datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2024, 2, 3, 4, 5, 7, tzinfo=UTC)
    )


def test_filter_spans_are_utc_aware() -> None:
    for text in ("2024-02-03", "2024-02-03T04:05:06+02:00", "Sat, 03 Feb 2024 04:05:06 -0700"):
        span = parse_filter_date(text)
        assert span is not None
        assert span.start.utcoffset() == timedelta(0)
        assert span.end.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text", ["", "   ", "yesterday", "2024-02-30", "2024-13-01", "03/02/2024", "Sat, 99 Foo"]
)
def test_garbage_is_not_a_date(text: str) -> None:
    assert parse_filter_date(text) is None
    assert parse_timestamp(text) is None


def test_parse_timestamp() -> None:
    assert parse_timestamp("2015-07-30T20:12:31") == MOMENT
    assert parse_timestamp(" Thu, 30 Jul 2015 13:12:31 -0700 ") == MOMENT
    assert parse_timestamp("not a date") is None
