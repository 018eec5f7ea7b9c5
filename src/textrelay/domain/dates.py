"""Twilio's date formats: RFC 2822 for 2010-04-01 resources, ISO 8601 for v1, and the forms
the list filters accept (shared/twilio/api-core.md §2.0 and §2.2)."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@lru_cache(maxsize=4096)
def rfc2822(moment: datetime) -> str:
    """`Thu, 30 Jul 2015 20:12:31 +0000`: the offset spelled `+0000`, never `-0000` or GMT.

    English names regardless of locale; written out by hand because every response renders
    several dates and `email.utils.format_datetime` is several times slower. Cached: textrelay's
    times have whole seconds, so the messages of one second share their dates.
    """
    m = moment.astimezone(UTC)
    return (
        f"{_DAYS[m.weekday()]}, {m.day:02d} {_MONTHS[m.month - 1]} {m.year:04d} "
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d} +0000"
    )


def iso8601(moment: datetime) -> str:
    """`2015-07-30T20:12:31Z`, the only form twilio-python's v1 parser accepts."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """A half-open interval [start, end)."""

    start: datetime
    end: datetime


def parse_filter_date(value: str) -> TimeSpan | None:
    """The span a date filter value names: a whole UTC day for `YYYY-MM-DD`, one second for
    a timestamp. None when the value is not a date textrelay can read."""
    try:
        return _filter_span(value.strip())
    except OverflowError:  # the first or last moment datetime can hold
        return None


def _filter_span(text: str) -> TimeSpan | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return TimeSpan(start, start + _ONE_DAY)
    moment = _parse_timestamp(text)
    if moment is None:
        return None
    moment = moment.replace(microsecond=0)
    return TimeSpan(moment, moment + _ONE_SECOND)


def _parse_timestamp(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. year 1 at +0500
        return None


def parse_timestamp(text: str) -> datetime | None:
    """An ISO 8601 or RFC 2822 timestamp as an aware UTC datetime (naive means UTC)."""
    return _parse_timestamp(text.strip())
