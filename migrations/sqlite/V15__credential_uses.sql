-- Version 15: when each partner credential last verified a token, as every instance keeps it
-- (its first use, then at most once a minute), so that /ops/partners and the metrics say it
-- after a restart and whichever instance answered. A credential is named by a fingerprint of
-- its value (a truncated SHA-256), never by the value or its place in the config.
CREATE TABLE IF NOT EXISTS credential_uses (
    partner_id    INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    fingerprint   TEXT    NOT NULL,
    last_used_at  TEXT    NOT NULL,
    PRIMARY KEY (partner_id, kind, fingerprint)
) STRICT;
