"""`/metrics` in Prometheus's text format, and the ASGI wrapper that counts and times every
request (docs/operations.md, "Metrics")."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textrelay.api.context import api, caller
from textrelay.api.front_door import messages_collection_account
from textrelay.api.responses import json_response
from textrelay.services.metrics import CONTENT_TYPE, Metrics

MESSAGES_ROUTE = "/2010-04-01/Accounts/{account_sid}/Messages.json"
"""The route of a message create, which the front door answers before Starlette's router."""
UNMATCHED = "unmatched"


async def metrics(request: Request) -> Response:
    """Server-wide: the operator's (admin token), and in emulator mode the server's main
    account's; `--metrics-port` serves it without credentials to whoever reaches that port."""
    ctx = api(request)
    if not ctx.operator.is_operator(request.headers.get("authorization", "")):
        principal = await caller(request)
        await ctx.operator.require_server_wide(principal.account, "The metrics")
    return Response(await ctx.metrics.exposition(), media_type=CONTENT_TYPE)


def metrics_port_routes(registry: Metrics) -> list[BaseRoute]:
    """What `--metrics-port` serves: the metrics without credentials (that port is meant for a
    private network, where Prometheus scrapes), and liveness."""

    async def open_metrics(request: Request) -> Response:
        return Response(await registry.exposition(), media_type=CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok"})

    return [
        Route("/metrics", open_metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]


class MeteredHttp:
    """Counts and times each HTTP request under its route template, never its path: SIDs and
    phone numbers in paths would make a series each."""

    __slots__ = ("_app", "_metrics")

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0  # no answer began: the client left, or the app failed before answering

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, watched)
        except BaseException:
            status = status or 500
            raise
        finally:
            self._metrics.request(
                _route(scope), scope["method"], status, time.perf_counter() - started
            )


def _route(scope: Scope) -> str:
    route = scope.get("route")  # set by Starlette's router on the scope it was given
    if route is not None:
        return str(route.path)
    if messages_collection_account(scope["path"]) is not None:
        return MESSAGES_ROUTE
    return UNMATCHED
