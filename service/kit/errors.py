"""One error type and one handler: domain errors answer JSON for the API and a page for browsers.

A domain raises a subclass of `KobleError` (e.g. `matches.lifecycle.IllegalTransition`); the app installs
`install(app)`, which answers every `KobleError`, HTTP error and validation error in one place
(docs/architecture.md, "Errors"). A route catches a domain error itself only when it adds something, such
as re-showing a form with the input kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from service.kit import metrics
from service.kit.i18n import _
from service.kit.templating import templates

log = logging.getLogger(__name__)


class KobleError(Exception):
    """A refusal with an HTTP status and a message in the reader's language.

    `template` is the English source of the message (translated when the answer is rendered, so it is
    in the reader's language) with `%(name)s` fields taken from `params`. Subclasses set `status`, and
    may override `message()` and `api_detail()` when the answer carries more (e.g. a match's state).
    """

    status: ClassVar[int] = 400
    template: ClassVar[str] = "The request could not be carried out."
    # Browsers are sent here instead of an error page (e.g. the sign-in page); the API gets `status`.
    redirect_to: ClassVar[str | None] = None

    def __init__(self, template: str | None = None, **params: Any) -> None:
        self.text = template or self.template
        self.params = params
        super().__init__(self.text % params if params else self.text)

    def message(self) -> str:
        """The message in the current language."""
        text = _(self.text)
        return text % self.params if self.params else text

    def api_detail(self) -> Any:
        """The `detail` of the JSON answer."""
        return self.message()

    def headers(self) -> Mapping[str, str] | None:
        """Extra response headers (e.g. WWW-Authenticate, Retry-After)."""
        return None


class FieldRefusal(KobleError):
    """A refusal about one field of the request; the JSON `detail` is `{"field", "msg"}` (msg in the reader's
    language), as forms name the field at fault."""

    def __init__(self, field: str, template: str, /, **params: Any) -> None:
        super().__init__(template, **params)
        self.field = field

    def api_detail(self) -> dict[str, str]:
        """`{"field", "msg"}`."""
        return {"field": self.field, "msg": self.message()}


class NotFound(KobleError):
    """Something asked for by id does not exist (404)."""

    status = 404
    template = "Not found."


class Conflict(KobleError):
    """The request contradicts the current state of the data (409)."""

    status = 409


class Forbidden(KobleError):
    """The signed-in person may not do this (403)."""

    status = 403
    template = "You may not do this."


def wants_json(request: Request) -> bool:
    """Whether the client is an API client (JSON answers) rather than a browser (pages)."""
    return request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/openapi.json")


def respond(request: Request, status: int, detail: Any, headers: Mapping[str, str] | None = None) -> Response:
    """The one error answer: `{"detail": ...}` for the API, the error page for browsers."""
    if wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=dict(headers or {}) or None)
    text = detail if isinstance(detail, str) else str(detail.get("msg", "")) if isinstance(detail, dict) else ""
    return templates().TemplateResponse(
        request, "error.html", {"status": status, "detail": text}, status_code=status, headers=headers
    )


async def koble_error(request: Request, exc: KobleError) -> Response:
    """Answer a domain error: `api_detail()` for the API; for browsers its redirect, else `message()` on the page."""
    if wants_json(request):
        return respond(request, exc.status, exc.api_detail(), exc.headers())
    if exc.redirect_to:
        return RedirectResponse(exc.redirect_to, status_code=303)
    return respond(request, exc.status, exc.message(), exc.headers())


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Answer an HTTP error raised by a route or by the framework."""
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return respond(request, exc.status_code, exc.detail, headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method the request's path takes (Starlette's own 405 names only the first route's)."""
    template, methods = None, set()
    for context in iter_route_contexts(request.app.routes):
        if context.matches(request.scope)[0] == Match.NONE:
            continue
        template = template or context.path
        if context.path == template:  # /me and /{external_id}: the first path that matches decides
            methods |= context.methods or set()
    return sorted(methods)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each field and the reason; the submitted values are never echoed (they may be personal)."""
    errors = [
        {"loc": list(e["loc"]), "field": ".".join(str(p) for p in e["loc"][1:]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]
    if wants_json(request):
        return JSONResponse({"detail": errors}, status_code=422)
    # A form field no page re-shows (e.g. a reason with a control character): the error page names it.
    text = "; ".join(f"{e['field'] or e['loc'][-1]}: {e['msg']}" for e in errors)
    return respond(request, 422, text)


async def server_error(request: Request, exc: Exception) -> Response:
    """500 without details; the traceback goes to the log."""
    # The route's template, not its path: a path may hold a token (/auth/{token}), a query string more.
    log.exception("unhandled error on %s %s", request.method, metrics.route_template(request.scope))
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on the app (the only place errors are turned into answers)."""
    app.add_exception_handler(KobleError, koble_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, server_error)
