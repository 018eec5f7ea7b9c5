"""The SMPP carrier against an independent SMSC (tests/smsc/smsc.js, on the npm `smpp` package):
binds, submit_sm as the SMSC sees it, receipts (early, repeated, unknown, garbled, per part),
refusals and throttling, handsets' messages (single and long) through the whole two-way path,
dropped connections; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.console_login import sign_in
from tests.receiver import Receiver
from tests.smsc_driver import ScriptedSmsc
from tests.waiting import eventually
from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

FINAL = {"delivered", "undelivered", "failed"}


@pytest.fixture
def smsc() -> Iterator[ScriptedSmsc]:
    with ScriptedSmsc() as running:
        yield running


def carriers_file(path: Path, smsc: ScriptedSmsc, **extra: Any) -> Path:
    lines = [
        "[[carrier]]",
        'name = "smsc1"',
        'type = "smpp"',
        'host = "127.0.0.1"',
        f"port = {smsc.port}",
        'system_id = "textrelay"',
        'password = "secret"',
        "reconnect_min_s = 0.2",
        "reconnect_max_s = 1",
        "response_timeout_s = 3",
    ]
    for key, value in extra.items():
        lines.append(f"{key} = {_toml(value)}")
    lines += ["", "[[route]]", 'carrier = "smsc1"', ""]
    path.write_text("\n".join(lines))
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


class Gateway:
    def __init__(self, server: TextrelayServer, smsc: ScriptedSmsc) -> None:
        self.server = server
        self.smsc = smsc
        self.account: Account = server.new_account()
        self.client: Client = server.client(self.account)
        self.number: str = self.client.incoming_phone_numbers.create(area_code="415").phone_number
        self.control = server.control(self.account)
        self.operator = server.control()

    def close(self) -> None:
        self.control.close()
        self.operator.close()

    def send(self, to: str = "+14155550100", body: str = "hello", **kwargs: Any) -> str:
        sid: str = self.client.messages.create(to=to, from_=self.number, body=body, **kwargs).sid
        return sid

    def status(self, sid: str) -> tuple[str, int | None]:
        message = self.client.messages(sid).fetch()
        return message.status, message.error_code

    def final(self, sid: str, timeout_s: float = 15.0) -> tuple[str, int | None]:
        return eventually(
            lambda: self.status(sid),
            until=lambda s: s[0] in FINAL,
            timeout_s=timeout_s,
            what=f"{sid} final",
        )

    def record(self, sid: str) -> dict[str, Any]:
        return self.control.carrier_record(sid)


@pytest.fixture
def gateway_for(
    isolated_server: Callable[..., TextrelayServer], smsc: ScriptedSmsc, tmp_path: Path
) -> Iterator[Callable[..., Gateway]]:
    """Start a server whose only route is the scripted SMSC (carrier keys as arguments)."""
    started: list[Gateway] = []

    def start(**carrier: Any) -> Gateway:
        path = carriers_file(tmp_path / "carriers.toml", smsc, **carrier)
        gateway = Gateway(isolated_server(carriers=str(path)), smsc)
        started.append(gateway)
        smsc.wait_for("bind", lambda e: bool(e.get("accepted")), timeout_s=10)
        return gateway

    yield start
    for gateway in started:
        gateway.close()


def _submits(smsc: ScriptedSmsc, destination: str) -> list[dict[str, Any]]:
    return [e for e in smsc.events("submit_sm") if e.get("destination_addr") == destination]


def test_a_message_goes_out_as_submit_sm_and_its_receipt_delivers_it(
    gateway_for: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = gateway_for()
    gateway.smsc.configure(auto_receipt="DELIVRD")
    sid = gateway.send(to="+14155550101", body="hello over SMPP", status_callback=receiver.url())
    assert gateway.final(sid) == ("delivered", None)
    [submit] = _submits(gateway.smsc, "14155550101")
    assert submit["source_addr"] == gateway.number.removeprefix("+")
    assert (submit["source_addr_ton"], submit["source_addr_npi"]) == (1, 1)
    assert (submit["dest_addr_ton"], submit["dest_addr_npi"]) == (1, 1)
    assert submit["registered_delivery"] & 1 == 1
    assert submit["data_coding"] == 0
    assert bytes.fromhex(submit["short_message"]) == b"hello over SMPP"
    # Relative (YYMMDDhhmmss000R): what is left of Twilio's default 36,000 s.
    validity = submit["validity_period"]
    assert validity.endswith("000R")
    assert validity[:6] == "000000"
    left_s = int(validity[6:8]) * 3600 + int(validity[8:10]) * 60 + int(validity[10:12])
    assert 35_990 <= left_s <= 36_000
    assert receiver.statuses(sid, count=2) == ["sent", "delivered"]
    assert all(r.valid_for(gateway.account.auth_token) for r in receiver.for_message(sid))
    record = gateway.record(sid)
    assert record["carrier"] == "smsc1"
    [reference] = record["references"]
    assert reference["reference"] == submit["message_id"]
    assert reference["receipt_status"] == "delivered"
    commands = [pdu["command"] for pdu in record["exchanged"]]
    # The receipt often overtakes the submit's answer (the SMSC sends it at once): it is
    # logged when it comes, which may be before the submit is.
    assert sorted(commands) == ["deliver_sm", "submit_sm", "submit_sm_resp"]


def test_a_long_unicode_message_goes_in_parts_and_is_delivered_when_every_part_is(
    gateway_for: Callable[..., Gateway],
) -> None:
    gateway = gateway_for()
    body = "Grüße aus Zürich ✈️ " * 5  # UCS-2 (the emoji), 100 characters: two parts of 67
    sid = gateway.send(to="+14155550102", body=body)
    submits = eventually(
        lambda: _submits(gateway.smsc, "14155550102"),
        until=lambda found: len(found) == 2,
        what="two submit_sm",
    )
    assert {s["data_coding"] for s in submits} == {8}
    assert all(s["esm_class"] & 0x40 for s in submits)
    udhs = [bytes.fromhex(s["short_message"])[:6] for s in submits]
    assert [u[:3] for u in udhs] == [b"\x05\x00\x03"] * 2
    assert [(u[4], u[5]) for u in udhs] == [(2, 1), (2, 2)]
    assert [u[3] for u in udhs] == [int(sid[-2:], 16)] * 2  # the reference, from the SID
    text = b"".join(bytes.fromhex(s["short_message"])[6:] for s in submits).decode("utf-16-be")
    assert text == body
    first, second = (s["message_id"] for s in submits)
    gateway.smsc.receipt(first, stat="DELIVRD")
    eventually(
        lambda: gateway.record(sid)["references"][0]["receipt_status"],
        until=lambda status: status == "delivered",
        what="the first part's receipt recorded",
    )
    assert gateway.status(sid)[0] == "sent"  # one part of two is not the message
    gateway.smsc.receipt(second, stat="DELIVRD")
    assert gateway.final(sid) == ("delivered", None)


def test_a_receipt_that_overtakes_the_submit_answer_still_finds_its_message(
    gateway_for: Callable[..., Gateway],
) -> None:
    gateway = gateway_for()
    gateway.smsc.configure(
        auto_receipt="DELIVRD", receipt_first=True, answer_delay_ms=300, duplicate_receipts=True
    )
    sids = [gateway.send(to=f"+1415555011{n}", body=f"early {n}") for n in range(3)]
    assert [gateway.final(sid)[0] for sid in sids] == ["delivered"] * 3


def test_a_receipt_applies_once_and_a_later_one_changes_nothing(
    gateway_for: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = gateway_for()
    sid = gateway.send(to="+14155550125", status_callback=receiver.url())
    [submit] = gateway.smsc.wait_for(
        "submit_sm", lambda e: e.get("destination_addr") == "14155550125"
    )
    gateway.smsc.receipt(submit["message_id"], stat="UNDELIV", err=1)
    assert gateway.final(sid) == ("undelivered", 30003)
    # The same receipt again, then one that says otherwise: the message stays as it ended.
    gateway.smsc.receipt(submit["message_id"], stat="UNDELIV", err=1)
    gateway.smsc.receipt(submit["message_id"], stat="DELIVRD")
    gateway.smsc.wait_for("deliver_sm_resp", count=3)
    assert gateway.status(sid) == ("undelivered", 30003)
    assert receiver.statuses(sid, count=2) == ["sent", "undelivered"]
    gateway.control.wait_idle(sid, timeout_s=5)
    assert [r.params["MessageStatus"] for r in receiver.for_message(sid)] == ["sent", "undelivered"]


@pytest.mark.parametrize(
    ("stat", "err", "expected"),
    [
        ("UNDELIV", 1, ("undelivered", 30003)),
        ("EXPIRED", 0, ("undelivered", 30036)),
        ("REJECTD", 0, ("undelivered", 30007)),
    ],
)
def test_a_failure_receipt_sets_the_twilio_status_and_code(
    gateway_for: Callable[..., Gateway],
    stat: str,
    err: int,
    expected: tuple[str, int],
) -> None:
    gateway = gateway_for()
    gateway.smsc.configure(auto_receipt=stat, receipt_err=err)
    sid = gateway.send(to="+14155550120")
    assert gateway.final(sid) == expected


def test_a_refused_destination_fails_the_message_with_30005(
    gateway_for: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = gateway_for()
    gateway.smsc.configure(submit=0x0B)
    sid = gateway.send(to="+14155550130", status_callback=receiver.url())
    assert gateway.final(sid) == ("failed", 30005)
    assert receiver.statuses(sid, count=1) == ["failed"]


def test_a_throttling_smsc_slows_textrelay_down_without_failing_messages(
    gateway_for: Callable[..., Gateway],
) -> None:
    gateway = gateway_for()
    gateway.smsc.configure(submit=[0x58, 0x58, 0x14], auto_receipt="DELIVRD")
    sid = gateway.send(to="+14155550140")
    assert gateway.final(sid) == ("delivered", None)
    statuses = [s["command_status"] for s in _submits(gateway.smsc, "14155550140")]
    assert statuses == [0x58, 0x58, 0x14, 0]


def test_unknown_and_garbled_receipts_and_bad_pdus_do_not_stop_the_carrier(
    gateway_for: Callable[..., Gateway],
) -> None:
    gateway = gateway_for()
    gateway.smsc.receipt("ffffffff", stat="DELIVRD")  # an id textrelay never saw
    gateway.smsc.receipt(short_message="this is not a receipt at all", tlvs=False)
    gateway.smsc.raw(bytes.fromhex("00000010000000ff0000000000000007"))  # unknown command id
    gateway.smsc.raw(bytes.fromhex("0000000c"))  # a header cut short
    gateway.smsc.configure(auto_receipt="DELIVRD")
    sid = gateway.send(to="+14155550150")
    assert gateway.final(sid, timeout_s=20) == ("delivered", None)


def test_a_dropped_connection_mid_window_loses_no_message(
    gateway_for: Callable[..., Gateway],
) -> None:
    gateway = gateway_for(window=5)
    gateway.smsc.configure(answer_delay_ms=400, auto_receipt="DELIVRD")
    sids = [gateway.send(to=f"+141555502{n:02d}", body=f"m{n}") for n in range(12)]
    gateway.smsc.wait_for("submit_sm", count=3)
    gateway.smsc.drop()
    outcomes = [gateway.final(sid, timeout_s=30)[0] for sid in sids]
    assert outcomes == ["delivered"] * len(sids)


def test_a_handset_texts_in_and_the_twiml_reply_goes_out_and_is_delivered(
    gateway_for: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = gateway_for()
    gateway.smsc.configure(auto_receipt="DELIVRD")
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f'<Message statusCallback="{receiver.url("/reply-status")}">Got it</Message></Response>'
    )
    webhook = receiver.answer("/sms", twiml)
    gateway.client.incoming_phone_numbers.list()[0].update(sms_url=webhook)
    handset = "14155550160"
    gateway.smsc.mo(handset, gateway.number.removeprefix("+"), "Hi there")
    receiver.wait_for(lambda rs: any(r.path == "/sms" for r in rs))
    [inbound] = receiver.to_path("/sms")
    assert inbound.params["From"] == "+" + handset
    assert inbound.params["To"] == gateway.number
    assert inbound.params["Body"] == "Hi there"
    assert inbound.valid_for(gateway.account.auth_token)
    [reply] = eventually(
        lambda: _submits(gateway.smsc, handset), until=lambda found: len(found) == 1
    )
    assert bytes.fromhex(reply["short_message"]) == b"Got it"
    callbacks = receiver.wait_for(
        lambda rs: any(
            r.path == "/reply-status" and r.params.get("MessageStatus") == "delivered" for r in rs
        )
    )
    assert all(r.valid_for(gateway.account.auth_token) for r in callbacks if r.path != "/sms")


def test_a_long_handset_message_is_reassembled_from_its_parts(
    gateway_for: Callable[..., Gateway], receiver: Receiver
) -> None:
    gateway = gateway_for()
    gateway.client.incoming_phone_numbers.list()[0].update(sms_url=receiver.url("/sms"))
    text = "".join(f"part {n} of a long message; " for n in range(12))  # ~300 chars, 2 parts
    gateway.smsc.mo("14155550170", gateway.number.removeprefix("+"), text, split=3, reverse=True)
    receiver.wait_for(lambda rs: len([r for r in rs if r.path == "/sms"]) == 1)
    [inbound] = receiver.to_path("/sms")
    assert inbound.params["Body"] == text
    gateway.smsc.mo(
        "14155550171", gateway.number.removeprefix("+"), "abc " * 40, split=2, concat="sar"
    )
    receiver.wait_for(lambda rs: len([r for r in rs if r.path == "/sms"]) == 2)
    assert receiver.to_path("/sms")[1].params["Body"] == "abc " * 40


def test_a_long_handset_message_missing_a_part_arrives_with_30009(
    gateway_for: Callable[..., Gateway],
) -> None:
    gateway = gateway_for(mo_reassembly_timeout_s=1)
    gateway.smsc.mo("14155550180", gateway.number.removeprefix("+"), "x" * 300, split=3, omit=[2])
    [message] = eventually(
        lambda: gateway.client.messages.list(to=gateway.number),
        until=lambda found: len(found) == 1,
        timeout_s=15,
        what="the incomplete message",
    )
    assert message.error_code == 30009
    assert message.body == "x" * 200


def test_stop_from_a_handset_opts_out_and_is_answered_over_smpp(
    gateway_for: Callable[..., Gateway],
) -> None:
    gateway = gateway_for()
    handset = "14155550190"
    gateway.smsc.mo(handset, gateway.number.removeprefix("+"), "STOP")
    [answer] = eventually(
        lambda: _submits(gateway.smsc, handset), until=lambda found: len(found) == 1
    )
    assert b"unsubscribed" in bytes.fromhex(answer["short_message"])
    with pytest.raises(TwilioRestException) as refused:
        gateway.client.messages.create(to="+" + handset, from_=gateway.number, body="again")
    assert refused.value.code == 21610


def test_a_refused_bind_is_shown_and_messages_wait_for_the_carrier(
    isolated_server: Callable[..., TextrelayServer], smsc: ScriptedSmsc, tmp_path: Path
) -> None:
    smsc.configure(accounts={"textrelay": "other"})
    path = carriers_file(tmp_path / "carriers.toml", smsc)
    gateway = Gateway(isolated_server(carriers=str(path)), smsc)
    smsc.wait_for("bind", lambda e: not e.get("accepted"), timeout_s=10)
    sid = gateway.send(to="+14155550199")
    carriers = eventually(
        gateway.operator.carriers,
        until=lambda found: any(
            c["name"] == "smsc1" and c["binds"][0]["last_error"] for c in found
        ),
        what="the bind's error shown",
    )
    smsc1 = next(c for c in carriers if c["name"] == "smsc1")
    assert not smsc1["up"]
    assert gateway.status(sid)[0] == "queued"
    smsc.configure(accounts=None, auto_receipt="DELIVRD")
    assert gateway.final(sid, timeout_s=20) == ("delivered", None)
    gateway.close()


def _console_login(server: TextrelayServer, account: Account) -> httpx.Client:
    browser = httpx.Client(base_url=server.base_url)
    answer = sign_in(browser, account.sid, account.auth_token)
    assert answer.status_code == 303, answer.text
    return browser


def test_the_console_shows_a_messages_pdus_and_the_operator_sees_the_binds(
    gateway_for: Callable[..., Gateway],
) -> None:
    gateway = gateway_for()
    gateway.smsc.configure(auto_receipt="DELIVRD")
    sid = gateway.send(to="+14155550200", body="shown in the console")
    gateway.final(sid)
    browser = _console_login(gateway.server, gateway.account)
    try:
        page = browser.get(f"/console/messages/{sid}")
        assert page.status_code == 200
        assert "Carrier: smsc1" in page.text
        for command in ("submit_sm", "submit_sm_resp", "deliver_sm"):
            assert f"<strong>{command}</strong>" in page.text
        assert browser.get("/console/carriers").status_code == 403  # server-wide state
        assert 'href="/console/carriers"' not in page.text  # nor offered in the nav
    finally:
        browser.close()
    with httpx.Client(base_url=gateway.server.base_url) as operator:
        operator.get(gateway.server.console_url)
        page = operator.get("/console/carriers")
        assert page.status_code == 200
        assert "smsc1#1" in page.text
        assert "unbound" not in page.text
        assert 'href="/console/carriers"' in operator.get("/console/").text


def test_textrelay_carriers_prints_each_bind(gateway_for: Callable[..., Gateway]) -> None:
    gateway = gateway_for()
    main = gateway.server.main_account
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "textrelay",
            "carriers",
            "--url",
            gateway.server.base_url,
            "--account-sid",
            main.sid,
        ],
        env={**os.environ, "TEXTRELAY_AUTH_TOKEN": main.auth_token},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "smsc1#1" in shown.stdout
    assert "bound" in shown.stdout
