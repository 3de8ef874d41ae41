-- Pair vectors: per participant and model, [offers ; seeks] concatenated, for retrieval by the sum of
-- both directions' cosines (a query [seeks ; offers] has inner product cos(its seeks, their offers) +
-- cos(its offers, their seeks)), the closest proxy of the ranker's harmonic mean that one HNSW index
-- can search. Derived from side_embeddings by the triggers below, so the embedding code, `koble
-- reembed`, `koble import` and bulk COPYs keep writing side vectors only.
-- depends: 0008_retrieval

CREATE TABLE pair_embeddings (
    participant_id bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    model          text NOT NULL,
    kind           text NOT NULL,
    embedding      vector NOT NULL,
    PRIMARY KEY (participant_id, model)
);
-- 768 floats (3 KB) would go to TOAST under the default storage: inline (up to a page) is read without
-- a detour, in exact scans and index builds alike.
ALTER TABLE pair_embeddings ALTER COLUMN embedding SET STORAGE MAIN;

-- The lexical retrieval path (repository._RELEVANCE): candidates sharing one of the query's rare terms.
CREATE INDEX participants_offers_tsv_gin ON participants USING gin (offers_tsv);
CREATE INDEX participants_seeks_tsv_gin ON participants USING gin (seeks_tsv);
-- HNSW indexes (inner product, partial per model and kind) depend on the model's dimension:
-- service.matching.repository.ensure_indexes creates them with the side vectors' indexes.

-- A one-sided participant's present half is doubled and the other is zero, so its inner product is
-- twice its one cosine: on the same scale as a two-sided participant's sum (the ranker then uses
-- that one direction's fit, as it uses the mean of two). pgvector 0.6 has no `vector || vector`.
CREATE FUNCTION koble_pair_vector(offers vector, seeks vector) RETURNS vector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN offers IS NOT NULL AND seeks IS NOT NULL THEN (offers::real[] || seeks::real[])::vector
        WHEN offers IS NOT NULL THEN ((offers + offers)::real[] || array_fill(0::real, ARRAY[vector_dims(offers)]))::vector
        WHEN seeks IS NOT NULL THEN (array_fill(0::real, ARRAY[vector_dims(seeks)]) || (seeks + seeks)::real[])::vector
    END
$$;

-- The pair rows of these (participant, model) keys, recomputed from their side vectors: one
-- statement for a whole COPY (the triggers are per statement, over the transition table).
CREATE FUNCTION pair_embeddings_refresh(ids bigint[], models text[]) RETURNS void LANGUAGE sql AS $$
    DELETE FROM pair_embeddings p USING unnest(ids, models) AS c(participant_id, model)
    WHERE p.participant_id = c.participant_id AND p.model = c.model
      AND NOT EXISTS (SELECT 1 FROM side_embeddings s
                      WHERE s.participant_id = c.participant_id AND s.model = c.model);
    INSERT INTO pair_embeddings AS p (participant_id, model, kind, embedding)
    SELECT c.participant_id, c.model, coalesce(o.kind, s.kind), koble_pair_vector(o.embedding, s.embedding)
    FROM (SELECT DISTINCT participant_id, model FROM unnest(ids, models) AS u(participant_id, model)) AS c
    LEFT JOIN side_embeddings o ON o.participant_id = c.participant_id AND o.model = c.model AND o.side = 'offers'
    LEFT JOIN side_embeddings s ON s.participant_id = c.participant_id AND s.model = c.model AND s.side = 'seeks'
    WHERE o.embedding IS NOT NULL OR s.embedding IS NOT NULL
    ORDER BY c.participant_id, c.model  -- a fixed lock order: concurrent writers cannot deadlock here
    ON CONFLICT (participant_id, model) DO UPDATE SET kind = excluded.kind, embedding = excluded.embedding;
$$;

CREATE FUNCTION side_embeddings_pairs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pair_embeddings_refresh(array_agg(participant_id), array_agg(model)) FROM changed;
    RETURN NULL;
END
$$;
-- Transition tables allow one event per trigger. An UPDATE re-derives the new keys (kind changes
-- arrive as updates of side_embeddings.kind, 0004); the code never moves a side vector to another key.
CREATE TRIGGER side_embeddings_pairs_insert AFTER INSERT ON side_embeddings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION side_embeddings_pairs();
CREATE TRIGGER side_embeddings_pairs_update AFTER UPDATE ON side_embeddings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION side_embeddings_pairs();
CREATE TRIGGER side_embeddings_pairs_delete AFTER DELETE ON side_embeddings
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION side_embeddings_pairs();

CREATE FUNCTION side_embeddings_pairs_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- DELETE, not TRUNCATE: a TRUNCATE naming both tables (tests) would find this one in use.
    DELETE FROM pair_embeddings;
    RETURN NULL;
END
$$;
CREATE TRIGGER side_embeddings_pairs_truncate AFTER TRUNCATE ON side_embeddings
    FOR EACH STATEMENT EXECUTE FUNCTION side_embeddings_pairs_truncate();

-- Existing side vectors.
DO $$
BEGIN
    PERFORM pair_embeddings_refresh(array_agg(participant_id), array_agg(model)) FROM side_embeddings;
END
$$;
