"""A real Chromium registers a Norwegian student through `koble serve`, verifies by email and signs in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PHONE, Mailbox, link_in, new_page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    """A fresh phone-sized page (no cookies); a screenshot is kept if the test fails."""
    with new_page(browser, tmp_path / "last.png", PHONE) as fresh:
        yield fresh


def onward(page: Page) -> None:
    """On a phone the registration shows one step at a time: go to the next one."""
    page.get_by_role("button", name=re.compile(r"^(Neste|Next):")).locator("visible=true").click()


def fill_student(page: Page) -> None:
    """Fill the form as a student would, step by step on a phone, but forget to pick a domain."""
    page.get_by_label("Student").check()
    page.get_by_label("Navn", exact=True).fill("Åse Ødegård Bæk")
    page.get_by_label("E-postadresse").fill("ase.baek@example.no")
    page.get_by_label("Organisasjon").fill("NTNU Gjøvik")
    onward(page)
    onward(page)
    page.locator("#seeks-1").fill("Masteroppgave om OT-sikkerhet i smelteverk på Raufoss")
    page.locator("#offers-1").fill("Erfaring med Python, Wireshark og PLS-programmering")
    onward(page)
    page.locator("#available_from").fill("2027-01-06")
    page.locator("#available_until").fill("2027-06-15")
    onward(page)
    page.locator("#consent").check()


def test_student_registers_fixes_an_error_verifies_and_signs_in(
    page: Page, live_server: str, mailbox: Mailbox
) -> None:
    page.goto(f"{live_server}/register")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    fill_student(page)
    page.get_by_role("button", name="Registrer deg").click()

    # The error is shown next to the field, and everything typed is still there.
    expect(page.locator("#domains-error")).to_be_visible()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.get_by_label("Navn", exact=True)).to_have_value("Åse Ødegård Bæk")
    expect(page.locator("#seeks-1")).to_have_value("Masteroppgave om OT-sikkerhet i smelteverk på Raufoss")
    expect(page.locator("#consent")).to_be_checked()

    page.locator("#domains-cyber_ict").check()
    page.get_by_role("button", name="Registrer deg").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("e-post")

    page.goto(link_in(mailbox.wait_for("ase.baek@example.no")))
    page.get_by_role("button", name="Fortsett").click()
    expect(page).to_have_url(f"{live_server}/me?welcome=1")
    expect(page.locator("main")).to_contain_text("Åse Ødegård Bæk")
    expect(page.locator("main")).to_contain_text("Masteroppgave om OT-sikkerhet i smelteverk på Raufoss")

    page.get_by_role("button", name="Logg ut").click()
    page.goto(f"{live_server}/me")
    expect(page).to_have_url(f"{live_server}/signin")


def test_english_switch_sticks(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(f"{live_server}/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("Register with Koble")
    expect(page.get_by_role("button", name="Next: What you are interested in")).to_be_visible()  # phone: steps


def test_the_api_documentation_works_offline_under_the_content_security_policy(page: Page, live_server: str) -> None:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: problems.append(response.url) if response.status >= 400 else None)
    page.goto(f"{live_server}/api/docs")
    expect(page.locator(".opblock").first).to_be_visible()  # Swagger UI drew the operations
    expect(page.locator("#swagger-ui")).to_contain_text("/api/v1/participants")
    assert problems == []  # no script or style refused by the CSP, no file missing
