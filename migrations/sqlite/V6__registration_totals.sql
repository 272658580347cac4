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
INSERT INTO registration_totals (registration_id, tires_claimed, latest_claim_date, tires_cancelled, first_cancellation_id)
SELECT r.id,
    (SELECT COALESCE(SUM(tire_claim_count), 0) FROM claims WHERE registration_id = r.id),
    (SELECT MAX(claim_date) FROM claims WHERE registration_id = r.id),
    (SELECT COALESCE(SUM(tire_cancel_count), 0) FROM cancellations WHERE registration_id = r.id),
    (SELECT MIN(id) FROM cancellations WHERE registration_id = r.id)
FROM registrations r
WHERE r.id IN (SELECT registration_id FROM claims UNION SELECT registration_id FROM cancellations);
