"""Staff sign-in by emailed link, the sign-in step pipeline, and the end of staff sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg import Connection

from service.auth import service as auth
from service.kit.audit import Actor
from service.kit.config import Settings
from tests.conftest import post_form
from tests.factories import MakeStaff
from tests.support import sign_in_staff, staff_link


@pytest.fixture
async def reviewer(make_staff: MakeStaff) -> asyncpg.Record:
    """The reviewer who signs in."""
    return await make_staff("reviewer", "rita.reviewer@brighthouse.example")


@pytest.fixture
async def second(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same app (its own cookies)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


async def test_staff_sign_in_by_emailed_link_without_revealing_addresses(
    client: httpx.AsyncClient, conn: Connection, reviewer: asyncpg.Record
) -> None:
    known = await post_form(client, "/staff/signin", {"email": reviewer["email"]})
    unknown = await post_form(client, "/staff/signin", {"email": "nobody@example.no"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(reviewer["email"], "X") == unknown.text.replace("nobody@example.no", "X")
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 1

    link = await staff_link(conn, reviewer["email"])
    assert (await client.get(link)).status_code == 200  # a Continue button: mail scanners use nothing
    assert (await client.get("/staff/queue")).status_code == 303
    redeemed = await post_form(client, link, {})
    assert redeemed.status_code == 303 and redeemed.headers["location"] == "/staff"
    assert (await client.get("/staff/queue")).status_code == 200
    assert (await post_form(client, link, {})).status_code == 410  # single use
    assert await conn.fetchval("SELECT count(*) FROM staff_tokens WHERE used_at IS NOT NULL") == 1
    assert await conn.fetchval("SELECT action FROM audit_log") == "sign_in"


async def test_signing_out_and_disabling_end_the_staff_session(
    client: httpx.AsyncClient, conn: Connection, reviewer: asyncpg.Record
) -> None:
    staff_id = reviewer["id"]
    await sign_in_staff(client, conn, reviewer["email"])
    signed_out = await post_form(client, "/staff/signout", {})
    assert signed_out.headers["location"] == "/staff/signin?signed_out=1"
    assert "Du er logget ut." in (await client.get(signed_out.headers["location"])).text
    assert (await client.get("/staff/queue")).headers["location"] == "/staff/signin"
    await sign_in_staff(client, conn, reviewer["email"])
    await conn.execute("UPDATE staff SET disabled_at = now() WHERE id = $1", staff_id)
    assert (await client.get("/staff/queue")).headers["location"] == "/staff/signin"


async def test_a_staff_cookie_copied_before_sign_out_is_refused_after_it(
    client: httpx.AsyncClient, conn: Connection, reviewer: asyncpg.Record
) -> None:
    await sign_in_staff(client, conn, reviewer["email"])
    copy = client.cookies.get("koble_session")
    assert copy
    await post_form(client, "/staff/signout", {})
    client.cookies.set("koble_session", copy)
    refused = await client.get("/staff/queue")
    assert refused.status_code == 303 and refused.headers["location"] == "/staff/signin"
    assert (await client.get("/api/v1/review/queue")).status_code == 401


async def test_sign_out_everywhere_ends_the_staff_members_other_sessions(
    client: httpx.AsyncClient, second: httpx.AsyncClient, conn: Connection, reviewer: asyncpg.Record
) -> None:
    await sign_in_staff(client, conn, reviewer["email"])
    await sign_in_staff(second, conn, reviewer["email"])
    assert 'action="/staff/signout/everywhere"' in (await client.get("/staff/queue")).text  # in the staff nav
    response = await post_form(client, "/staff/signout/everywhere", {})
    assert response.status_code == 303 and response.headers["location"] == "/staff/signin?signed_out=1"
    assert (await second.get("/staff/queue")).headers["location"] == "/staff/signin"
    assert (await client.get("/staff/queue")).headers["location"] == "/staff/signin"


async def test_disabling_a_staff_member_ends_their_session_for_good(
    client: httpx.AsyncClient, second: httpx.AsyncClient, conn: Connection, reviewer: asyncpg.Record,
    make_staff: MakeStaff,
) -> None:
    admin = await make_staff("admin", "anders.admin@brighthouse.example")
    await sign_in_staff(client, conn, reviewer["email"])
    await sign_in_staff(second, conn, admin["email"])
    disabled = await post_form(second, f"/staff/admin/{reviewer['id']}/disable", {})
    assert disabled.status_code == 303
    # Enabled again: the session ended with the account stays ended (a new sign-in is needed).
    await auth.add_staff(conn, Actor.staff(None, "test"), reviewer["email"], "reviewer", "")
    assert (await client.get("/staff/queue")).headers["location"] == "/staff/signin"
    await sign_in_staff(client, conn, reviewer["email"])
    assert (await client.get("/staff/queue")).status_code == 200


class _Request:
    """Just a session: `passed` reads and writes nothing else of a request (unit test of the step pipeline)."""

    def __init__(self, kind: str, subject_id: int) -> None:
        self.session: dict[str, Any] = {auth.PENDING_KEY: {"kind": kind, "id": subject_id, "passed": []}}


async def test_sign_in_is_a_pipeline_a_second_factor_can_join(
    monkeypatch: Any, conn: Connection, settings: Settings, reviewer: asyncpg.Record
) -> None:
    staff_id = reviewer["id"]
    request = _Request("staff", staff_id)
    assert await auth.passed(conn, request, settings, "email_link") == "/staff"  # type: ignore[arg-type]
    assert list(request.session) == [auth.SESSION_KEY]
    who = await auth.identity(conn, request, settings)  # type: ignore[arg-type]
    assert who is not None and (who.kind, who.subject_id, who.auth_level) == ("staff", staff_id, "email_link")

    totp = auth.SignInStep("totp", "/staff/signin/totp", ("staff",))
    monkeypatch.setattr(auth, "PIPELINE", (*auth.PIPELINE, totp))
    request = _Request("staff", staff_id)
    assert await auth.passed(conn, request, settings, "email_link") == "/staff/signin/totp"  # type: ignore[arg-type]
    assert auth.SESSION_KEY not in request.session  # pending: not signed in until every step is passed
    assert await auth.passed(conn, request, settings, "totp") == "/staff"  # type: ignore[arg-type]
    who = await auth.identity(conn, request, settings)  # type: ignore[arg-type]
    assert who is not None and who.auth_level == "email_link+totp"

    # The same pipeline signs participants in; a staff-only step is not asked of them.
    request = _Request("participant", 41)
    assert await auth.passed(conn, request, settings, "email_link") == "/me?welcome=1"  # type: ignore[arg-type]
    who = await auth.identity(conn, request, settings)  # type: ignore[arg-type]
    assert who is not None and (who.kind, who.subject_id) == ("participant", 41)
