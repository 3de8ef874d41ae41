"""A real Chromium through `koble serve`: the match page for both parties (issue 12, wall 5). Ola, a
Norwegian student on a 375 x 812 phone, and Raufoss Robotikk, in English on a laptop, write to each other,
agree a meeting (the .ics comes by email) and confirm it was held; the step indicator moves to "Met".
axe-core checks every state; screenshots go to /tmp/shots-matchpage/."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from asyncpg import Connection
from playwright.sync_api import Browser, Page, expect

from service.auth import service as auth_service
from service.kit.config import Settings
from tests.conftest import Mailbox, body_text
from tests.factories import create_match, create_parties
from tests.support import assert_accessible

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-matchpage")
OSLO = ZoneInfo("Europe/Oslo")


@pytest.fixture
async def walk(conn: Connection, settings: Settings) -> dict[str, str | int]:
    """The pair, born `mutual`, and their sign-in links (made before Playwright takes the thread)."""
    ola, company = await create_parties(conn)
    match = await create_match(conn, settings, ola, company, "mutual", "participants")
    issue = auth_service.issue
    return {
        "match": match["id"],
        "ola": f"/auth/{await issue(conn, ola, 'login', dt.timedelta(minutes=30))}",
        "company": f"/auth/{await issue(conn, company, 'login', dt.timedelta(minutes=30))}",
    }


def shot(page: Page, name: str) -> None:
    """Check the state with axe-core and keep a full-page screenshot of it."""
    assert_accessible(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base: str, link: str, button: str, lang: str) -> None:
    """Open an emailed sign-in link and press its button."""
    page.goto(f"{base}{link}?lang={lang}")
    page.get_by_role("button", name=button).click()


def test_both_parties_write_agree_a_meeting_and_confirm_it_was_held(
    walk: dict[str, str | int], browser: Browser, live_server: str, mailbox: Mailbox
) -> None:
    phone = browser.new_context(viewport={"width": 375, "height": 812}, locale="nb-NO", has_touch=True)
    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    ola, company = phone.new_page(), laptop.new_page()
    match_url = f"{live_server}/me/matches/{walk['match']}"
    try:
        sign_in(ola, live_server, str(walk["ola"]), "Fortsett", "nb")
        sign_in(company, live_server, str(walk["company"]), "Continue", "en")
        ola_opens_the_match(ola, live_server, match_url)
        ola_writes(ola)
        company_reads_and_proposes(company, match_url)
        ola_picks_a_time(ola, match_url)
        for address in ("ola@example.no", "post@robotikk.example"):
            invitation_to(mailbox, address)
        ola_confirms_it_was_held(ola)
        company.reload()
        expect(company.locator(".step-current")).to_contain_text("Met")
        shot(company, "7-laptop-en-met")
    finally:
        phone.close()
        laptop.close()
    assert "Hei! Passer det å møtes" in body_text(mailbox.to("post@robotikk.example")[0])


def invitation_to(mailbox: Mailbox, address: str, seconds: float = 20) -> None:
    """Wait for the worker of `koble serve` to email `address` the meeting's .ics invitation."""
    deadline = time.monotonic() + seconds
    while not any(part.get_content_type() == "text/calendar" for m in mailbox.to(address) for part in m.walk()):
        assert time.monotonic() < deadline, f"no invitation to {address} within {seconds} s"
        time.sleep(0.2)


def ola_opens_the_match(page: Page, base: str, match_url: str) -> None:
    """From the matches list to the match page: the company's profile, why, and the steps."""
    page.goto(f"{base}/me/matches")
    page.get_by_role("link", name="Raufoss Robotikk AS").click()
    expect(page).to_have_url(match_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Raufoss Robotikk AS")
    expect(page.locator(".match-profile")).to_contain_text("Students for robot cells")
    expect(page.locator(".match-why")).not_to_be_empty()
    expect(page.locator('[aria-current="step"]')).to_contain_text("Begge interessert")
    expect(page.get_by_role("link", name="Tilbake til mine koblinger")).to_have_attribute("href", "/me/matches")
    shot(page, "1-phone-nb-match-page")


def ola_writes(page: Page) -> None:
    """An empty message is refused beside the field; a real one is sent and shown."""
    page.get_by_role("button", name="Send melding").click()
    expect(page.locator("#message-error")).to_contain_text("skriv en melding")
    shot(page, "2-phone-nb-empty-message-refused")
    page.get_by_label("Skriv til Raufoss Robotikk AS").fill("Hei! Passer det å møtes på Bright House neste uke?")
    page.get_by_role("button", name="Send melding").click()
    expect(page.get_by_role("status")).to_contain_text("Meldingen er sendt.")
    expect(page.locator(".message-mine")).to_contain_text("Passer det å møtes")
    shot(page, "3-phone-nb-message-sent")


def company_reads_and_proposes(page: Page, match_url: str) -> None:
    """The company sees the message, tries a time in the past (refused, input kept), then proposes two."""
    page.goto(match_url)
    expect(page.locator(".message")).to_contain_text("Passer det å møtes på Bright House")
    past = (dt.datetime.now(OSLO) - dt.timedelta(days=1)).strftime("%Y-%m-%dT10:00")
    page.get_by_label("Time 1").fill(past)
    page.get_by_role("button", name="Send proposal").click()
    expect(page.locator("#time1-error")).to_contain_text("this time has passed")
    expect(page.get_by_label("Time 1")).to_have_value(past)
    expect(page.get_by_label("Place")).to_have_value("Bright House")
    shot(page, "4-laptop-en-past-time-refused")
    day = dt.datetime.now(OSLO).date() + dt.timedelta(days=3)
    page.get_by_label("Time 1").fill(f"{day}T10:00")
    page.get_by_label("Time 2 (optional)").fill(f"{day}T14:30")
    page.get_by_role("button", name="Send proposal").click()
    expect(page.get_by_role("status")).to_contain_text("Your proposal was sent.")
    shot(page, "5-laptop-en-proposal-sent")


def ola_picks_a_time(page: Page, match_url: str) -> None:
    """Ola chooses the afternoon: both are invited by email."""
    page.goto(match_url)
    choices = page.locator('input[name="choice"]')
    expect(choices).to_have_count(2)
    page.get_by_label("14:30", exact=False).check()
    page.get_by_role("button", name="Velg denne tiden").click()
    expect(page.get_by_role("status")).to_contain_text("Møtet er avtalt.")
    expect(page.locator(".meeting-agreed")).to_contain_text("kl. 14:30")
    shot(page, "6-phone-nb-meeting-agreed")


def ola_confirms_it_was_held(page: Page) -> None:
    """After the meeting: "Yes, we met" moves the match to the third step."""
    page.get_by_role("button", name="Ja, vi har møttes").click()
    expect(page.locator('[aria-current="step"]')).to_contain_text("Møtt")
    expect(page.locator(".step-done")).to_have_count(2)
    shot(page, "8-phone-nb-met")
