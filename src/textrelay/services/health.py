"""Whether this process answers, and whether it is ready to serve: what a load balancer or
an orchestrator asks before sending it traffic (`/healthz`, `/readyz`; docs/operations.md)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textrelay.services.carriers import CarrierSet
from textrelay.services.context import ServiceContext
from textrelay.services.errors import StorageFailure


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: dict[str, Check]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())


class HealthService:
    def __init__(self, ctx: ServiceContext, carriers: CarrierSet, *, runs_workers: bool) -> None:
        self._ctx = ctx
        self._carriers = carriers
        self._runs_workers = runs_workers
        self._runner: asyncio.Task[None] | None = None

    def runner_started(self, task: asyncio.Task[None]) -> None:
        """This process's job runner, whose task the readiness check looks at."""
        self._runner = task

    async def readiness(self) -> Readiness:
        return Readiness(
            {
                "database": await self._database(),
                "workers": self._workers_check(),
                "carriers": self._carriers_check(),
            }
        )

    async def _database(self) -> Check:
        try:
            async with self._ctx.store.read() as repo:
                pending = await repo.schema.pending()
        except StorageFailure as exc:
            return Check(False, f"unreachable: {exc}")
        if pending:
            return Check(False, f"migrations not applied: {', '.join(map(str, pending))}")
        return Check(True, "reachable and migrated")

    def _workers_check(self) -> Check:
        if not self._runs_workers:
            return Check(True, "none in this process (workers = false)")
        running = self._runner is not None and not self._runner.done()
        return Check(running, "running" if running else "not running")

    def _carriers_check(self) -> Check:
        live = [state for state in self._carriers.states() if state.binds]
        down = [state.name for state in live if not state.up]
        if down:
            return Check(False, f"not bound: {', '.join(down)}")
        return Check(True, f"{len(live)} bound" if live else "the simulator only")
