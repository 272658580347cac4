-- Version 5: a motor-club registration's (storeNumber, invoiceNumber) is unique per partner
-- and tenant, as a tire-protection registration's is: POST creates only, so a point of sale
-- that sends the same registration again gets a 409, not a second membership. The key's index
-- also finds registrations by invoiceNumber alone, so the version-4 index goes.
DROP INDEX motor_club_by_invoice;
CREATE UNIQUE INDEX motor_club_key ON motor_club_registrations (partner_id, tenant, invoice_number, store_number);
