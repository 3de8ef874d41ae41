"""The analyst role: business advisers and the regional office see figures, never people.

Route-by-route rights are walked in test_authz.py; here the role's own promises: it can be added from the
command line, it lands on the map rather than the queue, and staff emails skip it.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from asyncpg import Connection

from service.auth import service as auth
from service.kit.config import Settings
from tests.factories import MakeStaff
from tests.flows.test_import import koble
from tests.support import sign_in_staff


async def test_koble_staff_add_gives_the_analyst_role(conn: Connection, settings: Settings, tmp_path: Path) -> None:
    done = await koble(settings, tmp_path, "staff", "add", "radgiver@gjovik.kommune.no", "--role", "analyst")
    assert done.returncode == 0, done.stderr
    assert "radgiver@gjovik.kommune.no: analyst" in done.stdout
    row = await conn.fetchrow("SELECT role FROM staff WHERE email = 'radgiver@gjovik.kommune.no'")
    assert row is not None and row["role"] == "analyst"


async def test_an_analyst_lands_on_the_map_and_is_refused_the_queue(
    client: httpx.AsyncClient, conn: Connection, make_staff: MakeStaff
) -> None:
    await make_staff("analyst", "analytiker@innlandetfylke.no")
    await sign_in_staff(client, conn, "analytiker@innlandetfylke.no")
    home = await client.get("/staff")
    assert home.status_code == 303 and home.headers["location"] == "/staff/map"
    refused = await client.get("/staff/queue")
    assert refused.status_code == 403
    assert "Analysts see the region" in refused.text and 'href="/staff/queue"' not in refused.text


async def test_staff_emails_go_to_reviewers_and_admins_only(conn: Connection, make_staff: MakeStaff) -> None:
    analyst, reviewer = await make_staff("analyst"), await make_staff("reviewer")
    addressed = {row["email"] for row in await auth.active_staff(conn)}
    assert reviewer["email"] in addressed and analyst["email"] not in addressed
    assert auth.can_see_people(reviewer) and not auth.can_see_people(analyst)
