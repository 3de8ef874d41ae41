"""The bounds every input shares (issue 15, finding 5): database ids that fit a bigint, and text without control
characters. Every schema, form and path parameter uses these types, so a malformed value is a 4xx naming the
field, never a database error (docs/architecture.md, "Errors")."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field, StrictInt
from pydantic_core import PydanticCustomError

# PostgreSQL's bigint (ids are bigserial): a larger number can name no row, and asyncpg refuses to encode it.
MAX_ID = 2**63 - 1

# C0 controls, DEL, C1 controls and lone surrogates. PostgreSQL cannot store NUL or a surrogate at all; the
# others have no place in a name or an interest and only hide text or break emails and spreadsheets.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
SINGLE_LINE = re.compile(f"[{_CONTROL}\t\n\r]")
MULTI_LINE = re.compile(f"[{_CONTROL}]")


def first_control(value: str, multiline: bool = False) -> str | None:
    """The first refused character of a text (tab and line breaks are allowed in multi-line text), or None."""
    found = (MULTI_LINE if multiline else SINGLE_LINE).search(value)
    return found.group(0) if found else None


def _refuse(value: str, multiline: bool) -> str:
    bad = first_control(value, multiline)
    if bad is not None:
        raise PydanticCustomError(
            "control_character", "Control characters are not allowed (found U+{code})", {"code": f"{ord(bad):04X}"}
        )
    return value


def _single_line(value: str) -> str:
    return _refuse(value, multiline=False)


def _multi_line(value: str) -> str:
    return _refuse(value, multiline=True)


# The checks, to put after a text's own constraints (`Annotated[str, StringConstraints(...), SingleLine]`), so
# that a too-long text still reports `string_too_long`.
SingleLine = AfterValidator(_single_line)
MultiLine = AfterValidator(_multi_line)
# A one-line text (names, addresses, reasons, search words): no control characters, no line breaks.
PlainText = Annotated[str, SingleLine]
# A text that may hold paragraphs (interests, comments): tab and line breaks allowed, no other controls.
MultilineText = Annotated[str, MultiLine]

# A row id in a JSON body or a form: an integer (strict: `false` or `"1"` is not an id) that fits a bigint.
DbId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
# A row id as a path parameter (always text on the wire, so not strict): 1 .. 2**63-1, else 422.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
# A row id sent by a form (text on the wire).
FormId = Annotated[int, Field(ge=1, le=MAX_ID)]


def parse_id(text: str | None) -> int | None:
    """An id written in a query or a cursor ("12"), or None unless it is ASCII digits naming a bigint row.

    `str.isdigit` alone is not enough: it accepts "²", which `int` then refuses.
    """
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
