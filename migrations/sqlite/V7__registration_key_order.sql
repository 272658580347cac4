-- Version 7: the registration's natural key leads with InvoiceNumber. The key is the same set of
-- columns, so the same registrations are unique and ON CONFLICT finds the same index; only the
-- order of its columns changes. Every lookup and every batch finds a registration by this index,
-- and SQLite compares index entries column by column: led by partner_id and tenant, which nearly
-- every entry shares, each comparison went through three or four columns; led by the invoice
-- number, nearly every comparison ends at the first, a plain text compare (about 3,300 fewer
-- instructions a registration status lookup; bench/RESULTS.md). registrations_by_invoice
-- (partner_id, tenant, invoice_number) still serves a partner's and tenant's registrations.
DROP INDEX registrations_key;
CREATE UNIQUE INDEX registrations_key ON registrations (invoice_number, shop_id, partner_id, tenant);
