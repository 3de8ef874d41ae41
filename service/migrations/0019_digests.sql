-- The opt-in email digest "new people who fit you" (issue 12): one row per participant who asked for
-- it. Owned by profiles (a participant's email preference, like participants.email_reminders); deleted
-- with the account. `sent_ids` are the candidates already named in a digest, so the next one names
-- only people who are new since; `last_sent_at` keeps digests at most weekly.
-- depends: 0018_events

CREATE TABLE participant_digests (
    participant_id bigint PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
    subscribed_at  timestamptz NOT NULL DEFAULT now(),
    last_sent_at   timestamptz,
    sent_ids       bigint[] NOT NULL DEFAULT '{}'
);
CREATE INDEX participant_digests_due_idx ON participant_digests (last_sent_at NULLS FIRST);
