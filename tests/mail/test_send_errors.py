"""Issue 15, finding 10: whatever goes wrong while sending, an email leaves `sending`; names cannot add headers."""

from __future__ import annotations

from arq.connections import ArqRedis
from asyncpg import Connection

from service.kit.audit import Actor
from service.kit.config import Settings
from service.mail import tasks as mail_tasks
from service.matches import service as matches
from tests.conftest import Mailbox, run_worker
from tests.factories import create_parties

# A name stored before text fields refused control characters (or typed through an older client).
INJECTED = "Ola\rNordmann\r\nBcc: victim@evil.example"


async def _introduce(conn: Connection, settings: Settings, arq_redis: ArqRedis) -> list[int]:
    student, company = await create_parties(conn)
    await conn.execute("UPDATE participants SET name = $2 WHERE id = $1", student, INJECTED)
    _, outbox = await matches.create(conn, settings, (student, company), "mutual", "participants", Actor.system())
    assert len(outbox) == 2
    await mail_tasks.enqueue(arq_redis, outbox)
    return outbox


async def test_a_carriage_return_in_a_name_is_sent_on_one_header_line(
    conn: Connection, settings: Settings, arq_redis: ArqRedis, mailbox: Mailbox
) -> None:
    await _introduce(conn, settings, arq_redis)
    await run_worker(settings)
    states = await conn.fetch("SELECT status, subject FROM outbox ORDER BY id")
    assert [row["status"] for row in states] == ["sent", "sent"]
    assert len(mailbox.messages) == 2
    for message in mailbox.messages:
        assert message["Bcc"] is None and "victim@evil.example" not in message.get_all("To", [])[0]
        assert "\r" not in message["Subject"] and "\n" not in message["Subject"]
    to_company = mailbox.to("post@robotikk.example")[0]
    assert "Ola Nordmann" in " ".join(to_company["Subject"].split())


async def test_any_error_while_sending_ends_the_claim(
    conn: Connection, settings: Settings, arq_redis: ArqRedis, mailbox: Mailbox
) -> None:
    # Not an SMTP or network error: a configuration the transport cannot use (a ValueError) fails at once.
    settings.smtp_url = "mailto:postmaster@example.no"
    await _introduce(conn, settings, arq_redis)
    await run_worker(settings)
    rows = await conn.fetch("SELECT status, last_error, claimed_at FROM outbox")
    assert [row["status"] for row in rows] == ["failed", "failed"]
    assert all(row["last_error"].startswith("ValueError") and row["claimed_at"] is None for row in rows)
    assert mailbox.messages == []
