"""textrelay's messaging.twilio.com/v1 JSON held to Twilio's own OpenAPI schemas
(twilio/twilio-oai, twilio_messaging_v1), with the 2010-04-01 SMS/ShortCodes resource beside it.

The specs are read from ../shared/twilio/specs beside the repository, never copied into it.
Resources are made through the official twilio client and read back raw with httpx. Each
response must carry exactly the properties its schema names, each value in the schema's JSON
type, enum and format; every URL (`url`, `links`, `meta.*url`) must be absolute and point back
at the server under test, so the SDK follows it here.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

SPECS = Path(__file__).resolve().parents[3] / "shared" / "twilio" / "specs"
MESSAGING_V1 = "twilio_messaging_v1.json"
API_V2010 = "twilio_api_v2010.json"

if not all((SPECS / name).exists() for name in (MESSAGING_V1, API_V2010)):
    pytest.skip(
        f"Twilio's OpenAPI specs ({MESSAGING_V1}, {API_V2010}) are not at {SPECS}",
        allow_module_level=True,
    )

pytestmark = pytest.mark.timeout(60)

# Properties textrelay emits beyond, or leaves out of, a schema: none. An entry here must name
# the schema, the property and the reason, and be documented in docs/compatibility.md.
EXCEPTIONS: dict[str, dict[str, str]] = {}

ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
RFC2822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} \+0000$"
)
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
V1_SERVICES = "/v1/Services"
V2010_SHORT_CODES = "/2010-04-01/Accounts/{AccountSid}/SMS/ShortCodes.json"


@cache
def spec(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SPECS / name).read_text())
    return loaded


def resolve(spec_name: str, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec(spec_name)["components"]["schemas"][name]
    return schema


def component(spec_name: str, name: str) -> dict[str, Any]:
    return resolve(spec_name, {"$ref": f"#/components/schemas/{name}"})


def list_schema(spec_name: str, path: str) -> dict[str, Any]:
    """The inline 200 schema of a list operation (titled e.g. ListServiceResponse)."""
    operation = spec(spec_name)["paths"][path]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return resolve(spec_name, schema)


def list_example(spec_name: str, path: str) -> dict[str, Any]:
    """The spec's own example of a full page of the list at `path`."""
    content = spec(spec_name)["paths"][path]["get"]["responses"]["200"]["content"]
    example: dict[str, Any] = content["application/json"]["examples"]["readFull"]["value"]
    return example


def list_key_of(schema: dict[str, Any]) -> str:
    keys = [k for k, v in schema["properties"].items() if v.get("type") == "array"]
    assert len(keys) == 1, keys
    key: str = keys[0]
    return key


class Checker:
    """Every way a JSON value departs from a schema of one spec."""

    def __init__(self, spec_name: str, base_url: str) -> None:
        self.spec_name = spec_name
        self.base_url = base_url

    def absolute(self, value: str, where: str) -> Iterator[str]:
        if not value.startswith(f"{self.base_url}/"):
            yield f"{where}: {value!r} is not an absolute URL of the server at {self.base_url}"

    def problems(self, value: Any, schema: dict[str, Any], where: str) -> Iterator[str]:
        schema = resolve(self.spec_name, schema)
        kinds = schema.get("type")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
        if value is None:
            if not (schema.get("nullable") or "null" in kinds):
                yield f"{where}: null where the schema does not allow it"
            return
        kinds = [k for k in kinds if k != "null"]
        if kinds:
            allowed = tuple(t for k in kinds for t in JSON_TYPES[k])
            wrong_bool = isinstance(value, bool) and bool not in allowed
            if wrong_bool or not isinstance(value, allowed):
                yield f"{where}: {type(value).__name__} where the schema says {'|'.join(kinds)}"
                return
        if "enum" in schema and value not in schema["enum"]:
            yield f"{where}: {value!r} is not one of {schema['enum']}"
        fmt = schema.get("format")
        if fmt == "date-time" and not ISO8601.match(value):
            yield f"{where}: {value!r} is not an ISO 8601 date like 2015-07-30T20:12:31Z"
        if fmt == "date-time-rfc-2822" and not RFC2822.match(value):
            yield f"{where}: {value!r} is not an RFC 2822 date ending +0000"
        if fmt == "uri" and where.endswith("uri"):
            # Twilio's `uri`, `*_uri` (2010-04-01) are relative to the API host, as the spec's
            # own examples show; only `url`, `*_url` are absolute.
            if not value.startswith("/2010-04-01/"):
                yield f"{where}: {value!r} is not a URI relative to the API root"
        elif fmt == "uri":
            yield from self.absolute(value, where)
        if fmt == "uri-map":
            for name, url in value.items():
                if not isinstance(url, str):
                    yield f"{where}.{name}: {type(url).__name__} where a URL belongs"
                else:
                    yield from self.absolute(url, f"{where}.{name}")
        properties = schema.get("properties")
        if properties is not None and isinstance(value, dict):
            for missing in sorted(set(properties) - set(value)):
                yield f"{where}: missing property {missing!r}"
            for unknown in sorted(set(value) - set(properties)):
                yield f"{where}: property {unknown!r} is not in the schema"
            for name, sub_schema in properties.items():
                if name in value:
                    yield from self.problems(value[name], sub_schema, f"{where}.{name}")
        if "array" in kinds and "items" in schema:
            for index, item in enumerate(value):
                yield from self.problems(item, schema["items"], f"{where}[{index}]")


def resource_problems(checker: Checker, value: dict[str, Any], schema_name: str) -> list[str]:
    schema = component(checker.spec_name, schema_name)
    excepted = EXCEPTIONS.get(schema_name, {})
    kept = {k: v for k, v in value.items() if k not in excepted}
    trimmed = dict(
        schema, properties={k: v for k, v in schema["properties"].items() if k not in excepted}
    )
    return list(checker.problems(kept, trimmed, schema_name))


def assert_resource(checker: Checker, value: dict[str, Any], schema_name: str) -> None:
    assert resource_problems(checker, value, schema_name) == []


def assert_v1_list(
    checker: Checker, body: dict[str, Any], path: str, spec_path: str, item_schema: str
) -> dict[str, Any]:
    """The v1 envelope of the list at `path` (`spec_path` in the spec): exactly `meta` and the
    list key, `meta` exactly as the spec has it, its URLs absolute ones of `path` here."""
    schema = list_schema(checker.spec_name, spec_path)
    key = list_key_of(schema)
    assert set(schema["properties"]) == {"meta", key}
    assert set(body) == {"meta", key}
    assert body[key], "the list must not be empty for the check to mean anything"
    meta: dict[str, Any] = body["meta"]
    assert list(checker.problems(meta, schema["properties"]["meta"], f"{path}.meta")) == []
    assert meta["key"] == key
    for name in ("url", "first_page_url", "next_page_url", "previous_page_url"):
        if meta[name] is not None:
            assert meta[name].startswith(f"{checker.base_url}{path}?"), (name, meta[name])
    for item in body[key]:
        assert_resource(checker, item, item_schema)
    return meta


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def raw(server: TextrelayServer, account: Account) -> Iterator[httpx.Client]:
    """httpx at the server's root, as `account` (Basic auth: account SID, auth token)."""
    with httpx.Client(
        base_url=server.base_url, auth=(account.sid, account.auth_token), timeout=10
    ) as http:
        yield http


@pytest.fixture
def v1(server: TextrelayServer) -> Checker:
    return Checker(MESSAGING_V1, server.base_url)


def get(http: httpx.Client, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    response = http.get(url, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def provision_short_code(http: httpx.Client, account: Account) -> dict[str, Any]:
    """A short code of `account`'s own, through the control API (unique server-wide)."""
    for _ in range(5):
        code = str(10_000_000 + secrets.randbelow(90_000_000))
        response = http.post(
            f"/textrelay/v1/Accounts/{account.sid}/ShortCodes", json={"short_code": code}
        )
        if response.status_code == 201:
            body: dict[str, Any] = response.json()
            return body
        assert response.status_code == 400, response.text
    pytest.fail("could not provision a free short code in 5 tries")


def new_service(client: Client, server: TextrelayServer, name: str) -> Any:
    hooks = f"{server.base_url}/hooks"
    return client.messaging.v1.services.create(
        friendly_name=name,
        inbound_request_url=f"{hooks}/inbound",
        fallback_url=f"{hooks}/fallback",
        status_callback=f"{hooks}/status",
    )


# --- messaging.twilio.com/v1 -----------------------------------------------------------------


def test_service_matches_the_schema(
    client: Client, server: TextrelayServer, raw: httpx.Client, v1: Checker
) -> None:
    first = new_service(client, server, "schema one")
    plain = client.messaging.v1.services.create(friendly_name="schema two")
    url = f"{server.base_url}{V1_SERVICES}/{first.sid}"

    fetched = get(raw, url)
    assert fetched["sid"] == first.sid
    assert fetched["url"] == url
    assert_resource(v1, fetched, "messaging.v1.service")
    assert_resource(v1, get(raw, f"{V1_SERVICES}/{plain.sid}"), "messaging.v1.service")
    example = list_example(MESSAGING_V1, V1_SERVICES)["services"][0]
    assert set(fetched["links"]) == set(example["links"])

    meta = assert_v1_list(
        v1,
        get(raw, V1_SERVICES, {"PageSize": "1"}),
        V1_SERVICES,
        V1_SERVICES,
        "messaging.v1.service",
    )
    assert meta["next_page_url"] is not None
    second = get(raw, meta["next_page_url"])
    meta = assert_v1_list(v1, second, V1_SERVICES, V1_SERVICES, "messaging.v1.service")
    assert meta["previous_page_url"] is not None
    assert meta["page"] == 1


def test_service_phone_number_matches_the_schema(
    client: Client, server: TextrelayServer, raw: httpx.Client, v1: Checker
) -> None:
    service = client.messaging.v1.services.create(friendly_name="numbers")
    number = client.incoming_phone_numbers.create(area_code="415")
    added = client.messaging.v1.services(service.sid).phone_numbers.create(
        phone_number_sid=number.sid
    )
    path = f"{V1_SERVICES}/{service.sid}/PhoneNumbers"

    fetched = get(raw, f"{path}/{added.sid}")
    assert fetched["sid"] == number.sid
    assert fetched["url"] == f"{server.base_url}{path}/{added.sid}"
    assert_resource(v1, fetched, "messaging.v1.service.phone_number")
    assert_v1_list(
        v1,
        get(raw, path),
        path,
        "/v1/Services/{ServiceSid}/PhoneNumbers",
        "messaging.v1.service.phone_number",
    )


def test_service_short_code_matches_the_schema(
    client: Client, server: TextrelayServer, account: Account, raw: httpx.Client, v1: Checker
) -> None:
    service = client.messaging.v1.services.create(friendly_name="short codes")
    code = provision_short_code(raw, account)
    added = client.messaging.v1.services(service.sid).short_codes.create(short_code_sid=code["sid"])
    path = f"{V1_SERVICES}/{service.sid}/ShortCodes"

    fetched = get(raw, f"{path}/{added.sid}")
    assert fetched["sid"] == code["sid"]
    assert fetched["url"] == f"{server.base_url}{path}/{added.sid}"
    assert_resource(v1, fetched, "messaging.v1.service.short_code")
    assert_v1_list(
        v1,
        get(raw, path),
        path,
        "/v1/Services/{ServiceSid}/ShortCodes",
        "messaging.v1.service.short_code",
    )


def test_service_alpha_sender_matches_the_schema(
    client: Client, server: TextrelayServer, raw: httpx.Client, v1: Checker
) -> None:
    service = client.messaging.v1.services.create(friendly_name="alpha")
    added = client.messaging.v1.services(service.sid).alpha_senders.create(alpha_sender="Acme")
    path = f"{V1_SERVICES}/{service.sid}/AlphaSenders"

    fetched = get(raw, f"{path}/{added.sid}")
    assert fetched["alpha_sender"] == "Acme"
    assert fetched["url"] == f"{server.base_url}{path}/{added.sid}"
    assert_resource(v1, fetched, "messaging.v1.service.alpha_sender")
    assert_v1_list(
        v1,
        get(raw, path),
        path,
        "/v1/Services/{ServiceSid}/AlphaSenders",
        "messaging.v1.service.alpha_sender",
    )


def test_the_sdk_pages_through_services_newest_first(
    client: Client, server: TextrelayServer, raw: httpx.Client
) -> None:
    made = [client.messaging.v1.services.create(friendly_name=f"paged {i}").sid for i in range(7)]
    newest_first = list(reversed(made))

    listed = [s.sid for s in client.messaging.v1.services.list(page_size=3)]
    streamed = [s.sid for s in client.messaging.v1.services.stream(page_size=2)]

    assert listed == newest_first
    assert streamed == newest_first
    # The pages really are 3, 3 and 1 long, chained by next_page_url (so the SDK did page).
    sizes: list[int] = []
    next_url: str | None = f"{V1_SERVICES}?PageSize=3"
    while next_url is not None and len(sizes) < 10:
        page = get(raw, next_url)
        sizes.append(len(page["services"]))
        next_url = page["meta"]["next_page_url"]
    assert sizes == [3, 3, 1]


# --- 2010-04-01 SMS/ShortCodes ---------------------------------------------------------------


def test_v2010_short_code_matches_the_schema(
    client: Client, server: TextrelayServer, account: Account, raw: httpx.Client
) -> None:
    checker = Checker(API_V2010, server.base_url)
    provisioned = provision_short_code(raw, account)
    bare = provision_short_code(raw, account)
    client.short_codes(provisioned["sid"]).update(
        sms_url=f"{server.base_url}/hooks/sms",
        sms_fallback_url=f"{server.base_url}/hooks/fallback",
        sms_method="GET",
    )
    root = f"/2010-04-01/Accounts/{account.sid}/SMS/ShortCodes"

    assert_resource(checker, provisioned, "api.v2010.account.short_code")
    fetched = get(raw, f"{root}/{provisioned['sid']}.json")
    assert fetched["sms_method"] == "GET"
    assert fetched["uri"] == f"{root}/{provisioned['sid']}.json"
    assert_resource(checker, fetched, "api.v2010.account.short_code")
    assert_resource(checker, get(raw, f"{root}/{bare['sid']}.json"), "api.v2010.account.short_code")

    body = get(raw, f"{root}.json")
    schema = list_schema(API_V2010, V2010_SHORT_CODES)
    key = list_key_of(schema)
    assert key == "short_codes"
    assert set(body) == set(schema["properties"])
    assert len(body[key]) == 2
    envelope = {k: v for k, v in body.items() if k != key}
    envelope_schema = dict(
        schema, properties={k: v for k, v in schema["properties"].items() if k != key}
    )
    assert list(checker.problems(envelope, envelope_schema, V2010_SHORT_CODES)) == []
    for item in body[key]:
        assert_resource(checker, item, "api.v2010.account.short_code")

    first = get(raw, f"{root}.json", {"PageSize": "1"})
    assert first["next_page_uri"] is not None
    assert first["next_page_uri"].startswith(f"{root}.json?")
    assert list(checker.problems(first, schema, V2010_SHORT_CODES)) == []


# --- the checker itself ----------------------------------------------------------------------


def test_the_checker_catches_departures() -> None:
    """The checks above could fail: wrong types, formats, missing and extra fields are found."""
    base = "http://127.0.0.1:1"
    checker = Checker(MESSAGING_V1, base)
    bad = {
        "sid": 1,
        "account_sid": None,
        "service_sid": "MG" + "0" * 32,
        "date_created": "Thu, 30 Jul 2015 20:12:31 +0000",
        "date_updated": "2015-07-30T20:12:31Z",
        "alpha_sender": "Acme",
        "capabilities": ["SMS", 2],
        "url": "/v1/Services/MG0/AlphaSenders/AI0",
        "surprise": True,
    }
    service = {"validity_period": None, "scan_message_content": "sometimes", "links": {"a": "x"}}

    found = resource_problems(checker, bad, "messaging.v1.service.alpha_sender")
    found_service = resource_problems(checker, service, "messaging.v1.service")

    assert any("sid: int" in p for p in found)
    assert any("date_created" in p and "ISO 8601" in p for p in found)
    assert any("capabilities[1]: int" in p for p in found)
    assert any(".url" in p and "absolute URL" in p for p in found)
    assert any("'surprise' is not in the schema" in p for p in found)
    assert not any("account_sid" in p for p in found)
    assert any("missing property 'friendly_name'" in p for p in found_service)
    assert any("validity_period: null" in p for p in found_service)
    assert any("'sometimes' is not one of" in p for p in found_service)
    assert any("links.a" in p for p in found_service)
    assert list(checker.problems(None, {"type": ["string", "null"]}, "x")) == []
    assert list(checker.problems(True, {"type": "integer"}, "x")) != []
    v2010 = Checker(API_V2010, base)
    relative = {"type": "string", "format": "uri"}
    assert list(v2010.problems(f"{base}/2010-04-01/x.json", relative, "list.uri")) != []
    assert list(v2010.problems("/2010-04-01/x.json", relative, "list.next_page_uri")) == []
