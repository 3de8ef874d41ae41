"""The asyncpg pool and schema migrations (yoyo, plain SQL files in service/migrations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path

import asyncpg
from pgvector.asyncpg import register_vector

MIGRATIONS = Path(__file__).parent.parent / "migrations"


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Registered once per connection, so every query can pass and read numpy vectors.
    await register_vector(conn)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset on release (see `create_pool`)."""


async def create_pool(url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A connection pool whose connections know the vector type (plans: `custom_plans`)."""
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        # On release, only an open transaction is rolled back (asyncpg does that before calling `reset`), not
        # asyncpg's default reset statement (advisory unlocks, CLOSE ALL, UNLISTEN *, RESET ALL): one more
        # round trip per request, even for a request that sent none (a cache hit answered from memory). Koble
        # keeps no session state on pooled connections: settings are SET LOCAL / set_config(..., true).
        reset=_keep_session,
        # PostgreSQL's default plan cache: a statement run often keeps a generic plan. Planning every statement
        # afresh (force_custom_plan for the whole pool) was half of PostgreSQL's time in the mixed load
        # (bench/README.md, "Generic plans for the everyday statements"); the vector scans ask for custom
        # plans themselves (`custom_plans`).
        server_settings={"application_name": "koble"},
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def custom_plans(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Statements inside are planned with their parameters' values (in a transaction, the caller's if any).

    Generic plans flip between index and sequential scans with table size, and cannot prove a partial
    index's predicate (`model = $n`): the vector scans need custom plans (bench/README.md).
    """
    transaction: AbstractAsyncContextManager[object] = (
        nullcontext() if conn.is_in_transaction() else conn.transaction())
    async with transaction:
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


def _yoyo_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else url


def migrate(url: str) -> list[str]:
    """Apply pending migrations under a database lock; returns the ids applied."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(_yoyo_url(url))
    try:
        with backend.lock():
            pending = backend.to_apply(read_migrations(str(MIGRATIONS)))
            backend.apply_migrations(pending)
        return [migration.id for migration in pending]
    finally:
        backend.connection.close()


async def pending_migrations(conn: asyncpg.Connection) -> list[str]:
    """Migration files (service/migrations) the database has not applied yet, by id; all when none ran."""
    known = sorted(path.stem for path in MIGRATIONS.glob("*.sql") if not path.stem.endswith(".rollback"))
    if await conn.fetchval("SELECT to_regclass('_yoyo_migration')") is None:
        return known
    applied = {row["migration_id"] for row in await conn.fetch("SELECT migration_id FROM _yoyo_migration")}
    return [migration for migration in known if migration not in applied]


def contains_pattern(text: str) -> str:
    """An (I)LIKE pattern matching texts that contain `text`, its wildcards `%` and `_` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
