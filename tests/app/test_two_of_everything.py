"""Two `koble serve` and two `koble worker` processes on one database, one Redis and one SMTP server.

Sessions, rate limits and suggestions agree across the servers; every email goes out once; every cron
job runs once per scheduled time. The workers run the real `koble worker` with the cron schedule made
every few seconds (so the hourly and daily jobs come due during the test).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from asyncpg import Connection

from service import worker
from service.kit.config import Settings
from tests.conftest import API_TOKEN, Mailbox, free_port, link_in, stop
from tests.factories import MakeParticipant

ROOT = Path(__file__).resolve().parents[2]
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
EVERY = 3  # seconds between the patched cron runs
# `koble worker` with every cron job due every EVERY seconds instead of hourly, daily or each minute, and
# printing the id of each run (arq's id of a cron run is its name and scheduled time).
FAST_CRON = (
    "from service import worker\n"
    "def printing(job):\n"
    "    async def run(ctx):\n"
    "        print('cron-run', ctx['job_id'], flush=True)\n"
    "        return await job(ctx)\n"
    "    return run\n"
    "scheduled = worker.cron_jobs\n"
    "def fast(settings):\n"
    "    jobs = scheduled(settings)\n"
    "    for job in jobs:\n"
    "        job.month = job.day = job.weekday = job.hour = job.minute = job.next_run = None\n"
    f"        job.second = set(range(0, 60, {EVERY}))\n"
    "        job.coroutine = printing(job.coroutine)\n"
    "    return jobs\n"
    "worker.cron_jobs = fast\n"
    "import sys; sys.argv[0] = 'koble'\n"
    "from service.cli import main; main()\n"
)
CRON_RUN = re.compile(r"^cron-run (cron:\w+:\d+)$", re.MULTILINE)


def environment(settings: Settings, tmp_path: Path, base: str = "") -> dict[str, str]:
    """What every process shares: the database, Redis, SMTP, the signing key, the rate limit."""
    return {
        **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "", "SMTP_URL": settings.smtp_url or "",
        "KOBLE_SECRET_KEY": "two-of-everything", "KOBLE_API_TOKEN": API_TOKEN, "KOBLE_RUN_WORKER": "false",
        "KOBLE_DATA_DIR": str(tmp_path / "data"), "KOBLE_LOG_FORMAT": "json", "KOBLE_RATE_LIMIT_REGISTER": "4/hour",
        "KOBLE_BASE_URL": base,
    }


@contextlib.contextmanager
def processes(settings: Settings, tmp_path: Path) -> Iterator[tuple[list[str], list[Path]]]:
    """Start two servers and two workers at once; yield the servers' URLs and the workers' logs; stop all."""
    started: list[subprocess.Popen[bytes]] = []
    bases, worker_logs = [], []
    try:
        for n in (1, 2):
            port = free_port()
            bases.append(f"http://127.0.0.1:{port}")
            command = [sys.executable, "-m", "service", "serve", "--port", str(port)]
            started.append(spawn(command, environment(settings, tmp_path, bases[-1]), tmp_path / f"serve{n}.log"))
            worker_logs.append(tmp_path / f"worker{n}.log")
            command = [sys.executable, "-c", FAST_CRON, "worker"]
            # The workers write the sign-in links now (issue 15, finding 8): they need the public address too.
            started.append(spawn(command, environment(settings, tmp_path, bases[0]), worker_logs[-1]))
        for base in bases:
            wait_ready(base, started)
        yield bases, worker_logs
    finally:
        for process in started:
            stop(process)


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A process writing stdout and stderr to `log`."""
    with log.open("w") as handle:
        return subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)


def wait_ready(base: str, started: list[subprocess.Popen[bytes]], seconds: float = 45) -> None:
    """Wait until the server's /readyz says ready (failing at once if a process died)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert all(process.poll() is None for process in started), "a koble process exited"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{base} not ready within {seconds} s")


async def wait_for_mail(mailbox: Mailbox, address: str, seconds: float = 20) -> str:
    """The path of the Koble link in the first email to `address`."""
    deadline = time.monotonic() + seconds
    while not mailbox.to(address):
        assert time.monotonic() < deadline, f"no email to {address}"
        await asyncio.sleep(0.1)
    return "/" + link_in(mailbox.to(address)[0]).split("/", 3)[3]


async def form(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    """Post a form from its page, with the CSRF field (as a browser does)."""
    await client.get(path)
    return await client.post(path, data={**data, "csrftoken": client.cookies.get("csrftoken") or ""})


async def test_two_servers_and_two_workers_agree(
    settings: Settings, conn: Connection, mailbox: Mailbox, make_participant: MakeParticipant, tmp_path: Path,
) -> None:
    student = await make_participant("student", email="two@example.no", domains=["cyber_ict"])
    company = await make_participant("company", domains=["cyber_ict"])
    with processes(settings, tmp_path) as (bases, worker_logs):
        a = httpx.AsyncClient(base_url=bases[0], timeout=20)
        b = httpx.AsyncClient(base_url=bases[1], timeout=20)
        async with a, b:
            await sessions_agree(a, b, mailbox)
            await rate_limits_agree(a, b)
            await suggestions_agree(a, b, student["external_id"], company["external_id"])
            await emails_go_out_once(conn, mailbox)
            await asyncio.sleep(2 * EVERY)  # the cron jobs come due at least twice
    cron_jobs_ran_once(worker_logs)
    logs_are_json(tmp_path / "serve1.log")


async def sessions_agree(a: httpx.AsyncClient, b: httpx.AsyncClient, mailbox: Mailbox) -> None:
    """Signed in through one server, the cookie works on the other, and signing out there ends it here."""
    await form(a, "/signin", {"email": "two@example.no"})
    link = await wait_for_mail(mailbox, "two@example.no")
    assert (await form(a, link, {})).status_code == 303
    session = a.cookies.get("koble_session") or ""
    b.cookies.set("koble_session", session)
    assert (await b.get("/me")).status_code == 200
    assert (await form(b, "/signout", {})).status_code == 303
    a.cookies.set("koble_session", session)  # a copy kept from before the sign-out
    ended = await a.get("/me")
    assert ended.status_code == 303 and ended.headers["location"].startswith("/signin"), ended.headers


async def rate_limits_agree(a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    """Four registrations per client an hour, counted over both servers (one Redis)."""
    answers = []
    for n in range(5):
        body = {"kind": "student", "name": f"Rate {n}", "email": f"rate{n}@example.no", "domains": ["cyber_ict"],
                "seeks": ["Sommerjobb"], "offers": ["Python"], "consent": True}
        answers.append((await (a if n % 2 else b).post("/api/v1/participants", json=body)).status_code)
    assert answers == [202, 202, 202, 202, 429]


async def suggestions_agree(a: httpx.AsyncClient, b: httpx.AsyncClient, student: str, company: str) -> None:
    """A profile change through one server is seen in the other's (cached) suggestions within a second."""
    path = f"/api/v1/participants/{student}/suggestions"
    for server in (a, b, b):  # b's second answer comes from its cache
        found = await server.get(path, headers=BEARER)
        assert [s["external_id"] for s in found.json()["suggestions"]] == [company], found.text
    profile = (await a.get(f"/api/v1/participants/{company}", headers=BEARER)).json()
    changed = {**fields(profile), "domains": ["bioeconomy"]}  # no shared domain: no longer a candidate
    assert (await a.put(f"/api/v1/participants/{company}", json=changed, headers=BEARER)).status_code == 200
    # b learns of the change by notification (service.matching.listener): within a second, not at once.
    deadline = time.monotonic() + 1
    while (await b.get(path, headers=BEARER)).json()["suggestions"] != []:
        assert time.monotonic() < deadline, "server b still suggests the changed company after 1 s"
        await asyncio.sleep(0.02)


WRITABLE = ("kind", "name", "email", "organisation", "language", "domains", "engagements", "available_from",
            "available_until", "capacity", "location", "offers", "seeks")


def fields(profile: dict[str, Any]) -> dict[str, Any]:
    """The writable fields of a profile as the API returned it."""
    return {key: profile[key] for key in WRITABLE}


async def emails_go_out_once(conn: Connection, mailbox: Mailbox, seconds: float = 30) -> None:
    """Every outbox row is sent, and the SMTP server saw each Message-ID exactly once."""
    deadline = time.monotonic() + seconds
    # Five rows (a sign-in link and four registrations' links): the registrations are worker jobs, so
    # their rows may not exist yet when the sign-in's has gone (a clean-clone CI run counted 1).
    while await conn.fetchval("SELECT count(*) < 5 OR bool_or(status <> 'sent') FROM outbox"):
        assert time.monotonic() < deadline, await conn.fetch("SELECT id, status FROM outbox")
        await asyncio.sleep(0.2)
    expected = await conn.fetchval("SELECT count(*) FROM outbox")
    await asyncio.sleep(1)  # a duplicate would come right after
    seen = Counter(message["Message-ID"] for message in mailbox.messages)
    assert expected == 5 and len(seen) == expected and set(seen.values()) == {1}, seen


def cron_jobs_ran_once(worker_logs: list[Path]) -> None:
    """Each cron job ran for each scheduled time, by one worker only; the hourly and daily ones included."""
    runs = Counter(run for log in worker_logs for run in CRON_RUN.findall(log.read_text()))
    assert runs and set(runs.values()) == {1}, runs
    names = {run.rsplit(":", 1)[0] for run in runs}
    assert names == {job.name for job in worker.cron_jobs(Settings())}, names


def logs_are_json(log: Path) -> None:
    """The server's log lines are JSON objects, its access lines with a request id."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "koble.access"]
    assert access and all(re.fullmatch(r"[0-9a-f]{32}", line["request_id"]) for line in access)
