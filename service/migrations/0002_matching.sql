-- Matching: one vector per interest (offers/seeks list item) and one per side (their normalised
-- mean, used for retrieval), each recording its model; full-text vectors for lexical fusion.
-- depends: 0001_initial

CREATE TABLE interest_embeddings (
    participant_id bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    model          text NOT NULL,
    side           text NOT NULL CHECK (side IN ('offers', 'seeks')),
    position       integer NOT NULL CHECK (position >= 0),
    text_hash      bytea NOT NULL,
    embedding      vector NOT NULL,
    PRIMARY KEY (participant_id, model, side, position)
);
-- Re-use: a text already embedded by this model (anyone's) is not encoded again.
CREATE INDEX interest_embeddings_hash_idx ON interest_embeddings (model, text_hash);

CREATE TABLE side_embeddings (
    participant_id bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    model          text NOT NULL,
    side           text NOT NULL CHECK (side IN ('offers', 'seeks')),
    embedding      vector NOT NULL,
    PRIMARY KEY (participant_id, model, side)
);
-- HNSW indexes depend on the model's dimension; service.matching.repository creates them
-- (partial per model and side) when a model is first used.

-- Lexical matching: stemmed in the participant's language, plus 'simple' so that names and
-- technical terms (PLC, SCADA, Python) match across languages.
CREATE FUNCTION koble_tsvector(lang text, items text[]) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector(CASE lang WHEN 'en' THEN 'english'::regconfig ELSE 'norwegian'::regconfig END,
                       coalesce(array_to_string(items, ' '), ''))
        || to_tsvector('simple'::regconfig, coalesce(array_to_string(items, ' '), ''))
$$;

ALTER TABLE participants
    ADD COLUMN offers_tsv tsvector GENERATED ALWAYS AS (koble_tsvector(language, offers)) STORED,
    ADD COLUMN seeks_tsv  tsvector GENERATED ALWAYS AS (koble_tsvector(language, seeks)) STORED;

-- How often each participant was shown as a suggestion recently: the ranker's exposure term.
CREATE TABLE exposure (
    participant_id bigint PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
    shown          double precision NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
