"""Logging: one JSON object per line (or plain text) carrying the request id, and nothing personal.

The request id comes from a valid `X-Request-ID` header or is generated (`RequestContext`, kit.metrics);
it lives in a context variable for the length of the request, so every line logged while answering it
carries it. What Koble logs never holds email addresses, names, tokens or query strings: routes are
logged by their template (`/auth/{token}`), never their path (docs/contracts.md §5, KOBLE_LOG_FORMAT).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import sys
from collections.abc import Collection
from contextvars import ContextVar
from typing import Any, Literal

request_id: ContextVar[str | None] = ContextVar("koble_request_id", default=None)

# A caller's id is kept only when it is short and plain: it is echoed in a header and written to logs.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# LogRecord's own attributes; anything else on a record came through `extra=` and is logged as a field.
STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "request_id"}


def choose_request_id(header: str | None) -> str:
    """The caller's X-Request-ID when it is valid, else a new random one."""
    if header and VALID_REQUEST_ID.fullmatch(header):
        return header
    return secrets.token_hex(16)


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or "-") on every record, for both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record."""
        record.request_id = request_id.get() or "-"
        return True


# arq's lines for a job's start and result, whose arguments and result may hold an address or a name
# (registration and sign-in jobs carry them, issue 15, finding 8): logged without them.
JOB_LINES = ("%6.2fs → %s(%s)%s", "%6.2fs ← %s ● %s")


class JobDetailsHidden(logging.Filter):
    """On arq's worker logger: a job's arguments and result are left out of its log lines (no personal data)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the line, with the arguments (start) or the result (end) replaced by an ellipsis."""
        if record.msg in JOB_LINES and isinstance(record.args, tuple) and len(record.args) >= 3:
            record.args = (*record.args[:2], "…", *record.args[3:])
        return True


class RoutineJobsQuiet(logging.Filter):
    """On arq's worker logger: the start and end lines of the cron jobs named are debug lines.

    The outbox sweep every 10 s and two sweeps every minute wrote ~20,000 such lines a day at INFO, which
    buried what an operator reads the log for; their failures and retries are other lines, always kept.
    """

    def __init__(self, names: Collection[str] = ()) -> None:
        super().__init__()
        self.names = frozenset(names)

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the line, as DEBUG if it is a routine job's start or end (dropped unless DEBUG is on)."""
        if record.msg in JOB_LINES and isinstance(record.args, tuple) and len(record.args) >= 2 \
                and record.args[1] in self.names:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", "-")
        if rid != "-":
            line["request_id"] = rid
        line.update({key: value for key, value in record.__dict__.items() if key not in STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: str, fmt: Literal["json", "text"]) -> None:
    """Send every logger's records to stderr in this format and at this level (replaces earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
