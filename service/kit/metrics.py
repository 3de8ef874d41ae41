"""Prometheus metrics of one process, the request middleware that feeds them, and who may read them.

Each `koble serve` process counts its own requests (a scrape reaches one process: scrape each, or sum
them in Prometheus); the gauges read from the database and Redis are filled at scrape time by
`service.metrics`, so every process reports the same shared state (docs/contracts.md §5).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from collections.abc import Sequence

from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.kit import logs

log = logging.getLogger("koble.access")

# Buckets around Koble's targets: p99 < 100 ms for the mixed load (bench/load.py), seconds for imports.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUEST_SECONDS = Histogram(
    "koble_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
    ["method", "route", "status"], buckets=LATENCY_BUCKETS,
)
EMAILS_SENT = Counter("koble_emails_sent", "Emails this process handed to the SMTP server")
EMAILS_FAILED = Counter("koble_emails_failed", "Emails this process gave up on after the last try")


def count_email(status: str) -> None:
    """Count a delivery's outcome: `sent` and `failed` (the last try) are counted, a retry is not."""
    if status == "sent":
        EMAILS_SENT.inc()
    elif status == "failed":
        EMAILS_FAILED.inc()


ROUTE_KEY = "koble.route"  # a dict every copy of the scope shares (the CSRF middleware copies it)


def route_template(scope: Scope) -> str:
    """The matched route's template (`/me/matches/{match_id}`), never the raw path: bounded and without tokens."""
    route = scope.get("route") or scope.get(ROUTE_KEY, {}).get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    if str(scope.get("path", "")).startswith("/static/"):
        return "/static"
    return "unmatched"


class RequestTelemetry:
    """Gives each request its id (header in, header out, log context), times it and logs one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = logs.choose_request_id(Request(scope).headers.get("x-request-id"))
        scope[ROUTE_KEY] = {}
        token = logs.request_id.set(rid)
        status = [500]  # what the client gets if the app raises before answering
        started = time.perf_counter()
        try:
            await self.app(scope, receive, _with_request_id(send, rid, status))
        finally:
            _observe(scope, status[0], time.perf_counter() - started)
            logs.request_id.reset(token)


class RouteCapture:
    """Innermost middleware: hands the route the router matched to `RequestTelemetry`, outside a scope copy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if ROUTE_KEY in scope and "route" in scope:
                scope[ROUTE_KEY]["route"] = scope["route"]


def _with_request_id(send: Send, rid: str, status: list[int]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
            message["headers"] = [*list(message.get("headers", [])), (b"x-request-id", rid.encode())]
        await send(message)

    return sending


def _observe(scope: Scope, status: int, seconds: float) -> None:
    route = route_template(scope)
    REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(seconds)
    log.info("%s %s %d %.1f ms", scope["method"], route, status, seconds * 1000,
             extra={"method": scope["method"], "route": route, "status": status, "ms": round(seconds * 1000, 1)})


def may_read(request: Request, token: str | None, allowed: Sequence[str]) -> bool:
    """Whether this caller may read /metrics: the bearer token, or a client address in `allowed` (networks)."""
    given = request.headers.get("authorization", "")
    if token and secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if not allowed or request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:  # a unix socket or a test client's made-up host
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in allowed)
