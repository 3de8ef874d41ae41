"""The suggestion cache (service.matching.cache) against the embedded PostgreSQL: a cached answer is
the answer ranking afresh gives, and no change a hard constraint depends on (docs/contracts.md §6) can make
it serve a pair that breaks one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import asyncpg
import numpy as np
import pytest

from service.kit.vocabulary import DOMAINS
from service.matching import scoring, service
from service.matching.cache import Entry, SuggestionCache
from service.matching.repository import changes, ranking, retrieval, state
from tests.matching.test_retrieval import MODEL, Person, allowed, decline, fill_capacity, generate, load, queries

K = 5


def _config() -> service.RankerConfig:
    # exposure weight 1 so that a few showings reorder; the exact path (2,000 side vectors).
    return service.RankerConfig(scoring.Weights(similarity_floor=0.0, exposure=1.0), exact_search_below=10**9)


def _cut_config() -> service.RankerConfig:
    # As _config, with entries cut at 20 candidates, so that exposure can overtake them.
    return replace(_config(), exact_candidates=20)


async def _suggest(
    conn: asyncpg.Connection, person: Person, cache: SuggestionCache | None, k: int = K, record: bool = False
) -> list[service.Suggestion]:
    return await service.suggest(conn, person.id, k, MODEL, _config(), cache=cache, record_exposure=record)


def _answer(found: Sequence[service.Suggestion]) -> list[tuple[int, float, str]]:
    # Freshness moves with the clock between two calls (~1e-9 a millisecond).
    return [(s.id, round(s.score, 6), s.explanation) for s in found]


async def _no_fill(*args: object, **kwargs: object) -> None:
    raise AssertionError("the cached entry should have been used")


async def test_a_cached_answer_equals_ranking_afresh_also_as_exposure_grows(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await load(conn, generate(1200, seed=21))
    cache = SuggestionCache(100)
    chosen = queries(people, 6)
    initial = {}
    for person in chosen:
        initial[person.id] = _answer(await _suggest(conn, person, cache))
        assert initial[person.id] == _answer(await _suggest(conn, person, None))
    assert len(cache) == len(chosen)
    for _ in range(3):  # each round shows (and so penalises) the candidates it suggests
        for person in chosen:
            with monkeypatch.context() as patched:
                patched.setattr(service, "compute_entry", _no_fill)
                cached = await _suggest(conn, person, cache, record=True)
    # After the traffic, the cache still answers as ranking afresh does, and exposure did reorder.
    for person in chosen:
        with monkeypatch.context() as patched:
            patched.setattr(service, "compute_entry", _no_fill)
            cached = await _suggest(conn, person, cache)
        assert _answer(cached) == _answer(await _suggest(conn, person, None))
    after = [_answer(await _suggest(conn, p, None)) for p in chosen]
    assert [[i for i, *_ in a] for a in after] != [[i for i, *_ in initial[p.id]] for p in chosen]


async def test_hidden_deleted_full_declined_and_changed_candidates_are_never_served_from_the_cache(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await load(conn, generate(1200, seed=22))
    by_id = {p.id: p for p in people}
    cache = SuggestionCache(100)
    person = queries(people, 1)[0]
    served = [s.id for s in await _suggest(conn, person, cache)]
    assert len(served) == K

    hidden, deleted, full, declined, changed = served
    await conn.execute("UPDATE participants SET hidden_at = now() WHERE id = $1", hidden)
    await conn.execute("DELETE FROM participants WHERE id = $1", deleted)
    # No longer sharing a domain with the query: a change the cached base scores depend on.
    mine = by_id[person.id].domains
    await conn.execute("UPDATE participants SET domains = $2 WHERE id = $1", person.id, mine[:1])
    await conn.execute("UPDATE participants SET domains = $2 WHERE id = $1", changed,
                        [d for d in DOMAINS if d != mine[0]])

    await fill_capacity(conn, full, [p for p in people if p.hidden and p.id != hidden])
    await decline(conn, declined, person.id)
    again = [s.id for s in await _suggest(conn, person, cache, k=50)]
    assert not {hidden, deleted, full, declined, changed} & set(again)
    by_id[person.id].domains = mine[:1]
    assert all(allowed(by_id[person.id], by_id[pid]) for pid in again)
    assert again == [s.id for s in await _suggest(conn, person, None, k=50)]


async def test_only_the_read_time_checks_run_while_nothing_changed(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await load(conn, generate(600, seed=23))
    cache = SuggestionCache(100)
    person = queries(people, 1)[0]
    first = await _suggest(conn, person, cache)
    version = cache.version
    # Hiding a candidate is a new version; so is every profile change. Signing in is not.
    await conn.execute("UPDATE participants SET last_active_at = now() - interval '30 days' WHERE id = $1",
                        first[0].id)
    monkeypatch.setattr(service, "compute_entry", _no_fill)
    after_activity = await _suggest(conn, person, cache)
    assert cache.version == version
    assert after_activity[0].score < first[0].score  # freshness is applied when the entry is read
    monkeypatch.undo()
    await conn.execute("UPDATE participants SET hidden_at = now() WHERE id = $1", first[0].id)
    later = await _suggest(conn, person, cache)
    assert cache.version is not None and version is not None and cache.version > version
    assert first[0].id not in [s.id for s in later]


async def test_a_new_participant_is_suggested_at_once(conn: asyncpg.Connection) -> None:
    people = await load(conn, generate(600, seed=24))
    cache = SuggestionCache(100)
    person = queries(people, 1)[0]
    await _suggest(conn, person, cache)
    twin = await conn.fetchval(
        """INSERT INTO participants (external_id, kind, name, email, domains, engagements, capacity, offers, seeks,
                                     source, verified_at, language)
           SELECT 'twin', CASE WHEN kind = 'student' THEN 'company' ELSE 'student' END, 'Twin', 'twin@example.no',
                  domains, engagements, 3, seeks, offers, 'import', now(), language
           FROM participants WHERE id = $1 RETURNING id""", person.id)
    await conn.execute(
        """INSERT INTO side_embeddings (participant_id, model, side, embedding)
           SELECT $2, model, CASE side WHEN 'offers' THEN 'seeks' ELSE 'offers' END, embedding
           FROM side_embeddings WHERE participant_id = $1""", person.id, twin)
    assert (await _suggest(conn, person, cache))[0].id == twin  # a perfect mirror fits best


async def test_the_version_moves_at_commit_once_per_transaction_and_logs_who_changed(
    conn: asyncpg.Connection,
) -> None:
    people = await load(conn, generate(50, seed=25))
    before = await conn.fetchval("SELECT version FROM matching_version")
    async with conn.transaction():
        await conn.execute("UPDATE participants SET name = name || '!' WHERE id = $1", people[0].id)
        await conn.execute("UPDATE participants SET name = name || '?' WHERE id = $1", people[1].id)
        await conn.execute("UPDATE side_embeddings SET embedding = embedding WHERE participant_id = $1", people[2].id)
        assert await conn.fetchval("SELECT version FROM matching_version") == before  # deferred to commit
    bumped: int = await conn.fetchval("SELECT version FROM matching_version")
    assert bumped > before
    found = await changes.since(conn, before, 10)
    assert found.version == bumped and sorted(found.changed or []) == sorted(p.id for p in people[:3])
    # Only who may be a candidate now is re-scored: not the hidden or unconfirmed.
    assert sorted(found.visible) == sorted(p.id for p in people[:3] if p.verified and not p.hidden)
    assert (await changes.since(conn, before, 2)).changed is None  # more changed than asked for
    assert (await changes.since(conn, bumped, 3)).changed == []
    assert (await changes.since(conn, before - 1, 10)).changed is None  # a version never logged: not known
    # A deleted participant leaves no row naming them, and whatever spans the deletion is computed again.
    await conn.execute("DELETE FROM participants WHERE id = $1", people[1].id)
    assert await conn.fetchval("SELECT count(*) FROM matching_changes WHERE participant_id = $1", people[1].id) == 0
    assert (await changes.since(conn, bumped, 10)).changed is None
    bumped = await conn.fetchval("SELECT version FROM matching_version")
    await conn.execute("UPDATE participants SET last_active_at = now(), updated_at = now() WHERE id = $1",
                        people[0].id)
    assert await conn.fetchval("SELECT version FROM matching_version") == bumped
    await conn.execute("INSERT INTO exposure VALUES ($1, 3, now())", people[0].id)
    assert await conn.fetchval("SELECT version FROM matching_version") == bumped
    await conn.execute("TRUNCATE side_embeddings")
    assert (await changes.since(conn, bumped, 10)).changed is None  # everything changed


def _entry(version: int, participant_id: int) -> Entry:
    return Entry(version=version, query={"id": participant_id, "external_id": f"p{participant_id}"}, source={},
                 ids=np.array([], dtype=np.int64), base=np.array([]), capacity=np.array([]), floor=-math.inf)


def test_the_newest_version_is_served_and_older_entries_wait_to_be_brought_up_to_it() -> None:
    cache = SuggestionCache(2)
    entry = _entry(5, 1)
    assert cache.observe(5)
    cache.put(1, entry, {})
    assert cache.get(1) is entry and cache.participant_id("p1") == 1
    assert not cache.observe(4)  # a request that read an older version neither uses nor clears
    assert cache.get(1) is entry
    cache.put(2, _entry(4, 2), {})
    assert cache.get(2) is None and cache.participant_id("p2") is None
    cache.keep_changes(5, changes.Changes(5, [3], []))
    assert cache.changes_since(5) == changes.Changes(5, [3], [])
    cache.keep_changes(4, changes.Changes(4, [3], []))  # not up to the current version: not kept
    assert cache.changes_since(4) is None
    assert cache.observe(6) and cache.version == 6
    assert cache.get(1) is entry and len(cache) == 1  # kept, to be brought up to version 6 when read
    assert cache.changes_since(5) is None  # they reached version 5 only
    cache.put(1, _entry(5, 1), {})  # an entry of an older version is not stored
    assert cache.get(1) is entry
    assert not cache.observe(None) and cache.version is None and len(cache) == 0
    cache.observe(7)
    for pid in (1, 2, 3):
        cache.put(pid, _entry(7, pid), {})
    assert cache.get(1) is None and len(cache) == 2  # least recently used first
    assert cache.participant_id("p1") is None and cache.participant_id("p3") == 3


async def test_an_entry_overtaken_by_exposure_is_computed_again_wider(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await load(conn, generate(1200, seed=26))
    config = _cut_config()
    cache = SuggestionCache(10)
    person = queries(people, 1)[0]
    first = await service.suggest(conn, person.id, K, MODEL, config, cache=cache, record_exposure=False)
    entry = cache.get(person.id)
    assert entry is not None and len(entry.ids) == 20 and entry.floor > -math.inf  # cut at 20
    # Every cached candidate shown a lot since: the best ones outside the entry now rank higher.
    await conn.execute("INSERT INTO exposure SELECT unnest($1::bigint[]), 500, now()", entry.ids.tolist())
    widened: list[int] = []
    computed = service.compute_entry

    async def spy(*args: object, widen: int = 1, **kwargs: object) -> object:
        widened.append(widen)
        return await computed(*args, widen=widen, **kwargs)  # type: ignore[arg-type,misc]

    monkeypatch.setattr(service, "compute_entry", spy)
    again = await service.suggest(conn, person.id, K, MODEL, config, cache=cache, record_exposure=False)
    assert widened == [4]
    assert not {s.id for s in again} & {s.id for s in first}
    wider = cache.get(person.id)
    assert wider is not None and len(wider.ids) == 80 and wider.width == 4 and wider.floor > -math.inf
    monkeypatch.undo()
    fresh = await service.suggest(conn, person.id, K, MODEL, config, record_exposure=False)
    assert _answer(again) == _answer(fresh)
    # Overtaken again (sustained traffic): four times wider again, and still the exact answer.
    await conn.execute("UPDATE exposure SET shown = 500 WHERE participant_id = ANY($1::bigint[])", wider.ids.tolist())
    await conn.execute("INSERT INTO exposure SELECT unnest($1::bigint[]), 500, now() ON CONFLICT DO NOTHING",
                        wider.ids.tolist())
    monkeypatch.setattr(service, "compute_entry", spy)
    third = await service.suggest(conn, person.id, K, MODEL, config, cache=cache, record_exposure=False)
    assert widened == [4, 16] and cache.get(person.id).width == 16  # type: ignore[union-attr]
    monkeypatch.undo()
    assert _answer(third) == _answer(await service.suggest(conn, person.id, K, MODEL, config, record_exposure=False))


async def test_a_first_entry_overtaken_by_exposure_is_widened_from_its_one_scan(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await load(conn, generate(1200, seed=29))
    config = _cut_config()
    person = queries(people, 1)[0]
    unexposed = await service.rank_all(conn, person.id, MODEL, config)
    # Its best 100 shown a lot before it ever asked: neither the scan's first 20 nor 80 hold its top 5.
    await conn.execute("INSERT INTO exposure SELECT unnest($1::bigint[]), 500, now()", [r.id for r in unexposed[:100]])
    scans: list[int] = []
    original = ranking.by_relevance

    async def counting(*args: Any, **kwargs: Any) -> list[int]:
        scans.append(args[3])
        return await original(*args, **kwargs)

    monkeypatch.setattr(ranking, "by_relevance", counting)
    cache = SuggestionCache(10)
    found = await service.suggest(conn, person.id, K, MODEL, config, cache=cache, record_exposure=False)
    entry = cache.get(person.id)
    assert len(scans) == 1 and entry is not None and entry.width == 16  # 20, 80, 320 from the one scan
    exact = await service.rank_all(conn, person.id, MODEL, config)  # exposure included, every candidate
    assert [s.id for s in found] == [r.id for r in exact[:K]]
    assert [s.id for s in await service.suggest(conn, person.id, K, MODEL, config, cache=cache,
                                                record_exposure=False)] == [r.id for r in exact[:K]]
    assert len(scans) == 1  # and answered from the cache since


async def test_the_exact_scan_orders_by_the_final_score_but_for_location_and_exposure(
    conn: asyncpg.Connection,
) -> None:
    # The entry's floor relies on it: a candidate the scan left out scores at most the last one taken
    # (plus the location weight), whatever its soft terms and exposure. Languages, activity varied;
    # exposure recorded, which the order leaves out (it is applied when an entry is read).
    people = await load(conn, generate(600, seed=27, mentoring=40))
    await conn.execute("""UPDATE participants SET language = CASE WHEN id % 3 = 0 THEN 'en' ELSE 'nb' END,
                                  last_active_at = now() - make_interval(days => ((id * 37) % 400)::int),
                                  engagements = CASE id % 4 WHEN 0 THEN '{}'::text[]
                                      WHEN 1 THEN engagements || '{mentoring}' ELSE engagements END""")
    await conn.execute("INSERT INTO exposure SELECT id, (id * 13) % 40, now() FROM participants WHERE id % 2 = 0")
    weights = scoring.Weights(similarity_floor=0.5, exposure=0.5, availability=0.3, engagement=0.3, language=0.2,
                              freshness=0.3, location=0.0, cross_lingual_shift=0.04)
    config = service.RankerConfig(weights, exact_search_below=10**9)
    without_exposure = service.RankerConfig(replace(weights, exposure=0.0), exact_search_below=10**9)
    for person in queries(people, 5):
        row = await retrieval.query_participant(conn, person.id, MODEL)
        assert row is not None
        relevance = ranking.Relevance.of(row["language"], weights, config.lexical_terms)
        scanned = await ranking.by_relevance(
            conn, service.query_filter(row, MODEL, []), service.query_vectors(row), 10_000, config.relevance_pool,
            relevance)
        ranked = await service.rank_all(conn, person.id, MODEL, without_exposure)
        assert len(scanned) == len(ranked) > 20
        assert scanned[:20] == [r.id for r in ranked[:20]]


async def test_the_read_time_state_is_read_only_as_deep_as_the_answer_needs(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await load(conn, generate(1200, seed=28))
    cache = SuggestionCache(10)
    person = queries(people, 1)[0]
    await _suggest(conn, person, cache)
    entry = cache.get(person.id)
    assert entry is not None and len(entry.ids) > 4 * service.FIRST_READ
    read: list[int] = []
    original = state.read_time_state

    async def spy(conn: asyncpg.Connection, query_id: int, ids: Sequence[int], half_life: float) -> object:
        read.append(len(ids))
        return await original(conn, query_id, ids, half_life)

    monkeypatch.setattr(state, "read_time_state", spy)
    monkeypatch.setattr(service, "compute_entry", _no_fill)
    await _suggest(conn, person, cache)
    assert read == [1 + service.FIRST_READ]  # the query and the best 32 candidates: nothing deeper can win
    # The best 32 shown a lot since: the answer comes from deeper in the entry, still without computing.
    await conn.execute("INSERT INTO exposure SELECT unnest($1::bigint[]), 500, now()",
                       entry.ids[: service.FIRST_READ].tolist())
    read.clear()
    deeper = await _suggest(conn, person, cache)
    assert read == [1 + service.FIRST_READ, 3 * service.FIRST_READ]
    monkeypatch.undo()
    assert _answer(deeper) == _answer(await _suggest(conn, person, None))
