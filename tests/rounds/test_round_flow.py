"""A mapping round end to end: upload, invite (once), open, register, update, unsubscribe, one reminder.

Emails go through the real outbox and worker to aiosmtpd. The reminder job is given its clock (`now`)
and run twice at once, as two workers would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
from email.message import Message

import asyncpg
import httpx
from arq.connections import ArqRedis
from asyncpg import Connection
from openpyxl import load_workbook

from service.kit.config import Settings
from service.rounds import tasks
from tests.conftest import Mailbox, body_text, csrf_of, post_form, run_worker
from tests.support import path_of, sign_in_as

NEW, KNOWN, SILENT, LEAVING = "post@bygg.example", "kari@robot.example", "post@stille.example", "nei@takk.example"
LIST = "\n".join([
    "organisasjonsnummer;navn;e-post;kommune;kontaktperson;språk;type",
    f"974767880;Bygg AS;{NEW};Gjøvik;Ola Nordmann;;company",
    f"939607706;Robot AS;{KNOWN};Østre Toten;;en;company",
    f"974760673;=Stille AS;{SILENT};Gjøvik;;;public_body",
    f"944117784;Takk AS;{LEAVING};Vestre Toten;;;company",
]).encode()
LINK = re.compile(r"https?://\S+(/rounds/i/[\w.-]+)\?lang=(\w+)")


def personal_link(message: Message) -> str:
    """The path of the personal link in an invitation or reminder."""
    found = LINK.search(body_text(message))
    assert found, body_text(message)
    return found.group(1)


async def invitation(conn: Connection, email: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM round_invitations WHERE email = $1", email)
    assert row is not None
    return row


async def upload(client: httpx.AsyncClient, send: bool) -> int:
    await client.get("/staff/rounds")
    data = {"csrftoken": csrf_of(client), "name": "Høst 2026", "reminder_days": "7"} | ({"send": "yes"} if send else {})
    response = await client.post("/staff/rounds", data=data, files={"file": ("orgs.csv", LIST, "text/csv")})
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


async def test_a_round_from_invitation_to_reminder(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox, make_staff,
    make_participant, arq_redis: ArqRedis,
) -> None:
    staff = await make_staff(role="reviewer")
    known = await make_participant("company", email=KNOWN, seeks=["En student til sommeren"])
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    round_id = await upload(client, send=True)
    again = await post_form(client, f"/staff/rounds/{round_id}/send", {})  # a second press sends nothing
    assert again.headers["location"].endswith("?sent=0")
    await run_worker(settings)

    # Each organisation got exactly one invitation, in its language, with a one-click unsubscribe.
    assert sorted(m["To"] for m in mailbox.messages) == sorted([NEW, KNOWN, SILENT, LEAVING])
    new_mail, known_mail = mailbox.to(NEW)[0], mailbox.to(KNOWN)[0]
    assert "Hei Ola Nordmann" in body_text(new_mail) and "Hi Robot AS" in body_text(known_mail)
    assert new_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # A new organisation: the pre-filled registration, opened then sent.
    link = personal_link(new_mail)
    page = await client.get(link)
    assert page.status_code == 200 and 'value="Bygg AS"' in page.text and f'value="{NEW}"' in page.text
    assert (await invitation(conn, NEW))["opened_at"] is not None
    client.cookies.clear()
    await client.get(link)
    form = {"kind": "company", "name": "Bygg AS", "email": NEW, "organisation": "Bygg AS", "language": "nb",
            "domains": ["industrial_tech"], "seeks": ["Hjelp med automatisering av produksjonslinja"],
            "location": "Gjøvik", "consent": "yes"}
    registered = await post_form(client, link, form)
    assert registered.status_code == 303 and registered.headers["location"].startswith("/me")
    participant = await conn.fetchrow("SELECT * FROM participants WHERE email = $1", NEW)
    assert participant["verified_at"] is not None and participant["consent_at"] is not None
    assert (await invitation(conn, NEW))["participant_id"] == participant["id"]
    assert (await client.get("/me")).status_code == 200  # signed in by the registration

    # A known participant: their needs, pre-filled, updated.
    client.cookies.clear()
    needs = await client.get(personal_link(known_mail))
    assert needs.status_code == 200 and "En student til sommeren" in needs.text
    saved = await post_form(client, personal_link(known_mail) + "/needs", {"seeks": ["En masterstudent i robotikk"]})
    assert saved.status_code == 200
    assert list(await conn.fetchval("SELECT seeks FROM participants WHERE id = $1", known["id"])) == [
        "En masterstudent i robotikk"]
    assert (await invitation(conn, KNOWN))["updated_at"] is not None

    # One-click unsubscribe, as a mail client posts it.
    unsubscribe = mailbox.to(LEAVING)[0]["List-Unsubscribe"].strip("<>")
    done = await client.post(path_of(unsubscribe), content=b"List-Unsubscribe=One-Click",
                             headers={"content-type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and (await invitation(conn, LEAVING))["unsubscribed_at"] is not None

    # The reminder job, run by two workers at once, a week and a day later: one email, to the silent one.
    pool = await asyncpg.create_pool(settings.database_url, min_size=2, max_size=4)
    try:
        ctx = {"pool": pool, "settings": settings, "redis": arq_redis}
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
        assert await tasks.remind_rounds(ctx, dt.datetime.now(dt.UTC) + dt.timedelta(days=6)) == 0
        assert sorted(await asyncio.gather(tasks.remind_rounds(ctx, later), tasks.remind_rounds(ctx, later))) == [0, 1]
        assert await tasks.remind_rounds(ctx, later + dt.timedelta(days=30)) == 0
    finally:
        await pool.close()
    await run_worker(settings)
    assert [len(mailbox.to(a)) for a in (NEW, KNOWN, SILENT, LEAVING)] == [1, 1, 2, 1]
    assert personal_link(mailbox.to(SILENT)[1]) == personal_link(mailbox.to(SILENT)[0])

    # The round's page and exports show it all, per municipality and kind.
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    page = await client.get(f"/staff/rounds/{round_id}")
    assert page.status_code == 200 and SILENT in page.text
    totals = await conn.fetchrow(
        "SELECT count(opened_at) o, count(registered_at) r, count(updated_at) u, count(unsubscribed_at) x,"
        " count(reminded_at) m FROM round_invitations")
    assert tuple(totals) == (2, 1, 1, 1, 1)
    xlsx = await client.get(f"/staff/rounds/{round_id}/export.xlsx?people=true")
    workbook = load_workbook(io.BytesIO(xlsx.content))
    by_municipality = {row[0]: row for row in workbook["municipality"].iter_rows(values_only=True)}
    assert by_municipality["Gjøvik"][1:] == (2, 2, 1, 1, 0, 0, 1, 1, 0.5)
    assert "'=Stille AS" in [row[2] for row in workbook["organisations"].iter_rows(values_only=True)]
    csv_text = (await client.get(f"/staff/rounds/{round_id}/export.csv")).content.decode("utf-8-sig")
    assert "public_body;1;1;0;0;0;0;1;0;0.0" in csv_text and SILENT not in csv_text
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'round_view_people'") == 2

    # Done with: the round and its list go; the registered participant stays.
    deleted = await post_form(client, f"/staff/rounds/{round_id}/delete", {})
    assert deleted.status_code == 303 and (await client.get(f"/staff/rounds/{round_id}")).status_code == 404
    assert await conn.fetchval("SELECT count(*) FROM round_invitations") == 0
    assert await conn.fetchval("SELECT count(*) FROM round_events") == 0
    assert await conn.fetchval("SELECT count(*) FROM participants WHERE email = $1", NEW) == 1


async def test_analysts_see_a_rounds_figures_but_no_names_or_addresses(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_staff,
) -> None:
    reviewer, analyst = await make_staff(role="reviewer"), await make_staff(role="analyst")
    await sign_in_as(client, conn, settings, staff_id=reviewer["id"])
    round_id = await upload(client, send=False)
    client.cookies.clear()
    await sign_in_as(client, conn, settings, staff_id=analyst["id"])

    listing = await client.get("/staff/rounds")
    assert listing.status_code == 200 and "Høst 2026" in listing.text and 'type="file"' not in listing.text
    assert "<h1>Kartleggingsrunder</h1>" in listing.text
    assert "<h1>Mapping rounds</h1>" in (await client.get("/staff/rounds?lang=en")).text
    page = await client.get(f"/staff/rounds/{round_id}")
    assert page.status_code == 200 and "Østre Toten" in page.text
    assert "@" not in page.text.replace(analyst["email"], "") and "Bygg AS" not in page.text
    figures = await client.get(f"/staff/rounds/{round_id}/export.csv")
    assert figures.status_code == 200 and "Gjøvik" in figures.text and "@" not in figures.text
    for refused in (await client.get(f"/staff/rounds/{round_id}/export.xlsx?people=true"),
                    await post_form(client, f"/staff/rounds/{round_id}/send", {}),
                    await post_form(client, f"/staff/rounds/{round_id}/delete", {})):
        assert refused.status_code == 403
    upload_refused = await client.post("/staff/rounds", data={"csrftoken": csrf_of(client), "name": "x"},
                                       files={"file": ("orgs.csv", LIST, "text/csv")})
    assert upload_refused.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM mapping_rounds") == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE staff_id = $1", analyst["id"]) == 0
