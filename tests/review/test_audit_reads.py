"""Issue 15, finding 4: every staff or integration read of personal data adds an audit row, API included.

One test per route that shows participants' data to staff or to the bearer token; each asserts the
row (action, actor, whom). A participant reading their own data is not audited.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import httpx
from asyncpg import Connection

from service.kit.config import Settings
from tests.conftest import API_TOKEN
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import sign_in_as

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
NEW = {"kind": "company", "name": "Gjøvik Data AS", "email": "post@gjovikdata.example", "domains": ["cyber_ict"],
       "offers": ["Sommerjobb i drift"], "seeks": ["Studenter"]}


async def _rows(conn: Connection, action: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT staff_id, actor_label, participant_id, match_id, details FROM audit_log WHERE action = $1 ORDER BY id",
        action)


async def _pair(make_participant: MakeParticipant, make_match: MakeMatch) -> tuple[asyncpg.Record, ...]:
    student = await make_participant("student", embed=False)
    company = await make_participant("company", embed=False)
    return student, company, await make_match(student, company, "introduced")


async def test_the_match_api_is_audited_for_the_token_and_for_staff(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_match: MakeMatch, make_staff: MakeStaff,
) -> None:
    *_, match = await _pair(make_participant, make_match)
    assert (await client.get(f"/api/v1/matches/{match['id']}", headers=BEARER)).status_code == 200
    [row] = await _rows(conn, "view_match")
    assert (row["actor_label"], row["staff_id"], row["match_id"]) == ("api token", None, match["id"])

    staff = await make_staff()
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    assert (await client.get(f"/api/v1/matches/{match['id']}")).status_code == 200
    assert [(r["staff_id"], r["match_id"]) for r in await _rows(conn, "view_match")][1] == (staff["id"], match["id"])
    # An unknown match shows nobody: nothing to audit.
    assert (await client.get("/api/v1/matches/999999")).status_code == 404
    assert len(await _rows(conn, "view_match")) == 2


async def test_reading_writing_and_deleting_by_external_id_is_audited(
    client: httpx.AsyncClient, conn: Connection,
) -> None:
    created = await client.put("/api/v1/participants/crm-17", json=NEW, headers=BEARER)
    assert created.status_code == 201
    pid = await conn.fetchval("SELECT id FROM participants WHERE external_id = 'crm-17'")
    assert [(r["actor_label"], r["participant_id"]) for r in await _rows(conn, "create_participant")] == [
        ("api token", pid)]
    assert (await client.put("/api/v1/participants/crm-17", json={**NEW, "name": "Gjøvik Data"},
                             headers=BEARER)).status_code == 200
    assert [r["participant_id"] for r in await _rows(conn, "replace_participant")] == [pid]
    assert (await client.get("/api/v1/participants/crm-17", headers=BEARER)).status_code == 200
    assert [r["participant_id"] for r in await _rows(conn, "view_participant")] == [pid]
    assert (await client.delete("/api/v1/participants/crm-17", headers=BEARER)).status_code == 204
    [deleted] = await _rows(conn, "delete_participant")
    # The participant is gone; the row keeps the old id number only, no name, no address, no external id.
    assert deleted["actor_label"] == "api token" and deleted["participant_id"] is None
    assert "crm-17" not in deleted["details"] and "Gjøvik" not in deleted["details"]
    # Refused or unknown: nothing read, nothing recorded.
    assert (await client.get("/api/v1/participants/crm-17", headers=BEARER)).status_code == 404
    assert (await client.get("/api/v1/participants/crm-17")).status_code == 401
    assert len(await _rows(conn, "view_participant")) == 1


async def test_suggestions_for_the_token_are_audited_but_not_ones_own(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    student = await make_participant("student", offers=["Python og nettverk"], seeks=["Sommerjobb i IT-drift"])
    company = await make_participant("company", offers=["Sommerjobb i IT-drift"], seeks=["Studenter med Python"])
    for _ in range(2):  # the second read may come from the suggestion cache: audited the same
        answer = await client.get(f"/api/v1/participants/{student['external_id']}/suggestions", headers=BEARER)
        assert [s["external_id"] for s in answer.json()["suggestions"]] == [company["external_id"]]
    rows = await _rows(conn, "view_suggestions")
    assert [(r["actor_label"], r["participant_id"]) for r in rows] == [
        ("api token", student["id"]), ("api token", company["id"])] * 2

    await sign_in_as(client, conn, settings, participant_id=student["id"])
    assert (await client.get("/api/v1/participants/me/suggestions")).status_code == 200
    assert (await client.get("/api/v1/participants/me")).status_code == 200
    assert len(await _rows(conn, "view_suggestions")) == 4


async def test_concurrent_suggestion_reads_are_each_audited_before_their_answer(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant,
) -> None:
    # Concurrent reads share INSERTs (kit.audit.GroupedReads); every one still gets its two rows.
    student = await make_participant("student", offers=["Python og nettverk"], seeks=["Sommerjobb i IT-drift"])
    company = await make_participant("company", offers=["Sommerjobb i IT-drift"], seeks=["Studenter med Python"])
    path = f"/api/v1/participants/{student['external_id']}/suggestions"

    answers = await asyncio.gather(*(client.get(path, headers=BEARER) for _ in range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    rows = await _rows(conn, "view_suggestions")
    assert Counter((r["actor_label"], r["participant_id"]) for r in rows) == {
        ("api token", student["id"]): 8, ("api token", company["id"]): 8}


async def test_staff_pages_showing_participants_are_audited(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_match: MakeMatch, make_staff: MakeStaff,
) -> None:
    student, company, match = await _pair(make_participant, make_match)
    suggested = await make_match(student, await make_participant("public_body", embed=False), "suggested")
    await conn.execute(
        "INSERT INTO outbox (participant_id, template, to_address, subject, body_text, body_html, status)"
        " VALUES ($1, 'sign_in', $2, 's', 'b', 'b', 'failed')", student["id"], student["email"])
    staff = await make_staff("admin")
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    expected = {
        "/staff/queue": ("view_queue", "match_id", suggested["id"]),
        "/api/v1/review/queue": ("view_queue", "match_id", suggested["id"]),
        "/staff/pipeline": ("view_pipeline", "match_id", match["id"]),
        f"/staff/matches/{match['id']}": ("view_match", "match_id", match["id"]),
        f"/staff/participants/{company['id']}": ("view_participant", "participant_id", company["id"]),
        f"/staff/handpick?q1={student['name']}": ("search_participants", "participant_id", student["id"]),
        "/staff/outbox": ("view_outbox", "participant_id", student["id"]),
        "/staff/export.csv": ("export", None, None),
    }
    for path, (action, column, value) in expected.items():
        await conn.execute("DELETE FROM audit_log")
        assert (await client.get(path)).status_code == 200, path
        rows = await _rows(conn, action)
        assert rows and all(r["staff_id"] == staff["id"] for r in rows), path
        assert column is None or value in [r[column] for r in rows], path
