"""Issue 15, findings 8 and 9: known and unknown addresses take the same path through a request, and
per-address limits cannot lock anyone out.

Finding 8 (registration 7.6 ms for a known address against 16.6 ms for a new one, sign-in the
reverse): the request now only hands one job to the worker, the same job for both, and writes
nothing; the worker decides. Timings are measured in bench/known_unknown.py, not here.
Finding 9 (ten requests for someone's address: 429 for an hour from everywhere): the client's limit
blocks the requester; the address's budget only holds back emails, with the same answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
from arq.connections import ArqRedis
from asyncpg import Connection

from service.kit.config import Settings
from service.profiles import repository as profiles_repository
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields
from service.profiles.service import to_columns
from tests.conftest import Mailbox, body_text, csrf_of, link_in, post_form, run_jobs
from tests.factories import MakeParticipant, MakeStaff

REGISTRATION = {"kind": "student", "name": "Åse", "domains": ["cyber_ict"], "offers": ["Python"], "consent": True}
FORM = {"kind": "student", "name": "Åse", "language": "nb", "domains": ["cyber_ict"], "capacity": "",
        "offers": ["Python", "", ""], "seeks": ["", "", ""], "consent": "yes"}
FIELDS = {key: value for key, value in REGISTRATION.items() if key != "consent"}  # the stored fields
TABLES = ("participants", "outbox", "auth_tokens", "staff_tokens")


async def _post_from(client: httpx.AsyncClient, data: dict[str, str], forwarded_for: str) -> httpx.Response:
    """The sign-in form posted through a proxy that says the client is `forwarded_for`."""
    if not client.cookies.get("csrftoken"):
        await client.get("/signin")
    return await client.post("/signin", data={**data, "csrftoken": csrf_of(client)},
                             headers={"X-Forwarded-For": forwarded_for})


async def _rows(conn: Connection) -> dict[str, int]:
    return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}


async def _jobs(arq_redis: ArqRedis) -> list[tuple[str, tuple[Any, ...]]]:
    return sorted(((job.function, job.args) for job in await arq_redis.queued_jobs()), key=repr)


async def test_sign_in_does_the_same_for_known_and_unknown_addresses(
    client: httpx.AsyncClient, conn: Connection, arq_redis: ArqRedis, mailbox: Mailbox,
    make_participant: MakeParticipant, make_staff: MakeStaff,
) -> None:
    await make_participant(email="known@example.no", embed=False)
    await make_staff(email="staff@brighthouse.example")
    before = await _rows(conn)
    answers = [await post_form(client, path, {"email": address})
               for path in ("/signin", "/staff/signin") for address in ("known@example.no", "nobody@example.no")]
    assert [a.status_code for a in answers] == [200] * 4
    assert answers[0].text.replace("known@", "X@") == answers[1].text.replace("nobody@", "X@")
    staff_answers = await post_form(client, "/staff/signin", {"email": "staff@brighthouse.example"})
    assert staff_answers.text.replace("staff@brighthouse.example", "X") == answers[3].text.replace(
        "nobody@example.no", "X")
    assert await _rows(conn) == before  # nothing written by any of the requests
    assert await _jobs(arq_redis) == [
        ("send_sign_in_link", ("known@example.no",)), ("send_sign_in_link", ("nobody@example.no",)),
        ("send_staff_sign_in_link", ("known@example.no",)), ("send_staff_sign_in_link", ("nobody@example.no",)),
        ("send_staff_sign_in_link", ("staff@brighthouse.example",))]
    await run_jobs()
    assert sorted(m["To"] for m in mailbox.messages) == ["known@example.no", "staff@brighthouse.example"]


async def test_registration_does_the_same_for_known_and_new_addresses(
    client: httpx.AsyncClient, conn: Connection, arq_redis: ArqRedis, mailbox: Mailbox,
    make_participant: MakeParticipant,
) -> None:
    await make_participant(email="known@example.no", embed=False)
    before = await _rows(conn)
    api = [await client.post("/api/v1/participants", json={**REGISTRATION, "email": address})
           for address in ("known@example.no", "new@example.no")]
    assert [a.status_code for a in api] == [202, 202] and api[0].json() == api[1].json()
    await client.get("/register")
    pages = [await post_form(client, "/register", {**FORM, "email": address})
             for address in ("known@example.no", "new2@example.no")]
    assert [(p.status_code, p.headers["location"]) for p in pages] == [(303, "/register/sent")] * 2
    assert await _rows(conn) == before
    jobs = await _jobs(arq_redis)
    assert [function for function, _ in jobs] == ["register_participant"] * 4
    assert sorted(args[0]["email"] for _, args in jobs) == [
        "known@example.no", "known@example.no", "new2@example.no", "new@example.no"]
    await run_jobs()
    assert await conn.fetchval("SELECT count(*) FROM participants") == 3
    known = mailbox.to("known@example.no")
    assert len(known) == 2 and all(m["Subject"] == "Du er allerede registrert i Koble" for m in known)
    assert mailbox.to("new@example.no")[0]["Subject"] == "Bekreft e-postadressen din for Koble"


async def test_a_stranger_cannot_lock_someone_out_of_sign_in(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox, arq_redis: ArqRedis,
    make_participant: MakeParticipant, app: Any,
) -> None:
    await make_participant(email="victim@example.no", embed=False)
    settings.trusted_proxies = "127.0.0.1"  # the test client is a proxy: each X-Forwarded-For its own client
    for n in range(12):  # a stranger from twelve addresses
        answer = await _post_from(client, {"email": "victim@example.no"}, f"203.0.113.{n}")
        assert answer.status_code == 200  # the same answer as ever, never a 429 for the address
    assert len(await arq_redis.queued_jobs()) == 3  # KOBLE_RATE_LIMIT_ADDRESS: 3 emails per 15 minutes
    victim = await _post_from(client, {"email": "victim@example.no"}, "198.51.100.7")
    assert victim.status_code == 200 and "victim@example.no" in victim.text
    await run_jobs()
    assert len(mailbox.to("victim@example.no")) == 3
    # The newest link in the victim's inbox still signs them in.
    link = link_in(mailbox.to("victim@example.no")[-1]).replace("http://testserver", "")
    assert (await post_form(client, link, {})).headers["location"].startswith("/me")
    assert "/auth/" in body_text(mailbox.to("victim@example.no")[-1])


async def test_the_client_limit_blocks_the_requester_only(
    client: httpx.AsyncClient, conn: Connection, settings: Settings,
) -> None:
    settings.rate_limit_signin = "2/hour"
    settings.trusted_proxies = "127.0.0.1"
    statuses = [(await _post_from(client, {"email": f"p{n}@example.no"}, "203.0.113.9")).status_code
                for n in range(3)]
    assert statuses == [200, 200, 429]
    other = await _post_from(client, {"email": "p0@example.no"}, "203.0.113.10")
    assert other.status_code == 200


async def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(
    client: httpx.AsyncClient, conn: Connection, settings: Settings,
) -> None:
    settings.rate_limit_signin = "2/hour"
    statuses = [(await _post_from(client, {"email": f"p{n}@example.no"}, f"203.0.113.{n}")).status_code
                for n in range(3)]
    assert statuses == [200, 200, 429]  # a made-up header does not buy a fresh bucket


async def test_two_registrations_of_one_address_at_once_store_one_and_tell_the_second(
    conn: Connection, pg_url: str, settings: Settings, mailbox: Mailbox
) -> None:
    # The first registration's row is written but not committed when the second one looks for the address:
    # the second's insert waits on the unique index, then fails, and must take the known-address path.
    first = await asyncpg.connect(pg_url)
    try:
        transaction = first.transaction()
        await transaction.start()
        await profiles_repository.insert(first, "web-race-1", to_columns(ParticipantFields(
            **FIELDS, email="race@example.no")), "web", verified=False, consent=True)
        second = asyncio.create_task(profiles.register(conn, None, settings, ParticipantFields(
            **FIELDS, email="race@example.no")))
        await asyncio.sleep(0.3)
        assert not second.done()  # waiting on the first's uncommitted row
        await transaction.commit()
        assert await second is None  # the known-address path, not an error
    finally:
        await first.close()
    assert await conn.fetchval("SELECT count(*) FROM participants WHERE email = 'race@example.no'") == 1
    subjects = await conn.fetch("SELECT template FROM outbox o JOIN participants p ON p.id = o.participant_id"
                                " WHERE p.email = 'race@example.no'")
    assert [row["template"] for row in subjects] == ["already_registered"]
