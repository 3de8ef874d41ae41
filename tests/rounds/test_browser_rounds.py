"""A real Chromium on a phone and a laptop: a reviewer uploads a list with a bad line (shown by line,
nothing stored), fixes it, and reads the round's page; the pages reflow at 320 px."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from playwright.sync_api import Browser, FilePayload, Page, ViewportSize, expect

from service.kit.config import Settings
from tests.conftest import LAPTOP, PHONE, Mailbox, body_text, link_in, new_page
from tests.factories import create_staff
from tests.support import assert_accessible

pytestmark = pytest.mark.browser
T = TypeVar("T")
REVIEWER = "rita.rounds@brighthouse.example"
HEADER = "organisasjonsnummer;navn;e-post;kommune;type\n"
GOOD = (HEADER + "974767880;Bygg AS;post@bygg.example;Gjøvik;\n"
        "939607706;Gjøvik kommune;post@gjovik.example;Gjøvik;public_body\n")
BAD = HEADER + "974767881;Bygg AS;post@bygg.example;Gjøvik;\n"


def in_thread(work: Callable[[asyncpg.Connection], Awaitable[T]], url: str) -> T:
    """Run database work on its own event loop in another thread (Playwright's sync API owns this one)."""
    async def main() -> T:
        conn = await asyncpg.connect(url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def count_rounds(settings: Settings) -> int:
    query = "SELECT count(*) FROM mapping_rounds"
    return int(in_thread(lambda conn: conn.fetchval(query), settings.database_url or ""))


def reflows(page: Page) -> bool:
    """Nothing but the tables' own scroll regions is wider than a 320 px screen (WCAG 1.4.10)."""
    page.set_viewport_size({"width": 320, "height": 800})
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def upload(page: Page, round_name: str, content: str) -> None:
    page.get_by_label("Navn på runden").fill(round_name)
    page.get_by_label("Liste over virksomheter (CSV)").set_input_files(
        files=FilePayload(name="orgs.csv", mimeType="text/csv", buffer=content.encode()))
    page.get_by_role("button", name="Kontroller og opprett runden").click()


def test_a_reviewer_uploads_a_list_and_reads_the_round_on_a_phone_and_a_laptop(
    browser: Browser, live_server: str, settings: Settings, mailbox: Mailbox, tmp_path: Path,
) -> None:
    in_thread(lambda conn: create_staff(conn, "reviewer", REVIEWER), settings.database_url or "")
    for name, viewport in (("phone", PHONE), ("laptop", LAPTOP)):  # one server for both: it takes ~15 s to start
        mailbox.messages.clear()
        with new_page(browser, tmp_path / f"rounds-{name}.png", viewport) as page:
            upload_and_read(page, live_server, settings, mailbox, f"Høst 2026 {name}", viewport)


def upload_and_read(
    page: Page, live_server: str, settings: Settings, mailbox: Mailbox, round_name: str, viewport: ViewportSize
) -> None:
    page.goto(f"{live_server}/staff/signin?lang=nb")
    page.get_by_label("E-postadresse").fill(REVIEWER)
    page.get_by_role("button", name="Send meg en innloggingslenke").click()
    page.goto(link_in(mailbox.wait_for(REVIEWER)))
    page.get_by_role("button", name="Fortsett").click()

    page.goto(f"{live_server}/staff/rounds")
    expect(page.get_by_role("heading", level=1)).to_have_text("Kartleggingsrunder")
    rounds_before = count_rounds(settings)
    assert_accessible(page)
    upload(page, round_name, BAD)
    expect(page.get_by_role("alert")).to_contain_text("orgs.csv:2: organisasjonsnummer: not a valid organisation")
    assert_accessible(page)
    expect(page.get_by_label("Navn på runden")).to_have_value(round_name)
    assert count_rounds(settings) == rounds_before  # nothing stored

    upload(page, round_name, GOOD)
    expect(page.get_by_role("heading", level=1)).to_have_text(round_name)
    expect(page.get_by_role("table", name="Per kommune")).to_contain_text("Gjøvik")
    assert_accessible(page)
    page.get_by_role("button", name="Send 2 invitasjoner").click()
    expect(page.get_by_role("status")).to_have_text("2 invitasjoner sendt.")
    assert_accessible(page)
    invitation = body_text(mailbox.wait_for("post@gjovik.example"))
    assert reflows(page)
    page.set_viewport_size(viewport)
    # The organisation's side: the pre-filled registration and the unsubscribe page.
    found = re.search(r"https?://\S+/rounds/i/\S+", invitation)
    assert found, invitation
    page.goto(found.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Registrer Gjøvik kommune i Koble")
    expect(page.get_by_label("Navn", exact=True)).to_have_value("Gjøvik kommune")
    assert_accessible(page)
    page.get_by_role("link", name="Nei takk: ikke mer e-post om denne kartleggingen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ikke mer e-post om denne kartleggingen")
    assert_accessible(page)
    page.goto(f"{live_server}/staff/rounds")
    expect(page.get_by_role("link", name=round_name)).to_be_visible()
    assert reflows(page)
