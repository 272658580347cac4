-- Version 14: the backups `warranty-gateway backup` made of this database: when each finished,
-- the file it wrote and its size. The newest says how old the last backup is (/ops/server, the
-- metric, the alert). The last 1,000 are kept. Only SQLite's: PostgreSQL is backed up with its
-- own tools, and the table stays empty there.
CREATE TABLE IF NOT EXISTS backups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    finished_at  TEXT    NOT NULL,
    file         TEXT    NOT NULL,
    bytes        INTEGER NOT NULL
) STRICT;
