"""The console over plain HTTP: where the search box sends each kind of SID, and who may see
what (the browser tests in tests/console drive the pages themselves)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from textrelay.testing import TextrelayServer


def test_search_takes_any_sid_to_what_it_names(
    isolated_server: Callable[..., TextrelayServer],
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

    def lands(text: str) -> tuple[int, str]:
        response = httpx.get(f"{server.base_url}/console/search", params={"q": text})
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
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server()

    refused = httpx.post(f"{server.base_url}/console/reset", data={"csrf": "forged"})

    assert refused.status_code == 403


def test_off_loopback_every_page_asks_for_a_login(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(host="0.0.0.0", console_password="s3cret")
    pages = ["/console/", "/console/account", "/console/phones", "/console/search?q=x"]

    answers = [httpx.get(f"{server.base_url}{page}") for page in pages]
    with httpx.Client(base_url=server.base_url, follow_redirects=True) as browser:
        form = browser.get("/console/login")
        token = form.text.split('name="csrf" value="')[1].split('"')[0]
        logged_in = browser.post(
            "/console/login", data={"csrf": token, "username": "", "password": "s3cret"}
        )

    assert [(a.status_code, a.headers["location"].split("?")[0]) for a in answers] == [
        (303, "/console/login")
    ] * len(pages)
    assert httpx.get(f"{server.base_url}/console/events").status_code == 401
    assert logged_in.status_code == 200
    assert "<title>Messages" in logged_in.text
