-- Version 4: the v3 resource API over the same registrations.
-- Every registration gets a 24-hex id (v3's `_id`) when first stored, whichever API wrote it;
-- the registrations stored before this version get theirs here. What only v3 has is kept
-- beside the v2 columns: its product_id, the customer's email, and every tire it listed
-- (JSON: [{"make", "model", "size", "retailPriceCents"}]); NULL on a registration v2 wrote.
ALTER TABLE registrations ADD COLUMN v3_id TEXT;
ALTER TABLE registrations ADD COLUMN product_id TEXT;
ALTER TABLE registrations ADD COLUMN customer_email TEXT;
ALTER TABLE registrations ADD COLUMN v3_tires TEXT;
UPDATE registrations SET v3_id = lower(hex(randomblob(12))) WHERE v3_id IS NULL;
CREATE UNIQUE INDEX registrations_v3_id ON registrations (v3_id);
-- v3 finds registrations by invoiceNumber alone.
CREATE INDEX registrations_by_invoice ON registrations (partner_id, tenant, invoice_number);

-- Motor-club registrations: v3 only, no tires and no v2 face. The customer's optional fields
-- are NULL when not sent; cancelled_on is set once.
CREATE TABLE motor_club_registrations (
    id              INTEGER PRIMARY KEY,
    partner_id      INTEGER NOT NULL,
    tenant          TEXT    NOT NULL CHECK (tenant IN ('live', 'test')),
    v3_id           TEXT    NOT NULL UNIQUE,
    product_id      TEXT    NOT NULL,
    invoice_number  TEXT    NOT NULL,
    store_number    TEXT    NOT NULL,
    enroll_date     TEXT    NOT NULL,
    customer_name   TEXT    NOT NULL,
    customer_phone  TEXT,
    customer_email  TEXT,
    address_line1   TEXT,
    address_line2   TEXT,
    address_city    TEXT,
    address_state   TEXT,
    address_zip     TEXT,
    address_country TEXT,
    cancelled_on    TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    revision        INTEGER NOT NULL
) STRICT;
CREATE INDEX motor_club_by_invoice ON motor_club_registrations (partner_id, tenant, invoice_number);
