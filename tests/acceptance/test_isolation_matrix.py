"""The isolation matrix: every kind of credential against every resource family, on both
databases, through the Twilio API, the Messaging v1 API and textrelay's control API.

One main account M with subaccounts A and B, and an unrelated top-level account O, each own a
number, a short code, a Messaging Service, an API key, an outbound SMS and an inbound MMS with
its media. Each credential then reads each family's resource of each owner, under the owner's
path and (to probe for leaks through a path the caller may use) under the caller's own path.
The expected answer follows one rule (docs/security.md):

- a credential that does not authenticate: 401 / 20003;
- an API key on the Accounts or Keys resources: 401 / 20003;
- a path of an account the caller may not act on: 401 / 20003 (a main account acts on its
  subaccounts; a subaccount and a key only on their own account);
- another account's resource under a path the caller may use: 404 / 20404;
- otherwise 200.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.console_login import sign_in
from textrelay.testing import TextrelayServer

API = "/2010-04-01/Accounts"
CONTROL = "/textrelay/v1/Accounts"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()


@dataclass(frozen=True)
class Tenant:
    name: str
    sid: str
    token: str
    key_sid: str
    key_secret: str
    number: str
    handset: str
    short_code_sid: str
    service_sid: str
    sms_sid: str
    mms_sid: str
    media_sid: str


@dataclass(frozen=True)
class Credential:
    kind: str
    auth: tuple[str, str] | None
    account: str | None
    """The tenant it authenticates as; None when it does not authenticate."""
    is_key: bool = False


@dataclass(frozen=True)
class Family:
    name: str
    path: Callable[[str, Tenant], str]
    """The URL for an account path and the resource's owner."""
    admin: bool = False
    """The Accounts and Keys resources, which API keys may not use."""
    account_level: bool = False
    """The resource is the path's account itself: no foreign-SID probe."""


FAMILIES = [
    Family("account", lambda p, t: f"{API}/{p}.json", admin=True, account_level=True),
    Family("keys", lambda p, t: f"{API}/{p}/Keys/{t.key_sid}.json", admin=True),
    Family("messages list", lambda p, t: f"{API}/{p}/Messages.json", account_level=True),
    Family("message", lambda p, t: f"{API}/{p}/Messages/{t.sms_sid}.json"),
    Family("media list", lambda p, t: f"{API}/{p}/Messages/{t.mms_sid}/Media.json"),
    Family("media", lambda p, t: f"{API}/{p}/Messages/{t.mms_sid}/Media/{t.media_sid}.json"),
    Family("media content", lambda p, t: f"{API}/{p}/Messages/{t.mms_sid}/Media/{t.media_sid}"),
    Family("number", lambda p, t: f"{API}/{p}/IncomingPhoneNumbers/{_number_sid(t)}.json"),
    Family("short code", lambda p, t: f"{API}/{p}/SMS/ShortCodes/{t.short_code_sid}.json"),
    Family("events", lambda p, t: f"{CONTROL}/{p}/Messages/{t.sms_sid}/Events"),
    Family("callbacks", lambda p, t: f"{CONTROL}/{p}/Messages/{t.sms_sid}/Callbacks"),
    Family("message jobs", lambda p, t: f"{CONTROL}/{p}/Messages/{t.sms_sid}/Jobs"),
    Family("account jobs", lambda p, t: f"{CONTROL}/{p}/Jobs", account_level=True),
    Family("opt-outs", lambda p, t: f"{CONTROL}/{p}/OptOuts", account_level=True),
]

_NUMBER_SIDS: dict[str, str] = {}


def _number_sid(tenant: Tenant) -> str:
    return _NUMBER_SIDS[tenant.sid]


def _ok(response: httpx.Response, what: str) -> dict[str, object]:
    assert response.status_code in (200, 201), f"{what}: {response.status_code} {response.text}"
    body: dict[str, object] = response.json()
    return body


def _tenant(http: httpx.Client, name: str, sid: str, token: str) -> Tenant:
    auth = (sid, token)
    key = _ok(http.post(f"{API}/{sid}/Keys.json", auth=auth, data={}), "key")
    number = _ok(
        http.post(f"{API}/{sid}/IncomingPhoneNumbers.json", auth=auth, data={"AreaCode": "415"}),
        "number",
    )
    _NUMBER_SIDS[sid] = str(number["sid"])
    code = f"{secrets.randbelow(900_000) + 100_000}"
    short = _ok(
        http.post(f"{CONTROL}/{sid}/ShortCodes", auth=auth, json={"short_code": code}),
        "short code",
    )
    service = _ok(http.post("/v1/Services", auth=auth, data={"FriendlyName": name}), "service")
    handset = f"+1415555{secrets.randbelow(10_000):04d}"
    sms = _ok(
        http.post(
            f"{API}/{sid}/Messages.json",
            auth=auth,
            data={"To": handset, "From": str(number["phone_number"]), "Body": f"{name} secret"},
        ),
        "sms",
    )
    mms = _ok(
        http.post(
            f"{CONTROL}/{sid}/Inbound",
            auth=auth,
            json={
                "from": handset,
                "to": number["phone_number"],
                "body": f"{name} picture",
                "media": [{"content_type": "image/png", "content_base64": PNG}],
            },
        ),
        "mms",
    )
    mms_sid = str(mms["message"]["sid"])  # type: ignore[index]
    media = _ok(http.get(f"{API}/{sid}/Messages/{mms_sid}/Media.json", auth=auth), "media")
    return Tenant(
        name=name,
        sid=sid,
        token=token,
        key_sid=str(key["sid"]),
        key_secret=str(key["secret"]),
        number=str(number["phone_number"]),
        handset=handset,
        short_code_sid=str(short["sid"]),
        service_sid=str(service["sid"]),
        sms_sid=str(sms["sid"]),
        mms_sid=mms_sid,
        media_sid=str(media["media_list"][0]["sid"]),  # type: ignore[index]
    )


@pytest.fixture
def world(
    server: TextrelayServer,
) -> Iterator[tuple[httpx.Client, dict[str, Tenant], list[Credential]]]:
    tag = secrets.token_hex(3)
    main = server.new_account("matrix main")
    other = server.new_account("matrix other")
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        subs = {}
        for name in ("A", "B", "C"):
            made = _ok(
                http.post(
                    "/2010-04-01/Accounts.json",
                    auth=(main.sid, main.auth_token),
                    data={"FriendlyName": f"matrix {name}"},
                ),
                f"subaccount {name}",
            )
            subs[name] = (str(made["sid"]), str(made["auth_token"]))
        tenants = {
            "M": _tenant(http, f"M-{tag}", main.sid, main.auth_token),
            "A": _tenant(http, f"A-{tag}", *subs["A"]),
            "B": _tenant(http, f"B-{tag}", *subs["B"]),
            "O": _tenant(http, f"O-{tag}", other.sid, other.auth_token),
        }
        closed_sid, closed_token = subs["C"]
        _ok(
            http.post(
                f"{API}/{closed_sid}.json",
                auth=(main.sid, main.auth_token),
                data={"Status": "closed"},
            ),
            "close C",
        )
        m, a, b = tenants["M"], tenants["A"], tenants["B"]
        credentials = [
            Credential("main token", (m.sid, m.token), "M"),
            Credential("main key", (m.key_sid, m.key_secret), "M", is_key=True),
            Credential("sub A token", (a.sid, a.token), "A"),
            Credential("sub A key", (a.key_sid, a.key_secret), "A", is_key=True),
            Credential("sub B token", (b.sid, b.token), "B"),
            Credential("closed sub token", (closed_sid, closed_token), None),
            Credential("wrong token", (m.sid, "0" * 32), None),
            Credential("key with the main token", (m.key_sid, m.token), None),
            Credential("unknown account", ("AC" + "0" * 32, "0" * 32), None),
            Credential("no credentials", None, None),
        ]
        yield http, tenants, credentials


def _may_act_on(credential: Credential, path_owner: str) -> bool:
    if credential.account is None:
        return False
    if credential.account == path_owner:
        return True
    return not credential.is_key and credential.account == "M" and path_owner in ("A", "B")


def _expected(credential: Credential, family: Family, path_owner: str, owner: str) -> int:
    if credential.account is None:
        return 401
    if family.admin and credential.is_key:
        return 401
    if not _may_act_on(credential, path_owner):
        return 401
    return 200 if owner == path_owner else 404


def _code(response: httpx.Response) -> int | None:
    if response.status_code < 400:
        return None
    try:
        return int(response.json()["code"])
    except (ValueError, KeyError, TypeError):
        return -1


def test_every_credential_against_every_resource_family(
    world: tuple[httpx.Client, dict[str, Tenant], list[Credential]],
) -> None:
    http, tenants, credentials = world
    wrong: list[str] = []
    checked = 0
    for credential in credentials:
        own = tenants[credential.account].sid if credential.account else tenants["M"].sid
        own_name = credential.account or "M"
        for family in FAMILIES:
            for owner_name, owner in tenants.items():
                probes = [(owner_name, owner.sid)]
                if not family.account_level and owner_name != own_name:
                    probes.append((own_name, own))  # another's resource under one's own path
                for path_name, path_sid in probes:
                    response = http.get(family.path(path_sid, owner), auth=credential.auth)
                    expected = _expected(credential, family, path_name, owner_name)
                    code = {401: 20003, 404: 20404}.get(expected)
                    checked += 1
                    if response.status_code != expected or _code(response) != code:
                        wrong.append(
                            f"{credential.kind} → {family.name} of {owner_name} under "
                            f"{path_name}'s path: {response.status_code} {_code(response)}, "
                            f"expected {expected} {code}"
                        )

    assert wrong == [], f"{len(wrong)} of {checked} answers differ:\n" + "\n".join(wrong)


def test_messaging_services_are_the_callers_own(
    world: tuple[httpx.Client, dict[str, Tenant], list[Credential]],
) -> None:
    http, tenants, credentials = world
    wrong = []
    for credential in credentials:
        for owner_name, owner in tenants.items():
            response = http.get(f"/v1/Services/{owner.service_sid}", auth=credential.auth)
            if credential.account is None:
                expected = 401
            else:
                # v1 has no account in its path: the caller's own account, keys included.
                expected = 200 if owner_name == credential.account else 404
            if response.status_code != expected:
                wrong.append(f"{credential.kind} → service of {owner_name}: {response.status_code}")
        if credential.account is not None:
            listed = http.get("/v1/Services", auth=credential.auth).json()["services"]
            mine = tenants[credential.account].service_sid
            if [s["sid"] for s in listed] != [mine]:
                wrong.append(f"{credential.kind} lists {[s['sid'] for s in listed]}")

    assert wrong == []


def test_list_and_read_back_hold_the_callers_messages_only(
    world: tuple[httpx.Client, dict[str, Tenant], list[Credential]],
) -> None:
    http, tenants, credentials = world
    leaks = []
    for credential in credentials:
        if credential.account is None:
            continue
        me = tenants[credential.account]
        listed = http.get(f"{API}/{me.sid}/Messages.json", auth=credential.auth).json()
        bodies = {m["body"] for m in listed["messages"]}
        others = {f"{t.name} secret" for t in tenants.values() if t is not me}
        others |= {f"{t.name} picture" for t in tenants.values() if t is not me}
        if bodies & others:
            leaks.append(f"{credential.kind} lists {sorted(bodies & others)}")
        for owner in tenants.values():
            if owner is me:
                continue
            # Another tenant's handset and conversation, asked under one's own path.
            received = http.get(
                f"{CONTROL}/{me.sid}/Phones/{owner.handset}/Messages", auth=credential.auth
            )
            thread = http.get(
                f"{CONTROL}/{me.sid}/Conversations/{owner.handset}/{owner.number}",
                auth=credential.auth,
            )
            for answer in (received, thread):
                if answer.status_code == 200 and f"{owner.name} " in answer.text:
                    leaks.append(f"{credential.kind} reads {owner.name}'s messages: {answer.url}")

    assert leaks == []


def _console_session(server: TextrelayServer, credential: Credential) -> httpx.Client | None:
    """A browser signed in to the console with the credential, or None if refused."""
    browser = httpx.Client(base_url=server.base_url, timeout=10, follow_redirects=False)
    username, password = credential.auth or ("", "")
    answer = sign_in(browser, username, password)
    if answer.status_code != 303:
        browser.close()
        return None
    return browser


def test_the_console_shows_each_signed_in_account_its_own_only(
    server: TextrelayServer,
    world: tuple[httpx.Client, dict[str, Tenant], list[Credential]],
) -> None:
    _http, tenants, credentials = world
    wrong: list[str] = []
    for credential in credentials:
        browser = _console_session(server, credential)
        # Only an account's own SID and auth token sign in: API keys and anything that does
        # not authenticate are refused.
        if (browser is not None) != (credential.account is not None and not credential.is_key):
            wrong.append(f"{credential.kind}: signed in = {browser is not None}")
        if browser is None:
            continue
        try:
            assert credential.account is not None
            me = credential.account
            for owner_name, owner in tenants.items():
                # Main accounts see their subaccounts through ?account=; nobody else's.
                visible = owner_name == me or (me == "M" and owner_name in ("A", "B"))
                as_owner = f"account={owner.sid}"
                pages = {
                    "message": f"/console/messages/{owner.sms_sid}?{as_owner}",
                    "media": f"/console/media/{owner.media_sid}?{as_owner}",
                    "search": f"/console/search?q={owner.sms_sid}&{as_owner}",
                }
                for name, path in pages.items():
                    answer = browser.get(path)
                    allowed = answer.status_code in (200, 303)
                    if allowed != visible:
                        wrong.append(
                            f"{credential.kind} → console {name} of {owner_name}: "
                            f"{answer.status_code}"
                        )
                log = browser.get(f"/console/?{as_owner}&partial=1")
                if not visible and f"{owner.name} secret" in log.text:
                    wrong.append(f"{credential.kind} reads {owner_name}'s log")

        finally:
            browser.close()

    assert wrong == []
