"""SQL on the match lifecycle's tables: matches, match_events, answers, reply_links, match_reminders.

The only module that touches them; other domains read the views of migration 0010 (docs/architecture.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

from service.kit import database
from service.kit.audit import Actor
from service.matches.schemas import QueueFilter


async def insert_match(
    conn: asyncpg.Connection, a_id: int, b_id: int, state: str, origin: str, score: float | None
) -> asyncpg.Record | None:
    """A new match for the pair (ordered ids); None if the pair already has one."""
    return await conn.fetchrow(
        """INSERT INTO matches (a_id, b_id, state, origin, score) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (a_id, b_id) DO NOTHING RETURNING *""",
        a_id, b_id, state, origin, score,
    )


async def by_id(conn: asyncpg.Connection, match_id: int) -> asyncpg.Record | None:
    """One match."""
    return await conn.fetchrow("SELECT * FROM matches WHERE id = $1", match_id)


async def by_pair(conn: asyncpg.Connection, a_id: int, b_id: int) -> asyncpg.Record | None:
    """The match of a pair (ids ordered), if any."""
    return await conn.fetchrow("SELECT * FROM matches WHERE a_id = $1 AND b_id = $2", a_id, b_id)


async def lock(conn: asyncpg.Connection, match_id: int) -> asyncpg.Record | None:
    """One match, locked until the transaction ends (concurrent deciders wait, then see the result)."""
    return await conn.fetchrow("SELECT * FROM matches WHERE id = $1 FOR UPDATE", match_id)


async def set_state(
    conn: asyncpg.Connection, match_id: int, state: str, closed_reason: str | None
) -> asyncpg.Record:
    """Move a locked match to `state`."""
    row: asyncpg.Record = await conn.fetchrow(
        """UPDATE matches SET state = $2, closed_reason = coalesce($3, closed_reason), snoozed_until = NULL,
                  state_changed_at = now(), updated_at = now()
           WHERE id = $1 RETURNING *""",
        match_id, state, closed_reason,
    )
    return row


async def insert_event(
    conn: asyncpg.Connection, match_id: int, from_state: str | None, to_state: str, actor: Actor,
    reason: str | None, comment: str | None,
) -> asyncpg.Record:
    """Record one transition."""
    row: asyncpg.Record = await conn.fetchrow(
        """INSERT INTO match_events (match_id, from_state, to_state, actor_kind, actor_participant_id,
                                     actor_staff_id, reason, comment)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        match_id, from_state, to_state, actor.kind, actor.participant_id, actor.staff_id, reason, comment,
    )
    return row


async def events(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """A match's transitions, oldest first, with the staff member's email where staff acted."""
    return await conn.fetch(
        """SELECT e.*, s.email AS staff_email FROM match_events e LEFT JOIN staff s ON s.id = e.actor_staff_id
           WHERE e.match_id = $1 ORDER BY e.id""",
        match_id,
    )


async def active_counts(conn: asyncpg.Connection, participant_ids: Sequence[int]) -> dict[int, int]:
    """Active matches (those taking capacity) per participant, for those that have any."""
    # The view's two branches are index look-ups (a_id, b_id): a cached suggestion list asks for ~800 ids.
    rows = await conn.fetch(
        """SELECT participant_id AS id, count(*) AS n FROM match_active_sides
           WHERE participant_id = ANY($1::bigint[]) GROUP BY participant_id""",
        list(participant_ids),
    )
    return {row["id"]: row["n"] for row in rows}


# --- Follow-up: one-click reply links, reminders, preferences, the funnel -------------------------


async def insert_reply_link(
    conn: asyncpg.Connection, match_id: int, participant_id: int, action: str, lifetime_days: int
) -> int:
    """Store a new single-use reply link; returns its id (signed into the link)."""
    link_id: int = await conn.fetchval(
        """INSERT INTO reply_links (match_id, participant_id, action, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(days => $4)) RETURNING id""",
        match_id, participant_id, action, lifetime_days,
    )
    return link_id


async def reply_link(conn: asyncpg.Connection, link_id: int) -> asyncpg.Record | None:
    """A reply link with its match's state (None if the link or its match is gone)."""
    return await conn.fetchrow(
        """SELECT l.*, m.state, l.expires_at < now() AS expired FROM reply_links l
           JOIN matches m ON m.id = l.match_id WHERE l.id = $1""",
        link_id,
    )


async def use_reply_link(conn: asyncpg.Connection, link_id: int) -> bool:
    """Mark a link used, atomically: of two clicks at once, one wins."""
    result: str = await conn.execute(
        "UPDATE reply_links SET used_at = now() WHERE id = $1 AND used_at IS NULL AND expires_at > now()",
        link_id,
    )
    return result.endswith(" 1")


async def due(conn: asyncpg.Connection, state: str, older_than: dt.datetime, kind: str) -> list[asyncpg.Record]:
    """Matches in `state` since before `older_than` without a `kind` reminder for that state yet."""
    return await conn.fetch(
        """SELECT m.* FROM matches m
           WHERE m.state = $1 AND m.state_changed_at < $2
             AND NOT EXISTS (SELECT 1 FROM match_reminders r
                             WHERE r.match_id = m.id AND r.state = $1 AND r.kind = $3)
           ORDER BY m.id LIMIT 500""",
        state, older_than, kind,
    )


async def claim_reminder(conn: asyncpg.Connection, match_id: int, state: str, kind: str, at: dt.datetime) -> bool:
    """Record that a reminder goes out; False if one already did (another worker, an earlier run)."""
    result: str = await conn.execute(
        """INSERT INTO match_reminders (match_id, state, kind, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""",
        match_id, state, kind, at,
    )
    return result.endswith(" 1")


async def due_escalation(conn: asyncpg.Connection, state: str, reminded_before: dt.datetime) -> list[asyncpg.Record]:
    """Matches still in `state`, reminded before `reminded_before`, whose staff were not told yet."""
    return await conn.fetch(
        """SELECT m.* FROM matches m
           JOIN match_reminders r ON r.match_id = m.id AND r.state = $1 AND r.kind = 'reminder'
           WHERE m.state = $1 AND r.created_at < $2
             AND NOT EXISTS (SELECT 1 FROM match_reminders x
                             WHERE x.match_id = m.id AND x.state = $1 AND x.kind = 'escalation')
           ORDER BY m.id LIMIT 500""",
        state, reminded_before,
    )


async def reached(conn: asyncpg.Connection, path: Sequence[str], group: str) -> list[asyncpg.Record]:
    """Per group: each match's first and furthest stage on `path` (indexes), for the funnel.

    group: 'all', 'domain', 'kinds' or 'month' (chosen from a fixed list, never from input).
    """
    keys = {
        "all": "ARRAY['']",
        "domain": "ARRAY(SELECT DISTINCT d FROM unnest(a.domains || b.domains) AS d)",
        "kinds": "ARRAY[least(a.kind, b.kind) || ' + ' || greatest(a.kind, b.kind)]",
        "month": "ARRAY[to_char(m.created_at, 'YYYY-MM')]",
    }
    return await conn.fetch(
        f"""WITH steps AS (
                SELECT e.match_id, min(array_position($1::text[], e.to_state)) AS born,
                       max(array_position($1::text[], e.to_state)) AS furthest
                FROM match_events e WHERE e.to_state = ANY($1::text[])
                -- an approval staff undid (issue 12) was never a step forward: the pair is suggested again
                AND NOT EXISTS (SELECT 1 FROM match_events u WHERE u.match_id = e.match_id AND u.id > e.id
                                AND u.reason = 'undo' AND u.from_state = e.to_state)
                GROUP BY e.match_id)
            SELECT g.key, s.born, s.furthest FROM steps s
            JOIN matches m ON m.id = s.match_id
            JOIN participants a ON a.id = m.a_id JOIN participants b ON b.id = m.b_id
            CROSS JOIN LATERAL unnest({keys[group]}) AS g(key)""",
        list(path),
    )


async def median_days(conn: asyncpg.Connection) -> dict[str, float]:
    """Median days a match spent in each state it has left."""
    rows = await conn.fetch(
        """WITH spans AS (
               SELECT to_state AS state,
                      lead(created_at) OVER (PARTITION BY match_id ORDER BY id) - created_at AS spent
               FROM match_events)
           SELECT state, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM spent)) / 86400 AS days
           FROM spans WHERE spent IS NOT NULL GROUP BY state"""
    )
    return {row["state"]: float(row["days"]) for row in rows}


async def reminders(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """The reminders and escalations a match has had."""
    return await conn.fetch(
        "SELECT state, kind, created_at FROM match_reminders WHERE match_id = $1 ORDER BY created_at", match_id
    )


# --- participants' answers to suggestions, and the matches they see ---------------------------


# States a participant sees: staff-only states (suggested, approved, rejected) stay with staff.
SHOWN_STATES = ("introduced", "mutual", "declined", "meeting_held", "project_agreed", "project_completed", "closed")


async def lock_pair(conn: asyncpg.Connection, a_id: int, b_id: int) -> None:
    """Serialise answers about one pair until the transaction ends (two yeses at once make one match)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('answers:' || $1::bigint || ':' || $2::bigint, 0))",
        min(a_id, b_id), max(a_id, b_id),
    )


async def upsert_answer(conn: asyncpg.Connection, participant_id: int, candidate_id: int, answer: str) -> None:
    """Store (or change) a participant's answer to a candidate."""
    await conn.execute(
        """INSERT INTO answers (participant_id, candidate_id, answer, created_at, updated_at)
           VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp())
           ON CONFLICT (participant_id, candidate_id) DO UPDATE SET answer = $3, updated_at = clock_timestamp()""",
        participant_id, candidate_id, answer,
    )


async def answer_of(conn: asyncpg.Connection, participant_id: int, candidate_id: int) -> str | None:
    """One participant's answer to one candidate, if any."""
    value: str | None = await conn.fetchval(
        "SELECT answer FROM answers WHERE participant_id = $1 AND candidate_id = $2", participant_id, candidate_id
    )
    return value


async def answered_ids(conn: asyncpg.Connection, participant_id: int) -> set[int]:
    """Every candidate this participant has answered, either way."""
    rows = await conn.fetch("SELECT candidate_id FROM answers WHERE participant_id = $1", participant_id)
    return {row["candidate_id"] for row in rows}


async def last_answer(conn: asyncpg.Connection, participant_id: int) -> asyncpg.Record | None:
    """The participant's most recent answer, with the candidate's name and the pair's match state."""
    return await conn.fetchrow(
        """SELECT a.candidate_id, a.answer, p.external_id, p.name, m.state AS match_state
           FROM answers a JOIN participants p ON p.id = a.candidate_id
           LEFT JOIN matches m ON m.a_id = least(a.participant_id, a.candidate_id)
                              AND m.b_id = greatest(a.participant_id, a.candidate_id)
           WHERE a.participant_id = $1 ORDER BY a.updated_at DESC, a.candidate_id DESC LIMIT 1""",
        participant_id,
    )


async def delete_answer(conn: asyncpg.Connection, participant_id: int, candidate_id: int, answer: str | None) -> bool:
    """Remove one answer (only if it is still `answer`, when given); False if there was none."""
    status: str = await conn.execute(
        """DELETE FROM answers WHERE participant_id = $1 AND candidate_id = $2
           AND ($3::text IS NULL OR answer = $3)""",
        participant_id, candidate_id, answer,
    )
    return status != "DELETE 0"


async def declined(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """The candidates this participant said "not now" to, newest first, with the pair's match state."""
    return await conn.fetch(
        """SELECT p.id, p.external_id, p.name, p.organisation, p.kind, a.updated_at, m.state AS match_state
           FROM answers a JOIN participants p ON p.id = a.candidate_id
           LEFT JOIN matches m ON m.a_id = least(a.participant_id, a.candidate_id)
                              AND m.b_id = greatest(a.participant_id, a.candidate_id)
           WHERE a.participant_id = $1 AND a.answer = 'not_now' ORDER BY a.updated_at DESC, p.id""",
        participant_id,
    )


async def introduced_unanswered(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """Staff-first feed: introduced matches this participant has not answered, oldest introduction first."""
    return await conn.fetch(
        """SELECT m.id AS match_id, CASE WHEN m.a_id = $1 THEN m.b_id ELSE m.a_id END AS other_id
           FROM matches m
           WHERE (m.a_id = $1 OR m.b_id = $1) AND m.state = 'introduced'
             AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.participant_id = $1
                             AND a.candidate_id = CASE WHEN m.a_id = $1 THEN m.b_id ELSE m.a_id END)
           ORDER BY m.state_changed_at, m.id""",
        participant_id,
    )


async def my_matches(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """The matches a participant may see, open ones first, newest change first, with the other party.

    Only matches that reached the participants (introduced or mutual at some point) are shown.
    """
    return await conn.fetch(
        """SELECT m.id, m.state, m.state_changed_at, m.created_at, o.id AS other_id, o.external_id,
                  o.name, o.organisation, o.kind, o.email
           FROM matches m JOIN participants o ON o.id = CASE WHEN m.a_id = $1 THEN m.b_id ELSE m.a_id END
           WHERE (m.a_id = $1 OR m.b_id = $1) AND m.state = ANY($2::text[])
             AND EXISTS (SELECT 1 FROM match_events e WHERE e.match_id = m.id
                         AND e.to_state IN ('introduced', 'mutual'))
           ORDER BY m.state IN ('declined', 'closed', 'project_completed'), m.state_changed_at DESC, m.id DESC""",
        participant_id, list(SHOWN_STATES),
    )


async def declined_between(conn: asyncpg.Connection, x: int, y: int) -> bool:
    """Whether either said "not now" to the other."""
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM answers WHERE answer = 'not_now'
                  AND ((participant_id = $1 AND candidate_id = $2) OR (participant_id = $2 AND candidate_id = $1)))""",
        x, y,
    )
    return found


# --- the review queue, the pipeline, a participant's matches and the export -----------------------


def _queue_where(f: QueueFilter) -> tuple[list[str], list[Any]]:
    """WHERE clauses and their parameters for the filters (m: match, a and b: the two participants)."""
    clauses = {
        "pending": ["m.state = 'suggested'", "(m.snoozed_until IS NULL OR m.snoozed_until <= now())"],
        "snoozed": ["m.state = 'suggested'", "m.snoozed_until > now()"],
        "rejected": ["m.state = 'rejected'"],
    }[f.status]
    params: list[Any] = []

    def add(template: str, *values: Any) -> None:
        numbers = [f"${len(params) + i + 1}" for i in range(len(values))]
        params.extend(values)
        clauses.append(template.format(*numbers))

    if f.domain:
        add("{0} = ANY(a.domains) AND {0} = ANY(b.domains)", f.domain)
    if f.kinds:
        add("((a.kind = {0} AND b.kind = {1}) OR (a.kind = {1} AND b.kind = {0}))", *f.kinds)
    if f.engagement:
        add("(cardinality(a.engagements) = 0 OR {0} = ANY(a.engagements))"
            " AND (cardinality(b.engagements) = 0 OR {0} = ANY(b.engagements))", f.engagement)
    if f.language:
        add("{0} IN (a.language, b.language)", f.language)
    if f.date_from:
        add("m.created_at >= {0}::date", f.date_from)
    if f.date_to:
        add("m.created_at < {0}::date + 1", f.date_to)
    if f.q:
        add("(a.name ILIKE {0} OR a.organisation ILIKE {0} OR a.email ILIKE {0}"
            " OR b.name ILIKE {0} OR b.organisation ILIKE {0} OR b.email ILIKE {0})", database.contains_pattern(f.q))
    return clauses, params


_QUEUE_FROM = "FROM matches m JOIN participants a ON a.id = m.a_id JOIN participants b ON b.id = m.b_id"


async def queue_page(conn: asyncpg.Connection, f: QueueFilter) -> list[asyncpg.Record]:
    """One page of matches for the filters, best first (score, then newest), after `f.after`."""
    clauses, params = _queue_where(f)
    if f.after is not None:
        params.extend(f.after)
        clauses.append(f"(coalesce(m.score, 0), m.id) < (${len(params) - 1}::real, ${len(params)}::bigint)")
    params.append(f.limit)
    sql = (f"SELECT m.* {_QUEUE_FROM} WHERE {' AND '.join(clauses)}"
           f" ORDER BY coalesce(m.score, 0) DESC, m.id DESC LIMIT ${len(params)}")
    return await conn.fetch(sql, *params)


async def queue_count(conn: asyncpg.Connection, f: QueueFilter) -> int:
    """How many matches the filters select, on all pages."""
    clauses, params = _queue_where(f)
    count: int = await conn.fetchval(f"SELECT count(*) {_QUEUE_FROM} WHERE {' AND '.join(clauses)}", *params)
    return count


async def snooze(conn: asyncpg.Connection, match_id: int, until: dt.datetime) -> asyncpg.Record | None:
    """Hide a suggested match from the queue until a time; None if it is no longer suggested."""
    return await conn.fetchrow(
        """UPDATE matches SET snoozed_until = $2, updated_at = now() WHERE id = $1 AND state = 'suggested'
           RETURNING *""",
        match_id, until,
    )


async def state_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Matches per lifecycle state."""
    rows = await conn.fetch("SELECT state, count(*) AS n FROM matches GROUP BY state")
    return {row["state"]: row["n"] for row in rows}


async def matches_in_state(conn: asyncpg.Connection, state: str, limit: int) -> list[asyncpg.Record]:
    """The most recently moved matches in one state, with both parties' names."""
    return await conn.fetch(
        f"""SELECT m.*, a.name AS a_name, a.organisation AS a_organisation, a.kind AS a_kind,
                   b.name AS b_name, b.organisation AS b_organisation, b.kind AS b_kind
            {_QUEUE_FROM} WHERE m.state = $1 ORDER BY m.state_changed_at DESC, m.id DESC LIMIT $2""",
        state, limit,
    )


async def matches_of(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """A participant's matches, newest first, with the other party's name, organisation and kind."""
    return await conn.fetch(
        """SELECT m.*, o.id AS other_id, o.name AS other_name, o.organisation AS other_organisation,
                  o.kind AS other_kind
           FROM matches m JOIN participants o ON o.id = CASE WHEN m.a_id = $1 THEN m.b_id ELSE m.a_id END
           WHERE $1 IN (m.a_id, m.b_id) ORDER BY m.id DESC""",
        participant_id,
    )


async def export_rows(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every match for the council's reporting: ids, kinds, domains, organisations, states and dates."""
    return await conn.fetch(
        f"""SELECT m.id, m.state, m.origin, m.score, m.closed_reason, m.created_at, m.state_changed_at,
                   a.external_id AS a_external_id, a.kind AS a_kind, a.organisation AS a_organisation,
                   b.external_id AS b_external_id, b.kind AS b_kind, b.organisation AS b_organisation,
                   ARRAY(SELECT unnest(a.domains) INTERSECT SELECT unnest(b.domains) ORDER BY 1) AS domains
            {_QUEUE_FROM} ORDER BY m.id"""
    )


# --- the match page: messages between the parties and the meetings they agree (migration 0020) ---------


async def insert_message(
    conn: asyncpg.Connection, match_id: int, sender_id: int, recipient_id: int, body: str
) -> asyncpg.Record:
    """Store one message."""
    row: asyncpg.Record = await conn.fetchrow(
        """INSERT INTO match_messages (match_id, sender_id, recipient_id, body) VALUES ($1, $2, $3, $4)
           RETURNING *""",
        match_id, sender_id, recipient_id, body,
    )
    return row


async def messages(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """A match's messages, oldest first."""
    return await conn.fetch("SELECT * FROM match_messages WHERE match_id = $1 ORDER BY id", match_id)


async def message_count(conn: asyncpg.Connection, match_id: int) -> int:
    """How many messages a match has (staff see the number, not the words)."""
    count: int = await conn.fetchval("SELECT count(*) FROM match_messages WHERE match_id = $1", match_id)
    return count


async def recipients_waiting(conn: asyncpg.Connection, quiet_since: dt.datetime) -> list[int]:
    """Recipients with messages not yet told about, not emailed about messages since `quiet_since`."""
    rows = await conn.fetch(
        """SELECT DISTINCT m.recipient_id FROM match_messages m
           LEFT JOIN match_message_notices n ON n.recipient_id = m.recipient_id
           WHERE m.notified_at IS NULL AND (n.last_sent_at IS NULL OR n.last_sent_at <= $1)
           ORDER BY m.recipient_id LIMIT 500""",
        quiet_since,
    )
    return [row["recipient_id"] for row in rows]


async def claim_notice(conn: asyncpg.Connection, recipient_id: int, now: dt.datetime, quiet_since: dt.datetime) -> bool:
    """Claim the recipient's next "new messages" email; False if one went after `quiet_since` (or is going)."""
    # Only when there is something to tell; of two claims at once the second waits for the first's row
    # and then finds it too recent.
    claimed: int | None = await conn.fetchval(
        """INSERT INTO match_message_notices (recipient_id, last_sent_at)
           SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM match_messages WHERE recipient_id = $1 AND notified_at IS NULL)
           ON CONFLICT (recipient_id) DO UPDATE SET last_sent_at = $2
               WHERE match_message_notices.last_sent_at <= $3
           RETURNING recipient_id""",
        recipient_id, now, quiet_since,
    )
    return claimed is not None


async def take_unnotified(conn: asyncpg.Connection, recipient_id: int, now: dt.datetime) -> list[asyncpg.Record]:
    """Mark the recipient's untold messages told; returns them (oldest first) with their match's state."""
    return await conn.fetch(
        """WITH told AS (
               UPDATE match_messages SET notified_at = $2 WHERE recipient_id = $1 AND notified_at IS NULL
               RETURNING *)
           SELECT told.*, m.state FROM told JOIN matches m ON m.id = told.match_id ORDER BY told.id""",
        recipient_id, now,
    )


async def insert_meeting(
    conn: asyncpg.Connection, match_id: int, proposer_id: int, times: Sequence[dt.datetime], place: str
) -> asyncpg.Record:
    """Store a proposal, withdrawing the match's open one (one open proposal per match)."""
    await conn.execute(
        "UPDATE match_meetings SET status = 'withdrawn' WHERE match_id = $1 AND status = 'proposed'", match_id
    )
    row: asyncpg.Record = await conn.fetchrow(
        """INSERT INTO match_meetings (match_id, proposer_id, times, place) VALUES ($1, $2, $3, $4)
           RETURNING *""",
        match_id, proposer_id, list(times), place,
    )
    return row


async def meetings(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """A match's meeting proposals, newest first."""
    return await conn.fetch("SELECT * FROM match_meetings WHERE match_id = $1 ORDER BY id DESC", match_id)


async def lock_meeting(conn: asyncpg.Connection, meeting_id: int) -> asyncpg.Record | None:
    """One proposal, locked until the transaction ends (two clicks on a time choose once)."""
    return await conn.fetchrow("SELECT * FROM match_meetings WHERE id = $1 FOR UPDATE", meeting_id)


async def choose_time(conn: asyncpg.Connection, meeting_id: int, chooser_id: int, at: dt.datetime) -> asyncpg.Record:
    """Record the time the other party picked."""
    row: asyncpg.Record = await conn.fetchrow(
        """UPDATE match_meetings SET status = 'chosen', chosen_time = $3, chosen_by = $2, chosen_at = now()
           WHERE id = $1 RETURNING *""",
        meeting_id, chooser_id, at,
    )
    return row


async def conversation_of(
    conn: asyncpg.Connection, participant_id: int
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """The messages a participant sent or received and the meetings of their matches (their data download)."""
    sent = await conn.fetch(
        """SELECT match_id, sender_id = $1 AS sent_by_me, body, created_at FROM match_messages
           WHERE sender_id = $1 OR recipient_id = $1 ORDER BY id""",
        participant_id,
    )
    met = await conn.fetch(
        """SELECT g.match_id, g.proposer_id = $1 AS proposed_by_me, g.times, g.place, g.status, g.chosen_time,
                  g.created_at
           FROM match_meetings g JOIN matches m ON m.id = g.match_id
           WHERE $1 IN (m.a_id, m.b_id) ORDER BY g.id""",
        participant_id,
    )
    return sent, met


async def purge_conversations(
    conn: asyncpg.Connection, finished: Sequence[str], before: dt.datetime
) -> tuple[int, int]:
    """Delete messages and meetings of matches that reached a `finished` state before `before`; the counts."""
    ended = "SELECT id FROM matches WHERE state = ANY($1::text[]) AND state_changed_at < $2"
    gone = [await conn.execute(f"DELETE FROM {table} WHERE match_id IN ({ended})", list(finished), before)
            for table in ("match_messages", "match_meetings")]
    return int(gone[0].split()[-1]), int(gone[1].split()[-1])
# --- approvals waiting for their grace period (staff may undo them until the introduction) ---


async def approval_note(conn: asyncpg.Connection, match_id: int) -> asyncpg.Record | None:
    """The latest approval of a match: the staff member's note (comment) and name (None when unnamed)."""
    return await conn.fetchrow(
        """SELECT e.comment, nullif(s.name, '') AS staff_name
           FROM match_events e LEFT JOIN staff s ON s.id = e.actor_staff_id
           WHERE e.match_id = $1 AND e.to_state = 'approved' ORDER BY e.id DESC LIMIT 1""",
        match_id,
    )


async def approved_before(conn: asyncpg.Connection, cutoff: dt.datetime, limit: int = 500) -> list[int]:
    """Ids of matches approved at or before `cutoff` and not introduced yet, oldest first."""
    rows = await conn.fetch(
        """SELECT id FROM matches WHERE state = 'approved' AND state_changed_at <= $1
           ORDER BY state_changed_at LIMIT $2""",
        cutoff, limit,
    )
    return [row["id"] for row in rows]
