-- textrelay schema 9: real carriers (docs/carriers.md).

-- Which carrier took a message and the references it answered with, one per part a long
-- message was sent in. A receipt is matched by (carrier, reference), from any node and after
-- any restart. A receipt may come before the submit's answer is stored: it is kept here with
-- no message_sid, and whichever of the two writes comes second finds the other's half (both
-- are upserts on the primary key, so they serialize on its row).
CREATE TABLE carrier_references (
    carrier         TEXT NOT NULL,
    reference       TEXT NOT NULL,
    message_sid     TEXT,
    part            INTEGER NOT NULL DEFAULT 1,
    parts           INTEGER NOT NULL DEFAULT 1,
    submitted_at    BIGINT,
    receipt_status  TEXT,
    receipt_error   INTEGER,
    receipt_detail  TEXT,
    receipt_at      BIGINT,
    PRIMARY KEY (carrier, reference)
);
CREATE INDEX carrier_references_message ON carrier_references (message_sid);

-- What was exchanged with a carrier for a message (PDUs, HTTP requests, routing notes), for
-- the console's message page.
CREATE TABLE carrier_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_sid  TEXT NOT NULL,
    carrier      TEXT NOT NULL,
    direction    TEXT NOT NULL,
    command      TEXT NOT NULL,
    status       INTEGER,
    fields       TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX carrier_log_message ON carrier_log (message_sid, seq);

-- Parts of a handset's long message that arrived before the rest: assembled into one inbound
-- message when the last part comes, or after a timeout with error 30009 (Missing segment).
CREATE TABLE carrier_mo_parts (
    carrier      TEXT NOT NULL,
    source       TEXT NOT NULL,
    destination  TEXT NOT NULL,
    reference    INTEGER NOT NULL,
    total        INTEGER NOT NULL,
    sequence     INTEGER NOT NULL,
    body         TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (carrier, source, destination, reference, sequence)
);
CREATE INDEX carrier_mo_parts_received ON carrier_mo_parts (received_at);

-- Submits under way: written before a message is offered to a live carrier, removed with the
-- commit of its answer. One left behind by a crash (the SMSC answered, textrelay died before
-- storing the answer) lets a receipt for the unknown reference be matched to its message by
-- the addresses the receipt carries (docs/carriers.md, "Durability"). `refusals` counts the
-- carriers' temporary refusals of the message, against the carrier's `submit_retries`.
CREATE TABLE carrier_submissions (
    message_sid  TEXT PRIMARY KEY,
    to_addr      TEXT NOT NULL,
    from_addr    TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    refusals     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX carrier_submissions_addresses ON carrier_submissions (to_addr, from_addr);

