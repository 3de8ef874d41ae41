"""Embedding on write: one vector per interest, one normalised mean per side, re-used by text hash.

A text is identified by the sha256 of the exact string its encoder embeds (`Encoder.prepared`), so
a text already stored for this model - anyone's - is never encoded again. Encoding is CPU-bound and
synchronous: it runs in a thread so the event loop keeps serving. Writes happen in one short
transaction per batch of participants, after encoding, and touch only rows whose text changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np
from arq.connections import ArqRedis
from redis.exceptions import RedisError

from service.kit.config import Settings
from service.matching.encoders import SIDES, Encoder, EncoderError, Side, get_encoder, normalised
from service.matching.repository import embeddings
from service.matching.repository.embeddings import InterestKey, InterestRow, SideKey

log = logging.getLogger(__name__)

# The worker's embedding job (service.matching.tasks) and how many ids one job takes.
JOB = "embed_participants"
IDS_PER_JOB = 500
DEFAULT_BATCH = 200  # participants per transaction (settings.embed_batch_size)
# A participant edited between our read and our write is embedded again with the new texts; after
# this many tries the edit's own embedding (which always follows an edit) is left to do it.
MAX_ATTEMPTS = 3
# An index missing on a table this small builds in about a second (19 s at 100,000 rows,
# bench/README.md); larger builds are left to bulk paths and the worker's sweep, never a web request.
INLINE_INDEX_MAX_ROWS = 10_000

# Called after vectors were written, with (conn, model, participant ids written): how a domain above
# matching reacts to new vectors (mapping gives each new interest its nearest theme) without matching
# importing it. The entry points register them (service.matching.service.on_embedded).
EmbeddedHook = Callable[[asyncpg.Connection, str, list[int]], Awaitable[object]]
_hooks: list[EmbeddedHook] = []


def add_hook(hook: EmbeddedHook) -> None:
    """Register a hook (once)."""
    if hook not in _hooks:
        _hooks.append(hook)


async def run_hooks(conn: asyncpg.Connection, model: str, participant_ids: list[int]) -> None:
    """Call every hook; a failing hook is logged, never fails the embedding (its own sweep catches up)."""
    for hook in _hooks:
        try:
            await hook(conn, model, participant_ids)
        except Exception:  # a hook is another domain's: its failure must not undo or fail our write
            log.exception("hook after embedding failed")


@dataclass
class EmbedStats:
    """What one embedding run did."""

    participants: int = 0
    texts: int = 0
    encoded: int = 0  # distinct texts sent to the encoder
    reused: int = 0  # texts that needed no encoder call of their own (stored already, or repeated)
    written: int = 0  # interest rows written
    seconds: float = 0.0

    def add(self, other: EmbedStats) -> None:
        """Accumulate another run's counts (seconds included)."""
        for name in ("participants", "texts", "encoded", "reused", "written", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, float]:
        """The counts as a plain dict (a job's result)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Interest:
    """One item of a participant's offers or seeks, with the hash of its prepared text."""

    participant_id: int
    side: Side
    position: int
    text: str
    text_hash: bytes


@dataclass
class Writes:
    """The rows one batch deletes and adds."""

    stale_interests: list[InterestKey] = field(default_factory=list)
    new_interests: list[InterestRow] = field(default_factory=list)
    stale_sides: list[SideKey] = field(default_factory=list)
    new_sides: list[tuple[int, str, str, np.ndarray]] = field(default_factory=list)


def text_hash(prepared: str) -> bytes:
    """sha256 of the exact string an encoder embeds."""
    return hashlib.sha256(prepared.encode()).digest()


def interests(encoder: Encoder, rows: Iterable[Mapping[str, Any]]) -> list[Interest]:
    """Every interest of these participant rows (id, offers, seeks), hashed for this encoder."""
    return [
        Interest(row["id"], side, position, text, text_hash(encoder.prepared(text, side)))
        for row in rows
        for side in SIDES
        for position, text in enumerate(row[side] or [])
    ]


def to_encode(items: Iterable[Interest], known: Container[bytes]) -> dict[Side, dict[bytes, str]]:
    """Per side, hash -> text of the distinct texts with no stored vector.

    A hash is encoded once even if it occurs on both sides: equal prepared strings (symmetric
    prefixes) give equal vectors whichever side asks.
    """
    missing: dict[Side, dict[bytes, str]] = {side: {} for side in SIDES}
    seen: set[bytes] = set()
    for item in items:
        if item.text_hash not in known and item.text_hash not in seen:
            seen.add(item.text_hash)
            missing[item.side][item.text_hash] = item.text
    return missing


def encode_missing(encoder: Encoder, missing: Mapping[Side, Mapping[bytes, str]]) -> dict[bytes, np.ndarray]:
    """Hash -> vector (dim,) for the texts to encode; one encoder call per side."""
    vectors: dict[bytes, np.ndarray] = {}
    for side, texts in missing.items():
        if texts:
            vectors.update(zip(texts.keys(), encoder.encode(list(texts.values()), side), strict=True))
    return vectors


def side_means(items: Iterable[Interest], vectors: Mapping[bytes, np.ndarray]) -> dict[SideKey, np.ndarray]:
    """(participant id, side) -> the L2-normalised mean (dim,) of that side's interest vectors."""
    groups: dict[SideKey, list[np.ndarray]] = {}
    for item in items:
        groups.setdefault((item.participant_id, item.side), []).append(vectors[item.text_hash])
    return {key: normalised(np.mean(group, axis=0, keepdims=True))[0] for key, group in groups.items()}


def plan_writes(
    model: str,
    items: Sequence[Interest],
    vectors: Mapping[bytes, np.ndarray],
    stored: Mapping[InterestKey, bytes],
    stored_sides: Collection[SideKey],
) -> Writes:
    """The deletes and inserts that bring stored rows in line with `items`, touching only changes."""
    wanted = {(item.participant_id, item.side, item.position): item for item in items}
    fresh_keys = {key for key, item in wanted.items() if stored.get(key) != item.text_hash}
    writes = Writes()
    fresh = [wanted[key] for key in sorted(fresh_keys)]
    writes.stale_interests = [key for key, digest in stored.items() if key not in wanted or key in fresh_keys]
    writes.new_interests = [
        (item.participant_id, model, item.side, item.position, item.text_hash, vectors[item.text_hash])
        for item in fresh
    ]
    touched = {(pid, side) for pid, side, _ in writes.stale_interests} | {(i.participant_id, i.side) for i in fresh}
    means = side_means(items, vectors)
    redo = {key for key in means if key in touched or key not in stored_sides}
    writes.stale_sides = [key for key in stored_sides if key in redo or key not in means]
    writes.new_sides = [(pid, model, side, means[(pid, side)]) for pid, side in sorted(redo)]
    return writes


async def apply_writes(conn: asyncpg.Connection, model: str, writes: Writes) -> None:
    """Delete the stale rows, then COPY the new ones (the caller holds the transaction)."""
    await embeddings.delete_interests(conn, model, writes.stale_interests)
    await embeddings.delete_sides(conn, model, writes.stale_sides)
    await embeddings.copy_interests(conn, writes.new_interests)
    await embeddings.copy_sides(conn, writes.new_sides)


def _changed(read: Sequence[asyncpg.Record], current: Sequence[asyncpg.Record]) -> set[int]:
    """Ids whose offers or seeks differ between the two reads."""
    before = {row["id"]: (row["offers"], row["seeks"]) for row in read}
    return {row["id"] for row in current if before.get(row["id"]) != (row["offers"], row["seeks"])}


async def _write(
    conn: asyncpg.Connection, model: str, read: Sequence[asyncpg.Record], items: Sequence[Interest],
    vectors: Mapping[bytes, np.ndarray],
) -> tuple[list[int], set[int], int]:
    """Write one batch in one transaction: (ids written, ids changed since read, interest rows added).

    The participants are locked first, so two embeddings of one participant cannot interleave, and
    a participant whose texts changed since `read` is left for another try with its new texts.
    """
    async with conn.transaction():
        current = await embeddings.interest_texts(conn, [row["id"] for row in read], lock=True)
        changed = _changed(read, current)
        ids = [row["id"] for row in current if row["id"] not in changed]
        written = set(ids)
        kept = [item for item in items if item.participant_id in written]
        stored = await embeddings.stored_interests(conn, model, ids)
        writes = plan_writes(model, kept, vectors, stored, await embeddings.stored_sides(conn, model, ids))
        await apply_writes(conn, model, writes)
    return ids, changed, len(writes.new_interests)


async def _embed_batch(
    conn: asyncpg.Connection, encoder: Encoder, participant_ids: Sequence[int]
) -> tuple[EmbedStats, list[int]]:
    """Embed one batch; returns its stats and the ids to try again (edited meanwhile)."""
    read = await embeddings.interest_texts(conn, participant_ids)
    items = await asyncio.to_thread(interests, encoder, read)  # truncation counts tokens: CPU work
    vectors = await embeddings.vectors_by_hash(conn, encoder.name, list({item.text_hash for item in items}))
    missing = to_encode(items, vectors)
    vectors |= await asyncio.to_thread(encode_missing, encoder, missing)
    ids, changed, written = await _write(conn, encoder.name, read, items, vectors)
    written_ids = set(ids)
    done = [item for item in items if item.participant_id in written_ids]
    encoded = {digest for texts in missing.values() for digest in texts}
    # Reused: every written text that did not need an encoder call of its own (stored, or a repeat).
    own_calls = len({item.text_hash for item in done} & encoded)
    stats = EmbedStats(
        participants=len(ids), texts=len(done), encoded=len(encoded), reused=len(done) - own_calls, written=written
    )
    return stats, sorted(changed)


async def _embed_with_retries(conn: asyncpg.Connection, encoder: Encoder, participant_ids: Sequence[int]) -> EmbedStats:
    stats = EmbedStats()
    pending = list(participant_ids)
    for _ in range(MAX_ATTEMPTS):
        batch_stats, pending = await _embed_batch(conn, encoder, pending)
        stats.add(batch_stats)
        if not pending:
            break
    else:
        log.info("%d participant(s) kept changing during embedding; their edits embed them", len(pending))
    return stats


async def embed_participants(
    conn: asyncpg.Connection,
    encoder: Encoder,
    participant_ids: Sequence[int],
    *,
    batch_size: int = DEFAULT_BATCH,
    build_index: bool = True,
    progress: Callable[[int], object] | None = None,
) -> EmbedStats:
    """Embed these participants' offers and seeks with `encoder`, re-using stored vectors by text hash.

    Writes interest rows (stale positions deleted) and side means for this model, one transaction
    per `batch_size` participants; `progress` is called with each batch's size. `build_index`
    creates the model's missing HNSW indexes at the end when the table is small (ensure_small_indexes);
    bulk loads pass False and build them once afterwards (inserting into an indexed table is ~85x
    slower, bench/README.md).
    `conn` needs the pgvector codec (service.kit.database pools register it).
    """
    started = time.perf_counter()
    stats = EmbedStats()
    ids = list(dict.fromkeys(participant_ids))
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        stats.add(await _embed_with_retries(conn, encoder, batch))
        if progress is not None:
            progress(len(batch))
    if build_index and stats.participants:
        await ensure_small_indexes(conn, encoder)
    if stats.participants:
        await run_hooks(conn, encoder.name, ids)
    stats.seconds = time.perf_counter() - started
    return stats


async def ensure_small_indexes(conn: asyncpg.Connection, encoder: Encoder) -> bool:
    """Build the model's missing HNSW indexes if that is quick (few rows); whether they exist now."""
    if await embeddings.has_indexes(conn, encoder.name, encoder.dim):
        return True
    if await embeddings.side_count(conn, encoder.name, INLINE_INDEX_MAX_ROWS) >= INLINE_INDEX_MAX_ROWS:
        log.warning("HNSW indexes of %s missing; the worker's sweep builds them", encoder.name)
        return False
    await embeddings.ensure_indexes(conn, encoder.name, encoder.dim)
    return True


def fits_inline(settings: Settings, texts: Sequence[str]) -> bool:
    """Whether a web request may embed these texts itself (else the worker does, see embed_on_write)."""
    return len(texts) <= settings.embed_inline_max_texts and sum(map(len, texts)) <= settings.embed_inline_max_chars


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
        except (OSError, ConnectionError, RedisError) as exc:
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
    if fits_inline(settings, texts):
        try:
            await embed_participants(conn, get_encoder(settings.koble_encoder), [participant_id])
            return "inline"
        except (EncoderError, OSError, asyncpg.PostgresError) as exc:
            log.warning("inline embedding failed (%s); queued instead", type(exc).__name__)
    return "queued" if await enqueue_embedding(redis, [participant_id]) else "deferred"
