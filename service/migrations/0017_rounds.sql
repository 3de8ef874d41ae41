-- Mapping rounds (kartleggingsrunder): staff invite a list of organisations to register or update
-- their needs, and follow who opened, registered, updated and unsubscribed (docs/architecture.md).
-- depends: 0011_sessions

CREATE TABLE mapping_rounds (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    -- One reminder this many days after the invitation, to those who neither answered nor unsubscribed.
    reminder_days integer NOT NULL CHECK (reminder_days BETWEEN 1 AND 90),
    source_name   text NOT NULL,
    created_by    bigint REFERENCES staff (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One organisation of a round's list. The personal link is signed (itsdangerous) from the id, so
-- no token is stored; the first time of each step is kept here, every step in round_events.
CREATE TABLE round_invitations (
    id                  bigserial PRIMARY KEY,
    round_id            bigint NOT NULL REFERENCES mapping_rounds (id) ON DELETE CASCADE,
    line                integer NOT NULL,
    organisation_number text NOT NULL CHECK (organisation_number ~ '^[0-9]{9}$'),
    name                text NOT NULL,
    email               text NOT NULL,
    municipality        text NOT NULL,
    contact_name        text,
    language            text NOT NULL DEFAULT 'nb' CHECK (language IN ('nb', 'en')),
    kind                text NOT NULL DEFAULT 'company' CHECK (kind IN ('company', 'public_body')),
    participant_id      bigint REFERENCES participants (id) ON DELETE SET NULL,
    invited_at          timestamptz,
    opened_at           timestamptz,
    registered_at       timestamptz,
    updated_at          timestamptz,
    unsubscribed_at     timestamptz,
    reminded_at         timestamptz,
    UNIQUE (round_id, organisation_number)
);
CREATE UNIQUE INDEX round_invitations_email_key ON round_invitations (round_id, lower(email));
-- The reminder job's scan: invited, not yet reminded.
CREATE INDEX round_invitations_due_idx ON round_invitations (invited_at)
    WHERE reminded_at IS NULL AND invited_at IS NOT NULL;
CREATE INDEX round_invitations_participant_idx ON round_invitations (participant_id)
    WHERE participant_id IS NOT NULL;

CREATE TABLE round_events (
    id            bigserial PRIMARY KEY,
    invitation_id bigint NOT NULL REFERENCES round_invitations (id) ON DELETE CASCADE,
    event         text NOT NULL
                  CHECK (event IN ('invited', 'opened', 'registered', 'updated', 'unsubscribed', 'reminded')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX round_events_invitation_idx ON round_events (invitation_id);
