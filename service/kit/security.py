"""The public surface's guards: CSRF, security headers, request size limits and rate limits."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import secrets
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from asgi_csrf import asgi_csrf
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError as LimitsStorageError
from python_multipart import FormParser
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import parse_options_header
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.kit.api import is_json
from service.kit.config import IPNetwork
from service.kit.inputs import first_control

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

    def __init__(
        self, app: ASGIApp, max_bytes: int, api_max_bytes: int, uploads: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Imports through the API may carry many participants at once.
        self.api_max_bytes = api_max_bytes
        # Pages that take a file (path -> limit), e.g. a mapping round's list of organisations.
        self.uploads = dict(uploads or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if b"content-length" not in headers and b"transfer-encoding" not in headers:
            # HTTP/1.1 has no body without either header (uvicorn's parsers refuse one): nothing to buffer and
            # replay, the common case of every GET (a cache hit's CPU, bench/README.md).
            await self.app(scope, receive, send)
            return
        limit = self.api_max_bytes if scope["path"].startswith("/api/") else self.max_bytes
        limit = self.uploads.get(scope["path"], limit)
        declared = headers.get(b"content-length")
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


# RFC 6265's cookie-name (a token) and cookie-value characters; anything else is not a cookie Koble set.
COOKIE_NAME = re.compile(r"[A-Za-z0-9!#%&'*+\-.^_`|~]+")
COOKIE_VALUE = re.compile(r"[A-Za-z0-9!#$%&'()*+\-./:<=>?@\[\]^_`{|}~]*")
# Names SimpleCookie (inside the CSRF library) takes for attributes of the cookie before them.
COOKIE_ATTRIBUTES = frozenset({"expires", "path", "comment", "domain", "max-age", "secure", "httponly", "version",
                               "samesite", "partitioned"})
FORM = "application/x-www-form-urlencoded"
NON_ASCII = re.compile(rb"[\x80-\xff]")
NO_LIMIT = 2**62


def clean_cookie_header(raw: bytes) -> bytes | None:
    """The Cookie header without the pairs no cookie Koble sets could look like; None when nothing is left.

    We drop malformed pairs rather than answer 400 (issue 15, finding 5): a browser holding one bad cookie
    (set by another app on the host) would otherwise be locked out of every page until its owner clears
    cookies. Starlette (session, language) reads cookies leniently while the CSRF library refuses the whole
    header, so both must see the same cleaned header: never a session cookie that the CSRF check missed.
    """
    pairs = cookie_parser(raw.decode("latin-1"))
    kept = [
        f"{name}={value}" for name, value in pairs.items()
        if COOKIE_NAME.fullmatch(name) and COOKIE_VALUE.fullmatch(value) and name.lower() not in COOKIE_ATTRIBUTES
    ]
    return "; ".join(kept).encode("ascii") if kept else None


def _media_type(scope: Scope) -> str:
    raw = dict(scope.get("headers") or []).get(b"content-type", b"")
    return raw.decode("latin-1").split(";")[0].strip().lower()


def _path_or_query_problem(scope: Scope) -> str | None:
    """Why the path or query cannot be taken (a control character, which no id, token or search holds)."""
    if first_control(scope["path"]) is not None:
        return "path: control characters are not allowed"
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return None
    for name, value in parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace"):
        if first_control(name) is not None or first_control(value) is not None:
            shown = name if first_control(name) is None else "a parameter"
            return f"query: {shown}: control characters are not allowed"
    return None


def _body_problem(scope: Scope, body: bytes, uploads: Collection[str] = ()) -> tuple[int, str] | None:
    """Why a body cannot be taken: an upload (Koble takes none but on `uploads`' paths), or a form that is
    not UTF-8."""
    media_type = _media_type(scope)
    if media_type.startswith("multipart/") and not (media_type == "multipart/form-data" and scope["path"] in uploads):
        return 415, f"body: send forms as {FORM}; Koble takes no file uploads"
    if media_type == FORM:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "body: the form is not UTF-8 text"
    return None


def percent_encoded(body: bytes) -> bytes:
    """A UTF-8 form body with its raw non-ASCII bytes percent-encoded, as browsers send them.

    Starlette's form parser reads raw bytes as Latin-1 before unquoting, so a form sent unencoded (`curl -d`,
    a script) stored each "ø" as two Latin-1 letters without a word; encoded, it reads them as UTF-8.
    """
    return NON_ASCII.sub(lambda m: b"%%%02X" % m.group()[0], body)


def _as_browsers_send(scope: Scope, messages: list[Message], body: bytes) -> list[Message]:
    """The body's messages, as one percent-encoded message if it is a form with raw non-ASCII bytes."""
    if body.isascii() or _media_type(scope) != FORM:
        return messages
    return [{"type": "http.request", "body": percent_encoded(body), "more_body": False}]


class InputGuard:
    """Refuses what no route can take before any parser meets it: control characters in the path or query
    (400), form bodies that are not UTF-8 (400) or multipart (415); and drops malformed cookies (see
    clean_cookie_header). Each used to be a 500 inside a parser (issue 15, finding 5)."""

    def __init__(self, app: ASGIApp, uploads: Collection[str] = ()) -> None:
        self.app = app
        # The pages that take a file (a mapping round's list): multipart is allowed there only.
        self.uploads = frozenset(uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = _with_clean_cookies(scope)
        problem = _path_or_query_problem(scope)
        if problem is not None:
            await _refuse(send, 400, problem)
            return
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            # Already buffered and bounded by BodySizeLimit, the outer middleware: no limit of our own.
            messages = await _read_body(receive, NO_LIMIT) or []
            body = b"".join(m.get("body", b"") for m in messages)
            refused = _body_problem(scope, body, self.uploads)
            if refused is not None:
                await _refuse(send, *refused)
                return
            receive = _replay(_as_browsers_send(scope, messages, body), receive)
        await self.app(scope, receive, send)


def _with_clean_cookies(scope: Scope) -> Scope:
    if not any(name == b"cookie" for name, _ in scope.get("headers") or []):
        return scope  # nothing to clean (an integration's request): no copy of the scope
    headers = [(name, value) for name, value in scope.get("headers") or [] if name != b"cookie"]
    raw = b"; ".join(value for name, value in scope.get("headers") or [] if name == b"cookie")
    cleaned = clean_cookie_header(raw) if raw else None
    return {**scope, "headers": headers + ([(b"cookie", cleaned)] if cleaned else [])}


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


CSRF_API_DETAIL = (
    "csrf: with the session cookie, send Content-Type: application/json (or the X-CSRFToken header); "
    "integrations send the bearer token"
)


async def _csrf_failed(scope: Scope, send: Send, message_id: Any) -> None:
    if scope["path"].startswith("/api/"):
        await _refuse(send, 403, CSRF_API_DETAIL)
        return
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


class PathPrefixes:
    """A set of paths given by their beginnings (what the CSRF library's `always_protect` asks `in` of)."""

    def __init__(self, *prefixes: str) -> None:
        self.prefixes = prefixes

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and path.startswith(self.prefixes)


# Sign-in CSRF (issue 15, finding 6): the CSRF library lets a POST without any cookie through, since no
# session rides on it; but asking for a link and using one *starts* a session, so a page on another site
# could sign a visitor into the attacker's account. These forms always need the token of their page.
SIGN_IN_PATHS = PathPrefixes("/signin", "/register", "/auth/", "/staff/signin", "/staff/auth/", "/rounds/i/")
# Authenticated by the token in the path, POSTed by mail clients without cookies (RFC 8058).
ONE_CLICK_PATHS = ("/api/v1/unsubscribe/", "/api/v1/rounds/unsubscribe/")


def skips_csrf(scope: Scope) -> bool:
    """Whether a request with cookies may skip the token check: only JSON API calls, and API methods a form
    cannot send (PUT, PATCH, DELETE).

    A browser sends `application/json`, a custom header or a PUT/PATCH/DELETE to another site only after a
    CORS preflight, which Koble never grants. A form can POST to the API with a form or text content type,
    and the session cookie rides along from the same site; such a POST (even one without a body, like
    `approve`) needs the CSRF header or field like any form (issue 15, finding 6).
    """
    path = scope["path"]
    if path.startswith(ONE_CLICK_PATHS):
        return True
    return path.startswith("/api/") and (scope["method"] != "POST" or is_json(_media_type(scope)))


def with_csrf(app: ASGIApp, secret: str, secure: bool) -> ASGIApp:
    """Wrap the app in double-submit CSRF protection for every form and every cookie-borne API POST that is
    not JSON (see skips_csrf); the sign-in forms are checked even without cookies (SIGN_IN_PATHS)."""
    wrapped: ASGIApp = asgi_csrf(
        app,
        signing_secret=secret,
        cookie_secure=secure,
        always_protect=SIGN_IN_PATHS,
        skip_if_scope=skips_csrf,
        send_csrf_failed=_csrf_failed,
    )
    return ApiBypass(MultipartCsrf(wrapped, secret), app)


class ApiBypass:
    """Sends API calls that skip the CSRF check (skips_csrf) straight to the app, past asgi-csrf.

    For them asgi-csrf only made a signed token for the page's forms (an HMAC and a random secret per
    request, and a wrapper around every message sent), which no API route asks for (templating's
    `csrftoken` is for pages; an /api/ error is JSON, kit.errors). Forms and cookie-borne non-JSON POSTs
    still pass the check.
    """

    def __init__(self, checked: ASGIApp, app: ASGIApp) -> None:
        self.checked = checked
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/") and skips_csrf(scope):
            await self.app(scope, receive, send)
        else:
            await self.checked(scope, receive, send)


class MultipartCsrf:
    """Checks the CSRF field of multipart forms (file uploads) before asgi-csrf sees them.

    asgi-csrf 0.11 parses multipart bodies with an argument python-multipart 0.0.26 removed (its issue
    #38; the older python-multipart has CVE-2026-40347). So the field is read here, checked against the
    signed cookie as asgi-csrf would, and handed on as the `x-csrftoken` header, which asgi-csrf checks
    first; a multipart request without a matching, genuine token is refused here.
    """

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.signer = URLSafeSerializer(secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "TRACE"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "")
        # The requests asgi-csrf would check (and crash on): not skipped, and with cookies or a sign-in path.
        checked = not skips_csrf(scope) and ("cookie" in headers or scope["path"] in SIGN_IN_PATHS)
        if not content_type.startswith("multipart/form-data") or not checked:
            await self.app(scope, receive, send)
            return
        messages = await _read_body(receive, 1 << 62) or []  # BodySizeLimit, outside, bounds it
        token = _multipart_field(content_type, b"".join(m.get("body", b"") for m in messages), "csrftoken")
        if not self.genuine(token, Request(scope).cookies.get("csrftoken")):
            await _csrf_failed(scope, send, None)
            return
        raw = [(k, v) for k, v in scope["headers"] if k != b"x-csrftoken"] + [(b"x-csrftoken", token.encode())]
        await self.app({**scope, "headers": raw}, _replay(messages, receive), send)

    def genuine(self, token: str, cookie: str | None) -> bool:
        """The form's token equals the cookie's, and the cookie is signed with our secret."""
        if not token or not cookie or not secrets.compare_digest(token, cookie):
            return False
        try:
            self.signer.loads(cookie, salt="csrftoken")  # asgi-csrf's signing namespace
        except BadSignature:
            return False
        return True


def _multipart_field(content_type: str, body: bytes, name: str) -> str:
    """One text field of a multipart body ('' when absent or unreadable); files are skipped."""
    found: dict[str, str] = {}

    def on_field(field: Any) -> None:
        if field.field_name == name.encode() and field.value is not None:
            found[name] = field.value.decode("utf-8", "replace")

    _, options = parse_options_header(content_type)
    try:
        parser = FormParser("multipart/form-data", on_field, lambda _file: None, boundary=options.get(b"boundary"))
        parser.write(body)
        parser.finalize()
    except (ValueError, MultipartParseError, FormParserError):
        return ""
    return found.get(name, "")


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

    async def admit(self, rules: tuple[str, str], action: str, client: str, address: str) -> tuple[bool, bool]:
        """(may the client ask, may an email go to the address): `rules` are the client's and the address's.

        The client's limit blocks the requester (429). The address's only holds back emails, and the
        answer looks the same: a stranger flooding someone's address from anywhere cannot lock them out
        (issue 15, finding 9). A blocked client does not use up the address's budget.
        """
        if not await self.hit(rules[0], action, client):
            return False, False
        return True, await self.hit(rules[1], f"{action}-to", address.lower())

    async def close(self) -> None:
        """Close the limiter's Redis connections."""
        await self.connections.disconnect()


def client_address(request: Request, trusted_proxies: Sequence[IPNetwork] = ()) -> str:
    """The client's address: the TCP peer ("unknown" without one) or, when the peer is a trusted reverse
    proxy (KOBLE_TRUSTED_PROXIES), the nearest address in X-Forwarded-For that is not one.

    Only the right end of X-Forwarded-For is believed: a client may send any header, and each trusted
    proxy appends the address it saw. Without trusted proxies the header is ignored, so nobody picks
    their own rate-limit bucket (`koble serve` runs uvicorn without proxy_headers for the same reason).
    """
    peer = request.client.host if request.client else "unknown"
    if not _trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    return next((hop for hop in reversed(hops) if hop and not _trusted(hop, trusted_proxies)), peer)


def _trusted(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _limits_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url
