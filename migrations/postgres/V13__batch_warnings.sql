-- Version 13: a batch's warnings are kept in its history, as its rejected records are: how many
-- its answer gave in all (0 on batches kept before), and how many records of each type had each
-- kind of warning on each field (an unknown key "Colour" on 50,000 registrations is one entry),
-- the first 100 kinds met, with the first record that had it and its words: a JSON array, as the
-- batch's detail answers it (NULL when it had none). Both only add columns: instant, however long
-- the history (a constant default rewrites no row).
ALTER TABLE batches ADD COLUMN IF NOT EXISTS warnings BIGINT NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS warning_counts TEXT;
