-- Version 8: a batch id, once given, never names another upload; and a batch's history keeps
-- the first 1,000 rejected entries in full and counts the rest.
--
-- batches.id was a plain INTEGER PRIMARY KEY, which SQLite fills with max(id) + 1: after a test
-- tenant's reset deleted the newest batches, the next upload got an id an earlier one had had,
-- and a partner holding that id read another upload. AUTOINCREMENT never gives an id twice.
-- SQLite cannot change a key in place, so both history tables are rebuilt (the old ones are
-- renamed first, so the new ones are created under their own names), rows and ids kept.
ALTER TABLE batch_rejections RENAME TO batch_rejections_v7;
ALTER TABLE batches RENAME TO batches_v7;
DROP INDEX batches_by_tenant;
DROP INDEX batches_by_age;

CREATE TABLE IF NOT EXISTS batches (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id              INTEGER NOT NULL,
    tenant                  TEXT    NOT NULL CHECK (tenant IN ('live', 'test')),
    received_at             TEXT    NOT NULL,
    status                  INTEGER NOT NULL,
    duration_ms             INTEGER NOT NULL,
    body_bytes              INTEGER NOT NULL,
    registrations_accepted  INTEGER NOT NULL,
    registrations_rejected  INTEGER NOT NULL,
    sales_accepted          INTEGER NOT NULL,
    sales_rejected          INTEGER NOT NULL,
    claims_accepted         INTEGER NOT NULL,
    claims_rejected         INTEGER NOT NULL,
    cancellations_accepted  INTEGER NOT NULL,
    cancellations_rejected  INTEGER NOT NULL,
    -- Why the whole body was refused (not JSON, too large...); NULL when its records were judged.
    error                   TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS batches_by_tenant ON batches (partner_id, tenant, id);
CREATE INDEX IF NOT EXISTS batches_by_age ON batches (received_at);
INSERT INTO batches SELECT * FROM batches_v7;

CREATE TABLE IF NOT EXISTS batch_rejections (
    batch_id  INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    entry     TEXT    NOT NULL,
    PRIMARY KEY (batch_id, position)
) STRICT, WITHOUT ROWID;
INSERT INTO batch_rejections SELECT * FROM batch_rejections_v7;

DROP TABLE batch_rejections_v7;
DROP TABLE batches_v7;

-- Past a batch's first 1,000 rejected entries, how many times each (record type, field, code)
-- was refused: 100,000 broken records cost a few rows, not 100 MB kept for the retention.
CREATE TABLE IF NOT EXISTS batch_rejection_counts (
    batch_id  INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    record    TEXT    NOT NULL,
    field     TEXT    NOT NULL,
    code      TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (batch_id, record, field, code)
) STRICT, WITHOUT ROWID;
