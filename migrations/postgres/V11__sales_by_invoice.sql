-- Version 11: an invoice found by its InvoiceNumber alone, at whichever shops have it (support
-- often has only the number). The registrations' key and the trail lead with InvoiceNumber
-- already, and claims and cancellations need a registration; sales, which need none, get an
-- index of their own.
CREATE INDEX IF NOT EXISTS sales_by_invoice ON sales (invoice_number);
