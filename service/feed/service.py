"""A participant's feed: the next suggestion, answers to it, undo, reversing declines, my matches.

participant_first: the feed is the live ranker minus the candidates already answered; two
"interested" make a `mutual` match. staff_first: the feed is the participant's `introduced` matches
they have not answered; two "interested" move the match to `mutual`, one "not now" to `declined`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from arq.connections import ArqRedis

from service.feed import deck as decks
from service.feed import messages
from service.feed.schemas import (
    CONTACT_STATES,
    Answer,
    AtCapacity,
    CandidateNotFound,
    Card,
    Feed,
    LastAnswer,
    MatchView,
    NothingToUndo,
    NotUndoable,
    Outcome,
    Reason,
)
from service.kit import i18n
from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import labels as match_labels
from service.matches import service as matches
from service.matches.lifecycle import ACTIVE
from service.matching import explain
from service.matching import service as matching
from service.matching.cache import SuggestionCache
from service.profiles import service as profiles

# Suggestions fetched beyond those already answered; the feed shows the best unanswered one.
FEED_K = 10
# A match in one of these states has not been decided by the answer, so the answer may be taken back.
UNDECIDED: tuple[str | None, ...] = (None, "suggested", "approved", "introduced")


# --- the next card ---


async def feed(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, language: i18n.Language,
    cache: SuggestionCache | None = None, deck: Sequence[int] = (),
) -> Feed:
    """The participant's next card, or why there is none (the app's suggestion cache spares a re-ranking).

    `deck` is the session's order of cards (service.feed.deck); the answer's `deck` is what to keep.
    """
    if me["hidden_at"] is not None:
        return Feed(None, "hidden")
    if me["verified_at"] is None:
        return Feed(None, "unverified")
    if settings.match_mode == "staff_first":
        found = Feed(await _introduced_card(conn, settings, me, language), None)
    else:
        found = await _ranked_card(conn, settings, me, language, cache, deck)
    if found.card is not None:
        return found
    active, capacity = await capacity_of(conn, me)
    return Feed(None, "capacity" if active >= capacity else "empty", found.deck, found.progress)


async def no_card_message(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, reason: Reason
) -> str:
    """Why the feed has no card, in the current language (with the counts when at capacity)."""
    active, capacity = await capacity_of(conn, me)
    return messages.no_card(reason, settings.match_mode == "staff_first", active, capacity)


async def capacity_of(conn: asyncpg.Connection, me: asyncpg.Record) -> tuple[int, int]:
    """(active matches, capacity) of a participant."""
    counts = await matches.active_counts(conn, [me["id"]])
    return counts.get(me["id"], 0), me["capacity"]


# A card's explanation: plain text, safe HTML with the shared terms marked, and those terms.
Why = tuple[str, str, tuple[str, ...]]


async def _ranked_card(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, language: i18n.Language,
    cache: SuggestionCache | None, deck: Sequence[int],
) -> Feed:
    """The first card of the session's deck this participant has not answered (participant_first)."""
    model = matching.model_name(settings)
    answered = set(await matches.answered_ids(conn, me["id"]))
    config = matching.ranker_config(model)
    found = await matching.suggest(
        conn, me["id"], len(answered) + FEED_K, model, config, reader_language=language, record_exposure=False,
        cache=cache,
    )
    why: dict[int, Why] = {
        s.id: (s.explanation, s.explanation_html, explain.shared_of(s.parts)) for s in found if s.id not in answered
    }
    await _keep_front(conn, settings, me, language, deck, answered, why)
    kept = decks.arrange(deck, list(why))
    progress = decks.progress(kept, why, answered)
    shown = decks.current(kept, why)
    if shown is None:
        return Feed(None, None, tuple(kept), progress)
    # Only the card actually shown counts as an exposure, not the ones fetched to skip answered ones.
    await matching.record_exposure(conn, [shown], config, cache)
    row = await profiles.by_id(conn, shown)
    card = None if row is None else card_of(row, why[shown][0], None, *why[shown][1:])
    return Feed(card, None, tuple(kept), progress)


async def _keep_front(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, language: i18n.Language,
    deck: Sequence[int], answered: set[int], why: dict[int, Why],
) -> None:
    """Add the deck's first card to `why` if the rules still allow it but the fetch missed it.

    Undo puts the card taken back first; the ranker may have moved it past the fetched few meanwhile.
    """
    if not deck or deck[0] in why or deck[0] in answered:
        return
    model = matching.model_name(settings)
    if not await matching.may_suggest(conn, me["id"], deck[0], model, matching.ranker_config(model)):
        return
    if await matches.answer_of(conn, deck[0], me["id"]) == "not_now":
        return  # they declined me meanwhile: never shown again (§6)
    other = await profiles.by_id(conn, deck[0])
    if other is not None:
        why[deck[0]] = await matching.explain_to(conn, matching.model_name(settings), me, other, language)


async def _introduced_card(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, language: i18n.Language
) -> Card | None:
    """The oldest introduction this participant has not answered (staff_first)."""
    waiting = await matches.introduced_unanswered(conn, me["id"])
    if not waiting:
        return None
    other = await profiles.by_id(conn, waiting[0]["other_id"])
    if other is None:
        return None
    text, html, shared = await matching.explain_to(conn, matching.model_name(settings), me, other, language)
    return card_of(other, text, waiting[0]["match_id"], html, shared)


def card_of(
    row: asyncpg.Record, explanation_text: str, match_id: int | None, explanation_html: str = "",
    shared_terms: tuple[str, ...] = (),
) -> Card:
    """A candidate as a card shows them (no scores)."""
    return Card(
        candidate_id=row["id"], external_id=row["external_id"], name=row["name"],
        organisation=row["organisation"], kind=row["kind"], offers=tuple(row["offers"]),
        seeks=tuple(row["seeks"]), explanation=explanation_text, match_id=match_id, photo_key=row.get("photo_key"),
        explanation_html=explanation_html, shared_terms=shared_terms,
    )


# --- answers ---


async def answer(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, me: asyncpg.Record,
    external_id: str, choice: Answer,
) -> Outcome:
    """Store the participant's answer to a candidate; a match is made or decided when both have answered.

    Raises CandidateNotFound, AtCapacity, NotUndoable (the pair is decided already) or the lifecycle's
    IllegalTransition (staff changed the match meanwhile). Emails go to the worker after commit.
    """
    if me["hidden_at"] is not None or me["verified_at"] is None:
        raise CandidateNotFound(external_id)  # a hidden or unconfirmed profile has no feed to answer
    candidate = await _candidate(conn, me, external_id)
    async with conn.transaction():
        await matches.lock_pair(conn, me["id"], candidate["id"])
        if settings.match_mode == "staff_first":
            match, outbox = await _answer_introduced(conn, settings, me, candidate, choice)
        else:
            match, outbox = await _answer_ranked(conn, settings, me, candidate, choice)
    await matches.deliver(redis, outbox)
    return Outcome(choice, candidate["external_id"], candidate["name"], match, bool(outbox))


async def _candidate(conn: asyncpg.Connection, me: asyncpg.Record, external_id: str) -> asyncpg.Record:
    """A participant who may be answered: someone else, of another kind, visible and confirmed."""
    row = await profiles.by_external_id(conn, external_id)
    if row is None or row["id"] == me["id"] or row["kind"] == me["kind"]:
        raise CandidateNotFound(external_id)
    if row["hidden_at"] is not None or row["verified_at"] is None:
        raise CandidateNotFound(external_id)
    return row


async def _pair_state(conn: asyncpg.Connection, me: asyncpg.Record, other: asyncpg.Record) -> asyncpg.Record | None:
    return await matches.by_pair(conn, me["id"], other["id"])


async def _answer_ranked(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, candidate: asyncpg.Record, choice: Answer
) -> tuple[asyncpg.Record | None, list[int]]:
    match = await _pair_state(conn, me, candidate)
    if match is None:
        await _check_allowed(conn, settings, me, candidate)
    elif match["state"] not in UNDECIDED:
        raise NotUndoable(candidate["name"], match["state"], field="candidate")
    if choice == "interested":
        active, capacity = await capacity_of(conn, me)
        if active >= capacity:
            raise AtCapacity(active, capacity)
    await matches.save_answer(conn, me["id"], candidate["id"], choice)
    if choice != "interested" or await matches.answer_of(conn, candidate["id"], me["id"]) != "interested":
        return None, []
    return await matches.create(
        conn, settings, (me["id"], candidate["id"]), "mutual", "participants", Actor.participant(me["id"])
    )


async def _check_allowed(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, candidate: asyncpg.Record
) -> None:
    """Only a candidate the ranker could show may be answered (issue 15, finding 7): guessed ids must
    not make a match the rules exclude. Refused exactly like an unknown id, so no name is revealed.

    A pair with a match already was made by the rules or by staff; the lifecycle judges it instead.
    """
    model = matching.model_name(settings)
    allowed = await matching.may_suggest(conn, me["id"], candidate["id"], model, matching.ranker_config(model))
    # Declined by the candidate ("not now" to me): never suggested to me again (§6).
    if not allowed or await matches.answer_of(conn, candidate["id"], me["id"]) == "not_now":
        raise CandidateNotFound(candidate["external_id"])


async def _answer_introduced(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, candidate: asyncpg.Record, choice: Answer
) -> tuple[asyncpg.Record | None, list[int]]:
    match = await _pair_state(conn, me, candidate)
    if match is None or match["state"] in ("suggested", "approved", "rejected"):
        raise CandidateNotFound(candidate["external_id"])  # staff have not introduced them: not in the feed
    if match["state"] != "introduced":
        raise NotUndoable(candidate["name"], match["state"], field="candidate")
    outcome = await matches.act(conn, settings, match["id"], me["id"], choice)
    if outcome.result != "done":  # "waiting": the other party has not answered yet
        return None, []
    return await matches.by_id(conn, match["id"]), outcome.outbox


# --- taking answers back ---


async def last_answer(conn: asyncpg.Connection, me: asyncpg.Record) -> LastAnswer | None:
    """The participant's latest answer, if it can still be undone (it has not decided a match)."""
    row = await matches.last_answer(conn, me["id"])
    if row is None or row["match_state"] not in UNDECIDED:
        return None
    return LastAnswer(row["external_id"], row["name"], row["answer"], row["candidate_id"])


async def undo(conn: asyncpg.Connection, me: asyncpg.Record) -> LastAnswer:
    """Remove the participant's latest answer unless it made or decided a match (NotUndoable)."""
    async with conn.transaction():
        row = await matches.last_answer(conn, me["id"])
        if row is None:
            raise NothingToUndo
        await matches.lock_pair(conn, me["id"], row["candidate_id"])
        match = await matches.by_pair(conn, me["id"], row["candidate_id"])
        state = None if match is None else match["state"]
        if state not in UNDECIDED:
            raise NotUndoable(row["name"], state or "")
        await matches.remove_answer(conn, me["id"], row["candidate_id"])
    return LastAnswer(row["external_id"], row["name"], row["answer"], row["candidate_id"])


async def declined(conn: asyncpg.Connection, me: asyncpg.Record) -> list[dict[str, Any]]:
    """The candidates the participant said "not now" to, and whether each can be reversed."""
    return [{**dict(row), "reversible": row["match_state"] in UNDECIDED}
            for row in await matches.declined(conn, me["id"])]


async def reverse(conn: asyncpg.Connection, me: asyncpg.Record, external_id: str) -> str:
    """Take back a "not now" so the candidate may be suggested again; returns their name."""
    other = await profiles.by_external_id(conn, external_id)
    if other is None:
        raise CandidateNotFound(external_id)
    async with conn.transaction():
        await matches.lock_pair(conn, me["id"], other["id"])
        match = await _pair_state(conn, me, other)
        if match is not None and match["state"] not in UNDECIDED:
            raise NotUndoable(other["name"], match["state"])
        if not await matches.remove_answer(conn, me["id"], other["id"], "not_now"):
            raise CandidateNotFound(external_id)
    name: str = other["name"]
    return name


# --- my matches ---


async def my_matches(conn: asyncpg.Connection, me: asyncpg.Record) -> list[MatchView]:
    """The participant's matches with the other party; email only once they are introduced."""
    labels = match_labels.state_labels()
    return [
        MatchView(
            id=row["id"], state=row["state"], state_label=labels.get(row["state"], row["state"]),
            name=row["name"], organisation=row["organisation"], kind=row["kind"],
            email=row["email"] if row["state"] in CONTACT_STATES else None, changed_at=row["state_changed_at"],
        )
        for row in await matches.shown_to(conn, me["id"])
    ]


async def match_with(conn: asyncpg.Connection, me: asyncpg.Record, match_id: int) -> MatchView | None:
    """One of the participant's own matches (None for anyone else's)."""
    return next((m for m in await my_matches(conn, me) if m.id == match_id), None)


async def in_progress(conn: asyncpg.Connection, me: asyncpg.Record) -> list[MatchView]:
    """The participant's matches that take a place of their capacity (shown when the feed is full)."""
    return [m for m in await my_matches(conn, me) if m.state in ACTIVE]


# --- the digest "new people who fit you" (service.feed.digest writes it) ---


async def digest_on(conn: asyncpg.Connection, me: asyncpg.Record) -> bool:
    """Whether the participant asked for the digest."""
    return await profiles.digest_of(conn, me["id"]) is not None


async def digest_off(conn: asyncpg.Connection, me: asyncpg.Record) -> None:
    """Stop the digest (nothing happens if it was off)."""
    await profiles.digest_unsubscribe(conn, me["id"])
