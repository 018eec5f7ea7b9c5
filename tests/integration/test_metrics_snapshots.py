"""The files through which the serving processes of `serve --processes N` show each other
their metrics (storage/metrics_snapshots.py), on the real filesystem."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from textrelay.storage.metrics_snapshots import ProcessSnapshots, snapshot_directory


def _dead_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def test_each_process_reads_the_others_files_and_not_its_own() -> None:
    with snapshot_directory() as directory:
        first, second, third = (ProcessSnapshots(directory, index, 3) for index in range(3))
        assert first.others() == []  # nobody has written yet
        second.write(b"second 1\n")
        first.write(b"first 1\n")
        assert first.others() == [(1, b"second 1\n")]
        second.write(b"second 2\n")  # replaced whole
        assert third.others() == [(0, b"first 1\n"), (1, b"second 2\n")]
        assert not list(directory.glob("*.partial"))
    assert not directory.exists()  # removed with its files when the supervisor ends


def test_a_directory_whose_supervisor_died_is_removed_by_the_next() -> None:
    parent = Path(tempfile.gettempdir())
    orphan = Path(tempfile.mkdtemp(prefix=f"textrelay-metrics-{_dead_pid()}-", dir=parent))
    (orphan / "process-0.prom").write_bytes(b"left 1\n")
    living = Path(tempfile.mkdtemp(prefix=f"textrelay-metrics-{os.getpid()}-", dir=parent))
    try:
        with snapshot_directory() as directory:
            assert directory.exists()
            assert not orphan.exists()
            assert living.exists()  # its supervisor (here, this process) still runs
    finally:
        for path in (orphan, living):
            shutil.rmtree(path, ignore_errors=True)
