"""Prometheus metrics, in a registry of this App's own (no process-global registry, so two Apps in
one process, as in tests, never mix their numbers).

- ``prikbord_deliveries{platform,state}`` and ``prikbord_responses{kind}``: read from the store at
  scrape time, so every instance sharing a database reports the same truth.
- ``prikbord_send_seconds{platform}`` (histogram) and ``prikbord_rate_limited_total{platform}``:
  measured in this process; the dispatcher reports them through :meth:`Metrics.observe_send` and
  :meth:`Metrics.observe_rate_limited`.
- ``prikbord_refused_input_total{platform,reason}``: inbound requests and polled updates refused as
  malformed (poison JSON, wrong types, oversized text); the adapters report them through
  :meth:`Metrics.observe_refused` (``adapter.on_refused``), the webhook gate through the same method.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from content import analytics
from content.db import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StoreSnapshot(Collector):
    """Yields the numbers the /metrics handler just read from the store (collectors are synchronous,
    the store is not, so the handler reads first and the registry renders what it read)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, int]] = []
        self.responses: list[tuple[str, int]] = []

    def collect(self) -> Iterator[Metric]:
        deliveries = GaugeMetricFamily(
            "prikbord_deliveries", "Deliveries in the outbox by platform and state", labels=["platform", "state"]
        )
        for platform, state, n in self.deliveries:
            deliveries.add_metric([platform, state], n)
        yield deliveries
        responses = GaugeMetricFamily("prikbord_responses", "Stored responses by kind", labels=["kind"])
        for kind, n in self.responses:
            responses.add_metric([kind], n)
        yield responses


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._snapshot = _StoreSnapshot()
        self.registry.register(self._snapshot)
        self._send_seconds = Histogram(
            "prikbord_send_seconds",
            "Time one platform send call took, including failed ones",
            ["platform"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )
        self._rate_limited = Counter(
            "prikbord_rate_limited",
            "429 (rate limited) answers received from a platform",
            ["platform"],
            registry=self.registry,
        )
        self._refused = Counter(
            "prikbord_refused_input",
            "Inbound requests or polled updates refused as malformed, by platform and reason",
            ["platform", "reason"],
            registry=self.registry,
        )

    # -- hooks the dispatcher calls ---------------------------------------------------------------

    def observe_send(self, platform: str, seconds: float) -> None:
        self._send_seconds.labels(platform).observe(max(0.0, seconds))

    def observe_rate_limited(self, platform: str, retry_after: float = 0.0) -> None:
        self._rate_limited.labels(platform).inc()

    # -- hooks the adapters and the webhook gate call ------------------------------------------------

    def observe_refused(self, platform: str, reason: str) -> None:
        self._refused.labels(platform, reason).inc()

    # -- the endpoint -------------------------------------------------------------------------------

    async def render(self, store: Store) -> bytes:
        async with store.sessions() as session:
            self._snapshot.deliveries = await analytics.deliveries_by_platform_state(session)
            self._snapshot.responses = await analytics.responses_by_kind(session)
        return generate_latest(self.registry)
