"""An event day of 500 attendees: agenda pages' server time, and publishing 500 agendas through the outbox.

    .venv/bin/python bench/events.py [--attendees 500] [--meetings 6] [--slots 12] [--tables 60]

In a fresh embedded PostgreSQL (pgserver in a temporary folder, migrated), a Redis server on a free
port and an aiosmtpd server in this process; all removed at the end:

1. `--attendees` verified participants sign up for one event (sessions giving `--slots` slots, `--tables`
   tables); each asks `--meetings`/2 others for an accepted meeting; the scheduler places them.
2. **Agenda pages**: every attendee's `GET /me/events/{id}/agenda` through the whole app in-process
   (middlewares, session lookup, queries, the QR code, the template), timed per request: p50, p95, max
   (issue 14's target: 50 ms). No network: this is the server's time.
3. **Publishing**: `events.service.publish` writes one agenda email per attendee to the outbox (timed),
   then a burst worker delivers them to the SMTP server: every attendee gets exactly one email (distinct
   Message-IDs counted), and publishing again writes none.

Every figure is printed next to the 1-minute load average: the machine has 2 cores and may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from base64 import b64encode
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import itsdangerous
import pgserver
from aiosmtpd.controller import Controller
from asgi_lifespan import LifespanManager

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, load_avg  # noqa: E402
from bench.email_delivery import redis_server  # noqa: E402
from service.app import create_app  # noqa: E402
from service.auth import service as auth  # noqa: E402
from service.events import repository as event_repository  # noqa: E402
from service.events import service as events  # noqa: E402
from service.events.schemas import parse_event  # noqa: E402
from service.kit import database  # noqa: E402
from service.kit.config import Settings  # noqa: E402
from service.profiles import service as profiles  # noqa: E402
from service.profiles.schemas import ParticipantFields  # noqa: E402
from service.worker import create_worker  # noqa: E402


class Counter:
    """aiosmtpd handler: Message-IDs and recipients of every message received."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.to: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the Message-ID and the recipient."""
        head = envelope.content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        fields = dict(line.split(":", 1) for line in head.splitlines() if ":" in line and not line.startswith(" "))
        self.ids.append(fields.get("Message-ID", "").strip())
        self.to.extend(envelope.rcpt_tos)
        return "250 OK"


async def arrange(conn: asyncpg.Connection, args: argparse.Namespace) -> tuple[int, list[int]]:
    """The event, its attendees and their accepted meetings, scheduled; (event id, participant ids)."""
    hours = args.slots * 15 // 60 + 1
    data, form = parse_event({"name": "Bench day", "place": "Bright House",
                              "sessions": f"2030-03-05 08:00-{8 + hours:02d}:00", "meeting_minutes": "15",
                              "break_minutes": "0", "request_mode": "accept", "max_meetings": str(args.meetings),
                              "solver_seconds": "10", "table_count": str(args.tables), "table_names": ""})
    assert data is not None, form.errors
    event = await events.create_event(conn, data)
    ids = []
    for i in range(args.attendees):
        fields = ParticipantFields.model_validate({
            "kind": ("student", "company", "researcher", "public_body")[i % 4], "name": f"Attendee {i}",
            "email": f"attendee-{i}@bench.example", "domains": ["cyber_ict"], "language": ("nb", "en")[i % 2],
            "offers": ["Security"], "seeks": ["Projects"]})
        row = await profiles.create_verified(conn, fields, None, "import")
        await event_repository.sign_up(conn, event["id"], row["id"])
        ids.append(row["id"])
    await _requests(conn, event["id"], ids, args.meetings // 2)
    result = await events.schedule(conn, event["id"])
    print(f"scheduled {len(result.assignments)} of {len(result.assignments) + len(result.unscheduled)} meetings "
          f"(objective {result.objective:.1f}, bound {result.upper_bound:.1f}, {result.seconds:.2f} s)")
    return int(event["id"]), ids


async def _requests(conn: asyncpg.Connection, event_id: int, ids: list[int], per_person: int) -> None:
    """Each attendee asks `per_person` random others (accepted at once; the ranker's score is not the point)."""
    rng = random.Random(7)
    for me in ids:
        for other in rng.sample(ids, per_person + 1):
            if other != me:
                await event_repository.insert_request(conn, event_id, me, other, "", "accepted", rng.random())


def cookie(settings: Settings, token: str) -> str:
    """The signed session cookie the app would set for a session token."""
    data = b64encode(json.dumps({auth.SESSION_KEY: token}).encode())
    return itsdangerous.TimestampSigner(settings.secret_key()).sign(data).decode()


async def agenda_pages(app: Any, conn: asyncpg.Connection, settings: Settings, event_id: int,
                       ids: list[int]) -> list[float]:
    """Milliseconds of every attendee's agenda page, through the app in-process."""
    cookies = [cookie(settings, await auth.start_session(conn, settings, "participant", pid)) for pid in ids]
    timings = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await client.get(f"/me/events/{event_id}/agenda", cookies={"koble_session": cookies[0]})  # warm-up
        cpu = time.process_time()
        for value in cookies:
            started = time.perf_counter()
            response = await client.get(f"/me/events/{event_id}/agenda", cookies={"koble_session": value})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        # The app's own CPU per page (this process; PostgreSQL's share is not in it), which the load
        # of a shared machine does not inflate the way it inflates wall time.
        print(f"agenda pages: {(time.process_time() - cpu) * 1000 / len(cookies):.1f} ms of the app's CPU each")
    return timings


async def staff_pages(app: Any, conn: asyncpg.Connection, settings: Settings, event_id: int) -> None:
    """Median milliseconds of staff's event page (every meeting with its move form) and the table sheets."""
    staff = await conn.fetchval("INSERT INTO staff (email, role) VALUES ('bench@brighthouse.example', 'admin')"
                                " RETURNING id")
    value = cookie(settings, await auth.start_session(conn, settings, "staff", staff))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for path in (f"/staff/events/{event_id}", f"/staff/events/{event_id}/tables",
                     f"/staff/events/{event_id}/checkin"):
            times, size = [], 0
            for _ in range(5):
                started = time.perf_counter()
                response = await client.get(path, cookies={"koble_session": value})
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.status_code
                size = len(response.content)
            print(f"{path}: median {statistics.median(times):.0f} ms, {size / 1024:.0f} KiB (load {load_avg()})")


async def publishing(conn: asyncpg.Connection, settings: Settings, event_id: int, attendees: int,
                     counter: Counter) -> None:
    """Publish, deliver with a burst worker, and check one email per attendee; then publish again."""
    started = time.perf_counter()
    written = await events.publish(conn, None, settings, event_id)
    took = time.perf_counter() - started
    print(f"publish: {written} agenda emails written to the outbox in {took:.2f} s (load {load_avg()})")
    queued = await conn.fetchval("SELECT count(*) FROM outbox WHERE template = 'event_agenda'")
    from service.mail import tasks as mail_tasks

    ids = [r["id"] for r in await conn.fetch("SELECT id FROM outbox WHERE status = 'pending' ORDER BY id")]
    worker = create_worker(settings, settings.redis_url or "", burst=True)
    from arq import create_pool

    from service.kit.jobs import redis_settings

    redis = await create_pool(redis_settings(settings.redis_url or ""))
    await mail_tasks.enqueue(redis, ids)
    started = time.perf_counter()
    await worker.async_run()
    await worker.close()
    await redis.aclose()
    print(f"delivery: {len(counter.ids)} emails in {time.perf_counter() - started:.2f} s "
          f"(load {load_avg()}); outbox rows {queued}, distinct Message-IDs {len(set(counter.ids))}, "
          f"distinct recipients {len(set(counter.to))} of {attendees} attendees")
    again = await events.publish(conn, None, settings, event_id)
    print(f"publish again with nothing changed: {again} emails")


async def run(args: argparse.Namespace) -> None:
    """Arrange, measure, print."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        server = pgserver.get_server(work / "pg", cleanup_mode="stop")
        counter = Counter()
        smtp_port = free_port()
        controller = Controller(counter, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        try:
            url = str(server.get_uri())
            database.migrate(url)
            with redis_server(work) as redis_url:
                settings = Settings(database_url=url, redis_url=redis_url, smtp_url=f"smtp://127.0.0.1:{smtp_port}",
                                    koble_data_dir=work / "data", koble_secret_key="bench", run_worker=False)
                await measure(args, settings, url, counter)
        finally:
            controller.stop()
            server.cleanup()


async def measure(args: argparse.Namespace, settings: Settings, url: str, counter: Counter) -> None:
    """The agenda pages, then publishing."""
    conn = await asyncpg.connect(url)
    try:
        event_id, ids = await arrange(conn, args)
        app = create_app(settings)
        async with LifespanManager(app):
            timings = await agenda_pages(app, conn, settings, event_id, ids)
            await staff_pages(app, conn, settings, event_id)
        timings.sort()
        print(f"agenda pages ({len(timings)}): p50 {statistics.median(timings):.1f} ms, "
              f"p95 {timings[int(0.95 * len(timings)) - 1]:.1f} ms, max {timings[-1]:.1f} ms (load {load_avg()})")
        await publishing(conn, settings, event_id, len(ids), counter)
    finally:
        await conn.close()


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attendees", type=int, default=500)
    parser.add_argument("--meetings", type=int, default=6, help="most meetings per attendee")
    parser.add_argument("--slots", type=int, default=12)
    parser.add_argument("--tables", type=int, default=60)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
