"""The map's pages, exports and API: staff see the figures, reviewers drill down (audited), the public
overview hides small cells and is cacheable."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from arq.connections import ArqRedis
from openpyxl import load_workbook

from service.kit.config import Settings
from service.mapping import service as mapping
from tests.conftest import API_TOKEN, post_form
from tests.factories import MakeStaff
from tests.mapping.subjects import NAME, make_people
from tests.support import sign_in_as


async def computed(conn: asyncpg.Connection) -> dict[str, Any]:
    """A small map: four subjects, six participants each."""
    await make_people(conn)
    await mapping.recompute(conn, NAME, seed=1, below=0.5)
    document = await mapping.figures_document(conn)
    assert document is not None
    return document


async def test_staff_map_shows_themes_charts_and_gaps_in_both_languages(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings, make_staff: MakeStaff
) -> None:
    document = await computed(conn)
    staff = await make_staff("reviewer")
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    page = await client.get("/staff/map?lang=en")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert page.text.count('<svg class="chart" role="img"') == 3 and "<title id=" in page.text
    assert "Supply and demand per theme" in page.text and "Needs without supply" in page.text
    assert document["themes"][0]["label_en"] in page.text
    assert "/staff/map/people?theme=" in page.text
    norsk = await client.get("/staff/map?lang=nb")
    assert "Tilbud og etterspørsel per tema" in norsk.text


async def test_drill_down_names_the_people_and_is_audited(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings, make_staff: MakeStaff
) -> None:
    document = await computed(conn)
    staff = await make_staff("reviewer")
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    theme = document["themes"][0]
    page = await client.get(f"/staff/map/people?theme={theme['id']}&side=seeks")
    assert page.status_code == 200
    seekers = await conn.fetch(
        "SELECT DISTINCT p.id, p.name FROM theme_assignments a JOIN participants p ON p.id = a.participant_id"
        " WHERE a.theme_id = $1 AND a.side = 'seeks'",
        theme["id"],
    )
    assert len(seekers) == theme["seeks"] and all(row["name"] in page.text for row in seekers)
    audited = await conn.fetch(
        "SELECT participant_id FROM audit_log WHERE action = 'map_drill_down' AND staff_id = $1", staff["id"]
    )
    assert sorted(r["participant_id"] for r in audited) == sorted(r["id"] for r in seekers)
    refused = await client.get(f"/staff/map/people?theme={theme['id']}&side=sideways")
    assert refused.status_code == 409 and "side" in refused.text


async def test_analysts_see_the_numbers_but_never_the_people(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings, make_staff: MakeStaff
) -> None:
    document = await computed(conn)
    analyst = await make_staff("analyst")
    await sign_in_as(client, conn, settings, staff_id=analyst["id"])
    page = await client.get("/staff/map?lang=en")
    assert page.status_code == 200 and document["themes"][0]["label_en"] in page.text
    assert "/staff/map/people" not in page.text and "numbers only" in page.text
    refused = await client.get(f"/staff/map/people?theme={document['themes'][0]['id']}&side=seeks")
    assert refused.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'map_drill_down'") == 0
    assert (await client.get("/staff/map/export.csv")).status_code == 200
    assert (await client.get("/api/v1/map")).status_code == 200


async def test_theme_edits_through_the_page(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings, make_staff: MakeStaff
) -> None:
    document = await computed(conn)
    staff = await make_staff("reviewer")
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    first, second = document["themes"][0]["id"], document["themes"][1]["id"]
    await client.get("/staff/map")  # the forms' CSRF token
    renamed = await post_form(
        client, "/staff/map/themes/rename", {"theme": str(first), "name_nb": "Roboter", "name_en": "Robots"}
    )
    assert renamed.status_code == 303
    merged = await post_form(client, "/staff/map/themes/merge", {"theme": str(second), "into": str(first)})
    assert merged.status_code == 303
    page = await client.get("/staff/map?lang=en")
    assert "Robots" in page.text
    again = await post_form(client, "/staff/map/themes/merge", {"theme": str(second), "into": str(first)})
    assert again.status_code == 404


async def test_public_overview_is_anonymous_cacheable_and_hides_small_cells(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    await computed(conn)
    page = await client.get("/kartlegging?lang=en")
    assert page.status_code == 200
    assert page.headers["cache-control"].startswith("public, max-age=") and page.headers["etag"]
    assert "fewer than 5" in page.text or "below 5" in page.text
    names = await conn.fetch("SELECT name FROM participants")
    assert not any(row["name"] in page.text for row in names)
    assert "/staff/map/people" not in page.text
    cached = await client.get("/kartlegging?lang=en", headers={"If-None-Match": page.headers["etag"]})
    assert cached.status_code == 304
    exported = await client.get("/kartlegging/export.csv")
    numbers = [int(v) for row in csv.reader(io.StringIO(exported.text)) for v in row[4:6] if v.isdigit()]
    assert numbers and all(n == 0 or n >= 5 for n in numbers)


async def test_exports_and_api(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings, make_staff: MakeStaff
) -> None:
    document = await computed(conn)
    staff = await make_staff("reviewer")
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    xlsx = await client.get("/staff/map/export.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("dimension", "value", "theme_id", "theme", "offering", "seeking")
    assert sum(1 for r in rows if r[0] == "theme") == len(document["themes"])
    client.cookies.clear()
    assert (await client.get("/api/v1/map")).status_code == 401
    answer = await client.get("/api/v1/map", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert answer.status_code == 200 and answer.json()["themes"] == document["themes"]


async def test_before_the_first_recomputation_the_map_is_empty(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/map", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert answer.status_code == 200 and answer.json()["themes"] == [] and answer.json()["computed_at"] is None
    exported = await client.get("/kartlegging/export.csv")
    assert exported.text.splitlines() == ["dimension,value,theme_id,theme,offering,seeking"]


async def test_koble_themes_prints_the_themes_and_writes_assignments(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    document = await computed(conn)
    out = tmp_path / "assignments.jsonl"
    env = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
           "KOBLE_DATA_DIR": str(tmp_path / "cli")}
    result = subprocess.run([sys.executable, "-m", "service", "themes", "--json", "--assignments", str(out)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)["themes"]
    assert [t["id"] for t in printed] == [t["id"] for t in document["themes"]]
    assert set(printed[0]) == {"id", "label_nb", "label_en", "terms", "offers", "seeks"}
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == await mapping.assignment_lines(conn)
    assert set(lines[0]) == {"external_id", "side", "index", "theme"}


async def test_the_recompute_button_queues_one_job(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings, make_staff: MakeStaff,
    arq_redis: ArqRedis,
) -> None:
    staff = await make_staff("analyst")
    await sign_in_as(client, conn, settings, staff_id=staff["id"])
    empty = await client.get("/staff/map?lang=en")
    assert "has not been computed yet" in empty.text
    for _ in range(2):
        answer = await post_form(client, "/staff/map/recompute", {})
        assert answer.status_code == 303
    jobs = await arq_redis.queued_jobs()
    assert [job.function for job in jobs] == ["recompute_themes"]
