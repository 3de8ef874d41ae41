"""Reminders: once per match and state even with several workers, then staff; preferences respected.

The clock is passed in (`now`), so the tests move weeks ahead without waiting.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import httpx
from asyncpg import Connection

from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import links
from service.matches import service as matches
from service.matches.service import introduce_approved, send_reminders
from tests.conftest import post_form
from tests.factories import create_followup_staff, create_parties
from tests.support import sign_in_as

NOW = dt.datetime.now(dt.UTC)


def days(n: float) -> dt.datetime:
    return NOW + dt.timedelta(days=n)


async def templates_sent(conn: Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch("SELECT template, to_address FROM outbox ORDER BY id")
    return [(row["template"], row["to_address"]) for row in rows]


async def mutual_match(conn: Connection, settings: Settings) -> int:
    row, _ = await matches.create(conn, settings, await create_parties(conn), "mutual", "participants", Actor.system())
    assert row is not None
    await conn.execute("DELETE FROM outbox")  # the introductions; these tests look at reminders only
    return int(row["id"])


async def test_a_match_sitting_still_is_reminded_once_then_staff_are_told(
    conn: Connection, settings: Settings
) -> None:
    await create_followup_staff(conn)
    match_id = await mutual_match(conn, settings)
    assert await send_reminders(conn, settings, days(6)) == []  # KOBLE_REMIND_MUTUAL_DAYS is 7
    assert len(await send_reminders(conn, settings, days(8))) == 2
    assert await templates_sent(conn) == [("followup_met", "ola@example.no"), ("followup_met", "post@robotikk.example")]
    assert await send_reminders(conn, settings, days(9)) == []  # once
    assert await send_reminders(conn, settings, days(14.9)) == []  # staff only a full interval after the reminder
    assert len(await send_reminders(conn, settings, days(15.1))) == 1
    assert (await templates_sent(conn))[-1] == ("staff_attention", "staff@brighthouse.no")
    assert await send_reminders(conn, settings, days(40)) == []
    kinds = [entry.kind for entry in await matches.timeline(conn, match_id)]
    assert kinds.count("reminder") == 1 and kinds.count("escalation") == 1


async def test_several_workers_running_reminders_at_once_send_each_once(
    conn: Connection, settings: Settings, pg_url: str
) -> None:
    for i in range(5):
        pair = await create_parties(conn, i + 1)
        await matches.create(conn, settings, pair, "mutual", "participants", Actor.system())
    await conn.execute("DELETE FROM outbox")
    others = [await asyncpg.connect(pg_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(send_reminders(c, settings, days(8)) for c in others))
    finally:
        for other in others:
            await other.close()
    assert sum(len(r) for r in results) == 10
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 10


async def test_reminders_respect_the_preference_and_introductions_always_go(
    conn: Connection, settings: Settings
) -> None:
    student, company = await create_parties(conn)
    await conn.execute("UPDATE participants SET email_reminders = false WHERE id = $1", student)
    await matches.create(conn, settings, (student, company), "mutual", "participants", Actor.system())
    assert len(await templates_sent(conn)) == 2  # both introductions, whatever the preference
    await send_reminders(conn, settings, days(8))
    assert (await templates_sent(conn))[2:] == [("followup_met", "post@robotikk.example")]


async def test_introduced_parties_who_answered_are_not_reminded(conn: Connection, settings: Settings) -> None:
    student, company = await create_parties(conn)
    row, _ = await matches.create(conn, settings, (student, company), "suggested", "ranker", Actor.system())
    assert row is not None
    await matches.approve(conn, settings, row["id"], Actor.staff(None, "api token"))
    await conn.execute(
        "INSERT INTO answers (participant_id, candidate_id, answer) VALUES ($1, $2, 'interested')", student, company
    )
    await send_reminders(conn, settings, days(8))
    assert (await templates_sent(conn))[-1] == ("followup_answer", "post@robotikk.example")
    assert len(await templates_sent(conn)) == 3


async def test_one_click_unsubscribe_turns_reminders_off(
    conn: Connection, settings: Settings, client: httpx.AsyncClient
) -> None:
    student, _ = await create_parties(conn)
    token = links.sign_unsubscribe(settings, student)
    # RFC 8058: the mail client POSTs the body below, without cookies or a CSRF token.
    done = await client.post(f"/api/v1/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200
    assert await conn.fetchval("SELECT email_reminders FROM participants WHERE id = $1", student) is False
    assert (await client.post("/api/v1/unsubscribe/forged")).status_code == 404
    opened = await client.get(f"/api/v1/unsubscribe/{token}", follow_redirects=True)
    assert opened.status_code == 200 and f'action="/unsubscribe/{token}"' in opened.text


async def test_the_unsubscribe_page_and_the_preferences_page(
    conn: Connection, settings: Settings, client: httpx.AsyncClient
) -> None:
    student, _ = await create_parties(conn)
    token = links.sign_unsubscribe(settings, student)
    assert (await client.get(f"/unsubscribe/{token}")).status_code == 200
    assert await conn.fetchval("SELECT email_reminders FROM participants WHERE id = $1", student) is True
    assert (await post_form(client, f"/unsubscribe/{token}", {})).status_code == 200
    assert await conn.fetchval("SELECT email_reminders FROM participants WHERE id = $1", student) is False
    await sign_in_as(client, conn, settings, participant_id=student)
    page = await client.get("/me/email-preferences")
    assert page.status_code == 200 and 'id="reminders"' in page.text and "checked" not in page.text
    saved = await post_form(client, "/me/email-preferences", {"reminders": "on"})
    assert saved.status_code == 303
    assert await conn.fetchval("SELECT email_reminders FROM participants WHERE id = $1", student) is True


async def test_the_worker_introduces_a_match_left_approved(conn: Connection, settings: Settings) -> None:
    row, _ = await matches.create(conn, settings, await create_parties(conn), "suggested", "ranker", Actor.system())
    assert row is not None
    await matches.transition(conn, settings, row["id"], "approved", Actor.staff(None, "api token"))
    assert len(await introduce_approved(conn, settings)) == 2
    assert await conn.fetchval("SELECT state FROM matches") == "introduced"
    assert await introduce_approved(conn, settings) == []
