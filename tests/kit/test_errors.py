"""The one error handler (`service.kit.errors.install`) in a tiny app: JSON under /api/, pages elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from service.app import LanguageMiddleware
from service.kit import errors, i18n

# A message the Norwegian catalog translates, so the test sees which language the answer is in.
MESSAGE = "There is no answer to undo."


class Refused(errors.Conflict):
    """A refusal with a translated message."""

    template = MESSAGE


class Counted(errors.KobleError):
    """A refusal whose API answer carries more than the message, and a header."""

    status = 429
    template = "Too many: %(count)s"

    def api_detail(self) -> dict[str, Any]:
        """The message and the count."""
        return {"msg": self.message(), "count": self.params["count"]}

    def headers(self) -> Mapping[str, str]:
        """When to try again."""
        return {"Retry-After": "60"}


class SignInFirst(errors.KobleError):
    """Browsers go to the sign-in page; the API gets 401."""

    status: ClassVar[int] = 401
    template = "Sign in first"
    redirect_to = "/signin"


def tiny_app() -> FastAPI:
    """Routes raising each error under /api/ and under a page path."""
    app = FastAPI()
    raised: dict[str, Exception] = {
        "refused": Refused(), "counted": Counted(count=3), "signin": SignInFirst(),
        "missing": errors.NotFound(), "http": HTTPException(403, "No entry"),
    }
    for prefix in ("/api/v1", "/page"):
        for name, exc in raised.items():
            app.add_api_route(f"{prefix}/{name}", _raiser(exc))
    errors.install(app)
    app.add_middleware(LanguageMiddleware, secure=False)
    return app


def _raiser(exc: Exception) -> Any:
    async def route() -> None:
        raise exc

    return route


@pytest.fixture(scope="module")
def client() -> TestClient:
    """A client that never follows redirects (the test looks at them)."""
    return TestClient(tiny_app(), follow_redirects=False)


def in_language(language: str, message: str) -> str:
    """The message as the catalog of `language` has it."""
    return i18n.translations(language).gettext(message)


@pytest.mark.parametrize("language", ["nb", "en"])
def test_api_paths_answer_json_in_the_readers_language(client: TestClient, language: str) -> None:
    response = client.get(f"/api/v1/refused?lang={language}")
    assert response.status_code == 409
    assert response.json() == {"detail": in_language(language, MESSAGE)}


@pytest.mark.parametrize("language", ["nb", "en"])
def test_page_paths_answer_the_error_page(client: TestClient, language: str) -> None:
    response = client.get(f"/page/refused?lang={language}")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("text/html")
    assert in_language(language, MESSAGE) in response.text
    assert in_language(language, "Something went wrong") in response.text


def test_norwegian_is_not_the_english_source() -> None:
    assert in_language("nb", MESSAGE) != MESSAGE


def test_a_subclass_api_detail_and_headers_are_used(client: TestClient) -> None:
    response = client.get("/api/v1/counted?lang=en")
    assert response.status_code == 429
    assert response.json() == {"detail": {"msg": "Too many: 3", "count": 3}}
    assert response.headers["retry-after"] == "60"


def test_a_page_shows_the_message_not_the_api_detail(client: TestClient) -> None:
    response = client.get("/page/counted?lang=en")
    assert response.status_code == 429
    assert "Too many: 3" in response.text
    assert response.headers["retry-after"] == "60"


def test_redirect_to_sends_browsers_and_answers_the_api(client: TestClient) -> None:
    page = client.get("/page/signin")
    assert page.status_code == 303
    assert page.headers["location"] == "/signin"
    api = client.get("/api/v1/signin?lang=en")
    assert api.status_code == 401
    assert api.json() == {"detail": "Sign in first"}


def test_not_found_and_http_errors_go_through_the_same_handler(client: TestClient) -> None:
    assert client.get("/api/v1/missing?lang=en").json() == {"detail": "Not found."}
    assert client.get("/page/missing").status_code == 404
    assert client.get("/api/v1/http").json() == {"detail": "No entry"}
    page = client.get("/page/http?lang=en")
    assert page.status_code == 403
    assert "No entry" in page.text
