"""Two-way messaging: a handset texts one of the account's numbers; textrelay stores the
message, handles STOP/START/HELP, calls the app's webhook and carries out its TwiML.

Facts: shared/twilio/messaging-and-webhooks.md §5 (webhook, fallback, TwiML), §6 (opt-out),
§1.7 (which webhook a number in a Messaging Service uses).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from textrelay.domain import codes, cookies, errors, opt_out, twiml
from textrelay.domain.accounts import Account
from textrelay.domain.addresses import AddressError, channel_of, parse_recipient, segments_on
from textrelay.domain.inbound import inbound_params
from textrelay.domain.jobs import AutoReply, InboundWebhook, Job
from textrelay.domain.media import is_accepted
from textrelay.domain.messages import Message, SendOptions
from textrelay.domain.segments import MAX_BODY_CHARACTERS, body_length
from textrelay.domain.sids import SidType
from textrelay.domain.statuses import Direction, MessageStatus
from textrelay.domain.webhooks import (
    RecordedAttempt,
    WebhookAttempt,
    WebhookRequest,
    recorded_attempts,
)
from textrelay.services import log_context
from textrelay.services.accounts import AccountService
from textrelay.services.callbacks import idempotency_token
from textrelay.services.context import ServiceContext
from textrelay.services.media import MediaService
from textrelay.services.messages import MAX_MEDIA, MessageRequest, MessageService
from textrelay.services.ports import WebhookTransport
from textrelay.storage import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where an inbound message is announced, and where to turn when that fails."""

    url: str
    method: str
    fallback_url: str | None
    fallback_method: str


class InboundService:
    def __init__(
        self,
        ctx: ServiceContext,
        accounts: AccountService,
        messages: MessageService,
        transport: WebhookTransport,
        media: MediaService,
        *,
        log_bodies: bool = False,
    ) -> None:
        self._ctx = ctx
        self._accounts = accounts
        self._messages = messages
        self._media = media
        self._transport = transport
        self._log_bodies = log_bodies

    # --- a handset sends -------------------------------------------------------------------

    async def receive(
        self,
        account: Account,
        from_: str,
        to: str,
        body: str,
        *,
        media: list[tuple[str, bytes]] | None = None,
        media_base_url: str = "",
    ) -> Message:
        message = await self.receive_from_carrier(
            account, from_, to, body, media=media, media_base_url=media_base_url
        )
        assert message is not None, "stored unless `also` refuses"
        return message

    async def receive_from_carrier(
        self,
        account: Account,
        from_: str,
        to: str,
        body: str,
        *,
        media: list[tuple[str, bytes]] | None = None,
        media_base_url: str = "",
        error_code: int | None = None,
        also: Callable[[Repository, Message], Awaitable[bool]] | None = None,
    ) -> Message | None:
        """Store what a handset sent to one of `account`'s numbers (or short codes) and promise
        its webhook; answer STOP/START/HELP as Twilio does by default. `media` is (content
        type, bytes) of each attachment; the webhook's MediaUrl{N} point at textrelay's own
        Media URLs under `media_base_url`.

        A carrier's message may come with `error_code` (30009: a part never arrived), and with
        `also`: more to do in the same transaction, given the message (taking its stored parts,
        recording its PDUs); when that says False, nothing is stored and None is returned."""
        attachments = media or []
        if len(attachments) > MAX_MEDIA:
            raise errors.TooManyMedia()
        if any(not is_accepted(content_type) for content_type, _ in attachments):
            raise errors.InvalidParameter("an attachment's content_type is not an MMS type")
        try:
            handset = parse_recipient(from_).value
        except AddressError:
            raise errors.InvalidFromNumber(from_) from None
        if body_length(body) > MAX_BODY_CHARACTERS:
            raise errors.BodyTooLong()
        now = self._ctx.now()
        async with self._ctx.store.read() as repo:
            number_text, webhook, service_sid = await self._receiver(repo, account, to)
            opted_out_scopes = await repo.opt_outs.scopes_of(handset)
        keyword = opt_out.classify(body)
        scope = opt_out.scope_for(handset, number_text, service_sid)
        decision = opt_out.apply(keyword, scope.sender_scope in opted_out_scopes)
        message = Message(
            sid=self._ctx.sids.new(SidType.MMS_MESSAGE if attachments else SidType.MESSAGE),
            account_sid=account.sid,
            direction=Direction.INBOUND,
            status=MessageStatus.RECEIVED,
            from_=handset,
            to=number_text,
            body=body,
            num_segments=segments_on(channel_of(handset), body),
            num_media=len(attachments),
            date_created=now,
            date_updated=now,
            date_sent=now,
            messaging_service_sid=service_sid,
            error_code=error_code,
            error_message=None if error_code is None else codes.DELIVERY_ERRORS[error_code].message,
        )
        kept = await self._media.stage_inbound(message, attachments) if attachments else []
        links = [
            (
                f"{media_base_url}/2010-04-01/Accounts/{account.sid}/Messages/{message.sid}"
                f"/Media/{m.sid}",
                m.content_type,
            )
            for m in kept
        ]
        async with self._ctx.store.transaction() as repo:
            refused = also is not None and not await also(repo, message)
            if not refused:
                await repo.messages.insert(message)
                for attachment in kept:
                    await repo.media.insert(attachment)
                await repo.events.insert(
                    message.sid,
                    MessageStatus.RECEIVED,
                    None,
                    now,
                    previous=MessageStatus.RECEIVING,
                )
                if keyword is not None:
                    await repo.opt_outs.update(
                        handset,
                        scope.sender_scope,
                        account.sid,
                        at=now if decision.opted_out else None,
                    )
                if webhook is not None:
                    call = _webhook_call(message, webhook, links)
                    await repo.jobs.insert(message.sid, call, due_at=now, now=now)
                if decision.reply is not None:
                    # The keyword still reaches the app's webhook (§6), and the auto-reply is
                    # promised in the same transaction as the opt-out it confirms.
                    reply = AutoReply(
                        account.sid, to=handset, from_=number_text, body=decision.reply
                    )
                    await repo.jobs.insert(message.sid, reply, due_at=now, now=now)
        if refused:  # the attachments' files were kept for a message that is not
            await self._media.forget_files([m.sid for m in kept])
            return None
        if keyword is not None:
            self._ctx.opt_outs.changed()
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s: received from %s to %s%s",
                message.sid,
                handset,
                number_text,
                log_context.body_note(body, shown=self._log_bodies),
            )
        return message

    async def send_auto_reply(self, job: Job) -> None:
        """An `auto_reply` job: Twilio's answer to STOP, START or HELP."""
        reply = job.payload_as(AutoReply)
        account = await self._accounts.cached(reply.account_sid)
        if account is not None:
            try:
                await self._messages.create(
                    account,
                    MessageRequest(to=reply.to, from_=reply.from_, body=reply.body),
                    direction=Direction.OUTBOUND_REPLY,
                    honour_opt_outs=False,
                )
            except errors.TwilioError as exc:  # the number was released meanwhile, say
                log.info("auto-reply %s refused: %s %s", job.message_sid, exc.code, exc.message)
        async with self._ctx.store.transaction() as repo:
            await repo.jobs.finish(job)

    async def _receiver(
        self, repo: Repository, account: Account, to: str
    ) -> tuple[str, Webhook | None, str | None]:
        """The receiving number's address, the webhook to call and its service, if any."""
        try:
            recipient = parse_recipient(to)
            address, e164 = recipient.value, recipient.number
        except AddressError:
            address, e164 = to.strip(), None
        # A phone or WhatsApp address names one of the account's numbers (Address.number).
        number = await repo.numbers.find(e164) if e164 is not None else None
        if number is not None and number.account_sid == account.sid:
            c = number.config
            own = (
                Webhook(c.sms_url, c.sms_method, c.sms_fallback_url, c.sms_fallback_method)
                if c.sms_url
                else None
            )
            pooled = await repo.senders.get(number.sid)
        else:
            code = await repo.short_codes.find(address)
            if code is None or code.account_sid != account.sid:
                raise errors.InvalidParameter(
                    f"To {to} is not a phone number or short code of account {account.sid}"
                )
            own = (
                Webhook(
                    code.sms_url, code.sms_method, code.sms_fallback_url, code.sms_fallback_method
                )
                if code.sms_url
                else None
            )
            pooled = await repo.senders.get(code.sid)
        if pooled is None:
            return address, own, None
        service = await repo.services.get(pooled.service_sid)
        if service is None:
            return address, own, None
        s = service.settings
        # §1.7: the number's own webhook when the service defers to it or has none.
        if s.use_inbound_webhook_on_number or not s.inbound_request_url:
            return address, own, service.sid
        return (
            address,
            Webhook(s.inbound_request_url, s.inbound_method, s.fallback_url, s.fallback_method),
            service.sid,
        )

    # --- the webhook job -------------------------------------------------------------------

    async def run_webhook(self, job: Job) -> None:
        """Call the app, fall back on failure, follow redirects, send the replies."""
        webhook = job.payload_as(InboundWebhook)
        account = await self._accounts.cached(webhook.account_sid)
        if account is None:
            await self._finish(job, [])
            return
        recorded: list[RecordedAttempt] = []
        inbound = await self._inbound_message(job.message_sid)
        pair = (account.sid, inbound.to, inbound.from_ or "") if inbound is not None else None
        cookie = await self._cookie(pair)

        async def call(
            url: str, method: str, extra: tuple[tuple[str, str], ...] = ()
        ) -> twiml.TwimlAnswer:
            nonlocal cookie
            request = WebhookRequest(
                url=url,
                params=webhook.params + extra,
                auth_token=account.auth_token,
                idempotency_token=webhook.token,
                method=method,
                cookie=cookie,
            )
            started = self._ctx.clock()
            outcome = await self._transport.deliver(request)
            last = outcome.last
            if last is not None and last.set_cookies:
                cookie = cookies.merge(cookie, last.set_cookies)
            answer = _answer(last)
            attempts = list(outcome.attempts)
            if attempts and answer.error is not None and attempts[-1].error_code is None:
                # The answer itself was the failure (bad TwiML, say): the attempt says so.
                attempts[-1] = _with_error(attempts[-1], answer.error.code, answer.error.message)
            recorded.extend(
                recorded_attempts("inbound", job.message_sid, request, attempts, started_at=started)
            )
            return answer

        url, method = webhook.url, webhook.method
        answer = await call(url, method)
        if answer.error is not None and webhook.fallback_url:
            extra = (("ErrorCode", str(answer.error.code)), ("ErrorUrl", url))
            url, method = webhook.fallback_url, webhook.fallback_method
            answer = await call(url, method, extra)
        replies = [(reply, url) for reply in answer.replies]
        documents = 1
        while answer.error is None and answer.redirect is not None:
            if documents >= twiml.MAX_DOCUMENTS:
                log.info(
                    "inbound %s: more than %d TwiML documents (%d)",
                    job.message_sid,
                    documents,
                    codes.DOCUMENT_LIMIT_REACHED.code,
                )
                replies = []
                break
            url = twiml.resolve(url, answer.redirect.url)
            method = answer.redirect.method
            answer = await call(url, method)
            documents += 1
            replies += [(reply, url) for reply in answer.replies]
        if len(replies) > twiml.MAX_REPLIES:
            log.info(
                "inbound %s: more than %d replies (%d)",
                job.message_sid,
                twiml.MAX_REPLIES,
                codes.REPLY_LIMIT_EXCEEDED.code,
            )
            replies = []
        # Replies first, then the job's end: a crash between the two runs the webhook again
        # and may send a reply twice, never none (at least once, as everywhere).
        if inbound is not None:
            for reply, document_url in replies:
                await self._send_reply(account, inbound, reply, document_url)
        await self._finish(job, recorded, pair, cookie)

    async def _send_reply(
        self, account: Account, inbound: Message, reply: twiml.ReplyMessage, document_url: str
    ) -> None:
        # `action` (or the older `statusCallback`) gets the reply's status callbacks; relative
        # URLs are relative to the document that held the <Message>.
        target = reply.status_callback or reply.action
        callback = twiml.resolve(document_url, target) if target else None
        request = MessageRequest(
            to=reply.to or inbound.from_,
            from_=reply.from_ or inbound.to,
            body=reply.body,
            options=SendOptions(status_callback=callback, media_urls=reply.media_urls),
        )
        try:
            await self._messages.create(account, request, direction=Direction.OUTBOUND_REPLY)
        except errors.TwilioError as exc:
            # Twilio logs a refused reply (14101, 14102, 21610 …) and goes on with the next.
            log.info("reply to %s refused: %s %s", inbound.sid, exc.code, exc.message)

    async def _inbound_message(self, sid: str | None) -> Message | None:
        if sid is None:
            return None
        async with self._ctx.store.read() as repo:
            return await repo.messages.get(sid)

    async def _cookie(self, pair: tuple[str, str, str] | None) -> str | None:
        if pair is None:
            return None
        since = self._ctx.clock() - cookies.IDLE_EXPIRY
        async with self._ctx.store.read() as repo:
            return await repo.cookies.get(*pair, fresh_since=since)

    async def _finish(
        self,
        job: Job,
        recorded: list[RecordedAttempt],
        pair: tuple[str, str, str] | None = None,
        cookie: str | None = None,
    ) -> None:
        async with self._ctx.store.transaction() as repo:
            await repo.jobs.finish(job)
            if pair is not None:
                await repo.cookies.keep(*pair, cookie, at=self._ctx.clock())
            account_sid = job.payload_as(InboundWebhook).account_sid
            for record in recorded:
                await repo.attempts.insert(account_sid, record)


def _webhook_call(
    message: Message, webhook: Webhook, media: list[tuple[str, str]]
) -> InboundWebhook:
    return InboundWebhook(
        account_sid=message.account_sid,
        url=webhook.url,
        method=webhook.method,
        fallback_url=webhook.fallback_url,
        fallback_method=webhook.fallback_method or "POST",
        params=inbound_params(message, media),
        token=idempotency_token(),
    )


def _answer(attempt: WebhookAttempt | None) -> twiml.TwimlAnswer:
    if attempt is None:
        failure = twiml.TwimlError(codes.HTTP_RETRIEVAL_FAILURE.code, "no attempt was made")
        return twiml.TwimlAnswer(error=failure)
    if attempt.status_code is None:
        code = attempt.error_code or codes.HTTP_RETRIEVAL_FAILURE.code
        message = attempt.error_message or "no answer"
        return twiml.TwimlAnswer(error=twiml.TwimlError(code, message))
    return twiml.interpret(attempt.status_code, attempt.response_content_type, attempt.content)


def _with_error(attempt: WebhookAttempt, code: int, message: str) -> WebhookAttempt:
    return replace(attempt, error_code=code, error_message=message)
