"""What the one-shot `koble` commands share: one-line failures and opening the database."""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from service import database, embedded
from service.config import Settings


def fail(message: str) -> int:
    """Print `koble: message` to stderr; returns exit code 1 (contracts §4: a one-line reason)."""
    print(f"koble: {message}", file=sys.stderr)
    return 1


def first_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


async def open_database(settings: Settings) -> asyncpg.Pool:
    """A one-connection pool on the (embedded unless configured) database, migrated first.

    The database may be brand new: an import or a suggest is often the first command run.
    """
    url = await asyncio.to_thread(embedded.postgres_url, settings)
    await asyncio.to_thread(database.migrate, url)
    return await database.create_pool(url, min_size=1, max_size=1)
