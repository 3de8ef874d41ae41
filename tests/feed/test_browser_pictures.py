"""Pictures and leaving in a real Chromium through `koble serve` (issue 12): a participant uploads a photo or
logo (a wrong file first), sees it on their profile; the other party sees it on the feed card beside a
generated avatar; then the uploader deletes the account, and their match partner finds the match closed
with the reason and an email in their language. Phone 375x812 in Bokmål, laptop in English; axe-core on
every state; screenshots in /tmp/shots-pictures/."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from asyncpg import Connection
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from service.auth import service as auth_service
from tests.conftest import Mailbox, body_text
from tests.factories import MakeMatch, MakeParticipant
from tests.support import assert_accessible

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-pictures")
WORDS = {
    "nb": {"upload": "Last opp bildet", "not_image": "Filen er ikke et bilde.", "not_now": "Ikke nå",
           "closed": "Denne koblingen er avsluttet fordi den andre parten har slettet Koble-kontoen sin.",
           "delete": "Slett kontoen min", "subject": "En av koblingene dine er avsluttet"},
    "en": {"upload": "Upload the picture", "not_image": "The file is not a picture.", "not_now": "Not now",
           "closed": "This match is closed because the other party deleted their Koble account.",
           "delete": "Delete my account", "subject": "One of your matches is closed"},
}
WALKS = {  # variant: viewport, language, who uploads (the other two see them)
    "phone-nb": ({"width": 375, "height": 812}, "nb", "student"),
    "laptop-en": ({"width": 1280, "height": 900}, "en", "company"),
}


@pytest.fixture(params=list(WALKS))
async def walk(
    request: pytest.FixtureRequest, conn: Connection, make_participant: MakeParticipant, make_match: MakeMatch,
    sigrid: dict[str, Any], raufoss_ot: dict[str, Any], vestre_toten: dict[str, Any],
) -> dict[str, Any]:
    """The variant's people (all speaking its language), the uploader's match with the municipality, sign-in links."""
    viewport, language, uploader_kind = WALKS[request.param]
    people = {f["kind"]: await make_participant(**{**f, "language": language, "capacity": 3})  # room after a match
              for f in (sigrid, raufoss_ot, vestre_toten)}
    uploader = people[uploader_kind]
    viewer = people["company" if uploader_kind == "student" else "student"]
    partner = people["public_body"]
    match = await make_match(uploader, partner, "mutual", "participants")
    links = {role: f"/auth/{await auth_service.issue(conn, row['id'], 'login', dt.timedelta(minutes=30))}"
             for role, row in (("uploader", uploader), ("uploader_again", uploader), ("viewer", viewer),
                               ("partner", partner))}  # links are single-use
    return {"name": request.param, "viewport": viewport, "language": language, "links": links, "match": match,
            "uploader": uploader["name"], "partner": partner, "viewer": viewer["name"]}


def logo_file(tmp_path: Path) -> Path:
    """A 1,000 px PNG logo with a transparent corner."""
    image = Image.new("RGBA", (1000, 700), (15, 118, 110, 255))
    image.paste((0, 0, 0, 0), (0, 0, 200, 200))
    path = tmp_path / "logo.png"
    image.save(path)
    return path


def shot(page: Page, walk: dict[str, Any], step: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{walk['name']}-{step}.png"), full_page=True)


def sign_in(page: Page, base: str, link: str, language: str) -> None:
    page.goto(f"{base}{link}?lang={language}")
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/me"))


def test_upload_see_it_on_cards_then_leave(
    walk: dict[str, Any], browser: Browser, live_server: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    words = WORDS[walk["language"]]
    context = browser.new_context(viewport=walk["viewport"], locale="nb-NO" if walk["language"] == "nb" else "en-GB")
    page = context.new_page()
    try:
        uploads_a_picture(page, live_server, walk, words, tmp_path)
        context.clear_cookies()
        sees_pictures_on_cards(page, live_server, walk, words)
        context.clear_cookies()
        sign_in(page, live_server, walk["links"]["uploader_again"], walk["language"])
        page.goto(f"{live_server}/me/delete")
        page.get_by_role("button", name=words["delete"]).click()
        expect(page).to_have_url(re.compile(r"\?deleted=1"))
        context.clear_cookies()
        partner_finds_the_match_closed(page, live_server, walk, words, mailbox)
    finally:
        shot(page, walk, "last")
        context.close()


def uploads_a_picture(page: Page, base: str, walk: dict[str, Any], words: dict[str, str], tmp_path: Path) -> None:
    """A text file first (the error names the field), then a logo: shown on the profile, cleaned to 256 px."""
    sign_in(page, base, walk["links"]["uploader"], walk["language"])
    page.goto(f"{base}/me/edit")
    expect(page.locator(".photo-form [role=img]")).to_have_attribute("aria-label", walk["uploader"])
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # the file field fits
    assert_accessible(page)
    shot(page, walk, "1-edit-initials")
    wrong = tmp_path / "cv.pdf"
    wrong.write_bytes(b"%PDF-1.7 a CV, not a picture")
    page.set_input_files("#photo", str(wrong))
    page.get_by_role("button", name=words["upload"]).click()
    expect(page.locator("#photo-error")).to_contain_text(words["not_image"])
    expect(page.locator("#photo")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page)
    shot(page, walk, "2-edit-error")
    page.set_input_files("#photo", str(logo_file(tmp_path)))
    page.get_by_role("button", name=words["upload"]).click()
    expect(page).to_have_url(re.compile(r"/me\?photo=1"))
    picture = page.get_by_role("img", name=walk["uploader"]).first
    expect(picture).to_have_attribute("src", re.compile(r"^/pictures/[0-9a-f]{16}/"))
    served = page.request.get(base + (picture.get_attribute("src") or ""))
    assert served.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(served.body())).size == (256, 179)
    assert_accessible(page)
    shot(page, walk, "3-me-with-photo")


def sees_pictures_on_cards(page: Page, base: str, walk: dict[str, Any], words: dict[str, str]) -> None:
    """The viewer's feed: the uploader's card carries the picture, the municipality's its initials."""
    sign_in(page, base, walk["links"]["viewer"], walk["language"])
    page.goto(f"{base}/me/suggestions")
    seen: set[str] = set()
    for turn in range(2):
        heading = page.locator("#card-name")
        expect(heading).not_to_be_empty()
        name = heading.inner_text()
        avatar = page.locator(".card-avatar .avatar")
        if name == walk["uploader"]:
            expect(avatar).to_have_attribute("alt", name)
            expect(avatar).to_have_attribute("src", re.compile(r"^/pictures/"))
        else:
            expect(avatar).to_have_attribute("aria-label", name)
            expect(avatar).to_have_class(re.compile(r"avatar-public_body"))
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # The swapped-in card fades in (0.2 s): axe reads colours once it is opaque, not half-way.
        settled(page)
        assert_accessible(page)
        shot(page, walk, f"4-card-{len(seen) + 1}")
        seen.add(name)
        page.get_by_role("button", name=words["not_now"], exact=True).click()  # the next card is swapped in by feed.js
        if turn == 0:
            expect(heading).not_to_have_text(name)
    # The last answer empties the feed: feed.js reloads the page to show the dead end (tips, the digest);
    # wait for it, or the next navigation races the reload.
    expect(page.locator("[data-digest]")).to_be_visible()
    page.wait_for_load_state("load")
    assert walk["uploader"] in seen


def settled(page: Page) -> None:
    """Wait until no CSS transition runs (polled through evaluate: the pages' CSP forbids wait_for_function)."""
    for _ in range(100):
        if page.evaluate("document.getAnimations().every(a => a.playState !== 'running')"):
            return
        page.wait_for_timeout(20)
    pytest.fail("the card's transition did not end within 2 s")


def partner_finds_the_match_closed(
    page: Page, base: str, walk: dict[str, Any], words: dict[str, str], mailbox: Mailbox
) -> None:
    """The municipality: an email in its language, and the match page says why the match closed."""
    notice = mailbox.wait_for(walk["partner"]["email"])
    assert words["subject"] in " ".join(str(notice["Subject"]).split())
    assert f"/me/matches/{walk['match']['id']}?lang={walk['language']}" in body_text(notice)
    sign_in(page, base, walk["links"]["partner"], walk["language"])
    page.goto(f"{base}/me/matches/{walk['match']['id']}")
    expect(page.get_by_role("status").filter(has_text=words["closed"])).to_be_visible()
    assert_accessible(page)
    shot(page, walk, "5-match-closed")
    page.goto(f"{base}/me/matches")
    expect(page.locator(".match-row")).not_to_contain_text("None")  # the departed party's row has no kind
    assert_accessible(page)
    shot(page, walk, "6-matches-list")
