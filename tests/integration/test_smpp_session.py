"""textrelay's SMPP session (carriers/smpp/session.py) against the scripted SMSC: binds and
their refusals, submits and their answers, deliver_sm answered only when the caller says,
keep-alives both ways, what it cannot read, and the ends of a session."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import pytest

from tests.smsc_driver import ScriptedSmsc
from textrelay.carriers.smpp.bind import BindSettings, SmppBind
from textrelay.carriers.smpp.session import (
    ESME_RINVCMDID,
    ESME_RX_T_APPN,
    BindRefused,
    Delivery,
    EsmeSession,
    SessionClosed,
    SessionSettings,
    open_session,
)

T = TypeVar("T")
SYSTEM_ID, PASSWORD = "esme", "pw"
HANDSET, SENDER = "15551234567", "15550001111"
STEP_S = 5.0


@pytest.fixture
def smsc() -> Iterator[ScriptedSmsc]:
    with ScriptedSmsc() as scripted:
        scripted.configure(accounts={SYSTEM_ID: PASSWORD})
        yield scripted


def run(scenario: Coroutine[Any, Any, T]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(30):
            return await scenario

    return asyncio.run(bounded())


def settings(smsc: ScriptedSmsc, **overrides: Any) -> SessionSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": smsc.port,
        "system_id": SYSTEM_ID,
        "password": PASSWORD,
        "system_type": "",
        "tls": False,
        "response_timeout_s": STEP_S,
        "enquire_link_s": 30.0,
    }
    values.update(overrides)
    return SessionSettings(**values)


async def bound(smsc: ScriptedSmsc, **overrides: Any) -> EsmeSession:
    return await open_session(settings(smsc, **overrides), "TRX")


async def in_thread(call: Any, *args: Any, **kwargs: Any) -> Any:
    """A blocking call of the SMSC's driver, off the event loop the session runs on."""
    return await asyncio.to_thread(call, *args, **kwargs)


def test_a_wrong_password_is_a_refusal_with_its_status_not_a_timeout(
    smsc: ScriptedSmsc,
) -> None:
    async def scenario() -> int:
        with pytest.raises(BindRefused) as refused:
            await bound(smsc, password="wrong")
        return refused.value.status

    assert run(scenario()) == 0x0E  # ESME_RINVPASWD
    # The driver reads the SMSC's events on a thread of its own: wait for them, never peek.
    [bind] = smsc.wait_for("bind")
    assert (bind["kind"], bind["accepted"]) == ("transceiver", False)


def test_a_submit_answers_the_smscs_status_and_message_id(smsc: ScriptedSmsc) -> None:
    smsc.configure(submit=[0x0B])  # the first refused (ESME_RINVDSTADR), then accepted

    async def scenario() -> list[tuple[int, str | None]]:
        session = await bound(smsc)
        fields = {"source_addr": SENDER, "source_addr_ton": 1, "source_addr_npi": 1}
        answers = [
            await session.submit_sm(HANDSET, b"first", **dict(fields)),
            await session.submit_sm(HANDSET, b"second", **dict(fields)),
        ]
        await session.unbind(STEP_S)
        return answers

    refused, accepted = run(scenario())
    assert refused == (0x0B, None)
    assert accepted[0] == 0
    assert accepted[1]
    submits = smsc.wait_for("submit_sm", count=2)
    assert [bytes.fromhex(s["short_message"]) for s in submits] == [b"first", b"second"]
    assert submits[1]["message_id"] == accepted[1]
    assert smsc.wait_for("unbind")


def test_a_deliver_sm_is_answered_only_when_acknowledged_and_with_the_status_given(
    smsc: ScriptedSmsc,
) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], list[str]]:
        session = await bound(smsc)
        await in_thread(smsc.mo, HANDSET, SENDER, "hello")
        await in_thread(smsc.mo, HANDSET, SENDER, "again")
        received: list[Delivery] = []
        while len(received) < 2:
            received += await session.deliveries(10)
        await asyncio.sleep(0.3)  # an answer written now would have reached the SMSC
        unanswered = smsc.events("deliver_sm_resp")
        session.acknowledge(received[0])
        session.acknowledge(received[1], ESME_RX_T_APPN)
        await in_thread(smsc.wait_for, "deliver_sm_resp", count=2, timeout_s=STEP_S)
        await session.unbind(STEP_S)
        return unanswered, [bytes(d.pdu.short_message).decode() for d in received]

    unanswered, texts = run(scenario())
    assert unanswered == []
    assert texts == ["hello", "again"]
    statuses = [e["command_status"] for e in smsc.events("deliver_sm_resp")]
    assert statuses == [0, ESME_RX_T_APPN]


def test_unknown_commands_get_a_generic_nack_and_the_session_goes_on(smsc: ScriptedSmsc) -> None:
    async def scenario() -> tuple[int, str | None]:
        session = await bound(smsc)
        await in_thread(smsc.raw, bytes.fromhex("00000010000000ff0000000000000007"))
        await in_thread(smsc.wait_for, "generic_nack", timeout_s=STEP_S)
        answer = await session.submit_sm(HANDSET, b"still here", source_addr=SENDER)
        await session.unbind(STEP_S)
        return answer

    status, message_id = run(scenario())
    assert (status, bool(message_id)) == (0, True)
    [nack] = smsc.events("generic_nack")
    assert (nack["sequence_number"], nack["command_status"]) == (7, ESME_RINVCMDID)


def test_keep_alives_go_out_and_a_lost_framing_ends_the_session(smsc: ScriptedSmsc) -> None:
    async def scenario() -> tuple[str, list[Any]]:
        session = await bound(smsc, enquire_link_s=0.1)
        await in_thread(smsc.wait_for, "enquire_link", count=2, timeout_s=STEP_S)
        await in_thread(smsc.raw, bytes.fromhex("0000000c"))  # command_length under a header
        reason = await asyncio.wait_for(session.closed, STEP_S)
        return reason, list(await session.deliveries(10))

    reason, deliveries = run(scenario())
    assert reason == "framing lost"
    assert deliveries == []


def test_a_dropped_connection_fails_the_submits_waiting_for_an_answer(
    smsc: ScriptedSmsc,
) -> None:
    smsc.configure(answer_delay_ms=2000)

    async def scenario() -> tuple[BaseException | None, str]:
        session = await bound(smsc)
        waiting = asyncio.ensure_future(session.submit_sm(HANDSET, b"lost", source_addr=SENDER))
        await in_thread(smsc.wait_for, "submit_sm", timeout_s=STEP_S)
        await in_thread(smsc.drop)
        error = None
        try:
            await asyncio.wait_for(waiting, STEP_S)
        except SessionClosed as exc:
            error = exc
        return error, await session.closed

    error, reason = run(scenario())
    assert isinstance(error, SessionClosed)
    assert reason == "connection closed by the SMSC"


def test_a_bind_answers_what_it_could_not_store_so_the_smsc_delivers_it_again(
    smsc: ScriptedSmsc,
) -> None:
    """The bind around the session: a deliver_sm the carrier could not store (its database
    is down) is answered ESME_RX_T_APPN, one it stored ESME_ROK."""
    stored_flags = iter([[False], [True]])

    async def events(batch: Sequence[Any]) -> Sequence[bool]:
        return next(stored_flags)

    async def scenario() -> None:
        bind = SmppBind("smsc#1", "TRX", bind_settings(smsc), events)
        bind.start()
        try:
            assert await bind.wait_bound(STEP_S)
            await in_thread(smsc.mo, HANDSET, SENDER, "not stored")
            await in_thread(smsc.wait_for, "deliver_sm_resp", timeout_s=STEP_S)
            await in_thread(smsc.mo, HANDSET, SENDER, "stored")
            await in_thread(smsc.wait_for, "deliver_sm_resp", count=2, timeout_s=STEP_S)
        finally:
            await bind.stop()

    run(scenario())
    statuses = [e["command_status"] for e in smsc.events("deliver_sm_resp")]
    assert statuses == [ESME_RX_T_APPN, 0]
    assert smsc.wait_for("unbind")


def bind_settings(smsc: ScriptedSmsc) -> BindSettings:
    return BindSettings(
        session=settings(smsc),
        window=10,
        rate_per_s=0,
        reconnect_min_s=0.1,
        reconnect_max_s=1.0,
    )
