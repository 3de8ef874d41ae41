"""Email delivery without an SMTP server: kept in the outbox and logged for the operator."""

from __future__ import annotations

import logging

import pytest
from arq.connections import ArqRedis
from asyncpg import Connection

from service.kit.config import Settings
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields
from tests.conftest import run_worker
from tests.factories import MakeParticipant


async def test_without_smtp_emails_are_logged_with_their_links_but_not_the_address(
    conn: Connection, settings: Settings, arq_redis: ArqRedis, caplog: pytest.LogCaptureFixture,
    make_participant: MakeParticipant,
) -> None:
    settings.smtp_url = None
    bo = await make_participant(
        "company", name="Bø Biogass AS", email="post@bobiogass.example", domains=["bioeconomy"],
        offers=["Sommerjobb på biogassanlegget"], embed=False,
    )
    await profiles.request_sign_in(conn, arq_redis, settings, bo["email"])
    with caplog.at_level(logging.WARNING, logger="service.mail.tasks"):
        await run_worker(settings)
    row = await conn.fetchrow("SELECT status, sent_at FROM outbox")
    assert row["status"] == "logged" and row["sent_at"] is not None
    [record] = [r for r in caplog.records if r.name == "service.mail.tasks"]
    assert "http://testserver/auth/" in record.getMessage()
    assert bo["email"] not in record.getMessage() and "Bø Biogass" not in record.getMessage()


def test_blank_interests_are_not_interests() -> None:
    with pytest.raises(ValueError, match="offers"):
        ParticipantFields(kind="student", name="A", email="a@example.no", domains=["cyber_ict"], offers=["  "])
