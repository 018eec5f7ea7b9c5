-- textrelay schema 12: an account's secondary auth token (Twilio's Accounts v1
-- /v1/AuthTokens/Secondary), with the time it was made. Both NULL while there is none; while
-- there is one it authenticates the account as the primary does, until it is promoted or
-- deleted.
ALTER TABLE accounts ADD COLUMN secondary_auth_token TEXT;
ALTER TABLE accounts ADD COLUMN secondary_auth_token_created BIGINT;
