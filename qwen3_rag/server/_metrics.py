"""Prometheus metrics, one registry per app: HTTP traffic, and the micro-batchers it feeds.

HTTP: requests and errors by endpoint and status, latency histogram, requests in flight.
Batchers (read at scrape time from :class:`~qwen3_rag._runtime.batcher.BatcherStats`): requests,
items, forward passes, the queue depth, and histograms of requests and items per forward pass;
passes with more than one request are forward passes that concurrent HTTP requests shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Receive, Scope, Send

from ._asgi import HttpMiddleware, WatchedSend

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
ENDPOINTS = ("/v1/embeddings", "/v1/rerank", "/v1/models", "/health", "/metrics")


class _BatcherCollector(Collector):
    """Reads the served models' batcher counters whenever Prometheus scrapes."""

    def __init__(self, served: Callable[[], Iterable[tuple[str, Any]]]) -> None:
        self._served = served

    def collect(self) -> Iterator[Any]:
        labels = ["kind"]
        counters = {
            name: CounterMetricFamily(f"qwen3_rag_batcher_{name}", text, labels=labels)
            for name, text in (
                ("requests", "Requests the micro-batcher has run."),
                ("items", "Texts or pairs the micro-batcher has run."),
                ("forward_passes", "Forward passes run."),
                ("failed_batches", "Forward passes that raised."),
            )
        }
        depth = GaugeMetricFamily(
            "qwen3_rag_batcher_queue_items", "Items waiting in the micro-batcher queue.", labels=labels
        )
        per_pass = {
            "requests": HistogramMetricFamily(
                "qwen3_rag_batcher_requests_per_forward_pass",
                "Requests sharing one forward pass (more than 1: concurrent requests were coalesced).",
                labels=labels,
            ),
            "items": HistogramMetricFamily(
                "qwen3_rag_batcher_items_per_forward_pass", "Rows in one forward pass.", labels=labels
            ),
        }
        for kind, model in self._served():
            batcher = model.runtime.batcher
            stats = batcher.stats
            for name, family in counters.items():
                family.add_metric([kind], getattr(stats, name))
            depth.add_metric([kind], batcher.pending_items)
            for name, histogram in per_pass.items():
                counts = dict(getattr(stats, f"{name}_per_pass"))  # a copy: the worker keeps writing
                buckets = [
                    (str(float(bound)), sum(c for size, c in counts.items() if size <= bound))
                    for bound in SIZE_BUCKETS
                ]
                buckets.append(("+Inf", sum(counts.values())))
                histogram.add_metric([kind], buckets, sum(size * c for size, c in counts.items()))
        yield from counters.values()
        yield depth
        yield from per_pass.values()


class ServerMetrics:
    """The registry one app exposes on ``GET /metrics``."""

    def __init__(self, served: Callable[[], Iterable[tuple[str, Any]]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qwen3_rag_http_requests",
            "HTTP requests answered, by endpoint and status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "qwen3_rag_http_errors",
            "HTTP requests answered with an error status (>= 400), by endpoint and status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qwen3_rag_http_request_duration_seconds",
            "Time from request start to the end of the response, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "qwen3_rag_http_requests_in_flight",
            "Requests being served now, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.registry.register(_BatcherCollector(served))

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        if status >= 400:
            self.errors.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)


def endpoint_label(path: str) -> str:
    """Known endpoints by path; anything else as 'other' (bounded label values)."""
    return path if path in ENDPOINTS else "other"


class MetricsMiddleware(HttpMiddleware):
    """Outermost ASGI layer: times every HTTP request, whatever answered it."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = endpoint_label(scope["path"])
        start = time.perf_counter()
        watched = WatchedSend(send)
        gauge = self.metrics.in_flight.labels(endpoint)
        gauge.inc()
        try:
            await self.app(scope, receive, watched)
        finally:
            gauge.dec()
            status = 500 if watched.status is None else watched.status  # no response: it failed
            self.metrics.observe(endpoint, status, time.perf_counter() - start)
