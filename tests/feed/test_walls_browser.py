"""Issue 12, walls 1, 2 and 6 in a real Chromium through `koble serve`, on a 375x812 phone and a 1280x800
laptop, in Bokmål and English: the first screen after the link offers the feed; the whole card fits
above its sticky buttons with "1 of 3"; Undo brings back exactly the card answered and a reload keeps
it; the empty feed gives tips and the digest; a full feed names the number, links to change it and lists
the matches in progress. axe-core checks every state. Screenshots go to $FEED_SHOTS_DIR when it is set."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import asyncpg
import pytest
from asyncpg import Connection
from playwright.sync_api import Browser, FloatRect, Page, ViewportSize, expect

from service.auth import service as auth_service
from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import service as matches
from tests.factories import MakeParticipant
from tests.support import assert_accessible

pytestmark = pytest.mark.browser

VIEWPORTS: dict[str, ViewportSize] = {"phone": {"width": 375, "height": 812}, "laptop": {"width": 1280, "height": 800}}
WORDS = {
    "nb": {"continue": "Fortsett", "see": "Se forslagene mine", "not_now": "Ikke nå", "of": "av",
           "undo": "Angre", "tips": "Slik kan du møte flere", "digest": "Send meg e-post om nye som passer meg",
           "stop": "Stopp disse e-postene", "one_match": "Du har 1 aktiv kobling, og",
           "change": "Endre hvor mange du kan ta om gangen", "in_progress": "Koblingene dine som pågår"},
    "en": {"continue": "Continue", "see": "See my suggestions", "not_now": "Not now", "of": "of",
           "undo": "Undo", "tips": "Ways to meet more people", "digest": "Email me about new people who fit me",
           "stop": "Stop these emails", "one_match": "You have 1 active match, and",
           "change": "Change how many you can take at a time", "in_progress": "Your matches in progress"},
}


@pytest.fixture
async def walk(
    conn: Connection, people: list[asyncpg.Record], make_participant: MakeParticipant, settings: Settings
) -> dict[str, str]:
    """Sign-in paths: the student with three cards, and a student whose one place is taken.

    Async, and listed before `browser`: the data must be in place before Playwright takes the thread.
    """
    student, _company, municipality = people
    # A long card, as real postings are: three offers and two wishes of a sentence each.
    await make_participant(
        "company", name="Mjøsa Industrisikkerhet AS", organisation="Mjøsa Industrisikkerhet AS", domains=["cyber_ict"],
        engagements=["thesis", "summer_job"],
        offers=["Masteroppgave om sikkerhetsovervåking av industrielle styringssystemer (OT/SCADA) i produksjon",
                "Sommerjobb i vårt sikkerhetsteam på Raufoss, med veileder og eget testlaboratorium",
                "Tilgang til ekte anleggsdata for analyse, under taushetsplikt"],
        seeks=["Studenter som kan nettverksanalyse og Python, gjerne med interesse for industri",
               "Noen som vil skrive om angrepsdeteksjon i OT-nettverk"],
    )
    full = await make_participant("student", name="Ola Nordmann", email="ola@example.no", capacity=1,
                                  domains=["cyber_ict"], seeks=["Sommerjobb innen IT-sikkerhet"],
                                  offers=["Python og Linux"])
    await matches.create(conn, settings, (full["id"], municipality["id"]), "mutual", "participants", Actor.system())
    # The student has just registered: the link in the email confirms the address (wall 6: what comes next).
    await conn.execute("UPDATE participants SET verified_at = NULL WHERE id = $1", student["id"])
    issue = auth_service.issue
    return {
        "student": f"/auth/{await issue(conn, student['id'], 'verify', dt.timedelta(minutes=30))}",
        "full": f"/auth/{await issue(conn, full['id'], 'login', dt.timedelta(minutes=30))}",
    }


class Shots:
    """Screenshots of each state, named by device, language and state."""

    def __init__(self, page: Page, prefix: str, folder: Path) -> None:
        self.page, self.prefix, self.folder = page, prefix, folder

    def take(self, state: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.folder / f"{self.prefix}-{state}.png"))


def box(page: Page, selector: str) -> FloatRect:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return found


def card_fits_above_the_buttons(page: Page, height: int) -> None:
    """Name, organisation, picture slot, why, offers and wishes all end above the answers; the answers on screen."""
    buttons = box(page, ".card-answers")
    assert buttons["y"] + buttons["height"] <= height, buttons
    for part in (".card-head", "#card-name", ".card-meta", ".card-why", "[data-field=offers]", "[data-field=seeks]"):
        found = box(page, part)
        assert found["y"] >= 0 and found["y"] + found["height"] <= buttons["y"] + 1, (part, found, buttons)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def header_is_one_line(page: Page) -> None:
    """The brand and every menu entry on one row: the menu did not wrap (on a phone it scrolls sideways)."""
    tops = page.eval_on_selector_all(
        ".top .brand, .top nav > a, .top nav > form", "items => items.map(i => i.getBoundingClientRect().top)")
    assert len(tops) >= 5 and max(tops) - min(tops) <= 2, tops
    assert box(page, "header.top")["height"] <= 72


@pytest.mark.parametrize("language", ["nb", "en"])
@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_the_feed_walls_on_phone_and_laptop(
    walk: dict[str, str], browser: Browser, live_server: str, tmp_path: Path, device: str, language: str
) -> None:
    words, viewport = WORDS[language], VIEWPORTS[device]
    context = browser.new_context(viewport=viewport, locale="nb-NO" if language == "nb" else "en-GB",
                                  has_touch=device == "phone")
    page = context.new_page()
    shots = Shots(page, f"after-{device}-{language}", Path(os.environ.get("FEED_SHOTS_DIR", tmp_path)))
    try:
        first_screen_offers_the_feed(page, live_server, walk["student"], words, viewport, shots)
        undo_and_reload_keep_the_card(page, words, viewport, shots)
        empty_feed_gives_tips_and_the_digest(page, words, shots)
        context.clear_cookies()
        full_feed_names_the_number_and_the_way_out(page, live_server, walk["full"], words, language, shots)
    finally:
        context.close()


def first_screen_offers_the_feed(
    page: Page, base: str, link: str, words: dict[str, str], viewport: ViewportSize, shots: Shots
) -> None:
    """After the link: /me, with the way to the suggestions above the fold (wall 6)."""
    page.goto(f"{base}{link}?lang={'en' if words['of'] == 'of' else 'nb'}")
    page.get_by_role("button", name=words["continue"]).click()
    expect(page).to_have_url(f"{base}/me?welcome=1")
    button = page.get_by_role("link", name=words["see"])
    expect(button).to_be_visible()
    found = button.bounding_box()
    assert found is not None and found["y"] + found["height"] <= viewport["height"], found
    header_is_one_line(page)
    assert_accessible(page)
    shots.take("1-welcome")
    button.click()


def undo_and_reload_keep_the_card(page: Page, words: dict[str, str], viewport: ViewportSize, shots: Shots) -> None:
    """The card fits with "1 of 3"; Not now, then Undo brings it back; a reload keeps it (walls 1, 6)."""
    name, progress = page.locator("#card-name"), page.locator("[data-field=progress]")
    expect(name).not_to_be_empty()
    expect(progress).to_have_text(f"1 {words['of']} 3")
    shots.take("2-card")
    header_is_one_line(page)
    card_fits_above_the_buttons(page, viewport["height"])
    assert_accessible(page)
    first = name.inner_text()
    page.locator(".card-answers").get_by_role("button", name=words["not_now"]).click()
    expect(progress).to_have_text(f"2 {words['of']} 3")
    expect(name).not_to_have_text(first)
    card_fits_above_the_buttons(page, viewport["height"])
    page.locator("[data-undo] button").click()
    expect(name).to_have_text(first)
    expect(progress).to_have_text(f"1 {words['of']} 3")
    assert_accessible(page)
    shots.take("3-undone")
    page.reload()
    expect(name).to_have_text(first)
    for _ in range(2):  # every card of the three fits, not just the first
        page.locator(".card-answers").get_by_role("button", name=words["not_now"]).click()
        expect(name).not_to_have_text(first)
        first = name.inner_text()
        card_fits_above_the_buttons(page, viewport["height"])


def empty_feed_gives_tips_and_the_digest(page: Page, words: dict[str, str], shots: Shots) -> None:
    """The last Not now: the page comes back with tips from the profile and the digest offer (wall 2)."""
    page.locator(".card-answers").get_by_role("button", name=words["not_now"]).click()
    expect(page.get_by_role("heading", name=words["tips"])).to_be_visible()
    expect(page.locator("[data-tip]").first).to_be_visible()
    expect(page.get_by_role("status")).not_to_be_empty()  # what the last answer did survives the reload
    assert_accessible(page)
    shots.take("4-empty")
    page.get_by_role("button", name=words["digest"]).click()
    expect(page.get_by_role("button", name=words["stop"])).to_be_visible()
    assert_accessible(page)
    shots.take("5-digest-on")


def full_feed_names_the_number_and_the_way_out(
    page: Page, base: str, link: str, words: dict[str, str], language: str, shots: Shots
) -> None:
    """One place, taken: the number in the right form, the link to change it, the match in progress (wall 2)."""
    page.goto(f"{base}{link}?lang={language}")
    page.get_by_role("button", name=words["continue"]).click()
    page.goto(f"{base}/me/suggestions")
    empty = page.locator("[data-feed-empty]")
    expect(empty).to_contain_text(words["one_match"])
    expect(empty.get_by_role("heading", name=words["in_progress"])).to_be_visible()
    expect(empty.locator(".match-row")).to_contain_text("Vestre Toten kommune")
    assert_accessible(page)
    shots.take("6-capacity")
    empty.get_by_role("link", name=words["change"]).click()
    expect(page).to_have_url(f"{base}/me/edit#capacity")
    expect(page.locator("#capacity")).to_have_value("1")
