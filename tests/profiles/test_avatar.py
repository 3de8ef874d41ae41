"""The one avatar macro (templates/kit/_avatar.html): a photo with the name as alt text, else initials on the
kind's colour with the name as the accessible name, whatever the caller passes."""

from __future__ import annotations

from typing import Any

import pytest

from service.kit.templating import templates


def avatar(who: dict[str, Any], size: int = 48) -> str:
    module = templates().env.get_template("kit/_avatar.html").make_module({})
    return str(getattr(module, "avatar")(who, size))  # noqa: B009 - a Jinja macro, unknown to mypy


def test_a_photo_is_an_image_named_after_the_participant() -> None:
    html = avatar({"name": "Kari Østby", "kind": "researcher", "photo_key": "0123456789abcdef",
                   "external_id": "kari/1"}, 96)
    assert html.startswith('<img class="avatar avatar-96" src="/pictures/0123456789abcdef/kari/1"')
    assert 'alt="Kari Østby"' in html and 'width="96"' in html


@pytest.mark.parametrize(("who", "letters", "kind"), [
    ({"name": "Statsforvalteren i Innlandet", "kind": "public_body"}, "SI", "public_body"),
    ({"name": "  sigrid  ", "kind": "student", "photo_key": None, "external_id": "s"}, "S", "student"),
    ({"name": None, "kind": None}, "?", "unknown"),  # a party who left
    ({}, "?", "unknown"),  # a caller passing less never breaks the page (StrictUndefined)
])
def test_without_a_photo_the_initials_sit_on_the_kinds_colour(who: dict[str, Any], letters: str, kind: str) -> None:
    html = avatar(who)
    assert f'class="avatar avatar-48 avatar-{kind}" role="img"' in html
    assert f'<span aria-hidden="true">{letters}</span>' in html
    assert 'aria-label=""' not in html  # always an accessible name


def test_names_are_escaped() -> None:
    html = avatar({"name": '<b>"Ole"</b> AS', "kind": "company"})
    assert "<b>" not in html and "&lt;b&gt;" in html
