-- textrelay schema 4: two-way messaging.

-- Recipients who texted STOP: per (recipient, sender scope), where the scope is the Twilio
-- sender's address or `service:<MG sid>` for a number in a Messaging Service (service-wide).
CREATE TABLE opt_outs (
    recipient     TEXT NOT NULL,
    sender_scope  TEXT NOT NULL,
    account_sid   TEXT NOT NULL,
    opted_out_at  BIGINT NOT NULL,
    PRIMARY KEY (recipient, sender_scope)
);
CREATE INDEX opt_outs_account ON opt_outs (account_sid);

-- Media of MMS messages (the Media subresource); the bytes live in the media store.
CREATE TABLE media (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    sid          TEXT NOT NULL UNIQUE,
    account_sid  TEXT NOT NULL,
    message_sid  TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    source_url   TEXT,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE INDEX media_message ON media (message_sid, seq);

-- Cookies an app set on inbound webhooks, kept per pair of numbers as Twilio keeps them
-- (forgotten after four idle hours).
CREATE TABLE webhook_cookies (
    account_sid TEXT NOT NULL,
    local       TEXT NOT NULL,
    remote      TEXT NOT NULL,
    cookie      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_sid, local, remote)
);
