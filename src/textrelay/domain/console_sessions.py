"""Web console sessions: what a session records, and whether it still stands.

A session belongs to one account and remembers a fingerprint of that account's auth token at
sign-in. It stands while it has not expired, the account is active and its token unchanged
(issue 12, defect 7); logging out deletes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from textrelay.domain.accounts import Account, AccountStatus


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    id_hash: str
    account_sid: str
    credential: str
    created_at: datetime
    expires_at: datetime


def session_id_hash(session_id: str) -> str:
    """What is stored of a session id: the cookie alone can resume a session, a database
    read cannot."""
    return hashlib.sha256(f"console-session:{session_id}".encode()).hexdigest()


def credential_fingerprint(account: Account) -> str:
    """Changes whenever the account's auth token does."""
    return hashlib.sha256(f"console-credential:{account.auth_token}".encode()).hexdigest()


def session_stands(session: ConsoleSession, account: Account | None, *, now: datetime) -> bool:
    return (
        account is not None
        and account.sid == session.account_sid
        and account.status is AccountStatus.ACTIVE
        and session.expires_at > now
        and credential_fingerprint(account) == session.credential
    )
