"""A scratch database for `koble evaluate`: created on the configured server, always dropped afterwards.

With DATABASE_URL set it is `koble_eval_<random>` on that server; otherwise on the embedded server
of KOBLE_DATA_DIR. The live database is never touched: every statement of the evaluation runs in
the scratch one, and the drop (WITH (FORCE), so lingering connections cannot keep it alive) runs in
a `finally`, on success, on error, on Ctrl-C and on SIGTERM (see `terminate_as_interrupt`).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
from collections.abc import Iterator
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import psycopg

log = logging.getLogger(__name__)
PREFIX = "koble_eval_"


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database (query options such as host= are kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(url: str, statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction: autocommit.
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(statement)


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, drop it whatever happens."""
    name = PREFIX + secrets.token_hex(6)
    # CREATE inside the try: an interrupt right after it (even before Python sees it succeed) still drops.
    try:
        _admin(server_url, f'CREATE DATABASE "{name}"')
        log.info("scratch database %s created", name)
        yield with_database(server_url, name)
    except BaseException:
        _drop(server_url, name, quiet=True)
        raise
    _drop(server_url, name, quiet=False)


def _drop(server_url: str, name: str, quiet: bool) -> None:
    """DROP the scratch database (IF EXISTS: creation may have failed); `quiet` keeps the first error."""
    try:
        with signals_held():
            _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log.info("scratch database %s dropped", name)
    except psycopg.Error as exc:
        if not quiet:
            raise
        log.error("could not drop the scratch database %s (drop it by hand): %s", name, exc)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while inside (a second Ctrl-C must not stop the drop half-way)."""
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while inside, so `finally` blocks (the drop) run on `kill` too."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
