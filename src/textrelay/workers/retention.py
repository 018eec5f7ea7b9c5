"""The retention sweep's schedule: at start, every hour, and whenever the server's clock moves
(docs/operations.md, "Retention"). Run by every process that runs workers; on PostgreSQL
several sweeping at once share the work (services/retention.py)."""

from __future__ import annotations

import logging

from textrelay.services.clock import AdjustableClock
from textrelay.services.errors import StorageFailure
from textrelay.services.retention import RetentionService

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 3600.0
"""A message outlives its retention by an hour at most: retention is counted in days."""


async def keep_retention(
    retention: RetentionService, clock: AdjustableClock, *, every_s: float = SWEEP_EVERY_S
) -> None:
    """Sweep until cancelled. The cutoff is measured on the server's clock, the one that
    stamped each message's date_created: moving it forward (the control API's Clock) ages
    messages as it ages schedules, and wakes this loop at once."""
    while True:
        moved = clock.moved.generation
        try:
            deleted = await retention.sweep(clock())
        except StorageFailure as exc:  # a lock it would not wait for, a database away
            log.warning("the retention sweep stopped early, to resume later: %s", exc)
        except Exception:
            log.exception("the retention sweep failed")
        else:
            if deleted:
                log.info(
                    "retention: deleted %d messages older than %d days", deleted, retention.days
                )
        await clock.moved.wait(every_s, since=moved)
