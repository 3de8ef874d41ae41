"""My profile pages: view, edit, hide, download and delete, against real Postgres, Redis and SMTP."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg import Connection

from service.auth import service as auth_service
from service.kit.config import Settings
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields
from tests.conftest import Mailbox, link_in, post_form, run_worker
from tests.factories import create_participant

EDITED: dict[str, Any] = {
    "kind": "public_body", "name": "Kari Østby Hansen", "email": "kari@vestre-toten.example.no",
    "organisation": "Vestre Toten kommune", "language": "en", "domains": ["cyber_ict"], "engagements": [],
    "available_from": "", "available_until": "2026-05-31", "capacity": "4", "location": "Raufoss",
    "offers": ["Praksisplass i IT-avdelingen i kommunen", "Åpne data om vann og avløp", ""],
    "seeks": ["Studenter som vil jobbe med cybersikkerhet", "", ""],
}


@pytest.fixture
def kari() -> dict[str, Any]:
    """A municipality's profile with every kind of field filled in (the pages show each)."""
    return {
        "kind": "public_body", "name": "Kari Østby", "email": "kari@vestre-toten.example.no",
        "organisation": "Vestre Toten kommune", "language": "nb", "domains": ["cyber_ict", "bioeconomy"],
        "engagements": ["internship"], "available_from": dt.date(2025, 9, 1), "location": "Raufoss",
        "offers": ["Praksisplass i IT-avdelingen i kommunen"], "seeks": ["Studenter som vil jobbe med cybersikkerhet"],
    }


async def signed_in(client: httpx.AsyncClient, conn: Connection, fields: dict[str, Any]) -> asyncpg.Record:
    """Create a verified participant and sign the client in with a real one-time link."""
    row = await create_participant(conn, **fields, embed=False)
    token = await auth_service.issue(conn, row["id"], "login", dt.timedelta(minutes=5))
    response = await post_form(client, f"/auth/{token}", {"this_device": "yes"})
    assert response.status_code == 303
    return row


async def stored(conn: Connection, participant_id: int) -> asyncpg.Record | None:
    """The participant's row as it is in the database now."""
    return await conn.fetchrow("SELECT * FROM participants WHERE id = $1", participant_id)


@pytest.mark.parametrize("path", ["/me", "/me/edit", "/me/delete", "/me/data.json"])
async def test_profile_pages_need_sign_in(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 303 and response.headers["location"] == "/signin"


async def test_my_profile_is_shown_readably(client: httpx.AsyncClient, conn: Connection, kari: dict[str, Any]) -> None:
    await signed_in(client, conn, kari)
    response = await client.get("/me?welcome=1")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    html = response.text
    assert "Velkommen! Du er logget inn." in html
    for text in ("Kari Østby", "Offentlig virksomhet", "Cybersikkerhet og IKT, Bioøkonomi", "Praksisplass",
                 "Fra 1. september 2025", "3", "Praksisplass i IT-avdelingen i kommunen", ">bekreftet<",
                 "Profilen din er synlig"):
        assert text in html, text
    assert "ikke bekreftet ennå" not in html
    for href in ('href="/me/edit"', 'action="/me/hide"', 'href="/me/data.json"', 'href="/me/delete"'):
        assert href in html
    # Signed in, the menu offers the profile and signing out instead of registering.
    assert 'action="/signout"' in html and 'href="/register"' not in html.split("</header>")[0]


async def test_unconfirmed_address_is_pointed_out(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, kari: dict[str, Any]
) -> None:
    await profiles.register(conn, None, settings, ParticipantFields(**kari))
    row = await conn.fetchrow("SELECT id FROM participants")
    token = await auth_service.issue(conn, row["id"], "login", dt.timedelta(minutes=5))
    await post_form(client, f"/auth/{token}", {"this_device": "yes"})
    html = (await client.get("/me")).text
    assert "E-postadressen din er ikke bekreftet ennå." in html
    assert "kari@vestre-toten.example.no" in html and "ikke bekreftet" in html


async def test_edit_form_is_prefilled_and_saves(
    client: httpx.AsyncClient, conn: Connection, kari: dict[str, Any]
) -> None:
    row = await signed_in(client, conn, kari)
    page = (await client.get("/me/edit")).text
    assert 'value="Kari Østby"' in page and 'value="2025-09-01"' in page and 'value="3"' in page
    assert re.search(r'id="kind-public_body"[^>]*checked', page)
    assert re.search(r'id="engagements-internship"[^>]*checked', page)
    assert ">Praksisplass i IT-avdelingen i kommunen</textarea>" in page
    assert 'id="consent"' not in page  # consent was given at registration

    response = await post_form(client, "/me/edit", EDITED)
    assert response.status_code == 303 and response.headers["location"] == "/me?saved=1"
    after = await stored(conn, row["id"])
    assert after is not None
    assert after["name"] == "Kari Østby Hansen" and after["language"] == "en" and after["capacity"] == 4
    assert after["domains"] == ["cyber_ict"] and after["engagements"] == []
    assert after["available_from"] is None and after["available_until"] == dt.date(2026, 5, 31)
    assert after["offers"] == ["Praksisplass i IT-avdelingen i kommunen", "Åpne data om vann og avløp"]
    assert after["verified_at"] is not None  # the address did not change
    me = (await client.get("/me?saved=1")).text  # the profile's new language applies at once (issue 12, wall 10)
    assert "Your changes are saved." in me and "All kinds" in me and "Until May 31, 2026" in me


async def test_edit_revalidates_and_changes_nothing_on_error(
    client: httpx.AsyncClient, conn: Connection, kari: dict[str, Any]
) -> None:
    await signed_in(client, conn, kari)
    before = await conn.fetchrow("SELECT * FROM participants")
    bad = {**EDITED, "domains": [], "capacity": "zero", "offers": ["", "", ""], "seeks": ["", "", ""]}
    response = await post_form(client, "/me/edit", bad)
    assert response.status_code == 422
    html = response.text
    assert 'id="domains-error"' in html and 'id="capacity-error"' in html and 'id="offers-error"' in html
    assert "Beskriv minst én ting du tilbyr eller ser etter." in html
    assert 'value="Kari Østby Hansen"' in html and 'value="zero"' in html
    assert dict(await stored(conn, before["id"]) or {}) == dict(before)


async def test_edit_to_an_address_in_use_looks_like_any_change_and_changes_no_address(
    client: httpx.AsyncClient, conn: Connection, kari: dict[str, Any]
) -> None:
    await create_participant(conn, **{**kari, "email": "ola@example.no", "name": "Ola"}, embed=False)
    row = await signed_in(client, conn, kari)
    response = await post_form(client, "/me/edit", {**EDITED, "email": "OLA@example.no"})
    # The same answer as for a free address (issue 15, finding 2); Ola is told by email instead.
    assert response.status_code == 303 and response.headers["location"] == "/me?saved=1&email_changed=1"
    after = await stored(conn, row["id"])
    assert after is not None and after["email"] == "kari@vestre-toten.example.no"


async def test_new_address_waits_until_confirmed(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox, kari: dict[str, Any]
) -> None:
    row = await signed_in(client, conn, kari)
    response = await post_form(client, "/me/edit", {**EDITED, "email": "kari.hansen@example.no"})
    assert response.headers["location"] == "/me?saved=1&email_changed=1"
    after = await stored(conn, row["id"])
    assert after is not None and after["email"] == kari["email"] and after["pending_email"] == "kari.hansen@example.no"
    assert after["verified_at"] is not None  # the old address stays in use meanwhile
    await client.get("/?lang=en")  # the profile now asks for English, and so does the reader
    me = (await client.get("/me?saved=1&email_changed=1")).text
    assert "We have sent a link to your new email address." in me
    assert "Open the link we sent to kari.hansen@example.no. Until you do, we keep using" in me

    await run_worker(settings)
    [message] = mailbox.to("kari.hansen@example.no")
    assert message["Subject"] == "Confirm your email address for Koble"  # the language was changed to English
    link = link_in(message).replace("http://testserver", "")
    assert (await post_form(client, link, {"this_device": "yes"})).status_code == 303
    confirmed = await stored(conn, row["id"])
    assert confirmed is not None and confirmed["email"] == "kari.hansen@example.no"
    assert confirmed["pending_email"] is None
    assert "waiting for confirmation" not in (await client.get("/me")).text


async def test_hide_and_show_my_profile(client: httpx.AsyncClient, conn: Connection, kari: dict[str, Any]) -> None:
    row = await signed_in(client, conn, kari)
    hidden = await post_form(client, "/me/hide", {})
    assert hidden.status_code == 303 and hidden.headers["location"] == "/me?hidden=1"
    after = await stored(conn, row["id"])
    assert after is not None and after["hidden_at"] is not None and after["hidden_reason"] == "self"
    html = (await client.get("/me?hidden=1")).text
    assert "Profilen din er skjult." in html and 'action="/me/unhide"' in html

    shown = await post_form(client, "/me/unhide", {})
    assert shown.headers["location"] == "/me?shown=1"
    after = await stored(conn, row["id"])
    assert after is not None and after["hidden_at"] is None and after["hidden_reason"] is None
    assert 'action="/me/hide"' in (await client.get("/me")).text


async def test_hide_without_csrf_token_is_refused(
    client: httpx.AsyncClient, conn: Connection, kari: dict[str, Any]
) -> None:
    row = await signed_in(client, conn, kari)
    response = await client.post("/me/hide", data={})
    assert response.status_code == 403
    after = await stored(conn, row["id"])
    assert after is not None and after["hidden_at"] is None


async def test_download_my_data_as_json(client: httpx.AsyncClient, conn: Connection, kari: dict[str, Any]) -> None:
    await signed_in(client, conn, kari)
    response = await client.get("/me/data.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == 'attachment; filename="koble-my-data.json"'
    assert response.headers["cache-control"] == "no-store"
    data = json.loads(response.content)
    assert data["profile"]["name"] == "Kari Østby" and data["profile"]["email"] == "kari@vestre-toten.example.no"
    assert data["profile"]["offers"] == ["Praksisplass i IT-avdelingen i kommunen"]
    assert data["verified_at"] is not None
    assert "Østby" in response.text  # written as UTF-8, readable in any editor


async def test_delete_my_account(client: httpx.AsyncClient, conn: Connection, kari: dict[str, Any]) -> None:
    row = await signed_in(client, conn, kari)
    confirm = await client.get("/me/delete")
    assert confirm.status_code == 200
    assert "Dette kan ikke angres." in confirm.text and 'action="/me/delete"' in confirm.text
    old_session = client.cookies.get("koble_session")
    assert old_session

    response = await post_form(client, "/me/delete", {})
    assert response.status_code == 303 and response.headers["location"] == "/?deleted=1"
    assert await stored(conn, row["id"]) is None
    assert await conn.fetchval("SELECT count(*) FROM auth_tokens") == 0
    landing = await client.get("/?deleted=1")
    assert "Kontoen din og alle opplysninger om deg er slettet." in landing.text

    # Even a copy of the old session cookie no longer opens the profile.
    client.cookies.set("koble_session", old_session)
    again = await client.get("/me")
    assert again.status_code == 303 and again.headers["location"] == "/signin"


async def test_sign_out_notice_on_the_landing_page(
    client: httpx.AsyncClient, conn: Connection, kari: dict[str, Any]
) -> None:
    await signed_in(client, conn, kari)
    assert 'href="/me"' in (await client.get("/")).text.split('id="main"')[1]
    response = await post_form(client, "/signout", {})
    assert response.headers["location"] == "/?signed_out=1"
    landing = await client.get("/?signed_out=1")
    assert "Du er logget ut." in landing.text and 'href="/signin"' in landing.text


async def test_confirmation_link_can_be_sent_again(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox, kari: dict[str, Any]
) -> None:
    await profiles.register(conn, None, settings, ParticipantFields(**kari))  # unverified, first link "lost"
    row = await conn.fetchrow("SELECT * FROM participants")
    token = await auth_service.issue(conn, row["id"], "login", dt.timedelta(minutes=5))
    await post_form(client, f"/auth/{token}", {"this_device": "yes"})  # a sign-in link does not confirm the address
    page = await client.get("/me")
    assert "Send lenken på nytt" in page.text
    response = await post_form(client, "/me/confirm-again", {})
    assert response.status_code == 303 and response.headers["location"] == "/me?link_sent=1"
    await run_worker(settings)
    [message] = mailbox.to(kari["email"])
    await post_form(client, link_in(message).replace("http://testserver", ""), {"this_device": "yes"})
    assert (await stored(conn, row["id"]))["verified_at"] is not None  # type: ignore[index]
