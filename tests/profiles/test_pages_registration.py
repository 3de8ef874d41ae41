"""Landing, privacy and registration pages against real Postgres, Redis, SMTP and the worker."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from asyncpg import Connection

from service.auth import service as auth_service
from service.kit.config import Settings
from service.profiles import service as profiles
from service.profiles.schemas import STUDENT_CAPACITY, ParticipantFields
from tests.conftest import Mailbox, body_text, csrf_of, link_in, post_form, run_jobs, run_worker
from tests.factories import MakeParticipant

FORM: dict[str, Any] = {
    "kind": "student",
    "name": "Åse Ødegård Bjørnstad",
    "email": "ase@example.no",
    "organisation": "NTNU Gjøvik",
    "language": "nb",
    "domains": ["cyber_ict", "industrial_tech"],
    "engagements": ["thesis", "summer_job"],
    "available_from": "2025-08-15",
    "available_until": "2026-06-30",
    "capacity": "",
    "location": "Gjøvik",
    "offers": ["Kunnskap om Python og dataanalyse fra studiet", "", ""],
    "seeks": ["Masteroppgave om OT-sikkerhet i produksjon", "", "Sommerjobb med maskinlæring for kvalitetskontroll"],
    "consent": "yes",
}


def form(**changes: Any) -> dict[str, Any]:
    """The valid registration form with some fields changed (None leaves a field out)."""
    data = {**FORM, **changes}
    return {key: value for key, value in data.items() if value is not None}


async def count(conn: Connection, table: str) -> int:
    """Rows in a table."""
    return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


def error_text(html: str, key: str) -> str:
    """The text of the error shown at one field (empty when there is none)."""
    match = re.search(rf'<p class="error" id="{re.escape(key)}-error">(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


class FormAudit(HTMLParser):
    """Collects what an accessibility check of a form needs: inputs, labels and inline styles."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[str] = []
        self.labels: set[str] = set()
        self.inline: list[str] = []
        self.headings: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note labelled controls, labels and anything CSP would block."""
        attributes = dict(attrs)
        if tag in ("input", "textarea", "select") and attributes.get("type") != "hidden":
            self.inputs.append(attributes.get("id") or f"<{tag} name={attributes.get('name')} without id>")
        if tag == "label" and attributes.get("for"):
            self.labels.add(attributes["for"] or "")
        if "style" in attributes or (tag == "script" and not attributes.get("src")):  # a file's script is fine
            self.inline.append(tag)
        if tag in ("h1", "h2", "h3"):
            self.headings.append(tag)


async def test_landing_explains_koble_and_links_onwards(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="nb">' in html
    assert "studenter, forskere, bedrifter og offentlige virksomheter i Gjøvikregionen" in html
    assert "Bright House introduserer dere" in html
    for href in ('href="/register"', 'href="/signin"', 'href="/privacy"'):
        assert href in html


async def test_privacy_notice_names_controller_retention_and_contact(client: httpx.AsyncClient) -> None:
    html = (await client.get("/privacy")).text
    assert "Gjøvikregionen Utvikling" in html and "Bright House" in html
    assert "12 måneder" in html and "24 måneder" in html
    assert 'href="mailto:koble@brighthouse.no"' in html
    assert "Datatilsynet" in html


async def test_register_form_labels_every_input_and_needs_no_inline_code(client: httpx.AsyncClient) -> None:
    response = await client.get("/register")
    assert response.status_code == 200
    audit = FormAudit()
    audit.feed(response.text)
    assert len(audit.inputs) > 20
    assert [field for field in audit.inputs if field not in audit.labels] == []
    assert audit.inline == []
    assert 'name="csrftoken"' in response.text
    # The page's language is preselected as the language of emails.
    assert re.search(r'id="language-nb"[^>]*checked', response.text)


async def test_register_in_norwegian_verifies_and_signs_in(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox
) -> None:
    response = await post_form(client, "/register", form())
    assert response.status_code == 303 and response.headers["location"] == "/register/sent"
    sent = await client.get("/register/sent")
    assert "Sjekk e-posten din" in sent.text

    await run_jobs()  # the worker decides what a registration does (issue 15, finding 8)
    row = await conn.fetchrow("SELECT * FROM participants")
    assert row["name"] == "Åse Ødegård Bjørnstad" and row["source"] == "web"
    assert row["verified_at"] is None and row["consent_at"] is not None
    assert row["domains"] == ["cyber_ict", "industrial_tech"] and row["engagements"] == ["thesis", "summer_job"]
    assert row["offers"] == ["Kunnskap om Python og dataanalyse fra studiet"]
    assert row["seeks"] == ["Masteroppgave om OT-sikkerhet i produksjon",
                            "Sommerjobb med maskinlæring for kvalitetskontroll"]
    assert row["capacity"] == STUDENT_CAPACITY == 3  # the default for students (issue 12)

    await run_worker(settings)
    [message] = mailbox.to("ase@example.no")
    assert message["Subject"] == "Bekreft e-postadressen din for Koble"
    assert "Hei Åse Ødegård Bjørnstad" in body_text(message)
    link = link_in(message).replace("http://testserver", "")
    assert (await client.get(link)).status_code == 200
    redeemed = await post_form(client, link, {})
    assert redeemed.status_code == 303 and redeemed.headers["location"] == "/me?welcome=1"
    assert await conn.fetchval("SELECT verified_at IS NOT NULL FROM participants") is True

    me = await client.get("/me?welcome=1")
    assert me.status_code == 200
    assert "Velkommen!" in me.text and "Åse Ødegård Bjørnstad" in me.text
    assert "Cybersikkerhet og IKT" in me.text and "Masteroppgave om OT-sikkerhet i produksjon" in me.text
    assert "15. august 2025" in me.text


async def test_invalid_registration_shows_errors_keeps_input_stores_nothing(
    client: httpx.AsyncClient, conn: Connection
) -> None:
    bad = form(domains=None, consent=None, email="ase@", available_from="2026-01-10", available_until="2025-12-01")
    response = await post_form(client, "/register", bad)
    assert response.status_code == 422
    html = response.text
    assert "Velg minst ett fagområde." in error_text(html, "domains")
    assert "Skriv inn en gyldig e-postadresse" in error_text(html, "email")
    assert "Sluttdatoen må være samme dag som eller senere enn startdatoen." in error_text(html, "available_until")
    assert "personvernerklæringen" in error_text(html, "consent")
    # The summary at the top links to each field, and each field points at its error.
    summary = html.split('class="error-summary"')[1].split("</div>")[0]
    for target in ("#email", "#domains-bioeconomy", "#available_until", "#consent"):
        assert f'href="{target}"' in summary
    assert re.search(r'id="email"[^>]*aria-invalid="true"[^>]*aria-describedby="email-hint email-error"', html)
    assert "<title>Feil:" in html
    # What the person typed comes back, ticked boxes and every interest included.
    assert 'value="Åse Ødegård Bjørnstad"' in html and 'value="ase@"' in html
    assert re.search(r'id="engagements-summer_job"[^>]*checked', html)
    assert not re.search(r'id="engagements-internship"[^>]*checked', html)
    assert ">Masteroppgave om OT-sikkerhet i produksjon</textarea>" in html
    assert ">Sommerjobb med maskinlæring for kvalitetskontroll</textarea>" in html
    assert await count(conn, "participants") == 0 and await count(conn, "outbox") == 0


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"kind": None}, "kind", "Choose who you are registering as."),
        ({"name": "  "}, "name", "Enter your name, or the name of your organisation."),
        ({"name": "x" * 201}, "name", "Make this shorter: at most 200 characters."),
        ({"email": ""}, "email", "Enter your email address."),
        ({"capacity": "0"}, "capacity", "Enter a whole number of 1 or more, like 2."),
        ({"capacity": "1.5"}, "capacity",
         "Enter a whole number, like 2 or 3, without a comma or point (you wrote “1.5”)."),
        ({"capacity": "500"}, "capacity", "Enter a number no larger than 100."),
        ({"available_from": "15.08.2025"}, "available_from", "Enter a real date, like 2025-08-15."),
        ({"offers": ["", " "], "seeks": [""]}, "offers", "Describe at least one thing you offer or seek."),
        ({"seeks": ["", "y" * 2001]}, "seeks-2", "Make this shorter: at most 2000 characters."),
        ({"domains": ["space"]}, "domains", "Choose one of the options shown."),
    ],
)
async def test_each_mistake_gets_a_specific_message_in_english(
    client: httpx.AsyncClient, conn: Connection, changes: dict[str, Any], key: str, message: str
) -> None:
    await client.get("/register?lang=en")
    response = await post_form(client, "/register", form(**changes))
    assert response.status_code == 422
    assert error_text(response.text, key) == f"Error: {message}"
    assert await count(conn, "participants") == 0


async def test_english_choice_sticks_across_pages(client: httpx.AsyncClient) -> None:
    first = await client.get("/?lang=en")
    assert "lang=en" in first.headers["set-cookie"]
    assert "Find the right partner in the Gjøvik region" in first.text
    page = await client.get("/register")
    assert '<html lang="en">' in page.text and "Register with Koble" in page.text
    assert re.search(r'id="language-en"[^>]*checked', page.text)
    back = await client.get("/register?lang=nb")
    assert "Registrer deg i Koble" in back.text


async def test_known_address_gets_the_same_page_and_a_sign_in_email(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox,
    make_participant: MakeParticipant,
) -> None:
    await make_participant(
        "company", name="Raufoss Metall", email="post@raufoss.example.no", domains=["industrial_tech"],
        offers=["Sommerjobb"], seeks=[], external_id="rm-1", embed=False,
    )
    response = await post_form(client, "/register", form(email="POST@raufoss.example.no"))
    assert response.status_code == 303 and response.headers["location"] == "/register/sent"
    assert await count(conn, "participants") == 1
    await run_worker(settings)
    [message] = mailbox.to("post@raufoss.example.no")
    assert message["Subject"] == "Du er allerede registrert i Koble"
    link = link_in(message).replace("http://testserver", "")
    assert (await post_form(client, link, {})).headers["location"] == "/me?welcome=1"
    assert "Raufoss Metall" in (await client.get("/me")).text


async def test_post_without_csrf_token_is_refused(client: httpx.AsyncClient, conn: Connection) -> None:
    await client.get("/register")
    response = await client.post("/register", data=form())
    assert response.status_code == 403
    assert await count(conn, "participants") == 0


async def test_signed_in_visitor_is_sent_to_their_profile(client: httpx.AsyncClient, conn: Connection) -> None:
    await post_form(client, "/register", form())
    assert (await client.get("/register")).status_code == 200  # registering does not sign in
    await run_jobs()
    row = await conn.fetchrow("SELECT id FROM participants")
    token = await auth_service.issue(conn, row["id"], "login", dt.timedelta(minutes=5))
    await post_form(client, f"/auth/{token}", {"this_device": "yes"})
    response = await client.get("/register")
    assert response.status_code == 303 and response.headers["location"] == "/me"


async def test_every_page_labels_its_inputs_has_one_h1_and_no_inline_code(
    client: httpx.AsyncClient, conn: Connection
) -> None:
    anonymous = ["/", "/privacy", "/register", "/register/sent", "/signin"]
    pages = {path: (await client.get(path)).text for path in anonymous}
    fields = ParticipantFields.model_validate(form(consent=None, capacity=None))
    row = await profiles.create_verified(conn, fields, None, "api")
    token = await auth_service.issue(conn, row["id"], "login", dt.timedelta(minutes=5))
    await post_form(client, f"/auth/{token}", {"this_device": "yes"})
    pages.update({path: (await client.get(path)).text for path in ["/", "/me", "/me/edit", "/me/delete"]})
    for path, html in pages.items():
        audit = FormAudit()
        audit.feed(html)
        assert [field for field in audit.inputs if field not in audit.labels] == [], path
        assert audit.inline == [], path
        assert audit.headings.count("h1") == 1, path
        assert 'class="skip" href="#main"' in html and 'id="main"' in html, path


class TestRateLimit:
    """Registration is limited per client address (a low limit here)."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        """The usual test settings with two registrations a minute."""
        settings.rate_limit_register = "2/minute"
        return settings

    async def test_third_registration_in_a_minute_is_refused(self, client: httpx.AsyncClient, conn: Connection) -> None:
        statuses = [(await post_form(client, "/register", form(email=f"person{i}@example.no"))).status_code
                    for i in range(3)]
        assert statuses == [303, 303, 429]
        refused = await post_form(client, "/register", form(email="person9@example.no"))
        assert "For mange registreringer" in refused.text
        await run_jobs()
        assert await count(conn, "participants") == 2


async def test_a_form_sent_without_percent_encoding_keeps_its_letters(
    client: httpx.AsyncClient, conn: Connection
) -> None:
    """A script's `curl -d location=Gjøvik` sends raw UTF-8: stored as typed, not as Latin-1 letters."""
    await client.get("/register")
    fields = {**form(), "csrftoken": csrf_of(client)}
    body = "&".join(f"{name}={value}" for name, values in fields.items()
                    for value in (values if isinstance(values, list) else [values]) if value)
    response = await client.post("/register", content=body.encode(),
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 303, response.text
    await run_jobs()
    row = await conn.fetchrow("SELECT name, location, seeks FROM participants")
    assert row["name"] == "Åse Ødegård Bjørnstad" and row["location"] == "Gjøvik"
    assert row["seeks"][1] == "Sommerjobb med maskinlæring for kvalitetskontroll"
