//! When each partner credential was last used, as every instance keeps it, on either engine.

use chrono::{DateTime, Utc};

use super::sql::{Arg, Row};
use super::{StoreError, Tx};
use crate::model::credential::{CredentialKind, CredentialUse};

/// Keeps a use of a credential (a later one than the database has; instances' uses may arrive
/// out of order), and forgets those from before `keep_after`.
pub fn keep_credential_use(tx: &Tx, used: &CredentialUse, keep_after: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO credential_uses (partner_id, kind, fingerprint, last_used_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (partner_id, kind, fingerprint) DO UPDATE SET last_used_at = excluded.last_used_at \
         WHERE excluded.last_used_at > credential_uses.last_used_at",
        &[
            Arg::Int(used.partner_id),
            Arg::Text(used.kind.into_str()),
            Arg::Text(&used.fingerprint),
            Arg::Date(used.at),
        ],
    )?;
    tx.execute(
        "DELETE FROM credential_uses WHERE last_used_at < $1",
        &[Arg::Date(keep_after)],
    )?;
    Ok(())
}

/// Every credential use kept.
pub fn credential_uses(tx: &Tx) -> Result<Vec<CredentialUse>, StoreError> {
    tx.rows(
        "SELECT partner_id, kind, fingerprint, last_used_at FROM credential_uses",
        &[],
        credential_use,
    )
}

fn credential_use(row: &Row) -> Result<CredentialUse, StoreError> {
    let kind = row.text("kind")?;
    Ok(CredentialUse {
        partner_id: row.int("partner_id")?,
        kind: kind.parse::<CredentialKind>().map_err(|_| {
            StoreError::Database(format!("credential_uses holds a kind of credential unknown here: {kind:?}").into())
        })?,
        fingerprint: row.text("fingerprint")?,
        at: row.date("last_used_at")?,
    })
}
