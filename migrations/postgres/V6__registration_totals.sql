-- Version 6 (see migrations/sqlite/V6): each registration keeps the totals of its claims and
-- cancellations on its own row, recomputed from the rows by triggers on every write to claims
-- and cancellations, and backfilled here the same way. Statement triggers: a batch's claims
-- are one INSERT, and each registration they touch is recomputed once.
ALTER TABLE registrations ADD COLUMN tires_claimed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE registrations ADD COLUMN latest_claim_date TIMESTAMPTZ;
ALTER TABLE registrations ADD COLUMN tires_cancelled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE registrations ADD COLUMN first_cancellation_id BIGINT;

CREATE FUNCTION refresh_claim_totals(ids BIGINT[]) RETURNS void LANGUAGE sql AS $$
    UPDATE registrations r
    SET tires_claimed = COALESCE((SELECT SUM(c.tire_claim_count) FROM claims c WHERE c.registration_id = r.id), 0),
        latest_claim_date = (SELECT MAX(c.claim_date) FROM claims c WHERE c.registration_id = r.id)
    WHERE r.id = ANY (ids)
$$;

CREATE FUNCTION refresh_cancellation_totals(ids BIGINT[]) RETURNS void LANGUAGE sql AS $$
    UPDATE registrations r
    SET tires_cancelled = COALESCE((SELECT SUM(c.tire_cancel_count) FROM cancellations c WHERE c.registration_id = r.id), 0),
        first_cancellation_id = (SELECT MIN(c.id) FROM cancellations c WHERE c.registration_id = r.id)
    WHERE r.id = ANY (ids)
$$;

-- The registrations a statement's rows belonged to before it and belong to after it.
CREATE FUNCTION claims_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_claim_totals(ARRAY(SELECT DISTINCT registration_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM refresh_claim_totals(ARRAY(SELECT DISTINCT registration_id FROM old_rows));
    ELSE
        PERFORM refresh_claim_totals(ARRAY(
            SELECT n.registration_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.registration_id, n.tire_claim_count, n.claim_date)
                IS DISTINCT FROM (o.registration_id, o.tire_claim_count, o.claim_date)
            UNION
            SELECT o.registration_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.registration_id IS DISTINCT FROM o.registration_id));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION cancellations_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_cancellation_totals(ARRAY(SELECT DISTINCT registration_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM refresh_cancellation_totals(ARRAY(SELECT DISTINCT registration_id FROM old_rows));
    ELSE
        PERFORM refresh_cancellation_totals(ARRAY(
            SELECT n.registration_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.registration_id, n.tire_cancel_count) IS DISTINCT FROM (o.registration_id, o.tire_cancel_count)
            UNION
            SELECT o.registration_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.registration_id IS DISTINCT FROM o.registration_id));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER claims_totals_on_insert AFTER INSERT ON claims
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION claims_changed();
CREATE TRIGGER claims_totals_on_update AFTER UPDATE ON claims
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION claims_changed();
CREATE TRIGGER claims_totals_on_delete AFTER DELETE ON claims
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION claims_changed();
CREATE TRIGGER cancellations_totals_on_insert AFTER INSERT ON cancellations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cancellations_changed();
CREATE TRIGGER cancellations_totals_on_update AFTER UPDATE ON cancellations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cancellations_changed();
CREATE TRIGGER cancellations_totals_on_delete AFTER DELETE ON cancellations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cancellations_changed();

SELECT refresh_claim_totals(ARRAY(SELECT DISTINCT registration_id FROM claims));
SELECT refresh_cancellation_totals(ARRAY(SELECT DISTINCT registration_id FROM cancellations));
