"""A real Chromium: a reviewer signs in by link and approves a pair with the keyboard in staff-first
mode (in Norwegian and in English); a participant cannot open a staff page."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from pgvector.asyncpg import register_vector
from playwright.sync_api import Browser, Page, expect

from service.auth import service as auth_service
from service.kit.config import Settings
from service.review import service as review
from tests.conftest import API_TOKEN, LAPTOP, Mailbox, koble_serve, link_in, new_page
from tests.factories import create_participant, create_staff

People = dict[str, Any]

pytestmark = pytest.mark.browser
T = TypeVar("T")

TEXTS = {
    "nb": {"email": "E-postadresse", "send": "Send meg en innloggingslenke", "continue": "Fortsett",
           "queue": "Kø til vurdering", "approved": "Godkjent. Begge har fått en introduksjon på e-post."},
    "en": {"email": "Email address", "send": "Send me a sign-in link", "continue": "Continue",
           "queue": "Review queue", "approved": "Approved. Both have been introduced by email."},
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


@pytest.fixture
def staff_first_server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`koble serve` in staff-first mode on the test database, Redis and SMTP server."""
    env = {
        "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
        "SMTP_URL": settings.smtp_url or "", "KOBLE_DATA_DIR": str(tmp_path / "serve"),
        "KOBLE_SECRET_KEY": "live-secret", "KOBLE_API_TOKEN": API_TOKEN, "KOBLE_MATCH_MODE": "staff_first",
        "KOBLE_APPROVAL_GRACE_SECONDS": "0",  # introduced at once (test_browser_queue walks the grace period)
    }
    with koble_serve(env, tmp_path / "serve.log") as base:
        yield base


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    """A fresh laptop-sized page; a screenshot is kept if the test fails."""
    with new_page(browser, tmp_path / "last.png", LAPTOP) as fresh:
        yield fresh


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_a_reviewer_approves_a_pair_with_the_keyboard_in_staff_first_mode(
    page: Page, staff_first_server: str, settings: Settings, mailbox: Mailbox, lang: str,
    sigrid: People, raufoss: People,
) -> None:
    staff_first = settings.model_copy(update={"match_mode": "staff_first"})
    reviewer = "rita.reviewer@brighthouse.example"

    async def arrange(conn: asyncpg.Connection) -> int:
        await create_participant(conn, **sigrid)
        await create_participant(conn, **raufoss)
        await create_staff(conn, "reviewer", reviewer)
        return await review.propose_matches(conn, staff_first, 3)

    assert in_thread(arrange, settings.database_url or "") == 1
    text = TEXTS[lang]
    page.goto(f"{staff_first_server}/staff/signin?lang={lang}")
    page.get_by_label(text["email"]).fill(reviewer)
    page.get_by_role("button", name=text["send"]).click()
    page.goto(link_in(mailbox.wait_for(reviewer)))
    page.get_by_role("button", name=text["continue"]).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(text["queue"])
    expect(page.locator(".queue-item")).to_have_count(1)
    expect(page.locator(".queue-item")).to_contain_text("Sigrid Haugen")
    expect(page.locator(".queue-item")).to_contain_text("Raufoss OT Security AS")
    page.keyboard.press("j")  # review.js: move to the first pair
    expect(page.locator(".queue-item.current")).to_be_focused()
    page.keyboard.press("a")  # and approve it
    expect(page.get_by_role("status")).to_contain_text(text["approved"])  # answered in place, no reload
    expect(page.locator(".queue-item.decided")).to_have_count(1)

    states = in_thread(lambda conn: conn.fetch("SELECT state FROM matches"), settings.database_url or "")
    assert [row["state"] for row in states] == ["introduced"]
    for address in (sigrid["email"], raufoss["email"]):  # both introduced by the worker's email
        mailbox.wait_for(address)


def test_a_participant_cannot_open_a_staff_page(page: Page, staff_first_server: str, settings: Settings) -> None:
    async def arrange(conn: asyncpg.Connection) -> str:
        student = await create_participant(conn, embed=False)
        return await auth_service.issue(conn, student["id"], "login", dt.timedelta(minutes=5))

    token = in_thread(arrange, settings.database_url or "")
    page.goto(f"{staff_first_server}/auth/{token}")
    page.get_by_role("button", name="Fortsett").click()
    expect(page).to_have_url(f"{staff_first_server}/me?welcome=1")
    for path in ("/staff/queue", "/staff/pipeline", "/staff/audit"):
        response = page.goto(f"{staff_first_server}{path}")
        assert response is not None and response.status == 403
        expect(page.get_by_text("This page is for Bright House staff only")).to_be_visible()
