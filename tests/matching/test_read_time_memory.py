"""The read-time state in memory (service.matching.memory, kept by service.matching.listener and the
notifications of migration 0025): its bookkeeping on its own, and against the database: after any
sequence of changes, what memory answers is what the database answers.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Sequence

import asyncpg
import numpy as np
import pytest

from service.kit import database
from service.matching.listener import ReadTimeSync
from service.matching.memory import ReadTimeMemory
from service.matching.repository import state
from service.matching.repository.state import ReadTime, StoredState
from tests.matching.test_retrieval import Person, generate, load

HALF_LIFE = 7.0
LISTENER = "test-read-time-listener"


def _stored(n: int, version: int = 3, blocked: frozenset[int] | None = frozenset()) -> StoredState:
    return StoredState(version, np.ones(n, dtype=bool), np.full(n, time.time() - 86_400), np.zeros(n),
                       np.full(n, np.nan), np.zeros(n, dtype=np.int64), blocked)


def _loaded(ids: Sequence[int], blocked: frozenset[int] = frozenset()) -> ReadTimeMemory:
    memory = ReadTimeMemory(HALF_LIFE)
    memory.reset(ready=True)
    memory.store(memory.begin_load(), ids[0], ids, _stored(len(ids), blocked=blocked))
    return memory


def test_nothing_is_answered_before_listening_or_without_every_copy() -> None:
    memory = ReadTimeMemory(HALF_LIFE)
    memory.store(memory.begin_load(), 1, [1, 2], _stored(2))
    assert memory.state(1, [1, 2], time.time()) is None  # not listening: nothing kept
    memory.reset(ready=True)
    memory.store(memory.begin_load(), 1, [1, 2], _stored(2))
    assert memory.state(1, [1, 2, 3], time.time()) is None  # 3 never read
    assert memory.state(2, [1, 2], time.time()) is None  # 2's blocked pairs never read
    found = memory.state(1, [1, 2], time.time())
    assert found is not None and found.version == 3 and found.visible.tolist() == [True, True]
    assert found.age_days == pytest.approx([1.0, 1.0], abs=1e-3)


def test_changes_forget_the_copies_they_touch_and_the_version_follows() -> None:
    memory = _loaded([1, 2, 3], blocked=frozenset({3}))
    read = memory.state(1, [2, 3], time.time())
    assert read is not None and read.blocked.tolist() == [False, True]
    memory.apply("p2")
    assert memory.state(1, [2, 3], time.time()) is None and memory.state(1, [3], time.time()) is not None
    memory.apply("m1,7")  # a match or answer of 1: its capacity count and its blocked pairs are read again
    assert memory.state(1, [3], time.time()) is None
    memory.apply("v9")
    assert memory.version == 9
    memory.apply("!")
    assert memory.people == {} and memory.version is None and memory.ready


def test_what_is_missing_is_only_what_a_change_forgot() -> None:
    memory = _loaded([1, 2, 3, 4])
    assert memory.missing(1, [1, 2, 3, 4]) == ([], False)
    memory.apply("m2,3")  # an answer between 2 and 3: their copies and blocked pairs
    assert memory.missing(1, [1, 2, 3, 4, 2]) == ([2, 3], False)
    assert memory.missing(2, [1, 4]) == ([], True)
    memory.store(memory.begin_load(), None, [2, 3], _stored(2, blocked=None))
    assert memory.state(1, [1, 2, 3, 4], time.time()) is not None  # 1's blocked pairs were kept
    assert memory.state(2, [1, 4], time.time()) is None  # 2's were not read yet


def test_exposure_notifications_carry_the_values_and_settle_own_writes() -> None:
    memory = _loaded([1, 2])
    memory.show([2, 2, 1])
    now = time.time()
    read = memory.state(1, [1, 2], now)
    assert read is not None and read.shown.tolist() == [1.0, 2.0]
    taken = memory.take_pending()
    assert taken is not None and taken[1:] == ([1, 2], [1.0, 2.0])
    memory.show([2])
    read = memory.state(1, [1, 2], now)
    assert read is not None and read.shown.tolist() == [1.0, 3.0]  # in flight and pending both count
    memory.apply(f"e{taken[0]};1:1:{now};2:2:{now}")  # the write's notification: stored values, no double count
    read = memory.state(1, [1, 2], now)
    assert read is not None and read.shown.tolist() == pytest.approx([1.0, 3.0]) and not memory.inflight
    memory.apply(f"e;2:4:{now - HALF_LIFE * 86_400}")  # another process's write, a half-life ago
    read = memory.state(1, [2], now)
    assert read is not None and read.shown.tolist() == pytest.approx([3.0])  # 4 halved, plus 1 pending


def test_a_load_that_raced_a_change_keeps_nothing_of_what_changed() -> None:
    memory = ReadTimeMemory(HALF_LIFE)
    memory.reset(ready=True)
    began = memory.begin_load()
    memory.apply("p2")  # committed after the read's snapshot, notified before it came back
    memory.apply("v8")
    memory.store(began, 1, [1, 2], _stored(2, version=7))
    assert 1 in memory.people and 2 not in memory.people
    assert memory.version == 8  # not the version the read saw
    assert memory.state(1, [1], time.time()) is not None


# --- against the database ---


@pytest.fixture
async def sync(pg_url: str) -> AsyncIterator[ReadTimeSync]:
    """A memory kept by its own listener and writer, as `koble serve` keeps one."""
    pool = await database.create_pool(pg_url, max_size=2)
    memory = ReadTimeMemory(HALF_LIFE)
    keeper = ReadTimeSync(memory, lambda: asyncpg.connect(pg_url, server_settings={"application_name": LISTENER}),
                          pool, 0.01)
    keeper.start()
    await keeper.caught_up()
    yield keeper
    await keeper.stop()
    await pool.close()


async def _from_memory(conn: asyncpg.Connection, memory: ReadTimeMemory, query: int, ids: list[int]) -> ReadTime:
    """As the suggestions read it: from memory, after reading only the copies it lacks."""
    found = memory.state(query, ids, time.time())
    if found is None:
        missing, blocked = memory.missing(query, ids)
        began = memory.begin_load()
        asked = query if blocked else None
        memory.store(began, asked, missing, await state.stored_state(conn, asked, missing))
        found = memory.state(query, ids, time.time())
    assert found is not None
    return found


def _same(left: ReadTime, right: ReadTime) -> None:
    assert left.version == right.version
    assert left.visible.tolist() == right.visible.tolist()
    assert left.active.tolist() == right.active.tolist()
    assert left.blocked.tolist() == right.blocked.tolist()
    assert left.age_days == pytest.approx(right.age_days, abs=1e-4)  # the two clocks a few ms apart
    assert left.shown == pytest.approx(right.shown, abs=1e-4)


async def _change(conn: asyncpg.Connection, sync: ReadTimeSync, rng: random.Random, people: list[Person]) -> None:
    """One random change of what the read-time state reads, through the database or this process."""
    a, b = rng.sample([p.id for p in people], 2)
    low, high = sorted((a, b))
    match rng.randrange(8):
        case 0:
            await conn.execute("UPDATE participants SET hidden_at = CASE WHEN hidden_at IS NULL THEN now() END "
                               "WHERE id = $1", a)
        case 1:
            await conn.execute("UPDATE participants SET last_active_at = now() - $2 * interval '1 day' WHERE id = $1",
                               a, rng.uniform(0, 60))
        case 2:
            sync.memory.show([a, b, a])  # this process showed them: written by the writer
        case 3:
            await state.record_exposure(conn, [a, b], HALF_LIFE)  # another process showed them
        case 4:
            await conn.execute("INSERT INTO answers (participant_id, candidate_id, answer) VALUES ($1, $2, $3) "
                               "ON CONFLICT (participant_id, candidate_id) DO UPDATE SET answer = excluded.answer",
                               a, b, rng.choice(["not_now", "interested"]))
        case 5:
            await conn.execute("DELETE FROM answers WHERE participant_id = $1", a)
        case 6:
            await conn.execute("INSERT INTO matches (a_id, b_id, state, origin) VALUES ($1, $2, $3, 'participants') "
                               "ON CONFLICT DO NOTHING", low, high, rng.choice(["mutual", "suggested", "introduced"]))
        case _:
            await conn.execute("UPDATE matches SET state = $2 WHERE id = (SELECT min(id) FROM matches WHERE a_id = $1 "
                               "OR b_id = $1)", a, rng.choice(["closed", "mutual", "declined"]))


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_memory_answers_what_the_database_answers_after_any_changes(
    conn: asyncpg.Connection, sync: ReadTimeSync, seed: int
) -> None:
    people = await load(conn, generate(30, seed=seed))
    rng = random.Random(seed)
    ids = [p.id for p in people]
    for step in range(40):
        await _change(conn, sync, rng, people)
        if step % 4 == 3:
            await asyncio.sleep(0.03)  # past the writer's interval: this process's showings are written
            await sync.caught_up()
            for query in rng.sample(ids, 3):
                mine = await _from_memory(conn, sync.memory, query, ids)
                theirs = await state.read_time_state(conn, query, ids, HALF_LIFE)
                _same(mine, theirs)
    assert sync.memory.hits > 0  # some answers came from memory, not only from fresh loads


async def test_a_lost_listening_connection_stops_answers_from_memory_until_it_is_back(
    conn: asyncpg.Connection, sync: ReadTimeSync
) -> None:
    people = await load(conn, generate(10, seed=4))
    ids = [p.id for p in people]
    await _from_memory(conn, sync.memory, ids[0], ids)
    await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", LISTENER)
    deadline = time.monotonic() + 5
    while sync.memory.ready and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert sync.memory.people == {}  # forgotten: a change while deaf cannot be missed
    await conn.execute("UPDATE participants SET hidden_at = now() WHERE id = $1", ids[1])
    await sync.caught_up()  # listening again
    read = await _from_memory(conn, sync.memory, ids[0], ids)
    assert read.visible[1] == np.False_
