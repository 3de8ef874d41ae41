"""A round's CSV list: every bad line reported by line (FILE:LINE: field: reason), nothing written.

The organisation numbers are checked against python-stdnum and, independently, against the mod-11
rule written out here (weights 3 2 7 6 5 4 3 2 on the first eight digits).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
from asyncpg import Connection
from hypothesis import given
from hypothesis import strategies as st

from service.kit.config import Settings
from service.rounds import organisations
from tests.conftest import csrf_of
from tests.support import sign_in_as

# Real organisation numbers (Brønnøysund): NTNU, Gjøvik kommune.
NTNU, GJOVIK = "974767880", "939607706"
BAD_CHECK_DIGIT = "974767881"
HEADER = "organisasjonsnummer;navn;e-post;kommune;kontaktperson;språk;type"


def mod11_valid(number: str) -> bool:
    """The organisation number rule of Brønnøysundregistrene, written out."""
    if len(number) != 9 or not number.isdigit():
        return False
    total = sum(w * int(d) for w, d in zip((3, 2, 7, 6, 5, 4, 3, 2), number, strict=False))
    check = 11 - total % 11
    return check != 10 and int(number[8]) == (0 if check == 11 else check)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_organisation_numbers_follow_the_mod_11_rule(number: str) -> None:
    _value, reason = organisations.check_organisation_number(number)
    assert (reason is None) == mod11_valid(number)


def test_a_norwegian_excel_file_with_bom_and_semicolons_is_read() -> None:
    data = ("\ufeff" + HEADER + "\r\n"
            f"{NTNU[:3]} {NTNU[3:6]} {NTNU[6:]};NTNU;Post@NTNU.example;Gjøvik;Kari Nordmann;en;public_body\r\n"
            f"\r\n{GJOVIK};Gjøvik kommune;post@gjovik.example;Gjøvik;;;public_body\r\n").encode()
    found, errors = organisations.read(data)
    assert errors == []
    assert [(o.line, o.organisation_number, o.language, o.kind, o.contact_name) for o in found] == [
        (2, NTNU, "en", "public_body", "Kari Nordmann"), (4, GJOVIK, "nb", "public_body", None)]
    assert found[0].email == "Post@ntnu.example"  # the domain lower-cased by email-validator


def test_excel_s_sep_line_names_the_separator_and_counts_as_line_1() -> None:
    found, errors = organisations.read(f"sep=,\norgnr,name,email,municipality\n{NTNU},N;TNU,x@y.example,G\n".encode())
    assert errors == [] and found[0].line == 3 and found[0].name == "N;TNU"


def test_a_line_the_csv_parser_cannot_read_is_an_error_not_a_crash() -> None:
    found, errors = organisations.read(b"orgnr;name;email;municipality\n" + b'"' + b"x" * 200_000 + b'"\n')
    assert found == [] and len(errors) == 1 and errors[0].line == 2 and "not readable as CSV" in errors[0].reason


def test_commas_and_windows_1252_are_read_too() -> None:
    data = f"organisation_number,name,email,municipality\n{NTNU},Søndre,a@b.example,Søndre Land\n".encode("cp1252")
    found, errors = organisations.read(data)
    assert errors == [] and found[0].municipality == "Søndre Land"


def test_every_bad_line_is_reported_with_its_line_and_field() -> None:
    data = "\n".join([
        "orgnr;name;email;municipality;kind",
        f"{BAD_CHECK_DIGIT};Feil AS;feil@example.no;Gjøvik;",
        f"{NTNU};Uten e-post AS;;Gjøvik;",
        "12345;Kort AS;kort@example.no;Gjøvik;",
        f"{GJOVIK};Dobbel AS;DOBBEL@example.no;Vestre Toten;",
        f"{GJOVIK};Dobbel igjen AS;dobbel@example.no;Vestre Toten;",
        f"{NTNU};Ukjent type;u@example.no;Gjøvik;ngo",
    ]).encode()
    found, errors = organisations.read(data)
    assert found == []
    assert [e.format("orgs.csv") for e in errors] == [
        "orgs.csv:2: orgnr: not a valid organisation number (the mod-11 check digit is wrong)",
        "orgs.csv:3: email: required",
        "orgs.csv:4: orgnr: must be 9 digits",
        "orgs.csv:6: orgnr: duplicate of line 5",
        "orgs.csv:6: email: duplicate of line 5",
        "orgs.csv:7: kind: must be company or public_body",
    ]


def test_a_header_without_required_columns_or_with_unknown_ones_is_refused() -> None:
    found, errors = organisations.read(b"orgnr;navn;telefon\n974767880;NTNU;12345678\n")
    assert found == []
    assert [e.format("x.csv") for e in errors] == [
        "x.csv:1: telefon: unknown column (see docs/contracts.md §1b)",
        "x.csv:1: email: required column missing",
        "x.csv:1: municipality: required column missing",
    ]


async def test_an_upload_with_bad_lines_shows_them_by_line_and_writes_nothing(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_staff
) -> None:
    staff = await make_staff(role="reviewer")
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    page = await client.get("/staff/rounds")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    csv_file = f"orgnr;name;email;municipality\n{BAD_CHECK_DIGIT};Feil AS;feil@example.no;Gjøvik\n{NTNU};NTNU;;Gjøvik\n"
    response = await client.post(
        "/staff/rounds", data={"csrftoken": csrf_of(client), "name": "Høst 2026", "reminder_days": "7"},
        files={"file": ("C:\\Users\\kari\\høst.csv", csv_file.encode(), "text/csv")},
    )
    assert response.status_code == 422
    assert "høst.csv:2: orgnr: not a valid organisation number" in response.text
    assert "høst.csv:3: email: required" in response.text
    assert 'value="Høst 2026"' in response.text  # the form keeps what was typed
    for table in ("mapping_rounds", "round_invitations", "round_events", "outbox"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table


def test_the_cli_exits_2_with_file_line_errors_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text(f"orgnr;name;email;municipality\n{BAD_CHECK_DIGIT};Feil AS;feil@example.no;Gjøvik\n")
    # No database is opened for a bad file: the command stops before it.
    result = subprocess.run(
        [sys.executable, "-m", "service", "rounds", "import", str(path), "--name", "Høst"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "KOBLE_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 2, result.stderr
    reason = "not a valid organisation number (the mod-11 check digit is wrong)"
    assert result.stderr.strip() == f"{path}:2: orgnr: {reason}"


async def test_an_upload_without_the_form_s_csrf_token_is_refused(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_staff
) -> None:
    staff = await make_staff(role="admin")
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    await client.get("/staff/rounds")
    good = f"orgnr;name;email;municipality\n{NTNU};NTNU;post@ntnu.example;Gjøvik\n".encode()
    for token in ("", csrf_of(client)[:-2] + "xx"):  # missing, or not the cookie's
        response = await client.post("/staff/rounds", data={"csrftoken": token, "name": "Høst", "reminder_days": "7"},
                                     files={"file": ("orgs.csv", good, "text/csv")})
        assert response.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM mapping_rounds") == 0


async def test_the_cli_creates_a_round_and_writes_its_invitations(
    tmp_path: Path, conn: Connection, settings: Settings
) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text(f"orgnr,name,email,municipality\n{NTNU},NTNU,post@ntnu.example,Gjøvik\n"
                    f"{GJOVIK},Gjøvik kommune,post@gjovik.example,Gjøvik\n", encoding="utf-8-sig")
    env = {**os.environ, "KOBLE_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": settings.database_url or "",
           "REDIS_URL": settings.redis_url or "", "KOBLE_SECRET_KEY": "test-secret-key"}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "service", "rounds", "import", str(path), "--name", "Vår 2027",
                         "--reminder-days", "10", "--send"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "round 1: 2 organisations, 2 invitations in the outbox"
    assert await conn.fetchval("SELECT reminder_days FROM mapping_rounds WHERE name = 'Vår 2027'") == 10
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE template = 'round_invitation'") == 2
    assert await conn.fetchval("SELECT count(*) FROM round_invitations WHERE invited_at IS NOT NULL") == 2


async def test_a_list_larger_than_other_forms_may_be_is_uploaded(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_staff
) -> None:
    numbers = [n for n in (f"9{i:07d}{d}" for i in range(3000, 9000) for d in range(10)) if mod11_valid(n)][:1200]
    rows = [f"{n};Bedrift {i} AS med et langt navn;post{i}@bedrift{i}.example;Gjøvik" for i, n in enumerate(numbers)]
    data = ("orgnr;name;email;municipality\n" + "\n".join(rows)).encode()
    assert len(data) > settings.max_body_bytes  # 64 KiB for other forms
    staff = await make_staff(role="reviewer")
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    await client.get("/staff/rounds")
    form = {"csrftoken": csrf_of(client), "name": "Stor", "reminder_days": "7"}
    response = await client.post("/staff/rounds", data=form, files={"file": ("stor.csv", data, "text/csv")})
    assert response.status_code == 303, response.text[:500]
    assert await conn.fetchval("SELECT count(*) FROM round_invitations") == 1200
