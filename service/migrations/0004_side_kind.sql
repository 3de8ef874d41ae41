-- Side vectors carry their participant's kind, so retrieval can search one partial HNSW index per
-- (model, side, kind): the "different kind" constraint then filters nothing inside the index scan.
-- depends: 0003_pending_email

-- The per-(model, side) HNSW indexes are replaced by per-(model, side, kind) ones, which
-- service.matching.repository.ensure_indexes creates (it knows the dimensions).
DO $$
DECLARE name text;
BEGIN
    FOR name IN SELECT indexname FROM pg_indexes
                WHERE tablename = 'side_embeddings' AND indexname LIKE 'side\_emb\_hnsw\_%' LOOP
        EXECUTE format('DROP INDEX %I', name);
    END LOOP;
END
$$;
-- (Dropped first: updating every row below would otherwise re-insert it into each old index.)

ALTER TABLE side_embeddings ADD COLUMN kind text;
UPDATE side_embeddings s SET kind = p.kind FROM participants p WHERE p.id = s.participant_id;
ALTER TABLE side_embeddings ALTER COLUMN kind SET NOT NULL;

-- New side vectors take their participant's kind (the embedding code does not pass it).
CREATE FUNCTION side_embeddings_set_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT kind INTO NEW.kind FROM participants WHERE id = NEW.participant_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER side_embeddings_kind BEFORE INSERT ON side_embeddings
    FOR EACH ROW EXECUTE FUNCTION side_embeddings_set_kind();

-- A participant whose kind changes moves their side vectors with them (to that kind's index).
CREATE FUNCTION participants_sync_side_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE side_embeddings SET kind = NEW.kind WHERE participant_id = NEW.id AND kind IS DISTINCT FROM NEW.kind;
    RETURN NULL;
END
$$;
CREATE TRIGGER participants_side_kind AFTER UPDATE OF kind ON participants
    FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind) EXECUTE FUNCTION participants_sync_side_kind();
