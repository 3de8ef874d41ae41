"""The review tests' people: the queue, hand-pick and ranker tests read their names and texts."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def sigrid() -> dict[str, Any]:
    """A Norwegian student looking for a thesis on OT security (the explanation quotes her)."""
    return {
        "kind": "student", "name": "Sigrid Haugen", "email": "sigrid@example.no", "language": "nb",
        "domains": ["cyber_ict"], "engagements": ["thesis"], "organisation": "NTNU Gjøvik",
        "seeks": ["Masteroppgave om sikkerhet i industrielle styringssystemer (OT/SCADA)"],
        "offers": ["Erfaring med nettverksanalyse og Python"],
    }


@pytest.fixture
def raufoss() -> dict[str, Any]:
    """An English-speaking company offering what Sigrid seeks."""
    return {
        "kind": "company", "name": "Raufoss OT Security AS", "email": "jobs@raufoss-ot.example", "language": "en",
        "domains": ["cyber_ict"], "engagements": ["thesis", "internship"], "organisation": "Raufoss OT Security AS",
        "offers": ["Master thesis on securing industrial control systems and SCADA networks"],
        "seeks": ["Students who know network analysis and Python"],
    }


@pytest.fixture
def jonas() -> dict[str, Any]:
    """A second student in Sigrid's domain."""
    return {
        "kind": "student", "name": "Jonas Berg", "email": "jonas@example.no", "domains": ["cyber_ict"],
        "engagements": ["thesis"], "seeks": ["Bacheloroppgave om nettverkssikkerhet"],
        "offers": ["Linux og brannmurer"],
    }


@pytest.fixture
def bakery() -> dict[str, Any]:
    """A company sharing no domain with the students."""
    return {
        "kind": "company", "name": "Bakeri på Biri", "email": "post@biri.example", "domains": ["bioeconomy"],
        "offers": ["Sommerjobb i bakeriet"], "seeks": ["Studenter som liker brød"],
    }
