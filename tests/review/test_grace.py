"""Staff approvals wait a grace period with Undo (issue 12, wall 7), decisions answer the queue's script in
JSON, and introductions say why the pair fits, with staff's note (wall 4); hand-pick shows the fit, the
refusals and the introduction before the pair is made (wall 9). Real Postgres, Redis, worker and SMTP."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from asyncpg import Connection

from service.kit.config import Settings
from service.matches import service as matches
from tests.conftest import Mailbox, body_text, csrf_of, post_form, run_worker
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import sign_in_staff

People = dict[str, Any]
GRACE = 1.0  # seconds: long enough to undo inside a test, short enough to wait out


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with a grace period (the shared fixture introduces at once)."""
    return settings.model_copy(update={"approval_grace_seconds": GRACE})


async def decide(client: httpx.AsyncClient, url: str, **fields: str) -> httpx.Response:
    """POST a queue form as review.js does: the form's fields, answered in JSON."""
    return await client.post(url, data={"csrftoken": csrf_of(client), **fields},
                             headers={"Accept": "application/json"})


async def emails_of(conn: Connection, match_id: int) -> list[str]:
    """The addresses the outbox holds for a match."""
    return sorted(row["to_address"] for row in await conn.fetch("SELECT to_address FROM outbox WHERE match_id = $1",
                                                                 match_id))


async def queue_pair(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, make_staff: MakeStaff,
    make_match: MakeMatch, people: tuple[People, People],
) -> int:
    """A suggested pair and a signed-in reviewer who has the queue open."""
    student, company = [await make_participant(**fields) for fields in people]
    match_id = int((await make_match(student, company, score=0.8))["id"])
    await sign_in_staff(client, conn, (await make_staff())["email"])
    assert (await client.get("/staff/queue?lang=en")).status_code == 200
    return match_id


async def test_an_approval_is_introduced_once_after_the_grace_period(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox,
    make_participant: MakeParticipant, make_staff: MakeStaff, make_match: MakeMatch, sigrid: People, raufoss: People,
) -> None:
    match_id = await queue_pair(client, conn, make_participant, make_staff, make_match, (sigrid, raufoss))
    before = dt.datetime.now(dt.UTC)
    answer = await decide(client, f"/staff/queue/{match_id}/approve")
    assert answer.status_code == 200 and answer.json()["state"] == "approved"
    assert "undo" in answer.json()["message"]
    undo_until = dt.datetime.fromisoformat(answer.json()["undo_until"])
    assert before < undo_until <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=GRACE)
    assert await emails_of(conn, match_id) == []  # nothing written during the grace period

    await asyncio.sleep(GRACE + 0.3)
    await run_worker(settings)  # the delayed job introduces them and delivers both emails
    assert (await matches.by_id(conn, match_id))["state"] == "introduced"  # type: ignore[index]
    assert await emails_of(conn, match_id) == sorted([sigrid["email"], raufoss["email"]])
    body = body_text(mailbox.wait_for(sigrid["email"]))
    assert "Hvorfor dere passer sammen" in body and "Master thesis on securing" in body  # why, and what they offer
    assert f"/me/matches/{match_id}?lang=nb" in body  # the match page, in her language

    await run_worker(settings)  # the sweep and a second run change nothing: exactly once
    assert (await matches.introduce_approved(conn, settings)) == []
    assert len(await emails_of(conn, match_id)) == 2
    late = await decide(client, f"/staff/queue/{match_id}/undo")
    assert late.status_code == 409 and late.json()["current_state"] == "introduced"


async def test_undo_within_the_grace_period_emails_nobody(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox,
    make_participant: MakeParticipant, make_staff: MakeStaff, make_match: MakeMatch, sigrid: People, raufoss: People,
) -> None:
    match_id = await queue_pair(client, conn, make_participant, make_staff, make_match, (sigrid, raufoss))
    assert (await decide(client, f"/staff/queue/{match_id}/approve")).status_code == 200
    undone = await decide(client, f"/staff/queue/{match_id}/undo")
    assert undone.status_code == 200 and undone.json()["state"] == "suggested" and undone.json()["undo_until"] is None

    await asyncio.sleep(GRACE + 0.3)
    await run_worker(settings)  # the approval's delayed job runs, finds the pair suggested, does nothing
    assert (await matches.by_id(conn, match_id))["state"] == "suggested"  # type: ignore[index]
    assert await emails_of(conn, match_id) == [] and mailbox.to(sigrid["email"]) == []
    steps = [(r["to_state"], r["reason"]) for r in await conn.fetch(
        "SELECT to_state, reason FROM match_events WHERE match_id = $1 ORDER BY id", match_id)]
    assert steps == [("suggested", None), ("approved", None), ("suggested", "undo")]
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'undo_approve'") == 1
    stages = {stage.state: stage.reached for stage in (await matches.funnels(conn, "all"))[0].stages}
    assert stages["suggested"] == 1 and stages["approved"] == 0  # an undone approval is no step in the funnel
    again = await decide(client, f"/staff/queue/{match_id}/undo")  # a second undo is refused, naming the state
    assert again.status_code == 409 and again.json()["current_state"] == "suggested"
    page = (await client.get("/staff/queue?lang=en")).text
    assert f'id="m{match_id}"' in page  # back in the queue


async def test_without_a_script_approve_and_undo_are_forms_that_keep_the_place(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_staff: MakeStaff, make_match: MakeMatch, sigrid: People, raufoss: People,
) -> None:
    match_id = await queue_pair(client, conn, make_participant, make_staff, make_match, (sigrid, raufoss))
    approved = await post_form(client, f"/staff/queue/{match_id}/approve", {"back": "status=pending", "next": "7"})
    location = approved.headers["location"]
    assert approved.status_code == 303 and location.endswith(f"done=approve_wait&undo={match_id}#m7")
    page = (await client.get(location.split("#")[0] + "&lang=en")).text
    assert f'action="/staff/queue/{match_id}/undo"' in page and "you can still undo it" in page
    undone = await post_form(client, f"/staff/queue/{match_id}/undo", {"back": "status=pending"})
    assert undone.status_code == 303 and undone.headers["location"].endswith(f"done=undo#m{match_id}")


async def test_reject_and_snooze_answer_in_place_with_the_field_at_fault(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_staff: MakeStaff, make_match: MakeMatch, sigrid: People, raufoss: People,
) -> None:
    match_id = await queue_pair(client, conn, make_participant, make_staff, make_match, (sigrid, raufoss))
    missing = await decide(client, f"/staff/queue/{match_id}/reject?lang=en", reason="  ")
    assert missing.status_code == 422
    assert missing.json() == {"field": "reason", "error": "Write why you reject this pair."}
    past = await decide(client, f"/staff/queue/{match_id}/snooze", until="2001-01-01")
    assert past.status_code == 422 and past.json()["field"] == "until"
    rejected = await decide(client, f"/staff/queue/{match_id}/reject", reason="Different expectations")
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    twice = await decide(client, f"/staff/queue/{match_id}/approve")
    assert twice.status_code == 409 and twice.json()["current_state"] == "rejected"


async def test_hand_pick_shows_fit_refusals_and_the_introduction_before_pairing(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox,
    make_participant: MakeParticipant, make_staff: MakeStaff, sigrid: People, raufoss: People, bakery: People,
) -> None:
    student, company, baker = [(await make_participant(**fields))["id"] for fields in (sigrid, raufoss, bakery)]
    await sign_in_staff(client, conn, (await make_staff(name="Kari Veileder"))["email"])

    found = (await client.get(f"/staff/handpick?lang=en&q1=Sigrid&q2=example&first={student}")).text
    assert f'id="beside-{baker}"' in found and "Cannot be paired:" in found and "They share no domain." in found
    assert f'id="beside-{company}"' in found and "Master thesis on securing" in found  # why, before submitting

    note = "Dere bør snakke om OT-sikkerhet"
    preview = (await client.get(f"/staff/handpick?lang=en&q1=Sigrid&q2=Raufoss&first={student}&second={company}"
                                f"&note={note}")).text
    assert 'class="fit-word"' in preview and "Why you fit" in preview and "Hvorfor dere passer sammen" in preview
    assert preview.count(note) == 3  # the note field and both introductions
    assert "Raufoss OT Security AS, Raufoss OT Security AS" not in preview  # organisation == name: once
    again = await post_form(client, "/staff/handpick?lang=en", {"first": student, "second": company,
                                                                "note": note + "!", "preview": "1"})
    assert again.status_code == 200 and again.text.count(note + "!") == 3  # the preview again, nobody paired
    assert await conn.fetchval("SELECT count(*) FROM matches") == 0
    refused = (await client.get(f"/staff/handpick?lang=en&q1=Sigrid&q2=Biri&first={student}&second={baker}")).text
    assert 'id="pair-problems"' in refused and "Pair them and introduce both" not in refused

    paired = await post_form(client, "/staff/handpick", {"first": student, "second": company, "note": note})
    match_id = (await conn.fetchrow("SELECT id FROM matches"))["id"]
    assert paired.headers["location"] == f"/staff/matches/{match_id}?done=handpick_wait"
    await asyncio.sleep(GRACE + 0.3)
    await run_worker(settings)
    to_company = body_text(mailbox.wait_for(raufoss["email"]))
    assert note in to_company and "Kari Veileder, Bright House" in to_company
    assert "Why you fit" in to_company and "Erfaring med nettverksanalyse" in to_company
    to_student = body_text(mailbox.wait_for(sigrid["email"]))
    assert "Raufoss OT Security AS, Raufoss OT Security AS" not in to_student and note in to_student
