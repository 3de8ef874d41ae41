"""A match goes from suggestion to completed project through emails and clicks alone.

Real components: Postgres, Redis, the arq worker (burst) and an SMTP server (aiosmtpd); the clock of
the reminders is passed in (`now`), so weeks pass in a moment.
"""

from __future__ import annotations

import datetime as dt
from email.message import Message

import httpx
from arq.connections import ArqRedis
from asyncpg import Connection

from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import service as matches
from service.matches import tasks as matches_tasks
from tests.conftest import API_TOKEN, Mailbox, body_text, post_form, run_worker
from tests.factories import create_followup_staff, create_parties
from tests.support import path_of, replies

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def click(client: httpx.AsyncClient, url: str, comment: str = "") -> httpx.Response:
    """Open a reply link (the confirm page), then press its button."""
    page = await client.get(path_of(url))
    assert page.status_code == 200 and "<form" in page.text
    return await post_form(client, path_of(url), {"comment": comment})


async def state_of(conn: Connection, match_id: int) -> str:
    state: str = await conn.fetchval("SELECT state FROM matches WHERE id = $1", match_id)
    return state


def latest(mailbox: Mailbox, address: str) -> Message:
    return mailbox.to(address)[-1]


async def remind_at(conn: Connection, settings: Settings, now: dt.datetime, arq_redis: ArqRedis) -> int:
    ctx = {"pool": _OnePool(conn), "settings": settings, "redis": arq_redis}
    return await matches_tasks.remind(ctx, now)


class _OnePool:
    """The worker context's pool, backed by the test's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def acquire(self) -> _OnePool:
        return self

    async def __aenter__(self) -> Connection:
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_from_suggestion_to_completed_project_through_emails_and_clicks(
    conn: Connection, settings: Settings, client: httpx.AsyncClient, mailbox: Mailbox, arq_redis: ArqRedis
) -> None:
    student, company = await create_parties(conn)
    row, _ = await matches.create(conn, settings, (student, company), "suggested", "ranker", Actor.system(), 0.8)
    assert row is not None
    match_id = row["id"]
    approved = await client.post(f"/api/v1/matches/{match_id}/transitions", json={"to": "approved"}, headers=AUTH)
    assert approved.status_code == 200 and approved.json()["state"] == "introduced"
    await run_worker(settings)

    # The introduction: each gets the other's contact details only now, in their own language.
    to_student, to_company = latest(mailbox, "ola@example.no"), latest(mailbox, "post@robotikk.example")
    assert "post@robotikk.example" in body_text(to_student) and "ola@example.no" in body_text(to_company)
    assert to_company["Subject"] == "Bright House introduces you to Ola Nordmann"
    assert "Raufoss Robotikk AS" in to_student["Subject"] and "introduces" not in to_student["Subject"]
    assert to_student.get_content_type() == "multipart/alternative"

    interested = replies(to_student)[0]
    answered = await click(client, interested)
    assert answered.status_code == 200 and await state_of(conn, match_id) == "introduced"  # waiting for the other
    await click(client, replies(to_company)[0])
    assert await state_of(conn, match_id) == "mutual"
    await run_worker(settings)

    # Both said yes: "We met" from one party moves the match once; the other's link then changes nothing.
    met_student = replies(latest(mailbox, "ola@example.no"))[0]
    met_company = replies(latest(mailbox, "post@robotikk.example"))[0]
    await click(client, met_company, comment="Coffee at Mustad Næringspark")
    assert await state_of(conn, match_id) == "meeting_held"
    again = await post_form(client, path_of(met_company), {"comment": ""})
    assert again.status_code == 200 and "Already noted" in again.text
    other = await client.get(path_of(met_student))  # no button: the other party has answered already
    assert other.status_code == 200 and "Allerede notert" in other.text and "<textarea" not in other.text
    other = await post_form(client, path_of(met_student), {"comment": ""})
    assert "Allerede notert" in other.text  # the student's link opens in Norwegian
    assert await state_of(conn, match_id) == "meeting_held"

    # Three weeks later: "did you agree a project?" — then three months later a check-in.
    now = dt.datetime.now(dt.UTC)
    assert await remind_at(conn, settings, now + dt.timedelta(days=22), arq_redis) == 2
    await run_worker(settings)
    agreed_email = latest(mailbox, "post@robotikk.example")
    assert agreed_email["Subject"] == "Did you and Ola Nordmann agree a project?"
    assert agreed_email["List-Unsubscribe"] and agreed_email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    await click(client, replies(agreed_email)[0])
    assert await state_of(conn, match_id) == "project_agreed"

    assert await remind_at(conn, settings, now + dt.timedelta(days=91), arq_redis) == 2
    await run_worker(settings)
    checkin = latest(mailbox, "ola@example.no")
    await click(client, replies(checkin)[0])
    assert await state_of(conn, match_id) == "project_completed"

    events = await conn.fetch("SELECT to_state, actor_kind FROM match_events WHERE match_id = $1 ORDER BY id", match_id)
    assert [e["to_state"] for e in events] == [
        "suggested", "approved", "introduced", "mutual", "meeting_held", "project_agreed", "project_completed",
    ]
    assert [e["actor_kind"] for e in events][3:] == ["participant"] * 4
    comment = await conn.fetchval("SELECT comment FROM match_events WHERE to_state = 'meeting_held'")
    assert comment == "Coffee at Mustad Næringspark"
    timeline = (await client.get(f"/api/v1/matches/{match_id}", headers=AUTH)).json()["timeline"]
    assert sum(1 for entry in timeline if entry["kind"] == "email") == len(mailbox.messages)


async def test_not_going_ahead_closes_the_match_and_tells_staff(
    conn: Connection, settings: Settings, client: httpx.AsyncClient, mailbox: Mailbox, arq_redis: ArqRedis
) -> None:
    await create_followup_staff(conn)
    student, company = await create_parties(conn)
    row, outbox = await matches.create(conn, settings, (student, company), "mutual", "participants", Actor.system())
    assert row is not None
    await matches.deliver(arq_redis, outbox)
    await run_worker(settings)
    stop = replies(latest(mailbox, "ola@example.no"))[1]
    page = await client.get(path_of(stop))
    assert "Blir ikke noe av" in page.text and 'lang="nb"' in page.text  # the student reads Norwegian
    await click(client, stop, comment="Fikk annen jobb")
    assert await state_of(conn, row["id"]) == "closed"
    assert await conn.fetchval("SELECT closed_reason FROM matches") == "not_going_ahead"
    await run_worker(settings)
    to_staff = latest(mailbox, "staff@brighthouse.no")
    assert "not going ahead" in to_staff["Subject"] and "Fikk annen jobb" in body_text(to_staff)
    assert to_staff["List-Unsubscribe"] is None


async def test_a_forged_or_unknown_reply_link_is_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    assert (await client.get("/reply/not-a-token")).status_code == 410
    await client.get("/signin")  # a page with a form, for the CSRF cookie
    assert (await post_form(client, "/reply/not-a-token", {"comment": ""})).status_code == 410


async def test_an_expired_reply_link_no_longer_works(
    conn: Connection, settings: Settings, client: httpx.AsyncClient, mailbox: Mailbox, arq_redis: ArqRedis
) -> None:
    student, company = await create_parties(conn)
    _, outbox = await matches.create(conn, settings, (student, company), "mutual", "participants", Actor.system())
    await matches.deliver(arq_redis, outbox)
    await run_worker(settings)
    met = replies(latest(mailbox, "ola@example.no"))[0]
    await conn.execute("UPDATE reply_links SET expires_at = now() - interval '1 second'")
    assert (await client.get(path_of(met))).status_code == 410
    await client.get("/signin")  # a page with a form, for the CSRF cookie
    assert (await post_form(client, path_of(met), {"comment": ""})).status_code == 410
    assert await state_of(conn, int(await conn.fetchval("SELECT id FROM matches"))) == "mutual"
