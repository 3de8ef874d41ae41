"""The FastAPI application: resources made in lifespan, middleware, routers, the error handlers (kit.errors)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from arq import create_pool as create_arq_pool
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import health, metrics, worker
from service.events import pages as event_pages
from service.events import router as event_api
from service.feed import pages as feed_pages
from service.feed import router as feed_api
from service.followup import pages as followup_pages
from service.followup import router as followup_api
from service.kit import api, apidocs, audit, database, embedded, errors, i18n, jobs
from service.kit.config import Settings, get_settings
from service.kit.deps import Resources
from service.kit.metrics import RequestTelemetry, RouteCapture
from service.kit.security import BodySizeLimit, InputGuard, RateLimiter, SecurityHeaders, with_csrf
from service.mapping import pages as mapping_pages
from service.mapping import router as mapping_api
from service.matching import listener
from service.matching.cache import SuggestionCache
from service.matching.settings import get_ranker_settings
from service.profiles import pages as profile_pages
from service.profiles import router as profile_api
from service.review import pages as review_pages
from service.review import router as review_api
from service.rounds import pages as round_pages
from service.rounds import router as round_api
from service.suggestions import router as suggestions_api

STATIC = Path(__file__).parent / "static"
API_BODY_BYTES = 1024 * 1024


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the database, Redis and (in `koble serve`) the worker; stop them in reverse."""
    settings: Settings = app.state.settings
    db_url = await asyncio.to_thread(embedded.postgres_url, settings)
    redis_url = await asyncio.to_thread(embedded.redis_url, settings)
    await asyncio.to_thread(database.migrate, db_url)
    pool = await database.create_pool(db_url)
    redis = await create_arq_pool(jobs.redis_settings(redis_url))
    limiter = RateLimiter(redis_url)
    app.state.resources = Resources(settings, pool, redis, limiter)
    app.state.grouped_reads = audit.GroupedReads()  # read by service.suggestions.router: audit rows of reads
    # Read by service.matching.dependencies; None when KOBLE_SUGGESTION_CACHE_ENTRIES is 0.
    entries = get_ranker_settings().suggestion_cache_entries
    app.state.suggestion_cache = SuggestionCache(entries) if entries else None
    read_time = listener.start_read_time(app.state.suggestion_cache, db_url, pool, get_ranker_settings())
    app.state.read_time = read_time  # None without a cache or with KOBLE_READ_TIME_MEMORY off
    # The worker opens its own pool (service.worker.POOL_SIZE): requests never starve its jobs of connections,
    # nor an accepted email of the one that records it `sent` (docs/architecture.md, "Email delivery").
    supervisor = worker.Supervisor(settings, redis_url, _on_worker_death(app)) if settings.run_worker else None
    # Read by health.worker_state (/healthz): the in-process worker's state, or "off".
    app.state.worker_state = (lambda: supervisor.state) if supervisor else None
    worker_task = asyncio.create_task(supervisor.run()) if supervisor else None
    if getattr(app.state, "served", False):
        served_gc()
    try:
        yield
    finally:
        if supervisor and worker_task:
            supervisor.stop()  # running jobs finish (KOBLE_WORKER_DRAIN_SECONDS) before the pool closes
            with contextlib.suppress(Exception):  # a dead worker was already logged
                await worker_task
        if read_time is not None:
            await read_time.stop()
        await limiter.close()
        await redis.aclose()
        await pool.close()
        # uvicorn re-raises SIGTERM after shutdown, so atexit hooks cannot be relied on.
        await asyncio.to_thread(embedded.stop_all)


# Collector thresholds of a `koble serve` process. With Python's (700, 10, 10), a full collection ran every
# ~10 s under load at 10k participants and took 57-97 ms (the read-time memory and suggestion cache are
# millions of tracked objects), stalling every request in flight: the p99. 7000 / 10 / 100 makes full
# collections rarer (Python still requires 25% new long-lived objects) and young ones fewer.
SERVED_GC_THRESHOLDS = (7000, 10, 100)


def served_gc() -> None:
    """In `koble serve` only (tests make many apps in one process): what start-up made is never collected
    again (modules, routes, models: gc.freeze), and the collector runs less often (SERVED_GC_THRESHOLDS)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVED_GC_THRESHOLDS)


def _on_worker_death(app: FastAPI) -> Callable[[], None]:
    """What the in-process worker calls if it stops for good: the app's `on_worker_death` (`koble serve`
    stops the server and exits 1 so that a supervisor restarts it); /healthz says "dead" meanwhile."""

    def died() -> None:
        handler = getattr(app.state, "on_worker_death", None)
        if handler is not None:
            handler()

    return died


class LanguageMiddleware:
    """Sets the request's language from `?lang=`, else the `lang` cookie, else the signed-in participant's
    profile language (kept in the session at sign-in), else the browser's Accept-Language.

    A `?lang=` choice sticks (the cookie, for this browser), so a person who switches keeps their choice.
    """

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        chosen = request.query_params.get("lang")
        browser = i18n.preferred_language(request.headers.get("accept-language"))
        profile = (scope.get("session") or {}).get(i18n.SESSION_LANGUAGE_KEY)
        language = i18n.pick_language(chosen, request.cookies.get("lang"), profile, browser)
        token = i18n.current_language.set(language)
        try:
            await self.app(scope, receive, _remember(send, language, self.secure) if chosen else send)
        finally:
            i18n.current_language.reset(token)


def _remember(send: Send, language: str, secure: bool) -> Send:
    cookie = f"lang={language}; Path=/; Max-Age=31536000; SameSite=Lax" + ("; Secure" if secure else "")

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*list(message.get("headers", [])), (b"set-cookie", cookie.encode())]
        await send(message)

    return sending


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for these settings (the environment's by default)."""
    settings = settings or get_settings()
    get_ranker_settings()  # read now: a bad KOBLE_WEIGHTS_FILE stops start-up, not the first suggestion
    worker.wire_hooks()  # an embedding inside a request gives new interests their nearest theme too
    app = FastAPI(
        title="Koble",
        version="0.1.0",
        summary="Matching of students, researchers, companies and public bodies in the Gjøvik region.",
        lifespan=lifespan,
        docs_url=None,  # kit.apidocs serves it without a CDN, within the CSP
        redoc_url=None,
    )
    app.state.settings = settings
    # The API first: a request is matched against the routes in order, and the pages' routes (most of them)
    # cost the API's busiest routes ~4 % of their CPU in the mixed load (py-spy; bench/README.md). The API's
    # paths all start with /api/v1/; of the pages' only the digest's one-click unsubscribe does, a path no API
    # route matches, so the order changes what is scanned, not what is found.
    for router in (health.router, metrics.router, profile_api.router, suggestions_api.router, review_api.router,
                   feed_api.router, followup_api.router, event_api.router, round_api.router, mapping_api.router):
        app.include_router(router)
    for router in (profile_pages.router, review_pages.router, feed_pages.router, followup_pages.router,
                   event_pages.router, round_pages.router, mapping_pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    apidocs.install(app)
    errors.install(app)
    _add_middleware(app, settings)
    _document_common_errors(app)
    return app


def create_served_app() -> FastAPI:
    """`create_app` in one of `koble serve --workers N`'s processes: logging as `koble serve` sets it up, and
    a dead in-process worker stops this process (uvicorn's supervisor starts another)."""
    from service.kit.commandline import setup_logging

    setup_logging()
    app = create_app()
    app.state.served = True  # lifespan tunes the collector (served_gc)
    app.state.on_worker_death = lambda: os.kill(os.getpid(), signal.SIGTERM)
    return app


def _document_common_errors(app: FastAPI) -> None:
    """Every API operation documents the answers the middlewares and the router give (kit.api.COMMON_ERRORS)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = build()
        return api.document_common_errors(schema) if fresh else schema

    app.openapi = openapi  # type: ignore[method-assign]


# The pages that take a file, with their body limits: a mapping round's list, a participant's photo.
UPLOADS = {**round_pages.UPLOADS, **profile_pages.UPLOADS}


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    secret = settings.secret_key()
    # Added innermost first: the request passes telemetry, size limit, headers, input guard, CSRF, session,
    # language.
    app.add_middleware(RouteCapture)
    app.add_middleware(LanguageMiddleware, secure=settings.secure_cookies)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="koble_session",
        max_age=settings.session_days * 86400,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(with_csrf_middleware, secret=secret, secure=settings.secure_cookies)
    app.add_middleware(InputGuard, uploads=UPLOADS)
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, api_max_bytes=API_BODY_BYTES,
                       uploads=UPLOADS)
    # Outermost: every answer, a refusal of the guards included, carries a request id and is timed.
    app.add_middleware(RequestTelemetry)


def with_csrf_middleware(app: ASGIApp, secret: str, secure: bool) -> ASGIApp:
    """CSRF protection as a middleware factory."""
    return with_csrf(app, secret, secure)
