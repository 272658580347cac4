-- Version 12: a refused request keeps the refusal's own words beside its reason code ("its exp
-- is 2026-12-07T01:59:55Z, 2 hours before this server's clock"), so support can tell a partner
-- what to mend without asking for the token. Never the token itself. NULL for refusals kept
-- before this version.
ALTER TABLE refused_requests ADD COLUMN detail TEXT;
