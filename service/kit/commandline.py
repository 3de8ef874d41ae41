"""What the one-shot `koble` commands share: logging, one-line failures and opening the database."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

import asyncpg

from service.kit import database, embedded, logs
from service.kit.config import Settings, get_settings


def setup_logging() -> None:
    """Log at KOBLE_LOG_LEVEL to stderr as KOBLE_LOG_FORMAT says, with the embedded servers' chatter kept quiet."""
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    embedded.quiet_logs(settings)


def needs_eval_extra(command: str) -> int:
    """Say that `koble COMMAND` needs the analysts' tools (the `eval` extra); returns exit code 1."""
    print(f"koble {command} needs the analysts' tools: pip install 'koble[eval]'", file=sys.stderr)
    return 1


def fail(message: str) -> int:
    """Print `koble: message` to stderr; returns exit code 1 (docs/contracts.md §2: a one-line reason)."""
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


class DatabaseUnavailable(Exception):
    """The database could not be started, migrated or reached (the message is the one-line reason)."""


@contextlib.asynccontextmanager
async def command_database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """`open_database` for a one-shot command: on exit the pool closes and the embedded servers stop.

    Raises DatabaseUnavailable (after stopping what did start) when it cannot be opened.
    """
    try:
        pool = await open_database(settings)
    except Exception as exc:  # any failure to start, migrate or reach the database is one line
        await asyncio.to_thread(embedded.stop_all)
        raise DatabaseUnavailable(f"cannot open the database: {first_line(exc)}") from exc
    try:
        yield pool
    finally:
        await pool.close()
        await asyncio.to_thread(embedded.stop_all)
