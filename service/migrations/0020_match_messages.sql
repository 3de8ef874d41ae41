-- The match page (issue 12, wall 5): messages between the two parties of a match and the meetings
-- they propose and agree. The matches domain owns these tables (docs/architecture.md). Both are kept
-- while the match is open and purged KOBLE_RETENTION_DELETE_MONTHS after it closed
-- (matches.tasks.purge_conversations); deleting a participant deletes their matches, and these with them.
-- Emails may carry one attachment (a meeting's .ics invitation), stored on the outbox row so a retry
-- sends the same bytes.
-- depends: 0018_events

CREATE TABLE match_messages (
    id            bigserial PRIMARY KEY,
    match_id      bigint NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
    sender_id     bigint NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    recipient_id  bigint NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    body          text NOT NULL CHECK (length(btrim(body)) BETWEEN 1 AND 4000),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Set in the transaction that writes the (batched) notification email: each message is told once.
    notified_at   timestamptz
);
CREATE INDEX match_messages_match_idx ON match_messages (match_id, id);
CREATE INDEX match_messages_unnotified_idx ON match_messages (recipient_id) WHERE notified_at IS NULL;

-- When each participant was last emailed about new messages: claimed with one conditional upsert, so a
-- recipient gets at most one such email per KOBLE_MESSAGE_EMAIL_MINUTES whatever the number of workers.
CREATE TABLE match_message_notices (
    recipient_id  bigint PRIMARY KEY REFERENCES participants(id) ON DELETE CASCADE,
    last_sent_at  timestamptz NOT NULL
);

CREATE TABLE match_meetings (
    id            bigserial PRIMARY KEY,
    match_id      bigint NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
    proposer_id   bigint NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    times         timestamptz[] NOT NULL CHECK (cardinality(times) BETWEEN 1 AND 3),
    place         text NOT NULL CHECK (length(btrim(place)) BETWEEN 1 AND 200),
    -- proposed → chosen (the other party picked one of the times) | withdrawn (a newer proposal replaced it)
    status        text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'chosen', 'withdrawn')),
    chosen_time   timestamptz,
    chosen_by     bigint REFERENCES participants(id) ON DELETE SET NULL,
    chosen_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((status = 'chosen') = (chosen_time IS NOT NULL))
);
CREATE INDEX match_meetings_match_idx ON match_meetings (match_id, id);
-- At most one open proposal per match.
CREATE UNIQUE INDEX match_meetings_open_idx ON match_meetings (match_id) WHERE status = 'proposed';

ALTER TABLE outbox ADD COLUMN attachment_name text, ADD COLUMN attachment_type text, ADD COLUMN attachment bytea;
