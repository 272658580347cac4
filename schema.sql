-- warranty-gateway's SQLite schema, complete: what the numbered migrations in
-- migrations/sqlite/ produce, applied in order (at start-up, or by `warranty-gateway migrate`).
-- It is not applied itself; it is the one place to read the whole schema, and a test
-- (store::migrations) checks that it and the migrations agree.
--
-- Every row belongs to one partner (partner_id) and one tenant ('live' or 'test'): the natural
-- keys below all hold both, so tenants and partners can never meet.
-- Dates are TEXT, RFC 3339 UTC with fixed microseconds (sortable as text).
-- Money is INTEGER cents. revision is 1 on insert and grows on each change.

CREATE TABLE IF NOT EXISTS registrations (
    id                  INTEGER PRIMARY KEY,
    partner_id          INTEGER NOT NULL,
    tenant              TEXT    NOT NULL CHECK (tenant IN ('live', 'test')),
    org_id              TEXT    NOT NULL,
    shop_id             TEXT    NOT NULL,
    invoice_number      TEXT    NOT NULL,
    plan_enroll_date    TEXT    NOT NULL,
    employee_id         TEXT    NOT NULL,
    customer_id         TEXT    NOT NULL,
    vehicle_year        TEXT    NOT NULL,
    vehicle_make        TEXT    NOT NULL,
    vehicle_model       TEXT    NOT NULL,
    vin                 TEXT    NOT NULL,
    current_mileage     INTEGER,
    tires_covered       INTEGER NOT NULL,
    tpp_price_cents     INTEGER NOT NULL,
    tire_brand          TEXT    NOT NULL,
    tire_model          TEXT    NOT NULL,
    tire_size           TEXT    NOT NULL,
    tire_price_cents    INTEGER NOT NULL,
    tire_cost_cents     INTEGER NOT NULL,
    tire_dot1           TEXT    NOT NULL,
    tire_dot2           TEXT    NOT NULL,
    tire_dot3           TEXT    NOT NULL,
    tire_dot4           TEXT    NOT NULL,
    tire_dot5           TEXT    NOT NULL,
    tire_dot6           TEXT    NOT NULL,
    commercial_vehicle  INTEGER NOT NULL,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    revision            INTEGER NOT NULL
) STRICT;
-- Led by the invoice number, so an index search's comparisons end at the first column (V7).
CREATE UNIQUE INDEX registrations_key ON registrations (invoice_number, shop_id, partner_id, tenant);

CREATE TABLE IF NOT EXISTS claims (
    id                    INTEGER PRIMARY KEY,
    partner_id            INTEGER NOT NULL,
    tenant                TEXT    NOT NULL CHECK (tenant IN ('live', 'test')),
    registration_id       INTEGER NOT NULL REFERENCES registrations (id),
    org_id                TEXT    NOT NULL,
    shop_id               TEXT    NOT NULL,
    invoice_number        TEXT    NOT NULL,
    claim_date            TEXT    NOT NULL,
    repair_shop_id        TEXT    NOT NULL,
    repair_invoice_number TEXT    NOT NULL,
    vin                   TEXT    NOT NULL,
    vehicle_mileage       INTEGER,
    tire_claim_count      INTEGER NOT NULL,
    credit_amount_cents   INTEGER NOT NULL,
    cost_per_unit_cents   INTEGER NOT NULL,
    service_type          TEXT    NOT NULL,
    service_description   TEXT    NOT NULL,
    tire_location1        TEXT    NOT NULL,
    tire_location2        TEXT    NOT NULL,
    tire_location3        TEXT    NOT NULL,
    tire_location4        TEXT    NOT NULL,
    tire_location5        TEXT    NOT NULL,
    tire_location6        TEXT    NOT NULL,
    tire_brand            TEXT    NOT NULL,
    tire_model            TEXT    NOT NULL,
    tire_size             TEXT    NOT NULL,
    tire_price_cents      INTEGER,
    tire_cost_cents       INTEGER NOT NULL,
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL,
    revision              INTEGER NOT NULL
) STRICT;
-- The key puts ShopID and InvoiceNumber first so GET by shop and invoice uses it too.
CREATE UNIQUE INDEX IF NOT EXISTS claims_key
    ON claims (partner_id, tenant, shop_id, invoice_number, org_id, repair_shop_id, repair_invoice_number);
CREATE INDEX IF NOT EXISTS claims_registration ON claims (registration_id);

CREATE TABLE IF NOT EXISTS sales (
    id               INTEGER PRIMARY KEY,
    partner_id       INTEGER NOT NULL,
    tenant           TEXT    NOT NULL CHECK (tenant IN ('live', 'test')),
    org_id           TEXT    NOT NULL,
    shop_id          TEXT    NOT NULL,
    invoice_number   TEXT    NOT NULL,
    sale_date        TEXT    NOT NULL,
    tire_count       INTEGER NOT NULL,
    tire_brand       TEXT    NOT NULL,
    tire_model       TEXT    NOT NULL,
    tire_size        TEXT    NOT NULL,
    tire_price_cents INTEGER NOT NULL,
    tire_cost_cents  INTEGER NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    revision         INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS sales_key
    ON sales (partner_id, tenant, shop_id, invoice_number, org_id, tire_brand, tire_model, tire_size);

CREATE TABLE IF NOT EXISTS cancellations (
    id                    INTEGER PRIMARY KEY,
    partner_id            INTEGER NOT NULL,
    tenant                TEXT    NOT NULL CHECK (tenant IN ('live', 'test')),
    registration_id       INTEGER NOT NULL REFERENCES registrations (id),
    org_id                TEXT    NOT NULL,
    shop_id               TEXT    NOT NULL,
    invoice_number        TEXT    NOT NULL,
    cancel_shop_id        TEXT    NOT NULL,
    cancel_invoice_number TEXT    NOT NULL,
    tire_cancel_count     INTEGER NOT NULL,
    cancel_date           TEXT    NOT NULL,
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL,
    revision              INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS cancellations_key
    ON cancellations (partner_id, tenant, shop_id, invoice_number, org_id, cancel_shop_id, cancel_invoice_number);
CREATE INDEX IF NOT EXISTS cancellations_registration ON cancellations (registration_id);

-- The history of every POST (live and test), for partners debugging their
-- integration and support staff chasing last night's upload. Pruned after the retention period.
-- AUTOINCREMENT: an id, once given, never names another upload (a reset deletes batches).
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

-- The result entries of a batch's rejected records, as its response carried them (JSON).
CREATE TABLE IF NOT EXISTS batch_rejections (
    batch_id  INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    entry     TEXT    NOT NULL,
    PRIMARY KEY (batch_id, position)
) STRICT, WITHOUT ROWID;

-- Past a batch's first 1,000 rejected entries, how many times each (record type, field, code)
-- was refused.
CREATE TABLE IF NOT EXISTS batch_rejection_counts (
    batch_id  INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    record    TEXT    NOT NULL,
    field     TEXT    NOT NULL,
    code      TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (batch_id, record, field, code)
) STRICT, WITHOUT ROWID;

-- The operators' audit log: who read or did what, with which role, whose data, from where.
-- Kept a year.
CREATE TABLE IF NOT EXISTS ops_audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT    NOT NULL,
    operator  TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    company   TEXT,
    tenant    TEXT,
    detail    TEXT,
    client    TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS ops_audit_by_age ON ops_audit (at);

-- The backups `warranty-gateway backup` made: when each finished, the file, its size. The last
-- 1,000 are kept.
CREATE TABLE IF NOT EXISTS backups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    finished_at  TEXT    NOT NULL,
    file         TEXT    NOT NULL,
    bytes        INTEGER NOT NULL
) STRICT;

-- When each partner credential last verified a token, as every instance keeps it (the first
-- use, then at most once a minute); kept 400 days. Named by a fingerprint of its value (the
-- first 16 bytes of a SHA-256, in hex), never by the value or its place in the config.
CREATE TABLE IF NOT EXISTS credential_uses (
    partner_id    INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    fingerprint   TEXT    NOT NULL,
    last_used_at  TEXT    NOT NULL,
    PRIMARY KEY (partner_id, kind, fingerprint)
) STRICT;

-- One row the health check updates and commits: a full disk only shows when a write needs room.
CREATE TABLE IF NOT EXISTS health_probe (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    checks  INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO health_probe (id, checks) VALUES (1, 0);

-- Version 4: the v3 resource API over the same registrations. Every registration has a 24-hex
-- id (v3's `_id`), given when it is first stored, whichever API wrote it. What only v3 has is
-- kept beside the v2 columns: product_id, the customer's email, and every tire it listed (JSON:
-- [{"make", "model", "size", "retailPriceCents"}]); NULL on a registration v2 wrote. (Added
-- columns, as the migration adds them: a database from before migrations has the tables above.)
ALTER TABLE registrations ADD COLUMN v3_id TEXT;
ALTER TABLE registrations ADD COLUMN product_id TEXT;
ALTER TABLE registrations ADD COLUMN customer_email TEXT;
ALTER TABLE registrations ADD COLUMN v3_tires TEXT;
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
-- Version 5: (storeNumber, invoiceNumber) is unique per partner and tenant, as for
-- tire-protection registrations; the key's index also finds them by invoiceNumber alone.
CREATE UNIQUE INDEX motor_club_key ON motor_club_registrations (partner_id, tenant, invoice_number, store_number);

-- Version 6: what a registration's claims and cancellations add up to, kept in a narrow table
-- beside it, so a registration status lookup reads two rows by key and id instead of probing
-- claims and cancellations four times. The claims and cancellations stay the facts: triggers
-- recompute a registration's totals from them on every write, whichever process or API wrote
-- (a narrow row, so a claim's write does not rewrite the wide registration row), and the
-- migration backfills them the same way. A registration with neither has no row here.
-- tires_claimed: SUM(tire_claim_count); latest_claim_date: MAX(claim_date);
-- tires_cancelled: SUM(tire_cancel_count); first_cancellation_id: MIN(cancellations.id).
CREATE TABLE registration_totals (
    registration_id       INTEGER PRIMARY KEY REFERENCES registrations (id) ON DELETE CASCADE,
    tires_claimed         INTEGER NOT NULL DEFAULT 0,
    latest_claim_date     TEXT,
    tires_cancelled       INTEGER NOT NULL DEFAULT 0,
    first_cancellation_id INTEGER
) STRICT;
CREATE TRIGGER claims_totals_on_insert AFTER INSERT ON claims BEGIN
    INSERT INTO registration_totals (registration_id, tires_claimed, latest_claim_date)
    SELECT NEW.registration_id,
        (SELECT COALESCE(SUM(tire_claim_count), 0) FROM claims WHERE registration_id = NEW.registration_id),
        (SELECT MAX(claim_date) FROM claims WHERE registration_id = NEW.registration_id)
    WHERE true
    ON CONFLICT (registration_id) DO UPDATE
    SET tires_claimed = excluded.tires_claimed, latest_claim_date = excluded.latest_claim_date;
END;
CREATE TRIGGER claims_totals_on_update AFTER UPDATE OF registration_id, tire_claim_count, claim_date ON claims
WHEN OLD.registration_id IS NOT NEW.registration_id OR OLD.tire_claim_count IS NOT NEW.tire_claim_count
    OR OLD.claim_date IS NOT NEW.claim_date
BEGIN
    INSERT INTO registration_totals (registration_id, tires_claimed, latest_claim_date)
    SELECT ids.id,
        (SELECT COALESCE(SUM(tire_claim_count), 0) FROM claims WHERE registration_id = ids.id),
        (SELECT MAX(claim_date) FROM claims WHERE registration_id = ids.id)
    FROM (SELECT OLD.registration_id AS id UNION SELECT NEW.registration_id) AS ids
    WHERE true
    ON CONFLICT (registration_id) DO UPDATE
    SET tires_claimed = excluded.tires_claimed, latest_claim_date = excluded.latest_claim_date;
END;
CREATE TRIGGER claims_totals_on_delete AFTER DELETE ON claims BEGIN
    UPDATE registration_totals
    SET tires_claimed = (SELECT COALESCE(SUM(tire_claim_count), 0) FROM claims WHERE registration_id = OLD.registration_id),
        latest_claim_date = (SELECT MAX(claim_date) FROM claims WHERE registration_id = OLD.registration_id)
    WHERE registration_id = OLD.registration_id;
END;
CREATE TRIGGER cancellations_totals_on_insert AFTER INSERT ON cancellations BEGIN
    INSERT INTO registration_totals (registration_id, tires_cancelled, first_cancellation_id)
    SELECT NEW.registration_id,
        (SELECT COALESCE(SUM(tire_cancel_count), 0) FROM cancellations WHERE registration_id = NEW.registration_id),
        (SELECT MIN(id) FROM cancellations WHERE registration_id = NEW.registration_id)
    WHERE true
    ON CONFLICT (registration_id) DO UPDATE
    SET tires_cancelled = excluded.tires_cancelled, first_cancellation_id = excluded.first_cancellation_id;
END;
CREATE TRIGGER cancellations_totals_on_update AFTER UPDATE OF registration_id, tire_cancel_count ON cancellations
WHEN OLD.registration_id IS NOT NEW.registration_id OR OLD.tire_cancel_count IS NOT NEW.tire_cancel_count
BEGIN
    INSERT INTO registration_totals (registration_id, tires_cancelled, first_cancellation_id)
    SELECT ids.id,
        (SELECT COALESCE(SUM(tire_cancel_count), 0) FROM cancellations WHERE registration_id = ids.id),
        (SELECT MIN(id) FROM cancellations WHERE registration_id = ids.id)
    FROM (SELECT OLD.registration_id AS id UNION SELECT NEW.registration_id) AS ids
    WHERE true
    ON CONFLICT (registration_id) DO UPDATE
    SET tires_cancelled = excluded.tires_cancelled, first_cancellation_id = excluded.first_cancellation_id;
END;
CREATE TRIGGER cancellations_totals_on_delete AFTER DELETE ON cancellations BEGIN
    UPDATE registration_totals
    SET tires_cancelled = (SELECT COALESCE(SUM(tire_cancel_count), 0) FROM cancellations WHERE registration_id = OLD.registration_id),
        first_cancellation_id = (SELECT MIN(id) FROM cancellations WHERE registration_id = OLD.registration_id)
    WHERE registration_id = OLD.registration_id;
END;

-- Version 10: the trail of every invoice. Each record of each batch that names a ShopID and
-- InvoiceNumber gets a row: where it was and what became of it (with its error codes,
-- comma-separated, when rejected). Found by invoice and shop in one index probe.
CREATE TABLE IF NOT EXISTS batch_records (
    batch_id        INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    record          TEXT    NOT NULL,
    record_index    INTEGER NOT NULL,
    shop_id         TEXT    NOT NULL,
    invoice_number  TEXT    NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('inserted', 'updated', 'unchanged', 'rejected')),
    codes           TEXT,
    PRIMARY KEY (batch_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batch_records_by_invoice ON batch_records (invoice_number, shop_id);
-- A kept rejected record as the client sent it (its JSON), for rejected.csv; NULL for a body
-- refused whole. (An added column, as the migration adds it.)
ALTER TABLE batch_rejections ADD COLUMN sent TEXT;

-- Requests refused before they reached a partner's data: when, whose (the company the path
-- named; the partner and tenant when it is one), why, from where (never the token).
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

-- Version 11: sales found by InvoiceNumber alone (an invoice searched at every shop).
CREATE INDEX IF NOT EXISTS sales_by_invoice ON sales (invoice_number);

-- Version 12: a refused request's own words beside its reason code (never the token); NULL for
-- those kept before. (An added column, as the migration adds it.)
ALTER TABLE refused_requests ADD COLUMN detail TEXT;

-- Version 13: a batch's warnings, how many in all (0 on batches kept before), and each kind
-- counted per record type and field (the first 100 kinds met) with the first record that had it,
-- as JSON (NULL when none). (Added columns, as the migration adds them.)
ALTER TABLE batches ADD COLUMN warnings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN warning_counts TEXT;

-- Version 16: which builds may serve this database: those that know migration
-- needs_migration. A migration older builds cannot serve on sets it to its own version; one
-- they can leaves it (so instances are upgraded one at a time while the others serve).
CREATE TABLE IF NOT EXISTS schema_compatibility (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    needs_migration  INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO schema_compatibility (id, needs_migration) VALUES (1, 16);
