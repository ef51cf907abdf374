-- API tokens: a token acts as its user (same role, same scope). Only a SHA-256 of the token
-- is kept (a token is 32 random bytes: a slow hash adds nothing); the token itself is shown once.
CREATE TABLE api_tokens (
    token_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username     text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    label        text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    token_hash   char(64) NOT NULL UNIQUE,
    expires_on   date,                       -- the last day it works (China time); NULL: no expiry
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text,
    revoked_at   timestamptz,
    revoked_by   text,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_username_idx ON api_tokens (username);

-- A POST with an Idempotency-Key: its first answer, returned again to a retry with the same key
-- (per token's user), never a second revision.
CREATE TABLE api_idempotency (
    username     text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash char(64) NOT NULL,          -- SHA-256 of method, path, query and body
    status_code  integer NOT NULL,
    content_type text NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (username, key)
);

-- The reporting periods a file's rows name ('YYYY-MM', sorted), kept for every attempt — a
-- rejected one too — so a hospital's system can ask "what happened to my October report?".
ALTER TABLE submissions ADD COLUMN periods text[] NOT NULL DEFAULT '{}';
CREATE INDEX submissions_periods_idx ON submissions USING gin (periods);
