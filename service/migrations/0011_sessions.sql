-- Server-side sessions: the signed cookie carries a random session token, checked on every request
-- against this table, so that signing out (or disabling an account) ends a session everywhere.
-- depends: 0009_pair_embeddings

-- Only the SHA-256 of the cookie's token is stored: a database leak must not yield working sessions.
-- subject_id is a participant's or a staff member's id (subject_kind says which); no foreign key, as
-- the row names one of two tables: deleting a participant deletes their sessions in the same transaction.
CREATE TABLE sessions (
    id           bigserial PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE,
    subject_kind text NOT NULL CHECK (subject_kind IN ('participant', 'staff')),
    subject_id   bigint NOT NULL,
    auth_level   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX sessions_subject_idx ON sessions (subject_kind, subject_id) WHERE ended_at IS NULL;
