-- Version 13: a batch's warnings are kept in its history, as its rejected records are: how many
-- its answer gave in all (0 on batches kept before), and how many records of each type had each
-- kind of warning on each field (an unknown key "Colour" on 50,000 registrations is one row), the
-- first 100 kinds met, with the first record that had it and its words. Both only add to the
-- schema: instant, however long the history (a constant default rewrites no row).
ALTER TABLE batches ADD COLUMN IF NOT EXISTS warnings BIGINT NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS batch_warnings (
    batch_id     BIGINT  NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    record       TEXT    NOT NULL,
    field        TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    count        BIGINT  NOT NULL,
    first_index  BIGINT  NOT NULL,
    message      TEXT    NOT NULL,
    PRIMARY KEY (batch_id, record, field, kind)
);
