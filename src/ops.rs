//! The operators' services: a batch opened (and audited), the audit log kept and read. Each is one read or one write of the
//! store; no HTTP here.

use chrono::{DateTime, Utc};

use crate::config::{Operator, Partners};
use crate::history;
use crate::model::audit::{AUDIT_RETENTION_DAYS, AuditAction, AuditEntry};
use crate::model::batch::StoredBatch;
use crate::scope::Scope;
use crate::store::{self, Store, StoreError};

/// Keeps `entry` in the audit log (a year of it: older entries go as new ones come).
pub fn record(store: &Store, entry: &AuditEntry) -> Result<(), StoreError> {
    let keep_after = entry.at - chrono::Duration::days(AUDIT_RETENTION_DAYS);
    store.write(|tx| store::insert_audit(tx, entry, keep_after))
}

/// One page (from 1) of the audit log, newest first, and how many entries it has in all.
pub fn audit_log(store: &Store, page: u32, page_size: u32) -> Result<(u64, Vec<AuditEntry>), StoreError> {
    store.read(|tx| store::list_audit(tx, page, page_size))
}

/// Any partner's batch, for `operator`, who opened it from `client`: written to the audit log
/// (who, role, whose, which); `None`, and nothing audited, when there is no such batch.
pub fn open_batch(
    store: &Store,
    partners: &Partners,
    operator: &Operator,
    batch_id: i64,
    client: Option<String>,
    at: DateTime<Utc>,
) -> Result<Option<(Scope, StoredBatch)>, StoreError> {
    let Some((scope, batch)) = history::find_any(store, batch_id)? else {
        return Ok(None);
    };
    record(
        store,
        &AuditEntry {
            at,
            operator: operator.name.clone(),
            role: operator.role.as_str().to_owned(),
            action: AuditAction::BatchDetail.as_str().to_owned(),
            company: partners.company_of(scope.partner_id),
            tenant: Some(scope.tenant.as_str().to_owned()),
            detail: Some(format!("batch {batch_id}")),
            client,
        },
    )?;
    Ok(Some((scope, batch)))
}
