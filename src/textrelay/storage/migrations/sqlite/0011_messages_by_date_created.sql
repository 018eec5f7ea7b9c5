-- textrelay schema 11: messages by creation time, for the retention sweep (retention_days).

-- The sweep deletes the oldest messages a batch at a time, `WHERE date_created < :cutoff
-- ORDER BY date_created LIMIT n`: without an index each batch would read the whole table.
-- date_created only grows, so a new message lands on the index's last leaf, which its batch
-- has already dirtied (the argument of schema 5): the busiest path pays next to nothing.
-- Building it reads the messages table once, at the upgrade.
CREATE INDEX messages_date_created ON messages (date_created);
