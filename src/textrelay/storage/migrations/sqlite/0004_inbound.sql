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
