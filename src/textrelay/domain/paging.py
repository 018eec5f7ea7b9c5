"""Keyset paging with Twilio's page tokens (shared/twilio/api-core.md §3).

A token is `PA` + the SID of the last record on the current page ("page after", for the next
page) or `PB` + the SID of the first record ("page before", for the previous one). Page N costs
what page 1 costs: the store seeks to the anchor record, it never counts past N pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from textrelay.domain.errors import InvalidParameter, PageSizeTooLarge
from textrelay.domain.sids import is_sid, normalize

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_PAGE = 10_000_000  # keeps page, start and end within 64-bit JSON integers

T = TypeVar("T")


class PageDirection(StrEnum):
    AFTER = "PA"
    BEFORE = "PB"


@dataclass(frozen=True, slots=True)
class PageAnchor:
    direction: PageDirection
    sid: str

    @property
    def token(self) -> str:
        return self.direction.value + self.sid


@dataclass(frozen=True, slots=True)
class PageQuery:
    page_size: int = DEFAULT_PAGE_SIZE
    page: int = 0
    anchor: PageAnchor | None = None


@dataclass(frozen=True, slots=True)
class PageResult(Generic[T]):
    items: Sequence[T]
    has_next: bool


class InvalidPageToken(InvalidParameter):
    def __init__(self, token: str) -> None:
        super().__init__(f"Invalid PageToken: {token}")


def parse_page_token(token: str) -> PageAnchor:
    try:
        direction = PageDirection(token[:2])
    except ValueError:
        raise InvalidPageToken(token) from None
    sid = token[2:]
    if not is_sid(sid):
        raise InvalidPageToken(token)
    return PageAnchor(direction, normalize(sid))


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameter(f"Invalid {name} '{raw}': must be an integer") from None


def parse_page_query(query: Mapping[str, str]) -> PageQuery:
    """`PageSize`, `Page` and `PageToken` from a list request's query."""
    page_size = _int_param(query, "PageSize", DEFAULT_PAGE_SIZE)
    if page_size > MAX_PAGE_SIZE:
        raise PageSizeTooLarge(f"Page size too large: {page_size} exceeds {MAX_PAGE_SIZE}")
    if page_size < 1:
        raise InvalidParameter(f"Invalid PageSize '{page_size}': must be between 1 and 1000")
    page = _int_param(query, "Page", 0)
    if not 0 <= page <= MAX_PAGE:
        raise InvalidParameter(f"Invalid Page '{page}': must be between 0 and {MAX_PAGE}")
    token = query.get("PageToken") or None
    if page > 0 and token is None:
        # Observed Twilio behaviour (twilio-python#395): deep pages need the token.
        raise InvalidParameter("PageToken is required for paging.")
    anchor = parse_page_token(token) if token is not None else None
    return PageQuery(page_size, page, anchor)
