-- textrelay schema 14: SQLite drops its unused `jobs_message` index, which PostgreSQL dropped
-- in schema 5. Nothing to do here; the version keeps both databases' schemas numbered alike.
SELECT 1;
