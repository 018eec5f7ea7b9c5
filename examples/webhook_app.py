"""A small two-way SMS app, the kind textrelay is built to test (docs/two-way-messaging.md).

It checks every webhook's X-Twilio-Signature with twilio's RequestValidator, answers an
incoming text with two TwiML <Message>s (the second with a picture and an action URL), and
keeps the status callbacks its replies' action URL receives.

    TWILIO_AUTH_TOKEN=… uvicorn examples.webhook_app:app --port 5000

then give a number `sms_url=http://127.0.0.1:5000/sms` and text it:
`textrelay text --from +14155550100 --to +1415… "hi"`.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

# A 1x1 PNG, served by the app itself so the example needs nothing else.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def create_app(auth_token: str) -> Starlette:
    validator = RequestValidator(auth_token)
    statuses: list[dict[str, str]] = []

    async def verified(request: Request) -> dict[str, str] | None:
        form = {key: str(value) for key, value in (await request.form()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        return form if validator.validate(str(request.url), form, signature) else None

    async def sms(request: Request) -> Response:
        form = await verified(request)
        if form is None:
            return PlainTextResponse("bad signature", status_code=403)
        reply = MessagingResponse()
        reply.message(f"You said: {form['Body']}")
        picture = reply.message("And here is a picture", action="/status")
        picture.media(str(request.url_for("pixel")))
        return Response(str(reply), media_type="text/xml")

    async def status(request: Request) -> Response:
        form = await verified(request)
        if form is None:
            return PlainTextResponse("bad signature", status_code=403)
        statuses.append(form)
        return Response(status_code=204)

    async def pixel(_request: Request) -> Response:
        return Response(PIXEL, media_type="image/png")

    app = Starlette(
        routes=[
            Route("/sms", sms, methods=["POST"]),
            Route("/status", status, methods=["POST"]),
            Route("/pixel.png", pixel, name="pixel"),
        ]
    )
    app.state.statuses = statuses
    return app


app = create_app(os.environ.get("TWILIO_AUTH_TOKEN", ""))
