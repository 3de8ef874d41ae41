"""A cached ranking of an older matching version brought up to date (service.matching.service, migration
0026): the answer equals ranking afresh after any mix of changes to other participants, and the entry is
computed again only when its own participant changed or too many did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import numpy as np
import pytest

from service.kit.vocabulary import DOMAINS
from service.matching import scoring, service
from service.matching.cache import SuggestionCache
from tests.matching.test_retrieval import DIM, MODEL, Person, generate, load, queries


def _config(cut: int = 30) -> service.RankerConfig:
    # Entries cut at `cut` candidates (so their floor matters), exposure and freshness in play.
    weights = scoring.Weights(similarity_floor=0.0, exposure=1.0, freshness=0.2)
    return service.RankerConfig(weights, exact_search_below=10**9, exact_candidates=cut)


async def _answer(conn: asyncpg.Connection, person: Person, cache: SuggestionCache | None, k: int) -> list[Any]:
    found = await service.suggest(conn, person.id, k, MODEL, _config(), cache=cache, record_exposure=False)
    return [(s.id, s.score, s.explanation) for s in found]


def _same(cached: list[Any], fresh: list[Any]) -> bool:
    """The same candidates, explanations and scores (freshness moves with the clock: ~1e-9 a millisecond)."""
    return [(i, e) for i, _, e in cached] == [(i, e) for i, _, e in fresh] and all(
        abs(a[1] - b[1]) < 1e-6 for a, b in zip(cached, fresh, strict=True))


def _unit(rng: np.random.Generator, near: np.ndarray | None = None) -> list[float]:
    vector = rng.standard_normal(DIM) if near is None else near + 0.05 * rng.standard_normal(DIM)
    return (vector / np.linalg.norm(vector)).tolist()


async def _change(conn: asyncpg.Connection, rng: np.random.Generator, people: Sequence[Person],
                  mirrors: Sequence[Person], n: int) -> bool:
    """One transaction of random changes to `people` (never the queries): renames, constraint changes,
    new side vectors (some near a query's own, so they rise to its top), hiding, deletions, newcomers;
    whether it deleted anyone."""
    deleted = False
    async with conn.transaction():
        for _ in range(n):
            other = people[int(rng.integers(len(people)))]
            what = int(rng.integers(6))
            if what == 0:
                await conn.execute("UPDATE participants SET name = name || '+' WHERE id = $1", other.id)
            elif what == 1:
                domains = sorted(rng.choice(DOMAINS, size=int(rng.integers(1, 3)), replace=False).tolist())
                await conn.execute("UPDATE participants SET domains = $2 WHERE id = $1", other.id, domains)
            elif what == 2:
                mirror = mirrors[int(rng.integers(len(mirrors)))]
                await conn.execute(
                    """UPDATE side_embeddings SET embedding = $2 WHERE participant_id = $1 AND side = 'offers'""",
                    other.id, _unit(rng, mirror.seeks if rng.random() < 0.5 else None))
            elif what == 3:
                await conn.execute("UPDATE participants SET hidden_at = now() WHERE id = $1", other.id)
            elif what == 4:
                deleted = deleted or await conn.fetchval(
                    "WITH d AS (DELETE FROM participants WHERE id = $1 RETURNING 1) SELECT count(*) > 0 FROM d",
                    other.id)
            else:
                await _newcomer(conn, mirrors[int(rng.integers(len(mirrors)))], rng)
    return deleted


async def _newcomer(conn: asyncpg.Connection, mirror: Person, rng: np.random.Generator) -> int:
    """A new verified participant whose offers are near the mirror's seeks and seeks near its offers."""
    new_id: int = await conn.fetchval(
        """INSERT INTO participants (external_id, kind, name, email, domains, engagements, capacity, offers, seeks,
                                     source, verified_at, language)
           SELECT 'new-' || gen_random_uuid(), CASE WHEN kind = 'student' THEN 'company' ELSE 'student' END,
                  'Newcomer', gen_random_uuid() || '@example.no', domains, engagements, 3, seeks, offers, 'import',
                  now(), language
           FROM participants WHERE id = $1 RETURNING id""", mirror.id)
    for side, near in (("offers", mirror.seeks), ("seeks", mirror.offers)):
        await conn.execute(
            "INSERT INTO side_embeddings (participant_id, model, side, embedding) VALUES ($1, $2, $3, $4)",
            new_id, MODEL, side, _unit(rng, near))
    return new_id


async def _assert_floor_holds(conn: asyncpg.Connection, person: Person, cache: SuggestionCache) -> None:
    """Every allowed candidate that scores above the entry's floor is in it (hiding and showing again are
    new versions, so the hidden need not be)."""
    entry = cache.get(person.id)
    assert entry is not None
    everyone = await service.rank_all(conn, person.id, MODEL, _config())
    assert {r.id for r in everyone if r.score > entry.floor + 1e-6} <= set(entry.ids.tolist())


@pytest.mark.parametrize("seed", [41, 42])
async def test_an_entry_brought_up_to_date_answers_as_ranking_afresh(conn: asyncpg.Connection, seed: int) -> None:
    people = await load(conn, generate(800, seed=seed))
    chosen = queries(people, 5)
    others = [p for p in people if p not in chosen]
    cache = SuggestionCache(100)
    rng = np.random.default_rng(seed)
    for person in chosen:
        await _answer(conn, person, cache, 10)
    computed, deletions = cache.misses, 0
    for _ in range(8):
        deletions += await _change(conn, rng, others, chosen, int(rng.integers(1, 5)))
        for person in chosen:
            assert _same(await _answer(conn, person, cache, 10), await _answer(conn, person, None, 10))
            await _assert_floor_holds(conn, person, cache)
    # Brought up to date, not computed again, but after a deletion (a few more if changes emptied the top
    # below the floor).
    assert 0 < deletions < 8
    assert cache.patches >= (8 - deletions) * len(chosen) - 4
    assert cache.misses - computed <= deletions * len(chosen) + 4


async def test_a_newcomer_near_the_query_comes_first_without_computing_again(conn: asyncpg.Connection) -> None:
    people = await load(conn, generate(600, seed=43))
    person = queries(people, 1)[0]
    cache = SuggestionCache(10)
    await _answer(conn, person, cache, 5)
    newcomer = await _newcomer(conn, person, np.random.default_rng(0))
    found = await _answer(conn, person, cache, 5)
    assert found[0][0] == newcomer and cache.patches == 1 and cache.misses == 1
    assert _same(found, await _answer(conn, person, None, 5))


async def test_the_entry_is_computed_again_when_its_participant_or_too_many_changed(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await load(conn, generate(600, seed=44))
    person, other = queries(people, 2)
    cache = SuggestionCache(10)
    await _answer(conn, person, cache, 5)
    await conn.execute("UPDATE participants SET name = 'Renamed' WHERE id = $1", person.id)
    assert _same(await _answer(conn, person, cache, 5), await _answer(conn, person, None, 5))
    assert (cache.patches, cache.misses) == (0, 2)
    monkeypatch.setattr(service, "PATCH_MOST", 3)
    await conn.execute("UPDATE participants SET name = name || '!' WHERE id = ANY($1::bigint[])",
                       [p.id for p in people[:10] if p.id not in (person.id, other.id)])
    assert _same(await _answer(conn, person, cache, 5), await _answer(conn, person, None, 5))
    assert (cache.patches, cache.misses) == (0, 3)
