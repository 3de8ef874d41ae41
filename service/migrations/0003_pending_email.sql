-- A changed email address waits here until the participant confirms it; the old, verified
-- address stays in use meanwhile (so the profile is never left unverified by an edit).
-- depends: 0002_matching

ALTER TABLE participants ADD COLUMN pending_email text;
