"""Mapping (kartlegging): themes over every visible interest, kept stable across recomputations and
staff edits, each new interest's nearest theme, and the map's figures (docs/architecture.md "Mapping").

The vectors come from matching's service, the participants' facts from profiles' service; the math
is in `themes`, `terms` and `figures` (pure).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np

from service.kit.audit import Actor, record_many
from service.kit.errors import Conflict, NotFound
from service.mapping import figures, repository, terms, themes
from service.matching import service as matching
from service.profiles import service as profiles

log = logging.getLogger(__name__)

# Average-linkage cut on the shared-neighbour distance of the centred vectors read in context, the
# neighbour lists stratified by the participants' kinds (themes.py says why). Tuning sets
# (bench/themes.py, generated, seeds 5-7 at 1,000 and 10,000 participants, 5-6 at 2,000): 0.92 / 0.93 /
# 0.94 / 0.95 gave ARI 0.81-0.86 / 0.83-0.88 / 0.82-0.94 / 0.80-0.94 against the 15 subjects at 18-23 /
# 17-21 / 15-18 / 14-16 themes; the cosine cut it replaces (0.83) gave 0.74-0.83 (1,000 and 10,000).
DISTANCE_THRESHOLD = 0.93
CONTEXT_WEIGHT = 0.4  # the share of a participant's other interests added to each interest (themes.in_context)
SAMPLE_MAX = 3_000  # distinct vectors clustered (memory and time are quadratic in it)
# A theme holds at least this share of the interests and at least this many (else they join their
# nearest theme): with 3 interests the demo data (539 interests) had 44 themes, too many to read.
MIN_THEME_SHARE = 0.005
MIN_THEME_INTERESTS = 6
MIN_GROUP = 20  # interests a centring group needs for a centre of its own (else the overall mean)
GROUP_AXES, AXES_FROM = 1, 50  # the group's top principal axis is taken out in groups of 50 interests or more
# A recomputed theme keeps an old id when their centroids (centred, unit) are at least this close.
MATCH_FLOOR = 0.8
# A seek is an unmet need when its best offer anywhere is below this cosine (of the stored vectors,
# the ranker's scale). The ranker's own floor (0.5 for E5 models) is below every pair, as E5 puts even
# unrelated texts at 0.78-0.84; so for E5 models a measured level is used, never lower than the floor.
# Tuning set (1,000 generated, seed 5) with one subject's offers removed, for three subjects in turn:
# the planted seeks' best offer had median 0.89-0.90, the other seeks' 0.95 (min 0.873). Below
# 0.87 / 0.88 / 0.89 / 0.90 flagged 2-18 / 16-25 / 38-49 / 57-76 % of the planted seeks and 0 / 0.6 / 6 /
# 12 % of the others: 0.88 keeps false gaps rare, and a whole theme of unmet seeks still tops the list.
E5_UNMET_BELOW = 0.88
SPLIT_SEED = 0


class ThemeNotFound(NotFound):
    """No theme with this id on the map."""

    template = "theme: no theme with id %(theme_id)s"


class ThemeEditRefused(Conflict):
    """A staff edit that cannot be done (merging a theme into itself, splitting a tiny theme)."""

    template = "%(field)s: %(reason)s"


@dataclass
class Corpus:
    """Every visible interest with a vector: rows (n,) in (participant, side, position) order."""

    facts: dict[int, asyncpg.Record]
    participant_ids: np.ndarray  # int (n,)
    sides: list[str]
    positions: np.ndarray  # int (n,)
    hashes: list[bytes]
    raw: np.ndarray  # float32 (n, d): the stored vectors
    groups: list[str] = field(default_factory=list)  # "kind|side|language" (n,)
    texts: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


def unmet_below(model: str) -> float:
    """The cosine under which a seek's best offer leaves it unmet (see E5_UNMET_BELOW)."""
    floor = matching.unmet_floor(model)
    return max(floor, E5_UNMET_BELOW) if "e5" in model.lower() else floor


def group_of(fact: Mapping[str, Any], side: str) -> str:
    """The centring group of an interest: the participant's kind, the side and the language."""
    return f"{fact['kind']}|{side}|{fact['language']}"


async def load_corpus(conn: asyncpg.Connection, model: str) -> Corpus:
    """The visible interests with their vectors, texts and the participants' facts."""
    facts = {row["id"]: row for row in await profiles.map_rows(conn)}
    found = await matching.interest_vectors(conn, model)
    keep = [
        i
        for i, (pid, side, pos) in enumerate(zip(found.participant_ids, found.sides, found.positions, strict=True))
        if pid in facts and pos < len(facts[pid][side])
    ]
    corpus = Corpus(
        facts,
        found.participant_ids[keep],
        [found.sides[i] for i in keep],
        found.positions[keep],
        [found.hashes[i] for i in keep],
        found.vectors[keep],
    )
    keys = list(zip(corpus.participant_ids.tolist(), corpus.sides, corpus.positions.tolist(), strict=True))
    corpus.texts = [facts[p][s][q] for p, s, q in keys]
    corpus.languages = [facts[p]["language"] for p, _, _ in keys]
    corpus.groups = [group_of(facts[p], s) for p, s, _ in keys]
    return corpus


def distinct(keys: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first row of each distinct key (u,), each row's distinct index (n,), counts (u,))."""
    index: dict[Any, int] = {}
    inverse = np.array([index.setdefault(key, len(index)) for key in keys], dtype=np.int64)
    first = np.zeros(len(index), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(keys))[::-1]
    return first, inverse, np.bincount(inverse, minlength=len(index)).astype(np.float64)


def cluster_corpus(
    corpus: Corpus, seed: int
) -> tuple[dict[str, themes.Centre], np.ndarray, themes.Clusters, np.ndarray]:
    """(group centres, centred unit vectors (n, d), clusters of the distinct ones, each interest's cluster (n,))."""
    centres = themes.group_centres(corpus.raw, corpus.groups, MIN_GROUP, GROUP_AXES, AXES_FROM)
    x = themes.centred_groups(corpus.raw, corpus.groups, centres)
    first, inverse, counts = distinct(list(zip(corpus.hashes, corpus.groups, strict=True)))
    # A text said by several participants is read in the mean of their contexts.
    context = themes.weighted_means(
        themes.in_context(x, corpus.participant_ids, CONTEXT_WEIGHT), np.ones(len(x)), inverse, len(first)
    )
    min_weight = max(MIN_THEME_INTERESTS, MIN_THEME_SHARE * len(corpus.hashes))
    # Who writes shapes the wording (a competence, a problem): neighbour lists take each kind's share.
    kinds = np.array([corpus.facts[p]["kind"] for p in corpus.participant_ids.tolist()])
    found = themes.cluster(
        x[first],
        counts,
        threshold=DISTANCE_THRESHOLD,
        min_weight=min_weight,
        sample_max=SAMPLE_MAX,
        seed=seed,
        context=context,
        kinds=kinds[first],
    )
    return centres, x, found, found.labels[inverse]


def as_vector(value: Any) -> np.ndarray:
    """A stored pgvector value as float32 (d,)."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def centres_of(state: Mapping[str, Any]) -> dict[str, themes.Centre]:
    """The group centres stored with the latest recomputation."""
    centres = {}
    for group, value in json.loads(state["centers"]).items():
        mean = np.asarray(value["mean"], dtype=np.float32)
        centres[group] = themes.Centre(mean, np.asarray(value["axes"], dtype=np.float32).reshape(-1, len(mean)))
    return centres


def centres_json(centres: Mapping[str, themes.Centre]) -> dict[str, Any]:
    """The group centres as JSON (theme_state.centers)."""
    return {group: {"mean": c.mean.tolist(), "axes": c.axes.tolist()} for group, c in centres.items()}


# --- recomputation -------------------------------------------------------------------------------------


@dataclass
class Recomputed:
    """What a recomputation did."""

    interests: int = 0
    themes: int = 0
    kept: int = 0  # themes that kept an old id
    new: int = 0
    retired: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The counts as a plain dict (a job's result)."""
        return dict(self.__dict__)


async def recompute(conn: asyncpg.Connection, model: str, seed: int = 0, below: float | None = None) -> Recomputed:
    """Cluster every visible interest again, keep ids by centroid, apply staff edits, store the figures
    (`below`: the unmet-need cosine, `unmet_below(model)` by default; kept until the next recomputation)."""
    started = time.perf_counter()
    corpus = await load_corpus(conn, model)
    if not corpus.hashes:
        return Recomputed()
    centres, x, found, labels = await asyncio.to_thread(cluster_corpus, corpus, seed)
    old = [row for row in await repository.themes(conn, model) if row["active"] and row["split_from"] is None]
    old_centroids = np.array([as_vector(r["centroid"]) for r in old]).reshape(len(old), x.shape[1])
    pairs = themes.match(old_centroids, found.centroids, MATCH_FLOOR)
    result = Recomputed(interests=len(labels), themes=len(found.centroids), kept=len(pairs))
    async with conn.transaction():
        ids = await _store_themes(conn, model, old, pairs, found.centroids, result)
        final = await _resolve_edits(conn, model, x, ids[labels])
        best = await asyncio.to_thread(best_offers, corpus)
        keys = zip(
            corpus.participant_ids.tolist(), corpus.sides, corpus.positions.tolist(), final.tolist(), best, strict=True
        )
        await repository.replace_assignments(
            conn, [(p, s, q, t, None if np.isnan(b) else float(b)) for p, s, q, t, b in keys]
        )
        await repository.save_state(conn, model, centres_json(centres), time.perf_counter() - started)
        await rebuild(conn, model, corpus, unmet_below(model) if below is None else below)
    result.seconds = time.perf_counter() - started
    log.info("themes recomputed: %s", result.as_dict())
    return result


async def _store_themes(
    conn: asyncpg.Connection,
    model: str,
    old: Sequence[asyncpg.Record],
    pairs: Mapping[int, int],
    centroids: np.ndarray,
    result: Recomputed,
) -> np.ndarray:
    """Theme id (k,) of each new cluster: an old id where matched, else a new theme; unmatched old ones retire."""
    ids = np.zeros(len(centroids), dtype=np.int64)
    for new_index, old_index in pairs.items():
        ids[new_index] = old[old_index]["id"]
    await repository.update_centroids(conn, [(int(ids[i]), centroids[i]) for i in pairs])
    for i in range(len(centroids)):
        if i not in pairs:
            ids[i] = await repository.insert_theme(conn, model, centroids[i])
            result.new += 1
    gone = [row["id"] for j, row in enumerate(old) if j not in set(pairs.values())]
    await repository.retire(conn, gone)
    result.retired = len(gone)
    return ids


async def _resolve_edits(conn: asyncpg.Connection, model: str, x: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Each interest's shown theme (n,) from its base theme (n,): a split theme's interests go to its
    nearest part (centred unit vectors x (n, d)), then merges are followed."""
    rows = {row["id"]: row for row in await repository.themes(conn, model)}
    shown = base.copy()
    for parent in sorted({int(t) for t in base if rows[int(t)]["is_split"]}):
        parts = [r for r in rows.values() if r["split_from"] == parent]
        members = np.flatnonzero(base == parent)
        if not parts:
            continue
        nearest, _cos = themes.nearest(x[members], np.array([as_vector(p["centroid"]) for p in parts]))
        shown[members] = np.array([p["id"] for p in parts])[nearest]
        means = themes.weighted_means(x[members], np.ones(len(members)), nearest, len(parts))
        await repository.update_centroids(
            conn, [(p["id"], means[i]) for i, p in enumerate(parts) if (nearest == i).any()]
        )
    return np.array([follow_merges(rows, int(t)) for t in shown], dtype=np.int64)


def follow_merges(rows: Mapping[int, Mapping[str, Any]], theme_id: int) -> int:
    """The theme a theme's interests are shown under: along merged_into while the target is active."""
    seen = {theme_id}
    while (target := rows[theme_id]["merged_into"]) is not None and target not in seen and rows[target]["active"]:
        seen.add(target)
        theme_id = target
    return theme_id


def best_offers(corpus: Corpus) -> np.ndarray:
    """float (n,): each seek's best cosine with any offer (anyone's, the seeker's own too; NaN for offers).

    Computed over distinct texts (a text's vector is the same wherever it occurs): generated sets and
    forms repeat texts a lot, and the product is seeks x offers x dim.
    """
    is_seek = np.array([s == "seeks" for s in corpus.sides])
    offers_first, _inv, _n = distinct([h for h, seek in zip(corpus.hashes, is_seek, strict=True) if not seek])
    seek_rows = np.flatnonzero(is_seek)
    seeks_first, seeks_inverse, _m = distinct([corpus.hashes[i] for i in seek_rows])
    offers = themes.unit(corpus.raw[~is_seek][offers_first])
    best = np.full(len(corpus.sides), np.nan, dtype=np.float64)
    best[seek_rows] = themes.best_cosines(themes.unit(corpus.raw[seek_rows][seeks_first]), offers)[seeks_inverse]
    return best


# --- labels and figures ----------------------------------------------------------------------------------


async def rebuild(
    conn: asyncpg.Connection, model: str, corpus: Corpus | None = None, below: float | None = None
) -> dict[str, Any]:
    """Label every shown theme from its texts and store the figures; the figures (`below`: the
    unmet-need cosine, by default the one the latest recomputation used)."""
    if below is None:
        stored = await figures_document(conn)
        below = float(stored["unmet_below"]) if stored and "unmet_below" in stored else unmet_below(model)
    facts = corpus.facts if corpus else {row["id"]: row for row in await profiles.map_rows(conn)}
    placed = [
        a
        for a in await repository.assignments(conn)
        if a["participant_id"] in facts and a["position"] < len(facts[a["participant_id"]][a["side"]])
    ]
    shown = sorted({a["theme_id"] for a in placed})
    index = {t: i for i, t in enumerate(shown)}
    texts = [facts[a["participant_id"]][a["side"]][a["position"]] for a in placed]
    languages = [facts[a["participant_id"]]["language"] for a in placed]
    found = await asyncio.to_thread(
        terms.theme_terms,
        texts,
        languages,
        [index[a["theme_id"]] for a in placed],
        len(shown),
        [a["participant_id"] for a in placed],
        figures.PUBLIC_MIN,
    )
    labels = [(t, *labels_of(found, index[t])) for t in shown]
    await repository.set_labels(conn, labels)
    rows = {row["id"]: row for row in await repository.themes(conn, model)}
    listed = [theme_entry(rows[t]) for t in shown]
    items = [map_item(facts[a["participant_id"]], a, below) for a in placed]
    document = figures.document(items, listed) | {"unmet_below": below}
    await repository.save_document(conn, document)
    return document


def labels_of(found: Mapping[str, list[list[str]]], i: int) -> tuple[str, str, list[str]]:
    """(label_nb, label_en, terms) of theme i; a language without texts borrows the other's label."""
    nb, en = found["nb"][i], found["en"][i]
    label_nb, label_en = terms.label(nb or en), terms.label(en or nb)
    merged = list(dict.fromkeys([*nb[:4], *en[:4]]))
    return label_nb or "-", label_en or "-", merged


def theme_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """A theme as the figures list it: staff's names win over the computed labels."""
    return {
        "id": row["id"],
        "label_nb": row["name_nb"] or row["label_nb"],
        "label_en": row["name_en"] or row["label_en"],
        "terms": list(row["terms"]),
        "renamed": bool(row["name_nb"] or row["name_en"]),
    }


def map_item(fact: Mapping[str, Any], assignment: Mapping[str, Any], below: float) -> figures.Interest:
    """One assignment as the figures count it."""
    best = assignment["best_offer"]
    return figures.Interest(
        fact["id"],
        assignment["side"],
        assignment["theme_id"],
        fact["kind"],
        tuple(fact["domains"]),
        figures.municipality(fact["location"]),
        figures.semester(fact["created_at"]),
        assignment["side"] == "seeks" and best is not None and best < below,
    )


async def figures_document(conn: asyncpg.Connection) -> dict[str, Any] | None:
    """The stored figures of the latest recomputation, with its time; None before the first."""
    found = await repository.document(conn)
    if found is None:
        return None
    computed_at, text = found
    return {**json.loads(text), "computed_at": computed_at.isoformat(timespec="seconds")}


# --- a new interest's nearest theme ---------------------------------------------------------------------


async def assign_nearest(conn: asyncpg.Connection, model: str, participant_ids: list[int]) -> int:
    """Give these participants' interests their nearest shown theme (after embedding); how many.

    Nothing before the first recomputation or for another model. The seeks' unmet flags wait for the
    next recomputation (they need every offer), and so do the stored figures.
    """
    state = await repository.state(conn)
    if state is None or state["model"] != model:
        return 0
    rows = {row["id"]: row for row in await repository.themes(conn, model)}
    candidates = [r for r in rows.values() if r["active"] and not r["is_split"]]
    x, keys = await centred_vectors(conn, model, centres_of(state), participant_ids)
    if not candidates or not keys:
        return 0
    nearest, _cos = themes.nearest(x, np.array([as_vector(r["centroid"]) for r in candidates]))
    chosen = [follow_merges(rows, candidates[int(i)]["id"]) for i in nearest]
    async with conn.transaction():
        await repository.assign(conn, participant_ids, [(*key, t, None) for key, t in zip(keys, chosen, strict=True)])
    return len(keys)


async def centred_vectors(
    conn: asyncpg.Connection, model: str, centres: Mapping[str, themes.Centre], participant_ids: Sequence[int]
) -> tuple[np.ndarray, list[tuple[int, str, int]]]:
    """(centred unit vectors (n, d), their (participant id, side, position)) of these visible participants."""
    facts = {row["id"]: row for row in await profiles.map_rows(conn, participant_ids)}
    found = await matching.interest_vectors(conn, model, participant_ids)
    keys = list(zip(found.participant_ids.tolist(), found.sides, found.positions.tolist(), strict=True))
    keep = [i for i, (p, s, q) in enumerate(keys) if p in facts and q < len(facts[p][s])]
    groups = [group_of(facts[keys[i][0]], keys[i][1]) for i in keep]
    return themes.centred_groups(found.vectors[keep], groups, centres), [keys[i] for i in keep]


# --- staff edits -----------------------------------------------------------------------------------------


async def shown_theme(conn: asyncpg.Connection, theme_id: int) -> asyncpg.Record:
    """A theme on the map (active, not split, not merged), or ThemeNotFound."""
    row = await repository.theme(conn, theme_id)
    if row is None or not row["active"] or row["is_split"] or row["merged_into"] is not None:
        raise ThemeNotFound(theme_id=theme_id)
    return row


async def rename(conn: asyncpg.Connection, theme_id: int, name_nb: str, name_en: str) -> None:
    """Staff's names for a theme (empty: back to the computed label); kept across recomputations."""
    row = await shown_theme(conn, theme_id)
    async with conn.transaction():
        await repository.rename(conn, theme_id, name_nb.strip() or None, name_en.strip() or None)
        await rebuild(conn, row["model"])


async def merge(conn: asyncpg.Connection, theme_id: int, into: int) -> None:
    """Show a theme's interests under another theme from now on (kept across recomputations)."""
    if theme_id == into:
        raise ThemeEditRefused(field="into", reason="a theme cannot be merged into itself")
    row = await shown_theme(conn, theme_id)
    await shown_theme(conn, into)
    async with conn.transaction():
        await repository.merge(conn, theme_id, into)
        moved = await repository.assignments(conn, [theme_id])
        await repository.reassign(conn, [(a["participant_id"], a["side"], a["position"], into) for a in moved])
        await rebuild(conn, row["model"])


async def split(conn: asyncpg.Connection, theme_id: int, parts: int = 2) -> list[int]:
    """Divide a theme in `parts` by its interests' vectors (k-means); the parts' ids. Kept across
    recomputations: the theme's interests then go to the nearest part."""
    row = await shown_theme(conn, theme_id)
    state = await repository.state(conn)
    members = await repository.assignments(conn, [theme_id])
    if state is None or len(members) < 2 * parts:
        raise ThemeEditRefused(field="theme", reason=f"too few interests to split in {parts}")
    x, keys = await centred_vectors(
        conn, row["model"], centres_of(state), sorted({m["participant_id"] for m in members})
    )
    wanted = {(m["participant_id"], m["side"], m["position"]) for m in members}
    keep = [i for i, key in enumerate(keys) if key in wanted]
    labels = themes.split(x[keep], np.ones(len(keep)), parts, SPLIT_SEED)
    centroids = themes.weighted_means(x[keep], np.ones(len(keep)), labels, parts)
    async with conn.transaction():
        ids = [
            await repository.insert_theme(conn, row["model"], centroids[i], split_from=theme_id) for i in range(parts)
        ]
        await repository.mark_split(conn, theme_id)
        await repository.reassign(conn, [(*keys[j], ids[int(labels[n])]) for n, j in enumerate(keep)])
        await rebuild(conn, row["model"])
    return ids


# --- drill-down ------------------------------------------------------------------------------------------


async def people_behind(
    conn: asyncpg.Connection,
    actor: Actor,
    theme_id: int,
    side: str,
    dimension: str | None,
    value: str | None,
) -> list[asyncpg.Record]:
    """The participants behind one number of the map (reviewers and admins only), the view audited."""
    if side not in figures.SIDES:
        raise ThemeEditRefused(field="side", reason="must be offers, seeks or any")
    if dimension is not None and dimension not in figures.DIMENSIONS:
        raise ThemeEditRefused(field="dimension", reason="must be kind, domain, municipality or semester")
    await shown_theme(conn, theme_id)
    placed = [a for a in await repository.assignments(conn, [theme_id]) if side == "any" or a["side"] == side]
    facts = {row["id"]: row for row in await profiles.map_rows(conn, sorted({a["participant_id"] for a in placed}))}
    ids = sorted(
        {
            a["participant_id"]
            for a in placed
            if a["participant_id"] in facts
            and (
                dimension is None or value in figures.values_of(map_item(facts[a["participant_id"]], a, 0.0), dimension)
            )
        }
    )
    people = await profiles.by_ids(conn, ids)
    await record_many(conn, actor, "map_drill_down", participant_ids=ids)
    return sorted(people.values(), key=lambda p: (p["name"], p["id"]))


async def assignment_lines(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """One `{"external_id", "side", "index", "theme"}` per interest of a visible participant (docs/contracts.md §7)."""
    facts = {row["id"]: row for row in await profiles.map_rows(conn)}
    return [
        {
            "external_id": facts[a["participant_id"]]["external_id"],
            "side": a["side"],
            "index": a["position"],
            "theme": a["theme_id"],
        }
        for a in await repository.assignments(conn)
        if a["participant_id"] in facts
    ]
