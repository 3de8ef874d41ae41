"""Issue 15, finding 2: changing one's email address answers the same for a taken and a free address
(the owner of a taken one is told by email, in their language), and is rate-limited per participant
and per address."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from asyncpg import Connection

from service.kit.config import Settings
from tests.conftest import Mailbox, body_text, post_form, run_worker
from tests.factories import MakeParticipant
from tests.support import sign_in_as

ME = "/api/v1/participants/me"
VOLATILE = ("pending_email", "updated_at")


async def _signed_in(client: httpx.AsyncClient, conn: Connection, settings: Settings, row: asyncpg.Record) -> None:
    await sign_in_as(client, conn, settings, participant_id=row["id"])


def _shape(answer: httpx.Response) -> tuple[int, dict[str, Any]]:
    return answer.status_code, {k: v for k, v in answer.json().items() if k not in VOLATILE}


async def test_a_taken_address_answers_like_a_free_one_and_its_owner_is_told(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox,
    make_participant: MakeParticipant,
) -> None:
    me = await make_participant(email="ase@example.no", embed=False)
    await make_participant(name="Bo Berg", email="bo@example.no", language="en", embed=False)
    await _signed_in(client, conn, settings, me)
    taken = await client.patch(ME, json={"email": "bo@example.no"})
    free = await client.patch(ME, json={"email": "ase.new@example.no"})
    assert _shape(taken) == _shape(free) and taken.status_code == 200
    assert (taken.json()["pending_email"], free.json()["pending_email"]) == ("bo@example.no", "ase.new@example.no")
    # The same work either way: one email, whoever it is for (no link for the taken address).
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 2
    await run_worker(settings)
    [notice] = mailbox.to("bo@example.no")
    assert notice["Subject"] == "Someone tried to use your email address on Koble"  # Bo reads English
    assert "Hi Bo Berg," in body_text(notice) and "/auth/" not in body_text(notice)
    assert "/auth/" in body_text(mailbox.to("ase.new@example.no")[0])


async def test_a_pending_taken_address_is_never_confirmed(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox,
    make_participant: MakeParticipant,
) -> None:
    me = await make_participant(email="ase@example.no", embed=False)
    await make_participant(name="Bo Berg", email="bo@example.no", embed=False)
    await _signed_in(client, conn, settings, me)
    await client.get("/me/edit")  # the CSRF cookie
    await client.patch(ME, json={"email": "bo@example.no"})
    assert (await post_form(client, "/me/confirm-again", {})).status_code == 303
    await run_worker(settings)
    notices = mailbox.to("bo@example.no")
    assert len(notices) == 2 and all("/auth/" not in body_text(m) for m in notices)
    assert await conn.fetchval("SELECT count(*) FROM auth_tokens") == 0  # no link exists that could confirm it
    assert await conn.fetchval("SELECT email FROM participants WHERE id = $1", me["id"]) == "ase@example.no"


async def test_address_changes_are_limited_per_participant(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    settings.rate_limit_email_change = "2/hour"
    me = await make_participant(email="ase@example.no", embed=False)
    await _signed_in(client, conn, settings, me)
    for n in range(2):
        assert (await client.patch(ME, json={"email": f"ase{n}@example.no"})).status_code == 200
    limited = await client.patch(ME, json={"email": "ase9@example.no"})
    assert limited.status_code == 429 and limited.json()["detail"].startswith("email:")
    assert (await client.patch(ME, json={"name": "Åse B."})).status_code == 200  # other fields: no limit
    await client.get("/me/edit")
    form = {"kind": "student", "name": "Åse", "email": "ase8@example.no", "language": "nb", "domains": "cyber_ict",
            "offers": "Python"}
    page = await post_form(client, "/me/edit", form)
    assert page.status_code == 429 and 'value="ase8@example.no"' in page.text
    assert "For mange endringer av e-postadresse." in page.text.split('id="email-error"')[1]
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 2


async def test_address_changes_are_limited_per_address(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    settings.rate_limit_email_change = "2/hour"
    people = [await make_participant(email=f"p{n}@example.no", embed=False) for n in range(3)]
    answers = []
    for person in people:  # three accounts flooding one inbox
        await _signed_in(client, conn, settings, person)
        answers.append((await client.patch(ME, json={"email": "Target@Example.no"})).status_code)
    assert answers == [200, 200, 429]
