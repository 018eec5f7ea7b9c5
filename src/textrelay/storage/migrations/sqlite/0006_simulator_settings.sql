-- textrelay schema 6: simulator settings of each account.

-- An account without a row here uses its parent's, and a top-level account the server-wide
-- settings (meta key `simulator`), which only the server's main account and the operator
-- change (docs/simulator.md). `settings` is the JSON of the control API's Simulator resource.
-- Kept when an account's data is reset; accounts are never deleted, only closed.
CREATE TABLE simulator_settings (
    account_sid TEXT PRIMARY KEY REFERENCES accounts (sid),
    settings    TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
