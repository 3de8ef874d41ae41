"""The explanation measure of `koble evaluate` (evaluation.explanations), on hand-made vectors and subjects:
which cards count, both directions, the old single-pair baseline, the subjects file beside the set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from evaluation import explanations as ex
from evaluation.metrics import Summary
from evaluation.runner import Outcome, as_json
from service.matching import interest_space

# Unit vectors along axes: one axis per subject, so a pair of one subject has cosine 1, else 0 (or a
# little above 0 where a text leans towards another subject).
OT, PENTEST, APPS = np.eye(3)


def interests(*rows: tuple[str, int, np.ndarray]) -> ex.Interests:
    vectors = np.array([v / np.linalg.norm(v) for _, _, v in rows])
    return ex.Interests([(side, pos) for side, pos, _ in rows], vectors)


TEXTS = {
    "martin": {"offers": ["pentest skills"], "seeks": ["app design", "ethical hacking"]},
    "hackers": {"offers": ["ethical hacking job"], "seeks": ["pentesters"]},
    "apps": {"offers": ["app design job"], "seeks": ["OT people"]},
}
SUBJECTS = {("martin", "offers", 0): "pentest", ("martin", "seeks", 0): "apps", ("martin", "seeks", 1): "pentest",
            ("hackers", "offers", 0): "pentest", ("hackers", "seeks", 0): "pentest",
            ("apps", "offers", 0): "apps", ("apps", "seeks", 0): "ot"}


def vectors(lean: float) -> dict[str, ex.Interests]:
    """Martin's app-design wish leans `lean` towards pentest (above 1: the encoder confuses it)."""
    return {
        "martin": interests(("offers", 0, PENTEST), ("seeks", 0, APPS + lean * PENTEST),
                            ("seeks", 1, PENTEST + 0.5 * OT)),
        "hackers": interests(("offers", 0, PENTEST), ("seeks", 0, PENTEST)),
        "apps": interests(("offers", 0, APPS), ("seeks", 0, OT)),
    }


def test_both_gold_directions_must_quote_the_subject() -> None:
    gold = {"martin": {"hackers": 2.0, "apps": 1.0}}
    result = ex.measure({"martin": ["hackers", "apps"]}, gold, 10, vectors(0.1), TEXTS, SUBJECTS)
    assert (result.cards, result.subject_rate, result.quotes, result.quote_rate) == (2, 1.0, 3, 1.0)
    # The old single closest pair covers one direction only, but it is right for both cards.
    assert result.before_rate == 1.0
    confused = ex.measure({"martin": ["hackers"]}, gold, 10, vectors(3.0), TEXTS, SUBJECTS)
    assert (confused.cards, confused.subject_rate, confused.quote_rate) == (1, 0.0, 0.5)
    assert "app design" in confused.examples[0]


def test_only_relevant_cards_in_the_top_k_count() -> None:
    gold = {"martin": {"hackers": 2.0}}
    result = ex.measure({"martin": ["apps", "hackers"]}, gold, 1, vectors(0.1), TEXTS, SUBJECTS)
    assert result.cards == 0 and result.subject_rate == 0.0


def test_subjects_file_beside_the_participants_and_the_json_field(tmp_path: Path) -> None:
    (tmp_path / "participants.jsonl").write_text("", encoding="utf-8")
    assert ex.subjects_beside(str(tmp_path / "participants.jsonl")) is None
    lines = [{"external_id": "martin", "side": "seeks", "index": 1, "subject": "pentest"}]
    (tmp_path / "subjects.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    assert ex.subjects_beside(str(tmp_path / "participants.jsonl")) == tmp_path / "subjects.jsonl"
    assert ex.load_subjects(tmp_path / "subjects.jsonl") == {("martin", "seeks", 1): "pentest"}
    outcome = Outcome(Summary(0.5, 0.5, 0.5, 0.5, 1.0, 1), 0, 1.0)
    assert as_json(outcome, 10)["explanation_subject_rate"] is None
    outcome.explanations = ex.ExplanationMeasure(10, 0.9, 15, 0.93, 0.8)
    assert as_json(outcome, 10)["explanation_subject_rate"] == 0.9
    assert "**90.0%** of cards" in ex.markdown(outcome.explanations, 10)


def test_the_measure_reads_vectors_as_the_service_does() -> None:
    """`in_explanation_space` is `interest_space.read` over all interests, centres from all of them."""
    found = vectors(0.1)
    kinds = {"martin": ("student", "nb"), "hackers": ("company", "nb"), "apps": ("company", "en")}
    got = ex.in_explanation_space(found, kinds)
    raw = np.concatenate([found[e].vectors for e in found])
    groups = [interest_space.group_of(kinds[e][0], side, kinds[e][1]) for e in found for side, _ in found[e].keys]
    owners = np.array([n for n, e in enumerate(found) for _ in found[e].keys])
    want = interest_space.read(raw, groups, owners, interest_space.centres_of(raw, groups))
    assert [got[e].keys for e in found] == [found[e].keys for e in found]
    assert np.allclose(np.concatenate([got[e].vectors for e in found]), want)
    # With the raw vectors for the old single pair, the baseline is unchanged by the new space.
    gold = {"martin": {"hackers": 2.0, "apps": 1.0}}
    result = ex.measure({"martin": ["hackers", "apps"]}, gold, 10, got, TEXTS, SUBJECTS, raw=found)
    assert result.before_rate == 1.0 and result.cards == 2
