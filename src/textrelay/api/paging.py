"""The 2010-04-01 list envelope (shared/twilio/api-core.md §3) and the page links both
list envelopes share.

Exactly one list key beside the paging keys: twilio-python refuses a page with any other
top-level key. URIs are relative, repeat the filters, and carry Twilio's page tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from textrelay.domain.paging import PageAnchor, PageDirection, PageQuery, PageResult


class Listed(Protocol):
    """What a list holds: resources named by a SID, which the page tokens carry."""

    @property
    def sid(self) -> str: ...


ListedT = TypeVar("ListedT", bound=Listed)

_PAGING_PARAMS = frozenset({"PageSize", "Page", "PageToken"})


@dataclass(frozen=True, slots=True)
class PageLinks:
    """The links of one page: to the first, itself, the next and the previous (None when
    there is none). Both envelopes (2010-04-01 and v1) carry these four."""

    first: str
    current: str
    next: str | None
    previous: str | None


def page_links(
    *,
    path: str,
    filters: Sequence[tuple[str, str]],
    query: PageQuery,
    result: PageResult[ListedT],
) -> PageLinks:
    """Links that repeat the filters and carry Twilio's page tokens (keyset paging)."""
    kept = [(k, v) for k, v in filters if k not in _PAGING_PARAMS]

    def link(page: int, anchor: PageAnchor | None) -> str:
        params = [*kept, ("PageSize", str(query.page_size)), ("Page", str(page))]
        if anchor is not None:
            params.append(("PageToken", anchor.token))
        return f"{path}?{urlencode(params)}"

    items = result.items
    next_link = None
    if result.has_next and items:
        next_link = link(query.page + 1, PageAnchor(PageDirection.AFTER, items[-1].sid))
    previous_link = None
    if query.page > 0 and items:
        previous_link = link(query.page - 1, PageAnchor(PageDirection.BEFORE, items[0].sid))
    return PageLinks(link(0, None), link(query.page, query.anchor), next_link, previous_link)


def envelope(
    *,
    path: str,
    key: str,
    query: PageQuery,
    filters: Sequence[tuple[str, str]],
    result: PageResult[ListedT],
    render: Callable[[ListedT], dict[str, Any]],
) -> dict[str, Any]:
    links = page_links(path=path, filters=filters, query=query, result=result)
    items = result.items
    start = query.page * query.page_size
    return {
        "first_page_uri": links.first,
        "end": start + len(items) - 1 if items else start,
        "previous_page_uri": links.previous,
        key: [render(item) for item in items],
        "uri": links.current,
        "page_size": query.page_size,
        "start": start,
        "next_page_uri": links.next,
        "page": query.page,
    }
