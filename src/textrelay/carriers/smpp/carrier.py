"""The SMPP carrier: an SMSC reached over one or more binds (docs/carriers.md).

A message becomes one submit_sm per segment (or one with message_payload), on the bound
connection with the fewest submits in flight. A busy SMSC (ESME_RTHROTTLED, ESME_RMSGQFUL) is
answered by slowing that bind down and trying again, not by failing the message. What comes
back, on any bind, goes to the sink: receipts by the SMSC's message id, handsets' messages by
the number they were sent to.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import smpp34

from textrelay.carriers.config import BindType, SmppCarrierConfig
from textrelay.carriers.smpp.bind import BindSettings, SmppBind, SubmitResult
from textrelay.carriers.smpp.session import SessionSettings
from textrelay.domain import codes
from textrelay.domain.carriers import (
    Accepted,
    CarrierSink,
    CarrierState,
    Direction,
    ExchangedPdu,
    MobileOriginated,
    Receipt,
    Rejected,
    SubmitAnswer,
)
from textrelay.domain.messages import DEFAULT_VALIDITY_PERIOD_S, Message
from textrelay.domain.smpp.addresses import (
    NotAnSmsAddress,
    inbound_address,
    outbound_destination,
    outbound_source,
)
from textrelay.domain.smpp.encoding import (
    TAG_MESSAGE_PAYLOAD,
    decode_short_message,
    decode_text,
    sar_concatenation,
    split_for_submit,
)
from textrelay.domain.smpp.receipts import is_mobile_originated, is_receipt, receipt_from_fields
from textrelay.domain.smpp.status_codes import name_of, submit_outcome
from textrelay.domain.smpp.validity import relative_validity

log = logging.getLogger(__name__)

_FIRST_PAUSE_S = 0.2
_LONGEST_PAUSE_S = 5.0


class SmppCarrier:
    def __init__(self, config: SmppCarrierConfig) -> None:
        self._config = config
        self._sink: CarrierSink | None = None
        settings = BindSettings(
            session=SessionSettings(
                host=config.host,
                port=config.port,
                system_id=config.system_id,
                password=config.password,
                system_type=config.system_type,
                tls=config.tls,
                response_timeout_s=config.response_timeout_s,
                enquire_link_s=config.enquire_link_s,
            ),
            window=config.window,
            rate_per_s=config.rate_per_s,
            reconnect_min_s=config.reconnect_min_s,
            reconnect_max_s=config.reconnect_max_s,
        )
        self._binds: list[SmppBind] = []
        for n in range(config.first_bind, config.first_bind + config.binds):
            if config.bind_type is BindType.TRANSCEIVER:
                self._binds.append(SmppBind(f"{config.name}#{n}", "TRX", settings, self._events))
            else:
                self._binds.append(SmppBind(f"{config.name}#{n}tx", "TX", settings, self._events))
                self._binds.append(SmppBind(f"{config.name}#{n}rx", "RX", settings, self._events))
        self.counters: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return self._config.name

    async def open(self, sink: CarrierSink) -> None:
        self._sink = sink
        for bind in self._binds:
            bind.start()

    async def close(self) -> None:
        await asyncio.gather(*(bind.stop() for bind in self._binds))

    def state(self) -> CarrierState:
        return CarrierState(
            self._config.name,
            "smpp",
            tuple(bind.state() for bind in self._binds),
            dict(self.counters),
        )

    async def wait_bound(self, timeout_s: float) -> bool:
        """Tests and start-up: wait until every bind is bound (or the time is up)."""
        results = await asyncio.gather(*(b.wait_bound(timeout_s) for b in self._binds))
        return all(results)

    # --- outbound --------------------------------------------------------------------------

    async def submit(self, message: Message) -> SubmitAnswer:
        try:
            source = outbound_source(
                message.from_ or "", short_code_ton=self._config.short_code_ton
            )
            destination = outbound_destination(message.to)
        except NotAnSmsAddress as exc:
            return Rejected(codes.UNKNOWN_ERROR.code, f"not an SMS address: {exc}")
        parts = split_for_submit(
            message.body,
            # From the SID (random): a counter of each process's would give two serving
            # processes (or one restarted) the same references in step, and a handset joins
            # the parts of two messages from one sender by their reference alone. A message
            # submitted again keeps its reference.
            reference=int(message.sid[-4:], 16),
            mode=self._config.long_messages,
        )
        common: dict[str, Any] = {
            "source_addr": source.digits,
            "source_addr_ton": (
                self._config.source_ton if self._config.source_ton is not None else source.ton
            ),
            "source_addr_npi": (
                self._config.source_npi if self._config.source_npi is not None else source.npi
            ),
            "dest_addr_ton": destination.ton,
            "dest_addr_npi": destination.npi,
            "registered_delivery": 1 if self._config.registered_delivery else 0,
            "validity_period": relative_validity(_validity_left_s(message)),
            "service_type": self._config.service_type,
        }
        references: list[str] = []
        exchanged: list[ExchangedPdu] = []
        for part in parts:
            fields = dict(common, esm_class=part.esm_class, data_coding=part.data_coding)
            tlvs = [smpp34.Tlv(tag, value) for tag, value in part.tlvs]
            if tlvs:
                fields["tlvs"] = tlvs
            answer = await self._submit_part(destination.digits, part.short_message, fields)
            if answer.sent:
                exchanged.append(
                    _sent_pdu(destination.digits, part.short_message, fields, part.tlvs)
                )
                exchanged.append(_response_pdu(answer))
            if answer.command_status == 0 and answer.message_id:
                references.append(answer.message_id)
                continue
            self.counters["rejected"] += 1
            return _refusal(answer, tuple(exchanged))
        self.counters["submitted"] += 1
        return Accepted(tuple(references), exchanged=tuple(exchanged))

    async def _submit_part(
        self, destination: str, short_message: bytes, fields: dict[str, Any]
    ) -> SubmitResult:
        """Submit one part, waiting out a busy SMSC for up to the response timeout."""
        pause = _FIRST_PAUSE_S
        waited = 0.0
        while True:
            bind = self._least_busy()
            if bind is None:
                return SubmitResult(None, error="no bind is bound", sent=False)
            answer = await bind.submit_sm(destination, short_message, **fields)
            if answer.command_status is None or answer.command_status == 0:
                return answer
            refusal = submit_outcome(answer.command_status)
            if not refusal.slow_down or waited >= self._config.response_timeout_s:
                return answer
            self.counters["throttled"] += 1
            await bind.slow_down(pause)
            waited += pause
            pause = min(pause * 2, _LONGEST_PAUSE_S)

    def _least_busy(self) -> SmppBind | None:
        bound = [bind for bind in self._binds if bind.bound and bind.sends]
        return min(bound, key=lambda bind: bind.in_flight) if bound else None

    # --- inbound ---------------------------------------------------------------------------

    async def _events(self, events: Sequence[Any]) -> list[bool]:
        """deliver_sm that came together on one bind: their receipts in one call to the sink,
        handsets' messages each on its own, all at once. Whether each was stored (one that
        says nothing textrelay keeps, as a garbled receipt, counts as stored)."""
        sink = self._sink
        if sink is None:
            return [False] * len(events)
        receipts: list[tuple[int, Receipt]] = []
        handsets: list[tuple[int, MobileOriginated]] = []
        for n, event in enumerate(events):
            self._read_event(n, event, receipts, handsets)
        work = [sink.mobile_originated(self.name, message) for _, message in handsets]
        owners = [[n] for n, _ in handsets]
        if receipts:
            work.append(sink.receipts(self.name, [receipt for _, receipt in receipts]))
            owners.append([n for n, _ in receipts])
        stored = [True] * len(events)
        outcomes = await asyncio.gather(*work, return_exceptions=True)
        for indexes, outcome in zip(owners, outcomes, strict=True):
            if isinstance(outcome, Exception):
                log.error("%s: deliver_sm not stored", self.name, exc_info=outcome)
                for n in indexes:
                    stored[n] = False
        return stored

    def _read_event(
        self,
        n: int,
        event: Any,
        receipts: list[tuple[int, Receipt]],
        handsets: list[tuple[int, MobileOriginated]],
    ) -> None:
        """Sort one deliver_sm (smpp34.DeliverSm) into a receipt or a handset's message."""
        tlvs = {tlv.tag: bytes(tlv.value) for tlv in event.tlvs}
        pdu = _received_pdu(event, tlvs)
        source = inbound_address(event.source_addr, event.source_addr_ton, event.source_addr_npi)
        destination = inbound_address(
            event.destination_addr, event.dest_addr_ton, event.dest_addr_npi
        )
        if is_receipt(event.esm_class):
            receipt = receipt_from_fields(
                event.short_message, event.data_coding, tlvs, esm_class=event.esm_class
            )
            if receipt is None:
                self.counters["garbled_receipts"] += 1
                # Its length only: a receipt's text quotes the message's first characters.
                log.warning(
                    "%s: a receipt without an id (%d bytes of text)",
                    self.name,
                    len(event.short_message),
                )
                return
            receipts.append(
                (n, replace(receipt, exchanged=(pdu,), handset=source, sender=destination))
            )
            return
        if not is_mobile_originated(event.esm_class):
            # An SME acknowledgement or a conversation abort: nothing for a gateway to do.
            log.info("%s: deliver_sm with esm_class 0x%02x ignored", self.name, event.esm_class)
            return
        text, part = decode_short_message(
            event.short_message, event.data_coding, udhi=bool(event.esm_class & 0x40)
        )
        if part is None:
            part = sar_concatenation(tlvs)
        if not event.short_message and TAG_MESSAGE_PAYLOAD in tlvs:
            text = decode_text(tlvs[TAG_MESSAGE_PAYLOAD], event.data_coding)
        handsets.append(
            (n, MobileOriginated(source, destination, text, part=part, exchanged=(pdu,)))
        )


def _refusal(answer: SubmitResult, exchanged: tuple[ExchangedPdu, ...]) -> Rejected:
    if answer.command_status is None:
        return Rejected(
            codes.UNKNOWN_ERROR.code,
            answer.error or "no answer",
            retry=True,
            retry_after_s=1.0,
            unreachable=True,
            exchanged=exchanged,
        )
    refusal = submit_outcome(answer.command_status)
    return Rejected(
        refusal.error_code,
        f"submit_sm_resp {refusal.name}",
        retry=refusal.retry,
        retry_after_s=1.0 if refusal.slow_down else 0.5,
        slow_down=refusal.slow_down,
        exchanged=exchanged,
    )


def _validity_left_s(message: Message) -> int:
    """The part of the message's validity period not yet spent waiting in textrelay, so the
    SMSC gives up when Twilio would have."""
    period_s = message.options.validity_period_s or DEFAULT_VALIDITY_PERIOD_S
    left_s = (message.valid_until - _now()).total_seconds()
    # Never more than the period: the service clock (message dates) may be ahead of this one.
    return max(round(min(left_s, period_s)), 1)


def _now() -> datetime:
    return datetime.now(UTC)


def _sent_pdu(
    destination: str,
    short_message: bytes,
    fields: dict[str, Any],
    tlvs: Sequence[tuple[int, bytes]],
) -> ExchangedPdu:
    shown = {k: str(v) for k, v in fields.items() if k != "tlvs"}
    shown["destination_addr"] = destination
    shown["short_message"] = short_message.hex()
    for tag, value in tlvs:
        shown[f"tlv 0x{tag:04x}"] = value.hex()
    return ExchangedPdu(Direction.SENT, "submit_sm", shown, at=_now())


def _response_pdu(answer: SubmitResult) -> ExchangedPdu:
    if answer.command_status is None:
        return ExchangedPdu(
            Direction.RECEIVED, "no answer", {"error": answer.error or ""}, at=_now()
        )
    fields = {"command_status": name_of(answer.command_status)}
    if answer.message_id:
        fields["message_id"] = answer.message_id
    return ExchangedPdu(
        Direction.RECEIVED, "submit_sm_resp", fields, status=answer.command_status, at=_now()
    )


def _received_pdu(event: Any, tlvs: dict[int, bytes]) -> ExchangedPdu:
    fields = {
        "source_addr": str(event.source_addr),
        "destination_addr": str(event.destination_addr),
        "esm_class": f"0x{event.esm_class:02x}",
        "data_coding": str(event.data_coding),
        "short_message": bytes(event.short_message).decode("latin-1"),
    }
    for tag, value in tlvs.items():
        fields[f"tlv 0x{tag:04x}"] = value.hex()
    return ExchangedPdu(Direction.RECEIVED, "deliver_sm", fields, at=_now())
