"""How a storage failure reaches the drivers (API, console, workers, CLI): as one of these,
never as an adapter's own exception. The Store raises them through `service_failure`."""

from __future__ import annotations

from textrelay.storage import ChangeRefused, IntegrityConflict, StorageError


class StorageFailure(Exception):
    """The database (or the media directory) failed; the request may be tried again."""


class WriteConflict(StorageFailure):
    """A write collided with another (a unique number or sender taken meanwhile)."""


class ChangeNotApplied(StorageFailure):
    """A one-statement change found something it writes changed meanwhile (a job's lease
    lost, a message's status moved on): none of it was written."""


def service_failure(exc: StorageError) -> StorageFailure:
    if isinstance(exc, ChangeRefused):
        return ChangeNotApplied(str(exc))
    if isinstance(exc, IntegrityConflict):
        return WriteConflict(str(exc))
    return StorageFailure(str(exc))
