-- textrelay schema 8: webhook jobs name the host they call.
--
-- The runner shares its webhook slots out by host (docs/operations.md, "Job runner"): the
-- claim ranks due webhook jobs per host and skips hosts this process already keeps busy, so
-- one slow receiver cannot take every slot. `host` is the URL's `host:port` in lower case,
-- NULL for other kinds; jobs written before this schema have NULL and count as one host.
ALTER TABLE jobs ADD COLUMN host TEXT;
