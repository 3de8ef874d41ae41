"""The public surface's guards: CSRF, security headers, request size limits and rate limits."""

from __future__ import annotations

import logging
import time
from typing import Any

from asgi_csrf import asgi_csrf
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError as LimitsStorageError
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


# Answers that hold personal data or a single person's state: never stored by a browser's or a proxy's cache
# (a shared computer's back button, a company proxy). Public pages (/, /privacy, /register, static files)
# stay cacheable.
PERSONAL_ROOTS = ("me", "staff", "api", "reply", "auth", "unsubscribe", "signin", "signout")
NO_STORE = (b"cache-control", b"no-store")


def is_personal(path: str) -> bool:
    """Whether answers under this path are personal (sent with `Cache-Control: no-store`)."""
    return path.split("/", 2)[1] in PERSONAL_ROOTS if path.startswith("/") else False


class SecurityHeaders:
    """Adds browser security headers to every HTTP response, and `no-store` to personal ones."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        extra = self.headers + ([NO_STORE] if is_personal(scope["path"]) else [])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # A route that chose its own caching (e.g. a public, cacheable page) keeps it.
                own = any(name.lower() == b"cache-control" for name, _ in headers)
                message["headers"] = headers + [h for h in extra if not (own and h is NO_STORE)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimit:
    """Refuses request bodies over a limit with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int, api_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Imports through the API may carry many participants at once.
        self.api_max_bytes = api_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.api_max_bytes if scope["path"].startswith("/api/") else self.max_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send)
            return
        messages = await _read_body(receive, limit)
        if messages is None:
            await _too_large(send)
            return
        await self.app(scope, _replay(messages, receive), send)


async def _read_body(receive: Receive, limit: int) -> list[Message] | None:
    """The request's body messages, or None once they pass the limit (bodies here are small)."""
    messages: list[Message] = []
    seen = 0
    while True:
        message = await receive()
        messages.append(message)
        seen += len(message.get("body", b""))
        if seen > limit:
            return None
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replayed() -> Message:
        return messages.pop(0) if messages else await receive()

    return replayed


async def _too_large(send: Send) -> None:
    body = b'{"detail":"Request body too large"}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _csrf_failed(scope: Scope, send: Send, message_id: Any) -> None:
    # Usually an old tab: tell the person what to do rather than show a bare 403.
    body = (
        "<!doctype html><meta charset=utf-8><title>Koble</title>"
        "<p>Skjemaet er utløpt. Gå tilbake, last siden på nytt og prøv igjen.</p>"
        "<p>The form has expired. Go back, reload the page and try again.</p>"
    ).encode()
    await send(
        {"type": "http.response.start", "status": 403, "headers": [(b"content-type", b"text/html; charset=utf-8")]}
    )
    await send({"type": "http.response.body", "body": body})


def with_csrf(app: ASGIApp, secret: str, secure: bool) -> ASGIApp:
    """Wrap the app in double-submit CSRF protection for every form; the JSON API is exempt."""
    wrapped: ASGIApp = asgi_csrf(
        app,
        signing_secret=secret,
        cookie_secure=secure,
        # JSON bodies cannot be sent cross-site without a CORS preflight, which Koble never allows.
        skip_if_scope=lambda scope: scope["path"].startswith("/api/"),
        send_csrf_failed=_csrf_failed,
    )
    return wrapped


class RateLimiter:
    """Redis-backed moving-window limits per action and client, shared by all processes.

    Fails open: while Redis is unreachable every attempt is allowed (and a warning logged at most every
    OUTAGE_LOG_SECONDS), so that registrations and sign-ins keep working; the emails they write wait in
    the outbox (docs/contracts.md §5, "Redis down").
    """

    OUTAGE_LOG_SECONDS = 10.0

    def __init__(self, redis_url: str) -> None:
        # Our own connection pool, so that shutdown can close it (see close()). Short timeouts: a Redis that
        # hangs must not hang a registration; a connection that died with a restarted Redis is retried once.
        self.connections = ConnectionPool.from_url(
            redis_url, socket_connect_timeout=1, socket_timeout=1,
            retry_on_error=[RedisConnectionError], retry=Retry(NoBackoff(), 1),
        )
        self.logged_outage = 0.0
        self.storage = RedisStorage(
            _limits_uri(redis_url),
            implementation="redispy",
            connection_pool=self.connections,  # type: ignore[arg-type]  # passed through to redis-py
        )
        self.strategy = MovingWindowRateLimiter(self.storage)

    async def hit(self, rule: str, action: str, client: str) -> bool:
        """Count one attempt; False when the client is over the limit (True while Redis is unreachable)."""
        try:
            return await self.strategy.hit(parse(rule), "koble", action, client)
        except (RedisError, OSError, LimitsStorageError) as exc:
            self._log_outage(exc)
            return True

    def _log_outage(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self.logged_outage >= self.OUTAGE_LOG_SECONDS:
            self.logged_outage = now
            log.warning("rate limits not checked: Redis unreachable (%s); allowing requests", type(exc).__name__)

    async def allows(self, rule: str, action: str, client: str, address: str) -> bool:
        """Count one attempt for the client and one for the email address; False when either is over.

        Per address too, so that nobody can flood one inbox from many machines. The address is not
        counted when the client is already over (a blocked client cannot use up someone's budget).
        """
        return await self.hit(rule, action, client) and await self.hit(rule, f"{action}-email", address.lower())

    async def close(self) -> None:
        """Close the limiter's Redis connections."""
        await self.connections.disconnect()


def client_address(request: Request) -> str:
    """The client's address as the server sees it ("unknown" without one)."""
    return request.client.host if request.client else "unknown"


def _limits_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url
