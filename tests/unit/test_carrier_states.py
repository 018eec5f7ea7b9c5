"""The carriers' state of several serving processes, shown as one server's
(domain/carriers.whole_server)."""

from __future__ import annotations

from textrelay.domain.carriers import BindState, CarrierState, whole_server


def test_the_carriers_of_several_serving_processes_are_shown_as_one_servers() -> None:
    first = [
        CarrierState("smsc1", "smpp", (BindState("smsc1#1", True, process=0),), {"submitted": 2}),
        CarrierState("relay", "upstream", (BindState("https://up", True, process=0),), {}),
    ]
    second = [
        CarrierState("smsc1", "smpp", (BindState("smsc1#2", False, process=1),), {"submitted": 3}),
        CarrierState("relay", "upstream", (BindState("https://up", True, process=1),), {"x": 1}),
    ]

    merged = whole_server([first, second])

    assert [state.name for state in merged] == ["smsc1", "relay"]
    assert [(b.name, b.process) for b in merged[0].binds] == [("smsc1#1", 0), ("smsc1#2", 1)]
    assert merged[0].counters == {"submitted": 5}
    assert merged[0].up  # one bind of two is bound
    assert merged[1].counters == {"x": 1}
    assert whole_server([first]) == first
