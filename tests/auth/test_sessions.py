"""Participants' sessions live on the server: signing out ends them, everywhere if asked, and for good."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asyncpg import Connection

from service.auth import service as auth
from service.profiles import service as profiles
from tests.conftest import post_form
from tests.factories import MakeParticipant


@pytest.fixture
async def second(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same app (its own cookies)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


async def sign_in(client: httpx.AsyncClient, conn: Connection, participant_id: int) -> None:
    """Follow a fresh sign-in link in this client."""
    token = await auth.issue(conn, participant_id, "login", dt.timedelta(minutes=5))
    redeemed = await post_form(client, f"/auth/{token}", {"this_device": "yes"})
    assert redeemed.status_code == 303 and redeemed.headers["location"] == "/me?welcome=1"


async def test_a_cookie_copied_before_sign_out_is_refused_after_it(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant
) -> None:
    row = await make_participant(embed=False)
    await sign_in(client, conn, row["id"])
    assert (await client.get("/me")).status_code == 200
    copy = client.cookies.get("koble_session")
    assert copy
    signed_out = await post_form(client, "/signout", {})
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/?signed_out=1"

    client.cookies.set("koble_session", copy)
    refused = await client.get("/me")
    assert refused.status_code == 303 and refused.headers["location"] == "/signin"
    assert (await client.get("/api/v1/participants/me")).status_code == 401


async def test_sign_out_everywhere_ends_the_other_sessions_too(
    client: httpx.AsyncClient, second: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant
) -> None:
    row = await make_participant(embed=False)
    await sign_in(client, conn, row["id"])
    await sign_in(second, conn, row["id"])
    assert 'action="/signout/everywhere"' in (await client.get("/me")).text
    response = await post_form(client, "/signout/everywhere", {})
    assert response.status_code == 303 and response.headers["location"] == "/?signed_out=1"
    assert (await second.get("/me")).headers["location"] == "/signin"
    assert (await client.get("/me")).headers["location"] == "/signin"


async def test_deleting_the_account_forgets_its_sessions_and_the_daily_job_the_ended_ones(
    client: httpx.AsyncClient, second: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant
) -> None:
    row, other = await make_participant(embed=False), await make_participant(embed=False)
    await sign_in(client, conn, row["id"])
    await sign_in(second, conn, other["id"])
    await post_form(second, "/signout", {})
    assert await profiles.delete_account(conn, row["id"]) is True
    assert await conn.fetchval("SELECT count(*) FROM sessions WHERE subject_id = $1", row["id"]) == 0
    assert (await client.get("/me")).headers["location"] == "/signin"
    assert await conn.fetchval("SELECT count(*) FROM sessions") == 1  # the other one's, ended
    assert await auth.delete_stale(conn) >= 1
    assert await conn.fetchval("SELECT count(*) FROM sessions") == 0
