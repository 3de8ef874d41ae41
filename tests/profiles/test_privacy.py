"""Deleting one's account leaves nothing behind; retention hides and deletes inactive profiles."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from arq.connections import ArqRedis
from asyncpg import Connection

from service.auth import service as auth
from service.kit.config import Settings
from service.profiles import service as profiles
from service.profiles import tasks as profile_tasks
from service.profiles.schemas import ParticipantFields
from tests.conftest import Mailbox, run_worker
from tests.factories import MakeParticipant
from tests.support import rows_mentioning, rows_referencing

KARI_EMAIL = "kari.ostby@example.no"
OLE_EMAIL = "post@oleas.example"


@pytest.fixture
async def kari(make_participant: MakeParticipant) -> asyncpg.Record:
    """A researcher whose name and email the deletion tests look for in every table."""
    return await make_participant(
        "researcher", name="Kari Østby", email=KARI_EMAIL, organisation="NTNU Gjøvik", domains=["bioeconomy"],
        offers=["Biogass fra skogsavfall"], seeks=["Industripartner med tremasse"], external_id="kari-1", embed=False,
    )


@pytest.fixture
async def ole(make_participant: MakeParticipant) -> asyncpg.Record:
    """A company in the same domain, whose rows must outlive Kari's deletion."""
    return await make_participant(
        "company", name="Ole Ås AS", email=OLE_EMAIL, domains=["bioeconomy"], offers=["Prosjekt om trefiber"],
        seeks=["Forsker på biogass"], external_id="ole-1", embed=False,
    )


async def test_delete_account_leaves_no_row_about_the_person(
    conn: Connection, settings: Settings, kari: asyncpg.Record, ole: asyncpg.Record
) -> None:
    await auth.issue(conn, kari["id"], "login", dt.timedelta(minutes=5))
    await profiles.request_sign_in(conn, None, settings, KARI_EMAIL)
    await profiles.request_sign_in(conn, None, settings, OLE_EMAIL)
    assert await rows_mentioning(conn, "kari.ostby@example.no")

    assert await profiles.delete_account(conn, kari["id"]) is True

    for needle in ("kari.ostby@example.no", "Kari Østby", "kari-1"):
        assert await rows_mentioning(conn, needle) == {}, needle
    assert await rows_referencing(conn, kari["id"]) == {}
    # The other participant and their email are untouched.
    assert await rows_mentioning(conn, "post@oleas.example") == {"participants": 1, "outbox": 1}
    assert await rows_referencing(conn, ole["id"])


async def test_deleting_twice_is_harmless(conn: Connection, kari: asyncpg.Record) -> None:
    assert await profiles.delete_account(conn, kari["id"]) is True
    assert await profiles.delete_account(conn, kari["id"]) is False


async def _age(conn: Connection, external_id: str, days: int) -> None:
    await conn.execute(
        "UPDATE participants SET last_active_at = now() - make_interval(days => $2),"
        " created_at = now() - make_interval(days => $2) WHERE external_id = $1",
        external_id,
        days,
    )


async def test_retention_hides_with_a_warning_then_deletes(
    conn: Connection, pg_url: str, settings: Settings, mailbox: Mailbox, arq_redis: ArqRedis,
    kari: asyncpg.Record, ole: asyncpg.Record,
) -> None:
    await _age(conn, "kari-1", 13 * 31)  # past 12 months: hide and warn
    await _age(conn, "ole-1", 25 * 31)  # past 24 months: delete
    ctx = {"settings": settings, "pool": await _pool(pg_url), "redis": arq_redis}
    try:
        counts = await profile_tasks.apply_retention(ctx)
        again = await profile_tasks.apply_retention(ctx)
    finally:
        await ctx["pool"].close()

    assert counts == {"hidden": 1, "deleted": 1, "unverified_deleted": 0}
    assert again == {"hidden": 0, "deleted": 0, "unverified_deleted": 0}  # warned once only
    kari = await conn.fetchrow("SELECT hidden_at, hidden_reason FROM participants WHERE external_id = 'kari-1'")
    assert kari["hidden_at"] is not None and kari["hidden_reason"] == "inactive"
    assert await conn.fetchval("SELECT count(*) FROM participants WHERE external_id = 'ole-1'") == 0
    await run_worker(settings)
    [warning] = mailbox.to(KARI_EMAIL)
    assert "skjult" in warning["Subject"] or "hidden" in warning["Subject"]


async def test_retention_intervals_are_settings(
    conn: Connection, pg_url: str, settings: Settings, kari: asyncpg.Record
) -> None:
    await _age(conn, "kari-1", 40)
    settings.retention_hide_months = 1
    ctx = {"settings": settings, "pool": await _pool(pg_url), "redis": None}
    try:
        assert (await profile_tasks.apply_retention(ctx))["hidden"] == 1
    finally:
        await ctx["pool"].close()


async def test_signing_in_again_unhides_an_inactive_profile(
    conn: Connection, pg_url: str, settings: Settings, kari: asyncpg.Record
) -> None:
    await _age(conn, "kari-1", 13 * 31)
    ctx = {"settings": settings, "pool": await _pool(pg_url), "redis": None}
    try:
        await profile_tasks.apply_retention(ctx)
    finally:
        await ctx["pool"].close()
    token = await auth.issue(conn, kari["id"], "login", dt.timedelta(minutes=5))
    assert await profiles.redeem_link(conn, token) == kari["id"]
    assert await conn.fetchval("SELECT hidden_at FROM participants WHERE id = $1", kari["id"]) is None


async def test_unverified_registrations_are_deleted_after_a_week(
    conn: Connection, pg_url: str, settings: Settings
) -> None:
    fields = ParticipantFields(
        kind="researcher", name="Kari Østby", email=KARI_EMAIL, organisation="NTNU Gjøvik", domains=["bioeconomy"],
        offers=["Biogass fra skogsavfall"], seeks=["Industripartner med tremasse"],
    )
    await profiles.register(conn, None, settings, fields)
    await _age(conn, await conn.fetchval("SELECT external_id FROM participants"), 8)
    ctx = {"settings": settings, "pool": await _pool(pg_url), "redis": None}
    try:
        assert (await profile_tasks.apply_retention(ctx))["unverified_deleted"] == 1
    finally:
        await ctx["pool"].close()
    assert await conn.fetchval("SELECT count(*) FROM participants") == 0


async def _pool(pg_url: str) -> asyncpg.Pool:
    from service.kit import database

    return await database.create_pool(pg_url, max_size=2)
