//! The operators' services: the audit log kept and read. Each is one read or one write of the
//! store; no HTTP here.

use crate::model::audit::{AUDIT_RETENTION_DAYS, AuditEntry};
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
