"""WAL checkpoints of a SQLite database, on a thread of their own.

A checkpoint copies the pages committed to the write-ahead log back into the database file
and syncs it: tens of milliseconds for a few thousand pages. Left to SQLite, it runs inside
the COMMIT that crosses `wal_autocheckpoint`, on the event loop's thread, and every request
and job waits for it: it was the whole of the p99 of create → `delivered` at a moderate load
(~100 ms at 200 messages/s, 7 ms without; docs/benchmarks.md). Here a connection of its own
runs a PASSIVE checkpoint, which never blocks the writer or the reader, on a thread (sqlite3
lets go of the GIL meanwhile), started by a commit. Their pace follows the write load: each
copies about `TARGET_FRAMES` pages (the interval halves when one copied more than twice that,
and doubles when it copied less than half): fewer, larger checkpoints write each often-changed
page once instead of many times; smaller ones hold a shared core for less time.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from concurrent.futures import Future, ThreadPoolExecutor

_log = logging.getLogger(__name__)

TARGET_FRAMES = 4_000
INTERVAL_S = (0.25, 1.0, 10.0)
"""The shortest, first and longest time between two checkpoints."""
BACKSTOP_PAGES = 100_000
"""`wal_autocheckpoint` of the writer, in case checkpoints here fall behind (a reader that
holds an old snapshot for long): ~400 MiB of WAL before a COMMIT checkpoints on the loop."""


class Checkpointer:
    def __init__(self, path: str, *, busy_timeout_s: float) -> None:
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
        )
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textrelay-wal")
        self._running: Future[None] | None = None
        self._last = time.monotonic()
        self._interval_s = INTERVAL_S[1]
        self.restart_due = False
        """Set once a checkpoint here copied the whole log: the writer, before its next
        transaction, copies what was committed meanwhile (finish()), so that transaction
        starts the log over instead of growing it."""

    def committed(self) -> None:
        """After a COMMIT (on the loop): start a checkpoint if none ran for a while."""
        now = time.monotonic()
        if now - self._last < self._interval_s:
            return
        if self._running is not None and not self._running.done():
            return
        self._last = now
        self._running = self._thread.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            row = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # the next one tries again; the backstop bounds the WAL
            _log.warning("WAL checkpoint failed: %s", exc)
            return
        if row is None or row[0] or row[1] is None:
            return  # busy: the next one tries again
        frames = row[1]
        self.restart_due = frames > 0
        shortest, _, longest = INTERVAL_S
        if frames > 2 * TARGET_FRAMES:
            self._interval_s = max(self._interval_s / 2, shortest)
        elif frames < TARGET_FRAMES / 2:
            self._interval_s = min(self._interval_s * 2, longest)

    def finish(self, writer: sqlite3.Connection) -> None:
        """On the writer, between two of its transactions: copy the few pages committed since
        the last checkpoint here. SQLite starts the log over only in a write transaction that
        began with every page of the log copied, and the writer, committing all the time,
        never begins one after a checkpoint of another connection ends; without this the log
        grew without end (and every read got slower with it)."""
        if self._running is not None and not self._running.done():
            return  # one runs here now: the writer would wait for it
        self.restart_due = False
        try:
            writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            _log.warning("WAL checkpoint failed: %s", exc)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._conn.close()
