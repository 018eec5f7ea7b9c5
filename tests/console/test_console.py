"""The web console in a real browser: live updates over server-sent events, search, a
message's webhooks, texting back as a handset, stepping by hand, the login off loopback, and
the layout on a phone and in dark mode."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect
from twilio.rest import Client

from tests.console.conftest import PageFactory, ServerFactory
from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.settings import Settings
from textrelay.testing import TextrelayServer

pytestmark = pytest.mark.timeout(30)

HANDSET = "+14155550100"
PONG = '<?xml version="1.0"?><Response><Message>pong</Message></Response>'
CONNECTED = re.compile(r"\bconnected\b")


def _sender(client: Client, **options: Any) -> str:
    number: str = client.incoming_phone_numbers.create(area_code="415", **options).phone_number
    return number


def _send(client: Client, sender: str, body: str, **options: Any) -> str:
    sid: str = client.messages.create(to=HANDSET, from_=sender, body=body, **options).sid
    return sid


def _live(page: Page) -> None:
    """Wait until the page's event stream is open, and mark the document: a reload would lose
    the mark (see `_not_reloaded`)."""
    expect(page.locator("body")).to_have_class(CONNECTED)
    page.evaluate("window.__sameDocument = true")


def _not_reloaded(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true") is True


def _luminance(css_color: str) -> float:
    """Relative luminance (WCAG) of an `rgb(...)`/`rgba(...)` computed color."""
    channels = [int(c) / 255 for c in re.findall(r"\d+", css_color)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _wait_for_callbacks(server: TextrelayServer, sid: str, count: int) -> None:
    with server.control() as control:
        eventually(
            lambda: control.callbacks(sid),
            until=lambda recorded: len(recorded) >= count,
            what=f"{sid}: fewer than {count} callbacks recorded",
        )


def test_a_new_message_appears_in_the_open_log_without_a_reload(
    start_server: ServerFactory, open_console: PageFactory
) -> None:
    server = start_server()
    client = server.client()
    sender = _sender(client)
    page = open_console(server)
    page.goto("/console/")
    _live(page)
    expect(page.locator("tr[data-sid]")).to_have_count(0)

    sid = _send(client, sender, "Your table for two is ready")

    row = page.locator(f'tr[data-sid="{sid}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("Your table for two is ready")
    expect(row.locator(".status")).to_have_text("delivered")
    assert _not_reloaded(page)


def test_the_detail_page_follows_status_changes_live(
    start_server: ServerFactory, open_console: PageFactory
) -> None:
    server = start_server(simulator_mode="manual")
    client = server.client()
    sid = _send(client, _sender(client), "stepped from the test")
    page = open_console(server)
    page.goto(f"/console/messages/{sid}")
    status = page.locator("#message-status")
    expect(status).to_have_text("queued")
    _live(page)

    with server.control() as control:
        control.step(sid)
        expect(status).to_have_text("sent")
        control.step(sid)
        expect(status).to_have_text("delivered")

    expect(page.locator(".timeline")).to_contain_text("sent")
    assert _not_reloaded(page)


def test_searching_a_sid_opens_what_it_names(
    start_server: ServerFactory, open_console: PageFactory
) -> None:
    server = start_server()
    client = server.client()
    sid = _send(client, _sender(client), "find me")
    page = open_console(server)
    page.goto("/console/")

    page.locator("#search").fill(sid)
    page.locator("#search").press("Enter")

    expect(page).to_have_url(re.compile(rf"/console/messages/{sid}$"))
    expect(page.locator("h1")).to_contain_text(sid)

    page.locator("#search").fill("SM" + "0" * 32)
    with page.expect_response(re.compile(r"/console/search\?")) as searched:
        page.locator("#search").press("Enter")
    assert searched.value.status == 404
    expect(page.locator("h1")).to_have_text("No such resource")


def test_the_detail_page_lists_callbacks_with_their_answers(
    start_server: ServerFactory, open_console: PageFactory, receiver: Receiver
) -> None:
    server = start_server()
    client = server.client()
    sender = _sender(client)
    refused = _send(client, sender, "to a failing app", status_callback=receiver.url("/status/500"))
    accepted = _send(client, sender, "to a working app", status_callback=receiver.url())
    _wait_for_callbacks(server, refused, 2)
    _wait_for_callbacks(server, accepted, 2)
    page = open_console(server)

    page.goto(f"/console/messages/{refused}")
    attempts = page.locator("#callbacks ~ details.attempt")
    expect(attempts).to_have_count(2)
    for attempt in attempts.all():
        expect(attempt.locator("summary")).to_contain_text("→ 500")
        expect(attempt.locator("summary")).to_contain_text(receiver.url("/status/500"))
    first = attempts.first
    params = first.locator("table.params")
    expect(params).to_be_hidden()
    first.locator("summary").click()
    expect(params).to_be_visible()
    expect(params.locator("tr", has=page.locator("th", has_text="MessageStatus"))).to_have_text(
        re.compile(r"MessageStatus\s*sent")
    )
    expect(params.locator("tr", has=page.locator("th", has_text="MessageSid"))).to_contain_text(
        refused
    )

    page.goto(f"/console/messages/{accepted}")
    attempts = page.locator("#callbacks ~ details.attempt")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0).locator("summary")).to_contain_text("→ 200")
    expect(attempts.nth(1).locator("summary")).to_contain_text("→ 200")
    attempts.nth(1).locator("summary").click()
    expect(
        attempts.nth(1).locator("tr", has=page.locator("th", has_text="MessageStatus"))
    ).to_have_text(re.compile(r"MessageStatus\s*delivered"))


def test_texting_back_from_the_phone_view_reaches_the_app_and_shows_its_reply(
    start_server: ServerFactory, open_console: PageFactory, receiver: Receiver
) -> None:
    server = start_server()
    number = _sender(server.client(), sms_url=receiver.answer("/sms", PONG))
    page = open_console(server)
    page.goto(f"/console/phones/{HANDSET}")
    expect(page.locator("#live-region")).to_contain_text("No messages with this handset yet.")

    page.locator("select[name=to]").select_option(number)
    page.locator("#body").fill("ping")
    page.get_by_role("button", name="Send", exact=True).click()

    requests = receiver.wait_for(lambda rs: any(r.params.get("Body") == "ping" for r in rs))
    call = next(r for r in requests if r.params.get("Body") == "ping")
    assert (call.path, call.params["From"], call.params["To"]) == ("/sms", HANDSET, number)
    with server.control() as control:
        control.wait_for_message(HANDSET, contains="pong", timeout_s=10)
    thread = page.get_by_role("region", name=f"Conversation with {number}")
    expect(thread.locator(".from-handset .bubble")).to_have_text(["ping"])
    expect(thread.locator(".to-handset .bubble")).to_have_text(["pong"])


def test_the_step_button_advances_a_message_in_manual_mode(
    start_server: ServerFactory, open_console: PageFactory
) -> None:
    server = start_server(simulator_mode="manual")
    client = server.client()
    sid = _send(client, _sender(client), "one step at a time")
    page = open_console(server)
    page.goto(f"/console/messages/{sid}")
    status = page.locator("#message-status")
    step = page.get_by_role("button", name="Step to next status")
    expect(status).to_have_text("queued")

    step.click()
    expect(status).to_have_text("sent")
    step.click()
    expect(status).to_have_text("delivered")

    expect(step).to_have_count(0)
    assert server.client().messages(sid).fetch().status == "delivered"


def test_off_loopback_the_console_asks_for_a_login_and_checks_its_forms(
    start_server: ServerFactory, open_console: PageFactory
) -> None:
    server = start_server(host="0.0.0.0")
    main = server.main_account
    page = open_console(server, signed_in=False)

    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2F$"))
    assert page.request.get("/console/events").status == 401

    page.locator("#username").fill(main.sid)
    page.locator("#password").fill("not-the-token")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Those credentials were not accepted.")

    page.locator("#username").fill(main.sid)
    page.locator("#password").fill(main.auth_token)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/console/$"))
    expect(page.locator("h1")).to_contain_text("Messages")
    expect(page.locator(".who")).to_contain_text(main.sid)

    # A form whose token was tampered with, submitted by the browser itself.
    page.goto("/console/account")
    key_form = page.locator("form[action='/console/account/keys']")
    key_form.locator("input[name=csrf]").evaluate("input => { input.value = 'forged'; }")
    with page.expect_response(re.compile(r"/console/account/keys$")) as posted:
        key_form.get_by_role("button", name="Create key").click()
    assert posted.value.status == 403
    expect(page.locator("h1")).to_have_text("Refused")
    # And one with no token at all, with the session cookie.
    no_token = page.request.post("/console/reset", form={"confirm": "yes"}, max_redirects=0)
    assert no_token.status == 403
    assert server.client().api.account.keys.list() == []


def test_on_loopback_the_printed_link_signs_in_and_logging_out_ends_it(
    start_server: ServerFactory, open_console: PageFactory
) -> None:
    server = start_server()
    main = server.main_account
    page = open_console(server, signed_in=False)

    # Any page of this host, without the link, is not trusted (issue 12, defect 1).
    page.goto("/console/account")
    expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Faccount$"))
    expect(page.locator("main")).to_contain_text("Open the console link textrelay printed")

    page.goto(server.console_url)
    expect(page).to_have_url(re.compile(r"/console/$"))  # the token is gone from the address
    expect(page.locator(".who")).to_contain_text(main.sid)
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "tr_console")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    # The old cookie, put back, no longer signs anyone in (defect 7).
    page.context.add_cookies([{"name": "tr_console", "value": session, "url": server.base_url}])
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2F$"))


def test_failed_logins_are_throttled_with_a_message(
    start_server: ServerFactory, open_console: PageFactory
) -> None:
    server = start_server(host="0.0.0.0")
    main = server.main_account
    page = open_console(server, signed_in=False)
    page.goto("/console/login")

    for n in range(11):
        page.locator("#username").fill(main.sid)
        page.locator("#password").fill(f"guess-{n}")
        with page.expect_response(re.compile(r"/console/login$")) as answered:
            page.get_by_role("button", name="Log in").click()
    assert answered.value.status == 429
    assert 0 < int(answered.value.headers["retry-after"]) <= 60
    expect(page.get_by_role("alert")).to_contain_text("Too many failed logins")

    page.locator("#username").fill(main.sid)
    page.locator("#password").fill(main.auth_token)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed logins")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_log_fits_a_phone_and_follows_the_color_scheme(
    start_server: ServerFactory, open_console: PageFactory, scheme: str
) -> None:
    server = start_server()
    client = server.client()
    sender = _sender(client)
    _send(client, sender, "Your verification code is 482913. It expires in 10 minutes.")
    _send(client, sender, "Track it at https://example.com/orders/" + "7" * 60 + "?utm=sms")
    client.messages.create(to="+15550130003", from_=sender, body="this one bounces")
    page = open_console(
        server,
        viewport={"width": 390, "height": 844},
        color_scheme=scheme,
        is_mobile=True,
        has_touch=True,
    )

    page.goto("/console/")
    expect(page.locator("tr[data-sid]")).to_have_count(3)

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the log is {width}px wide on a 390px screen"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    luminance = _luminance(background)
    if scheme == "dark":
        assert luminance < 0.05, f"dark mode body background {background}"
    else:
        assert luminance > 0.8, f"light mode body background {background}"


# --- changes that happen between a page's render and its event stream, and attempts recorded
# after a status change, still show live ---------------------------------------------------------


def test_a_change_before_the_event_stream_opens_still_shows(
    start_server: ServerFactory, open_console: PageFactory
) -> None:
    server = start_server()
    client = server.client()
    sender = _sender(client)
    page = open_console(server)
    held: list[Route] = []
    page.route("**/console/events", lambda route: held.append(route))
    page.goto("/console/")
    expect(page.locator("tr[data-sid]")).to_have_count(0)
    eventually(
        lambda: held,
        timeout_s=5,
        interval_s=0.02,
        what="the page did not subscribe to /console/events",
        pause=lambda seconds: page.wait_for_timeout(seconds * 1000),
    )

    sid = _send(client, sender, "created while the page was connecting")
    with server.control() as control:
        control.wait_until_final(sid)
    held[0].continue_()

    expect(page.locator("body")).to_have_class(CONNECTED)
    expect(page.locator(f'tr[data-sid="{sid}"]')).to_be_visible(timeout=3000)


def test_the_detail_page_shows_new_callback_attempts_live(
    start_server: ServerFactory, open_console: PageFactory, receiver: Receiver
) -> None:
    server = start_server(simulator_mode="manual")
    client = server.client()
    sid = _send(client, _sender(client), "slow app", status_callback=receiver.url("/slow/300"))
    page = open_console(server)
    page.goto(f"/console/messages/{sid}")
    _live(page)

    with server.control() as control:
        control.step(sid)
        expect(page.locator("#message-status")).to_have_text("sent")
        _wait_for_callbacks(server, sid, 1)

    expect(page.locator("#callbacks ~ details.attempt")).to_have_count(1, timeout=3000)


def test_a_message_created_by_another_process_appears_live(
    start_server: ServerFactory, open_console: PageFactory, tmp_path: Path
) -> None:
    # A second server on the same database stands for another process (several processes
    # share one PostgreSQL): it raises no signal in the first, whose page must still see it.
    server = start_server()
    other = TextrelayServer(
        Settings(
            database_url=server.settings.database_url,
            workers=False,
            media_dir=str(tmp_path / "other-media"),
        )
    ).start()
    try:
        client = other.client()
        sender = _sender(client)
        page = open_console(server)
        page.goto("/console/")
        _live(page)

        sid = _send(client, sender, "From the other process")

        expect(page.locator(f'tr[data-sid="{sid}"]')).to_be_visible(timeout=8000)
        assert _not_reloaded(page)
    finally:
        other.stop()
