-- Version 9: the operators' audit log. Each batch an operator opens (and, as they land, each
-- records search, CSV export and admin action): who, with which role, what, whose data and
-- from where. Kept a year.
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
