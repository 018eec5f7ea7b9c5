"""`/healthz` and `/readyz`: unauthenticated, as load balancers and orchestrators probe them,
and saying nothing about any tenant (docs/operations.md, "Health")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api
from textrelay.api.responses import json_response


async def healthz(request: Request) -> Response:
    """The process answers."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 when the database is reachable and migrated, the workers (if any) run and every
    configured carrier has a bind up; 503 naming what is not."""
    readiness = await api(request).health.readiness()
    body = {
        "ready": readiness.ready,
        "checks": {
            name: {"ok": check.ok, "detail": check.detail}
            for name, check in readiness.checks.items()
        },
    }
    return json_response(body, status=200 if readiness.ready else 503)
