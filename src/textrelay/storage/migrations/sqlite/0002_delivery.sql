-- textrelay schema 2: the delivery pipeline (shared/DESIGN.md §4-5).

-- Durable jobs, the transactional outbox: a job is inserted in the transaction that promises
-- it and deleted in the transaction that records its effect. `due_at` is when it may run:
-- claiming a job moves `due_at` to the end of the claimer's lease, so a job whose worker died
-- becomes due again by itself. NULL parks a job until a command releases it (manual mode).
CREATE TABLE jobs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    message_sid TEXT,
    payload     TEXT NOT NULL,
    due_at      BIGINT,
    claim       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX jobs_message ON jobs (message_sid);

-- Every status change of a message, in order. Creating a message writes no row (its
-- initial status is the first row's previous_status, or the message's status while it has
-- none): one insert fewer on the busiest path.
CREATE TABLE message_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_sid     TEXT NOT NULL,
    status          TEXT NOT NULL,
    previous_status TEXT NOT NULL,
    error_code      INTEGER,
    occurred_at     BIGINT NOT NULL
);
CREATE INDEX message_events_message ON message_events (message_sid, seq);

-- Every HTTP attempt of every webhook textrelay made: what was sent and what came back.
CREATE TABLE webhook_attempts (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    account_sid           TEXT NOT NULL,
    message_sid           TEXT,
    kind                  TEXT NOT NULL,
    idempotency_token     TEXT NOT NULL,
    url                   TEXT NOT NULL,
    method                TEXT NOT NULL,
    params                TEXT NOT NULL,
    signature             TEXT NOT NULL,
    status_code           INTEGER,
    response_body         TEXT NOT NULL,
    response_content_type TEXT,
    latency_ms            REAL NOT NULL,
    error_code            INTEGER,
    error_message         TEXT,
    started_at            BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_sid, seq);
CREATE INDEX webhook_attempts_account ON webhook_attempts (account_sid, seq);
