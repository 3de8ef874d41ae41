"""The feed tests' people: a student, a company and a public body whose interests fit each other."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.factories import MakeParticipant


@pytest.fixture
def sigrid() -> dict[str, Any]:
    """A Norwegian student looking for a thesis on OT security."""
    return {
        "kind": "student", "name": "Sigrid Haugen", "email": "sigrid@example.no", "organisation": "NTNU Gjøvik",
        "language": "nb", "domains": ["cyber_ict"], "engagements": ["thesis"],
        "seeks": ["Masteroppgave om sikkerhet i industrielle styringssystemer (OT/SCADA)"],
        "offers": ["Erfaring med nettverksanalyse og Python"],
    }


@pytest.fixture
def raufoss_ot() -> dict[str, Any]:
    """An English-speaking company offering what Sigrid seeks."""
    return {
        "kind": "company", "name": "Raufoss OT Security AS", "email": "jobs@raufoss-ot.example",
        "organisation": "Raufoss", "language": "en", "domains": ["cyber_ict"], "engagements": ["thesis", "internship"],
        "offers": ["Master thesis on securing industrial control systems and SCADA networks"],
        "seeks": ["Students who know network analysis and Python"],
    }


@pytest.fixture
def vestre_toten() -> dict[str, Any]:
    """A municipality offering a thesis in the same domain."""
    return {
        "kind": "public_body", "name": "Vestre Toten kommune", "email": "post@vestre-toten.example",
        "domains": ["cyber_ict"], "engagements": ["thesis"],
        "offers": ["Masteroppgave om sikring av kommunale SCADA-anlegg for vann og avløp"],
        "seeks": ["Studenter som kan Python og nettverk"],
    }


@pytest.fixture
async def people(
    make_participant: MakeParticipant, sigrid: dict[str, Any], raufoss_ot: dict[str, Any],
    vestre_toten: dict[str, Any],
) -> list[asyncpg.Record]:
    """A student, a company and a public body that all fit each other's interests (embedded)."""
    return [await make_participant(**fields) for fields in (sigrid, raufoss_ot, vestre_toten)]
