"""The routing table, read top to bottom: every path textrelay's API answers.

api.twilio.com's 2010-04-01 paths, and messaging.twilio.com's and accounts.twilio.com's v1
paths, share one base URL; they never overlap, so the path alone tells the product.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from textrelay.api import (
    accounts,
    auth_tokens,
    carriers,
    control,
    health,
    media,
    messages,
    messaging_v1,
    metrics,
    phone_numbers,
    short_codes,
)

ACCOUNT = "/2010-04-01/Accounts/{account_sid}"
CONTROL_ACCOUNT = f"{control.PREFIX}/Accounts/{{account_sid}}"

ROUTES: list[BaseRoute] = [
    # Messages first: they carry nearly all the traffic, and routes match in order.
    Route(f"{ACCOUNT}/Messages.json", messages.messages_collection, methods=["GET", "POST"]),
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/metrics", metrics.metrics, methods=["GET"]),
    Route(
        f"{ACCOUNT}/Messages/{{sid}}.json",
        messages.message_instance,
        methods=["GET", "POST", "DELETE"],
    ),
    Route(f"{ACCOUNT}/Messages/{{message_sid}}/Media.json", media.collection, methods=["GET"]),
    Route(
        f"{ACCOUNT}/Messages/{{message_sid}}/Media/{{sid}}.json",
        media.instance,
        methods=["GET", "DELETE"],
    ),
    # The bytes: the same path without `.json` (after it, so `.json` is never taken for a SID).
    Route(f"{ACCOUNT}/Messages/{{message_sid}}/Media/{{sid}}", media.content, methods=["GET"]),
    Route("/2010-04-01/Accounts.json", accounts.accounts_collection, methods=["GET", "POST"]),
    Route(f"{ACCOUNT}.json", accounts.account_instance, methods=["GET", "POST"]),
    Route(f"{ACCOUNT}/Keys.json", accounts.keys_collection, methods=["GET", "POST"]),
    Route(f"{ACCOUNT}/Keys/{{sid}}.json", accounts.key_instance, methods=["GET", "POST", "DELETE"]),
    Route(
        f"{ACCOUNT}/IncomingPhoneNumbers.json",
        phone_numbers.numbers_collection,
        methods=["GET", "POST"],
    ),
    *(
        Route(
            f"{ACCOUNT}/IncomingPhoneNumbers/{type_name}.json",
            phone_numbers.typed_collection(type_name),
            methods=["GET", "POST"],
        )
        for type_name in phone_numbers.TYPED_COLLECTIONS
    ),
    Route(
        f"{ACCOUNT}/IncomingPhoneNumbers/{{sid}}.json",
        phone_numbers.number_instance,
        methods=["GET", "POST", "DELETE"],
    ),
    Route(f"{ACCOUNT}/SMS/ShortCodes.json", short_codes.collection, methods=["GET"]),
    Route(f"{ACCOUNT}/SMS/ShortCodes/{{sid}}.json", short_codes.instance, methods=["GET", "POST"]),
    # messaging.twilio.com/v1.
    Route("/v1/Services", messaging_v1.services_collection, methods=["GET", "POST"]),
    Route("/v1/Services/{sid}", messaging_v1.service_instance, methods=["GET", "POST", "DELETE"]),
    *(
        route
        for pool in ("PhoneNumbers", "ShortCodes", "AlphaSenders")
        for route in (
            Route(
                f"/v1/Services/{{service_sid}}/{pool}",
                messaging_v1.pool_collection(pool),
                methods=["GET", "POST"],
            ),
            Route(
                f"/v1/Services/{{service_sid}}/{pool}/{{sid}}",
                messaging_v1.pool_instance(pool),
                methods=["GET", "DELETE"],
            ),
        )
    ),
    # accounts.twilio.com/v1.
    Route("/v1/AuthTokens/Secondary", auth_tokens.secondary, methods=["POST", "DELETE"]),
    Route("/v1/AuthTokens/Promote", auth_tokens.promote, methods=["POST"]),
    # textrelay's own control API (docs/control-api.md).
    # The simulator's settings: the caller's own account's, or the named account's.
    Route(f"{control.PREFIX}/Simulator", control.simulator, methods=["GET", "POST", "PUT"]),
    Route(f"{control.PREFIX}/Simulator/Rules", control.simulator_rules, methods=["POST", "DELETE"]),
    Route(
        f"{CONTROL_ACCOUNT}/Simulator",
        control.simulator,
        methods=["GET", "POST", "PUT", "DELETE"],
    ),
    Route(
        f"{CONTROL_ACCOUNT}/Simulator/Rules",
        control.simulator_rules,
        methods=["POST", "DELETE"],
    ),
    Route(
        f"{CONTROL_ACCOUNT}/Phones/{{number}}/Messages",
        control.phone_messages,
        methods=["GET"],
    ),
    Route(f"{CONTROL_ACCOUNT}/Messages/{{sid}}/Step", control.message_step, methods=["POST"]),
    Route(f"{CONTROL_ACCOUNT}/Messages/{{sid}}/Events", control.message_events, methods=["GET"]),
    Route(f"{CONTROL_ACCOUNT}/Messages/{{sid}}/Read", control.message_read, methods=["POST"]),
    Route(
        f"{CONTROL_ACCOUNT}/Messages/{{sid}}/Callbacks", control.message_callbacks, methods=["GET"]
    ),
    Route(f"{CONTROL_ACCOUNT}/Messages/{{sid}}/Jobs", control.message_jobs, methods=["GET"]),
    Route(f"{CONTROL_ACCOUNT}/Jobs", control.account_jobs, methods=["GET"]),
    Route(f"{CONTROL_ACCOUNT}/Reset", control.reset, methods=["POST"]),
    Route(f"{CONTROL_ACCOUNT}/ShortCodes", control.provision_short_code, methods=["POST"]),
    Route(f"{CONTROL_ACCOUNT}/Inbound", control.inbound, methods=["POST"]),
    Route(
        f"{CONTROL_ACCOUNT}/Conversations/{{one}}/{{other}}", control.conversation, methods=["GET"]
    ),
    Route(f"{CONTROL_ACCOUNT}/OptOuts", control.opt_outs, methods=["GET"]),
    Route(f"{control.PREFIX}/Clock", control.clock, methods=["GET", "POST"]),
    # An upstream carrier's status callbacks and incoming messages: signed by the upstream, no
    # account credentials.
    Route(
        f"{control.PREFIX}/Carriers/{{name}}/StatusCallback",
        carriers.status_callback,
        methods=["POST"],
    ),
    Route(
        f"{control.PREFIX}/Carriers/{{name}}/IncomingMessage",
        carriers.incoming_message,
        methods=["POST"],
    ),
    Route(f"{control.PREFIX}/Carriers", control.carriers, methods=["GET"]),
    Route(f"{CONTROL_ACCOUNT}/Messages/{{sid}}/Carrier", control.message_carrier, methods=["GET"]),
]
