-- textrelay schema 1: accounts, API keys, phone numbers, messages.
-- Times are integer microseconds since the Unix epoch, UTC, the same on both databases.
-- `seq` orders each table by creation and anchors keyset paging.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    sid               TEXT NOT NULL UNIQUE,
    owner_account_sid TEXT NOT NULL,
    friendly_name     TEXT NOT NULL,
    status            TEXT NOT NULL,
    type              TEXT NOT NULL,
    auth_token        TEXT NOT NULL,
    date_created      BIGINT NOT NULL,
    date_updated      BIGINT NOT NULL
);
CREATE INDEX accounts_owner ON accounts (owner_account_sid, seq);

CREATE TABLE api_keys (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL REFERENCES accounts (sid),
    friendly_name TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_sid, seq);

CREATE TABLE incoming_phone_numbers (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    sid          TEXT NOT NULL UNIQUE,
    account_sid  TEXT NOT NULL REFERENCES accounts (sid),
    phone_number  TEXT NOT NULL UNIQUE,
    friendly_name TEXT NOT NULL,
    number_type   TEXT NOT NULL,
    config       TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    origin       TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE INDEX incoming_phone_numbers_account ON incoming_phone_numbers (account_sid, seq);

CREATE TABLE messages (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                   TEXT NOT NULL UNIQUE,
    account_sid           TEXT NOT NULL REFERENCES accounts (sid),
    direction             TEXT NOT NULL,
    status                TEXT NOT NULL,
    from_addr             TEXT,
    to_addr               TEXT NOT NULL,
    body                  TEXT NOT NULL,
    num_segments          INTEGER NOT NULL,
    num_media             INTEGER NOT NULL,
    messaging_service_sid TEXT,
    error_code            INTEGER,
    error_message         TEXT,
    price                 TEXT,
    price_unit            TEXT,
    tags                  TEXT NOT NULL,
    options               TEXT NOT NULL,
    date_created          BIGINT NOT NULL,
    date_updated          BIGINT NOT NULL,
    date_sent             BIGINT
);
CREATE INDEX messages_account ON messages (account_sid, seq);
CREATE INDEX messages_account_to ON messages (account_sid, to_addr, seq);
CREATE INDEX messages_account_from ON messages (account_sid, from_addr, seq);
-- Partial: a message gets date_sent only when it leaves, so creating one never touches it.
CREATE INDEX messages_account_date_sent ON messages (account_sid, date_sent)
    WHERE date_sent IS NOT NULL;

-- The ordering key of deleted rows, so a PageToken naming a deleted record still resumes
-- ("stream every message and delete it" is a common client loop).
CREATE TABLE page_anchors (
    sid TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
