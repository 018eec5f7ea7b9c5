-- textrelay schema 5: jobs find their message by its seq, not its SID.

-- SIDs are random, so an index on jobs.message_sid takes every new job to a random leaf: one
-- more page written per message at each commit. A message's seq only grows, so a new
-- message's dispatch job lands on the index's last leaf, which the batch has already dirtied.
-- The table is rebuilt to drop AUTOINCREMENT as well: a job's seq only orders and names live
-- jobs (a claim token guards finishing one), so a reused seq is harmless, and every insert
-- no longer reads and writes sqlite_sequence.
CREATE TABLE jobs_new (
    seq         INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    message_sid TEXT,
    message_seq INTEGER,
    payload     TEXT NOT NULL,
    due_at      BIGINT,
    claim       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);
INSERT INTO jobs_new (seq, kind, message_sid, message_seq, payload, due_at, claim, attempts,
                      created_at)
SELECT j.seq, j.kind, j.message_sid, (SELECT m.seq FROM messages m WHERE m.sid = j.message_sid),
       j.payload, j.due_at, j.claim, j.attempts, j.created_at
FROM jobs j;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX jobs_message_seq ON jobs (message_seq, seq);
