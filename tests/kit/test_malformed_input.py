"""No malformed input is a server error (issue 15, finding 5): every route of the app, every malformed variant,
anonymous and with a participant's or a staff member's session, answers below 500.

The routes are read from the app itself (`fastapi.routing.iter_route_contexts`), so a route added later is
walked too. Each variant builds the requests it sends to one route; a walk collects every answer >= 500.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from asyncpg import Connection
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from service.app import create_app
from service.kit.config import Settings
from tests.conftest import API_TOKEN
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import sign_in_as

HUGE_INTS = ("9223372036854775808", "99999999999999999999", "-9223372036854775809", "1e39")
BAD_TEXT = ("a\x00b", "a\x07b", "\x1b[31m")
# Query names the pages read from request.query_params as well as those the routes declare.
COMMON_QUERY = ("q", "cursor", "before", "status", "domain", "kinds", "engagement", "language", "date_from",
                "date_to", "limit", "k", "by", "outcome", "retried", "saved", "lang", "next", "link_sent")
# Field names the forms and JSON bodies use; the value under test goes into each.
FIELDS = ("name", "email", "organisation", "location", "offers", "seeks", "kind", "language", "domains",
          "engagements", "capacity", "available_from", "available_until", "reason", "comment", "until", "role",
          "answer", "match_ids", "external_id", "to", "q", "a", "b", "note", "consent", "action", "outcome",
          "reminders", "followups", "decision", "confirm", "this_device")
# Routes that end the session or the account go last, so that the walk keeps its identity for the rest.
LAST = re.compile(r"signout|/delete|disable")


@dataclass(frozen=True)
class Target:
    """One route and method, with the kinds of its path parameters."""

    method: str
    path: str
    int_params: tuple[str, ...]
    str_params: tuple[str, ...]
    query: tuple[str, ...]

    def url(self, **values: str) -> str:
        """The path with every parameter filled in (ints 1, texts "x"), overridden by `values`."""
        filled = {name: "1" for name in self.int_params} | {name: "x" for name in self.str_params} | values
        return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: filled[m.group(1)], self.path)

    @property
    def has_body(self) -> bool:
        """Whether the method carries a body."""
        return self.method in ("POST", "PUT", "PATCH")


def targets(app: FastAPI) -> list[Target]:
    """Every API route and page of the app with each of its methods; the session enders last."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None:
            continue
        ints = tuple(f.name for f in route.dependant.path_params if f.field_info.annotation is int)
        texts = tuple(f.name for f in route.dependant.path_params if f.field_info.annotation is not int)
        query = tuple(f.name for f in route.dependant.query_params)
        found += [Target(method, context.path, ints, texts, query) for method in sorted(route.methods or ())]
    return sorted(found, key=lambda t: bool(LAST.search(t.path)))


@dataclass
class Probe:
    """One request of a variant: relative URL and httpx keyword arguments."""

    url: str
    options: dict[str, Any]


Variant = Callable[[Target, str], Iterator[Probe]]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def bad_cookie_headers(target: Target, csrf: str) -> Iterator[Probe]:
    """Cookie headers the CSRF library could not parse: a `$` name, bytes that are not UTF-8, an attribute first."""
    for header in (b"a=b; $x=1", b"a=\xff\xfe; csrftoken=" + csrf.encode(), b"path=/; a=b", b'a="b; c=d', b"=;;="):
        yield Probe(target.url(), {"headers": {"cookie": header}, "data": {"csrftoken": csrf}})


def bad_form_bodies(target: Target, csrf: str) -> Iterator[Probe]:
    """Form bodies that are not UTF-8, multipart bodies (with and without a boundary), a body with control bytes."""
    if not target.has_body:
        return
    urlencoded = {"content-type": "application/x-www-form-urlencoded"}
    yield Probe(target.url(), {"content": f"csrftoken={csrf}&name=\xff".encode("latin-1"), "headers": urlencoded})
    yield Probe(target.url(), {"content": b"\xff\xfe=\x00", "headers": urlencoded})
    yield Probe(target.url(), {"data": {"csrftoken": csrf, "name": "x"}, "files": {"file": ("a.txt", b"\xff")}})
    yield Probe(target.url(), {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}})
    yield Probe(target.url(), {"content": b"\xff", "headers": {"content-type": "multipart/form-data; boundary=x"}})
    yield Probe(target.url(), {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}})


def huge_ints(target: Target, csrf: str) -> Iterator[Probe]:
    """Integers past 64 bits (and floats in exponent form) in every integer path parameter."""
    for name in target.int_params:
        for value in HUGE_INTS:
            yield Probe(target.url(**{name: value}), {"data": {"csrftoken": csrf}})


def control_characters_in_path(target: Target, csrf: str) -> Iterator[Probe]:
    """A NUL, a bell and an escape sequence in every text path parameter."""
    for name in target.str_params:
        for value in BAD_TEXT:
            yield Probe(target.url(**{name: quote(value, safe="")}), {"data": {"csrftoken": csrf}})


def bad_queries(target: Target, csrf: str) -> Iterator[Probe]:
    """Control characters, superscript digits, huge numbers and odd cursors in every query parameter."""
    names = tuple(dict.fromkeys(target.query + COMMON_QUERY))
    values = ("a\x00b", "\x1b[31m", "²", HUGE_INTS[0], "1e39", "1e39:1", _b64("1e39:1"), _b64("nan:1"))
    for value in values:
        yield Probe(target.url(), {"params": dict.fromkeys(names, value), "data": {"csrftoken": csrf}})


def control_characters_in_fields(target: Target, csrf: str) -> Iterator[Probe]:
    """A NUL in every known field of a form and of a JSON body."""
    if not target.has_body:
        return
    for value in BAD_TEXT[:2]:
        form = {"csrftoken": csrf} | dict.fromkeys(FIELDS, value)
        yield Probe(target.url(), {"data": form})
        yield Probe(target.url(), {"json": dict.fromkeys(FIELDS, value), "headers": {"x-csrftoken": csrf}})
        yield Probe(target.url(), {"json": {name: [value] for name in FIELDS}, "headers": {"x-csrftoken": csrf}})


VARIANTS: dict[str, Variant] = {
    "bad-cookie-header": bad_cookie_headers,
    "bad-form-body": bad_form_bodies,
    "huge-int": huge_ints,
    "control-chars-in-path": control_characters_in_path,
    "bad-query": bad_queries,
    "control-chars-in-fields": control_characters_in_fields,
}


@pytest.fixture
async def walker(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that returns 500s as answers (instead of raising the app's exception)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def walk(client: httpx.AsyncClient, routes: list[Target], variant: Variant, headers: dict[str, str]) -> list[str]:
    """Send every probe of a variant to every route; the ones answered with a server error."""
    await client.get("/signin")  # a CSRF cookie, so that form bodies are parsed by the CSRF check
    csrf = client.cookies.get("csrftoken") or ""
    failures = []
    for target in routes:
        for probe in variant(target, csrf):
            options = dict(probe.options)
            if target.method in ("GET", "DELETE"):
                for key in ("data", "json", "files", "content"):
                    options.pop(key, None)
            options["headers"] = {**headers, **options.get("headers", {})}
            answer = await client.request(target.method, probe.url, **options)
            if answer.status_code >= 500:
                failures.append(f"{target.method} {probe.url} {probe.options}: {answer.status_code}")
    return failures


async def identify(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, who: str,
    make_participant: MakeParticipant, make_staff: MakeStaff, make_match: MakeMatch,
) -> dict[str, str]:
    """Sign the client in as `who` (with a match to look at); the headers it sends (the token for `bearer`)."""
    a = await make_participant("student", embed=False)
    b = await make_participant("company", embed=False)
    await make_match(a, b, "introduced")
    if who == "participant":
        await sign_in_as(client, conn, settings, participant_id=a["id"])
    elif who == "staff":
        await sign_in_as(client, conn, settings, staff_id=(await make_staff("admin"))["id"])
    return {"Authorization": f"Bearer {API_TOKEN}"} if who == "bearer" else {}


@pytest.mark.parametrize("who", ["anonymous", "participant", "staff", "bearer"])
async def test_no_route_answers_a_malformed_request_with_a_server_error(
    who: str, walker: httpx.AsyncClient, conn: Connection, settings: Settings,
    make_participant: MakeParticipant, make_staff: MakeStaff, make_match: MakeMatch,
) -> None:
    headers = await identify(walker, conn, settings, who, make_participant, make_staff, make_match)
    routes = targets(create_app(settings))
    if who == "bearer":  # the token opens only the API
        routes = [t for t in routes if t.path.startswith("/api/")]
    failures = []
    for name, variant in VARIANTS.items():
        failures += [f"{name}: {failure}" for failure in await walk(walker, routes, variant, headers)]
    assert failures == [], "\n".join(failures[:60]) + f"\n({len(failures)} in all)"


def test_the_walk_covers_every_kind_of_route() -> None:
    """The walk reaches pages and API routes, integer and text path parameters, and declared queries."""
    found = targets(create_app(Settings(koble_secret_key="walk")))
    assert len(found) > 60
    assert any(t.int_params for t in found) and any(t.str_params for t in found) and any(t.query for t in found)
    assert LAST.search(found[-1].path) and not LAST.search(found[0].path)
