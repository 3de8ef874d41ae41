"""The views the matches domain publishes to the ranker (migration 0010) agree with the lifecycle."""

from __future__ import annotations

from asyncpg import Connection

from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import lifecycle
from service.matches import service as matches
from service.matching.repository import state as matching_state
from tests.factories import create_parties


async def test_active_sides_count_the_lifecycle_active_states_and_blocked_pairs_go_both_ways(
    conn: Connection, settings: Settings
) -> None:
    pairs = {state: await create_parties(conn, n) for n, state in enumerate(lifecycle.STATES, start=1)}
    for state, ids in pairs.items():
        await matches.create(conn, settings, ids, state, "ranker", Actor.system())
    everyone = [i for ids in pairs.values() for i in ids]
    counted = await matches.active_counts(conn, everyone)
    assert counted == {i: 1 for state in lifecycle.ACTIVE for i in pairs[state]}
    for state, (a, b) in pairs.items():
        for me, other in ((a, b), (b, a)):
            state_now = await matching_state.read_time_state(conn, me, [other], 30.0)
            assert bool(state_now.blocked[0]) == (state != "suggested"), state
            assert int(state_now.active[0]) == (state in lifecycle.ACTIVE), state


async def test_a_not_now_blocks_the_pair_in_both_directions_once(conn: Connection) -> None:
    student, company = await create_parties(conn)
    await matches.save_answer(conn, student, company, "not_now")
    await matches.save_answer(conn, company, student, "not_now")
    for me, other in ((student, company), (company, student)):
        rows = await conn.fetch("SELECT other_id FROM match_blocked_pairs WHERE participant_id = $1", me)
        assert [row["other_id"] for row in rows] == [other]
