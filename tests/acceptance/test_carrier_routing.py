"""Routes choose the carrier: by destination, with a fallback when a carrier is down, and an
allowlist that keeps every other destination on the simulator (and says so)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from twilio.rest import Client

from tests.processes import free_port
from tests.smsc_driver import ScriptedSmsc
from tests.waiting import eventually
from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

FINAL = {"delivered", "undelivered", "failed"}


@pytest.fixture
def smsc() -> Iterator[ScriptedSmsc]:
    with ScriptedSmsc() as running:
        running.configure(auto_receipt="DELIVRD")
        yield running


def _carrier(name: str, port: int, system_id: str = "textrelay") -> str:
    return (
        f'[[carrier]]\nname = "{name}"\ntype = "smpp"\nhost = "127.0.0.1"\nport = {port}\n'
        f'system_id = "{system_id}"\npassword = "secret"\nreconnect_min_s = 0.2\n'
        "reconnect_max_s = 1\nresponse_timeout_s = 2\n\n"
    )


def _final(client: Client, sid: str) -> Any:
    return eventually(
        lambda: client.messages(sid).fetch(),
        until=lambda m: m.status in FINAL,
        timeout_s=15,
        what=f"{sid} final",
    )


def _start(
    isolated_server: Callable[..., TextrelayServer], path: Path, text: str
) -> tuple[TextrelayServer, Client, str]:
    server, _, client, number = _started(isolated_server, path, text)
    return server, client, number


def _started(
    isolated_server: Callable[..., TextrelayServer], path: Path, text: str
) -> tuple[TextrelayServer, Account, Client, str]:
    """A server with the carriers file `text`, a new account, its client and a number."""
    path.write_text(text)
    server = isolated_server(carriers=str(path))
    account = server.new_account()
    client = server.client(account)
    number: str = client.incoming_phone_numbers.create(area_code="415").phone_number
    return server, account, client, number


def test_a_destination_prefix_route_sends_only_its_destinations_to_the_smsc(
    isolated_server: Callable[..., TextrelayServer], smsc: ScriptedSmsc, tmp_path: Path
) -> None:
    text = _carrier("uk", smsc.port) + '[[route]]\ncarrier = "uk"\nto_prefix = ["+44"]\n'
    server, client, number = _start(isolated_server, tmp_path / "c.toml", text)
    smsc.wait_for("bind")
    to_uk = client.messages.create(to="+447700900123", from_=number, body="to the UK").sid
    to_us = client.messages.create(to="+14155550100", from_=number, body="to the US").sid
    assert _final(client, to_uk).status == "delivered"
    assert _final(client, to_us).status == "delivered"
    destinations = [s["destination_addr"] for s in smsc.events("submit_sm")]
    assert destinations == ["447700900123"]
    with server.control() as operator:
        [uk] = [c for c in operator.carriers() if c["name"] == "uk"]
    assert uk["up"]
    assert uk["binds"][0]["bound"]


def test_a_carrier_that_is_down_hands_its_messages_to_the_fallback(
    isolated_server: Callable[..., TextrelayServer], smsc: ScriptedSmsc, tmp_path: Path
) -> None:
    text = (
        _carrier("primary", free_port())
        + _carrier("backup", smsc.port)
        + '[[route]]\ncarrier = "primary"\nfallback = ["backup"]\n'
    )
    _server, client, number = _start(isolated_server, tmp_path / "c.toml", text)
    smsc.wait_for("bind")
    sid = client.messages.create(to="+14155550111", from_=number, body="via backup").sid
    assert _final(client, sid).status == "delivered"
    [submit] = smsc.events("submit_sm")
    assert submit["destination_addr"] == "14155550111"


def test_the_console_shows_the_refusal_of_each_carrier_tried_before_the_one_that_took_it(
    isolated_server: Callable[..., TextrelayServer], smsc: ScriptedSmsc, tmp_path: Path
) -> None:
    # Two accounts at one SMSC: each carrier's receipts come back on its own binds.
    text = (
        _carrier("primary", smsc.port, system_id="first")
        + _carrier("backup", smsc.port, system_id="second")
        + '[[route]]\ncarrier = "primary"\nfallback = ["backup"]\n'
    )
    server, account, client, number = _started(isolated_server, tmp_path / "c.toml", text)
    smsc.wait_for("bind", count=2)
    smsc.configure(submit=[0x0B])  # ESME_RINVDSTADR for the first submit_sm, then accepted
    sid = client.messages.create(to="+14155550111", from_=number, body="tried twice").sid
    assert _final(client, sid).status == "delivered"
    with server.control(account) as control:
        record = control.carrier_record(sid)
    assert record["carrier"] == "backup"
    # The receipt's deliver_sm may be stored before the submit's answer (it can overtake it).
    submits = [pdu for pdu in record["exchanged"] if pdu["command"].startswith("submit_sm")]
    assert [(pdu["carrier"], pdu["command"], pdu["status"]) for pdu in submits] == [
        ("primary", "submit_sm", None),
        ("primary", "submit_sm_resp", 0x0B),
        ("backup", "submit_sm", None),
        ("backup", "submit_sm_resp", 0),
    ]


def test_the_allowlist_keeps_other_destinations_on_the_simulator_and_says_so(
    isolated_server: Callable[..., TextrelayServer], smsc: ScriptedSmsc, tmp_path: Path
) -> None:
    text = (
        '[routing]\nmode = "allowlist"\nallow = ["+1415555012"]\n\n'
        + _carrier("smsc1", smsc.port)
        + '[[route]]\ncarrier = "smsc1"\n'
    )
    server, account, client, number = _started(isolated_server, tmp_path / "c.toml", text)
    smsc.wait_for("bind")
    allowed = client.messages.create(to="+14155550123", from_=number, body="allowed").sid
    held = client.messages.create(to="+14155559999", from_=number, body="held back").sid
    assert _final(client, allowed).status == "delivered"
    assert _final(client, held).status == "delivered"  # by the simulator
    assert [s["destination_addr"] for s in smsc.events("submit_sm")] == ["14155550123"]
    with server.control(account) as control:
        record = control.carrier_record(held)
        assert record["references"] == []
        assert [pdu["command"] for pdu in record["exchanged"]] == ["held back"]
        assert control.carrier_record(allowed)["carrier"] == "smsc1"


def test_a_file_with_a_mistake_is_refused_at_start_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[carrier]]\nname = "x"\ntype = "smpp"\nhost = "h"\nsystem_id = "s"\n'
        '\n[[route]]\ncarrier = "nowhere"\n'
    )
    started = subprocess.run(
        [
            sys.executable,
            "-m",
            "textrelay",
            "serve",
            "--carriers",
            str(path),
            "--port",
            "0",
            "--database-url",
            f"sqlite:///{tmp_path}/t.db",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert started.returncode != 0
    assert f"{path}, line 8: " in started.stderr
    assert "nowhere" in started.stderr
