-- Matches and what leads to them: participants' answers to suggestions, staff accounts, the match
-- lifecycle with every transition, and the staff audit log.
-- depends: 0004_side_kind

-- A participant's answer to one suggested candidate. "not_now" hides the candidate for good (until
-- the participant reverses it); "interested" on both sides makes a match.
CREATE TABLE answers (
    participant_id bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    candidate_id   bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    answer         text NOT NULL CHECK (answer IN ('interested', 'not_now')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (participant_id, candidate_id),
    CHECK (participant_id <> candidate_id)
);
CREATE INDEX answers_candidate_idx ON answers (candidate_id);

-- Bright House staff. Kept (disabled, not deleted) when someone leaves, so the audit log keeps a name.
CREATE TABLE staff (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL,
    name        text NOT NULL DEFAULT '',
    role        text NOT NULL CHECK (role IN ('admin', 'reviewer')),
    language    text NOT NULL DEFAULT 'nb' CHECK (language IN ('nb', 'en')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
CREATE UNIQUE INDEX staff_email_key ON staff (lower(email));

-- One row per pair, ever: a rejected, declined or closed pair is never suggested again.
-- a_id < b_id so a pair has one spelling; the lifecycle is service/followup/lifecycle.py.
CREATE TABLE matches (
    id               bigserial PRIMARY KEY,
    a_id             bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    b_id             bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    state            text NOT NULL CHECK (state IN (
                         'suggested', 'approved', 'rejected', 'introduced', 'mutual', 'declined',
                         'meeting_held', 'project_agreed', 'project_completed', 'closed')),
    origin           text NOT NULL CHECK (origin IN ('ranker', 'hand_picked', 'participants')),
    score            real,
    closed_reason    text,
    snoozed_until    timestamptz,
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (a_id < b_id),
    UNIQUE (a_id, b_id)
);
CREATE INDEX matches_b_idx ON matches (b_id);
CREATE INDEX matches_state_idx ON matches (state, state_changed_at);

-- Every transition, with who made it. Staff rows are never deleted, participants' are (with the match).
CREATE TABLE match_events (
    id                   bigserial PRIMARY KEY,
    match_id             bigint NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
    from_state           text,
    to_state             text NOT NULL,
    actor_kind           text NOT NULL CHECK (actor_kind IN ('participant', 'staff', 'system')),
    actor_participant_id bigint REFERENCES participants (id) ON DELETE SET NULL,
    actor_staff_id       bigint REFERENCES staff (id),
    reason               text,
    comment              text,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX match_events_match_idx ON match_events (match_id, id);

-- Emails about a match belong to its timeline; emails to staff have no participant.
ALTER TABLE outbox ADD COLUMN match_id bigint REFERENCES matches (id) ON DELETE CASCADE;
ALTER TABLE outbox ADD COLUMN staff_id bigint REFERENCES staff (id);
CREATE INDEX outbox_match_idx ON outbox (match_id) WHERE match_id IS NOT NULL;

-- Every staff action and every staff view of personal data. Kept when the participant is deleted:
-- the references are nulled, and `details` never holds names, addresses or texts (anonymised).
CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    staff_id       bigint REFERENCES staff (id),
    actor_label    text NOT NULL,
    action         text NOT NULL,
    participant_id bigint REFERENCES participants (id) ON DELETE SET NULL,
    match_id       bigint REFERENCES matches (id) ON DELETE SET NULL,
    details        jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);
CREATE INDEX audit_log_participant_idx ON audit_log (participant_id);
