"""An event day in a real Chromium through `koble serve`: staff create the event on a laptop, a
Norwegian student and an English company sign up on phones (375 x 812), the company asks for a meeting
and the student accepts, staff schedule and publish, both see their agendas, staff check them in and
close the event, and the held meeting appears in the follow-up funnel. axe-core checks every page."""

from __future__ import annotations

import datetime as dt
import re

import asyncpg
import pytest
from asyncpg import Connection
from icalendar import Calendar
from playwright.sync_api import Browser, BrowserContext, Page, expect

from service.auth import service as auth_service
from tests.conftest import Mailbox
from tests.factories import create_participant, create_staff
from tests.support import assert_accessible

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 812}


@pytest.fixture
async def people(conn: Connection) -> dict[str, asyncpg.Record]:
    """A Norwegian student and an English company who fit each other, and a staff member."""
    student = await create_participant(
        conn, "student", name="Ingrid Hansen", email="ingrid@example.no", domains=["cyber_ict"], language="nb",
        offers=["Penetrasjonstesting og Python"], seeks=["Sommerjobb i IT-sikkerhet"])
    company = await create_participant(
        conn, "company", name="Mjøsa Secure AS", email="hr@mjosa-secure.example", domains=["cyber_ict"],
        language="en", offers=["Summer jobs in security testing"], seeks=["Students who test software"])
    staff = await create_staff(conn, "admin", "events@brighthouse.example", name="Eva")
    return {"student": student, "company": company, "staff": staff}


@pytest.fixture
async def links(conn: Connection, people: dict[str, asyncpg.Record]) -> dict[str, str]:
    """Sign-in paths for the three (made before Playwright takes the thread)."""
    life = dt.timedelta(minutes=30)
    return {
        "student": f"/auth/{await auth_service.issue(conn, people['student']['id'], 'login', life)}",
        "company": f"/auth/{await auth_service.issue(conn, people['company']['id'], 'login', life)}",
        "staff": f"/staff/auth/{await auth_service.issue(conn, people['staff']['id'], 'login', life, 'staff')}",
    }


def visit(page: Page, url: str) -> None:
    """Open a page and check it with axe."""
    page.goto(url)
    assert_accessible(page)


def sign_in(page: Page, base: str, link: str, button: str) -> None:
    """Open an emailed link and press Continue."""
    page.goto(f"{base}{link}")
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()


def test_an_event_day_from_creation_to_the_follow_up_funnel(
    links: dict[str, str], browser: Browser, live_server: str, mailbox: Mailbox, tmp_path: str,
) -> None:
    laptop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO")
    phones: list[BrowserContext] = [browser.new_context(viewport=PHONE, locale=loc, has_touch=True)  # type: ignore[arg-type]
                                    for loc in ("nb-NO", "en-GB")]
    staff, student, company = laptop.new_page(), phones[0].new_page(), phones[1].new_page()
    try:
        event = staff_create(staff, live_server, links["staff"])
        sign_up(student, live_server, links["student"], event, "Fortsett", "Meld deg på", "")
        sign_up(company, live_server, links["company"], event, "Fortsett", "Sign up", "?lang=en")
        company.get_by_label("Why meet? (a short reason, optional)").fill("Summer job in security testing")
        company.get_by_role("button", name="Ask for a meeting").click()
        expect(company.get_by_role("status")).to_contain_text("Request sent")
        assert_accessible(company)
        visit(student, f"{live_server}/me/events/{event}")
        student.get_by_role("button", name="Godta Mjøsa Secure AS").click()
        expect(student.get_by_role("status")).to_contain_text("Godtatt")
        assert_accessible(student)

        staff_schedule_and_publish(staff, live_server, event)
        agenda_shows(student, live_server, event, "Mjøsa Secure AS", "Endelig")
        agenda_shows(company, live_server, event, "Ingrid Hansen", "Final")
        mailbox.wait_for("ingrid@example.no")
        mailbox.wait_for("hr@mjosa-secure.example")
        staff_check_in_and_close(staff, live_server, event)
        visit(staff, f"{live_server}/staff/funnel")
        held = staff.get_by_role("row", name=re.compile("Møte holdt|Meeting held"))
        expect(held.first).to_contain_text("1")
    finally:
        for name, page in (("staff", staff), ("student", student), ("company", company)):
            page.screenshot(path=f"{tmp_path}/{name}.png", full_page=True)
        laptop.close()
        for phone in phones:
            phone.close()


def staff_create(page: Page, base: str, link: str) -> int:
    """Staff sign in and create the event (two sessions tomorrow, three tables)."""
    sign_in(page, base, link, "Fortsett")
    visit(page, f"{base}/staff/events")
    page.get_by_role("link", name="Nytt arrangement").click()
    assert_accessible(page)
    day = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    page.get_by_label("Navn", exact=True).fill("Sikkerhetsdagen")
    page.get_by_label("Økter").fill(f"{day} 09:00-10:00\n{day} 13:00-14:00")
    page.get_by_label("Antall bord eller rom").fill("3")
    page.get_by_role("button", name="Lagre").click()
    expect(page.get_by_role("status")).to_contain_text("Arrangementet er opprettet")
    assert_accessible(page)
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def sign_up(page: Page, base: str, link: str, event: int, cont: str, button: str, lang: str) -> None:
    """A participant signs in on the phone and signs up in one click."""
    sign_in(page, base, link, cont)
    visit(page, f"{base}/events/{event}{lang}")
    page.get_by_role("button", name=button).click()
    expect(page).to_have_url(f"{base}/me/events/{event}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page)


def staff_schedule_and_publish(page: Page, base: str, event: int) -> None:
    """Staff make the schedule (objective, bound, gap shown), then publish the agendas."""
    visit(page, f"{base}/staff/events/{event}")
    page.get_by_role("button", name="Lag møteplanen").click()
    expect(page.get_by_role("status")).to_contain_text("Satte opp 1 møter")
    expect(page.get_by_text("Øvre grense")).to_be_visible()
    page.get_by_role("button", name="Publiser agendaene").click()
    expect(page.get_by_role("status")).to_contain_text("Publisert: 2")
    assert_accessible(page)
    visit(page, f"{base}/staff/events/{event}/tables")


def agenda_shows(page: Page, base: str, event: int, other: str, final: str) -> None:
    """The attendee's agenda names the other party, is final, and its .ics parses back."""
    visit(page, f"{base}/me/events/{event}/agenda")
    expect(page.locator(".agenda-table")).to_contain_text(other)
    expect(page.locator(".agenda")).to_contain_text(final)
    assert page.locator(".qr-box svg").count() == 1
    ics = page.request.get(f"{base}/me/events/{event}/agenda.ics")
    meetings = Calendar.from_ical(ics.body()).walk("VEVENT")
    assert len(meetings) == 1 and other in str(meetings[0]["summary"])


def staff_check_in_and_close(page: Page, base: str, event: int) -> None:
    """Staff find both attendees by name and check them in, then close the event."""
    for name in ("Ingrid", "Mjøsa"):
        visit(page, f"{base}/staff/events/{event}/checkin")
        page.get_by_label("Navn eller e-post").fill(name)
        page.get_by_role("button", name="Søk").click()
        page.get_by_role("button", name=re.compile("^Sjekk inn")).click()
        expect(page.get_by_role("status")).to_contain_text("Sjekket inn")
    visit(page, f"{base}/staff/events/{event}")
    page.get_by_role("button", name="Avslutt arrangementet og følg opp").click()
    expect(page.get_by_role("status")).to_contain_text("1 møter holdt")
    assert_accessible(page)
