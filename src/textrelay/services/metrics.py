"""The process's metrics, in Prometheus's text format (`/metrics`; docs/operations.md,
"Metrics").

Two kinds. What this process did and holds (API requests, statuses its commits entered,
webhook attempts, media fetches; its carriers' binds and its database pool), kept in a
registry of its own: several servers in one Python process (the test suite) never mix
theirs, and each node is scraped on its own. And the job queue's gauges, read at scrape time
from the database every process shares, so any node answers them alike: aggregate those with
`max`, never `sum`. The serving processes of one `serve --processes N` show each other their
own series (storage/metrics_snapshots.py), so `/metrics` on the API's port, answered by any
of them, has every process's, each labelled `process`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from textrelay.domain.carriers import CarrierState
from textrelay.domain.jobs import JobKind, QueueDepth
from textrelay.domain.media import FetchedMedia, MediaFailure
from textrelay.domain.statuses import MessageStatus
from textrelay.domain.webhooks import WebhookOutcome, WebhookRequest
from textrelay.services.context import ServiceContext
from textrelay.services.ports import MediaFetcher, WebhookTransport

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# API answers take a millisecond; webhooks and media fetches up to their 15 s timeouts.
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_REMOTE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)


class Metrics:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self.carrier_states: Callable[[], list[CarrierState]] = list
        """This process's carriers (CarrierRecords.states), once they are built."""
        self.registry = CollectorRegistry(auto_describe=False)
        registry = self.registry
        self._requests = Counter(
            "textrelay_http_requests",
            "API and console requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=registry,
        )
        self._request_seconds = Histogram(
            "textrelay_http_request_duration_seconds",
            "Time to answer a request, by route template and method.",
            ("route", "method"),
            buckets=_REQUEST_BUCKETS,
            registry=registry,
        )
        self._statuses = Counter(
            "textrelay_messages",
            "Messages that entered each status in this process (created in it or changed to "
            "it), by error code ('' for none).",
            ("status", "error_code"),
            registry=registry,
        )
        self._webhooks = Counter(
            "textrelay_webhook_attempts",
            "HTTP attempts of webhooks, by kind (status_callback, inbound) and outcome "
            "(success, 4xx, 5xx, timeout, connect_error, other).",
            ("kind", "outcome"),
            registry=registry,
        )
        self._webhook_seconds = Histogram(
            "textrelay_webhook_duration_seconds",
            "Time of one webhook attempt, by kind.",
            ("kind",),
            buckets=_REMOTE_BUCKETS,
            registry=registry,
        )
        self._media = Counter(
            "textrelay_media_fetches",
            "MMS media fetched from a MediaUrl, by outcome (success or the error code).",
            ("outcome",),
            registry=registry,
        )
        self._media_seconds = Histogram(
            "textrelay_media_fetch_duration_seconds",
            "Time to fetch one MediaUrl.",
            buckets=_REMOTE_BUCKETS,
            registry=registry,
        )
        self._process = _ProcessState()
        registry.register(self._process)
        self.process_registry = CollectorRegistry(auto_describe=False)
        """This process's own series: everything but the queue's."""
        for own in (
            self._requests,
            self._request_seconds,
            self._statuses,
            self._webhooks,
            self._webhook_seconds,
            self._media,
            self._media_seconds,
            self._process,
        ):
            self.process_registry.register(own)
        self._queue = _QueueState()
        registry.register(self._queue)
        self._process_index = 0
        self._siblings: Callable[[], list[tuple[int, bytes]]] | None = None
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._status_children: dict[tuple[MessageStatus, int | None], Counter] = {}
        self._webhook_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    # --- what this process does ----------------------------------------------------------

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:  # labels() takes a lock and builds a tuple: once per key
            children = (
                self._requests.labels(route, method, str(status)),
                self._request_seconds.labels(route, method),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def statuses(self, entered: list[tuple[MessageStatus, int | None]]) -> None:
        children = self._status_children
        for key in entered:
            child = children.get(key)
            if child is None:
                status, error_code = key
                label = "" if error_code is None else str(error_code)
                child = children[key] = self._statuses.labels(status.value, label)
            child.inc()

    def webhook_attempts(self, kind: str, outcome: WebhookOutcome) -> None:
        children = self._webhook_children
        for attempt in outcome.attempts:
            if attempt.succeeded:
                label = "success"
            elif attempt.failure is not None:
                label = _FAILURES.get(attempt.failure.value, "other")
            else:
                label = "other"
            pair = children.get((kind, label))
            if pair is None:  # as for requests: labels() once per key
                pair = children[kind, label] = (
                    self._webhooks.labels(kind, label),
                    self._webhook_seconds.labels(kind),
                )
            pair[0].inc()
            pair[1].observe(attempt.latency_ms / 1000)

    def media_fetch(self, result: FetchedMedia | MediaFailure, seconds: float) -> None:
        outcome = "success" if isinstance(result, FetchedMedia) else str(result.code)
        self._media.labels(outcome).inc()
        self._media_seconds.observe(seconds)

    # --- the exposition --------------------------------------------------------------------

    def share_with_siblings(
        self, index: int, siblings: Callable[[], list[tuple[int, bytes]]]
    ) -> None:
        """This is serving process `index` of several; `siblings()` gives the others' own
        series, as (index, exposition)."""
        self._process_index, self._siblings = index, siblings

    async def exposition(self, *, every_process: bool = False) -> bytes:
        """Every metric, with the queue read now. `every_process`: with the other serving
        processes' own series too, each process's labelled `process` (this one's live, the
        others' as they last wrote them)."""
        async with self._ctx.store.read() as repo:
            depths = await repo.jobs.depths()
        self._queue.refresh(depths, self._ctx.clock())
        if not every_process or self._siblings is None:
            self._refresh_process()
            return generate_latest(self.registry)
        merged = CollectorRegistry(auto_describe=False)
        own = self.process_exposition()
        merged.register(LabelledByProcess([(self._process_index, own), *self._siblings()]))
        merged.register(self._queue)
        return generate_latest(merged)

    def process_exposition(self) -> bytes:
        """This process's own series (no queue): what the other serving processes show."""
        self._refresh_process()
        return generate_latest(self.process_registry)

    def _refresh_process(self) -> None:
        self._process.refresh(self.carrier_states(), self._ctx.store.database.pool_use())


_FAILURES = {"ct": "connect_error", "rt": "timeout", "4xx": "4xx", "5xx": "5xx"}


class LabelledByProcess(Collector):
    """Several processes' own series, from their expositions, each labelled `process`."""

    def __init__(self, expositions: list[tuple[int, bytes]]) -> None:
        self._expositions = expositions

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for index, exposition in self._expositions:
            process = str(index)
            try:
                parsed = list(text_string_to_metric_families(exposition.decode()))
            except ValueError:  # not ours to fail a scrape over: that process is left out
                log.warning("the metrics of serving process %d could not be read", index)
                continue
            for family in parsed:
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                for sample in family.samples:
                    merged.add_sample(
                        sample.name, {**sample.labels, "process": process}, sample.value
                    )
        yield from families.values()


class _QueueState(Collector):
    """The job queue's gauges, every process's, as last read (`refresh`, before a scrape)."""

    def __init__(self) -> None:
        self._depths: list[QueueDepth] = []
        self._now: datetime | None = None

    def refresh(self, depths: list[QueueDepth], now: datetime) -> None:
        self._depths, self._now = depths, now

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "textrelay_queue_jobs",
            "Jobs not yet done, every process's, by kind and state (waiting, running, parked).",
            labels=("kind", "state"),
        )
        age = GaugeMetricFamily(
            "textrelay_queue_oldest_due_age_seconds",
            "How long the oldest waiting job of each kind has been due (0: none overdue).",
            labels=("kind",),
        )
        found = {depth.kind: depth for depth in self._depths}
        for job_kind in JobKind:  # every kind, so an empty queue reads 0, not "no data"
            depth = found.get(job_kind, QueueDepth(job_kind, 0, 0, 0, None))
            kind = job_kind.value
            jobs.add_metric((kind, "waiting"), depth.waiting)
            jobs.add_metric((kind, "running"), depth.running)
            jobs.add_metric((kind, "parked"), depth.parked)
            overdue = 0.0
            if depth.oldest_due_at is not None and self._now is not None:
                overdue = max(0.0, (self._now - depth.oldest_due_at).total_seconds())
            age.add_metric((kind,), overdue)
        yield jobs
        yield age


class _ProcessState(Collector):
    """This process's carriers and database pool, as last read (`refresh`)."""

    def __init__(self) -> None:
        self._carriers: list[CarrierState] = []
        self._pool: tuple[int, int] | None = None

    def refresh(self, carriers: list[CarrierState], pool: tuple[int, int] | None) -> None:
        self._carriers, self._pool = carriers, pool

    def collect(self) -> Iterator[Metric]:
        yield from self._carrier_metrics()
        if self._pool is not None:
            pool = GaugeMetricFamily(
                "textrelay_db_pool_connections",
                "PostgreSQL connections of this process's pool, by state (open, in_use).",
                labels=("state",),
            )
            pool.add_metric(("open",), self._pool[0])
            pool.add_metric(("in_use",), self._pool[1])
            yield pool

    def _carrier_metrics(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "textrelay_carrier_up",
            "1 if the carrier has a bind up (or needs none).",
            labels=("carrier",),
        )
        bound = GaugeMetricFamily(
            "textrelay_carrier_bind_up", "1 if the bind is bound.", labels=("carrier", "bind")
        )
        in_flight = GaugeMetricFamily(
            "textrelay_carrier_in_flight",
            "Submits sent on the bind and not yet answered.",
            labels=("carrier", "bind"),
        )
        totals = CounterMetricFamily(
            "textrelay_carrier_events",
            "What this process exchanged with each carrier since it started, by what "
            "(submitted, rejected, receipts, unmatched, received…).",
            labels=("carrier", "what"),
        )
        for state in self._carriers:
            up.add_metric((state.name,), 1.0 if state.up else 0.0)
            for bind in state.binds:
                bound.add_metric((state.name, bind.name), 1.0 if bind.bound else 0.0)
                in_flight.add_metric((state.name, bind.name), bind.in_flight)
            for what, count in sorted(state.counters.items()):
                totals.add_metric((state.name, what), count)
        yield from (up, bound, in_flight, totals)


class MeteredWebhooks:
    """A WebhookTransport that counts and times each attempt of one kind of webhook."""

    def __init__(self, transport: WebhookTransport, metrics: Metrics, kind: str) -> None:
        self._transport = transport
        self._metrics = metrics
        self._kind = kind

    async def deliver(self, request: WebhookRequest) -> WebhookOutcome:
        outcome = await self._transport.deliver(request)
        self._metrics.webhook_attempts(self._kind, outcome)
        return outcome


class MeteredMediaFetcher:
    """A MediaFetcher that counts and times each fetch."""

    def __init__(self, fetcher: MediaFetcher, metrics: Metrics) -> None:
        self._fetcher = fetcher
        self._metrics = metrics

    async def fetch(
        self, url: str, budget_bytes: int, *, auth: tuple[str, str] | None = None
    ) -> FetchedMedia | MediaFailure:
        started = time.perf_counter()
        result = await self._fetcher.fetch(url, budget_bytes, auth=auth)
        self._metrics.media_fetch(result, time.perf_counter() - started)
        return result
