"""`koble reembed`: embed every participant with the configured encoder, while the service keeps answering.

Vectors of other models stay in place (suggestions use the configured model only) until `--prune`.
Re-running is cheap: texts already embedded by this model are re-used by hash, so an interrupted
run simply resumes. Exit codes per docs/contracts.md §2: 0, or 1 with a one-line reason on stderr.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg
from tqdm import tqdm

from service.kit import embedded
from service.kit.commandline import DatabaseUnavailable, command_database, fail, first_line
from service.kit.config import Settings
from service.matching import embedding
from service.matching.embedding import EmbedStats
from service.matching.encoders import Encoder, EncoderError, get_encoder
from service.matching.repository import embeddings

# Server start-up chatter would bury the command's report (docs/contracts.md §2: stderr is the reason).
BULK_REBUILD_MIN = 1000  # participants; below this the index build is not worth dropping for


def summary(model: str, stats: EmbedStats) -> str:
    """The counts line printed after a successful run."""
    return (
        f"re-embedded {stats.participants} participants with {model}: {stats.texts} texts, "
        f"{stats.encoded} encoded, {stats.reused} reused, {stats.written} vectors written "
        f"in {stats.seconds:.1f} s"
    )


async def rebuilds_indexes(conn: asyncpg.Connection, encoder: Encoder, participants: int) -> bool:
    """Whether a bulk load of this many participants should drop the model's indexes and build them after.

    Inserting into an HNSW index costs ~5x more per row than building it (bench/README.md: 1.1k rows/s
    vs 100k rows in 19 s), so a load that at least doubles the model's embedded participants is
    faster without the index. Retrieval stays correct without it (an exact scan), and on tables
    this small it scans exactly anyway; a load into a large table keeps its index.
    """
    if participants < BULK_REBUILD_MIN:
        return False
    return await embeddings.embedded_participants(conn, encoder.name) < participants


async def embed_all(
    conn: asyncpg.Connection, encoder: Encoder, batch_size: int, progress: bool, ids: list[int] | None = None
) -> EmbedStats:
    """Embed these participants (default: all) with a progress bar on a terminal, then build the indexes.

    Missing indexes are built once at the end, concurrently (writes keep flowing); see
    `rebuilds_indexes` for large loads. Also the body of `koble import`'s embedding step.
    `conn` must not be inside a transaction.
    """
    ids = await embeddings.all_participant_ids(conn) if ids is None else ids
    if await rebuilds_indexes(conn, encoder, len(ids)):
        await embeddings.drop_indexes(conn, encoder.name, encoder.dim)
    with tqdm(total=len(ids), unit="participant", desc="embedding", disable=not progress, file=sys.stderr) as bar:
        stats = await embedding.embed_participants(
            conn, encoder, ids, batch_size=batch_size, build_index=False, progress=bar.update
        )
    await embeddings.ensure_indexes(conn, encoder.name, encoder.dim, concurrently=True)
    return stats


async def _run(pool: asyncpg.Pool, encoder: Encoder, batch: int, prune: bool, progress: bool) -> int:
    async with pool.acquire() as conn:
        stats = await embed_all(conn, encoder, batch, progress)
        pruned = await embeddings.prune_other_models(conn, encoder.name, encoder.dim) if prune else None
    print(summary(encoder.name, stats))
    if pruned is not None:
        interests, sides, indexes = pruned
        print(f"pruned other models: {interests} interest vectors, {sides} side vectors, {len(indexes)} indexes")
    return 0


async def reembed(settings: Settings, batch: int | None = None, prune: bool = False, progress: bool = False) -> int:
    """`koble reembed [--batch N] [--prune]`: the exit code."""
    embedded.quiet_logs(settings)
    try:
        encoder = get_encoder(settings.koble_encoder)
        await asyncio.to_thread(lambda: encoder.dim)  # loads a sentence-transformers model: fail early
    except EncoderError as exc:
        return fail(str(exc))
    try:
        async with command_database(settings) as pool:
            return await _run(pool, encoder, batch or settings.embed_batch_size, prune, progress)
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, EncoderError) as exc:
        return fail(f"reembed failed: {first_line(exc)}")
