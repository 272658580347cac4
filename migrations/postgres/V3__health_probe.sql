-- Version 3: one row the health check updates and commits (a full disk only shows when a write
-- needs room).
CREATE TABLE IF NOT EXISTS health_probe (
    id                      BIGINT       PRIMARY KEY CHECK (id = 1),
    checks                  BIGINT       NOT NULL
);
INSERT INTO health_probe (id, checks) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
