"""Deleting one's account leaves nothing behind; retention hides and deletes inactive profiles."""

from __future__ import annotations

import datetime as dt

import asyncpg
from arq.connections import ArqRedis
from asyncpg import Connection

from service.auth import service as auth
from service.kit.config import Settings
from service.profiles import service as profiles
from service.profiles import tasks as profile_tasks
from service.profiles.schemas import ParticipantFields
from tests.conftest import Mailbox, run_worker

KARI = ParticipantFields(
    kind="researcher",
    name="Kari Østby",
    email="kari.ostby@example.no",
    organisation="NTNU Gjøvik",
    domains=["bioeconomy"],
    offers=["Biogass fra skogsavfall"],
    seeks=["Industripartner med tremasse"],
)
OLE = ParticipantFields(
    kind="company",
    name="Ole Ås AS",
    email="post@oleas.example",
    domains=["bioeconomy"],
    offers=["Prosjekt om trefiber"],
    seeks=["Forsker på biogass"],
)


async def _tables(conn: Connection) -> list[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return [row["tablename"] for row in rows]


async def rows_mentioning(conn: Connection, needle: str) -> dict[str, int]:
    """Rows of every public table whose text contains `needle` (case-insensitive)."""
    found = {}
    for table in await _tables(conn):
        count = await conn.fetchval(f'SELECT count(*) FROM "{table}" t WHERE t::text ILIKE $1', f"%{needle}%")
        if count:
            found[table] = count
    return found


async def rows_referencing(conn: Connection, participant_id: int) -> dict[str, int]:
    """Rows of every table with a column naming a participant that point at this id."""
    columns = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND column_name LIKE '%participant%id'"
    )
    found = {}
    for column in columns:
        count = await conn.fetchval(
            f'SELECT count(*) FROM "{column["table_name"]}" WHERE "{column["column_name"]}" = $1', participant_id
        )
        if count:
            found[f"{column['table_name']}.{column['column_name']}"] = count
    return found


async def test_delete_account_leaves_no_row_about_the_person(conn: Connection, settings: Settings) -> None:
    kari = await profiles.create_verified(conn, KARI, "kari-1", "api")
    ole = await profiles.create_verified(conn, OLE, "ole-1", "api")
    await auth.issue(conn, kari["id"], "login", dt.timedelta(minutes=5))
    await profiles.request_sign_in(conn, None, settings, KARI.email)
    await profiles.request_sign_in(conn, None, settings, OLE.email)
    assert await rows_mentioning(conn, "kari.ostby@example.no")

    assert await profiles.delete_account(conn, kari["id"]) is True

    for needle in ("kari.ostby@example.no", "Kari Østby", "kari-1"):
        assert await rows_mentioning(conn, needle) == {}, needle
    assert await rows_referencing(conn, kari["id"]) == {}
    # The other participant and their email are untouched.
    assert await rows_mentioning(conn, "post@oleas.example") == {"participants": 1, "outbox": 1}
    assert await rows_referencing(conn, ole["id"])


async def test_deleting_twice_is_harmless(conn: Connection) -> None:
    kari = await profiles.create_verified(conn, KARI, "kari-1", "api")
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
    conn: Connection, pg_url: str, settings: Settings, mailbox: Mailbox, arq_redis: ArqRedis
) -> None:
    await profiles.create_verified(conn, KARI, "kari-1", "api")
    await profiles.create_verified(conn, OLE, "ole-1", "api")
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
    [warning] = mailbox.to(KARI.email)
    assert "skjult" in warning["Subject"] or "hidden" in warning["Subject"]


async def test_retention_intervals_are_settings(conn: Connection, pg_url: str, settings: Settings) -> None:
    await profiles.create_verified(conn, KARI, "kari-1", "api")
    await _age(conn, "kari-1", 40)
    settings.retention_hide_months = 1
    ctx = {"settings": settings, "pool": await _pool(pg_url), "redis": None}
    try:
        assert (await profile_tasks.apply_retention(ctx))["hidden"] == 1
    finally:
        await ctx["pool"].close()


async def test_signing_in_again_unhides_an_inactive_profile(conn: Connection, pg_url: str, settings: Settings) -> None:
    kari = await profiles.create_verified(conn, KARI, "kari-1", "api")
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
    await profiles.register(conn, None, settings, KARI)
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
