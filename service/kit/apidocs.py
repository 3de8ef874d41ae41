"""The API's documentation page, served by Koble itself: no CDN (many deployments have no internet) and
within the Content-Security-Policy (no inline script: the page starts Swagger UI from /static/api-docs.js).

Swagger UI's files come from the `fastapi-offline` package (Swagger UI 5, which reads OpenAPI 3.1 as
FastAPI writes it; the `swagger-ui-bundle` package ships 4.15, which refuses 3.1).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from service.kit.templating import templates

DOCS_URL = "/api/docs"
SWAGGER_FILES = Path(fastapi_offline.__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Serve `/api/docs` (Swagger UI from the installed package) and `/favicon.ico`."""
    app.mount("/api/docs/static", StaticFiles(directory=SWAGGER_FILES), name="swagger-ui")
    app.add_api_route(DOCS_URL, _docs, methods=["GET"], include_in_schema=False)
    app.add_api_route("/favicon.ico", _favicon, methods=["GET"], include_in_schema=False)


async def _docs(request: Request) -> Response:
    return templates().TemplateResponse(request, "kit/api_docs.html", {"openapi_url": "/openapi.json"})


async def _favicon() -> Response:
    # Browsers ask for /favicon.ico before reading the page's <link rel="icon">; one redirect, then cached.
    return RedirectResponse("/static/favicon.svg", status_code=301, headers={"Cache-Control": "public, max-age=86400"})

