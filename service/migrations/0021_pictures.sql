-- Pictures and leaving (issue 12): a participant's photo or logo, and matches that outlive a party.
-- depends: 0018_events

-- One photo or logo per participant, owned by profiles: already cleaned (EXIF gone, 256 px, re-encoded by
-- Pillow), so it is served as stored. `photo_key` on participants names the current version (part of the
-- picture's URL, so browsers may cache it for good); it is NULL when there is no photo.
CREATE TABLE participant_photos (
    participant_id bigint PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
    photo_key      text NOT NULL CHECK (photo_key ~ '^[0-9a-f]{16}$'),
    content_type   text NOT NULL CHECK (content_type IN ('image/webp', 'image/png', 'image/jpeg')),
    content        bytea NOT NULL CHECK (octet_length(content) BETWEEN 1 AND 1048576),
    width          integer NOT NULL CHECK (width BETWEEN 1 AND 256),
    height         integer NOT NULL CHECK (height BETWEEN 1 AND 256),
    uploaded_at    timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE participants ADD COLUMN photo_key text;

-- A match outlives a party who deletes their account: the other keeps it, closed with the reason
-- 'participant_left' (service/matches/service.py `part`), instead of seeing it vanish (404).
ALTER TABLE matches ALTER COLUMN a_id DROP NOT NULL, ALTER COLUMN b_id DROP NOT NULL;
ALTER TABLE matches DROP CONSTRAINT matches_a_id_fkey, DROP CONSTRAINT matches_b_id_fkey;
ALTER TABLE matches ADD CONSTRAINT matches_a_id_fkey FOREIGN KEY (a_id) REFERENCES participants (id) ON DELETE SET NULL,
                    ADD CONSTRAINT matches_b_id_fkey FOREIGN KEY (b_id) REFERENCES participants (id) ON DELETE SET NULL;

-- The published views never name a departed party (NOT IN and = ANY stay exact).
CREATE OR REPLACE VIEW match_blocked_pairs AS
    SELECT participant_id, candidate_id AS other_id FROM answers WHERE answer = 'not_now'
    UNION SELECT candidate_id, participant_id FROM answers WHERE answer = 'not_now'
    UNION SELECT a_id, b_id FROM matches WHERE state <> 'suggested' AND a_id IS NOT NULL AND b_id IS NOT NULL
    UNION SELECT b_id, a_id FROM matches WHERE state <> 'suggested' AND a_id IS NOT NULL AND b_id IS NOT NULL;
