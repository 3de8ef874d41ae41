"""Two `koble serve` processes on one database: each answers cached suggestions from its in-memory read-time
state (service.matching.memory), and a change through one server (an answer) or straight in the database
(hiding a profile, a match that fills a candidate's capacity) reaches the other's answers within a second
(issue 16, item 5), without a new matching version.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
from asyncpg import Connection

from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import service as matches
from tests.app.test_two_of_everything import environment, spawn, wait_ready
from tests.conftest import API_TOKEN, free_port, stop
from tests.factories import MakeParticipant
from tests.support import sign_in_participant

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
WITHIN = 1.0  # seconds: how soon the other server must agree


@contextlib.contextmanager
def _servers(settings: Settings, tmp_path: Path) -> Iterator[list[str]]:
    started, bases = [], []
    try:
        for n in (1, 2):
            bases.append(f"http://127.0.0.1:{free_port()}")
            env = {**environment(settings, tmp_path, bases[-1]), "KOBLE_SECRET_KEY": settings.koble_secret_key or ""}
            command = [sys.executable, "-m", "service", "serve", "--port", bases[-1].rsplit(":", 1)[1]]
            started.append(spawn(command, env, tmp_path / f"serve{n}.log"))
        for base in bases:
            wait_ready(base, started)
        yield bases
    finally:
        for process in started:
            stop(process)


async def _within(seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """Poll `check` until it holds; the seconds it took (AssertionError past the deadline)."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < seconds, f"not seen within {seconds} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_a_change_through_one_server_reaches_the_others_cached_answers_within_a_second(
    settings: Settings, conn: Connection, make_participant: MakeParticipant, tmp_path: Path,
) -> None:
    student = await make_participant("student", domains=["cyber_ict"], capacity=3)
    companies = [await make_participant("company", domains=["cyber_ict"], capacity=1) for _ in range(3)]
    other = await make_participant("student", domains=["cyber_ict"], email="other@example.no")
    names = [c["external_id"] for c in companies]
    version = await conn.fetchval("SELECT version FROM matching_version")
    with _servers(settings, tmp_path) as bases:
        a = httpx.AsyncClient(base_url=bases[0], timeout=20)
        b = httpx.AsyncClient(base_url=bases[1], timeout=20)
        async with a, b:

            async def shown_by_b() -> set[str]:
                found = await b.get(f"/api/v1/participants/{student['external_id']}/suggestions", headers=BEARER)
                assert found.status_code == 200, found.text
                return {s["external_id"] for s in found.json()["suggestions"]}

            for _ in range(2):  # the second answer comes from b's cache and memory
                assert await shown_by_b() == set(names)
            # An answer through server a ("not now": never suggested again to each other).
            await sign_in_participant(a, conn, student["id"])
            answered = await a.post("/api/v1/participants/me/feed/answers",
                                    json={"candidate": names[0], "answer": "not_now"})
            assert answered.status_code == 200, answered.text
            await _within(WITHIN, lambda: _lacks(shown_by_b, {names[0]}))
            # Hidden (paused) straight in the database: visibility.
            await conn.execute("UPDATE participants SET hidden_at = now(), hidden_reason = 'self' WHERE id = $1",
                               companies[1]["id"])
            await _within(WITHIN, lambda: _lacks(shown_by_b, {names[0], names[1]}))
            # A new match that fills the last candidate's capacity (1).
            await matches.create(conn, settings, (other["id"], companies[2]["id"]), "mutual", "participants",
                                 Actor.system())
            await _within(WITHIN, lambda: _lacks(shown_by_b, set(names)))
    # Hiding bumps the matching version; the answer and the match did not need one to be seen.
    assert await conn.fetchval("SELECT version FROM matching_version") > version


async def _lacks(shown: Callable[[], Awaitable[set[str]]], gone: set[str]) -> bool:
    return not (await shown()) & gone


async def test_koble_serve_with_two_worker_processes_answers_alike_from_either(
    settings: Settings, conn: Connection, make_participant: MakeParticipant, tmp_path: Path,
) -> None:
    student = await make_participant("student", domains=["cyber_ict"])
    company = await make_participant("company", domains=["cyber_ict"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", "2"]
    process = spawn(command, environment(settings, tmp_path, base), tmp_path / "serve.log")
    try:
        wait_ready(base, [process])
        async with httpx.AsyncClient(base_url=base, timeout=20) as client:
            path = f"/api/v1/participants/{student['external_id']}/suggestions"

            async def shown() -> list[str]:
                found = await client.get(path, headers=BEARER)
                assert found.status_code == 200, found.text
                return [s["external_id"] for s in found.json()["suggestions"]]

            assert {tuple(await shown()) for _ in range(8)} == {(company["external_id"],)}
            await matches.save_answer(conn, company["id"], student["id"], "not_now")

            async def gone_everywhere() -> bool:  # eight answers in a row, whichever process gives them
                return all([not await shown() for _ in range(8)])

            await _within(WITHIN + 0.5, gone_everywhere)
    finally:
        stop(process)
