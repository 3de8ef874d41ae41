"""The map's pure math against independent oracles: clustering against known labels, id matching
against brute force, and the public tables' k >= 5 rule over random aggregates (hypothesis)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import adjusted_rand_score

from service.mapping import figures, terms, themes


def blobs(k: int, per: int, dim: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows around k random orthogonal directions (labels known: distinct subjects)."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(dim, k)))[0].T * np.sqrt(dim)
    labels = np.repeat(np.arange(k), per)
    return themes.unit(centres[labels] + rng.normal(0, noise, size=(k * per, dim))), labels


@settings(max_examples=15, deadline=None)
@given(k=st.integers(2, 8), seed=st.integers(0, 10_000))
def test_clustering_finds_known_subjects_and_two_samples_agree(k: int, seed: int) -> None:
    x, labels = blobs(k, 40, 24, 0.35, seed)
    weights = np.ones(len(x))
    runs = [themes.cluster(x, weights, threshold=0.5, min_weight=5, sample_max=120, seed=s) for s in (1, 2)]
    assert adjusted_rand_score(labels, runs[0].labels) > 0.9
    assert adjusted_rand_score(runs[0].labels, runs[1].labels) > 0.9


@settings(max_examples=40, deadline=None)
@given(m=st.integers(0, 5), k=st.integers(0, 5), seed=st.integers(0, 10_000), floor=st.floats(-0.5, 0.9))
def test_matching_is_the_best_one_to_one_assignment_above_the_floor(m: int, k: int, seed: int, floor: float) -> None:
    rng = np.random.default_rng(seed)
    old, new = themes.unit(rng.normal(size=(m, 6))), themes.unit(rng.normal(size=(k, 6)))
    found = themes.match(old, new, floor)
    assert len(set(found.values())) == len(found)
    assert all(float(new[i] @ old[j]) >= floor for i, j in found.items())
    sims = new @ old.T
    everything = themes.match(old, new, -1.0)
    size = min(k, m)
    best = max(
        (
            sum(sims[i, j] for i, j in zip(rows, cols, strict=True))
            for rows in itertools.combinations(range(k), size)
            for cols in itertools.permutations(range(m), size)
        ),
        default=0.0,
    )
    assert len(everything) == size
    assert np.isclose(sum(sims[i, j] for i, j in everything.items()), best)
    assert found == {i: j for i, j in everything.items() if sims[i, j] >= floor}


def test_a_theme_keeps_its_id_when_a_recomputation_moves_it_a_little() -> None:
    x, _labels = blobs(4, 30, 16, 0.2, 3)
    first = themes.cluster(x, np.ones(len(x)), threshold=0.9, min_weight=5, sample_max=60, seed=1)
    moved = themes.unit(first.centroids + np.random.default_rng(0).normal(0, 0.05, first.centroids.shape))
    assert themes.match(first.centroids, moved[::-1], 0.8) == {i: len(moved) - 1 - i for i in range(len(moved))}


@st.composite
def aggregate(draw: st.DrawFn) -> np.ndarray:
    """A random table of participant counts with its margins (rows and columns adding up)."""
    counts = draw(arrays(np.int64, (draw(st.integers(1, 6)), draw(st.integers(1, 6))), elements=st.integers(0, 12)))
    return figures.with_margins(counts, counts.sum(axis=1), counts.sum(axis=0), int(counts.sum()))


@settings(max_examples=200, deadline=None)
@given(table=aggregate())
def test_public_tables_show_no_cell_below_five_and_no_lone_hidden_cell(table: np.ndarray) -> None:
    shown = figures.public_table(table)
    hidden = np.array([[v is None for v in row] for row in shown])
    assert all(v is None or v == 0 or v >= figures.PUBLIC_MIN for row in shown for v in row)
    assert all(v is None or v == table[i, j] for i, row in enumerate(shown) for j, v in enumerate(row))
    for line in [hidden[i, :] for i in range(hidden.shape[0])] + [hidden[:, j] for j in range(hidden.shape[1])]:
        assert line.sum() != 1  # a lone hidden cell could be worked out from its line's total


def test_labels_are_the_distinctive_stemmed_terms_in_each_language() -> None:
    texts = [
        "sikkerheten i nettverket",
        "sikkerhet for nettverk",
        "biogass fra gjødsel",
        "biogassanlegg og gjødsel",
        "network security audits",
        "biogas from manure",
    ]
    found = terms.theme_terms(texts, ["nb", "nb", "nb", "nb", "en", "en"], [0, 0, 1, 1, 0, 1], 2)
    assert found["nb"][0][:2] == ["sikkerhet", "nettverk"] or set(found["nb"][0][:2]) == {"sikkerheten", "nettverket"}
    assert "gjødsel" in found["nb"][1] and "biogas" in found["en"][1] and "security" in found["en"][0]


def test_municipality_and_semester() -> None:
    assert figures.municipality("Raufoss") == "Vestre Toten"
    assert figures.municipality("Lena, Østre Toten") == "Østre Toten"
    assert figures.municipality("Oslo") == figures.OTHER and figures.municipality(None) == figures.UNKNOWN
    import datetime as dt

    assert figures.semester(dt.date(2026, 3, 1)) == "2026-1" and figures.semester(dt.date(2026, 9, 1)) == "2026-2"


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(1, 3))
def test_principal_axes_are_numpys_svd_axes(seed: int, count: int) -> None:
    rng = np.random.default_rng(seed)
    # Spreads 1.6x apart: sample variances of 120 rows stay distinct (with linspace(4, 0.2) two top
    # variances came within 2 % for some seeds, and power iteration had not separated them in 300 rounds).
    rows = rng.normal(size=(120, 12)) * np.geomspace(8.0, 0.05, 12)
    rows -= rows.mean(axis=0)
    expected = np.linalg.svd(rows, full_matrices=False)[2][:count]
    found = themes.principal_axes(rows, count, rounds=300)
    assert np.allclose(np.abs(found @ expected.T), np.eye(count), atol=1e-2)


def test_a_term_fewer_than_five_participants_wrote_never_labels_a_theme() -> None:
    texts = [f"sveising av aluminium {i}" for i in range(6)] + ["sveising hos Mjøsbruket"] * 3
    owners = [0, 1, 2, 3, 4, 5, 6, 6, 6]
    found = terms.theme_terms(texts, ["nb"] * 9, [0] * 9, 1, owners, figures.PUBLIC_MIN)
    assert "aluminium" in found["nb"][0] and "mjøsbruket" not in found["nb"][0]


@settings(max_examples=30, deadline=None)
@given(owners=st.lists(st.integers(0, 6), min_size=1, max_size=30), seed=st.integers(0, 10_000))
def test_in_context_adds_the_mean_of_the_owners_other_rows(owners: list[int], seed: int) -> None:
    x = themes.unit(np.random.default_rng(seed).normal(size=(len(owners), 5)))
    found = themes.in_context(x, np.array(owners), 0.4)
    for i, owner in enumerate(owners):
        others = [x[j] for j, o in enumerate(owners) if o == owner and j != i]
        expected = x[i] + 0.4 * np.mean(others, axis=0) if others else x[i]
        assert np.allclose(found[i], expected / np.linalg.norm(expected), atol=1e-5)


def facets(subjects: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit rows (n, d), subject (n,), owner (n,)): each subject told in 3 facets, facets mutually
    orthogonal whatever their subject; each owner names 2-3 facets of one subject."""
    rng = np.random.default_rng(seed)
    directions = np.linalg.qr(rng.normal(size=(64, subjects * 3)))[0].T * 8
    rows, truth, owners = [], [], []
    for owner in range(subjects * 40):
        subject = owner % subjects
        for facet in rng.choice(3, size=int(rng.integers(2, 4)), replace=False):
            rows.append(directions[subject * 3 + facet] + rng.normal(0, 1.0, size=64))
            truth.append(subject)
            owners.append(owner)
    return themes.unit(np.array(rows)), np.array(truth), np.array(owners)


@settings(max_examples=8, deadline=None)
@given(subjects=st.integers(3, 6), seed=st.integers(0, 10_000))
def test_reading_interests_in_context_joins_the_facets_of_a_subject(subjects: int, seed: int) -> None:
    x, truth, owners = facets(subjects, seed)
    weights = np.ones(len(x))
    context = themes.in_context(x, owners, 0.4)
    alone = themes.cluster(x, weights, threshold=0.9, min_weight=5, sample_max=2_000, seed=1)
    read = themes.cluster(x, weights, threshold=0.9, min_weight=5, sample_max=2_000, seed=1, context=context)
    assert adjusted_rand_score(truth, read.labels) > 0.9
    assert adjusted_rand_score(truth, read.labels) > adjusted_rand_score(truth, alone.labels)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 25), per=st.floats(0.5, 8.0), seed=st.integers(0, 10_000))
def test_neighbour_lists_take_the_nearest_share_of_every_kind(n: int, per: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, kinds = themes.unit(rng.normal(size=(n, 5))), rng.integers(0, 3, size=n)
    lists = themes.neighbour_lists(x, kinds, per)
    for i in range(n):
        expected = {i}
        for kind in set(kinds.tolist()):
            members = [j for j in range(n) if kinds[j] == kind]
            count = max(1, round(len(members) / per))
            expected |= set(sorted((j for j in members if j != i), key=lambda j: -float(x[i] @ x[j]))[:count])
        assert set(np.flatnonzero(lists[i]).tolist()) == expected


@settings(max_examples=30, deadline=None)
@given(lists=arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_shared_neighbour_distance_is_one_minus_the_cosine_of_the_lists(lists: np.ndarray) -> None:
    n = lists.shape[0]
    square = np.concatenate([np.eye(n, dtype=bool), lists], axis=1)
    found = themes.shared_neighbour_distances(square)
    for i, j in itertools.product(range(n), repeat=2):
        a, b = set(np.flatnonzero(square[i]).tolist()), set(np.flatnonzero(square[j]).tolist())
        expected = 0.0 if i == j else 1 - len(a & b) / np.sqrt(len(a) * len(b))
        assert np.isclose(found[i, j], expected, atol=1e-6)


def worded(subjects: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit rows (n, d), subject (n,), kind (n,)): each of two kinds words every subject its own way
    (a facet per kind), and each kind's wording shares a direction across subjects, so a subject's
    two facets sit further apart than two subjects' facets worded by one kind."""
    rng = np.random.default_rng(seed)
    axes = np.linalg.qr(rng.normal(size=(64, subjects * 3 + 2)))[0].T
    rows, truth, kinds = [], [], []
    for subject, kind, _ in itertools.product(range(subjects), (0, 1), range(20)):
        facet = axes[subjects + subject * 2 + kind]
        rows.append(axes[subject] + 1.5 * facet + 1.2 * axes[-1 - kind] + rng.normal(0, 0.12, size=64))
        truth.append(subject)
        kinds.append(kind)
    return themes.unit(np.array(rows)), np.array(truth), np.array(kinds)


@settings(max_examples=8, deadline=None)
@given(subjects=st.integers(3, 6), seed=st.integers(0, 10_000))
def test_neighbour_lists_stratified_by_kind_join_a_subjects_wordings(subjects: int, seed: int) -> None:
    x, truth, kinds = worded(subjects, seed)
    balanced = themes.shared_neighbour_distances(themes.neighbour_lists(x, kinds, 10))
    read = themes.agglomerate(balanced, 0.85, metric="precomputed")
    assert adjusted_rand_score(truth, read) > 0.9
    assert all(adjusted_rand_score(truth, themes.agglomerate(x, cut)) < 0.7 for cut in (0.6, 0.75, 0.85))
