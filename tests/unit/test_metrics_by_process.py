"""Every serving process's own series in one answer (services/metrics.py LabelledByProcess):
what `/metrics` on the API's port of `serve --processes N` is made of."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from textrelay.services.metrics import LabelledByProcess


def _exposition(requests: int, seconds: float) -> bytes:
    registry = CollectorRegistry()
    counter = Counter("textrelay_http_requests", "Requests.", ("route",), registry=registry)
    counter.labels("/a").inc(requests)
    histogram = Histogram("textrelay_x_seconds", "Time.", buckets=(1.0,), registry=registry)
    histogram.observe(seconds)
    return generate_latest(registry)


def _samples(collector: LabelledByProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_each_process_keeps_its_series_under_its_own_label() -> None:
    samples = _samples(LabelledByProcess([(0, _exposition(3, 0.5)), (1, _exposition(5, 2.0))]))
    requests = {
        ("textrelay_http_requests_total", frozenset({("route", "/a"), ("process", p)}))
        for p in ("0", "1")
    }
    assert requests <= samples.keys()
    assert (
        samples["textrelay_http_requests_total", frozenset({("route", "/a"), ("process", "0")})]
        == 3
    )
    assert (
        samples["textrelay_http_requests_total", frozenset({("route", "/a"), ("process", "1")})]
        == 5
    )
    bucket = "textrelay_x_seconds_bucket"
    assert samples[bucket, frozenset({("le", "1.0"), ("process", "0")})] == 1
    assert samples[bucket, frozenset({("le", "1.0"), ("process", "1")})] == 0
    assert all("process" in dict(labels) for _name, labels in samples)


def test_a_process_whose_series_cannot_be_read_is_left_out_not_fatal() -> None:
    samples = _samples(LabelledByProcess([(0, _exposition(3, 0.5)), (1, b"textrelay_broken{ 1\n")]))
    processes = {dict(labels)["process"] for _name, labels in samples}
    assert processes == {"0"}
