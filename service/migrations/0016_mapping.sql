-- Mapping (kartlegging, docs/architecture.md): the themes every visible interest is grouped into,
-- each interest's theme, and the map's figures computed at each recomputation.
-- depends: 0011_sessions

-- A theme keeps its id across recomputations (matched by centroid). Staff edits live on the row and
-- survive: a name (wins over the computed label), a merge (merged_into: its interests are shown under
-- the target) and a split (the parts have split_from; the parent's interests go to the nearest part).
CREATE TABLE themes (
    id          bigserial PRIMARY KEY,
    model       text NOT NULL,
    -- Unit mean of the members' centred vectors (service/mapping/themes.py: vectors are centred per
    -- group of kind, side and language before clustering).
    centroid    vector NOT NULL,
    label_nb    text NOT NULL DEFAULT '',
    label_en    text NOT NULL DEFAULT '',
    terms       text[] NOT NULL DEFAULT '{}',
    name_nb     text CHECK (length(name_nb) BETWEEN 1 AND 120),
    name_en     text CHECK (length(name_en) BETWEEN 1 AND 120),
    merged_into bigint REFERENCES themes (id) ON DELETE SET NULL,
    split_from  bigint REFERENCES themes (id) ON DELETE CASCADE,
    is_split    boolean NOT NULL DEFAULT false,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (merged_into IS NULL OR merged_into <> id)
);

-- One row per interest (a participant's offers/seeks item): the theme it is shown under, and for a
-- seek its best cosine with any offer (an unmet need when below the threshold).
CREATE TABLE theme_assignments (
    participant_id bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    side           text NOT NULL CHECK (side IN ('offers', 'seeks')),
    position       integer NOT NULL CHECK (position >= 0),
    theme_id       bigint NOT NULL REFERENCES themes (id) ON DELETE CASCADE,
    best_offer     double precision,
    PRIMARY KEY (participant_id, side, position)
);
CREATE INDEX theme_assignments_theme_idx ON theme_assignments (theme_id, side);

-- The latest recomputation: the centres its vectors were taken around ({"kind|side|language": [...]}),
-- and the map's figures (docs/contracts.md §7) as one document, so a page reads one row.
CREATE TABLE theme_state (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    model       text NOT NULL,
    centers     jsonb NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    seconds     double precision NOT NULL DEFAULT 0,
    document    jsonb NOT NULL DEFAULT '{}'
);
