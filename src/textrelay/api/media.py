"""Messages/{sid}/Media (api-core.md §2.3): list, fetch, delete, and the bytes themselves at
the same path without `.json` (HTTP Basic required, as Twilio now enforces)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api, path_account
from textrelay.api.forms import query_params
from textrelay.api.paging import envelope
from textrelay.api.responses import json_response, no_content
from textrelay.api.serializers import account_path, date_2822
from textrelay.domain.media import Media
from textrelay.domain.paging import parse_page_query


async def collection(request: Request) -> Response:
    account = await path_account(request)
    message_sid = request.path_params["message_sid"]
    query = query_params(request)
    page = parse_page_query(query)
    result = await api(request).media.list_media(account, message_sid, page)
    return json_response(
        envelope(
            path=f"{account_path(account.sid)}/Messages/{message_sid}/Media.json",
            key="media_list",
            query=page,
            filters=query.pairs(),
            result=result,
            render=media_json,
        )
    )


async def instance(request: Request) -> Response:
    account = await path_account(request)
    media = api(request).media
    message_sid, sid = request.path_params["message_sid"], request.path_params["sid"]
    if request.method == "DELETE":
        await media.delete(account, message_sid, sid)
        return no_content()
    return json_response(media_json(await media.get(account, message_sid, sid)))


async def content(request: Request) -> Response:
    account = await path_account(request)
    found, data = await api(request).media.content(
        account, request.path_params["message_sid"], request.path_params["sid"]
    )
    return Response(data, media_type=found.content_type)


def media_json(media: Media) -> dict[str, Any]:
    base = f"{account_path(media.account_sid)}/Messages/{media.message_sid}/Media/{media.sid}"
    return {
        "account_sid": media.account_sid,
        "content_type": media.content_type,
        "date_created": date_2822(media.date_created),
        "date_updated": date_2822(media.date_updated),
        "parent_sid": media.message_sid,
        "sid": media.sid,
        "uri": f"{base}.json",
    }
