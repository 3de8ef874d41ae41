"""SQL for matching: embeddings (engineer E) and candidate retrieval (engineer R), in separate sections."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import numpy as np

from service.followup import repository as followup_repository
from service.followup.lifecycle import ACTIVE
from service.matching import scoring
from service.profiles.schemas import KINDS

# --- embeddings ---
# Interest and side vectors (engineer E). Connections must have the pgvector codec registered
# (service.kit.database pools do): vectors go in as numpy arrays and come back as pgvector Vectors.

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


def _literal(value: str) -> str:
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
        f"WHERE model = {_literal(model)} AND side = {_literal(side)} AND kind = {_literal(kind)}"
    )


PAIR_INDEX_PREFIX = "pair_emb_hnsw_"


def pair_index_name(model: str, dim: int, kind: str) -> str:
    """The HNSW index of one model's pair vectors ([offers ; seeks], 2 * dim) of one kind."""
    return PAIR_INDEX_PREFIX + hashlib.sha256(f"{model}\n{dim}\npair\n{kind}".encode()).hexdigest()[:16]


def pair_index_names(model: str, dim: int) -> list[str]:
    """Every pair-vector HNSW index of one model and (side) dimension: one per participant kind."""
    return [pair_index_name(model, dim, kind) for kind in KINDS]


def pair_index_sql(model: str, dim: int, kind: str, concurrently: bool = False) -> str:
    """CREATE INDEX for one kind's pair-vector HNSW index (inner product; `_pair_sql` repeats it).

    Inner product, not cosine: the query [seeks ; offers] then scores the sum of both directions'
    cosines, which is what the ranker's harmonic mean follows (a pair vector's norm is not 1).
    """
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {pair_index_name(model, dim, kind)} "
        f"ON pair_embeddings USING hnsw ((embedding::vector({2 * int(dim)})) vector_ip_ops) "
        f"WHERE model = {_literal(model)} AND kind = {_literal(kind)}"
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


# --- retrieval ---
# Candidate retrieval for the ranker (engineer R). Hard constraints are applied in SQL (docs/contracts.md §6,
# the same rules as scoring.hard_constraints, which re-checks every pair), so the nearest-neighbour
# search only ever sees allowed candidates.
#
# Parameters shared by every filtered statement below (see `QueryFilter.params`):
#   $1 query id, $2 kind, $3 domains, $4 available_from, $5 available_until, $6 engagements,
#   $7 excluded ids (declined, matched, at capacity), $8 model.
_ALLOWED = """p.id <> $1 AND p.kind <> $2 AND p.domains && $3::text[]
    AND p.hidden_at IS NULL AND p.verified_at IS NOT NULL
    AND ($5::date IS NULL OR p.available_from IS NULL OR p.available_from <= $5::date)
    AND ($4::date IS NULL OR p.available_until IS NULL OR p.available_until >= $4::date)
    AND (cardinality($6::text[]) = 0 OR cardinality(p.engagements) = 0 OR p.engagements && $6::text[])
    AND p.id <> ALL($7::bigint[])"""

# The factor by which an exposure count has decayed since it was last updated. In float8 on purpose:
# extract() returns numeric, and power() on numerics cost ~25 us a row (most of a cached read's time).
_DECAY = "power(0.5::float8, extract(epoch FROM now() - e.updated_at)::float8 / 86400 / {half_life}::float8)"

RetrievalPath = Literal["hnsw", "hnsw+exact", "exact"]
ITERATIVE_SCAN_VERSION = (0, 8, 0)
_versions: dict[int, tuple[int, ...]] = {}


@dataclass(frozen=True)
class QueryFilter:
    """The query participant's side of the SQL hard constraints."""

    id: int
    kind: str
    domains: list[str]
    available_from: dt.date | None
    available_until: dt.date | None
    engagements: list[str]
    excluded: list[int]
    model: str

    def params(self) -> list[Any]:
        """$1..$8 of the filtered statements."""
        return [self.id, self.kind, self.domains, self.available_from, self.available_until,
                self.engagements, self.excluded, self.model]


@dataclass(frozen=True)
class Retrieved:
    """Allowed candidates near the query in either direction, and how they were found.

    `lowest` maps each searched side to the lowest cosine among its n rows, or None when fewer than n
    came back from an exact scan: every allowed candidate with that side was then seen.
    """

    ids: list[int]
    paths: dict[str, RetrievalPath]
    lowest: dict[str, float | None]


def parse_version(text: str | None) -> tuple[int, ...]:
    """'0.6.2' -> (0, 6, 2); no extension -> ()."""
    if not text:
        return ()
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


async def pgvector_version(conn: asyncpg.Connection) -> tuple[int, ...]:
    """The pgvector version of this connection's database, asked once per server connection."""
    pid = conn.get_server_pid()
    if pid not in _versions:
        text = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        _versions[pid] = parse_version(text)
    return _versions[pid]


MAX_EF_SEARCH = 1000  # pgvector's upper limit
THIN_POOL = 4  # a pair scan returning under a quarter of the rows asked for is redone exactly
MAX_POOL = 1_000_000  # `by_relevance`'s pool when every candidate it scans is to be scored with its lexical factor


def iterative(version: tuple[int, ...]) -> bool:
    """Whether this pgvector can scan an HNSW index iteratively (≥ 0.8)."""
    return version >= ITERATIVE_SCAN_VERSION


def first_ef_search(version: tuple[int, ...], n: int) -> int:
    """ef_search for a filtered scan for n rows.

    ≥ 0.8 scans iteratively until n rows pass the filter, so the usual 100 (or n) suffices
    (bench/README.md). Older versions return about ef_search rows before filtering: 200, or 4 per row
    asked (enough when a quarter pass). The share that passes near the query is what matters, and
    the planner's global estimate was off by 2x either way (100k participants), so a second, wider
    scan sized by what actually passed follows when needed (`wider_ef_search`). Each scan costs
    about linearly in ef_search (~12 ms at 444 on 100k 384-dim vectors here), so start small.
    """
    if iterative(version):
        return min(MAX_EF_SEARCH, max(100, n))
    return min(MAX_EF_SEARCH, max(200, 4 * n))


def wider_ef_search(ef_search: int, n: int, returned: int) -> int | None:
    """ef_search for a second scan after `returned` < n rows passed the filter at `ef_search`, or None.

    The share that passed estimates the filter's selectivity near the query; half as much again for
    safety. None when even the largest ef_search would fall short: the nearest rows are the excluded
    ones (e.g. a student's offers sit among other students' seeks), so only an exact scan helps.
    """
    needed = math.ceil(1.5 * n * ef_search / returned) if returned else MAX_EF_SEARCH + 1
    return None if needed > MAX_EF_SEARCH else max(2 * ef_search, needed)


def scan_settings(version: tuple[int, ...], ef_search: int) -> list[str]:
    """Transaction-local settings for a filtered HNSW scan on this pgvector version.

    Custom plans: the partial index predicate (`model = ...`) is only provable with the parameter's
    value at hand, whatever the connection's plan_cache_mode.
    """
    settings = ["SET LOCAL plan_cache_mode = force_custom_plan", f"SET LOCAL hnsw.ef_search = {int(ef_search)}"]
    if iterative(version):
        settings.append("SET LOCAL hnsw.iterative_scan = relaxed_order")
    return settings


async def query_participant(conn: asyncpg.Connection, participant_id: int, model: str) -> asyncpg.Record | None:
    """The query participant with its side vectors (or NULL), the side-embedding table's size estimate
    and the matching version (`matching_version`, NULL if unknown)."""
    return await conn.fetchrow(
        """SELECT p.*, o.embedding AS offers_vector, s.embedding AS seeks_vector,
                  (SELECT reltuples FROM pg_class WHERE oid = 'side_embeddings'::regclass) AS side_rows,
                  (SELECT version FROM matching_version) AS matching_version
           FROM participants p
           LEFT JOIN side_embeddings o ON o.participant_id = p.id AND o.model = $2 AND o.side = 'offers'
           LEFT JOIN side_embeddings s ON s.participant_id = p.id AND s.model = $2 AND s.side = 'seeks'
           WHERE p.id = $1""",
        participant_id, model,
    )


async def side_rows(conn: asyncpg.Connection, estimate: float | None, limit: int) -> float:
    """Rows in side_embeddings: the planner's estimate, or a count up to `limit` if never analysed."""
    if estimate is not None and estimate >= 0:
        return float(estimate)
    # Fresh tables report -1 until ANALYZE (or autovacuum) runs; counting past the limit tells nothing.
    count = await conn.fetchval("SELECT count(*) FROM (SELECT 1 FROM side_embeddings LIMIT $1) AS s", limit)
    return float(count)


def _direction_sql(side: str, vector_param: int, dim: int, exact: bool, kind: str | None = None) -> str:
    # The approximate form repeats the HNSW index's expression and predicate exactly (kind included),
    # or no index matches; the exact form orders by the plain column, which no index covers. `kind`
    # None (exact only) searches every allowed kind at once.
    distance = f"s.embedding <=> ${vector_param}" if exact else f"(s.embedding::vector({dim})) <=> ${vector_param}"
    order = f"{distance}, s.participant_id" if exact else distance
    same_kind = "" if kind is None else f" AND s.kind = {_literal(kind)}"
    return f"""(SELECT '{side}'::text AS side, {_literal(kind) if kind else 'NULL'}::text AS kind, s.participant_id,
            1 - ({distance}) AS cos FROM side_embeddings s
        JOIN participants p ON p.id = s.participant_id
        WHERE s.model = $8 AND s.side = '{side}'{same_kind} AND {_ALLOWED}
        ORDER BY {order} LIMIT $9)"""


Part = tuple[str, str | None]  # (candidate side searched, candidate kind or None for every allowed kind)
Found = dict[Part, list[tuple[int, float]]]  # part searched -> (participant id, cosine) rows


def kind_parts(query: QueryFilter, vectors: dict[str, np.ndarray]) -> dict[Part, np.ndarray]:
    """The indexed searches of a query: each candidate side in each allowed kind (all but the query's)."""
    return {(side, kind): vector for side, vector in vectors.items() for kind in KINDS if kind != query.kind}


def nearest_sql(query: QueryFilter, parts: dict[Part, np.ndarray], n: int, exact: bool) -> tuple[Any, ...]:
    """The one statement (a UNION ALL of every part's top n) and its parameters: (sql, *params)."""
    dim = len(next(iter(parts.values())))
    params: list[Any] = [*query.params(), n]
    vector_params: dict[int, int] = {}  # id of the vector -> its parameter: each side's vector is sent once
    sql = []
    for (side, kind), vector in parts.items():
        if id(vector) not in vector_params:
            params.append(vector)
            vector_params[id(vector)] = len(params)
        sql.append(_direction_sql(side, vector_params[id(vector)], dim, exact, kind))
    return (" UNION ALL ".join(sql), *params)


async def _nearest(
    conn: asyncpg.Connection, query: QueryFilter, parts: dict[Part, np.ndarray], n: int, exact: bool
) -> Found:
    """Top-n allowed candidates per (candidate side, kind), for the query vector searching that side."""
    if not parts:
        return {}
    rows = await conn.fetch(*nearest_sql(query, parts, n, exact))
    found: Found = {part: [] for part in parts}
    for row in rows:
        found[(row["side"], row["kind"])].append((row["participant_id"], row["cos"]))
    return found


async def retrieve(
    conn: asyncpg.Connection, query: QueryFilter, vectors: dict[str, np.ndarray], n: int, exact: bool
) -> Retrieved:
    """Allowed candidates among the top n of each direction, never losing any to filtering.

    `vectors` maps the candidate side searched to the query's vector for it: {"offers": query seeks,
    "seeks": query offers}. `exact` skips the index (small tables, evaluation). Otherwise each allowed
    kind (every kind but the query's) is searched in its own HNSW index, in one statement, and the
    kinds' top n are merged per side. An index scan that returns fewer than n rows may have dropped
    allowed rows to the remaining filters (pgvector < 0.8, or the iterative scan's tuple limit):
    before 0.8 those kinds are searched once more with an ef_search sized by the share of rows that
    passed (unless none did), and what is still short is redone exactly, for that side and kind only.
    """
    if exact:
        found = await _nearest(conn, query, {(side, None): vector for side, vector in vectors.items()}, n, exact=True)
        return _retrieved(found, {side: "exact" for side in vectors}, n)
    parts = kind_parts(query, vectors)
    version = await pgvector_version(conn)
    ef_search = first_ef_search(version, n)
    async with conn.transaction():
        found = await _nearest_indexed(conn, query, parts, n, version, ef_search)
        short = {part: parts[part] for part, rows in found.items() if len(rows) < n}
        if short and not iterative(version) and ef_search < MAX_EF_SEARCH:
            widths = {part: wider_ef_search(ef_search, n, len(found[part])) for part in short}
            wider = {part: parts[part] for part, width in widths.items() if width is not None}
            if wider:
                found |= await _nearest_indexed(
                    conn, query, wider, n, version, max(width for width in widths.values() if width is not None)
                )
    paths: dict[str, RetrievalPath] = {side: "hnsw" for side in vectors}
    short = {part: parts[part] for part, rows in found.items() if len(rows) < n}
    if short:
        found |= await _nearest(conn, query, short, n, exact=True)
        paths |= {side: "hnsw+exact" for side, _ in short}
    return _retrieved(found, paths, n)


async def _nearest_indexed(
    conn: asyncpg.Connection, query: QueryFilter, parts: dict[Part, np.ndarray], n: int,
    version: tuple[int, ...], ef_search: int,
) -> Found:
    """`_nearest` through the HNSW indexes with this ef_search (inside the caller's transaction)."""
    await conn.execute("; ".join(scan_settings(version, ef_search)))
    return await _nearest(conn, query, parts, n, exact=False)


def _retrieved(found: Found, paths: dict[str, RetrievalPath], n: int) -> Retrieved:
    # Each side's top n over its kinds (closest first, then id, as the exact scan orders them).
    by_side: dict[str, list[tuple[int, float]]] = {side: [] for side in paths}
    for (side, _), rows in found.items():
        by_side[side] += rows
    top = {side: sorted(rows, key=lambda row: (-row[1], row[0]))[:n] for side, rows in by_side.items()}
    ids = list(dict.fromkeys(participant_id for rows in top.values() for participant_id, _ in rows))
    # An iterative (relaxed order) scan may return rows out of order: the minimum, not the last row.
    lowest = {side: min(cos for _, cos in rows) if len(rows) >= n else None for side, rows in top.items()}
    return Retrieved(ids, paths, lowest)


# The query's own full-text terms: its most frequent lexemes (stop words of either language dropped),
# each with its Norwegian and English stem as well, so "PLC" or "sikkerhet" matches in either
# configuration. Frequent first, so long research texts give a bounded list.
_TERMS = """(SELECT array_agg(DISTINCT stem)
    FROM (SELECT lexeme
          FROM (SELECT t.lexeme, cardinality(t.positions) AS n FROM participants a, unnest(a.{column}) AS t
                WHERE a.id = $1 ORDER BY n DESC, t.lexeme LIMIT 4 * $12) AS frequent
          WHERE ts_lexize('english_stem', lexeme) <> '{{}}' AND ts_lexize('norwegian_stem', lexeme) <> '{{}}'
          ORDER BY n DESC, lexeme LIMIT $12) AS chosen,
    LATERAL unnest(ARRAY[lexeme] || ts_lexize('english_stem', lexeme) || ts_lexize('norwegian_stem', lexeme))
        AS stem)"""

# How many of a candidate's distinct lexemes are among the query's terms: weight them A, keep the A's,
# count. ~2.4 us a row where ts_rank_cd with the same terms as an OR-query took ~22 us, and on the
# labelled set it ranked as well (full ranker nDCG@10 0.603 against 0.606); scoring.lexical_rank
# turns the count into a rank.
_MATCHES = "coalesce(length(ts_filter(setweight(p.{column}, 'A', q.{terms}), '{{a}}')), 0)"

# $9 query seeks vector, $10 query offers vector, $11 exposure half-life (days), $12 lexical terms
# (0: no lexical matching), $13 candidate ids (NULL: every allowed candidate).
_CANDIDATES = f"""WITH q AS MATERIALIZED (
    SELECT CASE WHEN $12 > 0 THEN {_TERMS.format(column="seeks_tsv")} END AS fwd,
           CASE WHEN $12 > 0 THEN {_TERMS.format(column="offers_tsv")} END AS bwd)
SELECT p.id, p.external_id, p.kind, p.name, p.organisation, p.language, p.domains, p.engagements,
       p.available_from, p.available_until, p.capacity, p.location,
       (p.hidden_at IS NULL AND p.verified_at IS NOT NULL) AS visible,
       extract(epoch FROM now() - p.last_active_at)::float8 / 86400 AS age_days,
       1 - (o.embedding <=> $9) AS fwd_cos, 1 - (s.embedding <=> $10) AS bwd_cos,
       coalesce(e.shown * {_DECAY.format(half_life="$11")}, 0) AS shown,
       {_MATCHES.format(column="offers_tsv", terms="fwd")} AS fwd_matches, length(p.offers_tsv) AS offers_terms,
       {_MATCHES.format(column="seeks_tsv", terms="bwd")} AS bwd_matches, length(p.seeks_tsv) AS seeks_terms
FROM participants p CROSS JOIN q
LEFT JOIN side_embeddings o ON o.participant_id = p.id AND o.model = $8 AND o.side = 'offers'
LEFT JOIN side_embeddings s ON s.participant_id = p.id AND s.model = $8 AND s.side = 'seeks'
LEFT JOIN exposure e ON e.participant_id = p.id
WHERE {_ALLOWED} AND ($13::bigint[] IS NULL OR p.id = ANY($13::bigint[]))
  -- Only candidates with an interest to compare: the query's seeks with their offers, or vice versa.
  AND ((o.embedding IS NOT NULL AND $9::vector IS NOT NULL) OR (s.embedding IS NOT NULL AND $10::vector IS NOT NULL))
ORDER BY p.id"""


@dataclass(frozen=True)
class Relevance:
    """The query's side of the ranker's final score but for location and exposure, in SQL
    (scoring.score: R, scoring.relevance, and the soft terms)."""

    language: str
    cross_lingual_shift: float
    similarity_floor: float
    one_directional: bool
    lexical: float  # weight of the lexical factor (0: cosines only)
    lexical_terms: int  # the query's full-text terms (LEXICAL_TERMS)
    reciprocal: float = 1.0
    availability: float = 0.0
    engagement: float = 0.0
    same_language: float = 0.0
    freshness: float = 0.0
    availability_horizon_days: float = 365.0
    freshness_half_life_days: float = 180.0

    @classmethod
    def of(cls, language: str, weights: scoring.Weights, lexical_terms: int) -> Relevance:
        """For a query of this language, with these weights."""
        return cls(
            language, weights.cross_lingual_shift, weights.similarity_floor, weights.one_directional, weights.lexical,
            lexical_terms if weights.lexical else 0, weights.reciprocal, weights.availability, weights.engagement,
            weights.language, weights.freshness, weights.availability_horizon_days, weights.freshness_half_life_days)


# scoring.relevance in SQL: each direction's cosine (+ the shift for another language) mapped from
# [floor, 1] to [0, 1], times 1 + lexical * scoring.lexical_rank of its full-text matches, then the
# harmonic mean of the two directions, or the one that exists; candidates come in the order of
# reciprocal * R + the soft terms but location: the ranker's final score but for location and exposure,
# so the last one taken bounds what any candidate left out can score whatever exposure does (the cache
# entry's floor; exposure only lowers scores, and is applied when an entry is read). The lexical factor
# costs ~5 us a row, so it is computed only for the `pool` best by cosines alone.
# $9 query seeks vector, $10 query offers vector, $11 n, $12 lexical terms, $13 query language,
# $14 shift, $15 floor, $16 one-directional, $17 lexical weight, $18 pool, $19 reciprocal weight,
# $20-$21 the lexical path (below), $22-$27 the soft terms (_SOFT).
_FIT = "CASE WHEN {cos} IS NOT NULL THEN greatest(0, least(1, ({cos} + l.shift - l.floor) / (1 - l.floor))) END"
_HARMONIC = """CASE WHEN {f} IS NOT NULL AND {b} IS NOT NULL AND NOT $16
                    THEN CASE WHEN {f} + {b} > 0 THEN 2 * {f} * {b} / ({f} + {b}) ELSE 0 END
                    ELSE coalesce({f}, {b}) END"""
_LEXICAL_RANK = "(0.1 * {matches} / (1 + ln(greatest({terms}, 1))))"
_BOOST = "(1 + $17 * {x} / (1 + {x}))"
# scoring.soft_features in SQL, weighted, but for location (its weight is added to the entry's floor
# instead: scoring.location_codes compares case-folded text). Day numbers as float8 so that open ends
# are +-infinity, as in numpy. $22 availability, $23 engagement, $24 language, $25 freshness weights,
# $26 availability horizon (days), $27 freshness half-life (days).
_DAY = "coalesce(({column} - DATE '2000-01-01')::float8, '{infinity}'::float8)"
_SPAN = "least({until} - {since} + 1, $26::float8)"
_WINDOWS = {"qf": _DAY.format(column="$4::date", infinity="-infinity"),
            "qu": _DAY.format(column="$5::date", infinity="infinity"),
            "cf": _DAY.format(column="p.available_from", infinity="-infinity"),
            "cu": _DAY.format(column="p.available_until", infinity="infinity")}
_OVERLAP = ("least(greatest(least(greatest(least({qu}, {cu}) - greatest({qf}, {cf}) + 1, 0), $26::float8)"
            " / least(" + _SPAN.format(until="{qu}", since="{qf}") + ", " + _SPAN.format(until="{cu}", since="{cf}")
            + "), 0), 1)").format(**_WINDOWS)
_SHARED = "(SELECT count(*) FROM unnest(p.engagements) AS x WHERE x = ANY($6::text[]))"
_ENGAGEMENT = f"""CASE WHEN cardinality($6::text[]) > 0 AND cardinality(p.engagements) > 0
    THEN 0.5 + 0.5 * {_SHARED} / greatest(least(cardinality(p.engagements), cardinality($6::text[])), 1)
    ELSE 0.5 END"""
_FRESHNESS = ("power(0.5::float8, greatest(extract(epoch FROM now() - p.last_active_at)::float8 / 86400, 0)"
              " / $27::float8)")
_SOFT = f"""($22::float8 * {_OVERLAP} + $23::float8 * ({_ENGAGEMENT}) + $24::float8 * (p.language = $13)::int
    + $25::float8 * {_FRESHNESS})"""
# The lexical retrieval path: an OR-query of the query's terms that are rare in the candidates' column
# (ANALYZE's most common elements do not list them above $21 rows), so a lexically strong candidate is
# scored whatever its cosines. No statistics yet (never analysed), no lexical path. Lexemes with a
# quote or backslash are left out (the tsquery literal would need escaping).
_RARE = """(SELECT string_agg(quote_literal(t), ' | ')::tsquery
    FROM stats CROSS JOIN unnest(q.{terms}) AS t
    WHERE stats.attname = '{column}' AND t <> ALL(stats.common) AND strpos(t, '''') = 0 AND strpos(t, chr(92)) = 0)"""
# $20 candidate ids (NULL: every allowed candidate), $21 rare-term rows (0: no lexical path; only with $20).
_RELEVANCE = f"""WITH q AS MATERIALIZED (
    SELECT CASE WHEN $12 > 0 THEN {_TERMS.format(column="seeks_tsv")} END AS fwd,
           CASE WHEN $12 > 0 THEN {_TERMS.format(column="offers_tsv")} END AS bwd
), stats AS MATERIALIZED (
    SELECT s.attname::text AS attname,
           ARRAY(SELECT m.e FROM unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS m(e, f)
                 WHERE m.e IS NOT NULL AND m.f * greatest(c.reltuples, 0) > $21) AS common
    FROM pg_stats s JOIN pg_class c ON c.oid = 'participants'::regclass
    WHERE $21 > 0 AND $20::bigint[] IS NOT NULL AND s.schemaname = current_schema() AND s.tablename = 'participants'
      AND s.attname IN ('offers_tsv', 'seeks_tsv')
), lex AS MATERIALIZED (
    SELECT {_RARE.format(terms="fwd", column="offers_tsv")} AS fwd,
           {_RARE.format(terms="bwd", column="seeks_tsv")} AS bwd
    FROM q
), allowed AS MATERIALIZED (
    SELECT p.id, p.language
    FROM {{source}}
    WHERE {_ALLOWED}
), pool AS MATERIALIZED (
    -- Narrow rows through the joins: only the id and the fits.
    SELECT a.id, d.f, d.b
    FROM allowed a
    LEFT JOIN side_embeddings o
        ON o.participant_id = a.id AND o.model = $8 AND o.side = 'offers' AND $9::vector IS NOT NULL
    LEFT JOIN side_embeddings s
        ON s.participant_id = a.id AND s.model = $8 AND s.side = 'seeks' AND $10::vector IS NOT NULL
    CROSS JOIN LATERAL (SELECT CASE WHEN a.language <> $13 THEN $14::float8 ELSE 0 END AS shift,
                               $15::float8 AS floor) AS l
    CROSS JOIN LATERAL (SELECT {_FIT.format(cos="1 - (o.embedding <=> $9)")} AS f,
                               {_FIT.format(cos="1 - (s.embedding <=> $10)")} AS b) AS d
    WHERE o.embedding IS NOT NULL OR s.embedding IS NOT NULL
    ORDER BY $19 * {_HARMONIC.format(f="d.f", b="d.b")} DESC, a.id LIMIT $18
), boosted AS MATERIALIZED (  -- (inlined, the harmonic mean below would match the terms 10 times a row)
    SELECT c.id, {_SOFT} AS soft, c.f * {_BOOST.format(x=_LEXICAL_RANK.format(
                   matches=_MATCHES.format(column="offers_tsv", terms="fwd"), terms="length(p.offers_tsv)"))} AS f,
           c.b * {_BOOST.format(x=_LEXICAL_RANK.format(
                   matches=_MATCHES.format(column="seeks_tsv", terms="bwd"), terms="length(p.seeks_tsv)"))} AS b
    FROM pool c JOIN participants p ON p.id = c.id CROSS JOIN q
)
SELECT id FROM boosted ORDER BY $19 * {_HARMONIC.format(f="f", b="b")} + soft DESC, id LIMIT $11"""
# Every participant ($20 NULL), or the given ids and those sharing a rare term (each side's GIN index).
_EVERYONE = "participants p"
_AMONG = """(SELECT DISTINCT id FROM (
        SELECT unnest($20::bigint[]) AS id
        UNION ALL SELECT id FROM participants WHERE offers_tsv @@ (SELECT fwd FROM lex)
        UNION ALL SELECT id FROM participants WHERE seeks_tsv @@ (SELECT bwd FROM lex)) AS u) AS c
    JOIN participants p ON p.id = c.id"""


async def by_relevance(
    conn: asyncpg.Connection, query: QueryFilter, vectors: dict[str, np.ndarray], n: int, pool: int,
    relevance: Relevance, among: Sequence[int] | None = None, rare_rows: int = 0,
) -> list[int]:
    """The n allowed candidates of highest final score but for location and exposure (best first,
    then by id), by one exact scan.

    Unlike the top n of each direction, this follows the ranker: a candidate that fits well both
    ways (the harmonic mean) comes first even if neither direction alone would put it in a top n.
    The lexical factor is computed for the `pool` best by cosines.
    `among` restricts the scan to these candidates (an index's pool) and, with `rare_rows`, to the
    candidates sharing one of the query's terms found in at most about that many participants.
    """
    rows = await conn.fetch(
        _RELEVANCE.replace("{source}", _EVERYONE if among is None else _AMONG), *query.params(),
        vectors.get("offers"), vectors.get("seeks"), n, relevance.lexical_terms,
        relevance.language, relevance.cross_lingual_shift, relevance.similarity_floor, relevance.one_directional,
        relevance.lexical, max(pool, n), relevance.reciprocal, None if among is None else list(among), rare_rows,
        relevance.availability, relevance.engagement, relevance.same_language, relevance.freshness,
        relevance.availability_horizon_days, relevance.freshness_half_life_days,
    )
    return [row["id"] for row in rows]


def _pair_sql(dim: int, kind: str, exact: bool) -> str:
    # As _direction_sql: the indexed form repeats pair_index_sql's expression and predicate; the
    # exact form (a kind the index scan left short) orders by the plain column, which no index covers.
    distance = "s.embedding <#> $9" if exact else f"(s.embedding::vector({2 * dim})) <#> $9"
    return f"""(SELECT {_literal(kind)}::text AS kind, s.participant_id FROM pair_embeddings s
        JOIN participants p ON p.id = s.participant_id
        WHERE s.model = $8 AND s.kind = {_literal(kind)} AND {_ALLOWED}
        ORDER BY {distance}{', s.participant_id' if exact else ''} LIMIT $10)"""


async def _pairs_nearest(
    conn: asyncpg.Connection, query: QueryFilter, pair: np.ndarray, kinds: Sequence[str], n: int, exact: bool
) -> dict[str, list[int]]:
    """Per kind, the n allowed candidates of largest pair inner product (sum of both cosines), best first."""
    if not kinds:
        return {}
    sql = " UNION ALL ".join(_pair_sql(len(pair) // 2, kind, exact) for kind in kinds)
    found: dict[str, list[int]] = {kind: [] for kind in kinds}
    for row in await conn.fetch(sql, *query.params(), pair, n):
        found[row["kind"]].append(row["participant_id"])
    return found


async def pair_pool(conn: asyncpg.Connection, query: QueryFilter, vectors: dict[str, np.ndarray], n: int) -> list[int]:
    """Up to n allowed candidates per kind of largest cos(query seeks, offers) + cos(query offers, seeks).

    For a query with both sides (`vectors` has "offers" and "seeks"). One HNSW index per kind (pair
    vectors, 0009); a kind the filtered scan left short (pgvector < 0.8 returns about ef_search rows
    before filtering) is scanned again with a wider ef_search, then exactly if still thin.
    """
    pair = np.concatenate([vectors["offers"], vectors["seeks"]]).astype(np.float32)  # [query seeks ; query offers]
    kinds = [kind for kind in KINDS if kind != query.kind]
    version = await pgvector_version(conn)
    ef_search = first_ef_search(version, n)
    async with conn.transaction():
        await conn.execute("; ".join(scan_settings(version, ef_search)))
        found = await _pairs_nearest(conn, query, pair, kinds, n, exact=False)
        short = [kind for kind, ids in found.items() if len(ids) < n]
        widths = [wider_ef_search(ef_search, n, len(found[kind])) for kind in short]
        if short and not iterative(version) and all(width is not None for width in widths):
            await conn.execute("; ".join(scan_settings(version, max(w for w in widths if w is not None))))
            found |= await _pairs_nearest(conn, query, pair, short, n, exact=False)
    # What a short scan returned is still about the best of its kind (what it did not visit is farther
    # than all it did); only a thin one, where the filter leaves few candidates near the query, is
    # redone exactly, for that kind (its few allowed rows are cheap to scan).
    thin = [kind for kind, ids in found.items() if len(ids) < n // THIN_POOL]
    found |= await _pairs_nearest(conn, query, pair, thin, n, exact=True)
    return list(dict.fromkeys(pid for ids in found.values() for pid in ids))


async def candidate_rows(
    conn: asyncpg.Connection,
    query: QueryFilter,
    vectors: dict[str, np.ndarray],
    ids: Sequence[int] | None,
    exposure_half_life_days: float,
    lexical_terms: int,
) -> list[asyncpg.Record]:
    """Everything the ranker needs about allowed candidates: the given ids, or all of them (ids None).

    Only candidates with a comparable side (their offers for the query's seeks, or their seeks for
    its offers) are returned: with nothing to compare there is nothing to suggest.

    fwd_cos/bwd_cos are the cosines of the query's seeks with their offers and of their seeks with
    the query's offers (NULL where a side is missing); fwd_matches/bwd_matches how many lexemes of
    their offers/seeks are among the query's seek/offer terms, offers_terms/seeks_terms how many
    lexemes those have.
    """
    return await conn.fetch(
        _CANDIDATES, *query.params(), vectors.get("offers"), vectors.get("seeks"),
        exposure_half_life_days, lexical_terms, None if ids is None else list(ids),
    )


# Per candidate, the closest (query interest, candidate interest) pair across opposite sides; ties
# broken by side and position so the same pair is always chosen. $1 query id, $2 model, $3 candidate ids.
_BEST_PAIRS = """
    SELECT DISTINCT ON (b.participant_id) b.participant_id AS candidate_id, a.side AS query_side,
           (CASE a.side WHEN 'offers' THEN pa.offers ELSE pa.seeks END)[a.position + 1] AS query_text,
           (CASE b.side WHEN 'offers' THEN pb.offers ELSE pb.seeks END)[b.position + 1] AS candidate_text
    FROM interest_embeddings a
    JOIN interest_embeddings b ON b.model = a.model AND b.side <> a.side
    JOIN participants pa ON pa.id = a.participant_id
    JOIN participants pb ON pb.id = b.participant_id
    WHERE a.participant_id = $1 AND a.model = $2 AND b.participant_id = ANY($3::bigint[])
    ORDER BY b.participant_id, a.embedding <=> b.embedding, a.side, a.position, b.position"""


async def best_interest_pairs(
    conn: asyncpg.Connection, query_id: int, model: str, candidate_ids: Sequence[int]
) -> list[asyncpg.Record]:
    """Per candidate, the closest (query interest, candidate interest) pair across opposite sides.

    Columns: candidate_id, query_side ('seeks' or 'offers'), query_text, candidate_text.
    """
    return await conn.fetch(_BEST_PAIRS, query_id, model, list(candidate_ids))


async def best_interest_pairs_versioned(
    conn: asyncpg.Connection, query_id: int, model: str, candidate_ids: Sequence[int]
) -> tuple[int | None, list[asyncpg.Record]]:
    """`best_interest_pairs` and the matching version they were read at (one statement)."""
    rows = await conn.fetch(
        f"""WITH v AS (SELECT (SELECT version FROM matching_version) AS version)
            SELECT v.version, x.* FROM v LEFT JOIN ({_BEST_PAIRS}) AS x ON true""",
        query_id, model, list(candidate_ids),
    )
    return rows[0]["version"], [row for row in rows if row["candidate_id"] is not None]


@dataclass(frozen=True)
class ReadTime:
    """What changes without a new matching version, over the ids asked for, in their order: still
    visible (not hidden, verified, not deleted) bool (n,), days since last activity float (n,), the
    decayed exposure count float (n,), active matches int (n,), and blocked for the query bool (n,)
    (declined either way or already paired); with the matching version they were read at."""

    version: int | None
    visible: np.ndarray
    age_days: np.ndarray
    shown: np.ndarray
    active: np.ndarray
    blocked: np.ndarray


_READ_TIME = f"""WITH c AS MATERIALIZED (SELECT * FROM unnest($1::bigint[]) WITH ORDINALITY AS c(id, n)),
    counts AS (SELECT id, count(*) AS n FROM ({followup_repository.ACTIVE_SIDES_SQL.format(
        ids="$1::bigint[]", states="$4::text[]")}) AS sides GROUP BY id),
    blocked AS ({followup_repository.BLOCKED_SQL.format(pid="$3")})
SELECT (SELECT version FROM matching_version) AS version,
       array_agg(coalesce(p.hidden_at IS NULL AND p.verified_at IS NOT NULL, false) ORDER BY c.n) AS visible,
       array_agg(coalesce(extract(epoch FROM now() - p.last_active_at)::float8 / 86400, 0) ORDER BY c.n) AS age,
       array_agg(coalesce(e.shown * {_DECAY.format(half_life="$2")}, 0) ORDER BY c.n) AS shown,
       array_agg(coalesce(k.n, 0) ORDER BY c.n) AS active,
       array_agg(b.id IS NOT NULL ORDER BY c.n) AS blocked
FROM c
LEFT JOIN participants p ON p.id = c.id
LEFT JOIN exposure e ON e.participant_id = c.id
LEFT JOIN counts k ON k.id = c.id
LEFT JOIN blocked b ON b.id = c.id"""


async def read_time_state(
    conn: asyncpg.Connection, query_id: int, ids: Sequence[int], exposure_half_life_days: float
) -> ReadTime:
    """`ReadTime` of these participants for this query participant, in one statement."""
    row = await conn.fetchrow(_READ_TIME, list(ids), exposure_half_life_days, query_id, list(ACTIVE))
    assert row is not None

    def column(name: str, dtype: type) -> np.ndarray:
        return np.array(row[name] or [], dtype=dtype)

    return ReadTime(row["version"], column("visible", bool), column("age", np.float64), column("shown", np.float64),
                    column("active", np.int64), column("blocked", bool))


async def record_exposure(conn: asyncpg.Connection, participant_ids: Sequence[int], half_life_days: float) -> None:
    """Count one showing for each participant, decaying the old count by its age (one statement).

    Rows are locked in id order so concurrent requests showing overlapping candidates cannot deadlock.
    On its own (not inside a caller's transaction), the commit does not wait for the WAL flush
    (synchronous_commit off for this statement's transaction only): a crash may lose the last
    fraction of a second of counts, a soft signal, and every suggestions request saves a disk flush.
    """
    quick = "" if conn.is_in_transaction() else ", (SELECT set_config('synchronous_commit', 'off', true)) AS quick"
    await conn.execute(
        f"""INSERT INTO exposure AS e (participant_id, shown, updated_at)
            SELECT id, 1, now() FROM unnest($1::bigint[]) AS id{quick} ORDER BY id
            ON CONFLICT (participant_id) DO UPDATE
            SET shown = e.shown * {_DECAY.format(half_life="$2")} + 1,
                updated_at = now()""",
        sorted(set(participant_ids)), half_life_days,
    )
