"""Do known and unknown email addresses take as long? Registration, sign-in and staff sign-in (issue 15,
finding 8: registration took 7.6 ms for a known address and 16.6 ms for a new one, sign-in the reverse).

    .venv/bin/python bench/known_unknown.py [--repeat 200]

In a fresh embedded PostgreSQL and Redis (a temporary data folder, removed at the end), the app in
process (httpx's ASGI transport: no network, so the differences are the server's own), no worker:
1. the requests as they are now: `POST /api/v1/participants` (JSON), `POST /signin` and
   `POST /staff/signin` (forms), alternating a known and an unknown address, `--repeat` times each;
2. the work the worker now does for each (`profiles.register`, `profiles.request_sign_in`,
   `auth.request_staff_sign_in` on one connection): what the requests used to do themselves.
Median, p95 and the gap between known and unknown are printed next to the 1-minute load average
(the machine has 2 cores and may be shared). Rate limits are lifted for the run.

Measured 2026-12-07, 200 pairs each, 2 cores shared with other test runs (load 10.3-11.7, so the
absolute figures are inflated; compare the gaps), p50 known / unknown:
- now, the requests: registration (API) 23.25 / 23.98 ms (gap +0.74), sign-in 24.54 / 22.75 ms
  (-1.78), staff sign-in 11.83 / 11.78 ms (-0.05): within the noise of one another;
- the same work done in the request, as before (now the worker's): registration 8.29 / 32.75 ms
  (+24.46: a new profile is inserted and embedded), sign-in 5.04 / 0.33 ms (-4.71: a link and an
  email for a known address only), staff sign-in 3.92 / 0.40 ms (-3.52).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from pgvector.asyncpg import register_vector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import load_avg  # noqa: E402
from service.app import create_app  # noqa: E402
from service.auth import repository as auth_repository  # noqa: E402
from service.auth import service as auth  # noqa: E402
from service.kit import embedded  # noqa: E402
from service.kit.config import Settings  # noqa: E402
from service.profiles import service as profiles  # noqa: E402
from service.profiles.schemas import ParticipantCreate, ParticipantFields  # noqa: E402

KNOWN = "known@example.no"
STAFF = "staff@brighthouse.example"
PROFILE: dict[str, Any] = {"kind": "student", "name": "Åse Bench", "domains": ["cyber_ict"],
                           "offers": ["Python og nettverk"], "seeks": ["Sommerjobb i IT-drift"]}
NO_LIMIT = "1000000/hour"


def summary(label: str, known: list[float], unknown: list[float]) -> str:
    """One line: median and p95 (ms) of known and unknown, and the gap of the medians."""
    def stats(values: list[float]) -> tuple[float, float]:
        ordered = sorted(values)
        return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000

    (k50, k95), (u50, u95) = stats(known), stats(unknown)
    return (f"{label:<34} known p50 {k50:6.2f} p95 {k95:6.2f} | unknown p50 {u50:6.2f} p95 {u95:6.2f} | "
            f"gap {u50 - k50:+6.2f} ms | load {load_avg()}")


async def timed(call: Callable[[int], Awaitable[Any]], n: int) -> float:
    """Seconds one call took."""
    start = time.perf_counter()
    await call(n)
    return time.perf_counter() - start


async def pairs(repeat: int, known: Callable[[int], Awaitable[Any]],
                unknown: Callable[[int], Awaitable[Any]]) -> tuple[list[float], list[float]]:
    """Alternate known and unknown calls (so a drifting load hits both alike); warm-up calls not counted."""
    for n in range(5):
        await known(-n - 1)
        await unknown(-n - 1)
    times: tuple[list[float], list[float]] = ([], [])
    for n in range(repeat):
        times[0].append(await timed(known, n))
        times[1].append(await timed(unknown, n))
    return times


async def requests(http: httpx.AsyncClient, repeat: int) -> None:
    """The three requests as the web answers them now."""
    await http.get("/signin")
    csrf = {"csrftoken": http.cookies["csrftoken"]}

    async def register(address: str) -> None:
        answer = await http.post("/api/v1/participants", json={**PROFILE, "email": address, "consent": True})
        assert answer.status_code == 202, answer.text

    async def form(path: str, address: str) -> None:
        answer = await http.post(path, data={**csrf, "email": address})
        assert answer.status_code == 200, answer.text

    print(summary("POST /api/v1/participants (now)", *await pairs(
        repeat, lambda n: register(KNOWN), lambda n: register(f"new{n}@example.no"))))
    print(summary("POST /signin (now)", *await pairs(
        repeat, lambda n: form("/signin", KNOWN), lambda n: form("/signin", f"nobody{n}@example.no"))))
    print(summary("POST /staff/signin (now)", *await pairs(
        repeat, lambda n: form("/staff/signin", STAFF), lambda n: form("/staff/signin", f"nobody{n}@example.no"))))


async def worker_side(conn: asyncpg.Connection, settings: Settings, repeat: int) -> None:
    """The work each request used to do itself, now the worker's."""
    def fields(address: str) -> ParticipantFields:
        return ParticipantCreate.model_validate({**PROFILE, "email": address, "consent": True})

    print(summary("profiles.register (worker)", *await pairs(
        repeat, lambda n: profiles.register(conn, None, settings, fields(KNOWN)),
        lambda n: profiles.register(conn, None, settings, fields(f"w{n}@example.no")))))
    print(summary("profiles.request_sign_in (worker)", *await pairs(
        repeat, lambda n: profiles.request_sign_in(conn, None, settings, KNOWN),
        lambda n: profiles.request_sign_in(conn, None, settings, f"nobody{n}@example.no"))))
    print(summary("auth.request_staff_sign_in (worker)", *await pairs(
        repeat, lambda n: auth.request_staff_sign_in(conn, None, settings, STAFF),
        lambda n: auth.request_staff_sign_in(conn, None, settings, f"nobody{n}@example.no"))))


async def main(repeat: int) -> None:
    """Set up, measure both sides, tear down."""
    with tempfile.TemporaryDirectory(prefix="koble-bench-") as folder:
        settings = Settings(koble_data_dir=Path(folder), koble_secret_key="bench", run_worker=False, smtp_url=None,
                            rate_limit_register=NO_LIMIT, rate_limit_signin=NO_LIMIT, rate_limit_address=NO_LIMIT)
        app = create_app(settings)
        async with LifespanManager(app, startup_timeout=180, shutdown_timeout=60) as manager:
            conn = await asyncpg.connect(embedded.postgres_url(settings))
            await register_vector(conn)  # profiles.register embeds the new profile, as the app's pool does
            try:
                await profiles.create_verified(conn, ParticipantFields.model_validate({**PROFILE, "email": KNOWN}),
                                               None, "api")
                await auth_repository.upsert_staff(conn, STAFF, "reviewer", "Bench")
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                    await requests(http, repeat)
                await worker_side(conn, settings, repeat)
            finally:
                await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    asyncio.run(main(parser.parse_args().repeat))
