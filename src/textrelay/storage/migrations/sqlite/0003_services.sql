-- textrelay schema 3: Messaging Services, their sender pools, short codes, sticky senders.

CREATE TABLE messaging_services (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    sid           TEXT NOT NULL UNIQUE,
    account_sid   TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    -- Every other setting of the resource, as JSON: nothing filters or sorts on them.
    settings      TEXT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL
);
CREATE INDEX messaging_services_account ON messaging_services (account_sid, seq);

-- A service's senders. `sid` is the sender's own SID (PN of the number, SC of the short code,
-- a new AI for an alphanumeric sender); a number or short code is in one service at most.
CREATE TABLE service_senders (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    sid          TEXT NOT NULL UNIQUE,
    service_sid  TEXT NOT NULL,
    account_sid  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    address      TEXT NOT NULL,
    country_code TEXT,
    capabilities TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL
);
CREATE INDEX service_senders_service ON service_senders (service_sid, kind, seq);
CREATE INDEX service_senders_address ON service_senders (address);

-- Sticky Sender: the sender a recipient got from a service, per channel.
CREATE TABLE sticky_senders (
    service_sid TEXT NOT NULL,
    channel     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    sender      TEXT NOT NULL,
    PRIMARY KEY (service_sid, channel, recipient)
);

-- Short codes, provisioned out of band (textrelay's control API), as on Twilio.
CREATE TABLE short_codes (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    sid                 TEXT NOT NULL UNIQUE,
    account_sid         TEXT NOT NULL,
    short_code          TEXT NOT NULL UNIQUE,
    friendly_name       TEXT NOT NULL,
    country_code        TEXT NOT NULL,
    api_version         TEXT NOT NULL,
    sms_url             TEXT,
    sms_method          TEXT NOT NULL,
    sms_fallback_url    TEXT,
    sms_fallback_method TEXT NOT NULL,
    date_created        BIGINT NOT NULL,
    date_updated        BIGINT NOT NULL
);
CREATE INDEX short_codes_account ON short_codes (account_sid, seq);

-- Messages still waiting for their service (scheduled, or not yet given a sender): deleting
-- a service cancels them. Partial, so a queued message never touches it.
CREATE INDEX messages_waiting_for_service ON messages (messaging_service_sid)
    WHERE status IN ('scheduled', 'accepted');
