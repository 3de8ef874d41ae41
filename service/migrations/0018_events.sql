-- Event days at Bright House (issue 14): events with sessions, time slots and tables; attendees with
-- their arrival, leaving and blocked slots; meeting requests; the scheduled meetings. The events
-- domain owns these tables (docs/architecture.md); a held meeting becomes a match with origin 'event'.
-- depends: 0011_sessions

CREATE TABLE events (
    id                bigserial PRIMARY KEY,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    place             text NOT NULL DEFAULT '' CHECK (length(place) <= 200),
    meeting_minutes   integer NOT NULL CHECK (meeting_minutes BETWEEN 5 AND 240),
    break_minutes     integer NOT NULL DEFAULT 0 CHECK (break_minutes BETWEEN 0 AND 240),
    signup_deadline   timestamptz,
    booking_deadline  timestamptz,
    -- 'accept': the other attendee must accept a request; 'auto': a request counts as accepted.
    request_mode      text NOT NULL DEFAULT 'accept' CHECK (request_mode IN ('accept', 'auto')),
    max_meetings      integer NOT NULL CHECK (max_meetings BETWEEN 1 AND 100),
    solver_seconds    real NOT NULL DEFAULT 10 CHECK (solver_seconds > 0 AND solver_seconds <= 600),
    -- The last schedule the solver made: its objective, the proven upper bound and the time it took.
    objective         double precision,
    upper_bound       double precision,
    solver_took       double precision,
    scheduled_at      timestamptz,
    published_at      timestamptz,
    closed_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE event_sessions (
    id        bigserial PRIMARY KEY,
    event_id  bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX event_sessions_event_idx ON event_sessions (event_id, starts_at);

-- The time slots the sessions, meeting length and breaks give; made again when the event is edited.
CREATE TABLE event_slots (
    id         bigserial PRIMARY KEY,
    event_id   bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    UNIQUE (event_id, starts_at)
);

-- Tables or rooms, numbered 1..T; a participant may host at their own stand.
CREATE TABLE event_tables (
    id                  bigserial PRIMARY KEY,
    event_id            bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    number              integer NOT NULL CHECK (number >= 1),
    name                text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    host_participant_id bigint REFERENCES participants (id) ON DELETE SET NULL,
    UNIQUE (event_id, number)
);

CREATE TABLE event_attendees (
    event_id       bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    participant_id bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    signed_up_at   timestamptz NOT NULL DEFAULT now(),
    arrives_at     timestamptz,
    leaves_at      timestamptz,
    checked_in_at  timestamptz,
    no_show_at     timestamptz,
    useful         boolean,
    PRIMARY KEY (event_id, participant_id),
    CHECK (arrives_at IS NULL OR leaves_at IS NULL OR leaves_at > arrives_at)
);
CREATE INDEX event_attendees_participant_idx ON event_attendees (participant_id);

CREATE TABLE event_blocks (
    event_id       bigint NOT NULL,
    participant_id bigint NOT NULL,
    slot_id        bigint NOT NULL REFERENCES event_slots (id) ON DELETE CASCADE,
    PRIMARY KEY (event_id, participant_id, slot_id),
    FOREIGN KEY (event_id, participant_id) REFERENCES event_attendees (event_id, participant_id) ON DELETE CASCADE
);

-- One request per pair and event, whichever asked first; the other's request to the same person
-- makes it mutual (a higher weight in the schedule).
CREATE TABLE event_requests (
    id           bigserial PRIMARY KEY,
    event_id     bigint NOT NULL,
    from_id      bigint NOT NULL,
    to_id        bigint NOT NULL,
    reason       text NOT NULL DEFAULT '' CHECK (length(reason) <= 300),
    status       text NOT NULL CHECK (status IN ('requested', 'accepted', 'declined')),
    score        real,
    mutual       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz,
    CHECK (from_id <> to_id),
    FOREIGN KEY (event_id, from_id) REFERENCES event_attendees (event_id, participant_id) ON DELETE CASCADE,
    FOREIGN KEY (event_id, to_id) REFERENCES event_attendees (event_id, participant_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX event_requests_pair_key ON event_requests (event_id, least(from_id, to_id), greatest(from_id, to_id));
CREATE INDEX event_requests_to_idx ON event_requests (event_id, to_id);

-- A scheduled meeting of an accepted request: its slot and table now, and as last published (the
-- agenda emails go only to the people whose meetings differ from what they were sent).
CREATE TABLE event_meetings (
    request_id          bigint PRIMARY KEY REFERENCES event_requests (id) ON DELETE CASCADE,
    event_id            bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    slot_id             bigint REFERENCES event_slots (id) ON DELETE SET NULL,
    table_id            bigint REFERENCES event_tables (id) ON DELETE SET NULL,
    published_slot_id   bigint REFERENCES event_slots (id) ON DELETE SET NULL,
    published_table_id  bigint REFERENCES event_tables (id) ON DELETE SET NULL,
    held_at             timestamptz,
    match_id            bigint,
    CHECK ((slot_id IS NULL) = (table_id IS NULL))
);
CREATE UNIQUE INDEX event_meetings_place_key ON event_meetings (slot_id, table_id) WHERE slot_id IS NOT NULL;
CREATE INDEX event_meetings_event_idx ON event_meetings (event_id);

-- A meeting held at an event becomes a match born `meeting_held` (the matches domain's table and
-- lifecycle; the origin says where it came from).
ALTER TABLE matches DROP CONSTRAINT matches_origin_check;
ALTER TABLE matches ADD CONSTRAINT matches_origin_check
    CHECK (origin IN ('ranker', 'hand_picked', 'participants', 'event'));
