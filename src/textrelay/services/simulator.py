"""The simulator's settings: progression mode, delays, rules and prices, shared by every
process through the database and changeable at run time (API, CLI, settings file at start)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from textrelay.domain import errors
from textrelay.domain.simulation import (
    ConfigError,
    SimulatorConfig,
    config_from_data,
    config_to_data,
    rule_from_data,
)
from textrelay.services.cache import TtlCache
from textrelay.services.context import ServiceContext

_META_KEY = "simulator"


class SimulatorService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        # Other processes' changes are seen within a second (docs/simulator.md).
        self._cache: TtlCache[str, SimulatorConfig] = TtlCache()

    async def config(self) -> SimulatorConfig:
        config = await self._cache.get_or_load(_META_KEY, self._load)
        return config or SimulatorConfig()

    async def _load(self, _key: str) -> SimulatorConfig:
        async with self._ctx.store.read() as repo:
            text = await repo.meta.get(_META_KEY)
        if text is None:
            return SimulatorConfig()
        return config_from_data(orjson.loads(text))

    async def update(
        self, data: Mapping[str, Any], *, replace_all: bool = False
    ) -> SimulatorConfig:
        """Change the settings named in `data` (all of them with `replace_all`)."""
        base = SimulatorConfig() if replace_all else await self._load(_META_KEY)
        try:
            config = config_from_data(data, base)
        except ConfigError as exc:
            raise errors.InvalidSimulatorConfig(str(exc)) from None
        await self._save(config)
        return config

    async def add_rule(self, data: Mapping[str, Any]) -> SimulatorConfig:
        try:
            rule = rule_from_data(data)
        except ConfigError as exc:
            raise errors.InvalidSimulatorConfig(str(exc)) from None
        base = await self._load(_META_KEY)
        config = replace(base, rules=(*base.rules, rule))
        await self._save(config)
        return config

    async def _save(self, config: SimulatorConfig) -> None:
        async with self._ctx.store.transaction() as repo:
            await repo.meta.set(_META_KEY, orjson.dumps(config_to_data(config)).decode())
        self._cache.put(_META_KEY, config)
