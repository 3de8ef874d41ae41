"""`koble import` and `koble demo`: check a whole participant file, then upsert it all or nothing.

Every line is validated, against the others and against the database, before anything is
written (docs/contracts.md §2), so an operator can fix the file and simply run the command again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from arq import create_pool as create_arq_pool
from arq.connections import ArqRedis
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from redis.exceptions import RedisError

from service.kit import embedded, jobs
from service.kit.commandline import DatabaseUnavailable, command_database, fail
from service.kit.config import Settings, get_settings
from service.kit.lines import LineError
from service.kit.vocabulary import DOMAINS, ENGAGEMENTS
from service.matching import commands as matching_commands
from service.matching import embedding as matching_embedding
from service.matching.encoders import get_encoder
from service.profiles import service as profiles
from service.profiles.demo import demo_participants
from service.profiles.schemas import ParticipantImport

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"
# docs/contracts.md §1 requires both keys in a file (either may be empty), unlike the web form.
REQUIRED_KEYS = ("offers", "seeks")
CHOICES: dict[str, tuple[str, ...]] = {"domains": DOMAINS, "engagements": ENGAGEMENTS}
# Errors of the whole model, reported on the key a person would fix.
MODEL_ERRORS = {
    "date_order": ("available_until", "must be on or after available_from"),
    "no_interest": ("offers", "offers and seeks cannot both be empty"),
}
DATE_ERRORS = {"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"}
REASONS = {
    "missing": "required",
    "extra_forbidden": "unknown key",
    "string_type": "must be a string",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} items",
    "list_type": "must be a list",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "json_invalid": "invalid JSON",
}
# How an error names a line that holds a JSON value other than an object.
JSON_TYPES: dict[type, str] = {
    list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false", type(None): "null",
}

@dataclass(frozen=True)
class Entry:
    """A line holding a JSON object: its participant if valid, its id and email for cross-line checks."""

    line: int
    participant: ParticipantImport | None
    external_id: str | None
    email: str | None  # lower-cased; None when missing or invalid


# --- Validation without a database -------------------------------------------------------------


def validate(data: bytes) -> tuple[list[Entry], list[LineError]]:
    """Check every line on its own and against the other lines; errors come in line order."""
    entries: list[Entry] = []
    errors: list[LineError] = []
    for number, raw in numbered_lines(data):
        entry, line_errors = validate_line(number, raw)
        errors.extend(line_errors)
        if entry is not None:
            entries.append(entry)
    return entries, in_line_order(errors + duplicates(entries))


def numbered_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers; a UTF-8 BOM at the very start is ignored."""
    # Split bytes on \n only: editors count lines that way, and a bad byte stays on its own line.
    for number, raw in enumerate(data.removeprefix(BOM).split(b"\n"), start=1):
        if raw.strip():
            yield number, raw


def validate_line(number: int, raw: bytes) -> tuple[Entry | None, list[LineError]]:
    """One line as an Entry (None unless it is a JSON object) and its errors."""
    obj, error = _decode(number, raw)
    if obj is None:
        return None, [error] if error else []
    participant, errors = _check_fields(number, raw, obj)
    bad = {error.field.split(".")[0] for error in errors}
    if participant is not None:
        return Entry(number, participant, participant.external_id, str(participant.email).lower()), errors
    email = _raw_text(obj, "email", bad)
    return Entry(number, None, _raw_text(obj, "external_id", bad), email and email.lower()), errors


def _decode(number: int, raw: bytes) -> tuple[dict[str, Any] | None, LineError | None]:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, LineError(number, "-", f"invalid UTF-8 at byte {exc.start + 1} of the line")
    except json.JSONDecodeError as exc:
        return None, LineError(number, "-", f"invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(obj, dict):
        return None, LineError(number, "-", f"must be a JSON object, not {JSON_TYPES.get(type(obj), 'a value')}")
    return obj, None


def _check_fields(number: int, raw: bytes, obj: dict[str, Any]) -> tuple[ParticipantImport | None, list[LineError]]:
    missing = [LineError(number, key, "required") for key in REQUIRED_KEYS if key not in obj]
    try:
        # Strict JSON mode: dates still come as strings, but "2" is no capacity and true no number.
        participant = ParticipantImport.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        return None, [_line_error(number, error) for error in exc.errors()] + missing
    return (None if missing else participant), missing


def _raw_text(obj: Mapping[str, Any], key: str, bad: set[str]) -> str | None:
    """A key's text as given, for cross-line checks of a line that is otherwise invalid."""
    value = obj.get(key)
    return (value.strip() or None) if isinstance(value, str) and key not in bad else None


def _line_error(number: int, error: ErrorDetails) -> LineError:
    if error["type"] in MODEL_ERRORS:
        key, reason = MODEL_ERRORS[error["type"]]
        return LineError(number, key, reason)
    key = ".".join(str(part) for part in error["loc"]) or "-"
    return LineError(number, key, reason_for(error))


def reason_for(error: ErrorDetails) -> str:
    """A short, readable reason for one pydantic error (never echoing the value, which may be personal)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    key = str(error["loc"][0]) if error["loc"] else ""
    if kind == "literal_error":
        return "must be one of " + ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    if kind == "too_short" and key in CHOICES:
        return "must list at least one of " + ", ".join(CHOICES[key])
    if kind == "list_type" and key in REQUIRED_KEYS:
        return "must be a string or a list of strings"
    if kind == "string_too_short":
        least = ctx.get("min_length")
        return "must not be empty" if least == 1 else f"must have at least {least} characters"
    if kind in DATE_ERRORS:
        return "must be a date written YYYY-MM-DD" + (f" ({ctx['error']})" if ctx.get("error") else "")
    if kind == "value_error" and key == "email":
        return f"not a valid email address ({str(ctx.get('reason', '')).rstrip('.')})"
    return _template_reason(kind, ctx, error["msg"])


def _template_reason(kind: str, ctx: Mapping[str, Any], message: str) -> str:
    try:
        return REASONS[kind].format(**ctx)
    except (KeyError, IndexError):
        # An error this module does not know yet: pydantic's own wording, minus its prefix.
        text = message.removeprefix("Value error, ")
        return text[:1].lower() + text[1:]


def duplicates(entries: Sequence[Entry]) -> list[LineError]:
    """Each repeated external_id or email (ignoring case), naming the line it first appeared on."""
    errors: list[LineError] = []
    first_ids: dict[str, int] = {}
    first_emails: dict[str, int] = {}
    for entry in entries:
        errors += _repeat(entry.line, "external_id", entry.external_id, first_ids)
        errors += _repeat(entry.line, "email", entry.email, first_emails)
    return errors


def _repeat(line: int, key: str, value: str | None, seen: dict[str, int]) -> list[LineError]:
    if value is None:
        return []
    earlier = seen.setdefault(value, line)
    return [] if earlier == line else [LineError(line, key, f"duplicate of line {earlier}")]


def in_line_order(errors: list[LineError]) -> list[LineError]:
    """Errors sorted by line; a line's own errors keep their order (the sort is stable)."""
    return sorted(errors, key=lambda error: error.line)


# --- Checks against the database -------------------------------------------------------------


async def email_conflicts(conn: asyncpg.Connection, entries: Sequence[Entry]) -> list[LineError]:
    """Lines whose email a different participant in the database already uses."""
    owners = await profiles.emails_in_use(conn, [entry.email for entry in entries if entry.email])
    errors = []
    for entry in entries:
        owner = owners.get(entry.email) if entry.email else None
        if owner is not None and owner != entry.external_id:
            errors.append(LineError(entry.line, "email", f"already used by participant {owner}"))
    return errors


# --- The commands ------------------------------------------------------------------------------


async def run(file: str | Path, notify: bool = False, progress: bool = False) -> int:
    """`koble import FILE`: validate every line, then upsert all of them or none; the exit code."""
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        return fail(f"{file}: cannot read ({exc.strerror or type(exc).__name__})")
    return await import_data(str(file), data, notify=notify, progress=progress)


async def run_demo() -> int:
    """`koble demo`: load the demo participants through the import; running it again writes nothing."""
    rows = demo_participants()
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    return await import_data("demo", data, notify=False, progress=sys.stderr.isatty())


async def import_data(
    source: str, data: bytes, notify: bool, progress: bool, settings: Settings | None = None
) -> int:
    """Validate, check against the database, write and report; `source` names the file in errors."""
    settings = settings or get_settings()
    embedded.quiet_logs(settings)
    entries, errors = validate(data)
    try:
        async with command_database(settings) as pool, pool.acquire() as conn:
            return await _import(conn, settings, source, entries, errors, notify, progress)
    except DatabaseUnavailable as exc:
        return fail(str(exc))


async def _import(
    conn: asyncpg.Connection, settings: Settings, source: str,
    entries: list[Entry], errors: list[LineError], notify: bool, progress: bool,
) -> int:
    errors = in_line_order(errors + await email_conflicts(conn, entries))
    if errors:
        print("\n".join(error.format(source) for error in errors), file=sys.stderr)
        return 1
    participants = [entry.participant for entry in entries if entry.participant is not None]
    existing = await profiles.by_external_ids(conn, [participant.external_id for participant in participants])
    plan = profiles.plan_import(participants, {row["external_id"]: row for row in existing})
    try:
        await profiles.write_import(conn, plan, progress)
    except asyncpg.UniqueViolationError:
        # Another process took an id or address after the checks; the transaction rolled back.
        return fail("participants changed during the import; nothing was imported, run it again")
    print(plan.summary())
    await _embed(conn, settings, [participant.external_id for participant in participants], progress)
    if notify and plan.creates:
        await _welcome(conn, settings, [external_id for external_id, _ in plan.creates])
    return 0


async def _embed(conn: asyncpg.Connection, settings: Settings, external_ids: list[str], progress: bool) -> None:
    """Embed the file's participants: here with a progress bar, or on the worker for a large file.

    Unchanged participants are included so that a model change or an earlier failure is caught up;
    their stored vectors are found by hash and nothing is encoded again.
    """
    ids = [row["id"] for row in await profiles.by_external_ids(conn, external_ids)]
    if len(ids) > settings.embed_import_inline_max:
        await _embed_on_worker(settings, ids)
        return
    stats = await matching_commands.embed_all(
        conn, get_encoder(settings.koble_encoder), settings.embed_batch_size, progress, ids=ids
    )
    print(f"embedded {stats.participants} participants: {stats.encoded} texts encoded, {stats.reused} reused")


async def _embed_on_worker(settings: Settings, ids: list[int]) -> None:
    redis = await _redis_or_none(settings)
    try:
        queued = await matching_embedding.enqueue_embedding(redis, ids)
    finally:
        if redis is not None:
            await redis.aclose()
    where = "the worker embeds them now" if queued else "the worker's sweep embeds them (Redis is unreachable)"
    print(f"embedding {len(ids)} participants in the background: {where}")


async def _welcome(conn: asyncpg.Connection, settings: Settings, external_ids: list[str]) -> None:
    redis = await _redis_or_none(settings)
    try:
        queued = await profiles.welcome(conn, redis, settings, external_ids)
    finally:
        if redis is not None:
            await redis.aclose()
    emails = "welcome email" if queued == 1 else "welcome emails"
    note = "" if redis else " (Redis is unreachable: the worker sends them at its next outbox sweep)"
    print(f"queued {queued} {emails}{note}")


async def _redis_or_none(settings: Settings) -> ArqRedis | None:
    """An arq pool, or None when Redis is unreachable (the outbox rows are written either way)."""
    try:
        url = await asyncio.to_thread(embedded.redis_url, settings)
        # One quick retry, not arq's five: the emails are safe in the outbox anyway.
        return await create_arq_pool(dataclasses.replace(jobs.redis_settings(url), conn_retries=1))
    except (TimeoutError, OSError, RedisError) as exc:
        log.warning("Redis unreachable (%s); welcome emails wait in the outbox", type(exc).__name__)
        return None
