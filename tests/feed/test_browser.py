"""A real Chromium through `koble serve`: a Norwegian student on a 375 px phone and an English-speaking
company on a laptop each say "Interested" about the other; both see the match and get the email."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from asyncpg import Connection
from playwright.sync_api import Browser, Page, expect

from service.auth import service as auth_service
from tests.conftest import Mailbox, body_text

pytestmark = pytest.mark.browser


@pytest.fixture
async def links(conn: Connection, people: list[asyncpg.Record]) -> dict[str, str]:
    """Sign-in paths for the student and the company (the three participants fit each other).

    Async, and listed before `browser`: the data must be in place before Playwright takes the thread.
    """
    student, company, _ = people
    issue = auth_service.issue
    return {
        "student": f"/auth/{await issue(conn, student['id'], 'login', dt.timedelta(minutes=30))}",
        "company": f"/auth/{await issue(conn, company['id'], 'login', dt.timedelta(minutes=30))}",
    }


def fits_the_phone(page: Page) -> None:
    """Nothing scrolls sideways, and both answers are big enough to hit with a thumb."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for button in page.locator(".card-answers button").all():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 120


def test_student_and_company_both_say_interested_and_both_see_the_match(
    links: dict[str, str], browser: Browser, live_server: str, mailbox: Mailbox, tmp_path: str
) -> None:
    phone = browser.new_context(viewport={"width": 375, "height": 740}, locale="nb-NO", has_touch=True)
    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    student, company = phone.new_page(), laptop.new_page()
    try:
        student_says_yes(student, live_server, links["student"])
        company_says_yes(company, live_server, links["company"])

        student.goto(f"{live_server}/me/matches")
        row = student.locator(".match-row", has_text="Raufoss OT Security AS")
        expect(row).to_contain_text("jobs@raufoss-ot.example")
        expect(row).to_contain_text("Begge interessert")
        assert "jobs@raufoss-ot.example" in body_text(mailbox.wait_for("sigrid@example.no"))
        assert "sigrid@example.no" in body_text(mailbox.wait_for("jobs@raufoss-ot.example"))
    finally:
        student.screenshot(path=f"{tmp_path}/student.png", full_page=True)
        company.screenshot(path=f"{tmp_path}/company.png", full_page=True)
        phone.close()
        laptop.close()


def student_says_yes(page: Page, base: str, link: str) -> None:
    """In Norwegian, on the phone: swipe the municipality away, say yes to the company, undo, yes again
    with the keyboard; no page loads."""
    page.goto(f"{base}{link}")
    page.get_by_role("button", name="Fortsett").click()
    expect(page).to_have_url(f"{base}/me?welcome=1")
    page.get_by_role("navigation").get_by_role("link", name="Forslag").click()
    heading = page.locator("#card-name")
    expect(heading).not_to_be_empty()
    fits_the_phone(page)
    municipality_first = heading.inner_text() != "Raufoss OT Security AS"
    if municipality_first:
        swipe_left(page)
        expect(page.get_by_role("status")).to_contain_text("Du sa «Ikke nå» til Vestre Toten kommune")
        expect(heading).to_have_text("Raufoss OT Security AS")
    page.get_by_role("button", name="Interessert").click()
    expect(page.get_by_role("status")).to_contain_text("Du sa at du er interessert i Raufoss OT Security AS")
    expect(page).to_have_url(f"{base}/me/suggestions")  # no page load: the card was swapped in place

    page.get_by_role("button", name="Angre «Interessert» for Raufoss OT Security AS").click()
    expect(heading).to_have_text("Raufoss OT Security AS")
    expect(heading).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("status")).to_contain_text("Du sa at du er interessert i Raufoss OT Security AS")
    if not municipality_first:
        expect(heading).to_have_text("Vestre Toten kommune")
        swipe_left(page)
        expect(page.get_by_role("status")).to_contain_text("Du sa «Ikke nå» til Vestre Toten kommune")
    expect(page.locator("[data-feed-empty]")).to_contain_text("Ingen flere forslag")


def swipe_left(page: Page) -> None:
    """Drag the card two thirds of its width to the left with a finger (real touch events)."""
    heading = page.locator("#card-name")
    heading.scroll_into_view_if_needed()
    box = heading.bounding_box()
    assert box is not None
    x, y, dx = box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2, -box["width"] * 0.66
    touch = page.context.new_cdp_session(page)
    for kind, at in (("touchStart", x), ("touchMove", x + dx / 2), ("touchMove", x + dx), ("touchEnd", x + dx)):
        points = [] if kind == "touchEnd" else [{"x": at, "y": y}]
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
    touch.detach()


def company_says_yes(page: Page, base: str, link: str) -> None:
    """In English, on a laptop: the student is the card; yes makes the match, announced at once."""
    page.goto(f"{base}{link}?lang=en")
    page.get_by_role("button", name="Continue").click()
    page.goto(f"{base}/me/suggestions")
    expect(page.locator("#card-name")).to_have_text("Sigrid Haugen")
    expect(page.locator(".card")).to_contain_text("Erfaring med nettverksanalyse og Python")
    page.get_by_role("button", name="Interested").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Match! You and Sigrid Haugen both said yes.")
    status.get_by_role("link", name="See my matches").click()
    row = page.locator(".match-row", has_text="Sigrid Haugen")
    expect(row).to_contain_text("sigrid@example.no")
    expect(row).to_contain_text("Both interested")
