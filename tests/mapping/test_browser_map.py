"""A real Chromium with JavaScript off: a reviewer's /staff/map and the public /kartlegging, in Norwegian
and English, on a phone (375 x 812) and a laptop: charts with their tables and summaries, no
horizontal scrolling of the page, numbers that link to people only for staff."""

from __future__ import annotations

import asyncio
import json
from base64 import b64encode
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import asyncpg
import itsdangerous
import pytest
from pgvector.asyncpg import register_vector
from playwright.sync_api import Browser, Page, ViewportSize, expect

from service.auth import service as auth
from service.kit.config import Settings
from service.mapping import service as mapping
from tests.conftest import LAPTOP
from tests.factories import create_staff
from tests.mapping.subjects import NAME, make_people
from tests.support import assert_accessible

pytestmark = pytest.mark.browser
T = TypeVar("T")
PHONE: ViewportSize = {"width": 375, "height": 812}
LIVE_SECRET = "live-secret"  # the live_server fixture's KOBLE_SECRET_KEY
HEADINGS = {
    "nb": {
        "staff": "Kartet: regionens behov og kompetanse",
        "public": "Kartlegging: regionens behov og kompetanse",
        "themes": "Tilbud og etterspørsel per tema",
    },
    "en": {
        "staff": "The map: the region's needs and competences",
        "public": "Kartlegging: the region's needs and competences",
        "themes": "Supply and demand per theme",
    },
}


def in_thread(work: Callable[[asyncpg.Connection], Awaitable[T]], url: str) -> T:
    """Run database work on its own event loop in another thread (Playwright's sync API owns this one)."""

    async def main() -> T:
        conn = await asyncpg.connect(url)
        await register_vector(conn)
        try:
            return await work(conn)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def arrange(conn: asyncpg.Connection, settings: Settings) -> str:
    """A computed map and a signed-in reviewer; the session cookie's value for the live server."""
    await make_people(conn)
    await mapping.recompute(conn, NAME, seed=1, below=0.5)
    staff = await create_staff(conn, "reviewer")
    token = await auth.start_session(conn, settings, "staff", staff["id"])
    data = b64encode(json.dumps({auth.SESSION_KEY: token}).encode())
    return itsdangerous.TimestampSigner(LIVE_SECRET).sign(data).decode()


def check_map_page(page: Page, heading: str, themes_heading: str, width: int) -> None:
    """What every map page must be: its heading, three charts each with a title, a summary and a table,
    and no sideways scrolling of the page itself at this width (wide tables scroll in their own box)."""
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("heading", name=themes_heading)).to_be_visible()
    charts = page.locator('svg[role="img"]')
    expect(charts).to_have_count(3)
    for i in range(3):
        assert charts.nth(i).locator("title").text_content() and charts.nth(i).locator("desc").text_content()
    assert page.locator("table caption").count() >= 3
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width + 1


def open_page(
    browser: Browser, url: str, viewport: ViewportSize, cookie: str | None, base: str, javascript: bool = False
) -> Page:
    """A page, by default with JavaScript off (the map must not need it), signed in when a cookie is given.
    axe-core needs JavaScript (its run never settles without it), so accessibility is checked with it on."""
    context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
    if cookie:
        context.add_cookies([{"name": "koble_session", "value": cookie, "url": base}])
    page = context.new_page()
    page.goto(url)
    return page


def test_staff_map_and_public_overview_in_both_languages_on_phone_and_laptop(
    browser: Browser, live_server: str, settings: Settings
) -> None:
    cookie = in_thread(lambda conn: arrange(conn, settings), settings.database_url or "")
    for lang in ("nb", "en"):
        for viewport in (PHONE, LAPTOP):
            staff = open_page(browser, f"{live_server}/staff/map?lang={lang}", viewport, cookie, live_server)
            check_map_page(staff, HEADINGS[lang]["staff"], HEADINGS[lang]["themes"], viewport["width"])
            assert staff.locator('a[href^="/staff/map/people"]').count() > 0
            staff.context.close()
            staff = open_page(browser, f"{live_server}/staff/map?lang={lang}", viewport, cookie, live_server, True)
            assert_accessible(staff)
            staff.context.close()
            public = open_page(browser, f"{live_server}/kartlegging?lang={lang}", viewport, None, live_server)
            check_map_page(public, HEADINGS[lang]["public"], HEADINGS[lang]["themes"], viewport["width"])
            assert public.locator('a[href^="/staff/map/people"]').count() == 0
            public.context.close()
            public = open_page(browser, f"{live_server}/kartlegging?lang={lang}", viewport, None, live_server, True)
            assert_accessible(public)
            public.context.close()
