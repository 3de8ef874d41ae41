-- A version of everything the ranker reads about participants, for the suggestion cache
-- (service.matching.cache): an entry computed at version v is served only while the version is v.
-- depends: 0004_side_kind

-- Values come from a sequence, not version + 1: they never repeat, even after the table is emptied
-- (TRUNCATE ... RESTART IDENTITY in tests restarts owned sequences only; this one is not owned).
CREATE SEQUENCE matching_version_seq;

CREATE TABLE matching_version (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),  -- one row
    version bigint NOT NULL
);
INSERT INTO matching_version (id, version) VALUES (true, nextval('matching_version_seq'));

-- Called at commit (deferred constraint triggers): the row lock on matching_version is then the last
-- lock a writer takes, so it cannot deadlock with other writers, and the new version becomes visible
-- in the same instant as the change it stands for. Once per transaction, whatever it changed.
CREATE FUNCTION matching_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('koble.matching_version_bumped', true) IS DISTINCT FROM 'on' THEN
        INSERT INTO matching_version (id, version) VALUES (true, nextval('matching_version_seq'))
        -- Drawn again under the row lock, so versions grow in commit order (never back to an older value).
        ON CONFLICT (id) DO UPDATE SET version = nextval('matching_version_seq');
        PERFORM set_config('koble.matching_version_bumped', 'on', true);
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER participants_matching_version AFTER INSERT OR DELETE ON participants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION matching_version_bump();
-- Activity alone (sign-in, retention warnings) changes nothing cached: freshness is applied when
-- the cache is read. Every other column counts, including ones added later.
CREATE CONSTRAINT TRIGGER participants_matching_version_update AFTER UPDATE ON participants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((to_jsonb(OLD) - '{last_active_at,updated_at,retention_warned_at}'::text[])
          IS DISTINCT FROM (to_jsonb(NEW) - '{last_active_at,updated_at,retention_warned_at}'::text[]))
    EXECUTE FUNCTION matching_version_bump();
CREATE CONSTRAINT TRIGGER side_embeddings_matching_version AFTER INSERT OR UPDATE OR DELETE ON side_embeddings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION matching_version_bump();
CREATE CONSTRAINT TRIGGER interest_embeddings_matching_version
    AFTER INSERT OR UPDATE OR DELETE ON interest_embeddings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION matching_version_bump();
-- TRUNCATE fires no row triggers.
CREATE TRIGGER participants_matching_version_truncate AFTER TRUNCATE ON participants
    FOR EACH STATEMENT EXECUTE FUNCTION matching_version_bump();
CREATE TRIGGER side_embeddings_matching_version_truncate AFTER TRUNCATE ON side_embeddings
    FOR EACH STATEMENT EXECUTE FUNCTION matching_version_bump();
CREATE TRIGGER interest_embeddings_matching_version_truncate AFTER TRUNCATE ON interest_embeddings
    FOR EACH STATEMENT EXECUTE FUNCTION matching_version_bump();
