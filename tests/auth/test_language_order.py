"""Which language a page speaks (issue 12, wall 10): `?lang=` (and the cookie it leaves, this browser's
switch) > the profile's language after sign-in > the browser's Accept-Language; every emailed link
names the email's language, and the page it opens honours it."""

from __future__ import annotations

import re

import httpx
from asyncpg import Connection

from service.kit.config import Settings
from tests.conftest import Mailbox, link_in, post_form, run_worker
from tests.factories import MakeParticipant

ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.9"}
NORWEGIAN_BROWSER = {"Accept-Language": "nb-NO,nb;q=0.9"}
URL = re.compile(r"""https?://[^\s"'<>]+""")


def language_of(response: httpx.Response) -> str:
    """The language a page says it is in."""
    found = re.search(r'<html lang="(\w+)">', response.text)
    assert found, response.text[:200]
    return found.group(1)


async def sign_in_by_link(client: httpx.AsyncClient, settings: Settings, mailbox: Mailbox, email: str) -> str:
    """Ask for a link, open it (the emailed URL as it is, with its ?lang=) and continue; the link."""
    await post_form(client, "/signin", {"email": email})
    await run_worker(settings)
    link = link_in(mailbox.to(email)[-1]).replace("http://testserver", "")
    opened = await client.get(link)
    assert opened.status_code == 200
    assert (await post_form(client, link, {})).status_code == 303
    return link


async def test_signed_in_pages_follow_the_profile_until_this_browser_switches(
    client: httpx.AsyncClient, settings: Settings, mailbox: Mailbox, make_participant: MakeParticipant,
) -> None:
    await make_participant("company", email="hr@raufoss.example", language="en", embed=False)
    client.headers.update(NORWEGIAN_BROWSER)
    assert language_of(await client.get("/")) == "nb"  # Accept-Language before anything else is known
    link = await sign_in_by_link(client, settings, mailbox, "hr@raufoss.example")
    assert link.endswith("?lang=en")  # the email's language travels with the link
    client.cookies.delete("lang")  # a browser that never switched: the profile decides, not Accept-Language
    assert language_of(await client.get("/me")) == "en"
    assert language_of(await client.get("/me/matches")) == "en"
    assert language_of(await client.get("/me?lang=nb")) == "nb"  # the person switches here...
    assert language_of(await client.get("/me")) == "nb"  # ...and this browser keeps the switch (cookie)
    assert client.cookies.get("lang") == "nb"


async def test_without_a_cookie_or_a_session_the_browser_decides(client: httpx.AsyncClient) -> None:
    assert language_of(await client.get("/", headers=ENGLISH_BROWSER)) == "en"
    assert language_of(await client.get("/", headers=NORWEGIAN_BROWSER)) == "nb"


async def test_a_changed_profile_language_applies_at_once(
    client: httpx.AsyncClient, settings: Settings, mailbox: Mailbox, make_participant: MakeParticipant,
    conn: Connection,
) -> None:
    row = await make_participant("student", email="ola@example.no", embed=False)  # Bokmål
    await sign_in_by_link(client, settings, mailbox, "ola@example.no")
    client.cookies.delete("lang")
    assert language_of(await client.get("/me", headers=ENGLISH_BROWSER)) == "nb"  # profile > Accept-Language
    fields = {"kind": "student", "name": row["name"], "email": "ola@example.no", "domains": "cyber_ict",
              "offers": "Python", "language": "en"}
    saved = await post_form(client, "/me/edit", fields)
    assert saved.status_code == 303, saved.text[:2000]
    assert await conn.fetchval("SELECT language FROM participants WHERE id = $1", row["id"]) == "en"
    assert language_of(await client.get("/me")) == "en"


async def test_every_link_in_every_email_names_its_language(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox,
    make_participant: MakeParticipant,
) -> None:
    await make_participant("company", email="hr@raufoss.example", language="en", embed=False)
    await post_form(client, "/signin", {"email": "hr@raufoss.example"})
    await post_form(client, "/register", {
        "kind": "student", "name": "Åse", "email": "ase@example.no", "language": "nb", "domains": "cyber_ict",
        "offers": "Python", "consent": "yes"})
    await run_worker(settings)
    rows = await conn.fetch("SELECT template, to_address, body_text, body_html FROM outbox")
    assert {row["template"] for row in rows} >= {"sign_in", "verify"}
    for row in rows:
        expected = "en" if row["to_address"] == "hr@raufoss.example" else "nb"
        links = URL.findall(row["body_text"]) + URL.findall(row["body_html"])
        assert links, row["template"]
        for link in links:
            assert f"lang={expected}" in link, (row["template"], link)
    verify = URL.search(next(r["body_text"] for r in rows if r["template"] == "verify"))
    assert verify is not None
    opened = await client.get(verify.group(0).replace("http://testserver", ""), headers=ENGLISH_BROWSER)
    assert language_of(opened) == "nb"  # the landing page honours the link's language, not the browser's
