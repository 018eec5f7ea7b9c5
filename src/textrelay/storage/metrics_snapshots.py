"""The serving processes of one `serve --processes N` show each other their metrics, and
their carriers' binds.

`/metrics` on the API's port (and the carriers' state) is answered by whichever process the
kernel gave the connection to. So that every answer covers the whole server, each process
writes its own part (Prometheus's text format; the carriers' state as JSON) to a file of its
own in a directory the supervisor made, every SNAPSHOT_INTERVAL_S, and the answering process
adds the others' files to its own live part (services/metrics.py, services/carrier_records.py).
A file is written beside and renamed into place, so a reader never sees half of one; a
process being replaced leaves its last file until the new one writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SNAPSHOT_INTERVAL_S = 1.0
"""How old another process's series can be in an answer, at most (plus a scrape's time)."""

_log = logging.getLogger(__name__)


_PREFIX = "textrelay-metrics-"


@contextmanager
def snapshot_directory() -> Iterator[Path]:
    """A directory for the processes' files, owner-only, removed with everything in it when
    the block ends (in the supervisor: serving processes leave by `os._exit`). Its name
    carries the supervisor's pid: a supervisor killed with SIGKILL cannot remove its own,
    so the next one removes those whose supervisor is gone."""
    _remove_orphans(Path(tempfile.gettempdir()))
    path = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _remove_orphans(parent: Path) -> None:
    for path in parent.glob(f"{_PREFIX}*-*"):
        pid = path.name.removeprefix(_PREFIX).split("-", 1)[0]
        try:
            if not pid.isdigit() or path.stat().st_uid != os.getuid() or _alive(int(pid)):
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: not ours to judge
    return True


@dataclass(frozen=True)
class ProcessSnapshots:
    directory: Path
    index: int
    """This process's, 0 … count - 1."""
    count: int
    suffix: str = ".prom"
    """What the files hold: `.prom` the metrics, `.carriers.json` the carriers' state."""

    def _path(self, index: int) -> Path:
        return self.directory / f"process-{index}{self.suffix}"

    def write(self, exposition: bytes) -> None:
        path = self._path(self.index)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(exposition)
        os.replace(partial, path)

    def others(self) -> list[tuple[int, bytes]]:
        """(index, exposition) of every other process that has written its file."""
        found = []
        for index in range(self.count):
            if index == self.index:
                continue
            try:
                found.append((index, self._path(index).read_bytes()))
            except FileNotFoundError:
                continue  # still starting
        return found

    async def keep_writing(self, exposition: Callable[[], bytes]) -> None:
        """Write this process's part every SNAPSHOT_INTERVAL_S, until cancelled."""
        while True:
            try:
                self.write(exposition())
            except OSError as exc:  # a full disk, say: the others show older figures
                _log.warning("cannot write this process's %s for the others: %s", self.suffix, exc)
            await asyncio.sleep(SNAPSHOT_INTERVAL_S)
