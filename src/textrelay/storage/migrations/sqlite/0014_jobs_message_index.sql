-- textrelay schema 14: SQLite drops `jobs_message (message_sid)`. Every job is inserted,
-- claimed and deleted once and each index of the table is written each time, and this one
-- serves no query: jobs are found by their message's seq since schema 5 (`jobs_message_seq`),
-- when PostgreSQL dropped it. (`jobs_due` stays: without it, the next-due query walks every
-- queued callback, 5.9 ms against 1.4 ms at 6,000.)
DROP INDEX IF EXISTS jobs_message;
