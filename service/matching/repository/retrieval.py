"""Candidate retrieval for the ranker: the hard constraints in SQL, nearest neighbours through the HNSW
indexes (side vectors per kind, pair vectors) or an exact scan, and the best interest pairs shown in
explanations.

Hard constraints are applied in SQL (docs/contracts.md §6, the same rules as scoring.hard_constraints, which
re-checks every pair), so the nearest-neighbour search only ever sees allowed candidates.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import numpy as np

from service.kit.database import custom_plans
from service.kit.vocabulary import KINDS
from service.matching.repository.embeddings import sql_literal

# Parameters shared by every filtered statement below (see `QueryFilter.params`):
#   $1 query id, $2 kind, $3 domains, $4 available_from, $5 available_until, $6 engagements,
#   $7 excluded ids (declined, matched, at capacity), $8 model.
ALLOWED_SQL = """p.id <> $1 AND p.kind <> $2 AND p.domains && $3::text[]
    AND p.hidden_at IS NULL AND p.verified_at IS NOT NULL
    AND ($5::date IS NULL OR p.available_from IS NULL OR p.available_from <= $5::date)
    AND ($4::date IS NULL OR p.available_until IS NULL OR p.available_until >= $4::date)
    AND (cardinality($6::text[]) = 0 OR cardinality(p.engagements) = 0 OR p.engagements && $6::text[])
    AND p.id <> ALL($7::bigint[])"""

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


def forget_pgvector_version(server_pid: int) -> None:
    """Drop the cached pgvector version of one server connection (a pid may recur on another server)."""
    _versions.pop(server_pid, None)


MAX_EF_SEARCH = 1000  # pgvector's upper limit
THIN_POOL = 4  # a pair scan returning under a quarter of the rows asked for is redone exactly


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


async def allowed_capacity(conn: asyncpg.Connection, query: QueryFilter, candidate_id: int) -> int | None:
    """The candidate's capacity if the SQL hard constraints (`ALLOWED_SQL`) allow them for the query and
    they have an interest embedded with the model; None otherwise."""
    capacity: int | None = await conn.fetchval(
        f"""SELECT p.capacity FROM participants p
            WHERE {ALLOWED_SQL} AND p.id = $9
              AND EXISTS (SELECT 1 FROM side_embeddings s WHERE s.participant_id = p.id AND s.model = $8)""",
        *query.params(), candidate_id,
    )
    return capacity


async def side_rows(conn: asyncpg.Connection, estimate: float | None, limit: int) -> float:
    """Rows in side_embeddings: the planner's estimate, or a count up to `limit` if never analysed."""
    if estimate is not None and estimate >= 0:
        return float(estimate)
    # Fresh tables report -1 until ANALYZE (or autovacuum) runs; counting past the limit tells nothing.
    count = await conn.fetchval("SELECT count(*) FROM (SELECT 1 FROM side_embeddings LIMIT $1) AS s", limit)
    return float(count)


def direction_sql(side: str, vector_param: int, dim: int, exact: bool, kind: str | None = None) -> str:
    """One side's top-n statement ($1-$8 the filter, $9 n, the query vector at `vector_param`)."""
    # The approximate form repeats the HNSW index's expression and predicate exactly (kind included),
    # or no index matches; the exact form orders by the plain column, which no index covers. `kind`
    # None (exact only) searches every allowed kind at once.
    distance = f"s.embedding <=> ${vector_param}" if exact else f"(s.embedding::vector({dim})) <=> ${vector_param}"
    order = f"{distance}, s.participant_id" if exact else distance
    same_kind = "" if kind is None else f" AND s.kind = {sql_literal(kind)}"
    return f"""(SELECT '{side}'::text AS side, {sql_literal(kind) if kind else 'NULL'}::text AS kind, s.participant_id,
            1 - ({distance}) AS cos FROM side_embeddings s
        JOIN participants p ON p.id = s.participant_id
        WHERE s.model = $8 AND s.side = '{side}'{same_kind} AND {ALLOWED_SQL}
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
        sql.append(direction_sql(side, vector_params[id(vector)], dim, exact, kind))
    return (" UNION ALL ".join(sql), *params)


async def nearest(
    conn: asyncpg.Connection, query: QueryFilter, parts: dict[Part, np.ndarray], n: int, exact: bool
) -> Found:
    """Top-n allowed candidates per (candidate side, kind), for the query vector searching that side."""
    if not parts:
        return {}
    # An index scan runs inside `nearest_indexed`'s transaction, whose `scan_settings` ask for custom plans.
    async with custom_plans(conn) if exact else nullcontext():
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
        found = await nearest(conn, query, {(side, None): vector for side, vector in vectors.items()}, n, exact=True)
        return _retrieved(found, {side: "exact" for side in vectors}, n)
    parts = kind_parts(query, vectors)
    version = await pgvector_version(conn)
    ef_search = first_ef_search(version, n)
    async with conn.transaction():
        found = await nearest_indexed(conn, query, parts, n, version, ef_search)
        short = {part: parts[part] for part, rows in found.items() if len(rows) < n}
        if short and not iterative(version) and ef_search < MAX_EF_SEARCH:
            widths = {part: wider_ef_search(ef_search, n, len(found[part])) for part in short}
            wider = {part: parts[part] for part, width in widths.items() if width is not None}
            if wider:
                found |= await nearest_indexed(
                    conn, query, wider, n, version, max(width for width in widths.values() if width is not None)
                )
    paths: dict[str, RetrievalPath] = {side: "hnsw" for side in vectors}
    short = {part: parts[part] for part, rows in found.items() if len(rows) < n}
    if short:
        found |= await nearest(conn, query, short, n, exact=True)
        paths |= {side: "hnsw+exact" for side, _ in short}
    return _retrieved(found, paths, n)


async def nearest_indexed(
    conn: asyncpg.Connection, query: QueryFilter, parts: dict[Part, np.ndarray], n: int,
    version: tuple[int, ...], ef_search: int,
) -> Found:
    """`nearest` through the HNSW indexes with this ef_search (inside the caller's transaction)."""
    await conn.execute("; ".join(scan_settings(version, ef_search)))
    return await nearest(conn, query, parts, n, exact=False)


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


def pair_sql(dim: int, kind: str, exact: bool) -> str:
    """One kind's top-n statement over pair vectors ($1-$8 the filter, $9 the pair query, $10 n)."""
    # As direction_sql: the indexed form repeats pair_index_sql's expression and predicate; the
    # exact form (a kind the index scan left short) orders by the plain column, which no index covers.
    distance = "s.embedding <#> $9" if exact else f"(s.embedding::vector({2 * dim})) <#> $9"
    return f"""(SELECT {sql_literal(kind)}::text AS kind, s.participant_id FROM pair_embeddings s
        JOIN participants p ON p.id = s.participant_id
        WHERE s.model = $8 AND s.kind = {sql_literal(kind)} AND {ALLOWED_SQL}
        ORDER BY {distance}{', s.participant_id' if exact else ''} LIMIT $10)"""


async def _pairs_nearest(
    conn: asyncpg.Connection, query: QueryFilter, pair: np.ndarray, kinds: Sequence[str], n: int, exact: bool
) -> dict[str, list[int]]:
    """Per kind, the n allowed candidates of largest pair inner product (sum of both cosines), best first."""
    if not kinds:
        return {}
    sql = " UNION ALL ".join(pair_sql(len(pair) // 2, kind, exact) for kind in kinds)
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


# For each of the query's interests, the allowed candidates owning the n closest interests of the
# opposite side (a top-n sort of an exact scan per interest, the participant filter applied to the few
# rows kept rather than joined to every row). A candidate whose best pair with the query (ranking.
# BEST_PAIR_SQL) is among the n closest of its query interest is found. $1-$8 the filter, $9 n.
_INTEREST_POOL = f"""WITH qi AS MATERIALIZED (
    SELECT side, embedding FROM interest_embeddings WHERE participant_id = $1 AND model = $8
)
SELECT DISTINCT near.participant_id FROM qi CROSS JOIN LATERAL (
    SELECT b.participant_id FROM interest_embeddings b JOIN participants p ON p.id = b.participant_id
    WHERE b.model = $8 AND b.side <> qi.side AND {ALLOWED_SQL}
    ORDER BY b.embedding <=> qi.embedding LIMIT $9) AS near"""


async def interest_pool(conn: asyncpg.Connection, query: QueryFilter, n: int) -> list[int]:
    """The allowed candidates owning one of the n interests closest to each of the query's interests.

    A many-topic profile's side vector is a blur of its topics, so the side- and pair-vector indexes
    can miss a candidate whose one interest fits one of the query's exactly; this pool finds them.
    """
    async with custom_plans(conn):
        rows = await conn.fetch(_INTEREST_POOL, *query.params(), n)
    return list(dict.fromkeys(row["participant_id"] for row in rows))
