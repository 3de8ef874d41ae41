-- Which participants each matching version changed, so that a cached ranking of an older version can be
-- brought up to date by re-scoring those few candidates instead of being computed again
-- (service.matching.service, "patching"; docs/architecture.md, "Suggestion cache").
-- Each bump's own participants are logged under the new version, in the same transaction: a reader that
-- sees version v sees every change row up to v. participant_id 0 stands for "everything" (a TRUNCATE),
-- -1 for "someone was deleted": a deleted participant leaves no row that names them (docs/architecture.md,
-- leaving), so their earlier rows go too, and a cached ranking that spans a deletion is computed again.
-- Rows older than CHANGES_KEPT versions are pruned at each bump, oldest first, so when the rows of an
-- entry's own version are still there, every change since is too (else the entry is computed again).
-- depends: 0025_read_time_notify

CREATE TABLE matching_changes (
    version        bigint NOT NULL,
    participant_id bigint NOT NULL,
    PRIMARY KEY (version, participant_id)
);
CREATE INDEX matching_changes_participant ON matching_changes (participant_id);

-- CHANGES_KEPT = 20000 sequence values (a bump draws one or two): about 10,000 transactions back.
CREATE OR REPLACE FUNCTION matching_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bumped bigint := nullif(current_setting('koble.matching_version_now', true), '')::bigint;
    changed bigint := 0;
BEGIN
    IF bumped IS NULL THEN
        INSERT INTO matching_version (id, version) VALUES (true, nextval('matching_version_seq'))
        -- Drawn again under the row lock, so versions grow in commit order (never back to an older value).
        ON CONFLICT (id) DO UPDATE SET version = nextval('matching_version_seq')
        RETURNING version INTO bumped;
        PERFORM set_config('koble.matching_version_now', bumped::text, true);
        DELETE FROM matching_changes WHERE version < bumped - 20000;
    END IF;
    IF TG_LEVEL = 'ROW' THEN
        changed := (to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END)
                    ->> CASE WHEN TG_TABLE_NAME = 'participants' THEN 'id' ELSE 'participant_id' END)::bigint;
        IF NOT EXISTS (SELECT 1 FROM participants WHERE id = changed) THEN  -- deleted by commit time
            DELETE FROM matching_changes WHERE participant_id = changed;
            changed := -1;
        END IF;
    END IF;
    INSERT INTO matching_changes (version, participant_id) VALUES (bumped, changed) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
