"""Web console sessions, kept in the database so that every process of a deployment agrees:
a session ends at logout everywhere, and each request re-checks the account behind it (its
status and its auth token; domain/console_sessions.py)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from textrelay.domain.accounts import Account
from textrelay.domain.console_sessions import (
    ConsoleSession,
    credential_fingerprint,
    session_id_hash,
    session_stands,
)
from textrelay.services.context import ServiceContext

SESSION_LIFETIME_S = 12 * 3600


class ConsoleSessionService:
    def __init__(self, ctx: ServiceContext, *, lifetime_s: int = SESSION_LIFETIME_S) -> None:
        self._ctx = ctx
        self.lifetime_s = lifetime_s

    async def start(self, account: Account) -> str:
        """A new session for `account`; the id to put in the cookie.

        The id comes from `secrets`, never the SID generator: that one is seeded for
        deterministic runs, which would make session ids guessable.
        """
        session_id = secrets.token_urlsafe(32)
        now = self._ctx.now()
        session = ConsoleSession(
            id_hash=session_id_hash(session_id),
            account_sid=account.sid,
            credential=credential_fingerprint(account),
            created_at=now,
            expires_at=now + timedelta(seconds=self.lifetime_s),
        )
        async with self._ctx.store.transaction() as repo:
            await repo.console_sessions.delete_expired(now)
            await repo.console_sessions.insert(session)
        return session_id

    async def resume(self, session_id: str) -> Account | None:
        """The account of a session that still stands, read afresh (no cache: a closed
        account or a changed token takes effect on the next request, on every process)."""
        if not session_id:
            return None
        async with self._ctx.store.read() as repo:
            session = await repo.console_sessions.get(session_id_hash(session_id))
            if session is None:
                return None
            account = await repo.accounts.get(session.account_sid)
        if not session_stands(session, account, now=self._ctx.now()):
            return None
        return account

    async def end(self, session_id: str) -> None:
        if not session_id:
            return
        async with self._ctx.store.transaction() as repo:
            await repo.console_sessions.delete(session_id_hash(session_id))
