"""The console's pages and actions. Every read and write goes through the same services as the
API; nothing here touches the database directly (shared/DESIGN.md §3)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from textrelay.console.access import LINK_PARAMETER, ConsoleAccess, refused
from textrelay.console.live import change_events
from textrelay.console.rendering import (
    ConsoleServices,
    day_of,
    form_text,
    live_template,
    page_of,
    templates,
)
from textrelay.console.sign_in import SignIn
from textrelay.domain import errors
from textrelay.domain.accounts import Account
from textrelay.domain.lifecycle import FINAL_STATUSES
from textrelay.domain.media import Media
from textrelay.domain.messages import LogFilter
from textrelay.domain.messaging_services import ShortCode
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.phone_numbers import IncomingPhoneNumber
from textrelay.domain.segments import count_segments
from textrelay.domain.sids import is_sid
from textrelay.domain.simulation import ProgressionMode
from textrelay.domain.statuses import MessageStatus
from textrelay.services.accounts import CreatedKey, Principal
from textrelay.services.phone_numbers import NumberFilter

PAGE_SIZE = 50
_OTP = re.compile(r"\b\d{4,8}\b")
STATUSES = [s.value for s in MessageStatus]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class Console:
    def __init__(
        self, services: ConsoleServices, access: ConsoleAccess, main_account: Account
    ) -> None:
        self._services = services
        self._access = access
        self._main = main_account
        self._templates = templates()
        self.sign_in = SignIn(services, access, main_account, self._page, self._start_session)
        """The login and logout forms (console/sign_in.py)."""

    # --- plumbing ----------------------------------------------------------------------------

    async def _page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        seed, new = self._access.csrf_seed(request)
        account = context.get("account")
        html = self._templates.get_template(template).render(
            request=request,
            csrf=self._access.csrf_token(seed),
            logged_in=getattr(request.state, "signed_in", False),
            test_bench=self._services.operator.test_bench_open,
            # The carriers' page is server-wide: offered to whom may see it (the nav).
            server_wide=isinstance(account, Account)
            and await self._services.operator.may_change_server_wide(account),
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if new:
            self._access.remember_csrf_seed(response, seed)
        return response

    async def _problem(
        self, request: Request, status: int, account: Account, title: str, detail: str
    ) -> Response:
        """An error, a refusal or a miss, shown as a page."""
        return await self._page(
            request, "problem.html", status, account=account, title=title, detail=detail
        )

    async def _account(self, request: Request) -> Account | None:
        """The account the console acts as, or None when a login is needed. The session is
        checked on every request: it ends at logout, and when its account is no longer active
        or its auth token has changed."""
        signed_in = await self._services.sessions.resume(self._access.session_id(request))
        if signed_in is None:
            return None
        request.state.signed_in = True
        return await self._services.accounts.acting_as(
            signed_in.sid, request.query_params.get("account")
        )

    async def _start_session(self, response: Response, account: Account) -> None:
        session_id = await self._services.sessions.start(account)
        self._access.remember_session(response, session_id, self._services.sessions.lifetime_s)

    async def _token_login(self, request: Request) -> Response | None:
        """The console link printed at start: its token signs this browser in as the main
        account, then the same page again without the token in the address bar. None when
        the token is not this process's."""
        if not self._access.token_matches(request.query_params.get(LINK_PARAMETER, "")):
            return None
        main = await self._services.accounts.acting_as(self._main.sid, None)
        if main is None:
            return None
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != LINK_PARAMETER]
        target = request.url.path + (f"?{urlencode(kept)}" if kept else "")
        response = RedirectResponse(target, status_code=303)
        await self._start_session(response, main)
        return response

    def guarded(
        self, handler: Callable[[Request, Account], Coroutine[Any, Any, Response]]
    ) -> Handler:
        """Wrap a page or action: a login when needed, CSRF on POST, errors as pages."""

        async def endpoint(request: Request) -> Response:
            refusal = self._access.refusal(request)
            if refusal is not None:
                return refused(refusal)
            if LINK_PARAMETER in request.query_params and request.method == "GET":
                signed_in = await self._token_login(request)
                if signed_in is not None:
                    return signed_in
            account = await self._account(request)
            if account is None:
                target = urlencode({"next": str(request.url.path)})
                return RedirectResponse(f"/console/login?{target}", status_code=303)
            if request.method == "POST":
                form = await request.form()
                token = form.get("csrf")
                if not self._access.csrf_valid(request, token if isinstance(token, str) else None):
                    return await self._problem(
                        request, 403, account, "Refused", "The form has expired; reload the page."
                    )
            try:
                return await handler(request, account)
            except errors.TwilioError as exc:
                status = exc.status if exc.status < 500 else 400
                return await self._problem(
                    request, status, account, f"Error {exc.code}", exc.message
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
            created_from=day_of(q.get("since")),
            created_until=day_of(q.get("until"), next_day=True),
        )
        before = int(q["before"]) if q.get("before", "").isdigit() else None
        started = time.perf_counter()
        rows = await self._services.log.page(account, log, before_seq=before, limit=PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        kept = {k: v for k, v in q.items() if k not in ("before", "partial") and v}
        next_url = None
        if more and rows:
            next_url = "/console/?" + urlencode({**kept, "before": str(rows[-1][0])})
        template = live_template(request, "log.html", "log_rows.html")
        response = await self._page(
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
        detail = f"{text or 'Nothing'} names nothing in account {account.sid}."
        return await self._problem(request, 404, account, "No such resource", detail)

    async def _locate(self, account: Account, text: str) -> str | None:
        """The console page of what a SID names, if this account may see it."""
        found = await self._services.log.locate(account, text)
        return None if found is None else page_of(account, found)

    # --- a message -------------------------------------------------------------------------

    async def message(self, request: Request, account: Account) -> Response:
        message = await self._services.messages.get(account, request.path_params["sid"])
        readback = self._services.readback
        events = await readback.events(message)
        attempts = await readback.attempts(message)
        media = await self._services.media.of_message(message)
        pending = await self._services.log.pending_job_kinds(message)
        carrier = await self._services.carrier_records.of_message(account, message.sid)
        segments = count_segments(message.body)
        template = live_template(request, "message.html", "message_body.html")
        return await self._page(
            request,
            template,
            account=account,
            message=message,
            events=events,
            attempts=attempts,
            media=media,
            carrier=carrier,
            segments=segments,
            steppable=message.status not in FINAL_STATUSES
            and message.direction.value != "inbound"
            and bool(pending or message.status is MessageStatus.QUEUED),
            final=message.status in FINAL_STATUSES,
        )

    async def step(self, request: Request, account: Account) -> Response:
        self._services.operator.require_test_bench()
        message = await self._services.messages.get(account, request.path_params["sid"])
        form = await request.form()
        outcome = form_text(form, "status")
        await self._services.delivery.step(
            message, outcome=MessageStatus(outcome) if outcome else None, error_code=None
        )
        return RedirectResponse(f"/console/messages/{message.sid}", status_code=303)

    async def resend(self, request: Request, account: Account) -> Response:
        message = await self._services.messages.get(account, request.path_params["sid"])
        attempts = await self._services.readback.attempts(message)
        index = int(request.path_params["index"])
        if not 0 <= index < len(attempts):
            raise errors.NotFound()
        await self._services.callbacks.resend(message, attempts[index])
        return RedirectResponse(f"/console/messages/{message.sid}#callbacks", status_code=303)

    async def media(self, request: Request, account: Account) -> Response:
        found = await self._services.log.locate(account, request.path_params["sid"])
        if not isinstance(found, Media):
            raise errors.NotFound()
        _media, content = await self._services.media.content(account, found.message_sid, found.sid)
        return Response(content, media_type=found.content_type)

    # --- phones ------------------------------------------------------------------------------

    async def carriers(self, request: Request, account: Account) -> Response:
        """Every carrier and bind of this process: server-wide, so the main account's (in
        gateway mode the operator's, through the control API)."""
        await self._services.operator.require_server_wide(account, "The carriers' state")
        states = self._services.carrier_records.states()
        return await self._page(request, "carriers.html", account=account, carriers=states)

    async def phones(self, request: Request, account: Account) -> Response:
        wanted = request.query_params.get("number", "").strip()
        if wanted:
            return RedirectResponse(f"/console/phones/{wanted}", status_code=303)
        handsets = await self._services.log.correspondents(account, limit=50)
        return await self._page(request, "phones.html", account=account, handsets=handsets)

    async def phone(self, request: Request, account: Account) -> Response:
        handset = request.path_params["number"]
        numbers = await self._own_addresses(account)
        threads = []
        for number in numbers:
            thread = await self._services.readback.conversation(account, handset, number)
            if thread:
                threads.append((number, thread))
        latest = threads[0][1][-1] if threads else None
        codes = []
        for _number, thread in threads:
            for m in reversed(thread):
                if m.direction.value != "inbound":
                    codes += [(c, m) for c in _OTP.findall(m.body)]
        template = live_template(request, "phone.html", "phone_body.html")
        return await self._page(
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
        self._services.operator.require_test_bench()
        handset = request.path_params["number"]
        form = await request.form()
        to = form_text(form, "to")
        body = form_text(form, "body")
        attachments = []
        upload = form.get("attachment")
        if isinstance(upload, UploadFile) and upload.filename:
            attachments.append(
                (upload.content_type or "application/octet-stream", await upload.read())
            )
        await self._services.inbound.receive(
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
        numbers = await self._services.numbers.list(account, query, NumberFilter())
        codes = await self._services.messaging_services.list_short_codes(
            account, query, friendly_name=None, short_code_like=None
        )
        return numbers, codes

    # --- the account ---------------------------------------------------------------------------

    async def account_page(
        self, request: Request, account: Account, *, new_key: CreatedKey | None = None
    ) -> Response:
        query = PageQuery(page_size=200)
        numbers, codes = await self._own_senders(account, query)
        services = await self._services.messaging_services.list(account, query)
        pools = {s.sid: await self._services.messaging_services.pool(s) for s in services.items}
        keys = await self._services.accounts.list_keys(account, query)
        subaccounts = await self._services.accounts.list_accounts(
            Principal(account), query, friendly_name=None, status=None
        )
        simulator = await self._services.simulator.config(account.sid)
        return await self._page(
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
            clock=self._services.clock(),
            retention_days=self._services.retention.days,
        )

    async def create_key(self, request: Request, account: Account) -> Response:
        form = await request.form()
        created = await self._services.accounts.create_key(
            account, form_text(form, "friendly_name") or None
        )
        return await self.account_page(request, account, new_key=created)

    async def simulator(self, request: Request, account: Account) -> Response:
        self._services.operator.require_test_bench()
        form = await request.form()
        changes: dict[str, Any] = {"mode": form_text(form, "mode")}
        for name in ("send_delay_ms", "delivery_delay_ms"):
            if form_text(form, name).isdigit():
                changes[name] = int(form_text(form, name))
        await self._services.simulator.update(account, changes)
        return RedirectResponse("/console/account#simulator", status_code=303)

    async def add_rule(self, request: Request, account: Account) -> Response:
        self._services.operator.require_test_bench()
        form = await request.form()
        rule: dict[str, Any] = {"outcome": form_text(form, "outcome")}
        for name in ("to_prefix", "from_prefix", "body_regex", "name"):
            if form_text(form, name):
                rule[name] = form_text(form, name)
        if form_text(form, "error_code").isdigit():
            rule["error_code"] = int(form_text(form, "error_code"))
        await self._services.simulator.add_rule(account, rule)
        return RedirectResponse("/console/account#simulator", status_code=303)

    async def clear_rules(self, request: Request, account: Account) -> Response:
        self._services.operator.require_test_bench()
        await self._services.simulator.update(account, {"rules": []})
        return RedirectResponse("/console/account#simulator", status_code=303)

    async def reset(self, request: Request, account: Account) -> Response:
        self._services.operator.require_test_bench()
        await self._services.readback.reset(account)
        return RedirectResponse("/console/", status_code=303)

    # --- live updates ----------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        """Server-sent events: `change` after anything that changes a message."""
        refusal = self._access.refusal(request)
        if refusal is not None:
            return refused(refusal)
        account = await self._account(request)
        if account is None:
            return Response(status_code=401)
        return change_events(request, self._services.changes, self._services.log.latest_change)
