"""JSON responses, rendered with orjson the way Twilio's clients read them."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

JSON_TYPE = "application/json; charset=utf-8"


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content), status_code=status, media_type=JSON_TYPE, headers=headers
    )


def no_content() -> Response:
    return Response(status_code=204)
