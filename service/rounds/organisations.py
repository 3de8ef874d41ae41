"""A round's list of organisations (docs/contracts.md §1b): read a CSV file and check every line.

Pure: bytes in, organisations and `FILE:LINE: field: reason` errors out, nothing written. Excel in
Norway saves "CSV" with `;` between cells (the decimal comma takes `,`), and "CSV UTF-8" with a byte
order mark; older Excel saves Windows-1252, which is read as such when the bytes are not UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.no import orgnr

from service.kit.lines import LineError

MAX_ROWS = 20_000
MAX_TEXT = 200
LANGUAGES = ("nb", "en")
KINDS = ("company", "public_body")
# Column names as a spreadsheet may head them (lower case, trimmed) -> the field they fill.
COLUMNS: dict[str, str] = {
    "organisation_number": "organisation_number", "orgnr": "organisation_number",
    "organisasjonsnummer": "organisation_number", "org_nr": "organisation_number",
    "name": "name", "navn": "name",
    "email": "email", "e-post": "email", "epost": "email",
    "municipality": "municipality", "kommune": "municipality",
    "contact_name": "contact_name", "contact": "contact_name", "kontaktperson": "contact_name",
    "language": "language", "språk": "language",
    "kind": "kind", "type": "kind",
}
REQUIRED = ("organisation_number", "name", "email", "municipality")


@dataclass(frozen=True)
class Organisation:
    """One valid line: an organisation to invite."""

    line: int
    organisation_number: str
    name: str
    email: str
    municipality: str
    contact_name: str | None = None
    language: str = "nb"
    kind: str = "company"


def read(data: bytes) -> tuple[list[Organisation], list[LineError]]:
    """Every organisation of a CSV file and every error, in line order (organisations only if no error)."""
    try:
        rows = list(numbered_rows(decode(data)))
    except Unreadable as exc:
        return [], [LineError(exc.line, "-", str(exc))]
    if not rows:
        return [], [LineError(1, "-", "the file is empty; the first line must name the columns")]
    (header_line, header), body = rows[0], rows[1:]
    fields, errors = read_header(header_line, header)
    if errors:
        return [], errors
    if len(body) > MAX_ROWS:
        return [], [LineError(body[MAX_ROWS][0], "-", f"at most {MAX_ROWS} organisations in one file")]
    organisations, errors = check_rows(header, fields, body)
    errors = sorted(errors + duplicates(header, fields, organisations), key=lambda error: error.line)
    return ([] if errors else organisations), errors


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (a byte order mark dropped), else Windows-1252 (Excel's older CSV)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def delimiter(first_line: str) -> str:
    """`;` or `,`, whichever the header line has more of (Norwegian Excel writes `;`)."""
    return ";" if first_line.count(";") >= first_line.count(",") and ";" in first_line else ","


class Unreadable(Exception):
    """The CSV parser gave up on a line (e.g. a cell over the csv module's field size limit)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line


def numbered_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the number of the line each starts on (a quoted cell may span lines).

    Excel's `sep=;` first line, which names the separator, is honoured and skipped.
    """
    first_line, _, rest = text.partition("\n")
    skipped = first_line.strip().lower().startswith("sep=") and len(first_line.strip()) == 5
    separator = first_line.strip()[4] if skipped else delimiter(first_line)
    reader = csv.reader(io.StringIO(rest if skipped else text, newline=""), delimiter=separator)
    start = 2 if skipped else 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + (2 if skipped else 1)
    except csv.Error as exc:
        raise Unreadable(start, f"not readable as CSV ({exc})") from exc


def read_header(line: int, header: list[str]) -> tuple[list[str | None], list[LineError]]:
    """The field each column fills (None: empty heading), and the header's errors."""
    fields: list[str | None] = []
    errors: list[LineError] = []
    for heading in header:
        key = heading.strip().lower()
        field = COLUMNS.get(key.replace(" ", "_"))
        if key and field is None:
            errors.append(LineError(line, heading.strip(), "unknown column (see docs/contracts.md §1b)"))
        elif field is not None and field in fields:
            errors.append(LineError(line, heading.strip(), "column given twice"))
        fields.append(field)
    errors += [LineError(line, name, "required column missing") for name in REQUIRED if name not in fields]
    return fields, errors


def check_rows(
    header: list[str], fields: list[str | None], body: list[tuple[int, list[str]]]
) -> tuple[list[Organisation], list[LineError]]:
    """Each row on its own: its organisation if valid, and its errors."""
    organisations: list[Organisation] = []
    errors: list[LineError] = []
    for line, row in body:
        organisation, row_errors = check_row(line, header, fields, row)
        errors += row_errors
        if organisation is not None:
            organisations.append(organisation)
    return organisations, errors


def check_row(
    line: int, header: list[str], fields: list[str | None], row: list[str]
) -> tuple[Organisation | None, list[LineError]]:
    """One row as an Organisation (None if any cell is wrong) and its errors."""
    if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
        return None, [LineError(line, "-", f"has {len(row)} cells, the first line names {len(header)} columns")]
    values = {field: " ".join(cell.split()) for field, cell in zip(fields, row, strict=False) if field}
    heading = {field: name.strip() for field, name in zip(fields, header, strict=True) if field}
    checked: dict[str, str | None] = {}
    errors: list[LineError] = []
    for field in ("organisation_number", "name", "email", "municipality", "contact_name", "language", "kind"):
        value, reason = CHECKS[field](values.get(field, ""))
        checked[field] = value
        if reason:
            errors.append(LineError(line, heading.get(field, field), reason))
    if errors:
        return None, errors
    return Organisation(line, **checked), []  # type: ignore[arg-type]


def check_organisation_number(value: str) -> tuple[str | None, str | None]:
    """The number as 9 digits (spaces allowed in the cell), checked with the mod-11 digit."""
    if not value:
        return None, "required"
    try:
        return orgnr.validate(value), None
    except InvalidChecksum:
        return None, "not a valid organisation number (the mod-11 check digit is wrong)"
    except ValidationError:
        return None, "must be 9 digits"


def check_email(value: str) -> tuple[str | None, str | None]:
    """A deliverable-looking address (syntax only: no DNS look-up)."""
    if not value:
        return None, "required"
    try:
        return validate_email(value, check_deliverability=False).normalized, None
    except EmailNotValidError:
        return None, "not a valid email address"


def required_text(value: str) -> tuple[str | None, str | None]:
    """A required text of at most MAX_TEXT characters."""
    if not value:
        return None, "required"
    return optional_text(value)


def optional_text(value: str) -> tuple[str | None, str | None]:
    """An optional text of at most MAX_TEXT characters (empty: None)."""
    if len(value) > MAX_TEXT:
        return None, f"must be at most {MAX_TEXT} characters"
    return value or None, None


def check_language(value: str) -> tuple[str | None, str | None]:
    """nb (the default) or en."""
    code = value.lower() or "nb"
    return (code, None) if code in LANGUAGES else (None, "must be nb or en")


def check_kind(value: str) -> tuple[str | None, str | None]:
    """company (the default) or public_body."""
    kind = value.lower() or "company"
    return (kind, None) if kind in KINDS else (None, "must be company or public_body")


CHECKS = {
    "organisation_number": check_organisation_number, "name": required_text, "email": check_email,
    "municipality": required_text, "contact_name": optional_text, "language": check_language, "kind": check_kind,
}


def duplicates(header: list[str], fields: list[str | None], organisations: list[Organisation]) -> list[LineError]:
    """Lines repeating an earlier line's organisation number or email (in any case)."""
    heading = {field: name.strip() for field, name in zip(fields, header, strict=True) if field}
    errors: list[LineError] = []
    for field in ("organisation_number", "email"):
        seen: dict[str, int] = {}
        for organisation in organisations:
            key = str(getattr(organisation, field)).lower()
            if key in seen:
                errors.append(LineError(organisation.line, heading[field], f"duplicate of line {seen[key]}"))
            else:
                seen[key] = organisation.line
    return errors
