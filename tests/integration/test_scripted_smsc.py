"""The test SMSC (tests/smsc, driven by tests/smsc_driver.py) does what SMPP tests rely on.

Pinned with the `smpp34` client, so that a carrier test that fails points at the carrier, not at
its SMSC. Each scenario runs on its own SMSC and within a few seconds.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import smpp34

from tests.smsc_driver import ScriptedSmsc

T = TypeVar("T")
HANDSET = "15551234567"
SENDER = "15550001111"
SYSTEM_ID, PASSWORD = "esme", "pw"
STEP_S = 5.0
RECEIPT_TEXT = re.compile(
    r"id:(\w+) sub:001 dlvrd:00[01] submit date:\d{10} done date:\d{10} stat:(\w+) err:(\d{3}) "
    r"text:(.*)"
)


@pytest.fixture
def smsc() -> Iterator[ScriptedSmsc]:
    with ScriptedSmsc() as scripted:
        yield scripted


def run(scenario: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(scenario)


async def within(step: Awaitable[T]) -> T:
    return await asyncio.wait_for(step, STEP_S)


async def bind(
    smsc: ScriptedSmsc, system_id: str = SYSTEM_ID, password: str = PASSWORD
) -> smpp34.Smsc:
    client = smpp34.Client(
        "127.0.0.1", smsc.port, system_id, password, bind_type="TRX", connect_timeout_ms=1000
    )
    return await within(client.connect())


async def submit(esme: smpp34.Smsc, text: bytes, *, receipt: bool = False) -> smpp34.SubmitSmResp:
    return await esme.submit_sm(
        HANDSET, text, source_addr=SENDER, registered_delivery=1 if receipt else 0
    )


async def next_deliver(esme: smpp34.Smsc) -> smpp34.DeliverSmEvent:
    event = await within(esme.next())
    assert isinstance(event, smpp34.DeliverSmEvent), event
    return event


def tlvs(event: smpp34.DeliverSmEvent) -> dict[int, bytes]:
    return {tlv.tag: tlv.value for tlv in event.tlvs}


def test_binds_are_accepted_or_refused_by_the_accounts_configured(smsc: ScriptedSmsc) -> None:
    smsc.configure(accounts={SYSTEM_ID: PASSWORD})

    async def scenario() -> None:
        await (await bind(smsc)).unbind()
        for system_id, password in ((SYSTEM_ID, "wrong"), ("stranger", PASSWORD)):
            # smpp34 reports a refused bind as a bind timeout, whatever the status.
            with pytest.raises(smpp34.SmppError):
                await bind(smsc, system_id, password)

    run(scenario())
    binds = smsc.wait_for("bind", count=3)
    assert [(b["system_id"], b["accepted"], b["command_status"]) for b in binds] == [
        (SYSTEM_ID, True, 0),
        (SYSTEM_ID, False, 0x0E),
        ("stranger", False, 0x0D),
    ]
    assert binds[0]["kind"] == "transceiver"


def test_submits_are_answered_as_scripted(smsc: ScriptedSmsc) -> None:
    async def scenario() -> list[tuple[str | None, int]]:
        esme = await bind(smsc)
        answers = []
        for script in ([0x58, 0x14], 0x0B):
            smsc.configure(submit=script)
            for _ in range(3):
                r = await within(submit(esme, b"hi"))
                answers.append((r.message_id, r.command_status))
        smsc.configure(submit="no_answer")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(submit(esme, b"hi"), 0.5)
        return answers

    assert run(scenario()) == [(None, 0x58), (None, 0x14), ("a0000001", 0)] + [(None, 0x0B)] * 3
    [first, *_, last] = smsc.wait_for("submit_sm", count=7)
    assert first["destination_addr"] == HANDSET
    assert first["source_addr"] == SENDER
    assert first["short_message"] == b"hi".hex()
    assert last["answer"] == "no_answer"


def test_automatic_receipts_follow_the_submit_or_precede_its_answer(smsc: ScriptedSmsc) -> None:
    smsc.configure(auto_receipt="UNDELIV", receipt_err=1)

    async def scenario() -> None:
        esme = await bind(smsc)
        r = await within(submit(esme, b"hello", receipt=True))
        receipt = await next_deliver(esme)
        assert receipt.esm_class == 0x04
        assert (receipt.source_addr, receipt.destination_addr) == (HANDSET, SENDER)
        match = RECEIPT_TEXT.fullmatch(receipt.short_message.decode())
        assert match is not None
        assert match.groups() == (r.message_id, "UNDELIV", "001", "hello")
        assert tlvs(receipt) == {0x001E: f"{r.message_id}\0".encode(), 0x0427: bytes([5])}

        smsc.configure(receipt_first=True, duplicate_receipts=True, answer_delay_ms=300)
        answer = asyncio.ensure_future(submit(esme, b"again", receipt=True))
        first, second = await next_deliver(esme), await next_deliver(esme)
        assert not answer.done()  # both receipts came before the submit_sm_resp
        assert first.short_message == second.short_message
        assert tlvs(first)[0x001E] == f"{(await within(answer)).message_id}\0".encode()

    run(scenario())


def test_receipts_on_demand_for_any_id_and_any_text(smsc: ScriptedSmsc) -> None:
    async def scenario() -> None:
        esme = await bind(smsc)
        smsc.receipt("ffff0000", stat="EXPIRED")
        expired = await next_deliver(esme)
        assert b"id:ffff0000 " in expired.short_message
        assert b" stat:EXPIRED " in expired.short_message
        assert tlvs(expired)[0x0427] == bytes([3])
        smsc.receipt(short_message=b"\x00not a receipt\xff", tlvs=False)
        garbage = await next_deliver(esme)
        assert garbage.short_message == b"\x00not a receipt\xff"
        assert (garbage.esm_class, garbage.tlvs) == (0x04, [])

    run(scenario())


def test_mobile_originated_messages_single_and_concatenated(smsc: ScriptedSmsc) -> None:
    async def scenario() -> None:
        esme = await bind(smsc)
        smsc.mo(HANDSET, SENDER, "@£ ok €")  # GSM-7 unpacked, € by the escape 0x1B
        gsm = await next_deliver(esme)
        assert (gsm.data_coding, gsm.short_message) == (0, bytes.fromhex("00 01 20 6f 6b 20 1b 65"))
        smsc.mo(HANDSET, SENDER, "日本 😀")
        ucs2 = await next_deliver(esme)
        assert (ucs2.data_coding, ucs2.short_message) == (8, "日本 😀".encode("utf-16-be"))
        assert (ucs2.source_addr, ucs2.destination_addr, ucs2.esm_class) == (HANDSET, SENDER, 0)

        smsc.mo(HANDSET, SENDER, "aaaabbbbcccc", split=3, omit=[2], ref=7)
        parts = [await next_deliver(esme), await next_deliver(esme)]
        assert [(p.esm_class, p.short_message) for p in parts] == [
            (0x40, bytes([5, 0, 3, 7, 3, 1]) + b"aaaa"),
            (0x40, bytes([5, 0, 3, 7, 3, 3]) + b"cccc"),
        ]
        smsc.mo(HANDSET, SENDER, "second", total=2, seq=2, ref=300, concat="sar")
        sar = await next_deliver(esme)
        assert (sar.esm_class, sar.short_message) == (0, b"second")
        assert tlvs(sar) == {0x020C: (300).to_bytes(2, "big"), 0x020E: b"\2", 0x020F: b"\2"}

    run(scenario())
    assert smsc.stats()["mos_sent"] == 5


def test_deliveries_wait_for_a_bind_and_connections_can_be_dropped(smsc: ScriptedSmsc) -> None:
    assert smsc.mo(HANDSET, SENDER, "while you were away")["queued"] == 1

    async def scenario() -> None:
        esme = await bind(smsc)
        assert (await next_deliver(esme)).short_message == b"while you were away"
        smsc.raw(bytes.fromhex("00000010 000001ff 00000000 00000007"))  # an unknown command id
        [nack] = smsc.wait_for("generic_nack")
        assert (nack["sequence_number"], nack["command_status"]) == (7, 0x03)
        smsc.drop()
        assert isinstance(await within(esme.next()), smpp34.Disconnected)

    run(scenario())
    smsc.wait_for("close")
    assert smsc.stats()["sessions_open"] == 0
