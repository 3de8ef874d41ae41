"""Fault drills at the scale of issue 15: hundreds of emails per drill, counted by Message-ID at the SMTP server.

    .venv/bin/python bench/fault_drills.py [--scale 1.0] [--lease 15] [--only NAME,...]

In a fresh embedded PostgreSQL (pgserver in a temporary folder), a Redis server process on its own port
(no persistence: stopping it loses the queue) and an aiosmtpd server in this process (tests/mail/drills.py),
with separate `koble worker` processes (or the worker inside `koble serve`), all removed at the end:

| drill | what fails |
|---|---|
| baseline | nothing; one worker |
| killed | a worker SIGKILLed 5 times under load, a new one started each time |
| two-workers | nothing; two workers, every email queued twice |
| redis-stopped | Redis stopped 20 s under load; registrations posted meanwhile |
| redis-blip-serve | Redis stopped 5 s, the worker inside `koble serve`; emails before and after |
| smtp-451 | the SMTP server answers 451 for 60 s (the default retry schedule: 5 s doubling) |
| smtp-killed | the SMTP server stopped mid-transaction for 5 s |

Prints the table (emails expected, delivered once, duplicated, lost, seconds to settle after the fault),
the duplicate window (server's 250 → the outbox's `sent`) and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pgserver
from arq import create_pool as create_arq_pool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import koble_serve, load_avg  # noqa: E402
from service.kit import database  # noqa: E402
from service.kit.jobs import redis_settings  # noqa: E402
from service.mail import tasks as mail_tasks  # noqa: E402
from tests.mail.drills import (  # noqa: E402
    CountingMailbox,
    RedisServer,
    SmtpServer,
    Tally,
    drill_env,
    kill,
    koble_worker,
    message_ids,
    settle,
    until,
    write_emails,
)

SETTLE_TIMEOUT = 600.0


@dataclass
class Drill:
    """What one drill needs: the database, the servers, the environment of Koble processes, a log folder."""

    db_url: str
    redis: RedisServer
    smtp: SmtpServer
    env: dict[str, str]
    logs: Path
    scale: float

    def n(self, emails: int) -> int:
        """A drill's email count at this scale."""
        return max(10, int(emails * self.scale))


async def reset(drill: Drill) -> asyncpg.Connection:
    """Empty the outbox and participants, and the mailbox; a connection for the drill."""
    conn = await asyncpg.connect(drill.db_url)
    await conn.execute("TRUNCATE outbox, participants RESTART IDENTITY CASCADE")
    drill.smtp.mailbox.arrivals.clear()
    drill.smtp.mailbox.delay = 0.0
    drill.smtp.mailbox.refuse_until = 0.0
    return conn


async def enqueue(drill: Drill, ids: list[int]) -> int:
    """Hand emails to the queue as the app does (a Redis that is down: the sweep finds them)."""
    redis = await create_arq_pool(redis_settings(drill.redis.url))
    try:
        return await mail_tasks.enqueue(redis, ids)
    finally:
        await redis.aclose()


async def baseline(drill: Drill, conn: asyncpg.Connection) -> Tally:
    """One worker, nothing fails."""
    ids = await write_emails(conn, drill.n(310), "baseline")
    with koble_worker(drill.env, drill.logs / "baseline.log"):
        await asyncio.sleep(4)  # start-up
        started = time.monotonic()
        await enqueue(drill, ids)
        return await settle(conn, drill.smtp.mailbox, message_ids(ids), started, SETTLE_TIMEOUT)


async def killed(drill: Drill, conn: asyncpg.Connection) -> Tally:
    """A worker SIGKILLed five times under load (the SMTP server takes 20 ms per message)."""
    drill.smtp.mailbox.delay = 0.02
    ids = await write_emails(conn, drill.n(540), "killed")
    await enqueue(drill, ids)
    step = len(ids) // 7
    for round_ in range(5):
        with koble_worker(drill.env, drill.logs / f"killed-{round_}.log") as worker:
            target = (round_ + 1) * step
            await until(lambda target=target: drill.smtp.mailbox.delivered() >= target, "deliveries", SETTLE_TIMEOUT)
            kill(worker)
    last_kill = time.monotonic()
    with koble_worker(drill.env, drill.logs / "killed-last.log"):
        return await settle(conn, drill.smtp.mailbox, message_ids(ids), last_kill, SETTLE_TIMEOUT)


async def two_workers(drill: Drill, conn: asyncpg.Connection) -> Tally:
    """Two workers, every email queued twice."""
    ids = await write_emails(conn, drill.n(840), "two")
    with koble_worker(drill.env, drill.logs / "two-a.log"), koble_worker(drill.env, drill.logs / "two-b.log"):
        await asyncio.sleep(4)
        started = time.monotonic()
        await enqueue(drill, ids)
        redis = await create_arq_pool(redis_settings(drill.redis.url))
        await mail_tasks.enqueue(redis, ids, again="twice")
        await redis.aclose()
        return await settle(conn, drill.smtp.mailbox, message_ids(ids), started, SETTLE_TIMEOUT)


def registration(i: int) -> dict[str, object]:
    """A self-registration body."""
    return {"kind": "student", "name": f"Drill Student {i}", "email": f"drill{i}@example.no",
            "domains": ["industrial_tech"], "seeks": ["Sommerjobb"], "offers": ["Python"], "consent": True}


async def redis_stopped(drill: Drill, conn: asyncpg.Connection) -> Tally:
    """Redis stopped 20 s under load; 80 registrations posted to `koble serve` meanwhile."""
    drill.smtp.mailbox.delay = 0.02
    ids = await write_emails(conn, drill.n(240), "redis")
    env = {**drill.env, "KOBLE_RUN_WORKER": "false", "SMTP_URL": drill.smtp.url}
    (drill.logs / "redis-serve").mkdir(exist_ok=True)
    with koble_serve(drill.db_url, drill.logs / "redis-serve", env) as (base, _), \
            koble_worker(drill.env, drill.logs / "redis-worker.log"):
        await asyncio.sleep(4)
        await enqueue(drill, ids)
        await until(lambda: drill.smtp.mailbox.delivered() >= len(ids) // 3, "deliveries", SETTLE_TIMEOUT)
        drill.redis.stop()
        answers = await post_registrations(base, 80, time.monotonic() + 20)
        drill.redis.start()
        restarted = time.monotonic()
        ids += [row["id"] for row in await conn.fetch("SELECT id FROM outbox WHERE template <> 'drill'")]
        print(f"  registrations during the outage: {answers}", flush=True)
        return await settle(conn, drill.smtp.mailbox, message_ids(ids), restarted, SETTLE_TIMEOUT)


async def post_registrations(base: str, n: int, until_time: float) -> dict[int, int]:
    """Post n registrations spread until `until_time`; how many got each status code."""
    codes: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for i in range(n):
            response = await client.post("/api/v1/participants", json=registration(i))
            codes[response.status_code] = codes.get(response.status_code, 0) + 1
            await asyncio.sleep(max(0.0, (until_time - time.monotonic()) / (n - i)))
    return codes


async def redis_blip_serve(drill: Drill, conn: asyncpg.Connection) -> Tally:
    """Redis stopped 5 s with the worker inside `koble serve`; emails before and after the blip."""
    env = {**drill.env, "KOBLE_RUN_WORKER": "true", "SMTP_URL": drill.smtp.url}
    (drill.logs / "blip-serve").mkdir(exist_ok=True)
    with koble_serve(drill.db_url, drill.logs / "blip-serve", env):
        before = await write_emails(conn, drill.n(30), "before")
        await enqueue(drill, before)
        drill.redis.stop()
        await asyncio.sleep(5)
        drill.redis.start()
        restarted = time.monotonic()
        after = await write_emails(conn, drill.n(30), "after")
        await enqueue(drill, after)
        return await settle(conn, drill.smtp.mailbox, message_ids(before + after), restarted, SETTLE_TIMEOUT)


async def smtp_451(drill: Drill, conn: asyncpg.Connection) -> Tally:
    """The SMTP server refuses everything for 60 s; the default retry schedule (5 s, 10 s, 20 s, ...)."""
    env = {**drill.env, "KOBLE_EMAIL_RETRY_SECONDS": "5", "KOBLE_EMAIL_RETRY_MAX_SECONDS": "600"}
    ids = await write_emails(conn, drill.n(450), "smtp451")
    with koble_worker(env, drill.logs / "smtp451.log"):
        await asyncio.sleep(4)
        drill.smtp.mailbox.refuse_until = time.monotonic() + 60
        started = time.monotonic()
        await enqueue(drill, ids)
        result = await settle(conn, drill.smtp.mailbox, message_ids(ids), started, SETTLE_TIMEOUT)
    failed = await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'failed'")
    print(f"  failed after the 451 outage: {failed}", flush=True)
    return result


async def smtp_killed(drill: Drill, conn: asyncpg.Connection) -> Tally:
    """The SMTP server stopped mid-transaction (20 ms per message), started again 5 s later."""
    drill.smtp.mailbox.delay = 0.02
    ids = await write_emails(conn, drill.n(540), "smtpkill")
    with koble_worker(drill.env, drill.logs / "smtpkill.log"):
        await enqueue(drill, ids)
        await until(lambda: drill.smtp.mailbox.delivered() >= len(ids) // 3, "deliveries", SETTLE_TIMEOUT)
        drill.smtp.stop()
        await asyncio.sleep(5)
        drill.smtp.start()
        restarted = time.monotonic()
        return await settle(conn, drill.smtp.mailbox, message_ids(ids), restarted, SETTLE_TIMEOUT)


DRILLS: dict[str, Callable[[Drill, asyncpg.Connection], Awaitable[Tally]]] = {
    "baseline": baseline, "killed": killed, "two-workers": two_workers, "redis-stopped": redis_stopped,
    "redis-blip-serve": redis_blip_serve, "smtp-451": smtp_451, "smtp-killed": smtp_killed,
}


async def duplicate_window(conn: asyncpg.Connection, mailbox: CountingMailbox) -> list[float]:
    """Seconds from the server's 250 to the outbox's `sent` time, per email delivered once."""
    rows = await conn.fetch("SELECT id, extract(epoch FROM sent_at) AS t FROM outbox WHERE status = 'sent'")
    windows = []
    for row in rows:
        arrivals = mailbox.arrivals.get(next(iter(message_ids([row["id"]]))))
        if arrivals and len(arrivals) == 1:  # a resent email's first arrival is not its window
            windows.append(float(row["t"]) - arrivals[0])
    return windows


def pct(values: list[float], p: int) -> float:
    """The p-th percentile."""
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


async def run(drill: Drill, names: list[str]) -> None:
    """Every drill in turn; the table at the end."""
    rows = ["| drill | emails expected | delivered once | duplicated | lost | seconds to settle after the fault |",
            "|---|---|---|---|---|---|"]
    for name in names:
        conn = await reset(drill)
        try:
            result = await DRILLS[name](drill, conn)
            windows = await duplicate_window(conn, drill.smtp.mailbox)
        finally:
            await conn.close()
        rows.append(result.row(name))
        window = (f"p50 {1000 * pct(windows, 50):.1f} ms, p95 {1000 * pct(windows, 95):.1f} ms, "
                  f"max {1000 * max(windows):.1f} ms") if windows else "-"
        print(f"{result.row(name)}  250→sent {window}  (load {load_avg()})", flush=True)
    print("\n".join(["", *rows]))


def main() -> None:
    """Parse the options, start the servers, run the drills, clean up."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="share of the issue's email counts")
    parser.add_argument("--lease", type=float, default=15.0, help="KOBLE_OUTBOX_LEASE_SECONDS of the workers")
    parser.add_argument("--only", type=lambda s: s.split(","), default=list(DRILLS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="koble-bench-faults-") as folder:
        tmp = Path(folder)
        os.chmod(tmp, 0o755)  # pgserver runs PostgreSQL as its own user when started by root
        server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")
        smtp = SmtpServer(CountingMailbox())
        redis = RedisServer(tmp)
        try:
            db_url = str(server.get_uri())
            database.migrate(db_url)
            smtp.start()
            redis.start()
            env = drill_env(db_url, redis.url, smtp.url, tmp / "data", args.lease)
            (tmp / "logs").mkdir()
            asyncio.run(run(Drill(db_url, redis, smtp, env, tmp / "logs", args.scale), args.only))
        finally:
            with contextlib.suppress(Exception):
                smtp.stop()
            redis.stop()
            server.cleanup()


if __name__ == "__main__":
    main()
