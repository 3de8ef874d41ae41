-- Koble's first schema: participants, their sign-in tokens and the email outbox.
-- depends:

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE participants (
    id              bigserial PRIMARY KEY,
    external_id     text NOT NULL UNIQUE CHECK (char_length(external_id) BETWEEN 1 AND 100),
    kind            text NOT NULL CHECK (kind IN ('student', 'researcher', 'company', 'public_body')),
    name            text NOT NULL,
    email           text NOT NULL,
    organisation    text,
    language        text NOT NULL DEFAULT 'nb' CHECK (language IN ('nb', 'en')),
    domains         text[] NOT NULL CHECK (cardinality(domains) >= 1),
    engagements     text[] NOT NULL DEFAULT '{}',
    available_from  date,
    available_until date,
    capacity        integer NOT NULL CHECK (capacity >= 1),
    location        text,
    offers          text[] NOT NULL DEFAULT '{}',
    seeks           text[] NOT NULL DEFAULT '{}',
    source          text NOT NULL CHECK (source IN ('web', 'api', 'import')),
    consent_at      timestamptz,
    verified_at     timestamptz,
    hidden_at       timestamptz,
    hidden_reason   text CHECK (hidden_reason IN ('self', 'inactive')),
    retention_warned_at timestamptz,
    last_active_at  timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (available_from IS NULL OR available_until IS NULL OR available_from <= available_until),
    CHECK (cardinality(offers) + cardinality(seeks) >= 1)
);
-- One person, one account: sign-in by email must find exactly one participant.
CREATE UNIQUE INDEX participants_email_key ON participants (lower(email));
CREATE INDEX participants_last_active_idx ON participants (last_active_at);

CREATE TABLE auth_tokens (
    token_hash     bytea PRIMARY KEY,
    participant_id bigint NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    purpose        text NOT NULL CHECK (purpose IN ('verify', 'login')),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_tokens_participant_idx ON auth_tokens (participant_id);

CREATE TABLE outbox (
    id             bigserial PRIMARY KEY,
    participant_id bigint REFERENCES participants (id) ON DELETE CASCADE,
    template       text NOT NULL,
    to_address     text NOT NULL,
    subject        text NOT NULL,
    body_text      text NOT NULL,
    body_html      text NOT NULL,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'logged', 'failed')),
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (created_at) WHERE status = 'pending';
CREATE INDEX outbox_participant_idx ON outbox (participant_id);
