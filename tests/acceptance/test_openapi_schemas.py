"""textrelay's JSON held to Twilio's own OpenAPI schemas (twilio/twilio-oai, twilio_api_v2010).

The specs are read from ../shared/twilio/specs beside the repository, never copied into it.
Each response must carry every property the schema names, no property it does not name (but
for the documented extras below), and each value in the schema's JSON type, enum and format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

SPECS = Path(__file__).resolve().parents[3] / "shared" / "twilio" / "specs"
SPEC_FILE = SPECS / "twilio_api_v2010.json"

if not SPEC_FILE.exists():
    pytest.skip(f"Twilio's OpenAPI specs are not at {SPECS}", allow_module_level=True)

# Fields textrelay emits beyond the schema, each documented in docs/compatibility.md.
EXTRAS = {
    "api.v2010.account.message": {"tags"},
    "api.v2010.account.incoming_phone_number": {"subresource_uris"},
    **{
        f"api.v2010.account.incoming_phone_number.incoming_phone_number_{kind}": {
            "subresource_uris"
        }
        for kind in ("local", "mobile", "toll_free")
    },
}
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
ROOT = "/2010-04-01/Accounts/{AccountSid}"


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_FILE.read_text())
    return loaded


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec()["components"]["schemas"][name]
    return schema


def component(name: str) -> dict[str, Any]:
    return resolve({"$ref": f"#/components/schemas/{name}"})


def response_schema(path: str, method: str, status: str) -> dict[str, Any]:
    operation = spec()["paths"][path][method]
    return resolve(operation["responses"][status]["content"]["application/json"]["schema"])


def problems(value: Any, schema: dict[str, Any], where: str, extras: set[str]) -> Iterator[str]:
    """Every way `value` departs from `schema`."""
    schema = resolve(schema)
    if value is None:
        if not schema.get("nullable"):
            yield f"{where}: null where the schema does not allow it"
        return
    kind = schema.get("type")
    if kind is not None:
        expected = JSON_TYPES[kind]
        wrong_bool = isinstance(value, bool) and bool not in expected
        if wrong_bool or not isinstance(value, expected):
            yield f"{where}: {type(value).__name__} where the schema says {kind}"
            return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{where}: {value!r} is not one of {schema['enum']}"
    if schema.get("format") == "date-time-rfc-2822" and not RFC2822.match(value):
        yield f"{where}: {value!r} is not an RFC 2822 date ending +0000"
    properties = schema.get("properties")
    if properties and isinstance(value, dict):
        for missing in sorted(set(properties) - set(value)):
            yield f"{where}: missing property {missing!r}"
        for unknown in sorted(set(value) - set(properties) - extras):
            yield f"{where}: property {unknown!r} is not in the schema"
        for name, sub_schema in properties.items():
            if name in value:
                yield from problems(value[name], sub_schema, f"{where}.{name}", set())
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            yield from problems(item, schema["items"], f"{where}[{index}]", extras)


def assert_matches(value: Any, schema_name: str) -> None:
    found = list(
        problems(value, component(schema_name), schema_name, EXTRAS.get(schema_name, set()))
    )
    assert found == []


def assert_envelope(body: dict[str, Any], path: str, item_schema: str) -> None:
    schema = response_schema(path, "get", "200")
    assert set(body) == set(schema["properties"])
    list_key = next(k for k, v in schema["properties"].items() if v.get("type") == "array")
    assert body[list_key], "the list must not be empty for the check to mean anything"
    envelope = {k: v for k, v in body.items() if k != list_key}
    envelope_schema = dict(
        schema, properties={k: v for k, v in schema["properties"].items() if k != list_key}
    )
    assert list(problems(envelope, envelope_schema, path, set())) == []
    for item in body[list_key]:
        assert_matches(item, item_schema)


@pytest.fixture
def http(server: TextrelayServer, account: Account) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{server.base_url}/2010-04-01/Accounts/{account.sid}",
        auth=(account.sid, account.auth_token),
        timeout=10,
    ) as client:
        yield client


def created(http: httpx.Client, path: str, data: dict[str, str]) -> dict[str, Any]:
    response = http.post(path, data=data)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def fetched(http: httpx.Client, path: str) -> dict[str, Any]:
    response = http.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_message_matches_the_schema(http: httpx.Client) -> None:
    number = created(http, "/IncomingPhoneNumbers.json", {"AreaCode": "415"})["phone_number"]
    message = created(
        http, "/Messages.json", {"To": "+14155550199", "From": number, "Body": "schema"}
    )
    media = created(
        http,
        "/Messages.json",
        {"To": "+14155550199", "From": number, "MediaUrl": "https://example.com/a.png"},
    )

    assert_matches(message, "api.v2010.account.message")
    assert_matches(media, "api.v2010.account.message")
    assert_matches(fetched(http, f"/Messages/{message['sid']}.json"), "api.v2010.account.message")
    assert_envelope(
        fetched(http, "/Messages.json"), f"{ROOT}/Messages.json", "api.v2010.account.message"
    )


def test_account_matches_the_schema(
    server: TextrelayServer, account: Account, http: httpx.Client
) -> None:
    with httpx.Client(base_url=server.base_url, auth=(account.sid, account.auth_token)) as root:
        sub = root.post("/2010-04-01/Accounts.json", data={"FriendlyName": "sub"})
        own = root.get(f"/2010-04-01/Accounts/{account.sid}.json")
        listed = root.get("/2010-04-01/Accounts.json")

    assert sub.status_code == 201
    assert own.status_code == 200
    assert_matches(sub.json(), "api.v2010.account")
    assert_matches(own.json(), "api.v2010.account")
    assert_envelope(listed.json(), "/2010-04-01/Accounts.json", "api.v2010.account")


def test_incoming_phone_number_matches_the_schema(http: httpx.Client) -> None:
    number = created(
        http, "/IncomingPhoneNumbers.json", {"AreaCode": "628", "SmsUrl": "https://x.example/sms"}
    )

    assert_matches(number, "api.v2010.account.incoming_phone_number")
    assert_matches(
        fetched(http, f"/IncomingPhoneNumbers/{number['sid']}.json"),
        "api.v2010.account.incoming_phone_number",
    )
    assert_envelope(
        fetched(http, "/IncomingPhoneNumbers.json"),
        f"{ROOT}/IncomingPhoneNumbers.json",
        "api.v2010.account.incoming_phone_number",
    )


def test_keys_match_the_schema(http: httpx.Client) -> None:
    new_key = created(http, "/Keys.json", {"FriendlyName": "schema"})

    assert_matches(new_key, "api.v2010.account.new_key")
    assert_matches(fetched(http, f"/Keys/{new_key['sid']}.json"), "api.v2010.account.key")
    assert_envelope(fetched(http, "/Keys.json"), f"{ROOT}/Keys.json", "api.v2010.account.key")


def test_delete_answers_204_with_an_empty_body(http: httpx.Client) -> None:
    key = created(http, "/Keys.json", {})

    response = http.delete(f"/Keys/{key['sid']}.json")

    assert response.status_code == 204
    assert response.content == b""


def test_the_checker_catches_departures() -> None:
    """The checks above could fail: a wrong type, a missing field and an extra one are found."""
    schema = component("api.v2010.account.key")
    bad = {"sid": 1, "friendly_name": "x", "date_created": "2024-01-01", "surprise": True}

    found = list(problems(bad, schema, "key", set()))

    assert any("sid: int" in p for p in found)
    assert any("missing property 'date_updated'" in p for p in found)
    assert any("'surprise' is not in the schema" in p for p in found)
    assert any("RFC 2822" in p for p in found)


def test_media_matches_the_schema(
    http: httpx.Client, server: TextrelayServer, account: Account
) -> None:
    number = created(http, "/IncomingPhoneNumbers.json", {"AreaCode": "415"})["phone_number"]
    with server.control(account) as control:
        inbound = control.text("+14155550100", number, "pic", media=[("image/png", b"\x89PNG")])
    listed = fetched(http, f"/Messages/{inbound['sid']}/Media.json")
    one = fetched(http, f"/Messages/{inbound['sid']}/Media/{listed['media_list'][0]['sid']}.json")

    assert_matches(one, "api.v2010.account.message.media")
    assert_envelope(
        listed,
        f"{ROOT}/Messages/{{MessageSid}}/Media.json",
        "api.v2010.account.message.media",
    )


@pytest.mark.parametrize(
    ("collection", "schema"),
    [
        ("Local", "incoming_phone_number_local"),
        ("Mobile", "incoming_phone_number_mobile"),
        ("TollFree", "incoming_phone_number_toll_free"),
    ],
)
def test_typed_number_collections_match_their_schemas(
    http: httpx.Client, collection: str, schema: str
) -> None:
    name = f"api.v2010.account.incoming_phone_number.{schema}"
    path = f"/IncomingPhoneNumbers/{collection}.json"
    number = {
        "Local": {"PhoneNumber": "+14155550777"},
        "Mobile": {"PhoneNumber": "+447700900777"},
        "TollFree": {"PhoneNumber": "+18005550123"},
    }[collection]

    created_number = created(http, path, number)

    assert_matches(created_number, name)
    assert_envelope(fetched(http, path), f"{ROOT}{path}", name)
