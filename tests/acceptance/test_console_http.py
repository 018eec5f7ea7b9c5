"""The console over plain HTTP: where the search box sends each kind of SID, and who may see
what, from where (the browser tests in tests/console drive the pages themselves).

Who may use the console is issue 12's defects 1, 2, 7 and 8: the console link's token, not
the loopback address, is what trusts a person at this machine; textrelay's own webhooks and
other Host names are refused; sessions end at logout and with their account's status or
token; failed logins are throttled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.console_login import csrf_of, sign_in
from tests.servers import servers
from textrelay.control import Control
from textrelay.testing import TextrelayServer

PASSWORD = "s3cret"


@pytest.fixture
def browsers() -> Iterator[Callable[[TextrelayServer], httpx.Client]]:
    """Make an HTTP client for a server that keeps cookies, as a browser would; closed after
    the test."""
    made: list[httpx.Client] = []

    def make(server: TextrelayServer) -> httpx.Client:
        made.append(httpx.Client(base_url=server.base_url))
        return made[-1]

    try:
        yield make
    finally:
        for client in made:
            client.close()


Browsers = Callable[[TextrelayServer], httpx.Client]


def _signed_in(browsers: Browsers, server: TextrelayServer) -> httpx.Client:
    """A client that opened the console link `serve` prints."""
    browser = browsers(server)
    browser.get(server.console_url)
    return browser


def _log_in(
    browsers: Browsers, server: TextrelayServer, username: str, password: str
) -> httpx.Client:
    """A client signed in through the login form."""
    browser = browsers(server)
    answer = sign_in(browser, username, password)
    assert answer.status_code == 303, answer.text
    return browser


def _session_cookie(browser: httpx.Client) -> dict[str, str]:
    return {"tr_console": browser.cookies["tr_console"]}


@pytest.fixture
def processes(
    fresh_database: Callable[[], str], tmp_path: Path
) -> Iterator[Callable[..., TextrelayServer]]:
    """Start servers on one new database, standing for the processes of one deployment;
    keyword arguments are Settings."""
    url = fresh_database()
    with servers(lambda: url, tmp_path) as start:
        yield start


def test_search_takes_any_sid_to_what_it_names(
    isolated_server: Callable[..., TextrelayServer], browsers: Browsers
) -> None:
    server = isolated_server()
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415")
    service = client.messaging.v1.services.create(friendly_name="search")
    alpha = service.alpha_senders.create(alpha_sender="Acme")
    key = client.new_keys.create(friendly_name="k")
    message = client.messages.create(to="+14155550100", from_=number.phone_number, body="x")
    stranger = server.client(server.new_account())
    theirs = stranger.incoming_phone_numbers.create(area_code="415").sid
    browser = _signed_in(browsers, server)

    def lands(text: str) -> tuple[int, str]:
        response = browser.get("/console/search", params={"q": text})
        return response.status_code, response.headers.get("location", "")

    assert lands(message.sid) == (303, f"/console/messages/{message.sid}")
    assert lands(number.sid) == (303, f"/console/account#{number.sid}")
    assert lands(service.sid) == (303, f"/console/account#{service.sid}")
    assert lands(alpha.sid) == (303, f"/console/account#{service.sid}")
    assert lands(key.sid) == (303, f"/console/account#{key.sid}")
    assert lands(server.main_account.sid) == (303, "/console/account")
    assert lands(message.sid.lower().replace("sm", "SM", 1)) == (
        303,
        f"/console/messages/{message.sid}",
    )
    assert lands(theirs)[0] == 404  # another account's number is no business of this one
    assert lands("SM" + "0" * 32)[0] == 404
    assert lands("hello") == (303, "/console/?q=hello")


def test_a_form_without_its_csrf_token_is_refused(
    isolated_server: Callable[..., TextrelayServer], browsers: Browsers
) -> None:
    server = isolated_server()

    refused = _signed_in(browsers, server).post("/console/reset", data={"csrf": "forged"})

    assert refused.status_code == 403


def test_off_loopback_every_page_asks_for_a_login(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(host="0.0.0.0", console_password=PASSWORD)
    pages = ["/console/", "/console/account", "/console/phones", "/console/search?q=x"]

    answers = [httpx.get(f"{server.base_url}{page}") for page in pages]
    with httpx.Client(base_url=server.base_url, follow_redirects=True) as browser:
        form = browser.get("/console/login")
        logged_in = browser.post(
            "/console/login", data={"csrf": csrf_of(form), "username": "", "password": PASSWORD}
        )

    assert [(a.status_code, a.headers["location"].split("?")[0]) for a in answers] == [
        (303, "/console/login")
    ] * len(pages)
    assert httpx.get(f"{server.base_url}/console/events").status_code == 401
    assert logged_in.status_code == 200
    assert "<title>Messages" in logged_in.text
    # Off loopback no link signs anyone in: the banner prints the plain address.
    assert server.console_url == f"{server.base_url}/console/"


# --- defect 1: loopback trust means a person at this machine ----------------------------------


def test_on_loopback_only_the_printed_link_signs_a_browser_in(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server()
    assert re.fullmatch(rf"{server.base_url}/console/\?token=[\w-]{{20,}}", server.console_url)

    anonymous = httpx.get(f"{server.base_url}/console/")
    guessed = httpx.get(f"{server.base_url}/console/?token=guessed")
    with httpx.Client(base_url=server.base_url) as browser:
        link = browser.get(server.console_url.replace("/console/?", "/console/?status=sent&"))
        log = browser.get("/console/")
        events_anonymous = httpx.get(f"{server.base_url}/console/events")

    assert (anonymous.status_code, anonymous.headers["location"]) == (
        303,
        "/console/login?next=%2Fconsole%2F",
    )
    assert guessed.status_code == 303
    assert guessed.headers["location"].startswith("/console/login")
    # The link sets a session cookie and drops its token from the address bar.
    assert (link.status_code, link.headers["location"]) == (303, "/console/?status=sent")
    assert "tr_console" in link.cookies
    assert log.status_code == 200
    assert server.main_account.sid in log.text
    assert events_anonymous.status_code == 401


def test_a_webhook_aimed_at_the_console_reads_nothing(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    # The reproduction of issue 12, defect 1: subaccount A points a number's SmsUrl at the
    # console's log, texts it, and reads the webhook's answer in its callbacks.
    server = isolated_server()
    main = server.client()
    sender = main.incoming_phone_numbers.create(area_code="415").phone_number
    main.messages.create(to="+14155550100", from_=sender, body="the main account's secret")
    sub = main.api.v2010.accounts.create(friendly_name="A")
    assert sub.sid is not None
    assert sub.auth_token is not None
    console = f"{server.base_url}/console/?partial=1&q=secret"
    number = (
        server.client(username=sub.sid, password=sub.auth_token)
        .api.v2010.accounts(sub.sid)
        .incoming_phone_numbers.create(area_code="415", sms_url=console, sms_method="GET")
    )

    with Control(server.base_url, sub.sid, sub.auth_token) as control:
        inbound = control.text("+14155550199", number.phone_number, "hi")
        control.wait_idle(inbound["sid"])
        callbacks = control.callbacks(inbound["sid"])

    assert callbacks, "the inbound webhook was not attempted"
    assert all("secret" not in (c.get("response_body") or "") for c in callbacks), callbacks
    assert [c["status_code"] for c in callbacks] == [403] * len(callbacks)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Twilio-Signature": "c2lnbmVk"},
        {"I-Twilio-Idempotency-Token": "token"},
        {"User-Agent": "TwilioProxy/1.1"},
    ],
    ids=["signature", "idempotency-token", "user-agent"],
)
def test_the_console_refuses_requests_that_look_like_textrelays_webhooks(
    isolated_server: Callable[..., TextrelayServer], headers: dict[str, str], browsers: Browsers
) -> None:
    server = isolated_server()
    browser = _signed_in(browsers, server)

    assert browser.get("/console/").status_code == 200
    assert browser.get("/console/", headers=headers).status_code == 403
    assert httpx.get(server.console_url, headers=headers).status_code == 403


# --- defect 2: DNS rebinding ----------------------------------------------------------------


def test_a_request_for_another_host_name_is_refused(
    isolated_server: Callable[..., TextrelayServer], browsers: Browsers
) -> None:
    server = isolated_server()
    browser = _signed_in(browsers, server)
    port = server.base_url.rsplit(":", 1)[1]
    page = browser.get("/console/account")
    token = csrf_of(page)

    def status(host: str, method: str = "GET", path: str = "/console/account") -> int:
        data = {"csrf": token, "friendly_name": "rebound"} if method == "POST" else None
        return browser.request(method, path, headers={"Host": host}, data=data).status_code

    assert page.status_code == 200
    assert status("attacker.example") == 403
    assert status(f"attacker.example:{port}") == 403
    assert status(f"attacker.example:{port}", "POST", "/console/account/keys") == 403
    assert status(f"attacker.example:{port}", "POST", "/console/reset") == 403
    assert status(f"attacker.example:{port}", "GET", "/console/events") == 403
    assert status(f"attacker.example:{port}", "GET", "/console/login") == 403
    assert status(f"localhost:{port}") == 200
    assert status(f"127.0.0.1:{port}") == 200
    assert status(f"[::1]:{port}") == 200
    assert server.client().keys.list() == []  # the refused POST made no key


def test_the_host_names_the_console_answers_to_are_a_setting(
    isolated_server: Callable[..., TextrelayServer], browsers: Browsers
) -> None:
    listed = isolated_server(console_allowed_hosts=("textrelay.test",))
    anything = isolated_server(console_allowed_hosts=("*",))

    def status(server: TextrelayServer, host: str) -> int:
        browser = _signed_in(browsers, server)
        return browser.get("/console/", headers={"Host": host}).status_code

    assert status(listed, "TextRelay.test:8080") == 200  # any case, any port
    assert status(listed, "other.test") == 403
    assert status(anything, "anything.example") == 200


# --- defect 7: sessions end at logout, and with their account or its token ---------------------


def test_a_session_ends_at_logout_on_every_process(
    processes: Callable[..., TextrelayServer], browsers: Browsers
) -> None:
    one = processes(host="0.0.0.0", console_password=PASSWORD)
    other = processes(host="0.0.0.0", console_password=PASSWORD)
    browser = _log_in(browsers, one, "", PASSWORD)
    cookie = _session_cookie(browser)
    page = browser.get("/console/")

    elsewhere = httpx.get(f"{other.base_url}/console/", cookies=cookie)
    logged_out = browser.post("/console/logout", data={"csrf": csrf_of(page)})
    replayed_here = httpx.get(f"{one.base_url}/console/", cookies=cookie)
    replayed_elsewhere = httpx.get(f"{other.base_url}/console/", cookies=cookie)
    replayed_post = httpx.post(
        f"{other.base_url}/console/account/keys",
        cookies={**cookie, "tr_csrf": browser.cookies["tr_csrf"]},
        data={"csrf": csrf_of(page)},
    )

    assert page.status_code == 200
    assert elsewhere.status_code == 200  # a session begun on one process works on all
    assert (logged_out.status_code, logged_out.headers["location"]) == (303, "/console/login")
    assert replayed_here.status_code == 303
    assert replayed_elsewhere.status_code == 303
    assert replayed_post.status_code == 303
    assert one.client().keys.list() == []


def test_a_closed_subaccounts_session_stops_working(
    isolated_server: Callable[..., TextrelayServer], browsers: Browsers
) -> None:
    server = isolated_server(host="0.0.0.0", console_password=PASSWORD)
    main = server.client()
    suspended = main.api.v2010.accounts.create(friendly_name="to suspend")
    closed = main.api.v2010.accounts.create(friendly_name="to close")
    signed_in = {}
    for sub in (suspended, closed):
        assert sub.sid is not None
        assert sub.auth_token is not None
        signed_in[sub.sid] = _log_in(browsers, server, sub.sid, sub.auth_token)
    before = {sid: b.get("/console/account") for sid, b in signed_in.items()}

    main.api.v2010.accounts(suspended.sid).update(status="suspended")
    main.api.v2010.accounts(closed.sid).update(status="closed")
    after = {sid: b.get("/console/account") for sid, b in signed_in.items()}
    keys = {
        sid: b.post("/console/account/keys", data={"csrf": csrf_of(before[sid])})
        for sid, b in signed_in.items()
    }

    assert [p.status_code for p in before.values()] == [200, 200]
    assert [p.status_code for p in after.values()] == [303, 303]
    assert [k.status_code for k in keys.values()] == [303, 303]
    assert all(k.headers["location"].startswith("/console/login") for k in keys.values())


def test_a_changed_auth_token_ends_the_sessions_made_with_the_old_one(
    processes: Callable[..., TextrelayServer], browsers: Browsers
) -> None:
    old_token, new_token = "a" * 32, "b" * 32
    one = processes(host="0.0.0.0", auth_token=old_token)
    browser = _log_in(browsers, one, one.main_account.sid, old_token)
    cookie = _session_cookie(browser)
    before = browser.get("/console/")

    # Another process starts with a new auth token for the main account (a restart with a new
    # TEXTRELAY_AUTH_TOKEN does the same): it replaces the stored one.
    processes(host="0.0.0.0", auth_token=new_token, workers=False)
    replayed = httpx.get(f"{one.base_url}/console/", cookies=cookie)

    assert before.status_code == 200
    assert replayed.status_code == 303


# --- defect 8: login throttling ----------------------------------------------------------------


def test_failed_logins_are_throttled_and_say_so(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(host="0.0.0.0", console_password=PASSWORD)
    with httpx.Client(base_url=server.base_url) as browser:
        token = csrf_of(browser.get("/console/login"))

        def attempt(password: str) -> httpx.Response:
            return browser.post(
                "/console/login", data={"csrf": token, "username": "", "password": password}
            )

        wrong = [attempt(f"guess-{n}").status_code for n in range(30)]
        right = attempt(PASSWORD)
        other_account = browser.post(
            "/console/login",
            data={
                "csrf": token,
                "username": server.main_account.sid,
                "password": server.main_account.auth_token,
            },
        )

    assert wrong[:10] == [401] * 10
    assert set(wrong[10:]) == {429}
    assert right.status_code == 429  # even the right password waits out the throttle
    assert 0 < int(right.headers["Retry-After"]) <= 60
    assert "Too many failed logins" in right.text
    assert "tr_console" not in right.cookies
    assert other_account.status_code == 429  # the same client address
