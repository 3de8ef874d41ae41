"""The map's pages: `/staff/map` (any staff: analysts see numbers only), its drill-down to the people
behind a number (`StaffMember`: reviewers and admins, audited), theme edits, the exports, and the
public overview `/kartlegging` (no sign-in, no cell below 5 participants, cacheable)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.auth import service as auth
from service.auth.dependencies import AnyStaff, StaffMember
from service.kit import i18n
from service.kit.deps import ConnDep, ResourcesDep
from service.kit.i18n import _
from service.kit.templating import templates
from service.mapping import figures, tasks, views
from service.mapping import service as mapping

router = APIRouter(include_in_schema=False)
PRIVATE = {"Cache-Control": "no-store"}
PUBLIC_MAX_AGE = 600  # the figures change once a night (and on staff's recomputations)


def _page(
    request: Request, name: str, context: dict[str, Any], headers: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    base = {"participant": None, "staff": None, "notice": None}
    return templates().TemplateResponse(
        request, name, base | context, status_code=status_code, headers=PRIVATE if headers is None else headers
    )


def _map_context(document: dict[str, Any], public: bool, people: bool) -> dict[str, Any]:
    context = views.context(document, i18n.current_language.get(), public=public, people=people)
    return context | {"ctx": context}


@router.get("/staff/map", response_class=HTMLResponse)
async def staff_map(request: Request, staff: AnyStaff, conn: ConnDep) -> Response:
    """The map for staff: themes, gaps, charts and tables; numbers link to people for reviewers and admins."""
    document = await mapping.figures_document(conn)
    if document is None:
        return _page(request, "mapping/empty.html", {"staff": staff})
    notice = _("The themes are being recomputed; reload in a minute.") if request.query_params.get("queued") else None
    return _page(
        request,
        "mapping/map.html",
        _map_context(document, False, auth.can_see_people(staff)) | {"staff": staff, "notice": notice},
    )


@router.post("/staff/map/recompute")
async def recompute(staff: AnyStaff, resources: ResourcesDep) -> Response:
    """Queue a recomputation of the themes (the worker runs it)."""
    await tasks.enqueue_recompute(resources.redis)
    return RedirectResponse("/staff/map?queued=1", status_code=303)


@router.post("/staff/map/themes/rename")
async def rename(
    staff: AnyStaff,
    conn: ConnDep,
    theme: Annotated[int, Form()],
    name_nb: Annotated[str, Form(max_length=120)] = "",
    name_en: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    """Name a theme (both names empty: the computed label again)."""
    await mapping.rename(conn, theme, name_nb, name_en)
    return RedirectResponse("/staff/map#h-edit", status_code=303)


@router.post("/staff/map/themes/merge")
async def merge(
    staff: AnyStaff, conn: ConnDep, theme: Annotated[int, Form()], into: Annotated[int, Form()]
) -> Response:
    """Merge a theme into another."""
    await mapping.merge(conn, theme, into)
    return RedirectResponse("/staff/map#h-edit", status_code=303)


@router.post("/staff/map/themes/split")
async def split(staff: AnyStaff, conn: ConnDep, theme: Annotated[int, Form()]) -> Response:
    """Split a theme in two."""
    await mapping.split(conn, theme, 2)
    return RedirectResponse("/staff/map#h-edit", status_code=303)


@router.get("/staff/map/people", response_class=HTMLResponse)
async def people(
    request: Request, staff: StaffMember, conn: ConnDep, theme: int | None = None, side: str = "any",
    dimension: str | None = None, value: str | None = None,
) -> Response:
    """The participants behind one number (reviewers and admins; the view is audited)."""
    if theme is None:
        return RedirectResponse("/staff/map", status_code=303)
    found = await mapping.people_behind(conn, auth.staff_actor(staff), theme, side, dimension, value)
    row = await mapping.shown_theme(conn, theme)
    lang = i18n.current_language.get()
    label = (row["name_nb"] or row["label_nb"]) if lang == "nb" else (row["name_en"] or row["label_en"])
    sides = {"offers": _("Offering"), "seeks": _("Seeking"), "any": _("Offering or seeking")}
    kinds = {k: views.value_name("kind", k) for k in ("student", "researcher", "company", "public_body")}
    shown_value = views.value_name(dimension, value) if dimension and value is not None else None
    return _page(
        request,
        "mapping/people.html",
        {
            "staff": staff,
            "people": found,
            "theme_label": label,
            "side_label": sides[side],
            "value": shown_value,
            "kinds": kinds,
        },
    )


def _download(body: bytes | str, name: str, media_type: str, headers: dict[str, str]) -> Response:
    return Response(
        body, media_type=media_type, headers=headers | {"Content-Disposition": f'attachment; filename="{name}"'}
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/staff/map/export.xlsx")
async def staff_export_xlsx(staff: AnyStaff, conn: ConnDep) -> Response:
    """The map's figures as .xlsx (every number, no names)."""
    return await _export(conn, "xlsx", public=False, headers=PRIVATE)


@router.get("/staff/map/export.csv")
async def staff_export_csv(staff: AnyStaff, conn: ConnDep) -> Response:
    """The map's figures as CSV (every number, no names)."""
    return await _export(conn, "csv", public=False, headers=PRIVATE)


async def _export(conn: asyncpg.Connection, fmt: str, public: bool, headers: dict[str, str]) -> Response:
    document = await mapping.figures_document(conn) or figures.empty()
    rows = views.export_rows(document, i18n.current_language.get(), public)
    name = "kartlegging" if public else "kartlegging-staff"
    if fmt == "csv":
        return _download(views.as_csv(rows), f"{name}.csv", "text/csv; charset=utf-8", headers)
    return _download(views.as_xlsx(rows, "kartlegging"), f"{name}.xlsx", XLSX, headers)


def _public_headers(document: dict[str, Any] | None) -> dict[str, str]:
    stamp = f"{document['computed_at'] if document else '-'}|{i18n.current_language.get()}"
    return {
        "Cache-Control": f"public, max-age={PUBLIC_MAX_AGE}",
        "Vary": "Cookie",
        "ETag": '"' + hashlib.sha256(stamp.encode()).hexdigest()[:16] + '"',
    }


@router.get("/kartlegging", response_class=HTMLResponse)
async def public_map(request: Request, conn: ConnDep) -> Response:
    """The public overview: the same picture with no cell below 5 participants and no names."""
    document = await mapping.figures_document(conn)
    headers = _public_headers(document)
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    if document is None:
        return _page(request, "mapping/empty.html", {}, headers)
    return _page(request, "mapping/public.html", _map_context(document, True, False), headers)


@router.get("/kartlegging/export.xlsx")
async def public_export_xlsx(conn: ConnDep) -> Response:
    """The public figures (no cell below 5) as .xlsx."""
    return await _export(conn, "xlsx", public=True, headers=_public_headers(await mapping.figures_document(conn)))


@router.get("/kartlegging/export.csv")
async def public_export_csv(conn: ConnDep) -> Response:
    """The public figures (no cell below 5) as CSV."""
    return await _export(conn, "csv", public=True, headers=_public_headers(await mapping.figures_document(conn)))
