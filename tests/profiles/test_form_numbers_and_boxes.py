"""The participant form (issue 12, wall 12): capacity typed wrongly gets its own clear error with the input
kept, "Add another" gives one more interest box without JavaScript, and a failed submit puts the error
summary first in line for focus."""

from __future__ import annotations

import re

import httpx
import pytest
from asyncpg import Connection

from service.kit.config import Settings
from tests.conftest import post_form
from tests.factories import MakeParticipant
from tests.profiles.test_pages_registration import count, error_text, form
from tests.support import sign_in_as


@pytest.mark.parametrize(("typed", "nb", "en"), [
    ("tre", "Skriv tallet med sifre, for eksempel 3 (du skrev «tre»).",
     "Write the number with digits, like 3 (you wrote “tre”)."),
    ("2,5", "Skriv inn et helt tall, for eksempel 2 eller 3, uten komma eller punktum (du skrev «2,5»).",
     "Enter a whole number, like 2 or 3, without a comma or point (you wrote “2,5”)."),
    ("-1", "Skriv inn et helt tall som er 1 eller høyere, for eksempel 2.",
     "Enter a whole number of 1 or more, like 2."),
    ("1000", "Skriv inn et tall som ikke er større enn 100.", "Enter a number no larger than 100."),
])
@pytest.mark.parametrize("language", ["nb", "en"])
async def test_a_capacity_that_is_not_a_whole_number_is_refused_by_name_with_the_form_kept(
    client: httpx.AsyncClient, conn: Connection, typed: str, nb: str, en: str, language: str,
) -> None:
    await client.get(f"/register?lang={language}")
    response = await post_form(client, "/register", form(capacity=typed))
    assert response.status_code == 422
    html = response.text
    expected = f"Feil: {nb}" if language == "nb" else f"Error: {en}"
    assert error_text(html, "capacity") == expected
    kept = rf'id="capacity" name="capacity" type="text" value="{re.escape(typed)}"[^>]*inputmode="numeric"'
    assert re.search(kept, html)
    assert 'href="#capacity"' in html  # the summary links to the field
    assert re.search(r'class="error-summary" role="alert"[^>]*tabindex="-1" autofocus', html)
    assert "Kunnskap om Python og dataanalyse fra studiet" in html  # everything else kept
    assert await count(conn, "participants") == 0


async def test_add_another_box_without_javascript_keeps_everything_and_checks_nothing(
    client: httpx.AsyncClient, conn: Connection,
) -> None:
    response = await post_form(client, "/register", [*form(name="", capacity="tre").items(), ("more", "offers")])
    assert response.status_code == 200
    html = response.text
    assert 'class="error-summary"' not in html  # asking for a box is not a failed submit
    assert html.count('name="offers"') == 4 and 'id="offers-4"' in html
    assert re.search(r'id="offers-4" name="offers"[^>]*autofocus', html)
    assert 'value="tre"' in html and "Masteroppgave om OT-sikkerhet i produksjon" in html
    assert await count(conn, "participants") == 0


async def test_boxes_stop_at_the_most_interests_a_profile_takes(client: httpx.AsyncClient) -> None:
    offers = [f"Tilbud {n}" for n in range(1, 20)]
    data = [*form(offers=None).items(), *(("offers", text) for text in offers), ("more", "offers")]
    html = (await post_form(client, "/register", data)).text
    assert html.count('name="offers"') == 20
    assert 'name="more" value="offers"' not in html and 'name="more" value="seeks"' in html


async def test_the_edit_form_adds_a_box_too_and_saves_a_good_capacity(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    row = await make_participant("company", name="Hydro", email="post@hydro.example", offers=["Sommerjobb"],
                                 embed=False)
    await sign_in_as(client, conn, settings, participant_id=row["id"])
    fields = {**form(kind="company", name="Hydro", email="post@hydro.example", consent=None)}
    more = await post_form(client, "/me/edit", [*fields.items(), ("more", "seeks")])
    assert more.status_code == 200 and 'id="seeks-4"' in more.text
    assert (await post_form(client, "/me/edit", {**fields, "capacity": "2,5"})).status_code == 422
    saved = await post_form(client, "/me/edit", {**fields, "capacity": " 4 "})
    assert saved.status_code == 303
    assert await conn.fetchval("SELECT capacity FROM participants WHERE id = $1", row["id"]) == 4


async def test_registration_is_cut_into_steps_that_all_show_without_javascript(client: httpx.AsyncClient) -> None:
    html = (await client.get("/register?lang=en")).text
    steps = re.findall(r'<section class="form-step" id="step-(\d)"', html)
    assert steps == ["1", "2", "3", "4", "5"]
    assert 'data-steps="5"' in html and 'data-progress="Step {n} of {total}"' in html
    assert re.search(r'<nav class="form-progress"[^>]*hidden>', html)  # the progress shows only where JS steps
    assert '<script src="/static/forms.js" defer></script>' in html
    assert "Add another offer" in html and "Add another wish" in html
