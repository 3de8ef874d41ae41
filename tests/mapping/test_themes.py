"""Themes on a real database: found as the subjects, ids stable across recomputation, staff edits
kept, new interests placed when embedded, unmet needs found (the test encoder of tests/mapping/subjects.py)."""

from __future__ import annotations

import asyncpg
from sklearn.metrics import adjusted_rand_score

from service.mapping import service as mapping
from service.matching import service as matching
from service.matching.embedding import embed_participants
from tests.factories import create_participant
from tests.mapping.subjects import NAME, SubjectEncoder, make_people, subject_of


async def themes_by_subject(conn: asyncpg.Connection) -> tuple[list[str], list[int]]:
    """(subject, theme) of every interest."""
    rows = await mapping.assignment_lines(conn)
    participants = {
        r["external_id"]: r for r in await conn.fetch("SELECT external_id, offers, seeks FROM participants")
    }
    subjects = [subject_of(participants[r["external_id"]][r["side"]][r["index"]]) for r in rows]
    return subjects, [r["theme"] for r in rows]


async def test_themes_are_the_subjects_and_keep_their_ids_across_recomputation(conn: asyncpg.Connection) -> None:
    await make_people(conn)
    first = await mapping.recompute(conn, NAME, seed=1)
    subjects, before = await themes_by_subject(conn)
    assert adjusted_rand_score(subjects, before) > 0.9
    second = await mapping.recompute(conn, NAME, seed=2)
    _, after = await themes_by_subject(conn)
    assert after == before
    assert (second.kept, second.new, second.retired) == (first.themes, 0, 0)
    document = await mapping.figures_document(conn)
    assert document is not None
    assert {t["id"] for t in document["themes"]} == set(before)
    assert all(t["label_nb"] and t["label_en"] for t in document["themes"])


async def test_staff_edits_survive_recomputation(conn: asyncpg.Connection) -> None:
    await make_people(conn, per_subject=8)
    await mapping.recompute(conn, NAME, seed=1)
    subjects, themes = await themes_by_subject(conn)
    theme_of = dict(zip(subjects, themes, strict=True))
    await mapping.rename(conn, theme_of["robot"], "Robotar", "Robots")
    await mapping.merge(conn, theme_of["forest"], theme_of["biogas"])
    parts = await mapping.split(conn, theme_of["privacy"], 2)
    _, edited = await themes_by_subject(conn)
    await mapping.recompute(conn, NAME, seed=3)
    _, again = await themes_by_subject(conn)
    assert again == edited
    document = await mapping.figures_document(conn)
    assert document is not None
    shown = {t["id"]: t for t in document["themes"]}
    assert (shown[theme_of["robot"]]["label_nb"], shown[theme_of["robot"]]["label_en"]) == ("Robotar", "Robots")
    assert theme_of["forest"] not in shown and theme_of["privacy"] not in shown
    assert set(parts) <= set(shown)
    assert {t for s, t in zip(subjects, again, strict=True) if s == "forest"} == {theme_of["biogas"]}


async def test_a_new_interest_gets_its_nearest_theme_when_embedded(conn: asyncpg.Connection) -> None:
    await make_people(conn)
    await mapping.recompute(conn, NAME, seed=1)
    subjects, themes = await themes_by_subject(conn)
    theme_of = dict(zip(subjects, themes, strict=True))
    matching.on_embedded(mapping.assign_nearest)
    row = await create_participant(
        conn,
        "company",
        offers=["We sell biogass fra husdyrgjødsel plants"],
        seeks=["Vi trenger robotarmer og sveiseceller nå"],
        embed=False,
        external_id="new-1",
    )
    await embed_participants(conn, SubjectEncoder(), [row["id"]])
    placed = {(r["side"], r["theme"]) for r in await mapping.assignment_lines(conn) if r["external_id"] == "new-1"}
    assert placed == {("offers", theme_of["biogas"]), ("seeks", theme_of["robot"])}


async def test_a_subject_nobody_offers_is_the_first_unmet_need(conn: asyncpg.Connection) -> None:
    await make_people(conn, only_sought="forest")
    await mapping.recompute(conn, NAME, seed=1, below=0.5)
    subjects, themes = await themes_by_subject(conn)
    document = await mapping.figures_document(conn)
    assert document is not None
    forest = {t for s, t in zip(subjects, themes, strict=True) if s == "forest"}
    assert document["gaps"]["unmet"][0]["theme"] in forest
