-- Access control: sign-in bookkeeping and the audit log's lookups.
-- Failed sign-ins are audit rows ('signin.failure'); rate limiting counts them
-- per account and per address over a recent window, so these indexes serve it.
CREATE INDEX audit_log_action_user_idx ON audit_log (action, username, at DESC);
CREATE INDEX audit_log_action_address_idx ON audit_log (action, address, at DESC);

ALTER TABLE users ADD COLUMN last_login_at timestamptz;
ALTER TABLE users ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Dashboard sessions: the cookie carries only the id, so signing out (or an
-- administrator) really ends a session — a copied cookie is worthless afterwards.
CREATE TABLE user_sessions (
    session_id   text PRIMARY KEY CHECK (length(session_id) >= 32),
    username     text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    address      text
);
CREATE INDEX user_sessions_username_idx ON user_sessions (username);
