"""The 2010-04-01 list envelope (shared/twilio/api-core.md §3).

Exactly one list key beside the paging keys: twilio-python refuses a page with any other
top-level key. URIs are relative, repeat the filters, and carry Twilio's page tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from textrelay.domain.paging import PageAnchor, PageDirection, PageQuery, PageResult

T = TypeVar("T")

_PAGING_PARAMS = frozenset({"PageSize", "Page", "PageToken"})


def envelope(
    *,
    path: str,
    key: str,
    query: PageQuery,
    filters: Sequence[tuple[str, str]],
    result: PageResult[T],
    sid_of: Callable[[T], str],
    render: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    kept = [(k, v) for k, v in filters if k not in _PAGING_PARAMS]

    def uri(page: int, anchor: PageAnchor | None) -> str:
        params = [*kept, ("PageSize", str(query.page_size)), ("Page", str(page))]
        if anchor is not None:
            params.append(("PageToken", anchor.token))
        return f"{path}?{urlencode(params)}"

    items = result.items
    next_uri = None
    if result.has_next and items:
        next_uri = uri(query.page + 1, PageAnchor(PageDirection.AFTER, sid_of(items[-1])))
    previous_uri = None
    if query.page > 0 and items:
        previous_uri = uri(query.page - 1, PageAnchor(PageDirection.BEFORE, sid_of(items[0])))
    start = query.page * query.page_size
    return {
        "first_page_uri": uri(0, None),
        "end": start + len(items) - 1 if items else start,
        "previous_page_uri": previous_uri,
        key: [render(item) for item in items],
        "uri": uri(query.page, query.anchor),
        "page_size": query.page_size,
        "start": start,
        "next_page_uri": next_uri,
        "page": query.page,
    }
