-- The ranker's read-time state, published at commit to every `koble serve` (issue 16 item 5): each
-- process keeps that state in memory (service/matching/memory.py) and LISTENs on channel
-- koble_read_time; PostgreSQL delivers notifications in commit order, after the commit. Payloads:
--   v<version>                    the matching version changed (every cached ranking is void)
--   p<id>,<id>...                 these participants' visibility or activity changed, or they were deleted
--   m<id>,<id>...                 these participants' matches or answers changed (capacity, blocks)
--   e<token>;<id>:<shown>:<epoch>;...   these exposure rows now hold these values (token: the
--                                 writer's `koble.exposure_flush` setting, so it knows its own write)
--   !                             forget everything (a TRUNCATE)
-- Statement-level triggers with transition tables: one notification per 100 rows of a statement, not
-- one per row (a bulk exposure write touches hundreds of rows; a payload must stay under 8000 bytes).
-- depends: 0018_events

CREATE FUNCTION koble_read_time_publish(kind text, items text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    start int := 1;
BEGIN
    WHILE start <= coalesce(array_length(items, 1), 0) LOOP
        PERFORM pg_notify('koble_read_time', kind || array_to_string(items[start:start + 99], ','));
        start := start + 100;
    END LOOP;
END
$$;

CREATE FUNCTION matching_version_publish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('koble_read_time', 'v' || NEW.version);
    RETURN NULL;
END
$$;

CREATE TRIGGER matching_version_publish AFTER INSERT OR UPDATE ON matching_version
    FOR EACH ROW EXECUTE FUNCTION matching_version_publish();

CREATE FUNCTION read_time_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('koble_read_time', '!');
    RETURN NULL;
END
$$;

-- participants: visibility (hidden_at, verified_at), activity (last_active_at) and deletion.
CREATE FUNCTION participants_read_time_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM koble_read_time_publish('p', (SELECT array_agg(n.id::text) FROM new_rows n JOIN old_rows o USING (id)
            WHERE (n.hidden_at, n.verified_at, n.last_active_at) IS DISTINCT FROM
                  (o.hidden_at, o.verified_at, o.last_active_at)));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM koble_read_time_publish('p', (SELECT array_agg(id::text) FROM old_rows));
    ELSE
        PERFORM koble_read_time_publish('p', (SELECT array_agg(id::text) FROM new_rows));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER participants_read_time_insert AFTER INSERT ON participants
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION participants_read_time_changed();
CREATE TRIGGER participants_read_time_update AFTER UPDATE ON participants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION participants_read_time_changed();
CREATE TRIGGER participants_read_time_delete AFTER DELETE ON participants
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION participants_read_time_changed();
CREATE TRIGGER participants_read_time_truncate AFTER TRUNCATE ON participants
    FOR EACH STATEMENT EXECUTE FUNCTION read_time_truncated();

-- exposure: the new values themselves (float8's text is exact), so no process reads them back.
CREATE FUNCTION exposure_read_time_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    token text := coalesce(current_setting('koble.exposure_flush', true), '');
    items text[];
    start int := 1;
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM koble_read_time_publish('p', (SELECT array_agg(participant_id::text) FROM old_rows));
        RETURN NULL;
    END IF;
    SELECT array_agg(participant_id || ':' || shown || ':' || extract(epoch FROM updated_at)) INTO items
        FROM new_rows;
    WHILE start <= coalesce(array_length(items, 1), 0) LOOP
        PERFORM pg_notify('koble_read_time', 'e' || token || ';' || array_to_string(items[start:start + 99], ';'));
        start := start + 100;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER exposure_read_time_insert AFTER INSERT ON exposure
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION exposure_read_time_changed();
CREATE TRIGGER exposure_read_time_update AFTER UPDATE ON exposure
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION exposure_read_time_changed();
CREATE TRIGGER exposure_read_time_delete AFTER DELETE ON exposure
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION exposure_read_time_changed();
CREATE TRIGGER exposure_read_time_truncate AFTER TRUNCATE ON exposure
    FOR EACH STATEMENT EXECUTE FUNCTION read_time_truncated();

-- answers and matches: both people of each changed row (capacity counts and blocked pairs).
CREATE FUNCTION answers_read_time_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM koble_read_time_publish('m', (SELECT array_agg(DISTINCT x::text) FROM old_rows,
                                                  unnest(ARRAY[participant_id, candidate_id]) AS x));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM koble_read_time_publish('m', (SELECT array_agg(DISTINCT x::text) FROM new_rows,
                                                  unnest(ARRAY[participant_id, candidate_id]) AS x));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION matches_read_time_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM koble_read_time_publish('m', (SELECT array_agg(DISTINCT x::text) FROM old_rows,
                                                  unnest(ARRAY[a_id, b_id]) AS x));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM koble_read_time_publish('m', (SELECT array_agg(DISTINCT x::text) FROM new_rows,
                                                  unnest(ARRAY[a_id, b_id]) AS x));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER answers_read_time_insert AFTER INSERT ON answers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION answers_read_time_changed();
CREATE TRIGGER answers_read_time_update AFTER UPDATE ON answers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION answers_read_time_changed();
CREATE TRIGGER answers_read_time_delete AFTER DELETE ON answers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION answers_read_time_changed();
CREATE TRIGGER answers_read_time_truncate AFTER TRUNCATE ON answers
    FOR EACH STATEMENT EXECUTE FUNCTION read_time_truncated();
CREATE TRIGGER matches_read_time_insert AFTER INSERT ON matches
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION matches_read_time_changed();
CREATE TRIGGER matches_read_time_update AFTER UPDATE ON matches
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION matches_read_time_changed();
CREATE TRIGGER matches_read_time_delete AFTER DELETE ON matches
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION matches_read_time_changed();
CREATE TRIGGER matches_read_time_truncate AFTER TRUNCATE ON matches
    FOR EACH STATEMENT EXECUTE FUNCTION read_time_truncated();
