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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from content import analytics
from content.db import Store

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.core import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StoreSnapshot:
    """Yields the numbers the /metrics handler just read from the store (collectors are synchronous,
    the store is not, so the handler reads first and the registry renders what it read). A collector
    is anything with ``collect()``: the registry asks no base class."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, int]] = []
        self.responses: list[tuple[str, int]] = []

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

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


@dataclass(frozen=True, slots=True)
class _Instruments:
    registry: CollectorRegistry
    send_seconds: Histogram
    rate_limited: Counter
    refused: Counter


def _instruments(snapshot: _StoreSnapshot) -> _Instruments:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry(auto_describe=True)
    registry.register(snapshot)  # a Collector by its collect()
    return _Instruments(
        registry,
        Histogram(
            "prikbord_send_seconds",
            "Time one platform send call took, including failed ones",
            ["platform"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        ),
        Counter(
            "prikbord_rate_limited",
            "429 (rate limited) answers received from a platform",
            ["platform"],
            registry=registry,
        ),
        Counter(
            "prikbord_refused_input",
            "Inbound requests or polled updates refused as malformed, by platform and reason",
            ["platform", "reason"],
            registry=registry,
        ),
    )


class Metrics:
    """The instruments are made on first use: an App that never sends, refuses or serves (``prikbord
    post``) does not import prometheus_client, a tenth of that command's start-up."""

    def __init__(self) -> None:
        self._snapshot = _StoreSnapshot()
        self._made: _Instruments | None = None

    @property
    def _made_instruments(self) -> _Instruments:
        if self._made is None:
            self._made = _instruments(self._snapshot)
        return self._made

    @property
    def registry(self) -> CollectorRegistry:
        return self._made_instruments.registry

    # -- hooks the dispatcher calls ---------------------------------------------------------------

    def observe_send(self, platform: str, seconds: float) -> None:
        self._made_instruments.send_seconds.labels(platform).observe(max(0.0, seconds))

    def observe_rate_limited(self, platform: str, retry_after: float = 0.0) -> None:
        self._made_instruments.rate_limited.labels(platform).inc()

    # -- hooks the adapters and the webhook gate call ------------------------------------------------

    def observe_refused(self, platform: str, reason: str) -> None:
        self._made_instruments.refused.labels(platform, reason).inc()

    # -- the endpoint -------------------------------------------------------------------------------

    async def render(self, store: Store) -> bytes:
        async with store.sessions() as session:
            self._snapshot.deliveries = await analytics.deliveries_by_platform_state(session)
            self._snapshot.responses = await analytics.responses_by_kind(session)
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
