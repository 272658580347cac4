-- Version 6 (see migrations/sqlite/V6): what a registration's claims and cancellations add up
-- to, kept in a narrow table beside it; recomputed from the rows by triggers on every write to
-- claims and cancellations, and backfilled here the same way. Statement triggers: a batch's
-- claims are one INSERT, and each registration they touch is recomputed once.
CREATE TABLE registration_totals (
    registration_id       BIGINT PRIMARY KEY REFERENCES registrations (id) ON DELETE CASCADE,
    tires_claimed         BIGINT NOT NULL DEFAULT 0,
    latest_claim_date     TIMESTAMPTZ,
    tires_cancelled       BIGINT NOT NULL DEFAULT 0,
    first_cancellation_id BIGINT
);

CREATE FUNCTION refresh_claim_totals(ids BIGINT[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO registration_totals AS t (registration_id, tires_claimed, latest_claim_date)
    SELECT u.id,
        COALESCE((SELECT SUM(c.tire_claim_count) FROM claims c WHERE c.registration_id = u.id), 0),
        (SELECT MAX(c.claim_date) FROM claims c WHERE c.registration_id = u.id)
    FROM unnest(ids) AS u (id)
    ON CONFLICT (registration_id) DO UPDATE
    SET tires_claimed = excluded.tires_claimed, latest_claim_date = excluded.latest_claim_date
$$;

CREATE FUNCTION refresh_cancellation_totals(ids BIGINT[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO registration_totals AS t (registration_id, tires_cancelled, first_cancellation_id)
    SELECT u.id,
        COALESCE((SELECT SUM(c.tire_cancel_count) FROM cancellations c WHERE c.registration_id = u.id), 0),
        (SELECT MIN(c.id) FROM cancellations c WHERE c.registration_id = u.id)
    FROM unnest(ids) AS u (id)
    ON CONFLICT (registration_id) DO UPDATE
    SET tires_cancelled = excluded.tires_cancelled, first_cancellation_id = excluded.first_cancellation_id
$$;

-- Recomputes the totals of the registrations a statement's rows belonged to before it and
-- belong to after it (a registration deleted with them has nothing left to total). The
-- gateway's upserts update only the rows that changed, so every updated row counts.
CREATE FUNCTION usage_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids BIGINT[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        ids := ARRAY(SELECT DISTINCT registration_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        ids := ARRAY(SELECT DISTINCT o.registration_id FROM old_rows o
                     WHERE EXISTS (SELECT 1 FROM registrations r WHERE r.id = o.registration_id));
    ELSE
        ids := ARRAY(SELECT registration_id FROM new_rows UNION SELECT registration_id FROM old_rows);
    END IF;
    IF TG_TABLE_NAME = 'claims' THEN
        PERFORM refresh_claim_totals(ids);
    ELSE
        PERFORM refresh_cancellation_totals(ids);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER claims_totals_on_insert AFTER INSERT ON claims
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_changed();
CREATE TRIGGER claims_totals_on_update AFTER UPDATE ON claims
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_changed();
CREATE TRIGGER claims_totals_on_delete AFTER DELETE ON claims
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_changed();
CREATE TRIGGER cancellations_totals_on_insert AFTER INSERT ON cancellations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_changed();
CREATE TRIGGER cancellations_totals_on_update AFTER UPDATE ON cancellations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_changed();
CREATE TRIGGER cancellations_totals_on_delete AFTER DELETE ON cancellations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_changed();

SELECT refresh_claim_totals(ARRAY(SELECT DISTINCT registration_id FROM claims));
SELECT refresh_cancellation_totals(ARRAY(SELECT DISTINCT registration_id FROM cancellations));
