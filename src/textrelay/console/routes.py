"""The console's routing table, read top to bottom, under /console (and / redirects there)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from textrelay.console.views import Console


async def _home(_request: Request) -> Response:
    return RedirectResponse("/console/", status_code=307)


def console_routes(console: Console) -> list[BaseRoute]:
    g = console.guarded
    return [
        Route("/", _home, methods=["GET"]),
        Route("/console", _home, methods=["GET"]),
        Route("/console/", g(console.log), methods=["GET"]),
        Route("/console/events", console.events, methods=["GET"]),
        Route("/console/search", g(console.search), methods=["GET"]),
        Route("/console/login", console.sign_in.login, methods=["GET", "POST"]),
        Route("/console/logout", console.sign_in.logout, methods=["POST"]),
        Route("/console/messages/{sid}", g(console.message), methods=["GET"]),
        Route("/console/messages/{sid}/step", g(console.step), methods=["POST"]),
        Route("/console/messages/{sid}/resend/{index:int}", g(console.resend), methods=["POST"]),
        Route("/console/media/{sid}", g(console.media), methods=["GET"]),
        Route("/console/phones", g(console.phones), methods=["GET"]),
        Route("/console/phones/{number}", g(console.phone), methods=["GET"]),
        Route("/console/phones/{number}/text", g(console.text_back), methods=["POST"]),
        Route("/console/account", g(console.account_page), methods=["GET"]),
        Route("/console/carriers", g(console.carriers), methods=["GET"]),
        Route("/console/account/keys", g(console.create_key), methods=["POST"]),
        Route("/console/simulator", g(console.simulator), methods=["POST"]),
        Route("/console/simulator/rules", g(console.add_rule), methods=["POST"]),
        Route("/console/simulator/rules/clear", g(console.clear_rules), methods=["POST"]),
        Route("/console/reset", g(console.reset), methods=["POST"]),
        Mount(
            "/console/static",
            app=StaticFiles(packages=[("textrelay.console", "static")]),
            name="console-static",
        ),
    ]
