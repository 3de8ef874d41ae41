"""The space explanations compare interests in (service.matching.interest_space), against oracles written
out with plain numpy: centring per group, the participant's context, and the pairs ranked by cosine."""

from __future__ import annotations

import numpy as np

from service.kit.vectors import GLOBAL, Centre
from service.matching import interest_space as space


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / np.linalg.norm(v), dtype=np.float64)


def test_read_centres_each_group_takes_its_axis_out_then_adds_the_owner_context() -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(4, 6)).astype(np.float32)
    groups = ["student|seeks|nb", "student|seeks|nb", "company|offers|nb", "company|offers|nb"]
    owners = np.array([1, 1, 2, 2])
    axis = _unit(np.array([1.0, 0, 0, 0, 0, 0]))
    centres = {GLOBAL: Centre(np.zeros(6, np.float32), np.zeros((0, 6), np.float32)),
               "student|seeks|nb": Centre(raw[:2].mean(axis=0), axis[None, :].astype(np.float32))}
    got = space.read(raw, groups, owners, centres)
    # Oracle: minus the group's mean, the axis projected out, unit; the company group has no centre of its
    # own, so the global one (zero here); then plus 0.4 x the other interest of the same owner, unit.
    centred = []
    for i in range(4):
        v = raw[i].astype(np.float64)
        if i < 2:
            v = v - raw[:2].mean(axis=0)
            v = v - (v @ axis) * axis
        centred.append(_unit(v))
    other = {0: 1, 1: 0, 2: 3, 3: 2}
    want = [_unit(centred[i] + space.CONTEXT_WEIGHT * centred[other[i]]) for i in range(4)]
    assert np.allclose(got, np.array(want), atol=1e-5)


def test_too_few_interests_are_compared_raw_in_context() -> None:
    raw = np.array([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]], dtype=np.float32)
    assert space.centres_of(raw, ["a", "a", "b"]) == {}
    got = space.read(raw, ["a", "a", "b"], np.array([7, 7, 8]), {})
    want = [_unit(_unit(raw[0]) + 0.4 * _unit(raw[1])), _unit(_unit(raw[1]) + 0.4 * _unit(raw[0])), _unit(raw[2])]
    assert np.allclose(got, np.array(want), atol=1e-6)


def _row(pid: int, side: str, position: int, vector: list[float], kind: str = "student") -> dict[str, object]:
    return {"participant_id": pid, "side": side, "position": position, "kind": kind, "language": "en",
            "text": f"{pid}-{side}-{position}", "embedding": vector}


def test_option_rows_are_every_opposite_side_pair_by_cosine_best_first_cut_at_the_limit() -> None:
    rng = np.random.default_rng(11)
    rows = [_row(1, "seeks", 0, list(rng.normal(size=5))), _row(1, "seeks", 1, list(rng.normal(size=5))),
            _row(1, "offers", 0, list(rng.normal(size=5))),
            *(_row(pid, side, pos, list(rng.normal(size=5)), "company")
              for pid in (2, 3) for side in ("seeks", "offers") for pos in (0, 1))]
    got = space.option_rows(rows, 1, {}, limit=3)
    x = space.read(np.array([r["embedding"] for r in rows], dtype=np.float32), ["g"] * len(rows),
                   np.array([r["participant_id"] for r in rows]), {})
    for candidate in (2, 3):
        for side in ("seeks", "offers"):
            oracle = sorted(
                ((float(x[i] @ x[j]), rows[i]["position"], rows[j]["position"])
                 for i, a in enumerate(rows) for j, b in enumerate(rows)
                 if a["participant_id"] == 1 and a["side"] == side and b["participant_id"] == candidate
                 and b["side"] != side), key=lambda t: (-t[0], t[1], t[2]))[:3]
            mine = [(r["cosine"], r["query_position"], r["candidate_position"]) for r in got
                    if r["candidate_id"] == candidate and r["query_side"] == side]
            assert np.allclose([m[0] for m in mine], [o[0] for o in oracle], atol=1e-6)
            assert [m[1:] for m in mine] == [o[1:] for o in oracle]
    assert {r["query_text"] for r in got if r["query_side"] == "offers"} == {"1-offers-0"}


def test_centring_lets_the_subject_outweigh_the_forms_sentence() -> None:
    """Every interest carries its form's sentence (a large shared direction per group) and a subject;
    raw, the query's wish nearest in sentence wins, centred the one of the same subject does."""
    rng = np.random.default_rng(5)
    dim, subjects = 40, np.eye(40)[:4]
    sentence = {group: 4 * _unit(rng.normal(size=dim)) for group in ("student|seeks|en", "company|offers|en")}
    rows, groups = [], []
    for pid in range(30):  # a corpus to centre on: students seek, companies offer, subjects at random
        kind, side = ("student", "seeks") if pid % 2 == 0 else ("company", "offers")
        vector = sentence[f"{kind}|{side}|en"] + subjects[pid % 4] + 0.3 * rng.normal(size=dim)
        rows.append(vector)
        groups.append(f"{kind}|{side}|en")
    centres = space.centres_of(np.array(rows, dtype=np.float32), groups)
    # The query seeks subject 0 (but its sentence leans to the company's) and subject 1.
    leaning = sentence["student|seeks|en"] + subjects[0] + 1.5 * sentence["company|offers|en"] / 4
    query = [_row(100, "seeks", 0, list(leaning)),
             _row(100, "seeks", 1, list(sentence["student|seeks|en"] + 2 * subjects[1]))]
    company = [_row(200, "offers", 0, list(sentence["company|offers|en"] + 2 * subjects[1]), "company")]
    raw_best = space.option_rows(query + company, 100, {}, limit=1)[0]
    centred_best = space.option_rows(query + company, 100, centres, limit=1)[0]
    assert raw_best["query_position"] == 0  # the sentence wins raw
    assert centred_best["query_position"] == 1  # the subject wins centred


def test_no_interests_no_options_and_no_centres() -> None:
    assert space.option_rows([], 1, {}, limit=4) == []
    assert space.centres_of(np.zeros((0, 8), dtype=np.float32), []) == {}
