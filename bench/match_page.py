"""The match page (issue 12, wall 5): its server time with a long conversation, and the batched
"new messages" sweep over many recipients.

    .venv/bin/python bench/match_page.py [--messages 200] [--pairs 300]

In a fresh embedded PostgreSQL (pgserver in a temporary folder, migrated) and a Redis server on a free
port, both removed at the end:

1. **The page**: one match with `--messages` messages and three meeting proposals; `GET /me/matches/{id}`
   through the whole app in-process (middlewares, session, queries, the explanation, the template), 50
   times: p50, p95, max and the page's size. No network: this is the server's time.
2. **The sweep**: `--pairs` matches, each with three untold messages to one party; one
   `conversation.notify_waiting` after the quiet interval writes one email per recipient (timed), and a
   second sweep writes none.

Every figure is printed next to the 1-minute load average: the machine has 2 cores and may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import pgserver
from asgi_lifespan import LifespanManager

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import load_avg  # noqa: E402
from bench.email_delivery import redis_server  # noqa: E402
from bench.events import cookie  # noqa: E402
from service.app import create_app  # noqa: E402
from service.auth import service as auth  # noqa: E402
from service.kit import database  # noqa: E402
from service.kit.audit import Actor  # noqa: E402
from service.kit.config import Settings  # noqa: E402
from service.matches import conversation  # noqa: E402
from service.matches import service as matches  # noqa: E402
from service.profiles import service as profiles  # noqa: E402
from service.profiles.schemas import ParticipantFields  # noqa: E402


async def person(conn: asyncpg.Connection, i: int, kind: str) -> int:
    """A verified participant (no vectors: the page's explanation then reads domains only)."""
    fields = ParticipantFields.model_validate({
        "kind": kind, "name": f"{kind.title()} {i}", "email": f"{kind}-{i}@bench.example",
        "domains": ["cyber_ict"], "offers": ["Security audits"], "seeks": ["Student projects"]})
    return int((await profiles.create_verified(conn, fields, None, "import"))["id"])


async def pair(conn: asyncpg.Connection, settings: Settings, i: int) -> tuple[int, int, int]:
    """A student and a company with a mutual match: (student, company, match id)."""
    a, b = await person(conn, i, "student"), await person(conn, i, "company")
    row, _ = await matches.create(conn, settings, (a, b), "mutual", "participants", Actor.system())
    assert row is not None
    return a, b, int(row["id"])


async def page(app: object, conn: asyncpg.Connection, settings: Settings, messages: int) -> None:
    """p50/p95/max of the match page with a long conversation."""
    a, b, match_id = await pair(conn, settings, 0)
    now = dt.datetime.now(dt.UTC)
    for n in range(messages):
        await conversation.send_message(conn, settings, None, match_id, (a, b)[n % 2], f"Melding {n}\n" * 3, now)
    for day in (3, 4, 5):
        at = (now + dt.timedelta(days=day)).strftime("%Y-%m-%dT%H:%M")
        await conversation.propose(conn, settings, match_id, a, [at], "Bright House", now)
    value = cookie(settings, await auth.start_session(conn, settings, "participant", a))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:  # type: ignore[arg-type]
        times, size = [], 0
        for _ in range(51):
            started = time.perf_counter()
            response = await client.get(f"/me/matches/{match_id}", cookies={"koble_session": value})
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
            size = len(response.content)
    times = sorted(times[1:])  # the first warms the templates
    print(f"match page with {messages} messages: p50 {statistics.median(times):.1f} ms, "
          f"p95 {times[int(len(times) * 0.95) - 1]:.1f} ms, max {times[-1]:.1f} ms, {size / 1024:.0f} KiB "
          f"(load {load_avg()})")


async def sweep(conn: asyncpg.Connection, settings: Settings, pairs: int) -> None:
    """One email per recipient with untold messages, once."""
    early = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for i in range(1, pairs + 1):
        a, _, match_id = await pair(conn, settings, i)
        for n in range(3):
            # Written an hour ago with the first told then: the other two wait for the sweep.
            await conversation.send_message(conn, settings, None, match_id, a, f"Hei {n}", early)
    later = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    written = await conversation.notify_waiting(conn, settings, later)
    took = time.perf_counter() - started
    again = await conversation.notify_waiting(conn, settings, later)
    print(f"sweep: {len(written)} batched emails for {pairs} recipients in {took:.2f} s "
          f"({took * 1000 / max(len(written), 1):.1f} ms each); a second sweep wrote {len(again)} (load {load_avg()})")


async def run(args: argparse.Namespace) -> None:
    """Arrange, measure, print."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        server = pgserver.get_server(work / "pg", cleanup_mode="stop")
        try:
            url = str(server.get_uri())
            database.migrate(url)
            with redis_server(work) as redis_url:
                settings = Settings(database_url=url, redis_url=redis_url, koble_data_dir=work / "data",
                                    koble_secret_key="bench", run_worker=False)
                app = create_app(settings)
                async with LifespanManager(app) as manager:
                    conn = await asyncpg.connect(url)
                    try:
                        await page(manager.app, conn, settings, args.messages)
                        await sweep(conn, settings, args.pairs)
                    finally:
                        await conn.close()
        finally:
            server.cleanup()


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=300)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
