"""The carriers file (carriers/config.py): the minimal file, every key, and each kind of
error reported at its line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from textrelay.carriers.config import (
    BindType,
    CarriersConfig,
    CarriersFileError,
    CarrierType,
    LongMessages,
    SmppCarrierConfig,
    SourceMap,
    UpstreamCarrierConfig,
    parse_carriers,
    read_carriers_file,
)
from textrelay.domain.carriers import SIMULATOR
from textrelay.domain.routing import Route, RouteTable, RoutingMode
from textrelay.settings import SettingsError

ACCOUNT = "AC" + "a" * 32
SERVICE = "MG" + "b" * 32
ACCOUNT_UPPERCASE = "AC" + "A" * 32
NO_ENV: dict[str, str] = {}

MINIMAL = """\
[[carrier]]
name = "smsc1"
type = "smpp"
host = "127.0.0.1"
port = 2775
system_id = "textrelay"
password = "secret"

[[route]]
carrier = "smsc1"   # a route without conditions takes every outbound message
"""

FULL = f"""\
# Every key, each set to something other than its default.
[routing]
mode = "allowlist"
allow = ["+4474", "gb", "+1415"]
pdu_log = false

[[carrier]]
name = "smsc1"
type = "smpp"
host = "smsc.example"
port = 2776
system_id = "textrelay"
password = "secret"
system_type = "VMA"
tls = true
binds = 4
bind_type = "transmitter+receiver"
window = 20
rate_per_s = 12.5
response_timeout_s = 5
reconnect_min_s = 0.5
reconnect_max_s = 30
registered_delivery = false
long_messages = "sar"
short_code_ton = 0
source_ton = 5
source_npi = 0
service_type = "CMT"
submit_retries = 2
numbers = [
  "+1 415 555 0100",   # normalised to E.164
  "12345",             # a short code, kept as digits
]
mo_reassembly_timeout_s = 120

[[carrier]]
name = "twilio"
type = "upstream"
base_url = "http://127.0.0.1:9000/"
account_sid = "{ACCOUNT_UPPERCASE}"  # normalised to lowercase hex
auth_token_env = "UPSTREAM_TOKEN"
callback_base_url = "https://relay.example/"
timeout_s = 3
numbers = ["+447400123456"]
submit_retries = 1

[[route]]
name = "uk"
carrier = "twilio"
fallback = ["smsc1", "simulator"]
from = ["+14155550100", "12345", "MyBrand"]
messaging_service = ["{SERVICE}"]
to_prefix = ["+4474"]
country = ["gb"]
account = ["{ACCOUNT}"]

[[route]]
carrier = "smsc1"
"""


def _parse(text: str, environ: dict[str, str] = NO_ENV) -> CarriersConfig:
    return parse_carriers(text, "carriers.toml", environ=environ)


def test_the_minimal_file() -> None:
    config = _parse(MINIMAL)

    assert config.carriers == (
        SmppCarrierConfig(name="smsc1", host="127.0.0.1", system_id="textrelay", password="secret"),
    )
    assert config.routes == RouteTable((Route("smsc1", line=9),))
    assert config.pdu_log is True
    assert config.routes.choose(ACCOUNT, "+14155550100", "+447400123456", None).carriers == (
        "smsc1",
    )


def _smpp_config(name: str, binds: int) -> SmppCarrierConfig:
    return SmppCarrierConfig(name=name, host="127.0.0.1", system_id="textrelay", binds=binds)


def test_serving_processes_are_dealt_a_share_of_each_smpp_carriers_binds() -> None:
    upstream = UpstreamCarrierConfig("relay", ACCOUNT, "t" * 32, "https://relay.example.com")
    config = CarriersConfig((_smpp_config("five", 5), upstream, _smpp_config("two", 2)))

    dealt = [config.dealt_out(index, 2).carriers for index in range(2)]

    shares = [
        [(c.name, c.binds, c.first_bind) for c in carriers if isinstance(c, SmppCarrierConfig)]
        for carriers in dealt
    ]
    # Together each carrier's own binds, numbered as one series across the processes.
    assert shares == [[("five", 3, 1), ("two", 1, 1)], [("five", 2, 4), ("two", 1, 2)]]
    assert all(carriers[1] is upstream for carriers in dealt)
    assert config.dealt_out(0, 1) is config
    assert config.fewest_binds == config.carriers[2]
    assert CarriersConfig((upstream,)).fewest_binds is None


def test_smpp_defaults() -> None:
    carrier = _parse(MINIMAL).carrier("smsc1")

    assert isinstance(carrier, SmppCarrierConfig)
    assert carrier.kind is CarrierType.SMPP
    assert carrier.port == 2775
    assert carrier.system_type == ""
    assert carrier.tls is False
    assert carrier.binds == 1
    assert carrier.bind_type is BindType.TRANSCEIVER
    assert carrier.window == 10
    assert carrier.rate_per_s == 0
    assert carrier.response_timeout_s == 10
    assert carrier.enquire_link_s == 30
    assert (carrier.reconnect_min_s, carrier.reconnect_max_s) == (1, 60)
    assert carrier.registered_delivery is True
    assert carrier.long_messages is LongMessages.UDH
    assert carrier.short_code_ton == 3
    assert (carrier.source_ton, carrier.source_npi) == (None, None)
    assert carrier.service_type == ""
    assert carrier.submit_retries == 5
    assert carrier.numbers == ()
    assert carrier.mo_reassembly_timeout_s == 60


def test_a_full_file_with_every_key() -> None:
    config = _parse(FULL, {"UPSTREAM_TOKEN": " token-from-env \n"})

    assert config.pdu_log is False
    assert config.carriers[0] == SmppCarrierConfig(
        name="smsc1",
        host="smsc.example",
        system_id="textrelay",
        port=2776,
        password="secret",
        system_type="VMA",
        tls=True,
        binds=4,
        bind_type=BindType.TRANSMITTER_RECEIVER,
        window=20,
        rate_per_s=12.5,
        response_timeout_s=5.0,
        reconnect_min_s=0.5,
        reconnect_max_s=30.0,
        registered_delivery=False,
        long_messages=LongMessages.SAR,
        short_code_ton=0,
        source_ton=5,
        source_npi=0,
        service_type="CMT",
        submit_retries=2,
        numbers=("+14155550100", "12345"),
        mo_reassembly_timeout_s=120.0,
    )
    upstream = config.carrier("twilio")
    assert upstream == UpstreamCarrierConfig(
        name="twilio",
        account_sid=ACCOUNT,
        auth_token="token-from-env",
        callback_base_url="https://relay.example",
        base_url="http://127.0.0.1:9000",
        timeout_s=3.0,
        numbers=("+447400123456",),
        submit_retries=1,
    )
    assert isinstance(upstream, UpstreamCarrierConfig)
    assert upstream.kind is CarrierType.UPSTREAM
    assert upstream.status_callback_url == (
        "https://relay.example/textrelay/v1/Carriers/twilio/StatusCallback"
    )
    table = config.routes
    assert table.mode is RoutingMode.ALLOWLIST
    assert table.allow_prefixes == ("+4474", "+1415")
    assert table.allow_countries == {"GB"}
    assert dict(table.bound_numbers) == {
        "+14155550100": "smsc1",
        "12345": "smsc1",
        "+447400123456": "twilio",
    }
    assert table.routes == (
        Route(
            "twilio",
            fallback=("smsc1", SIMULATOR),
            senders=frozenset({"+14155550100", "12345", "MyBrand"}),
            messaging_services=frozenset({SERVICE}),
            to_prefixes=("+4474",),
            countries=frozenset({"GB"}),
            accounts=frozenset({ACCOUNT}),
            name="uk",
            line=47,
        ),
        Route("smsc1", line=57),
    )


def test_the_keep_alive_interval_is_the_files_to_set() -> None:
    carrier = _parse(
        MINIMAL.replace('password = "secret"\n', 'password = "secret"\nenquire_link_s = 5\n')
    ).carrier("smsc1")

    assert isinstance(carrier, SmppCarrierConfig)
    assert carrier.enquire_link_s == 5


def test_secrets_stay_out_of_repr() -> None:
    config = _parse(FULL, {"UPSTREAM_TOKEN": "token-from-env"})

    assert "secret" not in repr(config)
    assert "token-from-env" not in repr(config)


def test_config_is_frozen() -> None:
    config = _parse(MINIMAL)

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.pdu_log = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.routes.mode = RoutingMode.ALLOWLIST  # type: ignore[misc]
    carrier = config.carriers[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        carrier.name = "other"  # type: ignore[misc]


def test_an_empty_file_is_the_simulator_only() -> None:
    assert _parse("# nothing yet\n") == CarriersConfig.simulator_only()
    assert CarriersConfig.simulator_only().routes == RouteTable.simulator_only()


def test_a_condition_may_be_one_string() -> None:
    config = _parse(MINIMAL + 'to_prefix = "+44"\n')

    assert config.routes.routes[0].to_prefixes == ("+44",)


def test_routes_may_name_the_simulator() -> None:
    config = _parse('[[route]]\ncarrier = "simulator"\nto_prefix = ["+1555"]\n')

    assert config.routes.routes[0].carrier == SIMULATOR


def test_a_number_listed_twice_for_one_carrier_is_kept_once() -> None:
    config = _parse(MINIMAL.replace("[[route]]", 'numbers = ["12345", "12345"]\n[[route]]'))

    assert config.carriers[0].numbers == ("12345",)


def test_the_auth_token_may_be_in_the_file() -> None:
    text = _upstream('auth_token = "abc"')

    carrier = _parse(text).carriers[0]
    assert isinstance(carrier, UpstreamCarrierConfig)
    assert carrier.auth_token == "abc"
    assert carrier.base_url == "https://api.twilio.com"
    assert carrier.timeout_s == 10
    assert carrier.submit_retries == 5


def _upstream(*extra: str) -> str:
    return "\n".join(
        [
            "[[carrier]]",
            'name = "up"',
            'type = "upstream"',
            f'account_sid = "{ACCOUNT}"',
            'callback_base_url = "https://relay.example"',
            *extra,
            "",
        ]
    )


def _smpp(*extra: str) -> str:
    return "\n".join(
        [
            "[[carrier]]",
            'name = "smsc1"',
            'type = "smpp"',
            'host = "127.0.0.1"',
            'system_id = "textrelay"',
            *extra,
            "",
        ]
    )


# (the file, the line the error names, a fragment of its message); each kind of error once.
ERRORS = [
    pytest.param('[[carrier]]\nname = "a"\ntype = smpp\n', 3, "invalid TOML", id="syntax"),
    pytest.param('[routing]\nmode = "all"\nmode = "all"\n', 3, "invalid TOML", id="dup-key"),
    pytest.param('[[carrier]]\nname = "a"\nnumbers = [\n', 3, "invalid TOML", id="syntax-at-end"),
    pytest.param("\n# comment\n[[carriers]]\n", 3, 'unknown key "carriers"', id="top-key"),
    pytest.param('[carrier]\nname = "a"\n', 1, "write [[carrier]]", id="not-array"),
    pytest.param('carrier = "smsc1"\n', 1, "write [[carrier]]", id="not-table"),
    pytest.param("routing = 3\n", 1, "write [routing]", id="routing-not-table"),
    pytest.param(
        _smpp("", "# the port", "  hots = 'x'  # typo"),
        8,
        'unknown key "hots" (did you mean "host"?); allowed: bind_type, binds, enquire_link_s,',
        id="unknown-key",
    ),
    pytest.param(
        _smpp() + '\n[[carrier]]\nname = "b"\ntype = "smpp"\nhost = "h"\n',
        7,
        '[[carrier]] "b": "system_id" is required',
        id="missing-key",
    ),
    pytest.param('[[carrier]]\ntype = "smpp"\n', 1, '"name" is required', id="missing-name"),
    pytest.param(
        '[[carrier]]\nname = "a"\n', 1, '[[carrier]] "a": "type" is required', id="no-type"
    ),
    pytest.param(
        '[[carrier]]\nname = "a"\n\ntype = "smtp"\n',
        4,
        'type must be "smpp" or "upstream", not "smtp"',
        id="bad-type",
    ),
    pytest.param('[[carrier]]\nname = "SMSC 1"\n', 2, 'name "SMSC 1" must be 1-32', id="bad-name"),
    pytest.param(
        '[[carrier]]\nname = "simulator"\n', 2, '"simulator" is built in', id="reserved-name"
    ),
    pytest.param(
        _smpp() + _smpp().replace("[[carrier]]", "\n[[carrier]]  # again"),
        8,
        'a carrier named "smsc1" is declared above',
        id="duplicate-name",
    ),
    pytest.param(_smpp('port = "2775"'), 6, "port must be a whole number, not a string", id="type"),
    pytest.param(_smpp("port = 70000"), 6, "port must be from 1 to 65535", id="port"),
    pytest.param(_smpp("port = 0"), 6, "port must be from 1 to 65535, not 0", id="port-zero"),
    pytest.param(_smpp("tls = 1"), 6, "tls must be true or false, not an integer", id="bool"),
    pytest.param(_smpp("binds = 0"), 6, "binds must be at least 1", id="binds"),
    pytest.param(_smpp("window = -1"), 6, "window must be at least 1, not -1", id="window"),
    pytest.param(_smpp("window = 2.5"), 6, "window must be a whole number", id="window-float"),
    pytest.param(_smpp("rate_per_s = -5"), 6, "rate_per_s must be a finite", id="rate"),
    pytest.param(_smpp("rate_per_s = nan"), 6, "rate_per_s must be a finite", id="rate-nan"),
    pytest.param(
        _smpp("response_timeout_s = 0"), 6, "response_timeout_s must be", id="timeout-zero"
    ),
    pytest.param(
        _smpp("reconnect_min_s = 10", "reconnect_max_s = 5"),
        7,
        "reconnect_max_s (5) is less than reconnect_min_s (10)",
        id="reconnect",
    ),
    pytest.param(
        _smpp('bind_type = "receiver"'),
        6,
        'bind_type must be "transceiver" or "transmitter+receiver", not "receiver"',
        id="bind-type",
    ),
    pytest.param(
        _smpp('long_messages = "split"'),
        6,
        'long_messages must be "udh" or "sar" or "payload"',
        id="long-messages",
    ),
    pytest.param(_smpp("short_code_ton = 7"), 6, "short_code_ton must be from 0 to 6", id="ton"),
    pytest.param(_smpp("source_npi = 2"), 6, "source_npi must be an SMPP NPI", id="npi"),
    pytest.param(
        _smpp('password = "much-too-long"'),
        6,
        "password is at most 8 characters in SMPP 3.4",
        id="password-length",
    ),
    pytest.param(
        _smpp().replace("textrelay", "t" * 16), 5, "system_id is at most 15", id="system-id"
    ),
    pytest.param(_smpp('service_type = "é"'), 6, "printable ASCII", id="service-type"),
    pytest.param(_smpp("submit_retries = -1"), 6, "submit_retries must be", id="retries"),
    pytest.param(
        _smpp("numbers = [", '  "+14155550100",', '  "not a number",', "]"),
        8,
        'numbers: "not a number" is not an E.164 number or a short code',
        id="bad-number",
    ),
    pytest.param(
        _smpp('numbers = ["+14155550100", 42]'), 6, "numbers must hold strings", id="number-type"
    ),
    pytest.param(_smpp("numbers = 42"), 6, "numbers must be an array of strings", id="numbers"),
    pytest.param(
        _smpp('numbers = ["+14155550100"]')
        + _upstream('auth_token = "t"', 'numbers = ["+1 (415) 555-0100"]'),
        13,
        "+14155550100 is already bound to carrier smsc1",
        id="bound-twice",
    ),
    pytest.param(
        _upstream('auth_token = "t"', 'base_url = "ftp://example.com"'),
        7,
        'base_url must be an http:// or https:// URL, not "ftp://example.com"',
        id="base-url",
    ),
    pytest.param(
        _upstream('auth_token = "t"').replace("https://relay.example", "relay.example"),
        5,
        "callback_base_url must be an http:// or https:// URL",
        id="callback-url",
    ),
    pytest.param(
        _upstream('auth_token = "t"', 'base_url = "https://a.example/?x=1"'),
        7,
        "base_url must have no query or fragment",
        id="url-query",
    ),
    pytest.param(
        _upstream('auth_token = "t"').replace('callback_base_url = "https://relay.example"', ""),
        1,
        '[[carrier]] "up": "callback_base_url" is required',
        id="no-callback",
    ),
    pytest.param(
        _upstream('auth_token = "t"').replace(ACCOUNT, "AC123"),
        4,
        "account_sid must be AC followed by 32 hexadecimal digits",
        id="account-sid",
    ),
    pytest.param(_upstream(), 1, '"auth_token" or "auth_token_env" is required', id="no-token"),
    pytest.param(
        _upstream('auth_token = "t"', 'auth_token_env = "T"'),
        7,
        "give auth_token or auth_token_env, not both",
        id="both-tokens",
    ),
    pytest.param(
        _upstream('auth_token_env = "MISSING_TOKEN"'),
        6,
        "the variable MISSING_TOKEN (auth_token_env) is not set",
        id="token-env-unset",
    ),
    pytest.param(
        _upstream('auth_token_env = "NOT A NAME"'), 6, "is not a variable name", id="env-name"
    ),
    pytest.param(
        _upstream('auth_token = "t"', "window = 3"),
        7,
        'unknown key "window"; allowed: account_sid, auth_token,',
        id="smpp-key-on-upstream",
    ),
    pytest.param('[routing]\nmode = "some"\n', 2, 'mode must be "all" or "allowlist"', id="mode"),
    pytest.param(
        '[routing]\nmode = "allowlist"\nallow = ["+44", "44"]\n',
        3,
        'allow: "44" is not an E.164 prefix ("+" and digits) or a two-letter country code',
        id="allow",
    ),
    pytest.param(
        '[routing]\nallow = ["+44"]\n', 2, 'add mode = "allowlist"', id="allow-without-mode"
    ),
    pytest.param("[routing]\npdu_log = 1\n", 2, "pdu_log must be true or false", id="pdu-log"),
    pytest.param(
        "[routing]\nmodes = 1\n", 2, 'unknown key "modes" (did you mean "mode"?)', id="routing-key"
    ),
    pytest.param(
        _smpp() + '\n[[route]]\ncarrier = "smsc2"\n',
        8,
        '[[route]] number 1: no carrier is named "smsc2"; declared: simulator, smsc1',
        id="route-carrier",
    ),
    pytest.param("[[route]]\nto_prefix = []\n", 1, '"carrier" is required', id="route-no-carrier"),
    pytest.param(
        _smpp() + '\n[[route]]\nname = "main"\ncarrier = "smsc1"\nfallback = ["smsc9"]\n',
        10,
        '[[route]] "main": no carrier is named "smsc9"',
        id="route-fallback",
    ),
    pytest.param(
        _smpp() + '\n[[route]]\ncarrier = "smsc1"\nfallback = ["smsc1"]\n',
        9,
        'fallback names the route\'s own carrier "smsc1"',
        id="fallback-self",
    ),
    pytest.param(
        '[[route]]\ncarrier = "simulator"\n\n[[route]]\ncarrier = "simulator"\nfrm = []\n',
        6,
        '[[route]] number 2: unknown key "frm" (did you mean "from"?)',
        id="route-key",
    ),
    pytest.param(
        '[[route]]\ncarrier = "simulator"\nfallback = ["simulator"]\n',
        3,
        'fallback names the route\'s own carrier "simulator"',
        id="fallback-self-simulator",
    ),
    pytest.param(
        _smpp() + '\n[[route]]\ncarrier = "simulator"\nfallback = [\n  "smsc1",\n  "smsc1",\n]\n',
        10,
        'fallback names carrier "smsc1" twice',
        id="fallback-twice",
    ),
    pytest.param(
        '[[route]]\ncarrier = "simulator"\ncountry = ["FR", "XX"]\n',
        3,
        'country: "XX" is not a two-letter country code (ISO 3166)',
        id="route-unknown-country",
    ),
    pytest.param(
        '[[route]]\nname = "a"\ncarrier = "simulator"\n[[route]]\nname = "a"\n',
        5,
        'a route named "a" is declared above',
        id="route-name",
    ),
    pytest.param(
        '[[route]]\ncarrier = "simulator"\nfrom = ["whatsapp:+14155550100"]\n',
        3,
        'from: "whatsapp:+14155550100" is not an E.164 number, short code or alphanumeric',
        id="route-from",
    ),
    pytest.param(
        '[[route]]\ncarrier = "simulator"\nto_prefix = ["44"]\n',
        3,
        'to_prefix: "44" is not an E.164 prefix',
        id="route-prefix",
    ),
    pytest.param(
        '[[route]]\ncarrier = "simulator"\ncountry = ["UK"]\n',
        3,
        '"UK" is not a two-letter country code (ISO 3166) (the United Kingdom\'s code is GB)',
        id="route-country",
    ),
    pytest.param(
        '[[route]]\ncarrier = "simulator"\naccount = ["MG' + "a" * 32 + '"]\n',
        3,
        "is not an account SID",
        id="route-account",
    ),
    pytest.param(
        '[[route]]\ncarrier = "simulator"\nmessaging_service = ["MGxyz"]\n',
        3,
        'messaging_service: "MGxyz" is not a Messaging Service SID',
        id="route-service",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), ERRORS)
def test_errors_name_their_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(CarriersFileError) as raised:
        _parse(text)

    assert raised.value.line == line
    assert raised.value.path == "carriers.toml"
    assert str(raised.value).startswith(f"carriers.toml, line {line}: ")
    assert fragment in str(raised.value)


def test_a_carriers_file_error_is_a_settings_error() -> None:
    error = CarriersFileError("c.toml", 3, "bad")

    assert isinstance(error, SettingsError)
    assert str(error) == "c.toml, line 3: bad"
    assert error.message == "bad"


def test_read_carriers_file(tmp_path: Path) -> None:
    path = tmp_path / "carriers.toml"
    path.write_text(_upstream('auth_token_env = "TOKEN"'))

    carrier = read_carriers_file(path, environ={"TOKEN": "t0k3n"}).carriers[0]

    assert isinstance(carrier, UpstreamCarrierConfig)
    assert carrier.auth_token == "t0k3n"


def test_read_carriers_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "carriers.toml"
    path.write_text("\n[[route]]\n")

    with pytest.raises(CarriersFileError, match=rf"^{path}, line 2: .*carrier"):
        read_carriers_file(str(path), environ={})


def test_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"

    with pytest.raises(CarriersFileError) as raised:
        read_carriers_file(path, environ={})

    assert raised.value.line is None
    assert str(raised.value) == f"{path}: No such file or directory"


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "carriers.toml"
    path.write_bytes(b'[[route]]\ncarrier = "simulator"\nname = "caf\xe9"\n')

    with pytest.raises(CarriersFileError, match=r"line 3: not UTF-8"):
        read_carriers_file(path, environ={})


# -- the line scan ------------------------------------------------------------------------

SOURCE = """\
# carriers
pdu = 1

[[carrier]]   # the first
name = "a"

  [[ carrier ]]
# a comment: name = "x"
"name" = "b"
numbers = [
  "+14155550100",  # one
  "12345",
]
notes = '''
[[route]]
name = "inside a string"
'''
[carrier.extra]
x = 1

[routing]
mode = "all"

[[route]]
carrier = "a"
"""


def test_source_map_tables() -> None:
    source = SourceMap(SOURCE)

    assert source.table("carrier", 0) == 4
    assert source.table("carrier", 1) == 7
    assert source.table("route", 0) == 24
    assert source.table("routing") == 21
    assert source.table(None) == 1
    assert source.table("pdu") == 2  # a top-level key, where no header is found
    assert source.table("nothing") == 1


def test_source_map_keys() -> None:
    source = SourceMap(SOURCE)

    assert source.key("carrier", 0, "name") == 5
    assert source.key("carrier", 1, "name") == 9
    assert source.key("carrier", 1, "extra") == 18
    assert source.key("carrier", 1, "missing") == 7
    assert source.key("routing", None, "mode") == 22
    assert source.key("route", 0, "carrier") == 25
    assert source.key(None, None, "pdu") == 2
    assert source.key(None, None, "route") == 24
    assert source.key("route", 3, "carrier") == 1


def test_source_map_elements() -> None:
    source = SourceMap(SOURCE)

    assert source.element("carrier", 1, "numbers", "12345") == 12
    assert source.element("carrier", 1, "numbers", "+14155550100") == 11
    assert source.element("carrier", 1, "numbers", "+999") == 10
    assert source.element("carrier", 0, "numbers", "12345") == 4


def test_source_map_of_an_inline_table() -> None:
    source = SourceMap('routing = { mode = "x" }\n')

    assert source.table("routing") == 1
    assert source.key("routing", None, "mode") == 1


# -- the reference page -------------------------------------------------------------------

REFERENCE = Path(__file__).parents[2] / "docs" / "carriers-file.md"


def _toml_blocks(text: str) -> list[str]:
    return [block.split("```", 1)[0] for block in text.split("```toml\n")[1:]]


def test_the_reference_examples_parse() -> None:
    blocks = _toml_blocks(REFERENCE.read_text())

    assert len(blocks) == 2
    assert _parse(blocks[0]) == _parse(MINIMAL)
    full = _parse(blocks[1], {"UPSTREAM_TOKEN": "t"})
    assert len(full.carriers) == 2
    assert len(full.routes.routes) == 2


def test_the_reference_documents_every_key() -> None:
    text = REFERENCE.read_text()
    keys = {f.name for f in dataclasses.fields(SmppCarrierConfig)}
    keys |= {f.name for f in dataclasses.fields(UpstreamCarrierConfig)}
    keys |= {"type", "auth_token_env", "mode", "allow", "pdu_log"}
    keys |= {"carrier", "fallback", "from", "messaging_service", "to_prefix", "country"}
    keys |= {"account"}
    keys -= {"first_bind"}  # set by `serve --processes` for each process, not by the file

    assert [key for key in sorted(keys) if f"| `{key}` |" not in text] == []
