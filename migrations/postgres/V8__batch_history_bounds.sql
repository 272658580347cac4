-- Version 8: a batch's history keeps the first 1,000 rejected entries in full and counts the
-- rest. (SQLite's V8 also makes its batch ids never given twice; PostgreSQL's identity column
-- never did give one twice.)

-- Past a batch's first 1,000 rejected entries, how many times each (record type, field, code)
-- was refused: 100,000 broken records cost a few rows, not 100 MB kept for the retention.
CREATE TABLE IF NOT EXISTS batch_rejection_counts (
    batch_id  BIGINT  NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    record    TEXT    NOT NULL,
    field     TEXT    NOT NULL,
    code      TEXT    NOT NULL,
    count     BIGINT  NOT NULL,
    PRIMARY KEY (batch_id, record, field, code)
);
