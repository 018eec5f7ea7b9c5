-- textrelay schema 7: web console sessions, kept server-side so that logging out ends one on
-- every process of a deployment, and each request can re-check the account behind it.
-- The cookie holds a random session id; only its SHA-256 is stored. `credential` is a
-- fingerprint of the account's auth token when the session began: a changed token ends it.
CREATE TABLE console_sessions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id_hash     TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    credential  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
