"""Starting textrelay servers of a test's own, for the fixtures that need several."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from textrelay.settings import Settings
from textrelay.testing import TextrelayServer


@contextmanager
def servers(
    database_url: Callable[[], str], media_root: Path
) -> Iterator[Callable[..., TextrelayServer]]:
    """A way to start servers (keyword arguments are Settings), each on `database_url()` with
    a media directory of its own under `media_root`; every one is stopped when the block
    ends."""
    started: list[TextrelayServer] = []

    def start(**settings: Any) -> TextrelayServer:
        settings.setdefault("media_dir", str(media_root / f"media-{len(started)}"))
        running = TextrelayServer(Settings(database_url=database_url(), **settings)).start()
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            running.stop()
