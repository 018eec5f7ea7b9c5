"""Bounded storage (`retention_days`): which messages are old enough to delete, and what one
batch of deletion removed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Messages created before this moment are past their retention."""
    return now - timedelta(days=days)


@dataclass(frozen=True, slots=True)
class SweptBatch:
    """What one transaction of the retention sweep deleted: the messages (with every row that
    belonged to them) and their media, whose bytes go once the transaction has committed."""

    message_sids: tuple[str, ...]
    media_sids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.message_sids)
