"""The bounds every input shares (issue 15, findings 5 and 12): ids that fit a bigint (and JSON), ISO dates,
and text without control characters. Every schema, form and path parameter uses these types, so a malformed
value is a 4xx naming the field, never a database error (docs/architecture.md, "Errors")."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, StrictInt
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# Ids are bigserial; a number past bigint can name no row and asyncpg refuses to encode it. We bound them
# lower, at I-JSON's largest exact integer (RFC 7493, 2**53 - 1): JSON clients (JavaScript, and schemathesis
# reading the schema's `maximum` as a float) cannot even write a larger one exactly, and Koble's ids will
# never come near it.
MAX_ID = 2**53 - 1
# A date written as ISO 8601 (YYYY-MM-DD). Pydantic's lax mode would also read a number, or a text of digits,
# as a Unix time: `0` became 1970-01-01 where the schema says a date string (issue 15, finding 12).
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# C0 controls, DEL, C1 controls and lone surrogates. PostgreSQL cannot store NUL or a surrogate at all; the
# others have no place in a name or an interest and only hide text or break emails and spreadsheets.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
SINGLE_LINE = re.compile(f"[{_CONTROL}\t\n\r]")
MULTI_LINE = re.compile(f"[{_CONTROL}]")


def first_control(value: str, multiline: bool = False) -> str | None:
    """The first refused character of a text (tab and line breaks are allowed in multi-line text), or None."""
    found = (MULTI_LINE if multiline else SINGLE_LINE).search(value)
    return found.group(0) if found else None


@dataclass(frozen=True)
class NoControl:
    """A text's check for control characters, documented in its JSON schema as a `pattern`.

    Put it after the text's own constraints (`Annotated[str, StringConstraints(...), SINGLE_LINE]`), so that
    a too-long text still reports `string_too_long`. `nonblank` documents (it does not check) that the text
    must hold more than spaces, for texts whose `min_length` applies after stripping.
    """

    multiline: bool = False
    nonblank: bool = False

    def check(self, value: str) -> str:
        """The value, or a `control_character` error naming the first refused character."""
        bad = first_control(value, self.multiline)
        if bad is not None:
            raise PydanticCustomError(
                "control_character", "Control characters are not allowed (found U+{code})",
                {"code": f"{ord(bad):04X}"},
            )
        return value

    def pattern(self) -> str:
        """The JSON schema pattern of the texts this check lets through (so generated tests stay valid)."""
        allowed = f"[^{_CONTROL_JSON}{'' if self.multiline else _BREAKS_JSON}]"
        return f"^{allowed}*[^\\s{_CONTROL_JSON}]{allowed}*$" if self.nonblank else f"^{allowed}*$"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern()
        return json_schema


# The same ranges written for a JSON schema regex (surrogates cannot be written there; JSON holds none).
_CONTROL_JSON = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"
_BREAKS_JSON = "\\t\\n\\r"
SingleLine = NoControl()
MultiLine = NoControl(multiline=True)
NonBlankLine = NoControl(nonblank=True)
NonBlankText = NoControl(multiline=True, nonblank=True)
# A one-line text (names, addresses, reasons, search words): no control characters, no line breaks.
PlainText = Annotated[str, SingleLine]
# A text that may hold paragraphs (interests, comments): tab and line breaks allowed, no other controls.
MultilineText = Annotated[str, MultiLine]

def _iso_date(value: object) -> object:
    if isinstance(value, dt.date) or (isinstance(value, str) and ISO_DATE.fullmatch(value.strip())):
        return value
    raise PydanticCustomError("date_parsing", "Input should be a date written as YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]

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
