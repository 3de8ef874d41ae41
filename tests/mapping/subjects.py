"""A test encoder whose vectors carry known subjects, and participants written about them.

A text's subject is the first SUBJECTS key it contains; its vector is the subject's basis direction
plus a shared "form sentence" direction per side and deterministic noise from the text's hash, so
the themes found can be checked against the subjects (an independent oracle), quickly, without a model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import asyncpg
import numpy as np

from service.matching.embedding import embed_participants
from service.matching.encoders import Side
from tests.factories import create_participant

SUBJECTS = {
    "robot": ("robot arms and welding cells", "robotarmer og sveiseceller"),
    "forest": ("forest mapping from drones", "skogkartlegging med droner"),
    "privacy": ("privacy and GDPR audits", "personvern og GDPR-revisjon"),
    "biogas": ("biogas from manure", "biogass fra husdyrgjødsel"),
}
DIM = 32
NAME = "test-subjects"


def subject_of(text: str) -> str:
    """The subject a text was written about."""
    return next(key for key, (en, nb) in SUBJECTS.items() if en in text or nb in text)


class SubjectEncoder:
    """Vectors (DIM,) from a text's subject, its side and its hash; see the module's docstring."""

    name = NAME
    dim = DIM

    def prepared(self, text: str, side: Side) -> str:
        """The text as it is (with the side, as E5 prefixes do)."""
        return f"{side}: {text}"

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """Unit rows (n, DIM)."""
        rows = []
        for text in texts:
            vector = np.zeros(DIM)
            vector[list(SUBJECTS).index(subject_of(text))] = 1.0
            vector[10 + (side == "seeks")] = 0.3  # the form sentence: a shared direction per side
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
            vector += np.random.default_rng(seed).normal(0, 0.12, DIM)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32)


async def make_people(conn: asyncpg.Connection, per_subject: int = 6, only_sought: str | None = None) -> list[int]:
    """Participants offering and seeking each subject (`only_sought`: nobody offers it); their ids."""
    ids = []
    kinds = ("student", "company", "researcher", "public_body")
    places = ("Gjøvik", "Raufoss", "Lena", "Dokka")
    for s, (key, (en, nb)) in enumerate(SUBJECTS.items()):
        for i in range(per_subject):
            offers = [] if key == only_sought else [f"I offer {en} ({i})" if i % 2 else f"Jeg kan {nb} ({i})"]
            seeks = [f"We need {en} help {i}" if i % 2 else f"Vi trenger {nb} {i}"]
            if not offers:
                offers = [f"I offer {SUBJECTS['robot'][0]} extra {s}-{i}"]
            row = await create_participant(
                conn,
                kinds[(s + i) % 4],
                offers=offers,
                seeks=seeks,
                embed=False,
                language="en" if i % 2 else "nb",
                location=places[i % 4],
                domains=["cyber_ict"],
            )
            ids.append(row["id"])
    await embed_participants(conn, SubjectEncoder(), ids)
    return ids
