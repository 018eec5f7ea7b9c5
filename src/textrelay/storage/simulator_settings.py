"""Each account's own simulator settings, as the JSON of the control API's Simulator resource.

An account without a row inherits (services/simulator.py resolves); the server-wide default
stays in the meta table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import to_us


class SimulatorSettingsStore(TableStore):
    __slots__ = ()

    async def get_many(self, account_sids: Sequence[str]) -> dict[str, str]:
        """The settings of those of `account_sids` that have their own, by SID."""
        if not account_sids:
            return {}
        names = {f"sid{i}": sid for i, sid in enumerate(account_sids)}
        placeholders = ", ".join(f":{name}" for name in names)
        rows = await self._conn.fetch_all(
            "SELECT account_sid, settings FROM simulator_settings "
            f"WHERE account_sid IN ({placeholders})",
            names,
        )
        return {str(row["account_sid"]): str(row["settings"]) for row in rows}

    async def set(self, account_sid: str, settings: str, *, at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO simulator_settings (account_sid, settings, updated_at) "
            "VALUES (:account, :settings, :at) ON CONFLICT (account_sid) "
            "DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
            {"account": account_sid, "settings": settings, "at": to_us(at)},
        )

    async def delete(self, account_sid: str) -> bool:
        """Forget the account's own settings (it inherits again); whether it had any."""
        count = await self._conn.execute(
            "DELETE FROM simulator_settings WHERE account_sid = :account",
            {"account": account_sid},
        )
        return count > 0
