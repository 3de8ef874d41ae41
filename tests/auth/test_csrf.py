"""Cross-site requests (issue 15, finding 6): cookie-borne API POSTs that a form could send, and sign-in CSRF."""

from __future__ import annotations

import re

import httpx
import pytest
from asyncpg import Connection

from service.auth import service as auth
from service.kit.config import Settings
from tests.conftest import API_TOKEN, post_form, run_jobs
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import sign_in_as, staff_link

# What a form on another page of the same site can send without a CORS preflight.
FORM_TYPES = ["application/x-www-form-urlencoded", "text/plain", None]


async def participant_link(conn: Connection, email: str) -> str:
    """The path of the newest sign-in link emailed to a participant (from the outbox, once the worker ran)."""
    await run_jobs()
    body = await conn.fetchval(
        "SELECT body_text FROM outbox WHERE lower(to_address) = lower($1) ORDER BY id DESC LIMIT 1", email
    )
    found = re.search(r"https?://[^/\s]+(/auth/[^\s?]+)", body or "")  # without the email's ?lang=
    assert found, body
    return found.group(1)


async def session_count(conn: Connection) -> int:
    """Live sessions on the server."""
    return int(await conn.fetchval("SELECT count(*) FROM sessions WHERE ended_at IS NULL"))


@pytest.mark.parametrize("content_type", FORM_TYPES)
async def test_a_staff_action_without_a_body_cannot_be_posted_by_a_form(
    content_type: str | None, client: httpx.AsyncClient, conn: Connection, settings: Settings,
    make_participant: MakeParticipant, make_staff: MakeStaff, make_match: MakeMatch,
) -> None:
    match = await make_match(await make_participant(embed=False), await make_participant("company", embed=False))
    await sign_in_as(client, conn, settings, staff_id=(await make_staff())["id"])
    headers = {"content-type": content_type} if content_type else {}
    forged = await client.post(f"/api/v1/review/matches/{match['id']}/approve", content=b"", headers=headers)
    assert forged.status_code == 403 and "csrf" in forged.json()["detail"]
    assert await conn.fetchval("SELECT state FROM matches WHERE id = $1", match["id"]) == "suggested"


async def test_json_calls_the_csrf_header_and_the_token_still_work(
    client: httpx.AsyncClient, conn: Connection, settings: Settings,
    make_participant: MakeParticipant, make_staff: MakeStaff, make_match: MakeMatch,
) -> None:
    a, b, c = [await make_participant(kind, embed=False) for kind in ("student", "company", "researcher")]
    first, second = await make_match(a, b), await make_match(a, c)
    await sign_in_as(client, conn, settings, staff_id=(await make_staff())["id"])
    as_json = await client.post(f"/api/v1/review/matches/{first['id']}/approve",
                                headers={"content-type": "application/json"})
    assert as_json.status_code == 200, as_json.text
    await client.get("/staff/queue")  # the page sets the CSRF cookie that scripts echo in the header
    with_header = await client.post(f"/api/v1/review/matches/{second['id']}/reject", json={"reason": "no fit"},
                                    headers={"x-csrftoken": client.cookies["csrftoken"]})
    assert with_header.status_code == 200, with_header.text
    client.cookies.clear()
    token = await client.get("/api/v1/review/queue?status=rejected", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert token.status_code == 200 and token.json()["total"] == 1


async def test_a_sign_in_link_posted_without_cookies_signs_nobody_in(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    make_staff: MakeStaff,
) -> None:
    participant = await make_participant(embed=False)
    token = await auth.issue(conn, participant["id"], "login", auth.link_lifetime(settings, "login"))
    staff = await make_staff()
    staff_token = await auth.issue(conn, staff["id"], "login", auth.link_lifetime(settings, "login"), "staff")
    for path in (f"/auth/{token}", f"/staff/auth/{staff_token}", "/signin", "/staff/signin"):
        forged = await client.post(path, data={"this_device": "yes", "email": participant["email"]})
        assert forged.status_code == 403, path
        assert "koble_session" not in forged.headers.get("set-cookie", "")
    assert await session_count(conn) == 0
    assert await auth.is_usable(conn, token) and await auth.is_usable(conn, staff_token, "staff")


async def test_a_link_asked_for_in_this_browser_signs_in_with_one_press(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant,
) -> None:
    participant = await make_participant(embed=False)
    await post_form(client, "/signin", {"email": participant["email"].upper()})
    link = await participant_link(conn, participant["email"])
    page = await client.get(link)
    assert page.status_code == 200 and "this_device" not in page.text
    signed_in = await post_form(client, link, {})
    assert signed_in.status_code == 303 and signed_in.headers["location"].startswith("/me")


async def test_a_link_opened_elsewhere_names_the_account_and_signs_in_after_an_explicit_yes(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, app: object,
) -> None:
    participant = await make_participant(embed=False, email="ola@example.no")
    await post_form(client, "/signin", {"email": "ola@example.no"})
    link = await participant_link(conn, "ola@example.no")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as phone:
        page = await phone.get(link + "?lang=en")
        assert page.status_code == 200 and "ola@example.no" in page.text and 'name="this_device"' in page.text
        assert "Sign in on this device?" in page.text
        pressed_continue_elsewhere = await post_form(phone, link, {})  # e.g. a page of another site navigated here
        assert pressed_continue_elsewhere.status_code == 200 and "ola@example.no" in pressed_continue_elsewhere.text
        assert await session_count(conn) == 0 and await auth.is_usable(conn, link.rsplit("/", 1)[1])
        confirmed = await post_form(phone, link, {"this_device": "yes"})
        assert confirmed.status_code == 303 and confirmed.headers["location"].startswith("/me")
        assert (await phone.get("/me")).status_code == 200
    assert await conn.fetchval("SELECT subject_id FROM sessions WHERE ended_at IS NULL") == participant["id"]


async def test_a_staff_link_opened_elsewhere_asks_too(
    client: httpx.AsyncClient, conn: Connection, make_staff: MakeStaff, app: object,
) -> None:
    staff = await make_staff(email="kari@brighthouse.example")
    await post_form(client, "/staff/signin", {"email": staff["email"]})
    link = await staff_link(conn, staff["email"])
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        asked = await post_form(other, link, {})
        assert asked.status_code == 200 and "kari@brighthouse.example" in asked.text
        confirmed = await post_form(other, link, {"this_device": "yes"})
        assert confirmed.status_code == 303 and confirmed.headers["location"] == "/staff"
    same = await make_staff(email="per@brighthouse.example")
    await post_form(client, "/staff/signin", {"email": same["email"]})
    direct = await post_form(client, await staff_link(conn, same["email"]), {})
    assert direct.status_code == 303 and direct.headers["location"] == "/staff"
