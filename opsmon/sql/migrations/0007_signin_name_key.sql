-- Sign-in limits count a name by a keyed hash kept in the audit row's details
-- (details->>'name_key', for names that exist and names that do not alike): its
-- failures in the window, and its last success or unlock, are looked up by it.
CREATE INDEX audit_log_signin_name_key_idx ON audit_log ((details->>'name_key'), action, at DESC)
    WHERE action IN ('signin.failure', 'signin.success', 'user.unlock');
