"""GET /metrics: this process's counters and the shared state read at scrape time, in Prometheus' text format.

Not public: a bearer KOBLE_METRICS_TOKEN, or a client address in KOBLE_METRICS_ALLOW (docs/contracts.md §5).
Request latency and email counters are this process's (kit.metrics); the outbox, the job queue and the
embedding backlog are read from PostgreSQL and Redis when scraped, so every process reports them alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator

from arq.constants import default_queue_name
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.kit import metrics
from service.kit.deps import Resources, get_resources
from service.mail import service as mail
from service.matching import service as matching
from service.matching.cache import SuggestionCache

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)

OUTBOX_STATES = ("pending", "sending", "sent", "failed", "logged")


class Snapshot(Collector):
    """Metric families of values already read (a collector for one scrape)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        """The families, as read."""
        return iter(self.families)


async def _database_families(resources: Resources) -> list[Metric]:
    """Outbox by state and the embedding backlog; empty (and koble_database_up 0) when the database fails."""
    up = GaugeMetricFamily("koble_database_up", "Whether the database answered this scrape")
    try:
        async with resources.pool.acquire(timeout=2) as conn:
            counts = await mail.status_counts(conn)
            backlog = await matching.embedding_backlog(conn, resources.settings)
    except Exception as exc:  # a scrape must still answer when the database is down
        log.warning("metrics: database unreachable (%s)", type(exc).__name__)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    outbox = GaugeMetricFamily("koble_outbox_emails", "Emails in the outbox, by state", labels=["state"])
    for state in sorted(set(OUTBOX_STATES) | set(counts)):
        outbox.add_metric([state], counts.get(state, 0))
    waiting = GaugeMetricFamily("koble_embedding_backlog", "Participants waiting for vectors of the configured encoder")
    waiting.add_metric([], backlog)
    return [up, outbox, waiting]


async def _queue_families(resources: Resources) -> list[Metric]:
    """Jobs waiting in arq's queue (Redis); nothing when Redis does not answer."""
    try:
        depth = await asyncio.wait_for(resources.redis.zcard(default_queue_name), timeout=2)
    except Exception as exc:  # a scrape must still answer when Redis is down
        log.warning("metrics: Redis unreachable (%s)", type(exc).__name__)
        return []
    queue = GaugeMetricFamily("koble_job_queue_depth", "Jobs queued for the workers (due and deferred)")
    queue.add_metric([], depth)
    return [queue]


def cache_families(cache: SuggestionCache | None) -> list[Metric]:
    """This process's suggestion cache: lookups by result, hit rate, hits that first brought their entry up to a
    newer matching version, and entries (nothing without a cache)."""
    if cache is None:
        return []
    lookups = CounterMetricFamily("koble_suggestion_cache_lookups", "Suggestion lookups, by result", labels=["result"])
    lookups.add_metric(["hit"], cache.hits)
    lookups.add_metric(["miss"], cache.misses)
    rate = GaugeMetricFamily("koble_suggestion_cache_hit_ratio", "Hits over lookups since the process started")
    rate.add_metric([], cache.hits / (cache.hits + cache.misses) if cache.hits + cache.misses else 0.0)
    patches = CounterMetricFamily("koble_suggestion_cache_patches",
                                  "Hits whose cached ranking was first brought up to a newer matching version")
    patches.add_metric([], cache.patches)
    entries = GaugeMetricFamily("koble_suggestion_cache_entries", "Participants with a cached ranking")
    entries.add_metric([], len(cache))
    return [lookups, rate, patches, entries]


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request) -> Response:
    """Prometheus' text format; 401 without credentials, 403 with wrong ones or from another address."""
    resources = get_resources(request)
    settings = resources.settings
    if not metrics.may_read(request, settings.metrics_token, settings.metrics_networks):
        given = "authorization" in request.headers
        raise HTTPException(403 if given else 401, "Metrics need KOBLE_METRICS_TOKEN or an allowed address",
                            headers=None if given else {"WWW-Authenticate": "Bearer"})
    read = [*await _database_families(resources), *await _queue_families(resources),
            *cache_families(getattr(request.app.state, "suggestion_cache", None))]
    scraped = CollectorRegistry()
    scraped.register(Snapshot(read))
    return Response(generate_latest(REGISTRY) + generate_latest(scraped), media_type=CONTENT_TYPE_LATEST)
