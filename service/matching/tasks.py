"""Worker jobs for embedding: large imports, profiles too big to embed inside a web request, and a sweep.

The worker's ctx has `settings` and `pool` (service.worker). Register `FUNCTIONS` and `CRON_JOBS`.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import cron, func

from service.kit.config import Settings
from service.matching import embedding
from service.matching.embedding import JOB
from service.matching.encoders import get_encoder
from service.matching.repository import embeddings

log = logging.getLogger(__name__)

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
