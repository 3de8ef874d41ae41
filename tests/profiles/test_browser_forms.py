"""A real Chromium walks issue 12's walls 8 and 12: registration in steps with progress on a 375x812 phone,
interest boxes added and removed, a failed submit that focuses the error summary, capacity errors, the
plain form without JavaScript, and the staff audit, admin, funnel, hand-pick and match pages at 320 px
with words for codes and Oslo times; nb and en. Screenshots go to /tmp/shots-forms/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import service as matches
from tests.conftest import LAPTOP, Mailbox, link_in
from tests.factories import create_match, create_participant, create_staff
from tests.support import assert_accessible

pytestmark = pytest.mark.browser
T = TypeVar("T")
SHOTS = Path("/tmp/shots-forms")
PHONE: ViewportSize = {"width": 375, "height": 812}
NARROW: ViewportSize = {"width": 320, "height": 800}
ADMIN = "ada.admin@brighthouse.example"
WORDS = {
    "nb": {"next": "Neste", "step": "Steg {n} av 5", "add": "Legg til et tilbud til", "remove": "Fjern Tilbud {n}",
           "submit": "Registrer deg", "tre": "Skriv tallet med sifre, for eksempel 3 (du skrev «tre»).",
           "comma": "uten komma eller punktum (du skrev «2,5»)", "sent": "e-post", "student": "Student",
           "name": "Navn", "email": "E-postadresse", "fix": "Rett opp dette før du går videre"},
    "en": {"next": "Next", "step": "Step {n} of 5", "add": "Add another offer", "remove": "Remove Offer {n}",
           "submit": "Register", "tre": "Write the number with digits, like 3 (you wrote “tre”).",
           "comma": "without a comma or point (you wrote “2,5”)", "sent": "email", "student": "Student",
           "name": "Name", "email": "Email address", "fix": "Please fix this before you continue"},
}


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


def shot(page: Page, name: str) -> None:
    """Keep a full-page screenshot for the closing note."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def no_sideways_scroll(page: Page) -> bool:
    """Nothing is wider than the window (WCAG 1.4.10 reflow)."""
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"))


def focused_is_error_summary(page: Page) -> bool:
    """The keyboard focus is on the error summary (as after a failed submit)."""
    return bool(page.evaluate("document.activeElement.classList.contains('error-summary')"))


def onward(page: Page, words: dict[str, str]) -> None:
    """Press the visible "Next: ..." button of the current step."""
    page.get_by_role("button", name=re.compile(rf"^{words['next']}:")).locator("visible=true").click()


def test_registration_on_a_phone_in_steps_then_on_a_laptop_and_without_javascript(
    browser: Browser, live_server: str, mailbox: Mailbox,
) -> None:
    for language in ("nb", "en"):
        context = browser.new_context(viewport=PHONE, locale="nb-NO", has_touch=True)
        phone_walk(context.new_page(), live_server, language)
        context.close()
    context = browser.new_context(viewport=LAPTOP, locale="en-GB")
    laptop_walk(context.new_page(), live_server)
    context.close()
    # Without forms.js (blocked: axe still runs, which needs JavaScript in the page) the form is one plain page.
    context = browser.new_context(viewport=PHONE, locale="nb-NO")
    context.route("**/static/forms.js", lambda route: route.abort())
    plain_walk(context.new_page(), live_server)
    context.close()


def phone_walk(page: Page, live_server: str, language: str) -> None:
    words = WORDS[language]
    page.goto(f"{live_server}/register?lang={language}")
    progress = page.locator(".form-progress-text")
    expect(progress).to_contain_text(words["step"].format(n=1))
    expect(page.locator("#step-2")).to_be_hidden()
    expect(page.get_by_role("button", name=words["submit"], exact=True)).to_be_hidden()
    # Measured for the closing note: the first step's height on the phone (the whole form was 5,150 px).
    height = page.evaluate("document.scrollingElement.scrollHeight")
    assert height < 2600, height
    assert no_sideways_scroll(page)
    assert_accessible(page)
    shot(page, f"register-phone-{language}-step1")

    page.get_by_label(words["student"], exact=True).check()
    page.get_by_label(words["name"], exact=True).fill("Åse Ødegård Bæk")
    page.get_by_label(words["email"]).fill(f"ase.{language}@example.no")
    onward(page, words)
    expect(progress).to_contain_text(words["step"].format(n=2))
    expect(page.locator("#step-2-title")).to_be_focused()
    expect(page.locator("#step-1")).to_be_hidden()
    page.locator("#domains-cyber_ict").check()
    onward(page, words)

    # Step 3: a fourth offer box, filled, then removed again; the boxes are numbered 1..3 after.
    page.locator("#offers-1").fill("Erfaring med Python og Wireshark")
    page.get_by_role("button", name=words["add"]).click()
    expect(page.locator("#offers-4")).to_be_focused()
    page.locator("#offers-4").fill("Noe jeg angrer på")
    assert_accessible(page)
    shot(page, f"register-phone-{language}-step3-four-boxes")
    page.get_by_role("button", name=words["remove"].format(n=4)).click()
    expect(page.locator(".interests").first.locator("textarea")).to_have_count(3)
    onward(page, words)

    page.locator("#capacity").fill("tre")
    onward(page, words)
    expect(progress).to_contain_text(words["step"].format(n=5))
    page.locator("#consent").check()
    page.get_by_role("button", name=words["submit"], exact=True).click()

    # The failed submit: focus on the summary, the capacity's step shown with its error and the input kept.
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text(words["fix"])
    expect(summary).to_be_focused()
    assert focused_is_error_summary(page)
    expect(page.locator("#capacity-error")).to_contain_text(words["tre"])
    expect(page.locator("#capacity")).to_be_visible()
    expect(page.locator("#capacity")).to_have_value("tre")
    expect(progress).to_contain_text(words["step"].format(n=4))
    assert_accessible(page)
    shot(page, f"register-phone-{language}-capacity-error")

    page.locator("#capacity").fill("2")
    page.get_by_role("button", name=words["submit"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(words["sent"])
    assert_accessible(page)


def laptop_walk(page: Page, live_server: str) -> None:
    words = WORDS["en"]
    page.goto(f"{live_server}/register?lang=en")
    expect(page.locator(".form-progress")).to_be_hidden()  # wide screens show every step
    expect(page.locator("#step-5")).to_be_visible()
    page.get_by_label("Company").check()
    page.get_by_label("Name", exact=True).fill("Raufoss Robotikk AS")
    page.get_by_label("Email address").fill("post@robotikk.example")
    page.locator("#domains-industrial_tech").check()
    page.locator("#offers-1").fill("Summer jobs in robot cells")
    page.get_by_role("button", name=words["add"]).click()
    page.locator("#offers-4").fill("A master's thesis on welding robots")
    page.locator("#capacity").fill("2,5")
    page.locator("#consent").check()
    assert_accessible(page)
    page.get_by_role("button", name=words["submit"], exact=True).click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#capacity-error")).to_contain_text(words["comma"])
    expect(page.locator("#offers-4")).to_have_value("A master's thesis on welding robots")
    assert_accessible(page)
    shot(page, "register-laptop-en-capacity-error")


def plain_walk(page: Page, live_server: str) -> None:
    words = WORDS["nb"]
    page.goto(f"{live_server}/register?lang=nb")
    for step in range(1, 6):
        expect(page.locator(f"#step-{step}")).to_be_visible()  # no script: one plain form, every step shown
    page.locator("#offers-1").fill("Python")
    page.get_by_role("button", name=words["add"]).click()  # a round trip gives one more box
    expect(page.locator("#offers-4")).to_be_visible()
    expect(page.locator("#offers-1")).to_have_value("Python")
    expect(page.locator(".error-summary")).to_have_count(0)
    assert_accessible(page)
    shot(page, "register-phone-nb-no-javascript-added-box")
    page.locator("#name").press("Enter")  # Enter submits the form, it does not add yet another box
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator(".interests").first.locator("textarea")).to_have_count(4)
    assert_accessible(page)


def seed_staff_pages(settings: Settings) -> None:
    """An admin and a pair that met (a timeline with Koble and a participant), for the pages."""
    async def work(conn: asyncpg.Connection) -> None:
        await create_staff(conn, "admin", ADMIN, name="Ada")
        student = await create_participant(conn, "student", name="Sondre Student",
                                           email="sondre.student.with.a.long.address@stud.ntnu.example", embed=False)
        company = await create_participant(conn, "company", name="Hydro Aluminium Raufoss",
                                           email="very.long.contact.address@hydro-aluminium.example", embed=False)
        match = await create_match(conn, settings, student, company, "mutual", "participants")
        # The student says they met: a participant in the timeline, and days in "both interested" (0,0).
        await matches.transition(conn, settings, match["id"], "meeting_held", Actor.participant(student["id"]))
    in_thread(work, settings.database_url or "")


def test_staff_pages_use_words_oslo_time_and_reflow_at_320_px(
    browser: Browser, live_server: str, settings: Settings, mailbox: Mailbox,
) -> None:
    seed_staff_pages(settings)
    context = browser.new_context(viewport=LAPTOP, locale="nb-NO")
    page = context.new_page()
    page.goto(f"{live_server}/staff/signin?lang=nb")
    page.get_by_label("E-postadresse").fill(ADMIN)
    page.get_by_role("button", name="Send meg en innloggingslenke").click()
    page.goto(link_in(mailbox.wait_for(ADMIN)))
    page.get_by_role("button", name="Fortsett").click()
    match_id = in_thread(lambda conn: conn.fetchval("SELECT max(id) FROM matches"), settings.database_url or "")
    page.goto(f"{live_server}/staff/matches/{match_id}")  # audited as view_match
    page.goto(f"{live_server}/staff/handpick?q1=Sondre&q2=Hydro")  # audited as search_participants
    page.set_viewport_size(NARROW)
    for language in ("nb", "en"):
        staff_pages_at_320(page, live_server, language, match_id)
    context.close()


def staff_pages_at_320(page: Page, live_server: str, language: str, match_id: int) -> None:
    page.goto(f"{live_server}/staff/audit?lang={language}")
    table = page.locator("table.audit")
    expect(table).to_contain_text("Logget inn" if language == "nb" else "Signed in")
    expect(table).to_contain_text("Så på en kobling" if language == "nb" else "Viewed a match")
    expect(table).to_contain_text("(Oslo)")
    text = page.locator("main").inner_text()
    for code in ("sign_in", "view_match", "search_participants", "staff_add"):
        assert code not in text, code
    assert re.search(r"\d\d\.\d\d\.20\d\d \d\d:\d\d:\d\d \(Oslo\)" if language == "nb"
                     else r"\d{1,2} \w{3} 20\d\d \d\d:\d\d:\d\d \(Oslo\)", text), text[:500]
    assert no_sideways_scroll(page)
    assert_accessible(page)
    shot(page, f"staff-audit-320-{language}")

    page.goto(f"{live_server}/staff/matches/{match_id}")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("(Oslo)")
    expect(timeline).to_contain_text("Koble (automati")
    expect(timeline).to_contain_text("Deltakeren" if language == "nb" else "The participant")
    assert "· participant" not in timeline.inner_text() and "· logged" not in timeline.inner_text()
    assert no_sideways_scroll(page)
    assert_accessible(page)
    shot(page, f"staff-match-320-{language}")

    for path in ("/staff/admin", "/staff/funnel", "/staff/handpick?q1=Sondre&q2=Hydro"):
        page.goto(f"{live_server}{path}")
        assert no_sideways_scroll(page), path
        assert_accessible(page)
        shot(page, f"staff-{path.split('/')[2].split('?')[0]}-320-{language}")
    page.goto(f"{live_server}/staff/funnel")
    decimals = re.findall(r"\d[.,]\d", page.locator("table").first.inner_text())
    assert decimals and all(("," if language == "nb" else ".") in number for number in decimals), decimals
