"""The match lifecycle: legal moves only, every move stored with its actor, races decided once."""

from __future__ import annotations

import asyncio
import itertools

import asyncpg
import pytest
from asyncpg import Connection

from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import lifecycle
from service.matches import repository as matches_repository
from service.matches import service as matches
from service.matching.repository import state as matching_state
from tests.factories import create_parties


def test_closing_is_possible_from_every_open_state_and_terminal_states_are_final() -> None:
    for state in lifecycle.OPEN:
        assert lifecycle.can_move(state, "closed")
    for state in lifecycle.TERMINAL:
        assert lifecycle.next_states(state) == ()
    assert lifecycle.next_states("suggested") == ("approved", "rejected", "closed")
    assert lifecycle.sources("mutual") == ("introduced",)


def test_the_happy_path_is_one_legal_chain() -> None:
    path: list[lifecycle.State] = [
        "suggested", "approved", "introduced", "mutual", "meeting_held", "project_agreed", "project_completed",
    ]
    assert all(lifecycle.can_move(a, b) for a, b in itertools.pairwise(path))
    assert not lifecycle.can_move("suggested", "mutual")
    assert not lifecycle.can_move("project_completed", "closed")


@pytest.fixture
async def pair(conn: Connection) -> tuple[int, int]:
    """Ola (Norwegian) and Raufoss Robotikk (English): the emails below name them."""
    return await create_parties(conn)


async def test_a_mutual_match_introduces_both_with_contact_details(
    conn: Connection, settings: Settings, pair: tuple[int, int]
) -> None:
    row, outbox = await matches.create(conn, settings, pair, "mutual", "participants", Actor.participant(pair[0]))
    assert row is not None and row["a_id"] < row["b_id"] and len(outbox) == 2
    emails = await conn.fetch("SELECT to_address, subject, body_text, match_id FROM outbox ORDER BY id")
    to_student = next(e for e in emails if e["to_address"] == "ola@example.no")
    assert "post@robotikk.example" in to_student["body_text"] and to_student["match_id"] == row["id"]
    to_company = next(e for e in emails if e["to_address"] == "post@robotikk.example")
    assert to_company["subject"] == "You and Ola Nordmann both said yes"  # the company reads English
    again, none = await matches.create(conn, settings, pair, "mutual", "participants", Actor.system())
    assert again is None and none == []


async def test_illegal_moves_are_refused_naming_the_current_state(
    conn: Connection, settings: Settings, pair: tuple[int, int]
) -> None:
    row, _ = await matches.create(conn, settings, pair, "suggested", "ranker", Actor.system(), score=0.7)
    assert row is not None
    with pytest.raises(lifecycle.IllegalTransition) as refused:
        await matches.transition(conn, settings, row["id"], "meeting_held", Actor.staff(None, "api token"))
    assert refused.value.current == "suggested"
    with pytest.raises(lifecycle.MatchNotFound):
        await matches.transition(conn, settings, row["id"] + 99, "approved", Actor.system())
    assert (await matches_repository.by_id(conn, row["id"]))["state"] == "suggested"  # type: ignore[index]


async def test_two_deciders_at_once_move_the_match_once(
    conn: Connection, settings: Settings, pair: tuple[int, int], pg_url: str
) -> None:
    row, _ = await matches.create(conn, settings, pair, "suggested", "ranker", Actor.system())
    assert row is not None
    first, second = await asyncpg.connect(pg_url), await asyncpg.connect(pg_url)
    try:
        results = await asyncio.gather(
            matches.transition(first, settings, row["id"], "approved", Actor.staff(None, "one")),
            matches.transition(second, settings, row["id"], "rejected", Actor.staff(None, "two"), reason="poor fit"),
            return_exceptions=True,
        )
    finally:
        await first.close()
        await second.close()
    refused = [r for r in results if isinstance(r, lifecycle.IllegalTransition)]
    assert len(refused) == 1 and refused[0].current in ("approved", "rejected")
    events = await matches_repository.events(conn, row["id"])
    assert [e["from_state"] for e in events] == [None, "suggested"]


async def test_the_timeline_holds_transitions_and_emails(
    conn: Connection, settings: Settings, pair: tuple[int, int]
) -> None:
    row, _ = await matches.create(conn, settings, pair, "suggested", "ranker", Actor.system())
    assert row is not None
    await matches.transition(conn, settings, row["id"], "approved", Actor.staff(None, "api token"))
    await matches.transition(conn, settings, row["id"], "introduced", Actor.system())
    await matches.transition(conn, settings, row["id"], "closed", Actor.system(), reason="no reply")
    entries = await matches.timeline(conn, row["id"])
    assert [e.title for e in entries if e.kind == "transition"] == ["suggested", "approved", "introduced", "closed"]
    assert len([e for e in entries if e.kind == "email"]) == 2
    closed = await matches_repository.by_id(conn, row["id"])
    assert closed is not None and closed["closed_reason"] == "no reply"


async def test_declines_and_active_matches_feed_the_hard_constraints(
    conn: Connection, settings: Settings, pair: tuple[int, int]
) -> None:
    student, company = pair

    async def state(*ids: int) -> tuple[list[int], list[bool]]:
        # What the ranker reads with a cached list: active matches per id, and blocked for the student.
        read = await matching_state.read_time_state(conn, student, list(ids), 7.0)
        return read.active.tolist(), read.blocked.tolist()

    assert await state(student, company) == ([0, 0], [False, False])
    await conn.execute(
        "INSERT INTO answers (participant_id, candidate_id, answer) VALUES ($1, $2, 'not_now')", company, student
    )
    assert await state(company) == ([0], [True])
    await conn.execute("DELETE FROM answers")
    row, _ = await matches.create(conn, settings, pair, "mutual", "participants", Actor.system())
    assert row is not None
    assert await state(student, company, company + 1) == ([1, 1, 0], [False, True, False])
    assert await matches_repository.active_counts(conn, [student, company, company + 1]) == {student: 1, company: 1}
    await matches.transition(conn, settings, row["id"], "closed", Actor.system(), reason="done")
    assert await state(student, company) == ([0, 0], [False, True])  # closed pairs are not suggested again
