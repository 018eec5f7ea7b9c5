"""Routing: the first matching route in file order, fallbacks, the allowlist, channels and
inbound binding (domain/routing.py)."""

from __future__ import annotations

import pytest

from textrelay.domain.carriers import SIMULATOR
from textrelay.domain.routing import (
    Route,
    RouteChoice,
    RouteTable,
    RoutingMode,
    known_country,
)

ACCOUNT = "AC" + "a" * 32
OTHER_ACCOUNT = "AC" + "b" * 32
SERVICE = "MG" + "c" * 32
US = "+14155550100"
CA = "+16135550100"
GB = "+447400123456"
FR = "+33612345678"
SENDER = "+14155550199"


def _choose(
    table: RouteTable,
    to: str = US,
    *,
    account: str = ACCOUNT,
    from_: str | None = SENDER,
    service: str | None = None,
) -> RouteChoice:
    return table.choose(account, from_, to, service)


def test_without_a_file_everything_goes_to_the_simulator() -> None:
    table = RouteTable.simulator_only()

    assert _choose(table) == RouteChoice((SIMULATOR,), held_back=False, route=None)
    assert table.inbound_allowed("smsc1", US)


def test_a_route_without_conditions_takes_every_message() -> None:
    table = RouteTable((Route("smsc1"),))

    assert _choose(table) == RouteChoice(("smsc1",), route="route 1")
    assert _choose(table, GB, from_=None).carriers == ("smsc1",)


def test_no_matching_route_means_the_simulator() -> None:
    table = RouteTable((Route("smsc1", countries=frozenset({"GB"})),))

    assert _choose(table, US) == RouteChoice((SIMULATOR,))


def test_the_first_matching_route_in_file_order_wins() -> None:
    table = RouteTable(
        (
            Route("uk", to_prefixes=("+44",), name="uk"),
            Route("default"),
            Route("never", to_prefixes=("+44",)),
        )
    )

    assert _choose(table, GB) == RouteChoice(("uk",), route="uk")
    assert _choose(table, US) == RouteChoice(("default",), route="route 2")


def test_fallbacks_follow_the_carrier_in_order() -> None:
    table = RouteTable((Route("smsc1", fallback=("smsc2", SIMULATOR)),))

    assert _choose(table).carriers == ("smsc1", "smsc2", SIMULATOR)
    assert Route("a", fallback=("b",)).carriers == ("a", "b")


@pytest.mark.parametrize(
    ("route", "matching", "other"),
    [
        (
            Route("x", senders=frozenset({SENDER, "12345", "MyBrand"})),
            {"from_": "MyBrand"},
            {"from_": "+14155550111"},
        ),
        (Route("x", senders=frozenset({"12345"})), {"from_": "12345"}, {"from_": None}),
        (
            Route("x", messaging_services=frozenset({SERVICE})),
            {"messaging_service_sid": SERVICE},
            {"messaging_service_sid": None},
        ),
        (
            Route("x", messaging_services=frozenset({SERVICE})),
            {"messaging_service_sid": "MG" + "C" * 32},  # the SID's hex in either case
            {"messaging_service_sid": "MG" + "d" * 32},
        ),
        (Route("x", to_prefixes=("+4474", "+33")), {"to": FR}, {"to": US}),
        (Route("x", countries=frozenset({"CA"})), {"to": CA}, {"to": US}),
        (Route("x", countries=frozenset({"GB", "FR"})), {"to": GB}, {"to": "+12"}),
        (
            Route("x", accounts=frozenset({ACCOUNT})),
            {"account_sid": "AC" + "A" * 32},
            {"account_sid": OTHER_ACCOUNT},
        ),
    ],
)
def test_each_condition(
    route: Route, matching: dict[str, str | None], other: dict[str, str | None]
) -> None:
    table = RouteTable((route,))

    assert _call(table, matching).carriers == ("x",)
    assert _call(table, other).carriers == (SIMULATOR,)


def _call(table: RouteTable, given: dict[str, str | None]) -> RouteChoice:
    message: dict[str, str | None] = {
        "account_sid": ACCOUNT,
        "from_": SENDER,
        "to": US,
        "messaging_service_sid": None,
    }
    message.update(given)
    account_sid, to = message.pop("account_sid"), message.pop("to")
    assert account_sid is not None
    assert to is not None
    return table.choose(account_sid, message["from_"], to, message["messaging_service_sid"])


def test_every_condition_given_must_match() -> None:
    route = Route(
        "x",
        senders=frozenset({SENDER}),
        messaging_services=frozenset({SERVICE}),
        to_prefixes=("+1",),
        countries=frozenset({"US"}),
        accounts=frozenset({ACCOUNT}),
    )
    table = RouteTable((route,))

    assert _choose(table, service=SERVICE).carriers == ("x",)
    assert _choose(table, service=None).carriers == (SIMULATOR,)
    assert _choose(table, CA, service=SERVICE).carriers == (SIMULATOR,)
    assert _choose(table, service=SERVICE, from_="+14155550111").carriers == (SIMULATOR,)
    assert _choose(table, service=SERVICE, account=OTHER_ACCOUNT).carriers == (SIMULATOR,)


@pytest.mark.parametrize("to", ["whatsapp:+14155550100", "WhatsApp:+14155550100", "messenger:1"])
def test_other_channels_always_go_to_the_simulator(to: str) -> None:
    table = RouteTable((Route("smsc1"),), RoutingMode.ALLOWLIST, allow_prefixes=("+1",))

    assert _choose(table, to) == RouteChoice((SIMULATOR,), held_back=False, route=None)


def test_allowlist_by_prefix() -> None:
    table = RouteTable((Route("smsc1"),), RoutingMode.ALLOWLIST, allow_prefixes=("+1415",))

    assert _choose(table, US) == RouteChoice(("smsc1",), route="route 1")
    assert _choose(table, CA) == RouteChoice((SIMULATOR,), held_back=True, route="route 1")


def test_allowlist_by_country() -> None:
    table = RouteTable(
        (Route("smsc1", fallback=("smsc2",)),),
        RoutingMode.ALLOWLIST,
        allow_countries=frozenset({"GB"}),
    )

    assert _choose(table, GB).carriers == ("smsc1", "smsc2")
    held = _choose(table, FR)
    assert held.carriers == (SIMULATOR,)
    assert held.held_back


def test_an_empty_allowlist_holds_back_every_real_carrier() -> None:
    table = RouteTable((Route("smsc1"),), RoutingMode.ALLOWLIST)

    assert _choose(table).held_back
    assert not table.allowed(US)


def test_a_route_to_the_simulator_is_not_held_back() -> None:
    table = RouteTable((Route(SIMULATOR, name="sandbox"),), RoutingMode.ALLOWLIST)

    assert _choose(table) == RouteChoice((SIMULATOR,), held_back=False, route="sandbox")


def test_no_route_is_not_held_back() -> None:
    table = RouteTable((), RoutingMode.ALLOWLIST)

    assert _choose(table) == RouteChoice((SIMULATOR,))


def test_mode_all_ignores_the_allowlist() -> None:
    table = RouteTable((Route("smsc1"),), RoutingMode.ALL, allow_prefixes=("+44",))

    assert table.allowed(US)
    assert _choose(table).carriers == ("smsc1",)


def test_a_bound_number_hears_only_from_its_carrier() -> None:
    table = RouteTable(bound_numbers={US: "smsc1", "12345": "upstream"})

    assert table.inbound_allowed("smsc1", US)
    assert not table.inbound_allowed("smsc2", US)
    assert not table.inbound_allowed(SIMULATOR, US)
    assert table.inbound_allowed("upstream", "12345")
    assert not table.inbound_allowed("smsc1", "12345")


def test_an_unbound_number_hears_from_any_carrier() -> None:
    table = RouteTable(bound_numbers={US: "smsc1"})

    assert table.inbound_allowed("smsc2", GB)
    assert table.inbound_allowed(SIMULATOR, GB)


def test_routing_mode_values() -> None:
    assert [mode.value for mode in RoutingMode] == ["all", "allowlist"]


def test_known_country() -> None:
    assert known_country("GB")
    assert known_country("US")
    assert not known_country("ZZ")
    assert not known_country("gb")
