"""The follow-up API and pages: moving a match with staff rights, the participant's match page, the funnel."""

from __future__ import annotations

import httpx
from asyncpg import Connection

from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import service as matches
from tests.conftest import API_TOKEN, post_form
from tests.factories import create_followup_staff, create_match, create_parties
from tests.support import sign_in_as

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def suggested(conn: Connection, settings: Settings, n: int = 0) -> int:
    student, company = await create_parties(conn, n)
    return int((await create_match(conn, settings, student, company, score=None))["id"])


async def test_an_illegal_move_is_refused_with_409_naming_the_current_state(
    conn: Connection, settings: Settings, client: httpx.AsyncClient
) -> None:
    match_id = await suggested(conn, settings)
    refused = await client.post(f"/api/v1/matches/{match_id}/transitions", json={"to": "meeting_held"}, headers=AUTH)
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert detail["current_state"] == "suggested" and detail["match_id"] == match_id and "Foreslått" in detail["msg"]
    no_reason = await client.post(f"/api/v1/matches/{match_id}/transitions", json={"to": "closed"}, headers=AUTH)
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    unknown = await client.post("/api/v1/matches/9999/transitions", json={"to": "approved"}, headers=AUTH)
    assert unknown.status_code == 404


async def test_staff_rights_are_needed(conn: Connection, settings: Settings, client: httpx.AsyncClient) -> None:
    match_id = await suggested(conn, settings)
    assert (await client.get(f"/api/v1/matches/{match_id}")).status_code == 401
    student = await conn.fetchval("SELECT a_id FROM matches")
    await sign_in_as(client, conn, settings, participant_id=student)
    assert (await client.get(f"/api/v1/matches/{match_id}")).status_code == 403


async def test_closing_with_a_reason_is_stored_with_its_actor_in_the_timeline(
    conn: Connection, settings: Settings, client: httpx.AsyncClient
) -> None:
    match_id = await suggested(conn, settings)
    closed = await client.post(
        f"/api/v1/matches/{match_id}/transitions",
        json={"to": "closed", "reason": "duplicate", "comment": "same pair in another intake"}, headers=AUTH,
    )
    assert closed.status_code == 200
    body = closed.json()
    assert body["state"] == "closed" and body["closed_reason"] == "duplicate" and body["next_states"] == []
    last = body["timeline"][-1]
    assert last["kind"] == "transition" and last["title"] == "closed" and last["actor"] == "staff"
    assert await conn.fetchval("SELECT actor_kind FROM match_events ORDER BY id DESC LIMIT 1") == "staff"
    assert await conn.fetchval("SELECT action FROM audit_log") == "match.transition"


async def test_my_match_page_shows_contact_details_once_introduced_and_moves_the_match(
    conn: Connection, settings: Settings, client: httpx.AsyncClient
) -> None:
    match_id = await suggested(conn, settings)
    student = await conn.fetchval("SELECT a_id FROM matches")
    await sign_in_as(client, conn, settings, participant_id=student)
    assert (await client.get(f"/me/matches/{match_id}")).status_code == 404  # staff have not introduced them
    await matches.approve(conn, settings, match_id, Actor.staff(None, "api token"))
    page = await client.get(f"/me/matches/{match_id}")
    assert page.status_code == 200 and "post@robotikk.example" in page.text and 'value="interested"' in page.text
    assert (await post_form(client, f"/me/matches/{match_id}", {"action": "interested"})).status_code == 303
    await conn.execute("UPDATE matches SET state = 'mutual'")
    moved = await post_form(client, f"/me/matches/{match_id}", {"action": "met", "comment": "Lunsj"})
    assert moved.headers["location"].endswith("outcome=done")
    assert await conn.fetchval("SELECT state FROM matches") == "meeting_held"
    again = await post_form(client, f"/me/matches/{match_id}", {"action": "met"})
    assert again.headers["location"].endswith("outcome=already")


async def test_someone_elses_match_is_not_found(
    conn: Connection, settings: Settings, client: httpx.AsyncClient
) -> None:
    match_id = await suggested(conn, settings)
    await matches.approve(conn, settings, match_id, Actor.staff(None, "api token"))
    stranger, _ = await create_parties(conn, 7)
    await sign_in_as(client, conn, settings, participant_id=stranger)
    assert (await client.get(f"/me/matches/{match_id}")).status_code == 404
    assert (await post_form(client, "/me/email-preferences", {})).status_code == 303  # a page with a form
    assert (await post_form(client, f"/me/matches/{match_id}", {"action": "met"})).status_code == 404


async def test_the_funnel_counts_stages_and_conversion(
    conn: Connection, settings: Settings, client: httpx.AsyncClient
) -> None:
    staff = Actor.staff(None, "api token")
    for n in range(4):
        match_id = await suggested(conn, settings, n + 1)
        if n < 3:
            await matches.approve(conn, settings, match_id, staff)
        if n < 1:
            await matches.transition(conn, settings, match_id, "mutual", staff)
    await matches.create(conn, settings, await create_parties(conn, 9), "mutual", "participants", Actor.system())
    assert (await client.get("/staff/funnel")).status_code == 303  # not signed in: to the staff sign-in
    await sign_in_as(client, conn, settings, staff_id=await create_followup_staff(conn))
    page = await client.get("/staff/funnel")
    assert page.status_code == 200 and "<svg" in page.text
    # 4 suggested, 3 approved (75 %), 3 introduced, 2 mutual (one born mutual), 1 went on from introduced.
    assert "<td>4</td>" in page.text and "3 (75 %)" in page.text and "1 (33 %)" in page.text
    for group in ("domain", "kinds", "month"):
        grouped = await client.get(f"/staff/funnel?by={group}")
        assert grouped.status_code == 200 and "<svg" in grouped.text
    assert "company + student" in (await client.get("/staff/funnel?by=kinds")).text
