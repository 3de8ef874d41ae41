"""A round's results as a spreadsheet (.xlsx, openpyxl) or CSV: figures, and for reviewers the organisations.

Every text cell passes kit.exports.text_cell, so an organisation named `=HYPERLINK(...)` stays text.
Figures are numbers; the response rate is answered (registered or updated) over invited.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

from service.kit.exports import text_cell

FIGURE_COLUMNS = ("listed", "invited", "opened", "registered", "updated", "unsubscribed", "reminded", "responded")
PEOPLE_COLUMNS = ("line", "organisation_number", "name", "email", "municipality", "contact_name", "language",
                  "kind", "invited_at", "opened_at", "registered_at", "updated_at", "unsubscribed_at", "reminded_at")


def figure_rows(group: str, rows: Iterable[Any]) -> list[list[Any]]:
    """A header and one row per group (municipality or kind): the counts and the response rate."""
    table: list[list[Any]] = [[group, *FIGURE_COLUMNS, "response_rate"]]
    for row in rows:
        invited = row["invited"]
        share = round(row["responded"] / invited, 4) if invited else None
        table.append([text_cell(row["grp"]), *(row[name] for name in FIGURE_COLUMNS), share])
    return table


def people_rows(rows: Iterable[Any]) -> list[list[Any]]:
    """A header and one row per organisation with its contact details and the times of its steps."""
    table: list[list[Any]] = [list(PEOPLE_COLUMNS)]
    for row in rows:
        table.append([_cell(row[name]) for name in PEOPLE_COLUMNS])
    return table


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return text_cell(value)
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="seconds")
    return value


def sheets(
    by_municipality: Sequence[Any], by_kind: Sequence[Any], people: Sequence[Any] | None
) -> dict[str, list[list[Any]]]:
    """The export's tables by sheet name; the organisations only when given (reviewers and admins)."""
    tables = {"municipality": figure_rows("municipality", by_municipality), "kind": figure_rows("kind", by_kind)}
    if people is not None:
        tables["organisations"] = people_rows(people)
    return tables


def to_xlsx(tables: dict[str, list[list[Any]]]) -> bytes:
    """One worksheet per table."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in tables.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_csv(tables: dict[str, list[list[Any]]]) -> bytes:
    """The tables one after the other, each headed by its name in the first column, a blank line between.

    UTF-8 with a byte order mark and `;` between cells: what Excel in Norway opens without questions.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for index, (name, rows) in enumerate(tables.items()):
        if index:
            writer.writerow([])
        writer.writerow([f"# {name}"])
        writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return ("\ufeff" + buffer.getvalue()).encode()
