"""Helpers the tests share: signing in, reading reply links out of emails, finding rows about a person."""

from __future__ import annotations

import datetime as dt
import json
import re
from base64 import b64encode
from email.message import Message
from pathlib import Path

import httpx
import itsdangerous
import pytest
from asyncpg import Connection
from playwright.sync_api import Page

from service.auth import service as auth
from service.auth.service import SubjectKind
from service.kit.config import Settings
from service.matching import listener
from tests.conftest import body_text, post_form, run_jobs

REPLY = re.compile(r"https?://\S+/reply/[\w.-]+\?lang=\w+")


async def staff_link(conn: Connection, email: str) -> str:
    """The path of the newest sign-in link emailed to a staff member (from the outbox, once the worker ran)."""
    await run_jobs()
    body = await conn.fetchval(
        "SELECT body_text FROM outbox o JOIN staff s ON s.id = o.staff_id WHERE lower(s.email) = lower($1)"
        " ORDER BY o.id DESC LIMIT 1", email,
    )
    assert body, f"no email to {email}"
    found = re.search(r"https?://[^/\s]+(/staff/auth/\S+)", body)
    assert found, body
    return found.group(1)


async def sign_in_staff(client: httpx.AsyncClient, conn: Connection, email: str) -> None:
    """Sign a staff member in as they would: ask for a link, open it, press Continue."""
    await post_form(client, "/staff/signin", {"email": email})
    response = await post_form(client, await staff_link(conn, email), {})
    assert response.status_code == 303 and response.headers["location"] == "/staff", response.text


async def sign_in_as(
    client: httpx.AsyncClient, conn: Connection, settings: Settings,
    participant_id: int | None = None, staff_id: int | None = None,
) -> None:
    """Start a session (participant_id= or staff_id=) and give the client its cookie, signed as the app would."""
    kind: SubjectKind = "participant" if participant_id is not None else "staff"
    subject_id = participant_id if participant_id is not None else staff_id
    assert subject_id is not None
    token = await auth.start_session(conn, settings, kind, subject_id)
    data = b64encode(json.dumps({auth.SESSION_KEY: token}).encode())
    cookie = itsdangerous.TimestampSigner(settings.secret_key()).sign(data).decode()
    client.cookies.set("koble_session", cookie)


def replies(message: Message) -> list[str]:
    """The one-click reply links of a received email, in the order the email shows them."""
    return REPLY.findall(body_text(message))


def path_of(url: str) -> str:
    """The path of an absolute link (the test client talks to the app in-process)."""
    return "/" + url.split("/", 3)[3]


async def public_tables(conn: Connection) -> list[str]:
    """The names of every table in the public schema."""
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return [row["tablename"] for row in rows]


async def rows_mentioning(conn: Connection, needle: str) -> dict[str, int]:
    """Rows of every public table whose text contains `needle` (case-insensitive)."""
    found = {}
    for table in await public_tables(conn):
        count = await conn.fetchval(f'SELECT count(*) FROM "{table}" t WHERE t::text ILIKE $1', f"%{needle}%")
        if count:
            found[table] = count
    return found


async def rows_referencing(conn: Connection, participant_id: int) -> dict[str, int]:
    """Rows of every table with a column naming a participant that point at this id."""
    columns = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND column_name LIKE '%participant%id'"
    )
    found = {}
    for column in columns:
        count = await conn.fetchval(
            f'SELECT count(*) FROM "{column["table_name"]}" WHERE "{column["column_name"]}" = $1', participant_id
        )
        if count:
            found[f"{column['table_name']}.{column['column_name']}"] = count
    return found


async def sign_in_participant(client: httpx.AsyncClient, conn: Connection, participant_id: int) -> None:
    """Follow a fresh sign-in link in this client, pressing Continue as a participant would."""
    token = await auth.issue(conn, participant_id, "login", dt.timedelta(minutes=5))
    # Issued here, not asked for in this browser: the link page asks "this device?" (issue 15, finding 6).
    await post_form(client, f"/auth/{token}", {"this_device": "yes"})


# axe-core, installed by `make test` with npm into the git-ignored tests/.axe (never fetched at test time).
AXE = Path(__file__).parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page: Page) -> None:
    """Fail on any WCAG 2.1 A or AA violation axe-core finds on the page as it is now.

    axe is evaluated through the DevTools protocol, which the pages' Content-Security-Policy
    (no inline scripts) does not block.
    """
    if not AXE.is_file():
        pytest.fail(f"axe-core is missing ({AXE}): run `npm install --prefix tests/.axe axe-core@4` (make test does)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA)
    found = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
             for v in result["violations"]]
    assert not found, f"{page.url}: " + "; ".join(found)


async def caught_up() -> None:
    """Wait until the in-process app's read-time memory has applied every change committed so far (changes
    made straight in the database reach it by notification: service.matching.listener)."""
    await listener.caught_up()
