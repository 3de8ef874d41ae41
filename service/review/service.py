"""Staff decide: the review queue and its decisions, hand-picking, proposing pairs, exports.

Every decision and every view of personal data is written to the audit log in the same transaction;
emails caused by a decision are handed to the worker only after that transaction commits.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from arq.connections import ArqRedis
from babel.numbers import format_decimal

from service.kit import audit, i18n
from service.kit.audit import Actor
from service.kit.config import Settings
from service.kit.errors import Conflict
from service.kit.exports import text_cell
from service.kit.i18n import _
from service.kit.inputs import parse_id
from service.matches import conversation, labels
from service.matches import service as matches
from service.matches.lifecycle import IllegalTransition, MatchNotFound
from service.matches.schemas import QueueFilter
from service.matching import explain, scoring
from service.matching import service as matching
from service.profiles import service as profiles
from service.profiles import views as profile_pages
from service.review.schemas import BulkResult

FLOAT4_MAX = 3.4028234663852886e38  # the largest finite PostgreSQL real

# --- the queue ---


@dataclass(frozen=True)
class FitPart:
    """One ingredient of a pair's score: its name, how much of its own maximum it reaches (0-1), in words."""

    label: str
    share: float
    word: str

    @property
    def tenths(self) -> int:
        """The share in tenths (0-10), for the bar's width class."""
        return round(max(0.0, min(1.0, self.share)) * 10)


@dataclass(frozen=True)
class Fit:
    """A pair's score in words, with what makes it (interests both ways, then the soft features)."""

    word: str
    level: int  # 0-3: weak, some, good, very good
    parts: tuple[FitPart, ...]


@dataclass(frozen=True)
class QueueItem:
    """One pair in the queue: the match, both profiles as the profile page shows them, and why."""

    match: asyncpg.Record
    a: dict[str, Any]
    b: dict[str, Any]
    explanation: str
    fit: Fit | None = None

    @property
    def score_text(self) -> str:
        """The ranker's score with two decimals, written as the reader's language writes numbers."""
        return format_decimal(self.match["score"] or 0, "0.00", locale=i18n.current_language.get())


def encode_cursor(row: Mapping[str, Any]) -> str:
    """The keyset position after a queue row, as an opaque URL-safe string."""
    raw = f"{float(row['score'] or 0)!r}:{row['id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[float, int] | None:
    """The keyset position of a cursor; None for none or a malformed one (the first page)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score_text, id_text = raw.split(":")
        score, match_id = float(score_text), parse_id(id_text)
    except (ValueError, UnicodeDecodeError):
        return None
    # Scores are `real` (float4): a larger or non-finite one cannot be compared in SQL (issue 15, finding 5).
    return (score, match_id) if match_id is not None and math.isfinite(score) and abs(score) <= FLOAT4_MAX else None


async def queue(
    conn: asyncpg.Connection, settings: Settings, f: QueueFilter, actor: Actor
) -> tuple[list[QueueItem], str | None, int]:
    """A page of the queue (items, next cursor, total); every pair shown is audited as a view."""
    rows = await matches.queue_page(conn, f)
    people = await profiles.by_ids(conn, [i for row in rows for i in (row["a_id"], row["b_id"])])
    best = await matching.interest_pair_options_of_pairs(conn, [(row["a_id"], row["b_id"]) for row in rows],
                                                         matching.model_name(settings))
    weights = matching.ranker_config(matching.model_name(settings)).weights
    items = [_item(row, people, best.get((row["a_id"], row["b_id"])), weights) for row in rows
             if row["a_id"] in people and row["b_id"] in people]
    await audit.record_many(conn, actor, "view_queue", match_ids=[row["id"] for row in rows])
    more = len(rows) == f.limit
    return items, encode_cursor(rows[-1]) if more and rows else None, await matches.queue_count(conn, f)


def _item(row: asyncpg.Record, people: Mapping[int, asyncpg.Record], best: Any, weights: scoring.Weights) -> QueueItem:
    a, b = people[row["a_id"]], people[row["b_id"]]
    return QueueItem(row, profile_pages.profile_view(a) | who(a), profile_pages.profile_view(b) | who(b),
                     explain_pair(a, b, best), fit_of(a, b, row["score"], weights))


# Interest fit R (scoring.Weights: the harmonic mean of both directions' fit, each a cosine mapped to
# [0, 1] and raised up to x2 by shared terms) in words: at 1.0 both sides' texts match closely and
# share terms; below 0.3 the pair rests on the domain and soft features more than on what they wrote.
FIT_WORDS = ((1.0, 3), (0.6, 2), (0.3, 1), (float("-inf"), 0))


def _fit_words() -> tuple[str, ...]:
    return (_("Weak fit"), _("Some fit"), _("Good fit"), _("Very good fit"))


def _share_word(share: float) -> str:
    return _("high") if share >= 0.67 else _("medium") if share >= 0.34 else _("low") if share > 0 else _("none")


def fit_of(a: asyncpg.Record, b: asyncpg.Record, score: float | None, weights: scoring.Weights) -> Fit | None:
    """The stored score (None: no score, as for hand-picked pairs) in words, with its ingredients: the soft
    features recomputed from both profiles and the interest fit as what is left (exposure counts in it)."""
    if score is None or not math.isfinite(score):
        return None
    px, cands = _profiles(a, b)
    soft = {name: float(values[0]) for name, values in scoring.soft_features(px, cands, weights).items()}
    interest = (score - sum(getattr(weights, name) * value for name, value in soft.items())) / (weights.reciprocal or 1)
    level = next(lvl for floor, lvl in FIT_WORDS if interest >= floor)
    labels_of = {"availability": _("Time"), "engagement": _("Kind of collaboration"), "language": _("Language"),
                 "location": _("Place"), "freshness": _("Recently active")}
    parts = [FitPart(_("Interests, both ways"), interest / 2, _fit_words()[level].lower())]
    parts += [FitPart(labels_of[name], value, _share_word(value)) for name, value in soft.items() if name in labels_of]
    return Fit(_fit_words()[level], level, tuple(parts))


def who(row: asyncpg.Record) -> dict[str, Any]:
    """The ids and visibility the staff pages show next to a profile."""
    return {"id": row["id"], "external_id": row["external_id"], "visible": row["hidden_at"] is None,
            "photo_key": row["photo_key"]}


def explain_pair(a: asyncpg.Record, b: asyncpg.Record, best: Any) -> str:
    """Why a and b fit, about both by name, in the reader's language (`best`: their closest interests,
    both directions' options, `interest_pair_options_of_pairs`)."""
    parts = explain.explanation_parts(a, b, best)
    return explain.render(parts, i18n.current_language.get(), (a["name"], b["name"]))


# --- decisions ---


async def approve(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, match_id: int, actor: Actor,
    note: str | None = None,
) -> asyncpg.Record:
    """Approve a suggested pair; both are introduced (with staff's `note`) when the grace period ends, or
    at once without one; 409 if it moved. While `approved`, `undo` takes it back."""
    async with conn.transaction():
        outbox = await matches.approve(conn, settings, match_id, actor, comment=note or None)
        await audit.record(conn, actor, "approve", match_id=match_id)
        row = await matches.by_id(conn, match_id)
    assert row is not None  # locked and moved inside this transaction; matches are never deleted alone
    if row["state"] == "approved":
        await matches.schedule_introduction(redis, settings, row)
    await matches.deliver(redis, outbox)
    return row


def undo_until(settings: Settings, row: asyncpg.Record) -> dt.datetime | None:
    """Until when an approval may be undone (None: the match is not waiting for its introduction)."""
    return matches.introduce_at(settings, row) if row["state"] == "approved" else None


async def undo(conn: asyncpg.Connection, settings: Settings, match_id: int, actor: Actor) -> asyncpg.Record:
    """Undo an approval within its grace period: the pair is back in the queue and nobody was emailed;
    409 (naming `introduced`) once the introduction has gone."""
    async with conn.transaction():
        row = await matches.undo_approval(conn, settings, match_id, actor)
        await audit.record(conn, actor, "undo_approve", match_id=match_id)
    return row


async def reject(
    conn: asyncpg.Connection, settings: Settings, match_id: int, actor: Actor, reason: str
) -> asyncpg.Record:
    """Reject a suggested pair for good, with a reason (kept in the timeline, never shown to the pair)."""
    async with conn.transaction():
        row, _outbox = await matches.transition(conn, settings, match_id, "rejected", actor, reason=reason)
        await audit.record(conn, actor, "reject", match_id=match_id)
    return row


async def snooze(conn: asyncpg.Connection, match_id: int, actor: Actor, until: dt.date) -> asyncpg.Record:
    """Keep a suggested pair out of the queue until a day."""
    async with conn.transaction():
        at = dt.datetime.combine(until, dt.time(), tzinfo=dt.UTC)
        row = await matches.snooze(conn, match_id, at)
        await audit.record(conn, actor, "snooze", match_id=match_id,
                               details={"until": until.isoformat()})
    return row


async def bulk_approve(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, match_ids: Sequence[int], actor: Actor
) -> BulkResult:
    """Approve each pair; pairs that moved meanwhile (or are gone) are skipped and reported."""
    result = BulkResult()
    for match_id in dict.fromkeys(match_ids):
        try:
            await approve(conn, redis, settings, match_id, actor)
            result.approved.append(match_id)
        except IllegalTransition as exc:
            result.skipped[match_id] = exc.current
        except MatchNotFound:
            result.skipped[match_id] = "closed"
    return result


async def close(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, match_id: int, actor: Actor, reason: str
) -> asyncpg.Record:
    """Close an open match with a reason."""
    async with conn.transaction():
        row, outbox = await matches.transition(conn, settings, match_id, "closed", actor, reason=reason)
        await audit.record(conn, actor, "close", match_id=match_id)
    await matches.deliver(redis, outbox)
    return row


# --- hand-picking ---


class PairRefused(Conflict):
    """A hand-picked pair breaks a hard constraint (docs/contracts.md §6); the message says which, in words."""


async def search(conn: asyncpg.Connection, text: str, actor: Actor, limit: int = 20) -> list[asyncpg.Record]:
    """Participants matching a search (name, organisation, email, external id); the view is audited."""
    if len(text.strip()) < 2:
        return []
    rows = await profiles.search(conn, text.strip(), limit)
    await audit.record_many(conn, actor, "search_participants",
                                participant_ids=[row["id"] for row in rows])
    return rows


def _profiles(x: asyncpg.Record, y: asyncpg.Record) -> tuple[scoring.Profile, scoring.Candidates]:
    x_location, locations = scoring.location_codes(x["location"], [y["location"]])
    px = matching.query_profile(x, x_location, at_capacity=False)
    py = matching.query_profile(y, int(locations[0]), at_capacity=False)
    return px, scoring.candidates_from(px, [py])


def profile_problems(x: asyncpg.Record, y: asyncpg.Record) -> list[str]:
    """The hard constraints two participants' profiles break, in words (empty: none)."""
    px, cands = _profiles(x, y)
    checks = [
        (px.id != int(cands.ids[0]), _("Pick two different participants.")),
        (px.kind != int(cands.kind[0]), _("Both are of the same kind; Koble pairs different kinds.")),
        (px.visible and bool(cands.visible[0]), _("One of them is hidden or has not confirmed the email address.")),
        (bool((cands.domains[0] & px.domains).any()), _("They share no domain.")),
        (bool(scoring.windows_overlap(px, cands)[0]), _("Their availability periods do not overlap.")),
        (bool(scoring.engagements_compatible(px, cands)[0]), _("They accept no common kind of collaboration.")),
    ]
    return [message for ok, message in checks if not ok]


async def pair_problems(conn: asyncpg.Connection, x: asyncpg.Record, y: asyncpg.Record) -> list[str]:
    """Every hard constraint the pair breaks, including capacity, declines and an existing match."""
    problems = profile_problems(x, y)
    counts = await matches.active_counts(conn, [x["id"], y["id"]])
    if any(counts.get(row["id"], 0) >= row["capacity"] for row in (x, y)):
        problems.append(_("One of them has no capacity left for another match."))
    if await matches.declined_between(conn, x["id"], y["id"]):
        problems.append(_("One of them has said “not now” to the other."))
    existing = await matches.by_pair(conn, x["id"], y["id"])
    if existing is not None and existing["state"] != "suggested":
        problems.append(_("They already have a match (%(state)s).") % {"state": labels.state_label(existing["state"])})
    return problems


async def hand_pick(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, x_id: int, y_id: int, actor: Actor,
    note: str | None = None,
) -> asyncpg.Record:
    """Pair two participants by hand: approved, introduced (with staff's `note`) after the grace period as
    queue approvals are; raises PairRefused with reasons."""
    people = await profiles.by_ids(conn, [x_id, y_id])
    if x_id not in people or y_id not in people:
        raise PairRefused(_("Pick two participants from the search results."))
    problems = await pair_problems(conn, people[x_id], people[y_id])
    if problems:
        raise PairRefused(" ".join(problems))
    existing = await matches.by_pair(conn, x_id, y_id)
    if existing is not None:  # the ranker suggested them already: this is that pair's approval
        return await approve(conn, redis, settings, existing["id"], actor, note)
    async with conn.transaction():
        row, outbox = await matches.create(conn, settings, (x_id, y_id), "approved", "hand_picked", actor,
                                           comment=note or None)
        if row is None:  # created by someone else a moment ago
            raise PairRefused(_("They already have a match."))
        if not settings.approval_grace_seconds:
            row, outbox = await matches.transition(conn, settings, row["id"], "introduced", Actor.system())
        await audit.record(conn, actor, "hand_pick", match_id=row["id"])
    if row["state"] == "approved":
        await matches.schedule_introduction(redis, settings, row)
    await matches.deliver(redis, outbox)
    return row


@dataclass(frozen=True)
class PairPreview:
    """What staff see before hand-picking a pair: both profiles, the fit, why, what stops it, the emails."""

    x: dict[str, Any]
    y: dict[str, Any]
    problems: list[str]
    explanation: str
    fit: Fit | None
    emails: list[matches.IntroductionPreview]


async def preview_pair(
    conn: asyncpg.Connection, settings: Settings, x_id: int, y_id: int, actor: Actor, note: str = "",
    note_by: str | None = None,
) -> PairPreview | None:
    """The pair before it is made (None if either is gone): fit and reasons from the ranker, the hard
    constraints it breaks, and the introduction each would get (with `note`); the view is audited."""
    people = await profiles.by_ids(conn, [x_id, y_id])
    if x_id not in people or y_id not in people:
        return None
    x, y = people[x_id], people[y_id]
    model = matching.model_name(settings)
    config = matching.ranker_config(model)
    found = await matching.suggest(conn, x_id, 1, model, config, i18n.current_language.get(), by_name=True,
                                   record_exposure=False, among=[y_id])
    best = await matching.interest_pair_options_of_pairs(conn, [(x_id, y_id)], model)
    explanation = found[0].explanation if found else explain_pair(x, y, best.get((x_id, y_id)))
    fit = fit_of(x, y, found[0].score, config.weights) if found else None
    emails = await matches.introduction_previews(conn, settings, (x, y), note, note_by)
    await audit.record_many(conn, actor, "preview_pair", participant_ids=[x_id, y_id])
    return PairPreview(profile_pages.profile_view(x) | who(x), profile_pages.profile_view(y) | who(y),
                       await pair_problems(conn, x, y), explanation, fit, emails)


@dataclass(frozen=True)
class Beside:
    """A search result judged beside the picked participant: the fit in words (blank when unscored), why,
    or the hard constraints that forbid the pair (`refused`)."""

    word: str
    text: str
    refused: bool


async def fits_with(
    conn: asyncpg.Connection, settings: Settings, x_id: int, others: Sequence[asyncpg.Record]
) -> dict[int, Beside]:
    """Per search result beside a picked participant: fit and why, or the refusal, before submitting."""
    x = (await profiles.by_ids(conn, [x_id])).get(x_id)
    others = [o for o in others if x is None or o["id"] != x_id]
    if x is None or not others:
        return {}
    model = matching.model_name(settings)
    config = matching.ranker_config(model)
    found = {s.id: s for s in await matching.suggest(conn, x_id, len(others), model, config,
                                                     i18n.current_language.get(), by_name=True,
                                                     record_exposure=False, among=[o["id"] for o in others])}
    best = await matching.interest_pair_options_of_pairs(conn, [(x_id, o["id"]) for o in others], model)
    out: dict[int, Beside] = {}
    for other in others:
        problems = await pair_problems(conn, x, other)
        hit = found.get(other["id"])
        fit = fit_of(x, other, hit.score, config.weights) if hit else None
        out[other["id"]] = Beside("", " ".join(problems), True) if problems else Beside(
            fit.word if fit else "", hit.explanation if hit else explain_pair(x, other, best.get((x_id, other["id"]))),
            False)
    return out


# --- proposing pairs (staff-first mode) ---


async def propose_matches(conn: asyncpg.Connection, settings: Settings, k: int) -> int:
    """Store each visible, verified participant's top k suggestions as `suggested` pairs; returns how many new.

    Existing pairs are skipped (one match per pair, ever). Nobody is emailed: staff decide first.
    """
    model = matching.model_name(settings)
    config = matching.ranker_config(model)
    created = 0
    for participant_id in await profiles.visible_ids(conn):
        found = await matching.suggest(conn, participant_id, k, model, config, record_exposure=False)
        for suggestion in found:
            row, _outbox = await matches.create(conn, settings, (participant_id, suggestion.id), "suggested",
                                                "ranker", Actor.system(), score=suggestion.score)
            created += row is not None
    return created


# --- pipeline, match page, export ---


async def match_page(conn: asyncpg.Connection, match_id: int, actor: Actor) -> dict[str, Any]:
    """A match with both profiles and its timeline; the view is audited."""
    row = await matches.by_id(conn, match_id)
    if row is None:
        raise MatchNotFound(match_id)
    people = await profiles.by_ids(conn, [row["a_id"], row["b_id"]])
    await audit.record(conn, actor, "view_match", match_id=match_id)
    # The parties' messages are theirs: staff see how many there are and the meetings, not the words.
    talk = await conversation.of_match(conn, match_id)
    return {"match": row, "timeline": await matches.timeline(conn, match_id),
            "parties": [profile_pages.profile_view(people[i]) | who(people[i]) for i in (row["a_id"], row["b_id"])
                        if i in people],
            "message_count": len(talk.messages), "meetings": talk.meetings}


async def pipeline(
    conn: asyncpg.Connection, states: Sequence[str], per_column: int, actor: Actor
) -> list[tuple[str, int, list[asyncpg.Record]]]:
    """Per state: how many matches, and the most recently moved ones; every match shown is audited."""
    counts = await matches.state_counts(conn)
    columns = [(state, counts.get(state, 0), await matches.in_state(conn, state, per_column)) for state in states]
    shown = [row["id"] for _state, _n, rows in columns for row in rows]
    await audit.record_many(conn, actor, "view_pipeline", match_ids=shown)
    return columns


async def participant_matches(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """A participant's matches, newest first, with the other party (for their staff page)."""
    return await matches.of_participant(conn, participant_id)


EXPORT_COLUMNS = (
    "match_id", "state", "origin", "score", "closed_reason", "created_at", "state_changed_at", "shared_domains",
    "a_external_id", "a_kind", "a_organisation", "b_external_id", "b_kind", "b_organisation",
)


async def export_csv(conn: asyncpg.Connection, actor: Actor) -> str:
    """Every match with its state, as CSV for the regional council (no names or contact details; texts
    people typed cannot run as spreadsheet formulas)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    rows = await matches.export_rows(conn)
    for row in rows:
        writer.writerow([
            row["id"], row["state"], row["origin"], "" if row["score"] is None else f"{row['score']:.4f}",
            text_cell(row["closed_reason"]), row["created_at"].isoformat(), row["state_changed_at"].isoformat(),
            " ".join(row["domains"]), text_cell(row["a_external_id"]), row["a_kind"], text_cell(row["a_organisation"]),
            text_cell(row["b_external_id"]), row["b_kind"], text_cell(row["b_organisation"]),
        ])
    await audit.record(conn, actor, "export", details={"matches": len(rows)})
    return out.getvalue()
