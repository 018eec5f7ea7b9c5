"""`/healthz` and `/readyz` (issue 15 #2): unauthenticated probes for load balancers and
orchestrators; `/readyz` names what keeps the process from serving."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.processes import carriers_without_smsc
from textrelay.testing import TextrelayServer


def _get(server: TextrelayServer, path: str) -> httpx.Response:
    return httpx.get(server.base_url + path, timeout=10)


def test_healthz_answers_without_credentials(server: TextrelayServer) -> None:
    answer = _get(server, "/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_says_ready_with_each_check(server: TextrelayServer) -> None:
    answer = _get(server, "/readyz")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    assert body["ready"] is True
    assert body["checks"] == {
        "database": {"ok": True, "detail": "reachable and migrated"},
        "workers": {"ok": True, "detail": "running"},
        "carriers": {"ok": True, "detail": "the simulator only"},
    }


def test_readyz_is_503_naming_a_carrier_with_no_bind_up(
    isolated_server: Callable[..., TextrelayServer], tmp_path: Path
) -> None:
    carriers = carriers_without_smsc(tmp_path)
    down = isolated_server(carriers=str(carriers))
    answer = _get(down, "/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["ready"] is False
    assert body["checks"]["carriers"] == {"ok": False, "detail": "not bound: smsc1"}
    assert body["checks"]["database"]["ok"] is True


def test_readyz_of_a_process_without_workers_does_not_count_them(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    api_only = isolated_server(workers=False)
    answer = _get(api_only, "/readyz")
    assert answer.status_code == 200
    assert answer.json()["checks"]["workers"] == {
        "ok": True,
        "detail": "none in this process (workers = false)",
    }
