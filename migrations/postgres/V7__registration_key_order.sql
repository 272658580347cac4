-- Version 7: the registration's natural key leads with InvoiceNumber, as SQLite's does (its V7
-- says why: an index search compares entries column by column, and led by partner_id and
-- tenant, which nearly every entry shares, each comparison went through three or four columns,
-- here with the text columns' collation). The key is the same set of columns, so the same
-- registrations are unique and ON CONFLICT infers the same index; only the column order changes.
-- registrations_by_invoice (partner_id, tenant, invoice_number) still serves a partner's and
-- tenant's registrations.
DROP INDEX registrations_key;
CREATE UNIQUE INDEX registrations_key ON registrations (invoice_number, shop_id, partner_id, tenant);
