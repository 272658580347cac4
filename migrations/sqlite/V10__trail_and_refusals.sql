-- Version 10: what support needs at 2 a.m. First, the trail of every invoice. Each record of each batch that names a
-- ShopID and InvoiceNumber gets a row: which batch, where in it, and what became of it
-- (inserted, updated, unchanged or rejected, with its error codes). Found by invoice and shop in
-- one index probe however long the history is; pruned with its batch.
CREATE TABLE IF NOT EXISTS batch_records (
    batch_id        INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    record          TEXT    NOT NULL,
    record_index    INTEGER NOT NULL,
    shop_id         TEXT    NOT NULL,
    invoice_number  TEXT    NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('inserted', 'updated', 'unchanged', 'rejected')),
    -- The codes of a rejected record's errors, comma-separated; NULL when it was written.
    codes           TEXT,
    PRIMARY KEY (batch_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batch_records_by_invoice ON batch_records (invoice_number, shop_id);

-- A kept rejected record as the client sent it (its JSON), for rejected.csv; NULL for a body
-- refused whole and for batches from before this version.
ALTER TABLE batch_rejections ADD COLUMN sent TEXT;

-- Requests refused before they reached a partner's data (a bad or missing token, an unknown
-- company): when, whose (the company the path named, and the partner and tenant when it is
-- one), why, from where, with which user agent, method and path (never the token). At most 60
-- a minute from one address are kept; pruned with the batch history.
CREATE TABLE IF NOT EXISTS refused_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,
    partner_id  INTEGER,
    tenant      TEXT,
    company     TEXT,
    reason      TEXT    NOT NULL,
    client      TEXT,
    user_agent  TEXT,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS refused_requests_by_age ON refused_requests (at);
CREATE INDEX IF NOT EXISTS refused_requests_by_partner ON refused_requests (partner_id, at);
