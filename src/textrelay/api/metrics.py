"""`/metrics` in Prometheus's text format, and the route label each request is counted under
(by api/request_log.py, which watches every answer; docs/operations.md, "Metrics")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from textrelay.api.context import api, require_server_wide
from textrelay.api.front_door import messages_collection_account
from textrelay.api.responses import json_response
from textrelay.services.metrics import CONTENT_TYPE, Metrics

MESSAGES_ROUTE = "/2010-04-01/Accounts/{account_sid}/Messages.json"
"""The route of a message create, which the front door answers before Starlette's router."""
UNMATCHED = "unmatched"


async def metrics(request: Request) -> Response:
    """Server-wide: the operator's (admin token), and in emulator mode the server's main
    account's; `--metrics-port` serves it without credentials to whoever reaches that port.
    Here, every serving process's series (any of them may take the request); on a process's
    metrics port, its own."""
    await require_server_wide(request, "The metrics")
    exposition = await api(request).metrics.exposition(every_process=True)
    return Response(exposition, media_type=CONTENT_TYPE)


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


def route_label(scope: Scope) -> str:
    """The route template a request matched, never its path: SIDs and phone numbers in paths
    would make a series each. Read once the application has run."""
    route = scope.get("route")  # set by Starlette's router on the scope it was given
    if route is not None:
        return str(route.path)
    if messages_collection_account(scope["path"]) is not None:
        return MESSAGES_ROUTE
    return UNMATCHED
