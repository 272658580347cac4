-- Version 3: one row the health check updates and commits (a full disk only shows when a write
-- needs room).
CREATE TABLE IF NOT EXISTS health_probe (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    checks  INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO health_probe (id, checks) VALUES (1, 0);
