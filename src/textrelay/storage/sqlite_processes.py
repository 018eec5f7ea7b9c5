"""Several processes on one SQLite file: whose turn it is to write, and who else is there.

SQLite lets one connection write at a time and makes the others wait in its busy handler,
which sleeps 1, 2, 5, 10… ms between tries on the calling thread: here the event loop's, so
a process waiting for another's COMMIT stopped answering anything (issue 16 #2 measured a
`serve --no-workers` beside a `worker` at a third of one process's create rate). Instead,
every textrelay process on the file takes an advisory lock (`flock`) on a file beside it
before its batch's BEGIN and lets go after the COMMIT. When the lock is free, taking it is
one system call on the loop; when another process holds it, a thread of its own waits, the
loop goes on serving (and queueing transactions for the next batch), and the kernel wakes
the waiter the moment the holder lets go, not at the next sleep's end. A process that dies
lets go with its last file descriptor, so nobody waits for the dead.

A second file says whether a process is the first on the database: every process holds a
shared lock on it for its life, so one that can lock it exclusively as it opens is alone,
and the claims it finds belong to processes that died. It takes them all back before it lets
the others open (SqliteDatabase), so no live process's claim is ever taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from concurrent.futures import ThreadPoolExecutor

WRITE_LOCK_SUFFIX = "-textrelay-write"
MEMBERS_SUFFIX = "-textrelay-members"


def _open_private(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


class WriteTurn:
    """The database's one write turn among textrelay processes (flock on a file beside it).

    Held from a batch's BEGIN to its COMMIT; within a process the batch's asyncio lock
    already keeps a second batch out, so this lock is taken once at a time here."""

    def __init__(self, database_path: str) -> None:
        self._fd = _open_private(database_path + WRITE_LOCK_SUFFIX)
        self._waiter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textrelay-turn")
        self.waits = 0
        """How often this process found another holding the turn (for tests and benches)."""

    async def take(self) -> bool:
        """Hold the turn; True when the caller was cancelled while waiting for it. The wait
        is not cut short by a cancellation: a thread would take the turn later with nobody
        to give it back. So it is finished, and the caller, holding the turn, opens its batch
        (whose COMMIT gives the turn back, empty or not) before it raises CancelledError."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            pass
        self.waits += 1
        waiting = asyncio.get_running_loop().run_in_executor(
            self._waiter, fcntl.flock, self._fd, fcntl.LOCK_EX
        )
        cancelled = False
        while True:
            try:
                await asyncio.shield(waiting)
            except asyncio.CancelledError:
                if waiting.cancelled():  # the executor shut down: never taken
                    raise
                cancelled = True
                continue
            return cancelled

    def give_back(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._waiter.shutdown(wait=False, cancel_futures=True)
        os.close(self._fd)


class Members:
    """The processes open on a database file: each holds a shared lock on a file beside it
    for its life. One that can lock it exclusively as it opens is the first (nobody else has
    the file open) and keeps others waiting to open until it calls `let_others_in()`."""

    def __init__(self, database_path: str) -> None:
        self._fd = _open_private(database_path + MEMBERS_SUFFIX)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.first = False
            # Waits while a first process opens (milliseconds: it only takes back claims).
            fcntl.flock(self._fd, fcntl.LOCK_SH)
        else:
            self.first = True

    def let_others_in(self) -> None:
        """The first process, done with what it does alone: from exclusive to shared."""
        if self.first:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
