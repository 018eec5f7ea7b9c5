"""The console's pages and actions. Every read and write goes through the same services as the
API; nothing here touches the database directly (shared/DESIGN.md §3)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from textrelay.console.access import ConsoleAccess
from textrelay.domain import errors
from textrelay.domain.accounts import Account
from textrelay.domain.dates import iso8601
from textrelay.domain.delivery import FINAL_STATUSES
from textrelay.domain.media import Media
from textrelay.domain.messages import LogFilter, Message
from textrelay.domain.messaging_services import PoolSender, ShortCode
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.phone_numbers import IncomingPhoneNumber
from textrelay.domain.segments import count_segments
from textrelay.domain.sids import is_sid
from textrelay.domain.simulation import ProgressionMode
from textrelay.domain.statuses import MessageStatus
from textrelay.services.accounts import AccountService, Principal
from textrelay.services.callbacks import CallbackService
from textrelay.services.context import Clock, Signal
from textrelay.services.delivery import DeliveryService
from textrelay.services.inbound import InboundService
from textrelay.services.media import MediaService
from textrelay.services.message_log import MessageLogService, Visible
from textrelay.services.messaging import MessagingService as MessageService
from textrelay.services.messaging_services import (
    MessagingServicesService as MessagingServiceRegistry,
)
from textrelay.services.phone_numbers import NumberFilter, PhoneNumberService
from textrelay.services.readback import ReadbackService
from textrelay.services.simulator import SimulatorService

PAGE_SIZE = 50
EVENTS_LIFETIME_S = 600.0
"""An event stream ends after this; the browser's EventSource reconnects by itself."""
CROSS_PROCESS_CHECK_S = 2.0
"""How often an event stream looks for changes made by other processes."""
KEEPALIVE_S = 10.0
"""Also how soon a closed page's stream is noticed and ended."""
_OTP = re.compile(r"\b\d{4,8}\b")
STATUSES = [s.value for s in MessageStatus]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    """The services the console works through: the API's own, plus the message log."""

    accounts: AccountService
    messages: MessageService
    numbers: PhoneNumberService
    messaging_services: MessagingServiceRegistry
    delivery: DeliveryService
    callbacks: CallbackService
    inbound: InboundService
    media: MediaService
    readback: ReadbackService
    simulator: SimulatorService
    log: MessageLogService
    clock: Clock
    changes: Signal
    """Raised after any commit in this process that changed a message."""


class Console:
    def __init__(
        self, services: ConsoleServices, access: ConsoleAccess, main_account: Account
    ) -> None:
        self._s = services
        self._access = access
        self._main = main_account
        self._templates = jinja2.Environment(
            loader=jinja2.FunctionLoader(_template_source),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self._templates.filters["when"] = _when
        self._templates.filters["clock"] = _clock

    # --- plumbing ----------------------------------------------------------------------------

    def _page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        seed, new = self._access.csrf_seed(request)
        html = self._templates.get_template(template).render(
            request=request,
            csrf=self._access.csrf_token(seed),
            logged_in=self._access.session_account(request) is not None,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if new:
            self._access.remember_csrf_seed(response, seed)
        return response

    async def _account(self, request: Request) -> Account | None:
        """The account the console acts as, or None when a login is needed."""
        sid = self._access.session_account(request)
        if sid is None:
            if not self._access.open_without_login:
                return None
            sid = self._main.sid
        return await self._s.accounts.acting_as(sid, request.query_params.get("account"))

    def guarded(
        self, handler: Callable[[Request, Account], Coroutine[Any, Any, Response]]
    ) -> Handler:
        """Wrap a page or action: a login when needed, CSRF on POST, errors as pages."""

        async def endpoint(request: Request) -> Response:
            account = await self._account(request)
            if account is None:
                target = urlencode({"next": str(request.url.path)})
                return RedirectResponse(f"/console/login?{target}", status_code=303)
            if request.method == "POST":
                form = await request.form()
                token = form.get("csrf")
                if not self._access.csrf_valid(request, token if isinstance(token, str) else None):
                    return self._page(
                        request,
                        "problem.html",
                        403,
                        account=account,
                        title="Refused",
                        detail="The form has expired; reload the page.",
                    )
            try:
                return await handler(request, account)
            except errors.TwilioError as exc:
                return self._page(
                    request,
                    "problem.html",
                    exc.status if exc.status < 500 else 400,
                    account=account,
                    title=f"Error {exc.code}",
                    detail=exc.message,
                )
            finally:
                await request.close()  # a parsed form's uploads are temporary files

        return endpoint

    # --- the log -------------------------------------------------------------------------------

    async def log(self, request: Request, account: Account) -> Response:
        q = request.query_params
        log = LogFilter(
            direction=q.get("direction") or None,
            status=q.get("status") or None,
            to=q.get("to") or None,
            from_=q.get("from") or None,
            service_sid=q.get("service") or None,
            error_code=int(q["error_code"]) if q.get("error_code", "").isdigit() else None,
            text=q.get("q") or None,
            created_from=_day(q.get("since")),
            created_until=_day(q.get("until"), next_day=True),
        )
        before = int(q["before"]) if q.get("before", "").isdigit() else None
        started = time.perf_counter()
        rows = await self._s.log.page(account, log, before_seq=before, limit=PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        kept = {k: v for k, v in q.items() if k not in ("before", "partial") and v}
        next_url = None
        if more and rows:
            next_url = "/console/?" + urlencode({**kept, "before": str(rows[-1][0])})
        template = "log_rows.html" if q.get("partial") else "log.html"
        response = self._page(
            request,
            template,
            account=account,
            messages=[m for _seq, m in rows],
            filters=kept,
            statuses=STATUSES,
            next_url=next_url,
            first_url="/console/?" + urlencode(kept) if before is not None else None,
        )
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    async def search(self, request: Request, account: Account) -> Response:
        """Any SID goes to what it names; anything else is "no such resource"."""
        text = request.query_params.get("q", "").strip()
        target = await self._locate(account, text) if text else None
        if target is not None:
            return RedirectResponse(target, status_code=303)
        if text and not is_sid(text):
            # Not a SID: a free-text search of message bodies.
            return RedirectResponse("/console/?" + urlencode({"q": text}), status_code=303)
        return self._page(
            request,
            "problem.html",
            404,
            account=account,
            title="No such resource",
            detail=f"{text or 'Nothing'} names nothing in account {account.sid}.",
        )

    async def _locate(self, account: Account, text: str) -> str | None:
        """The console page of what a SID names, if this account may see it."""
        found = await self._s.log.locate(account, text)
        return None if found is None else _page_of(account, found)

    # --- a message -------------------------------------------------------------------------

    async def message(self, request: Request, account: Account) -> Response:
        message = await self._s.messages.get(account, request.path_params["sid"])
        readback = self._s.readback
        events = await readback.events(message)
        attempts = await readback.attempts(message)
        media = await self._s.media.of_message(message)
        pending = await self._s.log.pending_job_kinds(message)
        segments = count_segments(message.body)
        template = "message_body.html" if request.query_params.get("partial") else "message.html"
        return self._page(
            request,
            template,
            account=account,
            message=message,
            events=events,
            attempts=attempts,
            media=media,
            segments=segments,
            steppable=message.status not in FINAL_STATUSES
            and message.direction.value != "inbound"
            and bool(pending or message.status is MessageStatus.QUEUED),
            final=message.status in FINAL_STATUSES,
        )

    async def step(self, request: Request, account: Account) -> Response:
        message = await self._s.messages.get(account, request.path_params["sid"])
        form = await request.form()
        outcome = _text(form, "status")
        await self._s.delivery.step(
            message, outcome=MessageStatus(outcome) if outcome else None, error_code=None
        )
        return RedirectResponse(f"/console/messages/{message.sid}", status_code=303)

    async def resend(self, request: Request, account: Account) -> Response:
        message = await self._s.messages.get(account, request.path_params["sid"])
        attempts = await self._s.readback.attempts(message)
        index = int(request.path_params["index"])
        if not 0 <= index < len(attempts):
            raise errors.NotFound()
        await self._s.callbacks.resend(message, attempts[index])
        return RedirectResponse(f"/console/messages/{message.sid}#callbacks", status_code=303)

    async def media(self, request: Request, account: Account) -> Response:
        found = await self._s.log.locate(account, request.path_params["sid"])
        if not isinstance(found, Media):
            raise errors.NotFound()
        _media, content = await self._s.media.content(account, found.message_sid, found.sid)
        return Response(content, media_type=found.content_type)

    # --- phones ------------------------------------------------------------------------------

    async def phones(self, request: Request, account: Account) -> Response:
        wanted = request.query_params.get("number", "").strip()
        if wanted:
            return RedirectResponse(f"/console/phones/{wanted}", status_code=303)
        handsets = await self._s.log.correspondents(account, limit=50)
        return self._page(request, "phones.html", account=account, handsets=handsets)

    async def phone(self, request: Request, account: Account) -> Response:
        handset = request.path_params["number"]
        numbers = await self._own_addresses(account)
        threads = []
        for number in numbers:
            thread = await self._s.readback.conversation(account, handset, number)
            if thread:
                threads.append((number, thread))
        latest = threads[0][1][-1] if threads else None
        codes = []
        for _number, thread in threads:
            for m in reversed(thread):
                if m.direction.value != "inbound":
                    codes += [(c, m) for c in _OTP.findall(m.body)]
        template = "phone_body.html" if request.query_params.get("partial") else "phone.html"
        return self._page(
            request,
            template,
            account=account,
            handset=handset,
            threads=threads,
            numbers=numbers,
            latest=latest,
            codes=codes[:3],
        )

    async def text_back(self, request: Request, account: Account) -> Response:
        handset = request.path_params["number"]
        form = await request.form()
        to = _text(form, "to")
        body = _text(form, "body")
        attachments = []
        upload = form.get("attachment")
        if isinstance(upload, UploadFile) and upload.filename:
            attachments.append(
                (upload.content_type or "application/octet-stream", await upload.read())
            )
        await self._s.inbound.receive(
            account,
            handset,
            to,
            body,
            media=attachments,
            media_base_url=f"{request.url.scheme}://{request.url.netloc}",
        )
        return RedirectResponse(f"/console/phones/{handset}", status_code=303)

    async def _own_addresses(self, account: Account) -> list[str]:
        numbers, codes = await self._own_senders(account, PageQuery(page_size=1000))
        return [n.phone_number for n in numbers.items] + [c.short_code for c in codes.items]

    async def _own_senders(
        self, account: Account, query: PageQuery
    ) -> tuple[PageResult[IncomingPhoneNumber], PageResult[ShortCode]]:
        numbers = await self._s.numbers.list(account, query, NumberFilter())
        codes = await self._s.messaging_services.list_short_codes(
            account, query, friendly_name=None, short_code_like=None
        )
        return numbers, codes

    # --- the account ---------------------------------------------------------------------------

    async def account_page(
        self, request: Request, account: Account, *, new_key: Any = None
    ) -> Response:
        query = PageQuery(page_size=200)
        numbers, codes = await self._own_senders(account, query)
        services = await self._s.messaging_services.list(account, query)
        pools = {s.sid: await self._s.messaging_services.pool(s) for s in services.items}
        keys = await self._s.accounts.list_keys(account, query)
        subaccounts = await self._s.accounts.list_accounts(
            Principal(account), query, friendly_name=None, status=None
        )
        simulator = await self._s.simulator.config()
        return self._page(
            request,
            "account.html",
            account=account,
            numbers=numbers.items,
            codes=codes.items,
            services=services.items,
            pools=pools,
            keys=keys.items,
            subaccounts=[a for a in subaccounts.items if a.sid != account.sid],
            simulator=simulator,
            modes=[m.value for m in ProgressionMode],
            new_key=new_key,
            clock=self._s.clock(),
        )

    async def create_key(self, request: Request, account: Account) -> Response:
        form = await request.form()
        created = await self._s.accounts.create_key(account, _text(form, "friendly_name") or None)
        return await self.account_page(request, account, new_key=created)

    async def simulator(self, request: Request, account: Account) -> Response:
        form = await request.form()
        changes: dict[str, Any] = {"mode": _text(form, "mode")}
        for name in ("send_delay_ms", "delivery_delay_ms"):
            if _text(form, name).isdigit():
                changes[name] = int(_text(form, name))
        await self._s.simulator.update(changes)
        return RedirectResponse("/console/account#simulator", status_code=303)

    async def add_rule(self, request: Request, account: Account) -> Response:
        form = await request.form()
        rule: dict[str, Any] = {"outcome": _text(form, "outcome")}
        for name in ("to_prefix", "from_prefix", "body_regex", "name"):
            if _text(form, name):
                rule[name] = _text(form, name)
        if _text(form, "error_code").isdigit():
            rule["error_code"] = int(_text(form, "error_code"))
        await self._s.simulator.add_rule(rule)
        return RedirectResponse("/console/account#simulator", status_code=303)

    async def clear_rules(self, request: Request, account: Account) -> Response:
        await self._s.simulator.update({"rules": []})
        return RedirectResponse("/console/account#simulator", status_code=303)

    async def reset(self, request: Request, account: Account) -> Response:
        await self._s.readback.reset(account)
        return RedirectResponse("/console/", status_code=303)

    # --- login ---------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, "login.html", account=None, failed=False)
        async with request.form() as form:
            fields = {name: _text(form, name) for name in ("csrf", "username", "password", "next")}
        if not self._access.csrf_valid(request, fields["csrf"]):
            return self._page(request, "login.html", 403, account=None, failed=True)
        username, password = fields["username"], fields["password"]
        sid: str | None = None
        if not username and self._access.password_matches(password):
            sid = self._main.sid
        else:
            try:
                principal: Principal = await self._s.accounts.authenticate(username, password)
            except errors.TwilioError:
                principal = None  # type: ignore[assignment]
            if principal is not None and not principal.uses_key:
                sid = principal.account.sid
        if sid is None:
            return self._page(request, "login.html", 401, account=None, failed=True)
        target = fields["next"] or "/console/"
        response = RedirectResponse(target if target.startswith("/console") else "/console/", 303)
        self._access.start_session(response, sid)
        return response

    async def logout(self, request: Request) -> Response:
        async with request.form() as form:
            token = _text(form, "csrf")
        response = RedirectResponse("/console/login", status_code=303)
        if self._access.csrf_valid(request, token):
            self._access.end_session(response)
        return response

    # --- live updates ----------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        """Server-sent events: `change` after anything that changes a message."""
        account = await self._account(request)
        if account is None:
            return Response(status_code=401)
        signal = self._s.changes

        async def stream() -> AsyncIterator[bytes]:
            yield b"retry: 1000\n\n"
            deadline = time.monotonic() + EVENTS_LIFETIME_S
            seen = signal.generation
            marker = await self._change_marker()
            quiet_s = 0.0
            while time.monotonic() < deadline:
                if await request.is_disconnected():
                    return
                if await signal.wait(CROSS_PROCESS_CHECK_S, since=seen):
                    seen = signal.generation
                    marker = await self._change_marker()
                    await asyncio.sleep(0.1)  # coalesce a burst of changes into one event
                    yield b"event: change\ndata: {}\n\n"
                    quiet_s = 0.0
                    continue
                # Changes made by other processes (several on one PostgreSQL) raise no
                # signal here: a cheap look at the newest rows tells.
                latest = await self._change_marker()
                if latest != marker:
                    marker = latest
                    yield b"event: change\ndata: {}\n\n"
                    quiet_s = 0.0
                    continue
                quiet_s += CROSS_PROCESS_CHECK_S
                if quiet_s >= KEEPALIVE_S:
                    quiet_s = 0.0
                    yield b": keep-alive\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _change_marker(self) -> tuple[object, ...]:
        return await self._s.log.latest_change()


def _page_of(account: Account, found: Visible) -> str:
    """The console page that shows a resource."""
    if isinstance(found, Account):
        if found.sid == account.sid:
            return "/console/account"
        return f"/console/account?account={found.sid}"
    if isinstance(found, Message):
        return f"/console/messages/{found.sid}"
    if isinstance(found, Media):
        return f"/console/messages/{found.message_sid}#media"
    if isinstance(found, PoolSender):
        return f"/console/account#{found.service_sid}"
    return f"/console/account#{found.sid}"


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _day(text: str | None, *, next_day: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if next_day else day


def _when(moment: datetime | None) -> str:
    return "" if moment is None else iso8601(moment).replace("T", " ").removesuffix("Z")


def _clock(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%H:%M:%S")


def _template_source(name: str) -> str:
    return (resources.files("textrelay.console") / "templates" / name).read_text()
