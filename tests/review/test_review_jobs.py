"""The review domain's background and command-line parts, its races, and its privacy promise."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from asyncpg import Connection

from service.auth import service as auth
from service.kit import database
from service.kit.config import Settings
from service.matches import service as matches
from service.profiles import service as profiles
from service.review import tasks as review_tasks
from tests.conftest import post_form
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import rows_mentioning, rows_referencing, sign_in_staff

People = dict[str, Any]


async def test_proposing_stores_the_rankers_pairs_once_and_only_in_staff_first_mode(
    conn: Connection, settings: Settings, pg_url: str, make_participant: MakeParticipant,
    sigrid: People, raufoss: People, jonas: People, bakery: People,
) -> None:
    student, company, other, bakery_id = [
        (await make_participant(**fields))["id"] for fields in (sigrid, raufoss, jonas, bakery)
    ]
    pool = await database.create_pool(pg_url, max_size=2)  # as the worker: vectors decoded
    try:
        assert await review_tasks.propose_matches({"settings": settings, "pool": pool}) == 0  # participant-first
        staff_first = settings.model_copy(update={"match_mode": "staff_first"})
        created = await review_tasks.propose_matches({"settings": staff_first, "pool": pool})
        again = await review_tasks.propose_matches({"settings": staff_first, "pool": pool})
    finally:
        await pool.close()
    pairs = await conn.fetch("SELECT a_id, b_id, state, origin, score FROM matches ORDER BY a_id, b_id")
    assert created == len(pairs) == 2 and again == 0
    assert {(p["a_id"], p["b_id"]) for p in pairs} == {(student, company), (company, other)}
    assert all(p["state"] == "suggested" and p["origin"] == "ranker" and p["score"] > 0 for p in pairs)
    assert bakery_id not in {i for p in pairs for i in (p["a_id"], p["b_id"])}  # shares no domain
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 0  # nobody hears before staff decide


async def test_two_reviewers_deciding_at_once_move_the_pair_once(
    app: Any, conn: Connection, make_participant: MakeParticipant, make_staff: MakeStaff, make_match: MakeMatch
) -> None:
    student, company = await make_participant(embed=False), await make_participant("company", embed=False)
    match_id = (await make_match(student, company))["id"]
    reviewer, admin = (await make_staff())["email"], (await make_staff("admin"))["email"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as one, \
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as two:
        await sign_in_staff(one, conn, reviewer)
        await sign_in_staff(two, conn, admin)
        answers = await asyncio.gather(
            post_form(one, f"/staff/queue/{match_id}/approve", {}),
            post_form(two, f"/staff/queue/{match_id}/reject", {"reason": "Not a good fit"}),
        )
    codes = sorted(response.status_code for response in answers)
    assert codes == [303, 409]
    loser = next(response for response in answers if response.status_code == 409)
    assert "Noen andre avgjorde først" in loser.text  # a clear message, naming the state it is in now
    events = await matches.events(conn, match_id)
    decisions = [e["to_state"] for e in events if e["from_state"] == "suggested"]
    assert len(decisions) == 1  # no double transition
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action IN ('approve', 'reject')") == 1


async def test_the_audit_log_outlives_a_deleted_participant_without_naming_them(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, make_staff: MakeStaff,
    make_match: MakeMatch, sigrid: People, raufoss: People,
) -> None:
    student = (await make_participant(**sigrid, embed=False))["id"]
    match_id = (await make_match(student, await make_participant(**raufoss, embed=False)))["id"]
    await sign_in_staff(client, conn, (await make_staff())["email"])
    await client.get("/staff/queue")
    await client.get(f"/staff/participants/{student}")
    await client.get("/staff/handpick?q1=Sigrid")
    await post_form(client, f"/staff/queue/{match_id}/approve", {})
    before = await conn.fetchval("SELECT count(*) FROM audit_log")

    assert await profiles.delete_account(conn, student)

    assert await conn.fetchval("SELECT count(*) FROM audit_log") == before  # kept, anonymised
    for needle in (sigrid["email"], sigrid["name"], "Sigrid"):
        assert await rows_mentioning(conn, needle) == {}, needle
    assert await rows_referencing(conn, student) == {}


def _koble(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "service", "staff", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


async def test_koble_staff_adds_lists_and_disables(settings: Settings, conn: Connection, tmp_path: Path) -> None:
    admin, reviewer = "anders.admin@brighthouse.example", "rita.reviewer@brighthouse.example"
    env = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
           "KOBLE_DATA_DIR": str(tmp_path)}
    added = await asyncio.to_thread(_koble, "add", admin, "--role", "admin", "--name", "Anders", env=env)
    assert added.returncode == 0 and added.stdout.startswith(f"{admin}: admin"), added.stderr
    await asyncio.to_thread(_koble, "add", reviewer, "--role", "reviewer", env=env)
    listed = await asyncio.to_thread(_koble, "list", env=env)
    assert f"{admin}\tadmin\tAnders\tactive" in listed.stdout and f"{reviewer}\treviewer" in listed.stdout
    last_admin = await asyncio.to_thread(_koble, "disable", admin, env=env)
    assert last_admin.returncode == 1 and last_admin.stderr.count("\n") == 1 and "administrator" in last_admin.stderr
    disabled = await asyncio.to_thread(_koble, "disable", reviewer, env=env)
    assert disabled.returncode == 0 and await auth.staff_by_id(
        conn, await conn.fetchval("SELECT id FROM staff WHERE email = $1", reviewer)) is None
    bad = await asyncio.to_thread(_koble, "add", "not-an-address", "--role", "admin", env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("koble: EMAIL:")
