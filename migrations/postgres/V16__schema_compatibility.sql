-- Version 16: which builds may serve this database. A build serves it when it knows migration
-- `needs_migration`, even when a newer build has applied migrations it does not know: so
-- instances are upgraded one at a time while the others keep serving. A migration that older
-- builds can serve on (a new table, a column with a default) leaves the row as it is; one they
-- cannot (a column they would not fill, a changed meaning) sets it to its own version:
--     UPDATE schema_compatibility SET needs_migration = <its version>;
CREATE TABLE IF NOT EXISTS schema_compatibility (
    id               INTEGER  PRIMARY KEY CHECK (id = 1),
    needs_migration  INTEGER  NOT NULL
);
INSERT INTO schema_compatibility (id, needs_migration) VALUES (1, 16) ON CONFLICT (id) DO NOTHING;
