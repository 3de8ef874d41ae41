"""Worker jobs for embedding: large imports, profiles too big to embed inside a web request, and a sweep.

The worker's ctx has `settings` and `pool` (service.worker). Register `FUNCTIONS` and `CRON_JOBS`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from arq import cron, func
from arq.connections import ArqRedis

from service.kit.config import Settings
from service.matching import embedding
from service.matching.encoders import EncoderError, get_encoder
from service.matching.repository import embeddings

log = logging.getLogger(__name__)

JOB = "embed_participants"
IDS_PER_JOB = 500
# 500 participants with long texts take minutes on two cores; arq's default timeout is 300 s.
JOB_TIMEOUT = 3600
MAX_TRIES = 3
# The sweep leaves recent changes to their own embedding and takes a bounded bite per run.
SWEEP_AFTER_MINUTES = 10
SWEEP_LIMIT = 200


async def embed_participants(ctx: dict[str, Any], participant_ids: list[int]) -> dict[str, float]:
    """arq job: embed these participants with the configured encoder; returns the stats."""
    settings: Settings = ctx["settings"]
    encoder = get_encoder(settings.koble_encoder)
    async with ctx["pool"].acquire() as conn:
        stats = await embedding.embed_participants(
            conn, encoder, participant_ids, batch_size=settings.embed_batch_size
        )
    log.info("embedded %d participants: %d texts encoded, %d reused in %.1f s",
             stats.participants, stats.encoded, stats.reused, stats.seconds)
    return stats.as_dict()


async def enqueue_embedding(
    redis: ArqRedis | None, participant_ids: Sequence[int], per_job: int = IDS_PER_JOB
) -> int:
    """Queue embedding jobs of at most `per_job` ids each; returns how many were queued.

    Without Redis (None or unreachable) nothing is queued and `sweep_embeddings` embeds them later.
    """
    if redis is None:
        return 0
    ids = list(participant_ids)
    queued = 0
    for start in range(0, len(ids), per_job):
        try:
            await redis.enqueue_job(JOB, ids[start : start + per_job])
        except (OSError, ConnectionError) as exc:
            log.warning("could not queue embedding (%s); the sweep will embed them", type(exc).__name__)
            break
        queued += 1
    return queued


async def embed_on_write(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, participant_id: int, texts: Sequence[str]
) -> str:
    """After a registration or an edit has committed: embed inline if small, else queue a job.

    `texts` are the profile's offers and seeks. Returns "inline", "queued" or "deferred" (no Redis:
    the sweep embeds it). An inline failure never fails the request: the job or the sweep retries.
    """
    if embedding.fits_inline(settings, texts):
        try:
            await embedding.embed_participants(conn, get_encoder(settings.koble_encoder), [participant_id])
            return "inline"
        except (EncoderError, OSError, asyncpg.PostgresError) as exc:
            log.warning("inline embedding failed (%s); queued instead", type(exc).__name__)
    return "queued" if await enqueue_embedding(redis, [participant_id]) else "deferred"


async def sweep_embeddings(ctx: dict[str, Any]) -> int:
    """Embed participants that have no vectors of the configured model (lost job, model change).

    Also builds the model's missing HNSW indexes, concurrently: writes keep flowing meanwhile.
    """
    settings: Settings = ctx["settings"]
    encoder = get_encoder(settings.koble_encoder)
    async with ctx["pool"].acquire() as conn:
        ids = await embeddings.ids_without_vectors(conn, encoder.name, SWEEP_AFTER_MINUTES, SWEEP_LIMIT)
        if ids:
            await embedding.embed_participants(
                conn, encoder, ids, batch_size=settings.embed_batch_size, build_index=False
            )
        if await embeddings.side_count(conn, encoder.name, 1):
            await embeddings.ensure_indexes(conn, encoder.name, encoder.dim, concurrently=True)
    return len(ids)


FUNCTIONS = [func(embed_participants, name=JOB, timeout=JOB_TIMEOUT, max_tries=MAX_TRIES)]
CRON_JOBS = [cron(sweep_embeddings, minute=set(range(5, 60, 10)), second=40, timeout=JOB_TIMEOUT)]
