"""Vector storage: interest, side and pair embeddings, their HNSW indexes (DDL) and model bookkeeping.

Connections must have the pgvector codec registered (service.kit.database pools do): vectors go in as
numpy arrays and come back as pgvector Vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import asyncpg
import numpy as np

from service.kit.vocabulary import KINDS

InterestKey = tuple[int, str, int]  # (participant id, side, position)
InterestRow = tuple[int, str, str, int, bytes, np.ndarray]  # (participant id, model, side, position, hash, vector)
SideKey = tuple[int, str]  # (participant id, side)
INDEX_PREFIX = "side_emb_hnsw_"


async def interest_texts(
    conn: asyncpg.Connection, participant_ids: Sequence[int], lock: bool = False
) -> list[asyncpg.Record]:
    """id, offers and seeks of these participants, in id order; `lock` locks them for this transaction.

    Locking in id order keeps two embeddings of overlapping participants from deadlocking.
    """
    return await conn.fetch(
        "SELECT id, offers, seeks FROM participants WHERE id = ANY($1::bigint[]) ORDER BY id"
        + (" FOR UPDATE" if lock else ""),
        list(participant_ids),
    )


async def vectors_by_hash(conn: asyncpg.Connection, model: str, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
    """Stored vectors of this model for these text hashes (anyone's), as float32 arrays of shape (dim,)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (text_hash) text_hash, embedding FROM interest_embeddings
           WHERE model = $1 AND text_hash = ANY($2::bytea[])""",
        model, list(hashes),
    )
    return {bytes(row["text_hash"]): row["embedding"].to_numpy() for row in rows}


async def stored_interests(
    conn: asyncpg.Connection, model: str, participant_ids: Sequence[int]
) -> dict[InterestKey, bytes]:
    """(participant id, side, position) -> text hash of the stored interest vectors of this model."""
    rows = await conn.fetch(
        """SELECT participant_id, side, position, text_hash FROM interest_embeddings
           WHERE model = $1 AND participant_id = ANY($2::bigint[])""",
        model, list(participant_ids),
    )
    return {(row["participant_id"], row["side"], row["position"]): bytes(row["text_hash"]) for row in rows}


async def stored_sides(conn: asyncpg.Connection, model: str, participant_ids: Sequence[int]) -> set[SideKey]:
    """(participant id, side) of the stored side vectors of this model."""
    rows = await conn.fetch(
        "SELECT participant_id, side FROM side_embeddings WHERE model = $1 AND participant_id = ANY($2::bigint[])",
        model, list(participant_ids),
    )
    return {(row["participant_id"], row["side"]) for row in rows}


async def delete_interests(conn: asyncpg.Connection, model: str, keys: Sequence[InterestKey]) -> None:
    """Remove these interest vectors of this model."""
    if keys:
        pids, sides, positions = zip(*keys, strict=True)
        await conn.execute(
            """DELETE FROM interest_embeddings e
               USING unnest($2::bigint[], $3::text[], $4::int[]) AS d(participant_id, side, position)
               WHERE e.model = $1 AND e.participant_id = d.participant_id AND e.side = d.side
                 AND e.position = d.position""",
            model, list(pids), list(sides), list(positions),
        )


async def delete_sides(conn: asyncpg.Connection, model: str, keys: Sequence[SideKey]) -> None:
    """Remove these side vectors of this model."""
    if keys:
        pids, sides = zip(*keys, strict=True)
        await conn.execute(
            """DELETE FROM side_embeddings e USING unnest($2::bigint[], $3::text[]) AS d(participant_id, side)
               WHERE e.model = $1 AND e.participant_id = d.participant_id AND e.side = d.side""",
            model, list(pids), list(sides),
        )


async def copy_interests(conn: asyncpg.Connection, rows: Sequence[InterestRow]) -> None:
    """Add interest vectors (participant id, model, side, position, text hash, vector (dim,)) by COPY."""
    if rows:
        await conn.copy_records_to_table(
            "interest_embeddings", records=rows,
            columns=["participant_id", "model", "side", "position", "text_hash", "embedding"],
        )


async def copy_sides(conn: asyncpg.Connection, rows: Sequence[tuple[int, str, str, np.ndarray]]) -> None:
    """Add side vectors (participant id, model, side, vector (dim,)) by COPY."""
    if rows:
        await conn.copy_records_to_table(
            "side_embeddings", records=rows, columns=["participant_id", "model", "side", "embedding"]
        )


SIDES = ("offers", "seeks")


def index_name(model: str, dim: int, side: str, kind: str) -> str:
    """The HNSW index of one model, dimension, side and kind: a stable name within PostgreSQL's 63 bytes."""
    return INDEX_PREFIX + hashlib.sha256(f"{model}\n{dim}\n{side}\n{kind}".encode()).hexdigest()[:16]


def index_names(model: str, dim: int) -> list[str]:
    """Every HNSW index of one model and dimension: one per side and participant kind."""
    return [index_name(model, dim, side, kind) for side in SIDES for kind in KINDS]


def sql_literal(value: str) -> str:
    """A string as an SQL literal, for DDL and statements built per kind."""
    # DDL takes no parameters; standard_conforming_strings (on by default) makes doubling quotes enough.
    return "'" + value.replace("'", "''") + "'"


def index_sql(model: str, dim: int, side: str, kind: str, concurrently: bool = False) -> str:
    """CREATE INDEX for one side and kind's HNSW index: retrieval must repeat its expression and predicate.

    One index per kind: the hard constraint "a different kind" then removes nothing inside a scan
    (most of a student's nearest neighbours are other students, which left a single index short).
    """
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {index_name(model, dim, side, kind)} "
        f"ON side_embeddings USING hnsw ((embedding::vector({int(dim)})) vector_cosine_ops) "
        f"WHERE model = {sql_literal(model)} AND side = {sql_literal(side)} AND kind = {sql_literal(kind)}"
    )


PAIR_INDEX_PREFIX = "pair_emb_hnsw_"


def pair_index_name(model: str, dim: int, kind: str) -> str:
    """The HNSW index of one model's pair vectors ([offers ; seeks], 2 * dim) of one kind."""
    return PAIR_INDEX_PREFIX + hashlib.sha256(f"{model}\n{dim}\npair\n{kind}".encode()).hexdigest()[:16]


def pair_index_names(model: str, dim: int) -> list[str]:
    """Every pair-vector HNSW index of one model and (side) dimension: one per participant kind."""
    return [pair_index_name(model, dim, kind) for kind in KINDS]


def pair_index_sql(model: str, dim: int, kind: str, concurrently: bool = False) -> str:
    """CREATE INDEX for one kind's pair-vector HNSW index (inner product; `retrieval.pair_sql` repeats it).

    Inner product, not cosine: the query [seeks ; offers] then scores the sum of both directions'
    cosines, which is what the ranker's harmonic mean follows (a pair vector's norm is not 1).
    """
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {pair_index_name(model, dim, kind)} "
        f"ON pair_embeddings USING hnsw ((embedding::vector({2 * int(dim)})) vector_ip_ops) "
        f"WHERE model = {sql_literal(model)} AND kind = {sql_literal(kind)}"
    )


def _all_index_sql(model: str, dim: int, concurrently: bool) -> dict[str, str]:
    """Name -> CREATE INDEX of every HNSW index of one model: side vectors, then pair vectors."""
    statements = {index_name(model, dim, side, kind): index_sql(model, dim, side, kind, concurrently)
                  for side in SIDES for kind in KINDS}
    return statements | {pair_index_name(model, dim, kind): pair_index_sql(model, dim, kind, concurrently)
                         for kind in KINDS}


async def index_states(conn: asyncpg.Connection, names: Sequence[str]) -> dict[str, bool]:
    """Existing indexes among `names` -> whether each is valid (a failed concurrent build is not)."""
    rows = await conn.fetch(
        """SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE c.relname = ANY($1::text[])""",
        list(names),
    )
    return {row["relname"]: row["indisvalid"] for row in rows}


async def has_indexes(conn: asyncpg.Connection, model: str, dim: int) -> bool:
    """Whether every HNSW index of this model (each side and kind, and the pair vectors') exists and is valid."""
    names = [*index_names(model, dim), *pair_index_names(model, dim)]
    states = await index_states(conn, names)
    return all(states.get(name) for name in names)


async def ensure_indexes(conn: asyncpg.Connection, model: str, dim: int, concurrently: bool = False) -> list[str]:
    """Create the missing HNSW indexes of this model (each side and kind, then each kind's pair vectors);
    returns the names created.

    `concurrently` keeps writes to side_embeddings flowing during a long build; it cannot run inside
    a transaction. An invalid index left by an interrupted concurrent build is dropped and rebuilt.
    """
    created = []
    for name, sql in _all_index_sql(model, dim, concurrently).items():
        state = (await index_states(conn, [name])).get(name)
        if state:
            continue
        if state is False:
            await conn.execute(f"DROP INDEX {'CONCURRENTLY ' if concurrently else ''}IF EXISTS {name}")
        await conn.execute(sql)
        created.append(name)
    return created


async def drop_indexes(conn: asyncpg.Connection, model: str, dim: int) -> None:
    """Drop this model's HNSW indexes without blocking readers and writers (outside a transaction)."""
    for name in [*index_names(model, dim), *pair_index_names(model, dim)]:
        await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


async def embedded_participants(conn: asyncpg.Connection, model: str) -> int:
    """How many participants have a side vector of this model."""
    return int(await conn.fetchval(
        "SELECT count(DISTINCT participant_id) FROM side_embeddings WHERE model = $1", model
    ))


async def side_count(conn: asyncpg.Connection, model: str, limit: int) -> int:
    """Side vectors of this model, counted up to `limit`."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM side_embeddings WHERE model = $1 LIMIT $2) AS s", model, limit
    ))


async def all_participant_ids(conn: asyncpg.Connection) -> list[int]:
    """Every participant id, ascending."""
    return [row["id"] for row in await conn.fetch("SELECT id FROM participants ORDER BY id")]


async def ids_without_vectors(conn: asyncpg.Connection, model: str, older_than_minutes: int, limit: int) -> list[int]:
    """Participants with interests but no side vector of this model, last changed over `older_than_minutes` ago."""
    rows = await conn.fetch(
        """SELECT p.id FROM participants p
           WHERE cardinality(p.offers) + cardinality(p.seeks) > 0
             AND p.updated_at < now() - make_interval(mins => $2)
             AND NOT EXISTS (SELECT 1 FROM side_embeddings s WHERE s.participant_id = p.id AND s.model = $1)
           ORDER BY p.id LIMIT $3""",
        model, older_than_minutes, limit,
    )
    return [row["id"] for row in rows]


async def backlog(conn: asyncpg.Connection, model: str) -> int:
    """Participants with interests but no side vector of this model (waiting to be embedded)."""
    return int(await conn.fetchval(
        """SELECT count(*) FROM participants p
           WHERE cardinality(p.offers) + cardinality(p.seeks) > 0
             AND NOT EXISTS (SELECT 1 FROM side_embeddings s WHERE s.participant_id = p.id AND s.model = $1)""",
        model,
    ))


async def model_counts(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    """Model -> (participants with a side vector, interest vectors) over all stored models."""
    rows = await conn.fetch(
        """SELECT model, count(DISTINCT participant_id) AS participants, 0 AS interests FROM side_embeddings
           GROUP BY model
           UNION ALL
           SELECT model, 0, count(*) FROM interest_embeddings GROUP BY model"""
    )
    counts: dict[str, tuple[int, int]] = {}
    for row in rows:
        participants, interests = counts.get(row["model"], (0, 0))
        counts[row["model"]] = (participants + row["participants"], interests + row["interests"])
    return counts


async def prune_other_models(conn: asyncpg.Connection, keep_model: str, keep_dim: int) -> tuple[int, int, list[str]]:
    """Delete every other model's vectors and HNSW indexes: (interest rows, side rows, side indexes dropped)."""
    keep = set(index_names(keep_model, keep_dim))
    async with conn.transaction():
        interests = await conn.fetchval(
            "WITH d AS (DELETE FROM interest_embeddings WHERE model <> $1 RETURNING 1) SELECT count(*) FROM d",
            keep_model,
        )
        sides = await conn.fetchval(
            "WITH d AS (DELETE FROM side_embeddings WHERE model <> $1 RETURNING 1) SELECT count(*) FROM d", keep_model
        )
        names = await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'side_embeddings' AND indexname LIKE $1",
            INDEX_PREFIX + "%",
        )
        dropped = [row["indexname"] for row in names if row["indexname"] not in keep]
        for name in dropped:
            await conn.execute(f"DROP INDEX IF EXISTS {name}")
        # The pair vectors went with the side vectors (0009's triggers); their indexes go here, not
        # counted: each model has one per kind beside its side indexes.
        pairs = await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'pair_embeddings' AND indexname LIKE $1",
            PAIR_INDEX_PREFIX + "%",
        )
        for name in {row["indexname"] for row in pairs} - set(pair_index_names(keep_model, keep_dim)):
            await conn.execute(f"DROP INDEX IF EXISTS {name}")
    return interests, sides, dropped


async def interest_vectors(
    conn: asyncpg.Connection, model: str, participant_ids: Sequence[int] | None = None
) -> list[asyncpg.Record]:
    """participant_id, side, position, text_hash and embedding of this model's interest vectors of
    visible participants (these ids only, if given), in (participant, side, position) order."""
    return await conn.fetch(
        """SELECT e.participant_id, e.side, e.position, e.text_hash, e.embedding
           FROM interest_embeddings e JOIN participants p ON p.id = e.participant_id
           WHERE e.model = $1 AND p.hidden_at IS NULL AND p.verified_at IS NOT NULL
             AND ($2::bigint[] IS NULL OR e.participant_id = ANY($2::bigint[]))
           ORDER BY e.participant_id, e.side, e.position""",
        model, None if participant_ids is None else list(participant_ids),
    )
