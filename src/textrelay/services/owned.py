"""The one look-up of a resource an account owns, by the SID a caller gave.

A SID of another kind, an unknown SID and another account's SID all answer alike, so a caller
learns nothing about resources it may not see (Twilio's 20404: shared/twilio/api-core.md §4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from textrelay.domain import errors
from textrelay.domain.accounts import Account
from textrelay.domain.sids import SidType, is_sid, normalize
from textrelay.services.context import ServiceContext
from textrelay.storage import Repository


class Owned(Protocol):
    @property
    def account_sid(self) -> str: ...


OwnedT = TypeVar("OwnedT", bound=Owned)
OwnedT_co = TypeVar("OwnedT_co", bound=Owned, covariant=True)


class BySid(Protocol[OwnedT_co]):
    """A store that fetches its rows by SID (`repo.keys`, `repo.numbers`, …)."""

    async def get(self, sid: str) -> OwnedT_co | None: ...


async def find_owned(
    ctx: ServiceContext,
    account: Account,
    sid: str,
    store: Callable[[Repository], BySid[OwnedT]],
    *kinds: SidType,
) -> OwnedT | None:
    """The resource `sid` names in `store` if it is one of `kinds` and `account` owns it;
    None otherwise."""
    if not is_sid(sid, *kinds):
        return None
    async with ctx.store.read() as repo:
        found = await store(repo).get(normalize(sid))
    if found is None or found.account_sid != account.sid:
        return None
    return found


async def get_owned(
    ctx: ServiceContext,
    account: Account,
    sid: str,
    store: Callable[[Repository], BySid[OwnedT]],
    *kinds: SidType,
) -> OwnedT:
    """As `find_owned`, with NotFound (20404) when there is nothing to answer."""
    found = await find_owned(ctx, account, sid, store, *kinds)
    if found is None:
        raise errors.NotFound()
    return found
