-- Staff sign-in links (hashed like participants' auth_tokens) and the review queue's index.
-- depends: 0005_matches

-- A staff member's single-use sign-in link; only the SHA-256 of the token is stored.
CREATE TABLE staff_tokens (
    token_hash bytea PRIMARY KEY,
    staff_id   bigint NOT NULL REFERENCES staff (id),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_tokens_staff_idx ON staff_tokens (staff_id);

-- The review queue pages pending suggestions best first by (score, id) without an offset.
CREATE INDEX matches_queue_idx ON matches ((coalesce(score, 0)) DESC, id DESC) WHERE state = 'suggested';
