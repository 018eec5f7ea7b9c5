"""`/metrics` (issue 15 #2): who may read it, and that each family counts what happened, on
both databases; `--metrics-port` in `serve` and in `worker`."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import ACCOUNT_SID, AUTH_TOKEN, ServerProcess, carriers_without_smsc, free_port
from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.testing import TextrelayServer

ADMIN_TOKEN = secrets.token_hex(32)
MESSAGES_ROUTE = "/2010-04-01/Accounts/{account_sid}/Messages.json"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _scrape(server: TextrelayServer) -> Samples:
    answer = httpx.get(
        server.base_url + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return _samples(answer.text)


def test_metrics_are_the_operators_and_in_emulator_mode_the_main_accounts(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    for mode in ("emulator", "gateway"):
        server = isolated_server(deployment_mode=mode, admin_token=ADMIN_TOKEN)
        main = server.main_account
        other = server.new_account("a tenant")
        url = server.base_url + "/metrics"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, auth=(other.sid, other.auth_token)).status_code == 403
        by_main = httpx.get(url, auth=(main.sid, main.auth_token))
        assert by_main.status_code == (200 if mode == "emulator" else 403), mode
        wrong = httpx.get(url, headers={"Authorization": "Bearer " + "0" * 64})
        assert wrong.status_code == 401
        operator = httpx.get(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert operator.status_code == 200


def test_requests_statuses_callbacks_and_the_queue_are_counted(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server(admin_token=ADMIN_TOKEN)
    account = server.new_account("metrics")
    client = server.client(account)
    sender = client.incoming_phone_numbers.create(area_code="415").phone_number
    receiver.answer("/broken", "no", status=500, content_type="text/plain")
    sids = []
    for index in range(6):
        path = "/ok" if index < 4 else "/broken"
        message = client.messages.create(
            to=f"+1415555{index:04d}",
            from_=sender,
            body="counted",
            status_callback=receiver.url(path),
        )
        sids.append(message.sid)
    for sid in sids[:4]:
        assert receiver.statuses(sid, count=2) == ["sent", "delivered"]
    httpx.get(server.base_url + "/2010-04-01/Accounts/" + account.sid + "/Messages/SMnot.json")

    def settled(samples: Samples) -> bool:
        delivered = _value(samples, "textrelay_messages_total", status="delivered", error_code="")
        failed_attempts = _value(
            samples, "textrelay_webhook_attempts_total", kind="status_callback", outcome="5xx"
        )
        # Two statuses of the two messages whose receiver is broken, each tried at least once.
        return delivered == 6 and failed_attempts >= 4

    samples = eventually(
        lambda: _scrape(server), settled, timeout_s=15, what="every message delivered, counted"
    )
    created = {"route": MESSAGES_ROUTE, "method": "POST", "status": "201"}
    assert _value(samples, "textrelay_http_requests_total", **created) == 6
    assert (
        _value(
            samples,
            "textrelay_http_request_duration_seconds_count",
            route=MESSAGES_ROUTE,
            method="POST",
        )
        == 6
    )
    assert _value(samples, "textrelay_messages_total", status="queued", error_code="") == 6
    assert _value(samples, "textrelay_messages_total", status="sent", error_code="") == 6
    assert (
        _value(
            samples, "textrelay_webhook_attempts_total", kind="status_callback", outcome="success"
        )
        == 8
    )
    # Routes are templates: no SID or number ever becomes a label value.
    routes = {dict(labels).get("route", "") for _name, labels in samples}
    assert not [r for r in routes if re.search(r"(AC|SM)[0-9a-f]{32}|\+\d", r)], routes
    assert "/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json" in routes
    # The queue: every kind is shown, and nothing waits once all is delivered.
    for kind in ("dispatch", "carrier", "callback", "inbound", "auto_reply"):
        assert (
            "textrelay_queue_jobs",
            frozenset({("kind", kind), ("state", "waiting")}),
        ) in samples
    assert _value(samples, "textrelay_carrier_up", carrier="simulator") == 1


def test_the_oldest_waiting_job_shows_its_age(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(admin_token=ADMIN_TOKEN, workers=False)
    account = server.new_account("a queue nobody works")
    client = server.client(account)
    sender = client.incoming_phone_numbers.create(area_code="415").phone_number
    client.messages.create(to="+14155550100", from_=sender, body="waits")
    time.sleep(1.2)
    samples = _scrape(server)
    assert _value(samples, "textrelay_queue_jobs", kind="dispatch", state="waiting") >= 1
    assert _value(samples, "textrelay_queue_oldest_due_age_seconds", kind="dispatch") >= 1.0


def test_a_carrier_without_a_bind_up_reads_0(
    isolated_server: Callable[..., TextrelayServer], tmp_path: Path
) -> None:
    carriers = carriers_without_smsc(tmp_path)
    server = isolated_server(admin_token=ADMIN_TOKEN, carriers=str(carriers))
    samples = _scrape(server)
    assert _value(samples, "textrelay_carrier_up", carrier="smsc1") == 0
    binds = [
        value
        for (name, labels), value in samples.items()
        if name == "textrelay_carrier_bind_up" and ("carrier", "smsc1") in labels
    ]
    assert binds == [0.0]


def test_the_metrics_port_serves_without_credentials(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(metrics_port=0)
    assert server.runtime is not None
    assert server.runtime.metrics_port is not None
    base = f"http://127.0.0.1:{server.runtime.metrics_port.port}"
    answer = httpx.get(base + "/metrics")
    assert answer.status_code == 200
    assert "textrelay_queue_jobs" in answer.text
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}
    assert httpx.get(base + "/2010-04-01/Accounts.json").status_code == 404


def test_a_worker_process_shows_the_webhooks_it_sent_on_its_metrics_port(
    fresh_database: Callable[[], str], tmp_path: Path, receiver: Receiver
) -> None:
    url = fresh_database()
    api = ServerProcess(url, log_path=tmp_path / "serve.log", workers="false").start()
    port = free_port()
    worker = ServerProcess(
        url, log_path=tmp_path / "worker.log", command="worker", metrics_port=str(port)
    ).start()
    try:
        with httpx.Client(base_url=api.base_url, auth=(ACCOUNT_SID, AUTH_TOKEN)) as http:
            number = http.post(
                f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json",
                data={"AreaCode": "415"},
            ).json()["phone_number"]
            sid = http.post(
                f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
                data={
                    "To": "+14155550100",
                    "From": number,
                    "Body": "from the worker",
                    "StatusCallback": receiver.url(),
                },
            ).json()["sid"]
        assert receiver.statuses(sid, count=2, timeout_s=20) == ["sent", "delivered"]

        def callbacks_sent() -> float:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            return _value(
                _samples(text),
                "textrelay_webhook_attempts_total",
                kind="status_callback",
                outcome="success",
            )

        eventually(callbacks_sent, lambda n: n == 2, timeout_s=10, what="the 2 callbacks")
    finally:
        worker.stop()
        api.stop()
