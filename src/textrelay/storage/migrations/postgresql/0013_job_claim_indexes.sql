-- textrelay schema 13: a claim reads the jobs it takes, not the whole queue.
--
-- Delivery jobs were claimed in due order through `jobs_due`, which holds every kind: with a
-- backlog of status callbacks due first, each claim walked all of them to reach a dispatch.
-- Webhook jobs were ranked per host over every due one (a window over the whole backlog, and
-- on PostgreSQL a scan of the table's dead rows too, since claimed jobs are deleted at a high
-- rate): tens of milliseconds a claim at a few thousand queued callbacks. Now each budget has
-- an index of its own, and on PostgreSQL the claim takes the first due jobs of each host from
-- `jobs_webhook_due` (storage/jobs.py). Jobs stored before schema 8 have no host: they are
-- given the empty one, which the runner already counts them under.
UPDATE jobs SET host = '' WHERE host IS NULL AND kind IN ('callback', 'inbound');
CREATE INDEX jobs_delivery_due ON jobs (due_at)
    WHERE due_at IS NOT NULL AND kind NOT IN ('callback', 'inbound');
CREATE INDEX jobs_webhook_due ON jobs (host, due_at, seq)
    WHERE due_at IS NOT NULL AND kind IN ('callback', 'inbound');
