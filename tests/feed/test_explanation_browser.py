"""A feed card's explanation in a real Chromium, on a 375x812 phone and a laptop, in Bokmål and English:
both directions quoted whole, the terms the two quotes share highlighted (<mark>), no WCAG 2.1 A/AA
violation (axe-core), nothing scrolling sideways."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import asyncpg
import pytest
from asyncpg import Connection
from playwright.sync_api import Browser, ViewportSize, expect

from service.auth import service as auth_service
from tests.support import assert_accessible

pytestmark = pytest.mark.browser

PHONE = ViewportSize(width=375, height=812)
LAPTOP = ViewportSize(width=1280, height=800)


@pytest.fixture
async def links(conn: Connection, people: list[asyncpg.Record]) -> dict[str, str]:
    """Sign-in paths for the student and the company (data in place before Playwright takes the thread)."""
    student, company, _ = people
    issue = auth_service.issue
    return {
        "student": f"/auth/{await issue(conn, student['id'], 'login', dt.timedelta(minutes=30))}",
        "company": f"/auth/{await issue(conn, company['id'], 'login', dt.timedelta(minutes=30))}",
    }


CASES = {
    # who, viewport, language, the two sentences' openings, the button on the sign-in page
    "student-phone-nb": ("student", PHONE, "nb", ("Du ser etter «", "De ser etter «"), "Fortsett"),
    "company-laptop-en": ("company", LAPTOP, "en", ("You look for “", "They look for “"), "Continue"),
    "company-phone-en": ("company", PHONE, "en", ("You look for “", "They look for “"), "Continue"),
    "student-laptop-nb": ("student", LAPTOP, "nb", ("Du ser etter «", "De ser etter «"), "Fortsett"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_card_says_why_in_both_directions_with_shared_terms_marked(
    case: str, links: dict[str, str], browser: Browser, live_server: str, tmp_path: Path
) -> None:
    who, viewport, language, openings, button = CASES[case]
    context = browser.new_context(viewport=viewport, locale="nb-NO" if language == "nb" else "en-GB",
                                  has_touch=viewport is PHONE)
    page = context.new_page()
    try:
        page.goto(f"{live_server}{links[who]}?lang={language}")
        page.get_by_role("button", name=button).click()
        page.goto(f"{live_server}/me/suggestions")
        why = page.locator(".card-why")
        expect(why).to_contain_text(openings[0])
        text = why.inner_text()
        assert openings[1] in text  # both directions: what you seek and what they seek
        assert "…" not in text  # short interests are quoted whole
        marks = why.locator("mark")
        assert marks.count() >= 2
        marked = {m.lower() for m in marks.all_inner_texts()}
        quotes = re.findall(r"[«“]([^»”]*)[»”]", text)
        for sentence in (quotes[0:2], quotes[2:4]):  # a marked term of a pair is in both its quotes' words
            shared = {w for w in marked if any(w in q.lower() for q in sentence)}
            assert shared, (marked, sentence)
        box = marks.first.bounding_box()
        assert box is not None and box["width"] > 0
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert_accessible(page)
        if who == "student":  # the next card is swapped in by feed.js from the JSON API: marked the same way
            first = page.locator("#card-name").inner_text()
            page.get_by_role("button", name="Ikke nå").click()
            expect(page.locator("#card-name")).not_to_have_text(first)
            expect(why).to_contain_text(openings[1])
            expect(why.locator("mark").first).to_be_visible()
            assert "<script" not in why.inner_html()
            assert_accessible(page)
    finally:
        page.screenshot(path=str(tmp_path / f"{case}.png"), full_page=True)
        context.close()
