-- textrelay schema 5: jobs find their message by its seq, not its SID.

-- SIDs are random, so an index on jobs.message_sid takes every new job to a random leaf: one
-- more page written per message at each commit. A message's seq only grows, so a new
-- message's dispatch job lands on the index's last leaf, which the batch has already dirtied.
ALTER TABLE jobs ADD COLUMN message_seq BIGINT;
UPDATE jobs SET message_seq = (SELECT m.seq FROM messages m WHERE m.sid = jobs.message_sid);
DROP INDEX jobs_message;
CREATE INDEX jobs_message_seq ON jobs (message_seq, seq);
