-- The match lifecycle's published views, and who decides an email's List-Unsubscribe.
-- depends: 0009_pair_embeddings

-- Other domains (the ranker's read-time statement) read these views, never the matches domain's tables
-- (docs/architecture.md). Both are unions of index look-ups: a filter on participant_id is pushed
-- into every branch (matches (a_id, b_id) and matches_b_idx; answers' key and answers_candidate_idx).

-- One row per side of every match taking a participant's capacity: the lifecycle's ACTIVE states
-- (service/matches/lifecycle.py; tests/matches/test_views.py keeps the two lists equal).
CREATE VIEW match_active_sides AS
    SELECT a_id AS participant_id, id AS match_id FROM matches
        WHERE state IN ('approved', 'introduced', 'mutual', 'meeting_held', 'project_agreed')
    UNION ALL
    SELECT b_id, id FROM matches
        WHERE state IN ('approved', 'introduced', 'mutual', 'meeting_held', 'project_agreed');

-- Pairs never to suggest to each other, in both directions, once each: declined by either ("not now"),
-- or already paired past staff's suggestion.
CREATE VIEW match_blocked_pairs AS
    SELECT participant_id, candidate_id AS other_id FROM answers WHERE answer = 'not_now'
    UNION SELECT candidate_id, participant_id FROM answers WHERE answer = 'not_now'
    UNION SELECT a_id, b_id FROM matches WHERE state <> 'suggested'
    UNION SELECT b_id, a_id FROM matches WHERE state <> 'suggested';

-- Set by whoever writes an email the recipient may turn off (follow-up reminders); the mail worker
-- sends it as RFC 8058 List-Unsubscribe without knowing which emails those are.
ALTER TABLE outbox ADD COLUMN unsubscribe_url text;
