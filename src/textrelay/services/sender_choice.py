"""Which sender a Messaging Service sends a message from, chosen when the message leaves
(shared/twilio/messaging-and-webhooks.md §2: sticky sender, short code, alphanumeric ID,
geomatch), and whether its recipient opted out of that sender."""

from __future__ import annotations

import random

from textrelay.domain import opt_out
from textrelay.domain.addresses import channel_of, region_of
from textrelay.domain.messages import Message
from textrelay.domain.messaging_services import Recipient, choose_sender
from textrelay.storage import Repository

# Sticky senders are kept per recipient under one channel name, whatever the channel.
_STICKY_CHANNEL = "sms"


async def opted_out(repo: Repository, message: Message, sender: str) -> bool:
    """Whether the recipient opted out of `sender` (or of the message's whole service)."""
    scopes = await repo.opt_outs.scopes_of(message.to)
    if not scopes:
        return False
    return bool(scopes & opt_out.sender_scopes(sender, message.messaging_service_sid))


async def choose_from_pool(repo: Repository, message: Message) -> str | None:
    """The sender the message's service picks for it (None: none can reach the recipient),
    keeping the choice when the service has sticky senders."""
    service_sid = message.messaging_service_sid
    service = await repo.services.get(service_sid) if service_sid else None
    if service is None:
        return None
    pool = await repo.senders.of_service(service.sid)
    sticky = None
    if service.settings.sticky_sender:
        sticky = await repo.sticky_senders.get(service.sid, _STICKY_CHANNEL, message.to)
    recipient = Recipient(
        message.to,
        region_of(message.to) if message.to.startswith("+") else None,
        channel=channel_of(message.to),
    )
    draws = random.Random(message.sid)  # spread evenly; the same SID, the same choice
    chosen = choose_sender(
        pool,
        recipient,
        area_code_geomatch=service.settings.area_code_geomatch,
        sticky=sticky,
        draw=draws.randrange,
    )
    if chosen is None:
        return None
    if service.settings.sticky_sender and chosen.address != sticky:
        await repo.sticky_senders.set(service.sid, _STICKY_CHANNEL, message.to, chosen.address)
    return chosen.address
