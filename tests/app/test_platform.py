"""Health, security headers, size limits and configuration parsing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.app import create_app
from service.kit.config import Settings
from service.kit.i18n import pick_language, preferred_language
from service.kit.mailer import SmtpConfig


async def test_healthz_reports_database_pgvector_and_redis(
    settings: Settings, any_pg_url: str, pgvector_server: str
) -> None:
    application = create_app(settings.model_copy(update={"database_url": any_pg_url}))
    async with LifespanManager(application) as manager, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
    ) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    version = {"pgvector-0.6": "0.6.2", "pgvector-0.8": "0.8.5"}[pgvector_server]
    assert response.json() == {"status": "ok", "database": "ok", "pgvector": version, "redis": "ok",
                               "worker": "off"}


async def test_pages_carry_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/signin")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_oversized_form_is_refused_before_it_is_read(client: httpx.AsyncClient) -> None:
    await client.get("/signin")
    response = await client.post(
        "/signin", content=b"email=" + b"a" * 70_000, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


async def test_streamed_body_without_length_is_limited_too(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    response = await client.post(
        "/signin", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


async def test_the_favicon_is_found_on_first_load(client: httpx.AsyncClient) -> None:
    moved = await client.get("/favicon.ico")
    assert moved.status_code == 301 and moved.headers["location"] == "/static/favicon.svg"
    icon = await client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon" href="/static/favicon.svg"' in (await client.get("/")).text


async def test_unknown_page_is_a_friendly_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    api = await client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


async def test_sign_in_is_rate_limited_per_address(client: httpx.AsyncClient, settings: object) -> None:
    from tests.conftest import post_form

    statuses = [(await post_form(client, "/signin", {"email": "same@example.no"})).status_code for _ in range(11)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:587?starttls=true", ("mail.example", 587, None, None, False, True)),
        ("smtps://u%40x:p%2Fw@mail.example", ("mail.example", 465, "u@x", "p/w", True, None)),
        ("smtp://127.0.0.1:1025", ("127.0.0.1", 1025, None, None, False, None)),
    ],
)
def test_smtp_url_is_parsed(url: str, expected: tuple[object, ...]) -> None:
    config = SmtpConfig.from_url(url)
    assert (
        config.hostname,
        config.port,
        config.username,
        config.password,
        config.use_tls,
        config.start_tls,
    ) == expected


def test_bad_smtp_url_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match="smtp://"):
        SmtpConfig.from_url("http://mail.example")


@pytest.mark.parametrize(
    ("candidates", "language"),
    [((None, None), "nb"), (("en", "nb"), "en"), ((None, "en"), "en"), (("no", None), "nb"), (("de", None), "nb")],
)
def test_language_choice(candidates: tuple[str | None, str | None], language: str) -> None:
    assert pick_language(*candidates) == language


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("nb-NO,nb;q=0.9,en;q=0.8", "nb"), ("nn", "nb"), ("no;q=0.8, en;q=0.5", "nb"),
        ("en-GB,en;q=0.9", "en"), ("de-DE,de;q=0.9", "en"), ("en;q=0.3, nb;q=0.9", "nb"),
        ("sv, nb;q=0.1", "en"), (None, None), ("", None), ("*", None), ("nb;q=0, en", "en"), ("nb;q=x", None),
    ],
)
def test_the_browser_language_decides_a_first_visit(header: str | None, language: str | None) -> None:
    assert preferred_language(header) == language


async def test_a_first_visit_follows_accept_language_until_the_person_switches(client: httpx.AsyncClient) -> None:
    english = await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text
    assert '<html lang="nb">' in (await client.get("/", headers={"Accept-Language": "nn-NO"})).text
    switched = await client.get("/?lang=nb", headers={"Accept-Language": "en-US"})
    assert '<html lang="nb">' in switched.text
    assert '<html lang="nb">' in (await client.get("/", headers={"Accept-Language": "en-US"})).text  # the cookie
