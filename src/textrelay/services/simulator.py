"""The simulator's settings: progression mode, delays, rules and prices, per account.

Each account may have settings of its own; an account without them uses its parent's (a
subaccount its main account's), and a top-level account the server-wide settings. The
server-wide settings are the default: only the server's main account (whose own settings they
are) and the operator (`--simulator-config`, `--simulator-mode` at start) change them, so no
tenant can change how another tenant's messages fare. Every process shares them through the
database; docs/simulator.md states the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from textrelay.domain import errors
from textrelay.domain.accounts import Account
from textrelay.domain.simulation import (
    ConfigError,
    SimulatorConfig,
    config_from_data,
    config_to_data,
    rule_from_data,
)
from textrelay.services.accounts import MAIN_ACCOUNT_KEY
from textrelay.services.cache import TtlCache
from textrelay.services.context import ServiceContext
from textrelay.storage import Repository

log = logging.getLogger(__name__)

_META_KEY = "simulator"
"""The server-wide settings, in the meta table (where they were before accounts had theirs)."""


class SimulatorService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        # The carrier reads an account's settings on every dispatch: each account's resolved
        # settings are kept for a second (services/cache.py), so another process's change is
        # seen within that. A change made through this process drops them all at once (it may
        # reach every account that inherits), and a resolution that overlapped it is not kept.
        self._resolved: TtlCache[str, SimulatorConfig] = TtlCache()
        self._main_sid: TtlCache[str, str] = TtlCache()
        self._changes = 0

    # --- reading ---------------------------------------------------------------------------

    async def config(self, account_sid: str | None) -> SimulatorConfig:
        """The settings the messages of `account_sid` are decided with: its own, else its
        parent's, else the server-wide ones (None: the server-wide ones)."""
        key = account_sid or ""
        cached = self._resolved.get(key)
        if cached is not None:
            return cached
        changes = self._changes
        async with self._ctx.store.read() as repo:
            resolved = await self._resolve(repo, account_sid)
        if changes == self._changes:
            self._resolved.put(key, resolved)
        return resolved

    async def is_main_account(self, account: Account) -> bool:
        """Whether `account` is the server's main account: the one whose settings are the
        server-wide default (who may change them: services/operator.py)."""
        return account.sid == await self._main_account_sid()

    async def _main_account_sid(self) -> str | None:
        return await self._main_sid.get_or_load(_META_KEY, self._load_main_account_sid)

    async def _load_main_account_sid(self, _key: str) -> str | None:
        async with self._ctx.store.read() as repo:
            return await repo.meta.get(MAIN_ACCOUNT_KEY)

    async def _resolve(self, repo: Repository, account_sid: str | None) -> SimulatorConfig:
        """`account_sid`'s settings (None: the server-wide ones), read through `repo`."""
        chain = await self._inheritance(repo, account_sid)
        own = await repo.simulator_settings.get_many(chain)
        for sid in chain:
            if sid in own:
                return _stored(own[sid])
        text = await repo.meta.get(_META_KEY)
        return SimulatorConfig() if text is None else _stored(text)

    async def _inheritance(self, repo: Repository, account_sid: str | None) -> list[str]:
        """The accounts whose own settings `account_sid` uses, nearest first, before the
        server-wide ones; empty for the server's main account, whose own those are."""
        main_sid = await self._main_account_sid()
        if account_sid is None or account_sid == main_sid:
            return []
        chain = [account_sid]
        account = await repo.accounts.get(account_sid)
        if account is not None and account.is_subaccount and account.owner_account_sid != main_sid:
            chain.append(account.owner_account_sid)
        return chain

    # --- changing --------------------------------------------------------------------------

    async def update(
        self, account: Account | None, data: Mapping[str, Any], *, replace_all: bool = False
    ) -> SimulatorConfig:
        """Change the settings named in `data` (all of them with `replace_all`) for `account`
        (None: the operator's server-wide settings). An account without settings of its own
        starts from those it inherits, and has its own from then on."""
        return await self._change(account, lambda base: _apply(data, base, replace_all))

    async def add_rule(self, account: Account | None, data: Mapping[str, Any]) -> SimulatorConfig:
        try:
            rule = rule_from_data(data)
        except ConfigError as exc:
            raise errors.InvalidSimulatorConfig(str(exc)) from None
        return await self._change(account, lambda base: replace(base, rules=(*base.rules, rule)))

    async def forget(self, account: Account) -> SimulatorConfig:
        """Drop `account`'s own settings, so that it inherits again; the server's main account
        goes back to the built-in defaults. The settings it is left with."""
        if await self.is_main_account(account):
            return await self.update(None, {}, replace_all=True)
        async with self._ctx.store.transaction() as repo:
            await repo.simulator_settings.delete(account.sid)
            config = await self._resolve(repo, account.sid)
        self._changed()
        return config

    async def _change(
        self, account: Account | None, change: Callable[[SimulatorConfig], SimulatorConfig]
    ) -> SimulatorConfig:
        """Read the settings `account` has now, `change` them, and keep them as its own,
        in one transaction."""
        scope = None if account is None or await self.is_main_account(account) else account
        async with self._ctx.store.transaction() as repo:
            config = change(await self._resolve(repo, None if scope is None else scope.sid))
            text = orjson.dumps(config_to_data(config)).decode()
            if scope is None:
                await repo.meta.set(_META_KEY, text)
            else:
                await repo.simulator_settings.set(scope.sid, text, at=self._ctx.now())
        self._changed()
        return config

    def _changed(self) -> None:
        self._changes += 1
        self._resolved.clear()


def _apply(data: Mapping[str, Any], base: SimulatorConfig, replace_all: bool) -> SimulatorConfig:
    try:
        return config_from_data(data, SimulatorConfig() if replace_all else base)
    except ConfigError as exc:
        raise errors.InvalidSimulatorConfig(str(exc)) from None


def _stored(text: str) -> SimulatorConfig:
    """Settings as stored. A rule that no longer loads (a pattern RE2 refuses, saved by a
    release that used Python's `re`) is left out with a warning, rather than failing every
    message the settings decide."""
    data = orjson.loads(text)
    try:
        return config_from_data(data)
    except ConfigError:
        kept = []
        for rule in data.get("rules") or []:
            try:
                rule_from_data(rule)
            except ConfigError as exc:
                log.warning("simulator rule %s is ignored: %s", rule, exc)
            else:
                kept.append(rule)
        return config_from_data({**data, "rules": kept})
