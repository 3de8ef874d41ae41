"""Pictures on the profile (upload, errors, serving) and leaving (issue 12, wall 11): the data download has
a section for every table naming a participant, and a deletion closes open matches, telling the other party
in their language, with real Postgres, Redis and SMTP."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import asyncpg
import httpx
from arq.connections import ArqRedis
from asyncpg import Connection
from PIL import Image

from service.auth import service as auth_service
from service.kit import database
from service.kit.config import Settings
from service.profiles import service as profiles
from service.profiles import tasks as profile_tasks
from tests.conftest import Mailbox, body_text, csrf_of, post_form, run_worker
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import rows_mentioning, rows_referencing, sign_in_staff

# Every table with a foreign key to participants, and the download's section that shows its rows (or why
# it has none: data derived from the profile, secrets, or staff's records). A new table fails the walk below
# until it is added here and, if it holds the person's data, to service/flows/account.py.
SECTIONS: dict[str, str] = {
    "auth_tokens": "none: one-time sign-in secrets (hashes), deleted after use or expiry",
    "outbox": "emails",
    "interest_embeddings": "none: numbers computed from the texts in `profile`",
    "side_embeddings": "none: numbers computed from the texts in `profile`",
    "pair_embeddings": "none: numbers computed from the texts in `profile`",
    "exposure": "none: how often the ranker showed the profile (a decaying count)",
    "answers": "answers",
    "matches": "matches",
    "match_events": "comments",
    "audit_log": "none: staff's record of what they did (kept, anonymised, on deletion)",
    "reply_links": "matches",
    "theme_assignments": "none: the map's theme computed from the texts in `profile`",
    "round_invitations": "none: an organisation list staff uploaded (the link is nulled on deletion)",
    "event_tables": "events",
    "event_attendees": "events",
    "participant_photos": "photo",
    "participant_digests": "digest",
    "match_messages": "messages",
    "match_meetings": "meetings",
    "match_message_notices": "none: when the last 'new messages' email went (a timestamp per recipient)",
}


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (900, 600), (20, 90, 160))
    tags = Image.Exif()
    tags[0x0110] = "Secret Camera 3000"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=tags.tobytes())
    return out.getvalue()


async def sign_in(client: httpx.AsyncClient, conn: Connection, row: asyncpg.Record) -> None:
    token = await auth_service.issue(conn, row["id"], "login", dt.timedelta(minutes=5))
    assert (await post_form(client, f"/auth/{token}", {"this_device": "yes"})).status_code == 303


async def upload(client: httpx.AsyncClient, data: bytes, name: str = "me.jpg") -> httpx.Response:
    await client.get("/me/edit")
    return await client.post("/me/photo", data={"csrftoken": csrf_of(client)},
                             files={"photo": (name, data, "application/octet-stream")})


async def test_upload_shows_the_photo_everywhere_and_serves_it_cleaned(
    app: Any, client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant
) -> None:
    kari = await make_participant("researcher", name="Kari Østby", embed=False)
    await sign_in(client, conn, kari)
    assert 'role="img" aria-label="Kari Østby"' in (await client.get("/me")).text  # initials before

    response = await upload(client, jpeg_with_exif())
    assert response.status_code == 303 and response.headers["location"] == "/me?photo=1"
    key = await conn.fetchval("SELECT photo_key FROM participants WHERE id = $1", kari["id"])
    url = f"/pictures/{key}/{kari['external_id']}"
    assert f'src="{url}" alt="Kari Østby"' in (await client.get("/me")).text

    served = await client.get(url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    assert "immutable" in served.headers["cache-control"]
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (256, 171) and not image.getexif()
    assert (await client.get(f"/pictures/{'0' * 16}/{kari['external_id']}")).status_code == 404  # an old version
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=str(client.base_url)) as nobody:
        assert (await nobody.get(url)).status_code == 404  # signed-in people only

    assert (await post_form(client, "/me/photo/remove", {})).status_code == 303
    assert (await client.get(url)).status_code == 404
    assert await conn.fetchval("SELECT count(*) FROM participant_photos") == 0


async def test_bad_files_re_show_the_form_with_an_error_naming_the_field(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant
) -> None:
    await sign_in(client, conn, await make_participant("company", name="Ole Ås AS", embed=False))
    cases = {  # the pages speak Bokmål by default
        b"just some text": "Filen er ikke et bilde.",
        b"GIF89a" + b"\0" * 20: "Filen er ikke et bilde.",
        jpeg_with_exif()[:2000]: "Bildet kunne ikke leses",
        b"\xff" * (2 * 1024 * 1024 + 10): "Bildet er større enn 2 MB.",
        b"": "Velg en bildefil å laste opp.",
    }
    for data, message in cases.items():
        response = await upload(client, data)
        assert response.status_code == 422, message
        assert 'id="photo-error"' in response.text and 'aria-invalid="true"' in response.text
        assert '<a href="#photo">Bilde eller logo: ' in response.text
        assert message in response.text
        assert 'name="name" type="text" value="Ole Ås AS"' in response.text  # the profile form is still there
    assert await conn.fetchval("SELECT count(*) FROM participant_photos") == 0


async def test_an_upload_without_the_csrf_field_is_refused(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant
) -> None:
    await sign_in(client, conn, await make_participant(embed=False))
    response = await client.post("/me/photo", files={"photo": ("me.jpg", jpeg_with_exif(), "image/jpeg")})
    assert response.status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM participant_photos") == 0


async def test_the_download_has_a_section_for_every_table_naming_a_participant(
    client: httpx.AsyncClient, conn: Connection, settings: Settings,
    make_participant: MakeParticipant, make_match: MakeMatch,
) -> None:
    tables = {row["table_name"] for row in await conn.fetch(
        """SELECT DISTINCT c.conrelid::regclass::text AS table_name FROM pg_constraint c
           WHERE c.contype = 'f' AND c.confrelid = 'participants'::regclass""")}
    assert tables == set(SECTIONS), "a table names participants: add it to SECTIONS and to the download"

    kari = await make_participant("researcher", name="Kari Østby", embed=False)
    ole = await make_participant("company", name="Ole Ås AS", embed=False)
    await sign_in(client, conn, kari)
    await upload(client, jpeg_with_exif())
    match = await make_match(kari, ole, "introduced", "hand_picked")
    await post_form(client, f"/me/matches/{match['id']}", {"action": "interested"})  # an answer
    met = await make_match(kari, await make_participant("student", name="Per Berg", embed=False), "mutual")
    await post_form(client, f"/me/matches/{met['id']}", {"action": "met", "comment": "Gjerne i mars"})

    data = json.loads((await client.get("/me/data.json")).text)
    for table, section in SECTIONS.items():
        if not section.startswith("none:"):
            assert section in data, table
    assert Image.open(io.BytesIO(__import__("base64").b64decode(data["photo"]["base64"]))).format == "WEBP"
    assert {(m["other_party"], m["state"]) for m in data["matches"]} == {
        ("Ole Ås AS", "introduced"), ("Per Berg", "meeting_held")}
    assert [c["comment"] for c in data["comments"]] == ["Gjerne i mars"]
    assert data["answers"][0]["candidate_name"] == "Ole Ås AS"
    assert data["events"] == {"attended": [], "meetings": []}


async def open_match(conn: Connection, settings: Settings, make_participant: MakeParticipant,
                     make_match: MakeMatch) -> tuple[asyncpg.Record, asyncpg.Record, asyncpg.Record]:
    kari = await make_participant("researcher", name="Kari Østby", email="kari@ntnu.example.no", embed=False)
    ole = await make_participant("company", name="Ole Ås AS", email="post@oleas.example", language="en", embed=False)
    return kari, ole, await make_match(kari, ole, "mutual", "participants")


async def test_deleting_closes_the_open_match_and_tells_the_other_party_in_their_language(
    app: Any, client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox,
    make_participant: MakeParticipant, make_match: MakeMatch, make_staff: MakeStaff,
) -> None:
    kari, ole, match = await open_match(conn, settings, make_participant, make_match)
    suggested = await make_match(kari, await make_participant("student", embed=False), "suggested")
    await run_worker(settings)
    mailbox.messages.clear()
    await sign_in(client, conn, kari)
    await client.get("/me/delete")
    assert (await post_form(client, "/me/delete", {})).headers["location"] == "/?deleted=1"
    await run_worker(settings)

    [notice] = mailbox.to("post@oleas.example")
    subject = " ".join(str(notice["Subject"]).split())
    assert subject == "One of your matches is closed: the other party left Koble"  # Ole reads English
    assert f"/me/matches/{match['id']}?lang=en" in body_text(notice)
    kept = await conn.fetchrow("SELECT * FROM matches WHERE id = $1", match["id"])
    assert kept["state"] == "closed" and kept["closed_reason"] == "participant_left"
    assert await conn.fetchval("SELECT count(*) FROM matches WHERE id = $1", suggested["id"]) == 0
    for needle in ("kari@ntnu.example.no", "Kari Østby"):
        assert await rows_mentioning(conn, needle) == {}, needle
    assert await rows_referencing(conn, kari["id"]) == {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=str(client.base_url)) as other:
        await sign_in(other, conn, ole)
        page = await other.get(f"/me/matches/{match['id']}")
        assert page.status_code == 200
        # Ole's profile is in English, and signed-in pages follow it (issue 12, wall 10).
        assert "This match is closed because the other party deleted their Koble account." in page.text
        assert "A participant who left Koble" in (await other.get("/me/matches")).text

    await make_staff("reviewer", "anne@brighthouse.example")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=str(client.base_url)) as staff:
        await sign_in_staff(staff, conn, "anne@brighthouse.example")
        assert "participant_left" in (await staff.get(f"/staff/matches/{match['id']}")).text
        assert "En deltaker som har forlatt Koble" in (await staff.get(f"/staff/participants/{ole['id']}")).text
        export = (await staff.get("/staff/export.csv")).text
        assert f"\n{match['id']},closed," in export.replace("\r", "")


async def test_the_notice_is_in_bokmal_for_a_norwegian_reader(
    app: Any, conn: Connection, settings: Settings, mailbox: Mailbox, arq_redis: ArqRedis,
    make_participant: MakeParticipant, make_match: MakeMatch,
) -> None:
    _kari, ole, _match = await open_match(conn, settings, make_participant, make_match)
    await run_worker(settings)
    mailbox.messages.clear()
    assert await profiles.delete_account(conn, ole["id"], settings, arq_redis) is True  # Kari (nb) is told
    await run_worker(settings)
    [notice] = mailbox.to("kari@ntnu.example.no")
    subject = " ".join(str(notice["Subject"]).split())
    assert subject == "En av koblingene dine er avsluttet: den andre parten har forlatt Koble"
    assert "Koblingen blir stående på siden din" in body_text(notice)


async def test_retention_deleting_an_inactive_party_closes_the_match_too(
    app: Any, conn: Connection, pg_url: str, settings: Settings, mailbox: Mailbox, arq_redis: ArqRedis,
    make_participant: MakeParticipant, make_match: MakeMatch,
) -> None:
    kari, ole, match = await open_match(conn, settings, make_participant, make_match)
    await conn.execute("UPDATE participants SET last_active_at = now() - interval '25 months' WHERE id = $1",
                       kari["id"])
    pool = await database.create_pool(pg_url, max_size=2)
    try:
        counts = await profile_tasks.apply_retention({"settings": settings, "pool": pool, "redis": arq_redis})
    finally:
        await pool.close()
    assert counts["deleted"] == 1
    kept = await conn.fetchrow("SELECT state, closed_reason, a_id, b_id FROM matches WHERE id = $1", match["id"])
    assert (kept["state"], kept["closed_reason"]) == ("closed", "participant_left")
    assert ole["id"] in (kept["a_id"], kept["b_id"]) and None in (kept["a_id"], kept["b_id"])
    await run_worker(settings)
    assert mailbox.to("post@oleas.example")
