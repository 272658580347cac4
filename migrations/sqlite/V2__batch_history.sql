-- Version 2: the history of every POST (live and test), for partners debugging their
-- integration and support staff chasing last night's upload. Pruned after the retention period.
CREATE TABLE IF NOT EXISTS batches (
    id                      INTEGER PRIMARY KEY,
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

-- The result entries of a batch's rejected records, as its response carried them (JSON).
CREATE TABLE IF NOT EXISTS batch_rejections (
    batch_id  INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    entry     TEXT    NOT NULL,
    PRIMARY KEY (batch_id, position)
) STRICT, WITHOUT ROWID;
