-- Follow-up of matches: delivery claims on the outbox, one-click reply links, reminders sent once,
-- and participants' email preferences.
-- depends: 0005_matches

-- 'sending': a worker claimed the email (claimed_at) and is talking to the SMTP server. A claim older
-- than the lease is taken over by another worker (the first one died mid-send).
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'logged', 'failed'));
ALTER TABLE outbox ADD COLUMN claimed_at timestamptz;
CREATE INDEX outbox_sending_idx ON outbox (claimed_at) WHERE status = 'sending';
CREATE INDEX outbox_failed_idx ON outbox (id) WHERE status = 'failed';

-- Reminder emails are optional; introductions and other transactional emails always go.
ALTER TABLE participants ADD COLUMN email_reminders boolean NOT NULL DEFAULT true;

-- A one-click reply in an email ("We met"): the link carries a signed id of this row; the row makes
-- it single-use. Deleted with the match or the participant.
CREATE TABLE reply_links (
    id             bigserial PRIMARY KEY,
    match_id       bigint NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
    participant_id bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    action         text NOT NULL CHECK (action IN ('interested', 'not_now', 'met', 'agreed', 'completed', 'stop')),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reply_links_match_idx ON reply_links (match_id);
CREATE INDEX reply_links_participant_idx ON reply_links (participant_id);

-- One row per (match, state, kind): several workers running the reminder job insert with
-- ON CONFLICT DO NOTHING in the transaction that writes the emails, so each goes once.
CREATE TABLE match_reminders (
    match_id   bigint NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
    state      text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('reminder', 'escalation')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (match_id, state, kind)
);
